#include "ops/graph_access.h"

#include "core/certificate.h"
#include "core/cloud.h"
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
      std::make_unique<graph::GraphSession>(Resolver(tenant_id), std::move(abort)));
}

Result<std::unique_ptr<graph::GraphWriter>> TenantGraphAccess::Writer(int64_t tenant_id,
                                                                      graph::AbortCheck abort) {
  auto c = Client(tenant_id);
  if (!c) return Unexpected(c.error());
  return std::unique_ptr<graph::GraphWriter>(
      std::make_unique<graph::GraphSession>(Resolver(tenant_id), std::move(abort)));
}

graph::GraphSession::Resolve TenantGraphAccess::Resolver(int64_t tenant_id) {
  return [this, tenant_id]() -> graph::GraphResult<graph::GraphClient*> {
    auto c = Client(tenant_id);
    if (c) return *c;
    if (c.error().transient()) {
      // The store could not be read (a lost connection, a busy database): the
      // credentials last read stay valid for this call. A store fault is not
      // the item's outcome; the job meets it at its next write and retries.
      std::lock_guard<std::mutex> lock(mu_);
      auto it = clients_.find(tenant_id);
      if (it != clients_.end()) return it->second.client.get();
    }
    graph::GraphError e;
    e.kind = c.error().transient() ? Status::Code::kUnavailable : c.error().code();
    e.code = "credentials_unavailable";
    e.message = c.error().message();
    return graph::GraphFailure(std::move(e));
  };
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
  const std::string key = (*creds)->entra_tenant_id + '\n' + (*creds)->client_id + '\n' +
                          (*creds)->sealed_secret + '\n' + (*creds)->cloud;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(tenant_id);
    if (it != clients_.end() && it->second.credentials == key) return it->second.client.get();
  }
  auto secret = box_.Open((*creds)->sealed_secret);
  if (!secret)
    return Unexpected(
        secret.error().WithContext("tenant " + std::to_string(tenant_id) + " client credential"));
  graph::GraphConfig config = config_;
  const bool overridden = config_.graph_base != graph::GraphConfig{}.graph_base ||
                          config_.authority_base != graph::GraphConfig{}.authority_base;
  if (!overridden) {
    const CloudEndpoints* cloud = FindCloud((*creds)->cloud);
    if (!cloud)
      return Unexpected(Status::FailedPrecondition(
          "tenant " + std::to_string(tenant_id) + ": cloud \"" + (*creds)->cloud +
          "\" is not one of " + CloudNames() + "; set it with the tenant's credentials"));
    config.authority_base = cloud->authority;
    config.graph_base = cloud->graph;
    config.scope = graph::ScopeFor(config.graph_base);
  }
  graph::AppCredentials app{(*creds)->entra_tenant_id, (*creds)->client_id, *secret,
                            config.authority_base, config.scope};
  if ((*creds)->kind == "certificate") {
    // The sealed value is the private key; it signs each token request.
    auto cert = ReadCertificate((*creds)->certificate);
    if (!cert)
      return Unexpected(cert.error().WithContext("tenant " + std::to_string(tenant_id)));
    app.private_key_pem = std::move(app.client_secret);
    app.client_secret.clear();
    app.certificate_sha256 = cert->thumbprint_sha256;
  }
  auto client = std::make_unique<graph::GraphClient>(std::move(app), std::move(config), transport_,
                                                     tokens_, limiter_, redactor_);
  std::lock_guard<std::mutex> lock(mu_);
  Cached& slot = clients_[tenant_id];
  if (slot.client && slot.credentials == key) return slot.client.get();  // built meanwhile
  if (slot.client) retired_.push_back(std::move(slot.client));
  slot = Cached{key, std::move(client)};
  return slot.client.get();
}

Status SetTenantCredentials(store::Database& db, const SecretBox& box, int64_t tenant_id,
                            const std::string& entra_tenant_id, const std::string& client_id,
                            const std::string& client_secret, const std::string& cloud) {
  return db.Write([&](store::Tx& tx) {
    return store::Accounts::SetCredentials(
        tx, tenant_id, {entra_tenant_id, client_id, box.Seal(client_secret), cloud});
  });
}

}  // namespace ta::ops
