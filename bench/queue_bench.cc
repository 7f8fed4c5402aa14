// Load driver for the job engine. Each repetition gets a fresh database.
//
//   ta_queue_bench drain   --backend sqlite|postgres [--jobs 10000] [--reps 5]
//   ta_queue_bench enqueue --backend ... [--calls 20000] [--callers 16] [--reps 5]
//   ta_queue_bench start   --backend ... [--calls 20000] [--callers 16] [--reps 5]
//
// drain:   pre-enqueue N no-op jobs, then time from the workers' start to the
//          last completion (workers in this process).
// enqueue: one job per call (its own transaction, distinct dedupe key), with
//          `callers` threads in flight; reports calls/s and per-call p50/p99.
// start:   the full start path (run + job + notification + audit in one
//          transaction) through RunService::Start, measured the same way.
// PostgreSQL comes from TA_BENCH_PG_URL (a schema per repetition); SQLite is a
// temp file with the default synchronous=FULL. Prints one line per repetition
// and a summary (median, min-max).
#include <libpq-fe.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_db.h"
#include "jobs/worker_pool.h"
#include "runs/run_service.h"

using namespace ta;
using Clock_ = std::chrono::steady_clock;

namespace {

double Drain(const std::string& backend, int n, int batch, int concurrency) {
  auto f = bench::OpenFresh(backend, 8);
  const int64_t tenant = bench::MakeTenant(*f->db, "bench");
  for (int done = 0; done < n;) {
    const int chunk = std::min(5000, n - done);
    Status s = f->db->Write([&](store::Tx& tx) -> Status {
      for (int i = 0; i < chunk; ++i) {
        jobs::JobSpec spec;
        spec.tenant_id = tenant;
        spec.kind = "noop";
        if (auto r = jobs::JobQueue::Enqueue(*f->db, tx, spec, 0); !r) return r.error();
      }
      return Status::Ok();
    });
    if (!s.ok()) std::exit(1);
    done += chunk;
  }
  jobs::QueueOptions qo;
  qo.tenant_running_cap = 0;
  jobs::JobQueue queue(*f->db, SystemClock::Instance(), qo);
  jobs::WorkerOptions wo;
  wo.worker_id = "bench";
  wo.batch = batch;
  wo.concurrency = concurrency;
  wo.poll_interval = std::chrono::milliseconds(5);
  jobs::WorkerPool pool(queue, wo);
  pool.Register("noop", [](jobs::JobContext&) { return jobs::JobResult::Success(); });
  const auto t0 = Clock_::now();
  pool.Start();
  while (pool.processed() < n) std::this_thread::sleep_for(std::chrono::microseconds(200));
  const double secs = std::chrono::duration<double>(Clock_::now() - t0).count();
  pool.Stop();
  return n / secs;
}

struct CallStats {
  double per_sec, p50_ms, p99_ms;
};

template <typename F>
CallStats Calls(int calls, int callers, F&& one) {
  std::vector<std::vector<double>> lat(callers);
  std::atomic<int> next{0};
  const auto t0 = Clock_::now();
  std::vector<std::thread> ts;
  for (int c = 0; c < callers; ++c) {
    ts.emplace_back([&, c] {
      for (int i; (i = next++) < calls;) {
        const auto s = Clock_::now();
        if (!one(i)) std::exit(1);
        lat[c].push_back(std::chrono::duration<double, std::milli>(Clock_::now() - s).count());
      }
    });
  }
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(Clock_::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  return {calls / secs, all[all.size() / 2], all[all.size() * 99 / 100]};
}

CallStats Enqueue(const std::string& backend, int calls, int callers) {
  auto f = bench::OpenFresh(backend, callers);
  const int64_t tenant = bench::MakeTenant(*f->db, "bench");
  return Calls(calls, callers, [&](int i) {
    auto r = store::WriteResult<jobs::EnqueueResult>(*f->db, [&](store::Tx& tx) {
      jobs::JobSpec spec;
      spec.tenant_id = tenant;
      spec.kind = "noop";
      spec.dedupe_key = "k" + std::to_string(i);
      return jobs::JobQueue::Enqueue(*f->db, tx, spec, 0);
    });
    if (!r) std::fprintf(stderr, "%s\n", r.error().ToString().c_str());
    return r.has_value();
  });
}

CallStats Start(const std::string& backend, int calls, int callers, int tenants) {
  auto f = bench::OpenFresh(backend, callers);
  std::vector<int64_t> tenant_ids;
  for (int t = 0; t < tenants; ++t)
    tenant_ids.push_back(bench::MakeTenant(*f->db, "bench" + std::to_string(t)));
  const int64_t user = *store::WriteResult<int64_t>(*f->db, [](store::Tx& tx) -> Result<int64_t> {
    auto r = tx.Query("INSERT INTO users (email, created_at) VALUES ('b@x', 0) RETURNING id");
    if (!r) return Unexpected(r.error());
    return r->front().Int(0);
  });
  Redactor redactor;
  runs::RunService service(*f->db, SystemClock::Instance(), redactor);
  return Calls(calls, callers, [&](int i) {
    runs::StartRequest req;
    req.tenant_id = tenant_ids[i % tenants];
    req.type = "policy.capture_snapshot";
    req.target_id = std::to_string(i);
    req.initiator_user_id = user;
    auto r = service.Start(req);
    if (!r) std::fprintf(stderr, "%s\n", r.error().ToString().c_str());
    return r.has_value() && !r->reused;
  });
}

void Summary(const char* what, std::vector<double> v, const char* unit) {
  std::sort(v.begin(), v.end());
  std::printf("SUMMARY %s: median %.0f %s (min %.0f, max %.0f, n=%zu)\n", what, v[v.size() / 2],
              unit, v.front(), v.back(), v.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"TenantAtlas queue load driver"};
  std::string mode, backend = "sqlite";
  int jobs = 10000, calls = 20000, callers = 16, reps = 5, batch = 1000, concurrency = 4,
      tenants = 1;
  app.add_option("mode", mode, "drain | enqueue | start")->required();
  app.add_option("--backend", backend, "sqlite | postgres");
  app.add_option("--jobs", jobs);
  app.add_option("--calls", calls);
  app.add_option("--callers", callers);
  app.add_option("--reps", reps);
  app.add_option("--batch", batch, "drain: jobs per claim");
  app.add_option("--concurrency", concurrency, "drain: handler threads");
  app.add_option("--tenants", tenants, "start: spread runs over this many tenants");
  CLI11_PARSE(app, argc, argv);

  std::vector<double> rates, p50s, p99s;
  for (int r = 0; r < reps; ++r) {
    if (mode == "drain") {
      const double rate = Drain(backend, jobs, batch, concurrency);
      std::printf("%s drain rep %d: %d jobs, %.0f jobs/s\n", backend.c_str(), r + 1, jobs, rate);
      rates.push_back(rate);
    } else {
      const CallStats s = mode == "enqueue" ? Enqueue(backend, calls, callers)
                                            : Start(backend, calls, callers, tenants);
      std::printf(
          "%s %s rep %d: %d calls, %d callers, %d tenant(s), %.0f calls/s, p50 %.2f ms, p99 %.2f "
          "ms\n",
          backend.c_str(), mode.c_str(), r + 1, calls, callers, tenants, s.per_sec, s.p50_ms,
          s.p99_ms);
      rates.push_back(s.per_sec);
      p50s.push_back(s.p50_ms * 100);  // summarised in 1/100 ms
      p99s.push_back(s.p99_ms * 100);
    }
    std::fflush(stdout);
  }
  Summary((backend + " " + mode).c_str(), rates, mode == "drain" ? "jobs/s" : "calls/s");
  if (!p50s.empty()) {
    Summary((backend + " " + mode + " p50").c_str(), p50s, "x0.01 ms");
    Summary((backend + " " + mode + " p99").c_str(), p99s, "x0.01 ms");
  }
  return 0;
}
