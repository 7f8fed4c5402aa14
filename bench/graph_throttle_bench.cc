// Throttle efficiency: N GETs per tenant against graph-sim at Intune's
// documented limits (1,000 requests per 20 s per tenant per app), through the
// real client (libcurl, token cache, AIMD limiter, Retry-After handling).
//
//   ta_graph_throttle_bench [--gets 5000] [--tenants 1] [--threads 8] [--reps 3]
//
// Reports, per tenant: elapsed time; achieved rate; efficiency = the least
// time the sliding-window limit allows for N requests (floor((N - 1) / L) * W:
// request k cannot go before request k - L plus W) divided by the elapsed
// time, so 1.0 is perfect;
// and the share of requests that got 429.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/redactor.h"
#include "graph/curl_transport.h"
#include "graph/graph_client.h"
#include "sim.h"

using namespace ta;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int gets = 5000, tenants = 1, threads = 8, reps = 3;
  CLI::App app{"graph throttle efficiency benchmark"};
  app.add_option("--gets", gets, "GETs per tenant");
  app.add_option("--tenants", tenants, "tenants driven at once");
  app.add_option("--threads", threads, "caller threads per tenant");
  app.add_option("--reps", reps);
  CLI11_PARSE(app, argc, argv);

  std::vector<double> effs, shares;
  for (int rep = 1; rep <= reps; ++rep) {
    sim::SimConfig sc;  // Intune limits: window 20 s, 1000 requests, 100 writes
    sim::GraphSim sim(sc);
    for (int t = 0; t < tenants; ++t) {
      sim.AddTenant("tenant" + std::to_string(t), {{"app", "secret-" + std::to_string(t)}});
      sim.GeneratePolicies("tenant" + std::to_string(t), 8, "deviceConfigurations");
    }
    sim.Start();
    auto transport = graph::MakeCurlTransport();
    Redactor redactor;
    graph::AdaptiveLimiter limiter;
    graph::GraphConfig cfg;
    cfg.authority_base = cfg.graph_base = sim.base_url();
    graph::TokenProvider tokens(*transport, cfg.authority_base, cfg.scope, SystemClock::Instance(),
                                redactor);
    std::vector<std::unique_ptr<graph::GraphClient>> clients;
    for (int t = 0; t < tenants; ++t) {
      clients.push_back(std::make_unique<graph::GraphClient>(
          graph::AppCredentials{"tenant" + std::to_string(t), "app", "secret-" + std::to_string(t)},
          cfg, *transport, tokens, limiter, redactor));
      if (!tokens.Token({"tenant" + std::to_string(t), "app", "secret-" + std::to_string(t)}))
        return 1;  // not timed
    }
    std::vector<double> elapsed(tenants);
    std::vector<int> failures(tenants);
    std::vector<std::thread> all;
    for (int t = 0; t < tenants; ++t) {
      all.emplace_back([&, t] {
        std::atomic<int> next{0}, failed{0};
        const auto t0 = Steady::now();
        std::vector<std::thread> ts;
        for (int k = 0; k < threads; ++k) {
          ts.emplace_back([&] {
            while (next++ < gets) {
              if (!clients[t]->Get("deviceManagement/deviceConfigurations?$top=5")) failed++;
            }
          });
        }
        for (auto& th : ts) th.join();
        elapsed[t] = std::chrono::duration<double>(Steady::now() - t0).count();
        failures[t] = failed;
      });
    }
    for (auto& th : all) th.join();
    const double window_s = sc.throttle_window_ms / 1000.0, limit = sc.throttle_max_requests;
    // Sliding window: request k cannot go before request k - limit plus the window.
    const double min_time = static_cast<double>((gets - 1) / sc.throttle_max_requests) * window_s;
    for (int t = 0; t < tenants; ++t) {
      const auto s = clients[t]->stats();
      const double eff = min_time / elapsed[t];
      const double share = static_cast<double>(s.throttled) / static_cast<double>(s.requests);
      std::printf(
          "rep %d tenant %d: %d GETs in %.1f s (%.1f/s; limit %.0f/s), efficiency %.3f, 429s %lld "
          "of %lld "
          "requests (%.2f%%), failures %d\n",
          rep, t, gets, elapsed[t], gets / elapsed[t], limit / window_s, eff,
          static_cast<long long>(s.throttled), static_cast<long long>(s.requests), share * 100,
          failures[t]);
      effs.push_back(eff);
      shares.push_back(share * 100);
    }
    std::fflush(stdout);
  }
  std::sort(effs.begin(), effs.end());
  std::sort(shares.begin(), shares.end());
  std::printf(
      "SUMMARY %d tenant(s): efficiency median %.3f (min %.3f, max %.3f); 429 share median %.2f%% "
      "(min %.2f%%, max %.2f%%); n=%zu\n",
      tenants, effs[effs.size() / 2], effs.front(), effs.back(), shares[shares.size() / 2],
      shares.front(), shares.back(), effs.size());
  return 0;
}
