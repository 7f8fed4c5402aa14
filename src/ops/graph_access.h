#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/redactor.h"
#include "core/secret_box.h"
#include "core/thread_annotations.h"
#include "graph/graph_client.h"
#include "store/database.h"

namespace ta::ops {

// Graph access for a tenant, from its stored credentials. Read-only callers
// (restore preview) ask for a Reader and get no way to write. Each view is
// bound to `abort` (see graph::AbortCheck): a job passes its cancel/shutdown
// check, so its calls stop mid-transfer when it is cancelled.
class GraphAccess {
 public:
  virtual ~GraphAccess() = default;
  virtual Result<std::unique_ptr<graph::GraphReader>> Reader(int64_t tenant_id,
                                                             graph::AbortCheck abort = {}) = 0;
  virtual Result<std::unique_ptr<graph::GraphWriter>> Writer(int64_t tenant_id,
                                                             graph::AbortCheck abort = {}) = 0;
};

// One GraphClient per tenant, sharing a transport, token cache and limiter,
// built from tenants.entra_tenant_id / client_id / client_secret_enc / cloud.
// The credentials are read before every Graph call (one indexed read), so a
// credential changed through the API or CLI is used by the next call on every
// process, without a restart; a client built from older credentials is kept
// (not destroyed) while a call may still be using it. When that read fails
// transiently (a store fault), the call uses the credentials last read.
//
// The tenant's cloud selects its authority, Graph and scope, unless `config`
// names other endpoints than the public cloud's (graph-sim, a test proxy):
// then every tenant goes there.
class TenantGraphAccess final : public GraphAccess {
 public:
  TenantGraphAccess(store::Database& db, const SecretBox& box, graph::GraphConfig config,
                    graph::HttpTransport& transport, Redactor& redactor, Clock& clock);
  Result<std::unique_ptr<graph::GraphReader>> Reader(int64_t tenant_id,
                                                     graph::AbortCheck abort = {}) override;
  Result<std::unique_ptr<graph::GraphWriter>> Writer(int64_t tenant_id,
                                                     graph::AbortCheck abort = {}) override;

 private:
  Result<graph::GraphClient*> Client(int64_t tenant_id);
  // Client() for a session: a failure to look the credentials up is a failed call.
  graph::GraphSession::Resolve Resolver(int64_t tenant_id);

  store::Database& db_;
  const SecretBox& box_;
  const graph::GraphConfig config_;
  graph::HttpTransport& transport_;
  Redactor& redactor_;
  graph::TokenProvider tokens_;
  graph::AdaptiveLimiter limiter_;
  std::mutex mu_;
  struct Cached {
    std::string credentials;  // entra id, client id and sealed secret it was built from
    std::unique_ptr<graph::GraphClient> client;
  };
  std::map<int64_t, Cached> clients_ GUARDED_BY(mu_);
  std::vector<std::unique_ptr<graph::GraphClient>> retired_ GUARDED_BY(mu_);
};

// Stores a tenant's app credentials, the secret sealed with `box`, and its cloud.
Status SetTenantCredentials(store::Database& db, const SecretBox& box, int64_t tenant_id,
                            const std::string& entra_tenant_id, const std::string& client_id,
                            const std::string& client_secret,
                            const std::string& cloud = "global");

}  // namespace ta::ops
