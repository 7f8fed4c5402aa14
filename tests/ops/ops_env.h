#pragma once

// Operations end to end: a test database (either backend), graph-sim on
// loopback with two customer tenants, the real Graph client, the run service,
// the job queue and a worker pool stepped with RunOnce().
#include <fcntl.h>
#include <spawn.h>

#include <memory>
#include <thread>

#include "core/secret_box.h"
#include "graph/curl_transport.h"
#include "ops/ops_stack.h"
#include "sim.h"
#include "support/test_database.h"

namespace ta::ops {

inline const char* kMasterKey =
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";  // 32 bytes, tests only

struct OpsEnv {
  explicit OpsEnv(std::unique_ptr<::ta::testing::TestDatabase> test_db, sim::SimConfig sc = {},
                  jobs::QueueOptions qo = {},
                  const std::function<void(OpsStackOptions&)>& tune = {},
                  Clock& clock = SystemClock::Instance())
      : t(std::move(test_db)),
        sim(sc),
        box(*SecretBox::FromBase64Key(kMasterKey)),
        transport(graph::MakeCurlTransport()) {
    sim.AddTenant("ms-a", {{"app-a", "secret-a-Qx8~"}});
    sim.AddTenant("ms-b", {{"app-b", "secret-b-Qx8~"}});
    sim.Start();
    OpsStackOptions options;
    options.graph.authority_base = options.graph.graph_base = sim.base_url();
    options.graph.backoff_base = std::chrono::milliseconds(20);
    options.queue = qo;
    options.queue.tenant_running_cap = 0;
    options.workers.worker_id = "test-worker";
    options.workers.batch = 4;
    if (tune) tune(options);
    stack = std::make_unique<OpsStack>(db(), box, *transport, redactor, clock, options);
    access = &stack->access();
    runs = &stack->runs();
    queue = &stack->queue();
    pool = &stack->pool();
    ops = &stack->context();
    tenant_a = ::ta::testing::MakeTenant(db(), "Contoso");
    tenant_b = ::ta::testing::MakeTenant(db(), "Fabrikam");
    EXPECT_TRUE(SetTenantCredentials(db(), box, tenant_a, "ms-a", "app-a", "secret-a-Qx8~").ok());
    EXPECT_TRUE(SetTenantCredentials(db(), box, tenant_b, "ms-b", "app-b", "secret-b-Qx8~").ok());
    operator_both = ::ta::testing::MakeUser(db(), "both@msp");
    operator_a = ::ta::testing::MakeUser(db(), "a-only@msp");
    Member(operator_both, tenant_a, "operator");
    Member(operator_both, tenant_b, "owner");
    Member(operator_a, tenant_a, "operator");
    Member(operator_a, tenant_b, "readonly");
  }

  store::Database& db() { return t->db(); }
  void Member(int64_t user, int64_t tenant, const std::string& role) {
    ::ta::testing::MustExec(
        db(),
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, 0)",
        {tenant, user, role});
  }
  // Runs jobs until none is queued or running, including retries that wait
  // out their backoff (bounded: 60 s).
  void Drain() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < until) {
      auto n = pool->RunOnce();
      ASSERT_TRUE(n.has_value()) << n.error().ToString();
      if (*n > 0) continue;
      if (Count("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')") == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a retry's backoff
    }
    ADD_FAILURE() << "jobs still active after 60 s";
  }
  // The last error of the jobs of `run` (to explain a retried run in a failure).
  std::string JobErrors(int64_t run) {
    std::string out;
    (void)db().Read([&](store::Tx& tx) -> Status {
      auto rows = tx.Query("SELECT attempts, last_error FROM jobs WHERE run_id = $1", {run});
      if (!rows) return rows.error();
      for (const auto& r : *rows) out += "attempts " + r.Text(0) + ": " + r.Text(1) + "\n";
      return Status::Ok();
    });
    return out;
  }
  store::RunRecord Run(int64_t tenant, int64_t id) {
    return *store::ReadResult<store::RunRecord>(
        db(), [&](store::Tx& tx) { return store::RunsRepository::Get(tx, tenant, id); });
  }
  std::vector<store::RunItem> Items(int64_t tenant, int64_t run) {
    return *store::ReadResult<std::vector<store::RunItem>>(
        db(), [&](store::Tx& tx) { return store::RunsRepository::Items(tx, tenant, run); });
  }
  int64_t Count(const std::string& sql, const store::Params& p = {}) {
    return ::ta::testing::QueryInt(db(), sql, p);
  }
  std::string Text(const std::string& sql, const store::Params& p = {}) {
    return ::ta::testing::QueryText(db(), sql, p);
  }

  // Syncs tenant A and backs all of it up; returns the backup set id.
  int64_t SyncAndBackUpA() {
    auto sync = StartInventorySync(*runs, tenant_a, operator_both);
    EXPECT_TRUE(sync.has_value());
    Drain();
    auto set = StartBackupSet(*runs, db(), tenant_a, "Nightly", std::nullopt, operator_both);
    EXPECT_TRUE(set.has_value()) << (set ? "" : set.error().ToString());
    Drain();
    EXPECT_EQ(Run(tenant_a, set->run.id).status, store::RunStatus::kSucceeded);
    return Count("SELECT id FROM backup_sets WHERE run_id = $1", {set->run.id});
  }

  std::unique_ptr<::ta::testing::TestDatabase> t;
  sim::GraphSim sim;
  SecretBox box;
  Redactor redactor;
  std::unique_ptr<graph::HttpTransport> transport;
  std::unique_ptr<OpsStack> stack;
  TenantGraphAccess* access = nullptr;
  runs::RunService* runs = nullptr;
  jobs::JobQueue* queue = nullptr;
  jobs::WorkerPool* pool = nullptr;
  OpsContext* ops = nullptr;
  int64_t tenant_a = 0, tenant_b = 0, operator_both = 0, operator_a = 0;
};

// A `tenantatlas worker` process on env's database and simulator, its stdout
// and stderr in `log`. Returns its pid (-1 when it could not be started).
inline pid_t SpawnWorker(OpsEnv& env, const std::vector<std::string>& extra_args,
                         const std::string& log) {
  std::vector<std::string> env_strings = {
      std::string("TA_MASTER_KEY=") + kMasterKey, "TA_GRAPH_AUTHORITY=" + env.sim.base_url(),
      "TA_GRAPH_BASE=" + env.sim.base_url(), "TA_DATABASE_URL=" + env.t->url()};
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {"tenantatlas", "worker"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, TA_BINARY, &fa, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

}  // namespace ta::ops

// An OpsEnv on the test's backend (TEST_P over TestBackend); returns from the
// test when the backend is not available.
#define TA_OPS_ENV(env, ...)                                       \
  auto env##_db = ::ta::testing::TestDatabase::Create(GetParam()); \
  if (!env##_db) return;                                           \
  ::ta::ops::OpsEnv env(std::move(env##_db), ##__VA_ARGS__)
