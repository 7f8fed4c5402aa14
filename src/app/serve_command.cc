#include "app/serve_command.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>
#include <thread>

#include "api/http.h"
#include "api/server.h"
#include "app/cli.h"
#include "app/db_commands.h"
#include "demo/demo_command.h"
#include "demo/serve_demo.h"
#include "graph/curl_transport.h"
#include "ops/ops_stack.h"

namespace ta::app {
namespace {

Status ValidateServeConfig(const ServeConfig& config) {
  if (config.port < 0 || config.port > 65535)
    return Status::InvalidArgument("--port: must be 0 to 65535");
  if (config.workers < 0 || config.workers > 1)
    return Status::InvalidArgument(
        "--workers: 0 (API only) or 1 (in-process worker pool; size it with --concurrency)");
  if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
      config.log_level != "error")
    return Status::InvalidArgument("--log-level: one of debug, info, warn, error");
  if (!config.web_root.empty() && !std::filesystem::exists(config.web_root + "/index.html"))
    return Status::InvalidArgument("--web-root: no index.html in " + config.web_root);
  if (config.http.threads < 1 || config.http.threads > 1024)
    return Status::InvalidArgument("--http-threads: must be 1 to 1024");
  if (config.db_connections < 1 || config.db_connections > 1000)
    return Status::InvalidArgument("--db-connections: must be 1 to 1000");
  if (config.http.max_connections < 1)
    return Status::InvalidArgument("--max-connections: must be at least 1");
  for (auto [flag, ms] : {std::pair{"--header-timeout-ms", config.http.header_timeout},
                          std::pair{"--body-timeout-ms", config.http.body_timeout},
                          std::pair{"--keepalive-timeout-ms", config.http.idle_timeout}})
    if (ms.count() < 100 || ms.count() > 3'600'000)
      return Status::InvalidArgument(std::string(flag) + ": must be 100 to 3600000 (ms)");
  if (config.max_streams_per_user < 1)
    return Status::InvalidArgument("--max-streams-per-user: must be at least 1");
  for (const auto& p : config.trusted_proxies)
    if (!api::ValidProxySpec(p))
      return Status::InvalidArgument("--trusted-proxy: " + p +
                                     " is not an IP address or IPv4 CIDR (such as 10.0.0.0/8)");
  return ValidateWorkerConfig(config.worker);
}

void DescribeMetrics(Metrics& metrics) {
  metrics.DescribeCounter("ta_http_requests_total", "HTTP requests by method, route and status.");
  metrics.DescribeHistogram("ta_http_request_duration_seconds", "HTTP request latency by route.",
                            {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5});
  metrics.DescribeHistogram("ta_job_duration_seconds", "Job handler run time by kind and result.",
                            {0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800});
  metrics.DescribeCounter("ta_graph_requests_total", "Microsoft Graph responses by status.");
  metrics.DescribeCounter("ta_graph_throttled_total", "Microsoft Graph 429 responses.");
  metrics.Add("ta_graph_throttled_total", {}, 0);
}

Logger::Level ParseLevel(const std::string& s) {
  if (s == "debug") return Logger::Level::kDebug;
  if (s == "warn") return Logger::Level::kWarn;
  if (s == "error") return Logger::Level::kError;
  return Logger::Level::kInfo;
}

// Milliseconds as an int option bound to a duration.
void AddMs(CLI::App* cmd, const char* flag, std::chrono::milliseconds& into, const char* env,
           const char* help) {
  cmd->add_option_function<int64_t>(
         flag, [&into](const int64_t& v) { into = std::chrono::milliseconds(v); }, help)
      ->envname(env)
      ->default_str(std::to_string(into.count()));
}

void AddConnectionOptions(CLI::App* cmd, ServeConfig& serve) {
  cmd->add_option("--http-threads", serve.http.threads,
                  "Requests served at once (idle connections and event streams hold no thread)")
      ->envname("TA_HTTP_THREADS")
      ->capture_default_str();
  cmd->add_option("--db-connections", serve.db_connections,
                  "PostgreSQL connections this process opens, shared by requests and "
                  "in-process workers (SQLite: ignored)")
      ->envname("TA_DB_CONNECTIONS")
      ->capture_default_str();
  cmd->add_option("--max-connections", serve.http.max_connections,
                  "Client connections open at once; more are answered 503 and closed")
      ->envname("TA_MAX_CONNECTIONS")
      ->capture_default_str();
  cmd->add_option("--max-connections-per-ip", serve.http.max_connections_per_ip,
                  "Connections open from one address (0: no cap); more get 429")
      ->envname("TA_MAX_CONNECTIONS_PER_IP")
      ->capture_default_str();
  AddMs(cmd, "--header-timeout-ms", serve.http.header_timeout, "TA_HEADER_TIMEOUT_MS",
        "A request's headers must arrive within this (slow clients are closed)");
  AddMs(cmd, "--body-timeout-ms", serve.http.body_timeout, "TA_BODY_TIMEOUT_MS",
        "A request's body must arrive within this after its headers");
  AddMs(cmd, "--keepalive-timeout-ms", serve.http.idle_timeout, "TA_KEEPALIVE_TIMEOUT_MS",
        "An idle keep-alive connection is closed after this");
  cmd->add_option("--max-streams-per-user", serve.max_streams_per_user,
                  "Event streams (live pages) one user may hold open; more get 429")
      ->envname("TA_MAX_STREAMS_PER_USER")
      ->capture_default_str();
  cmd->add_option("--trusted-proxy", serve.trusted_proxies,
                  "A reverse proxy's address or IPv4 CIDR: the client address is taken from its "
                  "X-Forwarded-For (login limiter, audit); repeat or comma-separate")
      ->envname("TA_TRUSTED_PROXIES")
      ->delimiter(',');
}

}  // namespace

