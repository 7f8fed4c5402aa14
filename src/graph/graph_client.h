#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/metrics.h"
#include "core/redactor.h"
#include "graph/adaptive_limiter.h"
#include "graph/graph_error.h"
#include "graph/http_transport.h"
#include "graph/token_provider.h"

namespace ta::graph {

// The token scope for a Graph base: "https://graph.microsoft.us" ->
// "https://graph.microsoft.us/.default". A national cloud's tokens must be
// asked for its own Graph, not the public one.
std::string ScopeFor(std::string_view graph_base);

struct GraphConfig {
  // Public cloud defaults; national clouds and the simulator change both.
  std::string authority_base = "https://login.microsoftonline.com";
  std::string graph_base = "https://graph.microsoft.com";
  std::string scope = "https://graph.microsoft.com/.default";
  std::string api_version = "beta";
  int max_throttle_retries = 50;  // 429s: Retry-After is honoured each time
  // A 429 (or the tenant's closed throttle gate) asking for a longer wait than
  // this is not waited out in the calling thread: the call fails with
  // GraphError::retry_after set, and the job snoozes.
  std::chrono::milliseconds max_inline_throttle_wait{5'000};
  int max_transient_retries = 4;  // 502/503/504 and network errors
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30'000};
  // Bounds on one attempt: establishing the connection, and the whole
  // exchange. `serve`/`worker` set them from --graph-connect-timeout-ms and
  // --graph-timeout-ms.
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{60'000};
  // When set: ta_graph_requests_total{status} and ta_graph_throttled_total.
  Metrics* metrics = nullptr;
};

// Read-only access. Preview code receives only this: it has no way to write.
class GraphReader {
 public:
  virtual ~GraphReader() = default;
  // `path` is relative to the Graph base and version
  // ("deviceManagement/deviceConfigurations?$top=50") or an absolute URL (a nextLink).
  virtual GraphResult<nlohmann::json> Get(const std::string& path) = 0;
  // The application permissions the tenant's token grants (its `roles`
  // claim); nullopt when they cannot be known (then only a 403 tells).
  virtual GraphResult<std::optional<std::vector<std::string>>> Roles() = 0;
};

class GraphWriter {
 public:
  virtual ~GraphWriter() = default;
  virtual GraphResult<nlohmann::json> Post(const std::string& path, const nlohmann::json& body) = 0;
  virtual GraphResult<nlohmann::json> Patch(const std::string& path,
                                            const nlohmann::json& body) = 0;
  virtual GraphResult<nlohmann::json> Put(const std::string& path, const nlohmann::json& body) = 0;
  virtual GraphResult<nlohmann::json> Delete(const std::string& path) = 0;
  // What an absolute reference in a body points under: this tenant's Graph
  // and version ("https://graph.microsoft.us/beta/"), for @odata.bind.
  virtual std::string ResourceBase() const = 0;
};

// Iterates a collection page by page, following @odata.nextLink.
class Pager {
 public:
  Pager(GraphReader& reader, std::string first_path)
      : reader_(reader), next_(std::move(first_path)) {}
  // The next page's items; nullopt after the last page.
  GraphResult<std::optional<std::vector<nlohmann::json>>> Next();
  int pages() const { return pages_; }

 private:
  GraphReader& reader_;
  std::optional<std::string> next_;
  int pages_ = 0;
};

GraphResult<std::vector<nlohmann::json>> ListAll(GraphReader& reader, const std::string& path);

struct GraphStats {
  int64_t requests = 0;
  int64_t throttled = 0;  // 429 responses seen
  int64_t transient_retries = 0;
  int64_t auth_retries = 0;
};

// Asks an in-progress call to stop: polled before each attempt, during
// backoff and throttle waits, and by the transport during a transfer, so a
// hung call ends within about a second of it turning true. The call then fails
// with GraphError::cancelled().
using AbortCheck = std::function<bool()>;

// One tenant's Graph connection. Thread-safe; share one per tenant so the
// limiter and token cache see all of that tenant's traffic.
//
// Retries: GETs, PATCHes and PUTs (idempotent as we send them: full bodies)
// are retried after network errors and 502/503/504. A POST (create, /assign,
// sub-resource actions) that may have reached Graph (a timeout, a reset, a
// 5xx after the body was sent) is never resent: it fails with
// GraphError::ambiguous set, and the caller looks the object up before it
// decides to send it again. A POST that never left (no connection) is retried.
class GraphClient final : public GraphReader, public GraphWriter {
 public:
  GraphClient(AppCredentials app, GraphConfig config, HttpTransport& transport,
              TokenProvider& tokens, AdaptiveLimiter& limiter, Redactor& redactor,
              uint64_t seed = std::random_device{}());

  GraphResult<nlohmann::json> Get(const std::string& path) override;
  GraphResult<nlohmann::json> Post(const std::string& path, const nlohmann::json& body) override;
  GraphResult<nlohmann::json> Patch(const std::string& path, const nlohmann::json& body) override;
  GraphResult<nlohmann::json> Put(const std::string& path, const nlohmann::json& body) override;
  GraphResult<nlohmann::json> Delete(const std::string& path) override;
  GraphResult<std::optional<std::vector<std::string>>> Roles() override;
  std::string ResourceBase() const override;

  GraphStats stats() const;

  // One logical call (with its retries). `abort` may be empty.
  GraphResult<nlohmann::json> Send(const std::string& method, const std::string& path,
                                   const nlohmann::json* body, const AbortCheck& abort);

 private:
  // Waits `d` unless `abort` turns true first; returns false when aborted.
  bool Wait(std::chrono::milliseconds d, const AbortCheck& abort);
  std::string Url(const std::string& path) const;
  GraphError ErrorFrom(const HttpResponse& response) const;
  std::chrono::milliseconds Backoff(int attempt);

  const AppCredentials app_;
  const GraphConfig config_;
  HttpTransport& transport_;
  TokenProvider& tokens_;
  AdaptiveLimiter& limiter_;
  Redactor& redactor_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<int64_t> requests_{0}, throttled_{0}, transient_{0}, auth_retries_{0};
};

// A tenant's client bound to one job's AbortCheck: what a handler holds, so
// every call it makes can be cancelled mid-transfer. The client is looked up
// for every call (`resolve`), so credentials changed while a job runs are
// used from its next call on. Not owning: the clients outlive the session.
class GraphSession final : public GraphReader, public GraphWriter {
 public:
  using Resolve = std::function<GraphResult<GraphClient*>()>;
  GraphSession(Resolve resolve, AbortCheck abort)
      : resolve_(std::move(resolve)), abort_(std::move(abort)) {}
  GraphSession(GraphClient& client, AbortCheck abort)
      : GraphSession([&client]() -> GraphResult<GraphClient*> { return &client; },
                     std::move(abort)) {}
  GraphResult<nlohmann::json> Get(const std::string& path) override {
    return Send("GET", path, nullptr);
  }
  GraphResult<nlohmann::json> Post(const std::string& path, const nlohmann::json& body) override {
    return Send("POST", path, &body);
  }
  GraphResult<nlohmann::json> Patch(const std::string& path, const nlohmann::json& body) override {
    return Send("PATCH", path, &body);
  }
  GraphResult<nlohmann::json> Put(const std::string& path, const nlohmann::json& body) override {
    return Send("PUT", path, &body);
  }
  GraphResult<nlohmann::json> Delete(const std::string& path) override {
    return Send("DELETE", path, nullptr);
  }
  GraphResult<std::optional<std::vector<std::string>>> Roles() override;
  std::string ResourceBase() const override;

 private:
  GraphResult<nlohmann::json> Send(const std::string& method, const std::string& path,
                                   const nlohmann::json* body);
  const Resolve resolve_;
  const AbortCheck abort_;
};

}  // namespace ta::graph
