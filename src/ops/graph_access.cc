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
      tokens_(transport, config_.authority_base, config_.scope, clock, redactor),
      limiter_(graph::AdaptiveLimiter::Options{}, clock) {}

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
  using Sealed = std::optional<store::Accounts::SealedCredentials>;
  auto creds = store::ReadResult<Sealed>(
      db_, [&](store::Tx& tx) { return store::Accounts::Credentials(tx, tenant_id); });
  if (!creds) return Unexpected(creds.error());
  if (!*creds) {
    return Unexpected(
        Status::FailedPrecondition("tenant " + std::to_string(tenant_id) +
                                   " has no Microsoft credentials; an owner must set the Entra "
                                   "tenant id, client id and client secret on its Tenant page"));
  }
  const std::string key =
      (*creds)->entra_tenant_id + '\n' + (*creds)->client_id + '\n' + (*creds)->sealed_secret;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(tenant_id);
    if (it != clients_.end() && it->second.credentials == key) return it->second.client.get();
  }
  auto secret = box_.Open((*creds)->sealed_secret);
  if (!secret)
    return Unexpected(
        secret.error().WithContext("tenant " + std::to_string(tenant_id) + " client secret"));
  auto client = std::make_unique<graph::GraphClient>(
      graph::AppCredentials{(*creds)->entra_tenant_id, (*creds)->client_id, *secret}, config_,
      transport_, tokens_, limiter_, redactor_);
  std::lock_guard<std::mutex> lock(mu_);
  Cached& slot = clients_[tenant_id];
  if (slot.client && slot.credentials == key) return slot.client.get();  // built meanwhile
  if (slot.client) retired_.push_back(std::move(slot.client));
  slot = Cached{key, std::move(client)};
  return slot.client.get();
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
