#pragma once

// A simulator on loopback plus a real Graph client (libcurl) pointed at it,
// both on one FakeClock: throttle windows, Retry-After, backoff and token
// lifetimes run on it, so these tests never sleep for Graph's sake (a wait
// moves the clock instead). Simulated latency and hangs stay real.
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/redactor.h"
#include "graph/curl_transport.h"
#include "graph/graph_client.h"
#include "sim.h"

namespace ta::graph {

inline constexpr const char* kTenant = "contoso";
inline constexpr const char* kClientId = "11111111-2222-4333-8444-555555555555";
inline constexpr const char* kSecret = "Qx8~s3cret.Value-For_Tests";

struct GraphTestEnv {
  explicit GraphTestEnv(sim::SimConfig sim_config = {}, GraphConfig config = {},
                        std::chrono::seconds refresh_skew = std::chrono::seconds(300),
                        std::string secret = kSecret)
      : sim(WithClock(sim_config, clock)),
        transport(MakeCurlTransport()),
        limiter(AdaptiveLimiter::Options{}, clock) {
    sim.AddTenant(kTenant, {{kClientId, kSecret}});
    if (sim.Start() < 0) throw std::runtime_error("simulator did not start");
    config.authority_base = sim.base_url();
    config.graph_base = sim.base_url();
    config.backoff_base = std::chrono::milliseconds(20);
    config.backoff_cap = std::chrono::milliseconds(500);
    tokens = std::make_unique<TokenProvider>(*transport, config.authority_base, config.scope, clock,
                                             redactor, refresh_skew);
    client = std::make_unique<GraphClient>(AppCredentials{kTenant, kClientId, std::move(secret)},
                                           config, *transport, *tokens, limiter, redactor, 7);
  }

  static sim::SimConfig WithClock(sim::SimConfig c, Clock& clock) {
    c.clock = &clock;
    return c;
  }

  FakeClock clock;
  sim::GraphSim sim;
  Redactor redactor;
  std::unique_ptr<HttpTransport> transport;
  AdaptiveLimiter limiter;
  std::unique_ptr<TokenProvider> tokens;
  std::unique_ptr<GraphClient> client;
};

}  // namespace ta::graph