int RunServeCommand(ServeConfig config, std::ostream& out, std::ostream& err) {
  TuneAllocator();
  if (Status s = ValidateServeConfig(config); !s.ok()) {
    err << "error: " << s.message() << "\n";
    return 2;
  }
  sigset_t set = BlockStopSignals();

  std::unique_ptr<demo::DemoGraph> sim;
  std::string sim_url;
  if (config.demo) {
    if (config.worker.master_key_b64.empty()) {
      auto key = demo::DemoKey(config.demo_key_file);
      if (!key) {
        err << "error: " << key.error().message() << "\n";
        return 2;
      }
      config.worker.master_key_b64 = *key;
    }
    sim = std::make_unique<demo::DemoGraph>();
    auto url = sim->Start(demo::kDemoGenerated);
    if (!url) {
      err << "error: " << url.error().message() << "\n";
      return 1;
    }
    sim_url = *url;
    config.worker.graph_authority = config.worker.graph_base = sim_url;
  }
  if (config.worker.master_key_b64.empty()) {
    err << "error: master key: set TA_MASTER_KEY or --master-key-file (32 random bytes in base64; "
           "create one with `head -c32 /dev/urandom | base64`), or use --demo\n";
    return 2;
  }
  auto box = SecretBox::FromBase64Key(config.worker.master_key_b64);
  if (!box) {
    err << "error: " << box.error().message() << "\n";
    return 2;
  }
  if (config.worker.db_url.rfind("postgres", 0) != 0) {
    std::error_code ec;
    const std::string path = config.worker.db_url.rfind("sqlite:", 0) == 0
                                 ? config.worker.db_url.substr(7)
                                 : config.worker.db_url;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  }
  store::DatabaseOptions db_options;
  db_options.pg_pool_size = config.db_connections;  // HTTP threads and workers share them
  auto db = store::OpenDatabase(config.worker.db_url, db_options);
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }

  Redactor redactor;
  Metrics metrics;
  DescribeMetrics(metrics);
  Logger log(redactor, SystemClock::Instance(), stderr, ParseLevel(config.log_level));

  auto transport = graph::MakeCurlTransport();
  ops::OpsStackOptions options = StackOptions(config.worker);
  options.graph.metrics = &metrics;
  options.workers.metrics = &metrics;
  options.workers.logger = &log;
  ops::OpsStack stack(**db, *box, *transport, redactor, SystemClock::Instance(), options);

  api::LoginLimiter limiter(SystemClock::Instance());
  api::ApiContext ctx(**db, stack.runs(), SystemClock::Instance(), redactor, &*box, metrics, log,
                      limiter);
  ctx.options.secure_cookies = config.secure_cookies;
  ctx.options.web_root = config.web_root;
  ctx.options.max_streams_per_user = config.max_streams_per_user;
  ctx.options.trusted_proxies = config.trusted_proxies;
  ctx.options.public_url = config.worker.public_url;
  // Against graph-sim (or a test proxy) consent links go there too.
  ctx.options.consent_authority = config.worker.graph_authority;
  api::ServerOptions server_options;
  server_options.host = config.host;
  server_options.port = config.port;
  server_options.limits = config.http;
  api::Server server(ctx, server_options);
  if (Status s = server.Bind(); !s.ok()) {
    err << "error: " << s.message() << "\n";
    return 2;
  }
  if (config.workers > 0) stack.pool().Start();
  auto scheduler = std::make_unique<SchedulerRunner>(config.worker, **db, stack.runs(), log);
  std::thread http([&] { server.Serve(); });
  const std::string base = "http://" + config.host + ":" + std::to_string(server.port());
  out << "listening on " << base << std::endl;
  log.Info("serve started",
           {{"address", base},
            {"database", (*db)->backend() == store::Backend::kSqlite ? "sqlite" : "postgresql"},
            {"workers", config.workers > 0 ? config.worker.concurrency : 0},
            {"demo", config.demo}});

  if (config.demo) demo::WelcomeDemo(**db, *box, stack.runs(), base, sim_url, out, err);

  const int sig = AwaitStopSignal(set);
  log.Info("serve stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                              {"grace_s", config.worker.shutdown_grace_s}});
  // Not ready first (a load balancer stops sending), while the API still
  // answers; the workers drain within the grace period; then the API stops.
  ctx.stopping = true;
  scheduler.reset();  // no new runs while the workers drain
  if (config.workers > 0) stack.pool().Stop();
  server.Stop();
  http.join();
  (**db).Interrupt();
  if (sim) sim->Stop();
  log.Info("serve stopped", {{"jobs_processed", stack.pool().processed()}});
  return 0;
}

