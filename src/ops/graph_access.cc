#include "ops/graph_access.h"

#include "store/accounts.h"

namespace ta::ops {

TenantGraphAccess::TenantGraphAccess(store::Database& db, const SecretBox& box,
                                     graph::GraphConfig config, graph::HttpTransport& transport,
                                     Redactor& redactor, Clock& clock)
    : db_(db),
      box_(box),
      config_(std::move(config)),
      transport_(transport),
      redactor_(redactor),
      tokens_(transport, config_.authority_base, config_.scope, clock, redactor) {}

Result<std::unique_ptr<graph::GraphReader>> TenantGraphAccess::Reader(int64_t tenant_id,
                                                                      graph::AbortCheck abort) {
  auto c = Client(tenant_id);
  if (!c) return Unexpected(c.error());
  return std::unique_ptr<graph::GraphReader>(
      std::make_unique<graph::GraphSession>(**c, std::move(abort)));
}

Result<std::unique_ptr<graph::GraphWriter>> TenantGraphAccess::Writer(int64_t tenant_id,
                                                                      graph::AbortCheck abort) {
  auto c = Client(tenant_id);
  if (!c) return Unexpected(c.error());
  return std::unique_ptr<graph::GraphWriter>(
      std::make_unique<graph::GraphSession>(**c, std::move(abort)));
}

Result<graph::GraphClient*> TenantGraphAccess::Client(int64_t tenant_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(tenant_id);
    if (it != clients_.end()) return it->second.get();
  }
  auto row = store::ReadResult<store::Row>(db_, [&](store::Tx& tx) -> Result<store::Row> {
    auto rows =
        tx.Query("SELECT entra_tenant_id, client_id, client_secret_enc FROM tenants WHERE id = $1",
                 {tenant_id});
    if (!rows) return Unexpected(rows.error());
    if (rows->empty())
      return Unexpected(
          Status::NotFound("tenant " + std::to_string(tenant_id) + " does not exist"));
    return rows->front();
  });
  if (!row) return Unexpected(row.error());
  if (row->IsNull(0) || row->IsNull(1) || row->IsNull(2)) {
    return Unexpected(
        Status::FailedPrecondition("tenant " + std::to_string(tenant_id) +
                                   " has no Microsoft credentials; an owner must set the Entra "
                                   "tenant id, client id and client secret"));
  }
  auto secret = box_.Open(row->Text(2));
  if (!secret)
    return Unexpected(
        secret.error().WithContext("tenant " + std::to_string(tenant_id) + " client secret"));
  auto client = std::make_unique<graph::GraphClient>(
      graph::AppCredentials{row->Text(0), row->Text(1), *secret}, config_, transport_, tokens_,
      limiter_, redactor_);
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = clients_[tenant_id];
  if (!slot) slot = std::move(client);
  return slot.get();
}

Status SetTenantCredentials(store::Database& db, const SecretBox& box, int64_t tenant_id,
                            const std::string& entra_tenant_id, const std::string& client_id,
                            const std::string& client_secret) {
  return db.Write([&](store::Tx& tx) {
    return store::Accounts::SetCredentials(tx, tenant_id, entra_tenant_id, client_id,
                                           box.Seal(client_secret));
  });
}

}  // namespace ta::ops
