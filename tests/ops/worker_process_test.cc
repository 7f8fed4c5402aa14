// `tenantatlas worker` as a real process: it drains a queued run against the
// simulator, then stops gracefully on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "ops_env.h"

extern char** environ;

namespace ta::ops {
namespace {

using ::ta::testing::TestBackend;
using ::ta::testing::TestDatabase;

class WorkerProcessTest : public ::testing::TestWithParam<TestBackend> {};

TEST_P(WorkerProcessTest, DrainsQueuedRunsAndStopsOnSigterm) {
  auto db = TestDatabase::Create(GetParam());
  if (!db) return;
  OpsEnv env(std::move(db));
  env.sim.GeneratePolicies("ms-a", 12);
  auto run = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(run.has_value());

  const std::string log = "/tmp/ta-worker-" + std::to_string(getpid()) + ".log";
  const pid_t pid = SpawnWorker(env, {"--concurrency", "2"}, log);
  ASSERT_GT(pid, 0);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!store::IsTerminal(env.Run(env.tenant_a, run->run.id).status) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(50));  // polling a condition with a deadline
  }
  EXPECT_EQ(env.Run(env.tenant_a, run->run.id).status, store::RunStatus::kSucceeded);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies WHERE tenant_id = $1", {env.tenant_a}), 12);

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::stringstream out;
  out << std::ifstream(log).rdbuf();
  EXPECT_NE(out.str().find("started"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("worker stopped after 1 jobs"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("secret-a"), std::string::npos)
      << "no tenant secret in the worker's output";
  std::remove(log.c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerProcessTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
