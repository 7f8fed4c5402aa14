// The nightly backup of a fleet: T simulated tenants of P policies each, every
// tenant at Intune's throttle limits (1,000 requests and 100 writes per 20 s
// per tenant and app), graph-sim with L ms latency on every request, one or
// more `tenantatlas worker` processes on SQLite or PostgreSQL.
//
//   ta_fleet_bench [--tenants 1000] [--policies 300] [--latency-ms 50]
//                  [--backend sqlite|postgres] [--workers 1] [--concurrency 16]
//                  [--calibration-tenants 100]
//
// 1. Calibration: the client's maximum request rate, measured against an
//    unthrottled simulator (same latency, same policies) by backing up
//    --calibration-tenants tenants the same way: the accepted requests of its
//    best 10 s (sampled every second), so neither ramp-up nor tail counts.
// 2. Night 1: a scheduled backup (schedule.backup: a sync, then a backup set
//    of every policy) of every tenant, started as the scheduler starts a slot;
//    wall time from the first start to the last run's end.
//    bound = max(per-tenant throttle minimum, total requests / max rate),
//    where a tenant's throttle minimum for R accepted requests is
//    floor((R - 1) / 1000) x 20 s (request k cannot go before request
//    k - 1000 plus 20 s). Reports wall / bound (target <= 1.2).
// 3. Night 2, nothing changed: the same; reports the database growth (only
//    run and item metadata should be added; payloads are stored once).
// Peak RSS is each worker process's (VmHWM); the simulator runs as its own
// process and is not included.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench_db.h"
#include "core/secret_box.h"
#include "graph/curl_transport.h"
#include "ops/graph_access.h"
#include "runs/operations.h"
#include "runs/run_service.h"

using namespace ta;
using nlohmann::json;

namespace {

std::string Http(const std::string& url, const std::string& method = "GET",
                 const std::string& body = "") {
  auto t = graph::MakeCurlTransport();
  graph::HttpRequest r;
  r.method = method;
  r.url = url;
  r.body = body;
  r.headers = {{"Content-Type", "application/json"}};
  r.timeout = std::chrono::minutes(10);  // generating a big fixture takes a while
  auto res = t->Send(r);
  return res ? res->body : "";
}

struct Proc {
  pid_t pid = -1;
  int out = -1;  // stdout pipe (the simulator's), else -1
};

Proc Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
           const std::string& log, bool pipe_stdout) {
  int fds[2] = {-1, -1};
  if (pipe_stdout && pipe(fds) != 0) return {};
  Proc p;
  p.pid = fork();
  if (p.pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (pipe_stdout) {
      dup2(fds[1], 1);
      close(fds[0]);
    } else {
      dup2(fileno(f), 1);
    }
    dup2(fileno(f), 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  if (pipe_stdout) {
    close(fds[1]);
    p.out = fds[0];
  }
  return p;
}

// The simulator's base URL, from its first line ("... http://127.0.0.1:PORT").
std::string SimBase(const Proc& sim) {
  std::string line;
  char c;
  while (read(sim.out, &c, 1) == 1 && c != '\n') line += c;
  const size_t at = line.rfind("http://");
  return at == std::string::npos ? "" : line.substr(at);
}

int64_t VmHwmKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      int64_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

void Stop(Proc& p) {
  if (p.pid <= 0) return;
  kill(p.pid, SIGTERM);
  int status = 0;
  waitpid(p.pid, &status, 0);
  if (p.out >= 0) close(p.out);
  p = {};
}

int64_t QueryInt(store::Database& db, const std::string& sql) {
  return store::ReadResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
           auto r = tx.Query(sql);
           if (!r) return Unexpected(r.error());
           return r->front().Int(0);
         })
      .value_or(-1);
}

// The database's size in bytes (SQLite: its pages, WAL included; PostgreSQL:
// the tables and indexes of the bench schema).
int64_t DbBytes(store::Database& db, bool pg) {
  return QueryInt(db, pg ? "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS "
                           "BIGINT) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                           "c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                         : "SELECT page_count * page_size FROM pragma_page_count(), "
                           "pragma_page_size()");
}

struct Options {
  int tenants = 1000, policies = 300, latency_ms = 50, workers = 1, concurrency = 16;
  int calibration_tenants = 100;
  bool timeline = false;
  std::string backend = "sqlite";
  std::string sim_bin, ta_bin;
};

struct Night {
  double wall_s = 0;
  double peak_rate = 0;  // accepted requests per second, the best 10 s window
  int64_t requests = 0, throttled = 0, max_tenant_requests = 0;
  int64_t succeeded = 0, runs = 0, items = 0;
  int64_t peak_rss_kib = 0;
  int64_t db_before = 0, db_after = 0;
  int64_t versions_added = 0;  // policy versions (payload bytes) the night stored
};

