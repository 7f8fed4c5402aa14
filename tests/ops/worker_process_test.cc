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
  std::vector<std::string> env_strings = {
      std::string("TA_MASTER_KEY=") + kMasterKey, "TA_GRAPH_AUTHORITY=" + env.sim.base_url(),
      "TA_GRAPH_BASE=" + env.sim.base_url(), "TA_DATABASE_URL=" + env.t->url()};
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {"tenantatlas", "worker", "--concurrency", "2"};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, TA_BINARY, &fa, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);

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
