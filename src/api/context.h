#pragma once

// What every handler may use. The API links store, jobs and runs only: it has
// no way to reach Microsoft Graph, so a request never waits on it.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "api/auth_cache.h"
#include "api/login_limiter.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/redactor.h"
#include "core/secret_box.h"
#include "runs/run_service.h"
#include "store/database.h"

namespace ta::api {

class StreamHub;

struct ApiOptions {
  size_t max_body_bytes = 1 << 20;
  std::chrono::hours session_ttl{12};
  bool secure_cookies = false;  // set when served over TLS (directly or by a proxy)
  std::chrono::milliseconds stream_poll{20};   // run streams: how often a followed run is read
  std::chrono::milliseconds user_poll{500};    // active-run and notification streams
  std::chrono::seconds stream_keepalive{15};   // a comment on a stream silent this long
  int max_streams_per_user = 32;               // open event streams per user; more get 429
  std::chrono::hours idempotency_ttl{24};
  std::string web_root;  // the built web UI (index.html, assets/); empty: none
  // Reverse proxies (IPs or IPv4 CIDRs) whose X-Forwarded-For names the client.
  std::vector<std::string> trusted_proxies;
  // The URL browsers reach this server at ("https://atlas.msp.example"): the
  // admin-consent redirect comes back to it. Empty: the request's Host.
  std::string public_url;
  // Where consent links send the customer's admin: "" for the tenant cloud's
  // own authority; the simulator's URL when serve runs against graph-sim.
  std::string consent_authority;
  // How long an authorization result is reused (api/auth_cache.h); 0: never.
  // A revocation made through this process voids it at once; one made by
  // another process or node takes effect within this time.
  std::chrono::milliseconds auth_cache_ttl{1000};
};

struct ApiContext {
  ApiContext(store::Database& db_, runs::RunService& runs_, Clock& clock_, Redactor& redactor_,
             const SecretBox* box_, Metrics& metrics_, Logger& log_, LoginLimiter& limiter_,
             ApiOptions options_ = {})
      : db(db_),
        runs(runs_),
        clock(clock_),
        redactor(redactor_),
        box(box_),
        metrics(metrics_),
        log(log_),
        login_limiter(limiter_),
        options(std::move(options_)) {}

  store::Database& db;
  runs::RunService& runs;
  Clock& clock;
  Redactor& redactor;    // new tenant secrets are registered with it
  const SecretBox* box;  // null: credentials cannot be stored (no master key)
  Metrics& metrics;
  Logger& log;
  LoginLimiter& login_limiter;
  ApiOptions options;
  AuthCache auth_cache{options.auth_cache_ttl};
  // Extra /metrics text (e.g. from the worker side); may be empty.
  std::function<std::string()> extra_metrics;
  // The connection layer's gauges and limit counters (set by the server).
  std::function<std::string()> connection_metrics;
  // Feeds the event streams (set by the server; null without one).
  StreamHub* stream_hub = nullptr;
  // Readiness beyond the database (e.g. workers started); may be empty.
  std::function<bool()> ready;
  std::atomic<bool> stopping{false};
};

}  // namespace ta::api
