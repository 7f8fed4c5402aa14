// Real processes against one PostgreSQL: the 4-process dedupe storm, and
// crash recovery where a worker process is killed with SIGKILL mid-job.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <set>
#include <thread>

#include "runs/run_service.h"
#include "store/audit_log.h"
#include "store/runs_repository.h"
#include "support/test_database.h"

extern char** environ;

namespace ta {
namespace {

using namespace std::chrono_literals;
using ::ta::testing::MakeTenant;
using ::ta::testing::QueryInt;
using ::ta::testing::TestBackend;
using ::ta::testing::TestDatabase;

pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, TA_TEST_HELPER, nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(MultiProcessPostgres, DedupeStormAcrossFourProcessesYieldsOneRun) {
  auto t = TestDatabase::Create(TestBackend::kPostgres);
  if (!t) return;
  const int64_t tenant = MakeTenant(t->db(), "a");
  const int64_t start_at = ToUnixMillis(SystemClock::Instance().Now()) + 1500;
  std::vector<FILE*> procs;
  for (int p = 0; p < 4; ++p) {
    const std::string cmd = std::string(TA_TEST_HELPER) + " storm '" + t->url() + "' " +
                            std::to_string(tenant) + " storm-key 16 " + std::to_string(start_at);
    procs.push_back(popen(cmd.c_str(), "r"));
  }
  std::set<long long> ids;
  int answers = 0;
  for (FILE* f : procs) {
    long long id;
    while (fscanf(f, "%lld", &id) == 1) {
      ids.insert(id);
      ++answers;
    }
    EXPECT_EQ(pclose(f), 0);
  }
  EXPECT_EQ(answers, 64);     // every caller got an answer ...
  EXPECT_EQ(ids.size(), 1u);  // ... and it is the same run
  EXPECT_FALSE(ids.count(-1));
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 1);
}

// Starts `n` runs of "test.work" in tenant `tenant` from 8 threads.
void StartRuns(store::Database& db, int64_t tenant, int n) {
  Redactor redactor;
  runs::RunService runs(db, SystemClock::Instance(), redactor);
  std::vector<std::thread> starters;
  for (int th = 0; th < 8; ++th) {
    starters.emplace_back([&, th] {
      for (int i = th; i < n; i += 8) {
        runs::StartRequest req;
        req.tenant_id = tenant;
        req.type = "test.work";
        req.target_id = std::to_string(i);
        ASSERT_TRUE(runs.Start(req).has_value());
      }
    });
  }
  for (auto& s : starters) s.join();
}

void WaitForCompleted(store::Database& db, int64_t at_least) {
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (QueryInt(db, "SELECT COUNT(*) FROM jobs WHERE state = 'completed'") < at_least &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // polling a condition with a deadline
  }
}

TEST(MultiProcessPostgres, SigtermFinishesOrReleasesInFlightJobs) {
  auto t = TestDatabase::Create(TestBackend::kPostgres);
  if (!t) return;
  const int64_t tenant = MakeTenant(t->db(), "a");
  StartRuns(t->db(), tenant, 400);
  const pid_t worker = Spawn({"ta_test_helper", "worker", t->url(), "graceful"});
  WaitForCompleted(t->db(), 40);
  ASSERT_GT(
      QueryInt(t->db(),
               "SELECT COUNT(*) FROM jobs WHERE worker_id = 'graceful' AND state = 'running'"),
      0);
  ASSERT_EQ(kill(worker, SIGTERM), 0);
  EXPECT_EQ(WaitExit(worker), 0);
  const int64_t completed =
      QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'completed'");
  EXPECT_LT(completed, 400) << "the worker should have stopped early";
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'running'"), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'queued'"), 400 - completed);
  // Released jobs got their attempt back; nothing waits for a lease to expire.
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND attempts <> 0"),
            0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs WHERE status = 'succeeded'"), completed);
}

TEST(MultiProcessPostgres, KilledWorkerLosesNoJob) {
  auto t = TestDatabase::Create(TestBackend::kPostgres);
  if (!t) return;
  constexpr int kJobs = 2000;
  const int64_t tenant = MakeTenant(t->db(), "a");
  StartRuns(t->db(), tenant, kJobs);
  ASSERT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'queued'"), kJobs);

  std::vector<pid_t> workers;
  for (int w = 0; w < 3; ++w) {
    // application_name tags the worker's server connections so the test can see them go.
    const std::string id = "worker-" + std::to_string(w);
    workers.push_back(
        Spawn({"ta_test_helper", "worker", t->url() + "&application_name=" + id, id}));
  }
  WaitForCompleted(t->db(), kJobs / 4);
  ASSERT_EQ(kill(workers[0], SIGKILL), 0);
  EXPECT_EQ(WaitExit(workers[0]), 128 + SIGKILL);
  // A COMMIT the worker sent just before it died may still be in flight on the server. Count the
  // orphans only once the server has finished every one of the dead worker's connections.
  const auto gone_by = std::chrono::steady_clock::now() + 30s;
  while (QueryInt(t->db(),
                  "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'worker-0'") > 0 &&
         std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(10ms);  // polling a condition with a deadline
  }
  ASSERT_EQ(
      QueryInt(t->db(), "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'worker-0'"),
      0);
  const int64_t orphaned = QueryInt(
      t->db(), "SELECT COUNT(*) FROM jobs WHERE worker_id = 'worker-0' AND state = 'running'");
  EXPECT_GT(orphaned, 0) << "the kill should land mid-job";
  std::printf("killed worker-0 holding %lld running jobs\n", static_cast<long long>(orphaned));

  EXPECT_EQ(WaitExit(workers[1]), 0);
  EXPECT_EQ(WaitExit(workers[2]), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state = 'completed'"), kJobs);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE state <> 'completed'"), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')"),
            0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs WHERE status = 'succeeded'"), kJobs);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM run_items"),
            kJobs);  // re-run items were not duplicated
  EXPECT_GE(QueryInt(t->db(), "SELECT COUNT(*) FROM jobs WHERE attempts > 1"), orphaned);
  EXPECT_TRUE(store::AuditLog::Verify(t->db())->empty());
}

}  // namespace
}  // namespace ta
