// Backs up N policies from one simulated tenant (graph-sim as a separate
// process, with per-request latency, at Intune's documented throttle limits)
// through the real stack: run service, job, Graph client, SQLite store.
//
//   ta_backup_bench [--policies 1000] [--latency-ms 50] [--reps 3] [--restore 200]
//
// Reports the wall time of the backup_set.create run, the Graph requests it
// made, the least time the sliding-window throttle allows for them
// (floor((R - 1) / 1000) * 20 s: request k cannot go before request k - 1000
// plus 20 s), the ratio wall / minimum, and
// the peak RSS of this process (graph-sim's memory is not included).
//
// Then it restores the first --restore items of that backup into a second,
// empty tenant (restore.execute: create, sub-resource writes, read-back of
// every item) and reports the same for it, with the read-back requests
// counted, and the bound taken over both of Intune's windows: 1,000 requests
// and 100 writes per 20 s.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/secret_box.h"
#include "graph/curl_transport.h"
#include "ops/ops_stack.h"

using namespace ta;

namespace {

std::string Http(const std::string& url, const std::string& method = "GET",
                 const std::string& body = "") {
  auto t = graph::MakeCurlTransport();
  graph::HttpRequest r;
  r.method = method;
  r.url = url;
  r.body = body;
  r.headers = {{"Content-Type", "application/json"}};
  auto res = t->Send(r);
  return res ? res->body : "";
}

// Steps the pool until `run`'s job is done: a throttled run snoozes for the
// Retry-After and is claimed again, so one RunOnce is not the whole run.
bool RunToEnd(jobs::WorkerPool& pool, store::Database& db, int64_t run) {
  while (true) {
    auto n = pool.RunOnce();
    if (!n) return false;
    auto active = store::ReadResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
      auto r = tx.Query(
          "SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND state IN ('queued', 'running')", {run});
      if (!r) return Unexpected(r.error());
      return r->front().Int(0);
    });
    if (!active) return false;
    if (*active == 0) return true;
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int policies = 1000, latency = 50, reps = 3, restore = 200;
  CLI::App app{"backup throughput benchmark"};
  app.add_option("--policies", policies);
  app.add_option("--latency-ms", latency);
  app.add_option("--reps", reps);
  app.add_option("--restore", restore, "items restored into a second tenant (0: none)");
  CLI11_PARSE(app, argc, argv);
  const std::string sim_bin =
      std::filesystem::path(argv[0]).parent_path().parent_path() / "graph-sim";

