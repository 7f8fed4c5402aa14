#pragma once

// graph-sim: a real HTTP server on loopback that emulates the subset of
// Microsoft Graph (and the Entra token endpoint) that TenantAtlas uses, with
// per-tenant in-memory state, Intune-style throttling, fault injection and a
// request log. Used in-process by tests and benchmarks, and as the
// `graph-sim` executable for demos and e2e tests.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ta {
class Clock;
}

namespace ta::sim {

struct SimConfig {
  // Throttling per tenant per app, sliding window (Intune's documented limits).
  int64_t throttle_window_ms = 20'000;
  int throttle_max_requests = 1000;
  int throttle_max_writes = 100;
  bool throttle_enabled = true;
  bool omit_retry_after = false;  // Intune sometimes sends 429 without it
  int page_size = 100;            // default page size of list responses
  int64_t latency_ms = 0;         // added to every Graph request
  double fault_rate = 0.0;        // share of Graph requests answered 503
  int64_t token_lifetime_s = 3600;
  uint64_t seed = 1;
  int threads = 64;  // server worker threads
  // Time for throttle windows, token lifetimes and timestamps (nullptr: the
  // system clock). In-process tests share a FakeClock with the Graph client,
  // so a Retry-After is waited out on it without sleeping. Latency and the
  // hang/hold waits stay real: they exercise real transport timeouts.
  Clock* clock = nullptr;
};

struct SimApp {
  std::string client_id;
  std::string client_secret;
  // When the secret ends, as Entra lists it (passwordCredentials endDateTime);
  // empty: two years from when the app was added.
  std::string secret_end = {};
  // The application permissions admin-consented to the app: its tokens'
  // `roles` claim, and Graph refuses (403) what they do not grant. nullopt:
  // every permission TenantAtlas uses (and nothing is refused for roles).
  std::optional<std::vector<std::string>> roles = std::nullopt;
};

class GraphSim {
 public:
  explicit GraphSim(SimConfig config = {});
  ~GraphSim();
  GraphSim(const GraphSim&) = delete;
  GraphSim& operator=(const GraphSim&) = delete;

  // Binds 127.0.0.1:port (0 = any free port) and serves on a background
  // thread. Returns the bound port, or -1.
  int Start(const std::string& host = "127.0.0.1", int port = 0);
  void Stop();
  int port() const;
  std::string base_url() const;  // http://127.0.0.1:PORT (authority and Graph base)

  // Seeding (thread-safe; also reachable over HTTP under /_sim).
  void AddTenant(const std::string& tenant_id, const std::vector<SimApp>& apps);
  // Uploads a certificate (PEM) to an app, as an admin does in Entra: the app
  // may then sign client assertions with its key. Also the knob
  // {"add_certificate": {"tenant", "client_id", "pem"}}.
  void AddCertificate(const std::string& tenant_id, const std::string& client_id,
                      const std::string& certificate_pem);
  // Adds objects to a collection ("deviceConfigurations", ..., or "groups").
  // Missing ids and timestamps are filled in. Returns the ids.
  std::vector<std::string> Seed(const std::string& tenant_id, const std::string& collection,
                                const std::vector<nlohmann::json>& objects);
  // Deletes an object, as an admin deleting a policy in the Intune portal would
  // (recorded in the audit log when an admin is named).
  bool Remove(const std::string& tenant_id, const std::string& collection, const std::string& id,
              const std::string& user_principal_name = "");
  // Changes an object's properties as an admin in the Intune portal would:
  // recorded in the tenant's audit log (deviceManagement/auditEvents) with the
  // admin as the actor. Also POST /_sim/admin-change {"tenant", "collection",
  // "id", "patch", "user"}. False when there is no such object.
  bool AdminChange(const std::string& tenant_id, const std::string& collection,
                   const std::string& id, const nlohmann::json& patch,
                   const std::string& user_principal_name);
  // Generates `count` realistic synthetic objects spread round-robin over
  // every collection (one of each from 35 on), or only `only_collection`.
  void GeneratePolicies(const std::string& tenant_id, int count,
                        const std::string& only_collection = "");
  // Loads {"tenants":[{"id","apps":[...],"groups":[...],"policies":{collection:[...]}}]}.
  bool LoadFixture(const nlohmann::json& fixture, std::string* error);

  // Runtime knobs (also POST /_sim/config).
  void Configure(const nlohmann::json& knobs);
  // Fail the next `count` Graph requests with `status` (deterministic faults).
  void FailNext(int count, int status = 503);
  // Requests held now by the hang_next / hold_next_writes knobs.
  int Waiting() const;

  // The request log: [{seq, method, path, tenant, status, write, body, host,
  // client, ts_ms}] (body: what a write sent, "" for reads; host: the Host
  // header it came with; client: the app whose token it carried).
  nlohmann::json Requests() const;
  void ClearRequests();
  int64_t CountRequests(const std::string& method_filter, int status_filter = 0) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The collections the simulator serves (one per catalog type), each under
// its home (see HomeOf in sim_impl.h).
const std::vector<std::string>& SimCollections();
// The ones GeneratePolicies spreads synthetic objects over: all of them.
const std::vector<std::string>& GeneratedCollections();

}  // namespace ta::sim
