// A separate process for multi-process tests (the tests spawn it):
//   ta_test_helper storm URL TENANT KEY THREADS START_AT_MS
//       THREADS threads start the identical run at START_AT_MS; prints each run id.
//   ta_test_helper restore-crash URL SIM_URL MASTER_KEY
//       runs one queued restore and SIGKILLs itself right after the first create.
//   ta_test_helper worker URL WORKER_ID
//       drains "test.work" jobs (each records one run item and takes ~20 ms)
//       until the queue stays empty, then exits 0. On SIGTERM it stops
//       gracefully (running handlers finish, unstarted jobs are released) and
//       exits 0. Tests also kill it with SIGKILL.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/secret_box.h"
#include "graph/curl_transport.h"
#include "jobs/worker_pool.h"
#include "ops/ops_stack.h"
#include "runs/run_service.h"
#include "store/runs_repository.h"

using namespace std::chrono_literals;
using namespace ta;

namespace {

std::atomic<bool> g_terminate{false};
extern "C" void OnSigterm(int) { g_terminate = true; }

int Storm(const std::string& url, int64_t tenant, const std::string& key, int threads,
          int64_t start_at) {
  store::DatabaseOptions o;
  o.run_migrations = false;
  o.pg_pool_size = threads;
  auto db = store::OpenDatabase(url, o);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().ToString().c_str());
    return 1;
  }
  std::vector<int64_t> ids(threads, -1);
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) {
    ts.emplace_back([&, i] {
      while (ToUnixMillis(SystemClock::Instance().Now()) < start_at) std::this_thread::yield();
      auto r = store::WriteResult<store::CreateOrReuseResult>(**db, [&](store::Tx& tx) {
        store::NewRun run{tenant, "policy.capture_snapshot", key, "42", std::nullopt, "{}", 0};
        return store::RunsRepository::CreateOrReuse(tx, run, 1);
      });
      if (r) ids[i] = r->run.id;
    });
  }
  for (auto& t : ts) t.join();
  for (int64_t id : ids) std::printf("%lld\n", static_cast<long long>(id));
  return 0;
}

int Worker(const std::string& url, const std::string& worker_id) {
  store::DatabaseOptions o;
  o.run_migrations = false;
  o.pg_pool_size = 8;
  auto db = store::OpenDatabase(url, o);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().ToString().c_str());
    return 1;
  }
  Redactor redactor;
  runs::RunService runs(**db, SystemClock::Instance(), redactor);
  jobs::QueueOptions qo;
  qo.lease = 1500ms;
  qo.tenant_running_cap = 0;
  jobs::JobQueue queue(**db, SystemClock::Instance(), qo, &runs, &redactor);
  jobs::WorkerOptions wo;
  wo.worker_id = worker_id;
  wo.concurrency = 4;
  wo.batch = 8;
  wo.heartbeat_interval = 300ms;
  wo.rescue_interval = 300ms;
  wo.poll_interval = 100ms;
  jobs::WorkerPool pool(queue, wo);
  pool.Register("test.work", [](jobs::JobContext& ctx) {
    const auto& job = ctx.job();
    std::this_thread::sleep_for(20ms);  // the simulated Graph call
    Status s = ctx.db().Write([&](store::Tx& tx) {
      store::RunItem item{"item-1",     "created",    "create",    std::nullopt,
                          std::nullopt, std::nullopt, std::nullopt};
      return store::RunsRepository::UpsertItem(tx, job.tenant_id, *job.run_id, item,
                                               ToUnixMillis(ctx.clock().Now()));
    });
    return s.ok() ? jobs::JobResult::Success() : jobs::JobResult::Retry(s);
  });
  struct sigaction sa {};
  sa.sa_handler = OnSigterm;
  sigaction(SIGTERM, &sa, nullptr);
  pool.Start();
  std::printf("started\n");
  std::fflush(stdout);
  int idle = 0;
  while (idle < 3 && !g_terminate) {
    std::this_thread::sleep_for(200ms);
    auto active = store::ReadResult<int64_t>(**db, [](store::Tx& tx) -> Result<int64_t> {
      auto r = tx.Query("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')");
      if (!r) return Unexpected(r.error());
      return r->front().Int(0);
    });
    idle = active && *active == 0 ? idle + 1 : 0;
  }
  pool.Stop();
  std::printf("processed %lld\n", static_cast<long long>(pool.processed()));
  return 0;
}

// Runs queued restore jobs once, and kills itself with SIGKILL when the
// restore reaches `event`: "after_create" (right after the first Graph create
// succeeds, before it is recorded and before any sub-resource write) or
// "after_sub_write" (right after the first sub-resource write).
int RestoreCrash(const std::string& url, const std::string& sim_url, const std::string& master_key,
                 const std::string& event) {
  store::DatabaseOptions o;
  o.run_migrations = false;
  auto db = store::OpenDatabase(url, o);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().ToString().c_str());
    return 1;
  }
  auto box = SecretBox::FromBase64Key(master_key);
  Redactor redactor;
  auto transport = graph::MakeCurlTransport();
  ops::OpsStackOptions options;
  options.graph.authority_base = options.graph.graph_base = sim_url;
  options.queue.lease = 1000ms;
  options.queue.tenant_running_cap = 0;
  options.workers.worker_id = "doomed";
  ops::OpsStack stack(**db, *box, *transport, redactor, SystemClock::Instance(), options);
  stack.context().fault_hook = [event](const std::string& e) {
    if (e == event) raise(SIGKILL);
  };
  jobs::WorkerPool& pool = stack.pool();
  auto n = pool.RunOnce();
  std::fprintf(stderr, "restore-crash: the hook did not fire (%s)\n",
               n ? "ran" : n.error().ToString().c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv, argv + argc);
  if (a.size() == 7 && a[1] == "storm")
    return Storm(a[2], std::stoll(a[3]), a[4], std::stoi(a[5]), std::stoll(a[6]));
  if (a.size() == 4 && a[1] == "worker") return Worker(a[2], a[3]);
  if (a.size() == 5 && a[1] == "restore-crash")
    return RestoreCrash(a[2], a[3], a[4], "after_create");
  if (a.size() == 6 && a[1] == "restore-crash") return RestoreCrash(a[2], a[3], a[4], a[5]);
  std::fprintf(
      stderr,
      "usage: ta_test_helper storm URL TENANT KEY THREADS START_AT_MS | worker URL WORKER_ID | "
      "restore-crash URL SIM_URL MASTER_KEY [after_create|after_sub_write]\n");
  return 2;
}