// Accepted Graph requests so far, over every tenant of the simulator.
int64_t Accepted(const std::string& base) {
  const json stats = json::parse(Http(base + "/_sim/stats"), nullptr, false);
  int64_t n = 0;
  if (stats.is_object())
    for (const auto& [tenant, c] : stats["tenants"].items())
      n += c.value("requests", int64_t{0}) - c.value("throttled", int64_t{0});
  return n;
}

// One fleet: a simulator of `tenants` tenants, a fresh database, the workers;
// `nights` scheduled backups of every tenant, one after the other.
std::vector<Night> RunFleet(const Options& o, int tenants, bool throttled, int nights) {
  std::vector<Night> out;
  char tmpl[] = "/tmp/ta-fleet-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::vector<std::string> sim_args = {o.sim_bin, "--port", "0", "--latency-ms",
                                       std::to_string(o.latency_ms), "--threads", "256",
                                       "--no-request-log"};
  if (!throttled) sim_args.push_back("--no-throttle");
  Proc sim = Spawn(sim_args, {}, dir + "/sim.log", true);
  const std::string base = SimBase(sim);
  if (base.empty()) {
    std::fprintf(stderr, "graph-sim did not start (see %s/sim.log)\n", dir.c_str());
    std::exit(1);
  }
  // The tenants, in batches (each generates its policies in the simulator).
  for (int from = 0; from < tenants; from += 50) {
    json fx = {{"tenants", json::array()}};
    for (int i = from; i < std::min(tenants, from + 50); ++i)
      fx["tenants"].push_back({{"id", "fleet-" + std::to_string(i)},
                               {"apps", {{{"client_id", "app"}, {"client_secret", "s3cret-Qx8"}}}},
                               {"generate", o.policies}});
    Http(base + "/_sim/fixture", "POST", fx.dump());
  }
  auto fresh = bench::OpenFresh(o.backend, 4);
  store::Database& db = *fresh->db;
  const std::string key = SecretBox::GenerateKeyBase64();
  auto box = *SecretBox::FromBase64Key(key);
  std::vector<int64_t> ids;
  for (int i = 0; i < tenants; ++i) {
    ids.push_back(bench::MakeTenant(db, "Fleet " + std::to_string(i)));
    if (!ops::SetTenantCredentials(db, box, ids.back(), "fleet-" + std::to_string(i), "app",
                                   "s3cret-Qx8")
             .ok())
      std::exit(1);
  }
  Redactor redactor;
  runs::RunService runs(db, SystemClock::Instance(), redactor);
  std::vector<Proc> workers;
  for (int w = 0; w < o.workers; ++w)
    workers.push_back(Spawn({o.ta_bin, "worker", "--db", fresh->url, "--concurrency",
                             std::to_string(o.concurrency), "--tenant-cap", "0", "--no-scheduler"},
                            {"TA_MASTER_KEY=" + key, "TA_GRAPH_AUTHORITY=" + base,
                             "TA_GRAPH_BASE=" + base},
                            dir + "/worker-" + std::to_string(w) + ".log", false));
  for (int n = 1; n <= nights; ++n) {
    Night night;
    night.db_before = DbBytes(db, fresh->pg);
    const int64_t versions_before = QueryInt(db, "SELECT COUNT(*) FROM policy_versions");
    Http(base + "/_sim/config", "POST", R"({"reset_throttle": true, "reset_stats": true})");
    const int64_t first_run = QueryInt(db, "SELECT COALESCE(MAX(id), 0) FROM runs") + 1;
    const auto t0 = std::chrono::steady_clock::now();
    // As the scheduler starts a slot: one scheduled backup per tenant.
    for (int64_t t : ids) {
      runs::ScheduledBackup b;
      b.tenant_id = t;
      b.schedule_id = 1;
      b.slot_at = n;
      b.set_name = "Nightly " + std::to_string(n);
      if (!runs::StartScheduledBackup(runs, b)) std::exit(1);
    }
    const std::string active = "SELECT COUNT(*) FROM runs WHERE id >= " +
                               std::to_string(first_run) +
                               " AND status IN ('queued', 'running')";
    // Sampled once a second: the best 10 s window is the rate the client sustains.
    std::vector<std::pair<double, int64_t>> samples;
    while (QueryInt(db, active) != 0) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      samples.emplace_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          Accepted(base));
      if (o.timeline && samples.size() > 1)
        std::fprintf(stderr, "t=%.0f rate=%lld active=%lld\n", samples.back().first,
                     static_cast<long long>(samples.back().second - samples[samples.size() - 2].second),
                     static_cast<long long>(QueryInt(db, active)));
      for (size_t i = 0; i < samples.size(); ++i)
        if (samples.back().first - samples[i].first >= 10.0)
          night.peak_rate = std::max(night.peak_rate, (samples.back().second - samples[i].second) /
                                                          (samples.back().first - samples[i].first));
    }
    night.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string since = " WHERE id >= " + std::to_string(first_run);
    night.runs = QueryInt(db, "SELECT COUNT(*) FROM runs" + since);
    night.succeeded = QueryInt(db, "SELECT COUNT(*) FROM runs" + since + " AND status = 'succeeded'");
    night.items = QueryInt(db, "SELECT COUNT(*) FROM backup_items WHERE backup_set_id IN (SELECT "
                               "id FROM backup_sets WHERE run_id >= " +
                                   std::to_string(first_run) + ")");
    const json stats = json::parse(Http(base + "/_sim/stats"), nullptr, false);
    if (stats.is_object())
      for (const auto& [tenant, c] : stats["tenants"].items()) {
        const int64_t accepted = c.value("requests", int64_t{0}) - c.value("throttled", int64_t{0});
        night.requests += accepted;
        night.throttled += c.value("throttled", int64_t{0});
        night.max_tenant_requests = std::max(night.max_tenant_requests, accepted);
      }
    for (const auto& w : workers) night.peak_rss_kib = std::max(night.peak_rss_kib, VmHwmKiB(w.pid));
    night.db_after = DbBytes(db, fresh->pg);
    night.versions_added = QueryInt(db, "SELECT COUNT(*) FROM policy_versions") - versions_before;
    out.push_back(night);
  }
  for (auto& w : workers) Stop(w);
  Stop(sim);
  std::filesystem::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"fleet nightly backup benchmark"};
  app.add_option("--tenants", o.tenants);
  app.add_option("--policies", o.policies, "policies per tenant");
  app.add_option("--latency-ms", o.latency_ms);
  app.add_option("--backend", o.backend, "sqlite or postgres (TA_BENCH_PG_URL)");
  app.add_option("--workers", o.workers, "tenantatlas worker processes");
  app.add_option("--concurrency", o.concurrency, "job threads per worker");
  app.add_flag("--timeline", o.timeline, "print each second's accepted requests (stderr)");
  app.add_option("--calibration-tenants", o.calibration_tenants,
                 "tenants backed up against the unthrottled simulator to measure the client's "
                 "maximum request rate");
  CLI11_PARSE(app, argc, argv);
  const std::filesystem::path build = std::filesystem::path(argv[0]).parent_path().parent_path();
  o.sim_bin = build / "graph-sim";
  o.ta_bin = build / "tenantatlas";

  const int cal_tenants = std::min(o.tenants, o.calibration_tenants);
  const Night cal = RunFleet(o, cal_tenants, false, 1).front();
  // The client's maximum rate: its best 10 s against the unthrottled simulator
  // (the whole calibration's average would count the ramp-up and the tail).
  const double max_rate = cal.peak_rate;
  std::printf(
      "calibration (unthrottled, %d tenants x %d policies, %s, %d worker(s) x %d): %lld requests "
      "in %.1f s (average %.0f/s), maximum rate %.0f requests/s (best 10 s), %lld/%lld runs "
      "succeeded\n",
      cal_tenants, o.policies, o.backend.c_str(), o.workers, o.concurrency,
      static_cast<long long>(cal.requests), cal.wall_s, cal.requests / cal.wall_s, max_rate,
      static_cast<long long>(cal.succeeded), static_cast<long long>(cal.runs));
  std::fflush(stdout);

  const auto nights = RunFleet(o, o.tenants, true, 2);
  for (size_t n = 0; n < nights.size(); ++n) {
    const Night& x = nights[n];
    const double throttle_min = static_cast<double>((x.max_tenant_requests - 1) / 1000) * 20.0;
    const double rate_min = max_rate > 0 ? x.requests / max_rate : 0;
    const double bound = std::max(throttle_min, rate_min);
    std::printf(
        "night %zu (%d tenants x %d policies, %d ms latency, throttled, %s, %d worker(s) x %d): "
        "%lld/%lld runs succeeded, %lld items, %.1f s; %lld requests accepted (+%lld got 429), "
        "busiest tenant %lld; bound max(throttle %.1f s, requests/max rate %.1f s) = %.1f s; "
        "wall/bound %.2f; peak RSS %.1f MiB per worker; database %.1f -> %.1f MiB (%+.1f MiB, "
        "%lld new policy versions)\n",
        n + 1, o.tenants, o.policies, o.latency_ms, o.backend.c_str(), o.workers, o.concurrency,
        static_cast<long long>(x.succeeded), static_cast<long long>(x.runs),
        static_cast<long long>(x.items), x.wall_s, static_cast<long long>(x.requests),
        static_cast<long long>(x.throttled), static_cast<long long>(x.max_tenant_requests),
        throttle_min, rate_min, bound, bound > 0 ? x.wall_s / bound : 0.0,
        x.peak_rss_kib / 1024.0, x.db_before / 1048576.0, x.db_after / 1048576.0,
        (x.db_after - x.db_before) / 1048576.0, static_cast<long long>(x.versions_added));
    std::fflush(stdout);
  }
  return 0;
}