void AddServeCommand(CLI::App& app, Commands& out) {
  struct Args {
    Args() { serve.worker.db_url = kDefaultDatabase; }
    ServeConfig serve;
    std::string master_key_file;
  };
  auto args = std::make_shared<Args>();
  ServeConfig& serve = args->serve;
  auto* cmd = app.add_subcommand(
      "serve", "Run the HTTP API (and, by default, job workers) until SIGTERM; stops gracefully");
  AddWorkerOptions(cmd, serve.worker, args->master_key_file);
  cmd->add_option("--host", serve.host, "Address to listen on")
      ->envname("TA_HOST")
      ->capture_default_str();
  cmd->add_option("--port", serve.port, "Port to listen on (0: any free port)")
      ->envname("TA_PORT")
      ->capture_default_str();
  cmd->add_option("--workers", serve.workers, "In-process worker pools: 1, or 0 for API only")
      ->envname("TA_WORKERS")
      ->capture_default_str();
  AddConnectionOptions(cmd, serve);
  cmd->add_flag("--secure-cookies", serve.secure_cookies,
                "Mark session cookies Secure (when clients reach the server over HTTPS)")
      ->envname("TA_SECURE_COOKIES");
  cmd->add_option("--web-root", serve.web_root, "Directory of the built web UI to serve")
      ->envname("TA_WEB_ROOT");
  cmd->add_option("--log-level", serve.log_level, "debug, info, warn or error")
      ->envname("TA_LOG_LEVEL")
      ->capture_default_str();
  cmd->add_flag("--demo", serve.demo,
                "Start the built-in Graph simulator with demo tenants, a demo user and a "
                "token (printed once)")
      ->envname("TA_DEMO");
  out.push_back(
      {cmd, [args] {
         ServeConfig& serve = args->serve;
         // The demo brings its own key when none is configured.
         const bool have_key = !args->master_key_file.empty() || std::getenv("TA_MASTER_KEY");
         if ((have_key || !serve.demo) &&
             LoadMasterKey(args->master_key_file, serve.worker.master_key_b64, std::cerr) != 0)
           return 2;
         const std::string& url = serve.worker.db_url;
         const auto slash = url.find_last_of('/');
         serve.demo_key_file =
             (slash == std::string::npos ? std::string(".") : url.substr(0, slash)) +
             "/demo-master.key";
         return RunServeCommand(serve, std::cout, std::cerr);
       }});
}

}  // namespace ta::app