  for (int rep = 1; rep <= reps; ++rep) {
    const std::string cmd =
        "exec " + sim_bin + " --port 0 --tenant t1 --client-id app --client-secret s3cret-Qx8 " +
        "--generate " + std::to_string(policies) + " --latency-ms " + std::to_string(latency);
    FILE* sim = popen(cmd.c_str(), "r");
    char line[256] = {0};
    if (!fgets(line, sizeof line, sim)) return 1;
    const std::string first(line);
    const std::string base =
        "http://127.0.0.1:" + std::to_string(std::stoi(first.substr(first.rfind(':') + 1)));

    char tmpl[] = "/tmp/ta-backup-bench-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    auto db = store::OpenDatabase(dir + "/bench.db");
    if (!db) return 1;
    auto box = *SecretBox::FromBase64Key(SecretBox::GenerateKeyBase64());
    Redactor redactor;
    auto transport = graph::MakeCurlTransport();
    ops::OpsStackOptions options;
    options.graph.authority_base = options.graph.graph_base = base;
    ops::OpsStack stack(**db, box, *transport, redactor, SystemClock::Instance(), options);
    runs::RunService& runs = stack.runs();
    jobs::WorkerPool& pool = stack.pool();
    const int64_t tenant = *store::WriteResult<int64_t>(**db, [](store::Tx& tx) -> Result<int64_t> {
      auto r = tx.Query("INSERT INTO tenants (name, created_at) VALUES ('bench', 0) RETURNING id");
      if (!r) return Unexpected(r.error());
      return r->front().Int(0);
    });
    if (!ops::SetTenantCredentials(**db, box, tenant, "t1", "app", "s3cret-Qx8").ok()) return 1;
    if (!ops::StartInventorySync(runs, tenant, std::nullopt) || !pool.RunOnce()) return 1;
    // Start the timed backup with a fresh throttle window and request log.
    Http(base + "/_sim/config", "POST", R"({"reset_throttle": true})");
    Http(base + "/_sim/requests", "DELETE");
    const auto t0 = std::chrono::steady_clock::now();
    auto run = ops::StartBackupSet(runs, **db, tenant, "bench", std::nullopt, std::nullopt);
    if (!run || !RunToEnd(pool, **db, run->run.id)) return 1;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto log = nlohmann::json::parse(Http(base + "/_sim/requests"));
    int64_t requests = 0, throttled = 0;
    for (const auto& r : log) {
      if (r["path"].get<std::string>().find("/oauth2/") != std::string::npos) continue;
      ++requests;
      if (r["status"] == 429) ++throttled;
    }
    const int64_t accepted = requests - throttled;
    // Sliding window: any 20 s may hold 1000 accepted requests, so request k
    // cannot go before request k-1000 plus 20 s.
    const double min_time = static_cast<double>((accepted - 1) / 1000) * 20.0;
    auto items = store::ReadResult<int64_t>(**db, [&](store::Tx& tx) -> Result<int64_t> {
      auto r = tx.Query("SELECT COUNT(*) FROM backup_items");
      if (!r) return Unexpected(r.error());
      return r->front().Int(0);
    });
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf(
        "rep %d: %lld of %d policies backed up in %.1f s; %lld Graph requests accepted (+%lld got "
        "429); "
        "throttle-bound minimum %.1f s; wall/minimum %.2f; peak RSS %.1f MiB\n",
        rep, static_cast<long long>(items.value_or(-1)), policies, wall,
        static_cast<long long>(accepted), static_cast<long long>(throttled), min_time,
        min_time > 0 ? wall / min_time : 0.0, ru.ru_maxrss / 1024.0);
    std::fflush(stdout);
    if (restore > 0 && run) {
      // A second, empty tenant; an operator of both (a restore's rule).
      Http(
          base + "/_sim/fixture", "POST",
          R"({"tenants":[{"id":"t2","apps":[{"client_id":"app","client_secret":"s3cret-Qx8"}]}]})");
      auto ids = store::WriteResult<std::vector<int64_t>>(
          **db, [&](store::Tx& tx) -> Result<std::vector<int64_t>> {
            std::vector<int64_t> out;
            for (const char* sql :
                 {"INSERT INTO tenants (name, created_at) VALUES ('bench-2', 0) RETURNING id",
                  "INSERT INTO users (email, created_at) VALUES ('bench@msp', 0) RETURNING id"}) {
              auto r = tx.Query(sql);
              if (!r) return Unexpected(r.error());
              out.push_back(r->front().Int(0));
            }
            for (int64_t t : {tenant, out[0]}) {
              TA_RETURN_IF_ERROR(
                  tx.Exec("INSERT INTO memberships (tenant_id, user_id, role, "
                          "created_at) VALUES ($1, $2, 'owner', 0)",
                          {t, out[1]}));
            }
            // Every k-th item, so that each type is in the sample.
            auto items = tx.Query("SELECT id FROM backup_items ORDER BY id");
            if (!items) return Unexpected(items.error());
            const size_t stride = std::max<size_t>(1, items->size() / restore);
            for (size_t i = 0; i < items->size() && out.size() < 2 + static_cast<size_t>(restore);
                 i += stride)
              out.push_back((*items)[i].Int(0));
            return out;
          });
      if (!ids) return 1;
      const int64_t target = (*ids)[0], user = (*ids)[1];
      if (!ops::SetTenantCredentials(**db, box, target, "t2", "app", "s3cret-Qx8").ok()) return 1;
      ops::RestoreRequest req{user, tenant, target, 0, std::nullopt, {}};
      req.backup_set_id = *store::ReadResult<int64_t>(**db, [&](store::Tx& tx) -> Result<int64_t> {
        auto r = tx.Query("SELECT id FROM backup_sets WHERE run_id = $1", {run->run.id});
        if (!r) return Unexpected(r.error());
        return r->front().Int(0);
      });
      req.item_ids = std::vector<int64_t>(ids->begin() + 2, ids->end());
      Http(base + "/_sim/config", "POST", R"({"reset_throttle": true})");
      Http(base + "/_sim/requests", "DELETE");
      const auto r0 = std::chrono::steady_clock::now();
      auto restored = ops::StartRestore(runs, **db, req, true);
      if (!restored || !RunToEnd(pool, **db, restored->run.id)) return 1;
      const double rwall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
      auto rlog = nlohmann::json::parse(Http(base + "/_sim/requests"));
      int64_t reads = 0, writes = 0, got429 = 0, readback = 0;
      for (const auto& r : rlog) {
        const std::string path = r["path"].get<std::string>();
        if (path.find("/oauth2/") != std::string::npos || r["tenant"] != "t2") continue;
        if (r["status"] == 429) {
          ++got429;
          continue;
        }
        if (r["write"].get<bool>()) {
          ++writes;
          continue;
        }
        ++reads;
        // A read of one object (not of a collection) is a read-back: a
        // restore into an empty tenant reads nothing else per item.
        const size_t dm = path.find("/deviceManagement/");
        const std::string rest = dm == std::string::npos ? "" : path.substr(dm + 18);
        if (rest.find('/') != std::string::npos) ++readback;
      }
      const double bound = std::max(static_cast<double>((reads + writes - 1) / 1000) * 20.0,
                                    static_cast<double>((writes - 1) / 100) * 20.0);
      auto outcomes =
          store::ReadResult<std::string>(**db, [&](store::Tx& tx) -> Result<std::string> {
            auto r = tx.Query(
                "SELECT status, COUNT(*) FROM run_items WHERE run_id = $1 GROUP BY status "
                "ORDER BY status",
                {restored->run.id});
            if (!r) return Unexpected(r.error());
            std::string s;
            for (const auto& row : *r) s += row.Text(0) + " " + row.Text(1) + " ";
            return s;
          });
      std::printf(
          "rep %d restore: %zu items into an empty tenant in %.1f s (%s); %lld writes + %lld reads "
          "accepted, of which %lld read-backs (+%lld got 429); throttle-bound minimum %.1f s; "
          "wall/minimum %.2f\n",
          rep, req.item_ids->size(), rwall, outcomes.value_or("?").c_str(),
          static_cast<long long>(writes), static_cast<long long>(reads),
          static_cast<long long>(readback), static_cast<long long>(got429), bound,
          bound > 0 ? rwall / bound : 0.0);
      std::fflush(stdout);
    }
    std::system(("pkill -TERM -f '" + cmd.substr(5) + "'").c_str());
    pclose(sim);
    std::filesystem::remove_all(dir);
  }
  return 0;
}
