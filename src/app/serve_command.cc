#include "app/serve_command.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "app/cli.h"
#include "app/db_commands.h"

#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <thread>

#include "api/server.h"
#include "core/credentials.h"
#include "demo/serve_demo.h"
#include "graph/curl_transport.h"
#include "ops/ops_stack.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/inventory.h"

namespace ta::app {
namespace {

// Waits for a run to end (the in-process workers run it).
bool AwaitRun(store::Database& db, int64_t tenant, int64_t run, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = store::ReadResult<store::RunRecord>(
        db, [&](store::Tx& tx) { return store::RunsRepository::Get(tx, tenant, run); });
    if (!r) return false;
    if (store::IsTerminal(r->status)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

Logger::Level ParseLevel(const std::string& s) {
  if (s == "debug") return Logger::Level::kDebug;
  if (s == "warn") return Logger::Level::kWarn;
  if (s == "error") return Logger::Level::kError;
  return Logger::Level::kInfo;
}

}  // namespace

int RunServeCommand(ServeConfig config, std::ostream& out, std::ostream& err) {
  // A long-running server: keep freed memory instead of returning it to the
  // kernel after every burst (each return costs page faults on the next one).
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  if (config.port < 0 || config.port > 65535) {
    err << "error: --port: must be 0 to 65535\n";
    return 2;
  }
  if (config.workers < 0 || config.workers > 1) {
    err << "error: --workers: 0 (API only) or 1 (in-process worker pool; size it with "
           "--concurrency)\n";
    return 2;
  }
  if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
      config.log_level != "error") {
    err << "error: --log-level: one of debug, info, warn, error\n";
    return 2;
  }
  if (Status s = ValidateWorkerConfig(config.worker); !s.ok()) {
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
    auto url = sim->Start(24);
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
  db_options.pg_pool_size = 24;  // HTTP threads and workers share the pool
  auto db = store::OpenDatabase(config.worker.db_url, db_options);
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }

  Redactor redactor;
  Metrics metrics;
  metrics.DescribeCounter("ta_http_requests_total", "HTTP requests by method, route and status.");
  metrics.DescribeHistogram("ta_http_request_duration_seconds", "HTTP request latency by route.",
                            {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5});
  metrics.DescribeHistogram("ta_job_duration_seconds", "Job handler run time by kind and result.",
                            {0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800});
  metrics.DescribeCounter("ta_graph_requests_total", "Microsoft Graph responses by status.");
  metrics.DescribeCounter("ta_graph_throttled_total", "Microsoft Graph 429 responses.");
  metrics.Add("ta_graph_throttled_total", {}, 0);
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
  if (!config.web_root.empty() && !std::filesystem::exists(config.web_root + "/index.html")) {
    err << "error: --web-root: no index.html in " << config.web_root << "\n";
    return 2;
  }
  ctx.options.web_root = config.web_root;
  api::ServerOptions server_options;
  server_options.host = config.host;
  server_options.port = config.port;
  server_options.threads = config.http_threads;
  api::Server server(ctx, server_options);
  if (Status s = server.Bind(); !s.ok()) {
    err << "error: " << s.message() << "\n";
    return 2;
  }
  if (config.workers > 0) stack.pool().Start();
  std::thread http([&] { server.Serve(); });
  const std::string base = "http://" + config.host + ":" + std::to_string(server.port());
  out << "listening on " << base << std::endl;
  log.Info("serve started",
           {{"address", base},
            {"database", (*db)->backend() == store::Backend::kSqlite ? "sqlite" : "postgresql"},
            {"workers", config.workers > 0 ? config.worker.concurrency : 0},
            {"demo", config.demo}});

  if (config.demo) {
    auto login = demo::PrepareDemo(**db, *box);
    if (!login) {
      err << "error: demo setup: " << login.error().ToString() << "\n";
    } else {
      // Fill the demo tenants and take a first backup, as jobs, before
      // showing the commands that use them. Contoso first, so that on a new
      // database its policies get the first ids, as the README's lines assume.
      auto a = runs::StartInventorySync(stack.runs(), login->tenant, std::nullopt);
      bool ready = a && AwaitRun(**db, login->tenant, a->run.id, std::chrono::seconds(60));
      auto b = runs::StartInventorySync(stack.runs(), login->other_tenant, std::nullopt);
      ready =
          ready && b && AwaitRun(**db, login->other_tenant, b->run.id, std::chrono::seconds(60));
      int64_t set_id = 0, policy_id = 0;
      if (ready) {
        auto backup = runs::StartBackupSet(stack.runs(), **db, login->tenant, "Contoso baseline",
                                           std::nullopt, std::nullopt);
        ready = backup && AwaitRun(**db, login->tenant, backup->run.id, std::chrono::seconds(60));
        // The newest set and the first policy, for the printed curl lines.
        (void)(**db).Read([&](store::Tx& tx) -> Status {
          auto sets = store::BackupSets::List(tx, login->tenant, std::nullopt, 1);
          if (sets && !sets->empty()) set_id = sets->front().id;
          store::PolicyFilter first;
          first.limit = 1;
          auto p = store::Inventory::ListPolicies(tx, login->tenant, first);
          if (p && !p->empty()) policy_id = p->front().id;
          return Status::Ok();
        });
      }
      const std::string t = std::to_string(login->tenant);
      out << "\nDemo (Graph simulator at " << sim_url << "): tenants Contoso (id " << t
          << ") and Fabrikam (id " << login->other_tenant << ")"
          << (ready ? ", inventory synced and a first backup set taken" : " (setup still running)")
          << ".\n"
          << "  sign-in: " << login->email << " / " << login->password << "\n"
          << "  API token (shown once): " << login->token << "\n\n"
          << "  export TOKEN=" << login->token << "\n"
          << "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" " << base << "/api/v1/tenants/"
          << t << "/policies/" << policy_id << "/capture\n"
          << "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: "
             "application/json' -d '{\"backup_set_id\":"
          << set_id << "}' " << base << "/api/v1/tenants/" << t << "/restores/preview\n"
          << "  curl -sN -H \"Authorization: Bearer $TOKEN\" " << base << "/api/v1/tenants/" << t
          << "/runs/RUN_ID/events   # RUN_ID from the answer above\n"
          << std::endl;
    }
  }

  const int sig = AwaitStopSignal(set);
  log.Info("serve stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                              {"grace_s", config.worker.shutdown_grace_s}});
  // Not ready first (a load balancer stops sending), while the API still
  // answers; the workers drain within the grace period; then the API stops.
  ctx.stopping = true;
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
  cmd->add_option("--http-threads", serve.http_threads,
                  "Connections served at once (keep-alive and event streams hold one each)")
      ->envname("TA_HTTP_THREADS")
      ->capture_default_str();
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
