#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "app/worker_command.h"
#include "http/limits.h"

namespace ta::app {

struct ServeConfig {
  WorkerConfig worker;  // db, master key, Graph endpoints, concurrency, tenant cap
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed)
  int workers = 1;  // in-process worker pools: 0 = API only (run `tenantatlas worker` elsewhere)
  http::Limits http;               // request threads, timeouts, connection caps
  // PostgreSQL connections. More than a few per database core only adds
  // contention: 8 measured best on a 2-core box (docs/BENCHMARKS.md).
  int db_connections = 8;
  int max_streams_per_user = 32;   // open event streams per user
  std::vector<std::string> trusted_proxies;  // addresses whose X-Forwarded-For is believed
  bool secure_cookies = false;
  bool demo = false;          // built-in Graph simulator, demo tenants, user and token
  std::string demo_key_file;  // where the demo keeps its master key when none is configured
  std::string log_level = "info";
  std::string web_root;  // the built web UI to serve (index.html + assets/); empty: none
};

// `tenantatlas serve`: the API and in-process workers until SIGTERM/SIGINT,
// then a graceful stop (event streams end, running jobs finish or are handed
// back). Prints "listening on http://HOST:PORT" once bound.
int RunServeCommand(ServeConfig config, std::ostream& out, std::ostream& err);

}  // namespace ta::app
