// Runs that tell the truth under faults: a store that stops taking writes, a
// Graph create whose answer never arrives, a hung Graph call with a cancel,
// and SIGTERM during a hung call. Each ends with every item having an outcome,
// the run's status matching its items, and no duplicate in the simulator.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "ops_env.h"
#include "store/audit_log.h"

namespace ta::ops {
namespace {

using nlohmann::json;
using store::RunStatus;
using ::ta::testing::TestBackend;
using ::ta::testing::TestDatabase;

class FaultTest : public ::testing::TestWithParam<TestBackend> {};

using Clock = std::chrono::steady_clock;

// Polls `done` every 20 ms until it holds or `limit` passes (the condition is
// the point; the interval only bounds the test's reaction time).
template <typename F>
bool Eventually(F done, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The promises every fault test ends with.
void ExpectTruthfulRun(OpsEnv& env, int64_t tenant, int64_t run_id, int64_t expected_items) {
  const auto run = env.Run(tenant, run_id);
  const auto items = env.Items(tenant, run_id);
  int64_t with_outcome = 0, failed = 0, skipped = 0;
  for (const auto& i : items) {
    if (i.status != "pending") ++with_outcome;
    if (i.status == "failed") ++failed;
    if (i.status == "skipped") ++skipped;
  }
  EXPECT_EQ(run.total, expected_items);
  EXPECT_EQ(with_outcome, expected_items) << "every item has an outcome";
  EXPECT_EQ(run.processed, with_outcome);
  EXPECT_EQ(run.failed, failed);
  EXPECT_EQ(run.skipped, skipped);
  if (run.status == RunStatus::kSucceeded) {
    EXPECT_EQ(failed + skipped, 0) << "a succeeded run has no failed or skipped item";
  }
  auto audit = store::AuditLog::Verify(env.db());
  ASSERT_TRUE(audit.has_value()) << audit.error().ToString();
  EXPECT_TRUE(audit->empty()) << "the audit chain verifies";
}

// Graph writes the simulator carried out (a backup makes none).
int64_t GraphWrites(const OpsEnv& env) {
  int64_t n = 0;
  for (const auto& r : env.sim.Requests())
    if (r.value("write", false)) ++n;
  return n;
}

// One row of the fault table in the closing note.
void PrintRow(const std::string& fault, OpsEnv& env, int64_t tenant, int64_t run_id,
              const std::string& extra) {
  const auto run = env.Run(tenant, run_id);
  std::printf("FAULT-TABLE|%s|%s|total %lld|processed %lld|%s|graph writes %lld|%s\n",
              fault.c_str(), env.db().backend() == store::Backend::kSqlite ? "sqlite" : "postgres",
              static_cast<long long>(run.total), static_cast<long long>(run.processed),
              std::string(store::ToString(run.status)).c_str(),
              static_cast<long long>(GraphWrites(env)), extra.c_str());
  std::fflush(stdout);
}

std::set<std::string> NamesIn(OpsEnv& env, int64_t tenant, const std::string& collection,
                              size_t* count) {
  auto all = graph::ListAll(**env.access->Reader(tenant), "deviceManagement/" + collection);
  EXPECT_TRUE(all.has_value());
  std::set<std::string> names;
  *count = all ? all->size() : 0;
  if (all)
    for (const auto& p : *all) names.insert(p.value("displayName", ""));
  return names;
}

// The store stops taking writes mid-backup (SQLite: the file may not grow,
// as on a full disk; PostgreSQL: every connection is killed). Before the fix
// the run ended `succeeded` with items missing.
TEST_P(FaultTest, StoreFaultMidBackupLosesNoItemAndTheRunResumes) {
  jobs::QueueOptions qo;
  qo.retry.base = std::chrono::milliseconds(10);
  qo.retry.cap = std::chrono::milliseconds(50);
  TA_OPS_ENV(env, sim::SimConfig{}, qo);
  env.sim.GeneratePolicies("ms-a", 40, "deviceConfigurations");
  auto sync = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(sync.has_value());
  env.Drain();
  auto set =
      StartBackupSet(*env.runs, env.db(), env.tenant_a, "Nightly", std::nullopt, env.operator_both);
  ASSERT_TRUE(set.has_value());
  const int64_t run_id = set->run.id;
  const bool sqlite = env.db().backend() == store::Backend::kSqlite;
  if (sqlite) {
    // A few pages of room: some captures land, then every write is SQLITE_FULL.
    const int64_t pages = env.Count("PRAGMA page_count");
    ::ta::testing::MustExec(env.db(), "PRAGMA max_page_count = " + std::to_string(pages + 6));
  }
  // PostgreSQL: kill every other connection of this test (its application_name)
  // while the backup is in progress.
  if (!sqlite) env.sim.Configure({{"latency_ms", 50}});
  std::thread killer;
  int64_t killed = 0;
  if (!sqlite) {
    killer = std::thread([&] {
      Eventually([&] { return env.Run(env.tenant_a, run_id).processed >= 5; },
                 std::chrono::seconds(20));
      killed = env.Count(
          "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity "
          "WHERE application_name = current_setting('application_name') AND pid <> "
          "pg_backend_pid()) k WHERE t");
    });
  }
  auto first = env.pool->RunOnce();
  ASSERT_TRUE(first.has_value());
  if (killer.joinable()) {
    killer.join();
    EXPECT_GT(killed, 0) << "the test's connections were killed mid-run";
  }
  if (sqlite) {
    const auto mid = env.Run(env.tenant_a, run_id);
    EXPECT_FALSE(store::IsTerminal(mid.status))
        << "a run whose items were not all stored must not end; it ended "
        << store::ToString(mid.status) << " with " << mid.processed << " of " << mid.total;
    EXPECT_LT(mid.processed, 40);
    ::ta::testing::MustExec(env.db(), "PRAGMA max_page_count = 1073741823");  // space again
  }
  ASSERT_TRUE(Eventually(
      [&] {
        auto n = env.pool->RunOnce();
        return !n || store::IsTerminal(env.Run(env.tenant_a, run_id).status);
      },
      std::chrono::seconds(60)));
  const auto run = env.Run(env.tenant_a, run_id);
  EXPECT_EQ(run.status, RunStatus::kSucceeded);
  ExpectTruthfulRun(env, env.tenant_a, run_id, 40);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items i JOIN backup_sets s ON s.id = "
                      "i.backup_set_id WHERE s.run_id = $1",
                      {run_id}),
            40)
      << "the backup set is complete";
  EXPECT_GE(env.Count("SELECT attempts FROM jobs WHERE run_id = $1", {run_id}), sqlite ? 2 : 1);
  EXPECT_EQ(GraphWrites(env), 0);
  PrintRow(sqlite ? "SQLite max_page_count reached mid-backup, then raised"
                  : "pg_terminate_backend of every connection mid-backup",
           env, env.tenant_a, run_id,
           "attempts " +
               std::to_string(env.Count("SELECT attempts FROM jobs WHERE run_id = $1", {run_id})));
}

// Graph carries out a create but its 201 arrives after the client's timeout.
// The client must look the policy up instead of sending the POST again.
TEST_P(FaultTest, CreateWhoseAnswerTimesOutIsLookedUpAndNotSentTwice) {
  TA_OPS_ENV(env, sim::SimConfig{}, jobs::QueueOptions{},
             [](OpsStackOptions& o) { o.graph.timeout = std::chrono::milliseconds(1000); });
  env.sim.GeneratePolicies("ms-a", 4, "deviceConfigurations");
  const int64_t set_id = env.SyncAndBackUpA();
  env.sim.Configure({{"hold_next_writes", 1}, {"hold_ms", 5000}});
  env.sim.ClearRequests();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value());
  env.Drain();
  size_t count = 0;
  const auto names = NamesIn(env, env.tenant_b, "deviceConfigurations", &count);
  EXPECT_EQ(count, 4u) << "no duplicate: the timed-out create was found, not resent";
  EXPECT_EQ(names.size(), 4u);
  // The held create is logged when the simulator finally answers it.
  env.sim.Configure({{"release", true}});
  int64_t creates = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        creates = 0;
        for (const auto& r : env.sim.Requests())
          if (r["method"] == "POST" && r["path"] == "/beta/deviceManagement/deviceConfigurations")
            ++creates;
        return creates == 4 && env.sim.Waiting() == 0;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(creates, 4) << "one POST per policy";
  const auto r = env.Run(env.tenant_b, run->run.id);
  EXPECT_EQ(r.status, RunStatus::kSucceeded);
  EXPECT_EQ(r.succeeded, 4);
  ExpectTruthfulRun(env, env.tenant_b, run->run.id, 4);
  for (const auto& i : env.Items(env.tenant_b, run->run.id)) EXPECT_EQ(i.status, "created");
  PrintRow(
      "a create's 201 held 5 s past a 1 s client timeout", env, env.tenant_b, run->run.id,
      "policies in target " + std::to_string(count) + ", create POSTs " + std::to_string(creates));
}

// A cancel that cuts off a create already sent (Graph carries it out; its
// answer is held): the item says it may have been written, never "skipped".
// Before: the item was recorded skipped while the policy existed in the target.
TEST_P(FaultTest, CancelDuringASentCreateSaysItMayHaveBeenWritten) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 3, "deviceConfigurations");
  const int64_t set_id = env.SyncAndBackUpA();
  env.sim.Configure({{"hold_next_writes", 1}, {"hold_ms", 60'000}});
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value());
  std::thread canceller([&] {
    ASSERT_TRUE(Eventually([&] { return env.sim.Waiting() == 1; }, std::chrono::seconds(20)));
    EXPECT_TRUE(env.runs->Cancel(env.tenant_b, run->run.id, env.operator_both).ok());
  });
  auto n = env.pool->RunOnce();
  canceller.join();
  ASSERT_TRUE(n.has_value());
  env.sim.Configure({{"release", true}});
  size_t count = 0;
  NamesIn(env, env.tenant_b, "deviceConfigurations", &count);
  EXPECT_EQ(count, 1u) << "the held create was carried out";
  const auto r = env.Run(env.tenant_b, run->run.id);
  EXPECT_EQ(r.status, RunStatus::kCancelled);
  ExpectTruthfulRun(env, env.tenant_b, run->run.id, 3);
  int mid_write = 0, skipped = 0;
  for (const auto& i : env.Items(env.tenant_b, run->run.id)) {
    if (i.error_code == "cancelled_mid_write") {
      ++mid_write;
      EXPECT_EQ(i.status, "failed");
      EXPECT_NE(i.error_message.value_or("").find("may have been carried out"), std::string::npos);
    }
    if (i.status == "skipped") ++skipped;
  }
  EXPECT_EQ(mid_write, 1);
  EXPECT_EQ(skipped, 2);
  PrintRow("cancel while a sent create's answer is held", env, env.tenant_b, run->run.id,
           "policies in target " + std::to_string(count));
}

// Syncs tenant A (`policies` device configurations), makes the next Graph
// call hang, and starts a backup set of everything; returns its start.
runs::StartResult BackupWithAHungCall(OpsEnv& env, int policies) {
  env.sim.GeneratePolicies("ms-a", policies, "deviceConfigurations");
  auto sync = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  EXPECT_TRUE(sync.has_value());
  env.Drain();
  env.sim.Configure({{"hang_next", 1}, {"hang_ms", 120'000}});
  auto set =
      StartBackupSet(*env.runs, env.db(), env.tenant_a, "Nightly", std::nullopt, env.operator_both);
  EXPECT_TRUE(set.has_value());
  return *set;
}

// The same rule for /assign: its answer arrives after the client's timeout;
// the live assignments are read back instead of sending it again.
TEST_P(FaultTest, AssignWhoseAnswerTimesOutIsLookedUpAndNotSentTwice) {
  TA_OPS_ENV(env, sim::SimConfig{}, jobs::QueueOptions{},
             [](OpsStackOptions& o) { o.graph.timeout = std::chrono::milliseconds(1000); });
  env.sim.Seed("ms-a", "groups", {{{"id", "ga-1"}, {"displayName", "Finance"}}});
  const json target = {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"},
                       {"groupId", "ga-1"}};
  const auto ids = env.sim.Seed("ms-a", "deviceConfigurations",
                                {{{"@odata.type", "#microsoft.graph.windows10GeneralConfiguration"},
                                  {"displayName", "Assigned baseline"},
                                  {"assignments", json::array({{{"target", target}}})}}});
  const int64_t set_id = env.SyncAndBackUpA();
  // Someone removes the assignment in Intune; the restore puts it back.
  const std::string item = "deviceManagement/deviceConfigurations/" + ids[0];
  ASSERT_TRUE((*env.access->Writer(env.tenant_a))
                  ->Post(item + "/assign", {{"assignments", json::array()}}));
  env.sim.ClearRequests();
  env.sim.Configure({{"hold_next_writes", 1}, {"hold_ms", 5000}});
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_a, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value());
  env.Drain();
  env.sim.Configure({{"release", true}});
  int64_t assigns = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        assigns = 0;
        for (const auto& r : env.sim.Requests())
          if (r["method"] == "POST" &&
              r["path"].get<std::string>().find("/assign") != std::string::npos)
            ++assigns;
        return assigns == 1 && env.sim.Waiting() == 0;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(assigns, 1) << "one /assign, not resent after the timeout";
  const auto live = graph::ListAll(**env.access->Reader(env.tenant_a), item + "/assignments");
  ASSERT_TRUE(live.has_value());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0]["target"]["groupId"], "ga-1");
  const auto r = env.Run(env.tenant_a, run->run.id);
  EXPECT_EQ(r.status, RunStatus::kSucceeded);
  ExpectTruthfulRun(env, env.tenant_a, run->run.id, 1);
  EXPECT_EQ(env.Items(env.tenant_a, run->run.id)[0].status, "updated");
  PrintRow("an /assign's answer held 5 s past a 1 s client timeout", env, env.tenant_a, run->run.id,
           "assign POSTs " + std::to_string(assigns));
}

// A Graph call that never answers, and a cancel: the cancel takes effect
// within seconds (the transfer is aborted), not after the request timeout.
TEST_P(FaultTest, CancelEndsAHungGraphCallWithinSeconds) {
  TA_OPS_ENV(env);
  const auto set = BackupWithAHungCall(env, 6);
  Clock::time_point cancelled_at{};
  std::thread canceller([&] {
    ASSERT_TRUE(Eventually([&] { return env.sim.Waiting() == 1; }, std::chrono::seconds(20)));
    cancelled_at = Clock::now();
    EXPECT_TRUE(env.runs->Cancel(env.tenant_a, set.run.id, env.operator_both).ok());
  });
  auto n = env.pool->RunOnce();  // runs the handler on this thread until it stops
  const auto stopped_at = Clock::now();
  canceller.join();
  ASSERT_TRUE(n.has_value());
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(stopped_at - cancelled_at);
  EXPECT_LT(took.count(), 5000) << "the cancel took " << took.count() << " ms";
  const auto r = env.Run(env.tenant_a, set.run.id);
  EXPECT_EQ(r.status, RunStatus::kCancelled);
  ExpectTruthfulRun(env, env.tenant_a, set.run.id, 6);
  bool saw_cancelled_call = false;
  for (const auto& i : env.Items(env.tenant_a, set.run.id))
    if (i.error_code == "cancelled") saw_cancelled_call = true;
  EXPECT_TRUE(saw_cancelled_call);
  EXPECT_EQ(GraphWrites(env), 0);
  PrintRow("hung Graph call, then cancel", env, env.tenant_a, set.run.id,
           "cancel took effect in " + std::to_string(took.count()) + " ms");
  env.sim.Configure({{"release", true}});
}

// SIGTERM while a job waits on a hung Graph call: the worker exits within its
// grace period, hands the job back, and another worker finishes the run.
TEST_P(FaultTest, SigtermDuringAHungGraphCallExitsWithinGraceAndAnotherWorkerFinishes) {
  TA_OPS_ENV(env);
  const auto set = BackupWithAHungCall(env, 8);

  const std::string log = "/tmp/ta-fault-worker-" + std::to_string(getpid()) + ".log";
  const pid_t pid = SpawnWorker(env, {"--shutdown-grace", "2"}, log);
  ASSERT_GT(pid, 0);

  ASSERT_TRUE(Eventually([&] { return env.sim.Waiting() == 1; }, std::chrono::seconds(30)));
  const auto sent = Clock::now();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent);
  std::stringstream out;
  out << std::ifstream(log).rdbuf();
  std::remove(log.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << out.str();
  EXPECT_LT(took.count(), 2000 + 3000) << "grace 2 s; exited after " << took.count() << " ms";
  EXPECT_FALSE(store::IsTerminal(env.Run(env.tenant_a, set.run.id).status));
  EXPECT_EQ(
      env.Count("SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND state = 'queued'", {set.run.id}),
      1)
      << "the job was handed back, not left running under a lease";

  env.Drain();  // another worker
  const auto r = env.Run(env.tenant_a, set.run.id);
  EXPECT_EQ(r.status, RunStatus::kSucceeded);
  ExpectTruthfulRun(env, env.tenant_a, set.run.id, 8);
  EXPECT_EQ(GraphWrites(env), 0);
  PrintRow("SIGTERM (grace 2 s) during a hung Graph call, then another worker", env, env.tenant_a,
           set.run.id, "worker exited in " + std::to_string(took.count()) + " ms");
  env.sim.Configure({{"release", true}});
}

// Graph never answers: each attempt ends at the configured timeout, the item
// fails with graph_timeout (not graph_0), and the run fails with a run-level
// error that says so. Before: 5 attempts of a hard-coded 60 s each.
TEST_P(FaultTest, HungGraphFailsTheItemWithGraphTimeoutAndARunLevelError) {
  TA_OPS_ENV(env, sim::SimConfig{}, jobs::QueueOptions{}, [](OpsStackOptions& o) {
    o.graph.timeout = std::chrono::milliseconds(1000);
    o.graph.max_transient_retries = 1;
  });
  env.sim.GeneratePolicies("ms-a", 1, "deviceConfigurations");
  auto sync = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(sync.has_value());
  env.Drain();
  env.sim.Configure({{"hang_next", 100}, {"hang_ms", 30'000}});
  const int64_t policy =
      env.Count("SELECT MIN(id) FROM policies WHERE tenant_id = $1", {env.tenant_a});
  auto run = StartCaptureSnapshot(*env.runs, env.tenant_a, policy, env.operator_both);
  ASSERT_TRUE(run.has_value());
  const auto started = Clock::now();
  env.Drain();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  env.sim.Configure({{"hang_next", 0}, {"release", true}});
  const auto r = env.Run(env.tenant_a, run->run.id);
  EXPECT_EQ(r.status, RunStatus::kFailed);
  ASSERT_TRUE(r.error_code.has_value());
  EXPECT_EQ(*r.error_code, "items_failed");
  EXPECT_NE(r.error_message.value_or("").find("graph_timeout"), std::string::npos)
      << r.error_message.value_or("");
  const auto items = env.Items(env.tenant_a, run->run.id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].error_code.value_or(""), "graph_timeout");
  EXPECT_LT(took.count(), 10'000) << "two 1 s attempts, not minutes";
  ExpectTruthfulRun(env, env.tenant_a, run->run.id, 1);
  PrintRow("every Graph call hangs; 1 s timeout", env, env.tenant_a, run->run.id,
           "item " + items[0].error_code.value_or("") + ", run error " + r.error_code.value_or("") +
               ", ended after " + std::to_string(took.count()) + " ms");
}

// Graph misbehaving in each way the issue lists: every case ends in a clear
// per-item error code and a failed run with a run-level error, never a crash
// or a stuck run.
TEST_P(FaultTest, GraphMisbehavingEndsInAClearPerItemErrorNeverAStuckRun) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 1, "deviceConfigurations");
  auto sync = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(sync.has_value());
  env.Drain();
  const int64_t policy =
      env.Count("SELECT MIN(id) FROM policies WHERE tenant_id = $1", {env.tenant_a});
  struct Case {
    std::string name;
    json knobs;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"malformed JSON",
       {{"misbehave_next", 1000}, {"misbehave", "malformed_json"}},
       "graph_malformed_response"},
      {"wrong content type",
       {{"misbehave_next", 1000}, {"misbehave", "wrong_content_type"}},
       "graph_malformed_response"},
      {"truncated body",
       {{"misbehave_next", 1000}, {"misbehave", "truncated"}},
       "graph_connection_lost"},
      {"connection dropped after the headers",
       {{"misbehave_next", 1000}, {"misbehave", "dropped"}},
       "graph_connection_lost"},
      {"500 on every request", {{"fail_next", 1000}, {"fail_status", 500}}, "InternalServerError"},
      {"token endpoint down",
       {{"token_down_status", 503}, {"revoke_tokens", true}},
       "token_endpoint_unavailable"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    env.sim.Configure(c.knobs);
    auto run = StartCaptureSnapshot(*env.runs, env.tenant_a, policy, env.operator_both);
    ASSERT_TRUE(run.has_value());
    env.Drain();
    env.sim.Configure({{"misbehave_next", 0}, {"fail_next", 0}, {"token_down_status", 0}});
    const auto r = env.Run(env.tenant_a, run->run.id);
    EXPECT_EQ(r.status, RunStatus::kFailed) << env.JobErrors(run->run.id);
    EXPECT_EQ(r.error_code.value_or(""), "items_failed");
    const auto items = env.Items(env.tenant_a, run->run.id);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].error_code.value_or(""), c.code) << items[0].error_message.value_or("");
    ExpectTruthfulRun(env, env.tenant_a, run->run.id, 1);
    PrintRow(
        "Graph: " + c.name, env, env.tenant_a, run->run.id,
        "item " + items[0].error_code.value_or("") + ", run error " + r.error_code.value_or(""));
  }
}

// A tenant throttled for longer than the client waits inline snoozes its job
// instead of holding a worker thread, so another tenant's run on the same
// worker finishes at once. Before: the worker waited out Retry-After inside the
// handler. (Scaled down: a 4 s throttle against a 1 s inline limit; the
// production limit is 5 s.)
TEST_P(FaultTest, AThrottledTenantSnoozesAndDoesNotSlowTheOthers) {
  sim::SimConfig sc;
  sc.throttle_window_ms = 4'000;
  sc.throttle_max_requests = 8;
  TA_OPS_ENV(env, sc, jobs::QueueOptions{}, [](OpsStackOptions& o) {
    o.graph.max_inline_throttle_wait = std::chrono::milliseconds(1000);
  });
  env.sim.GeneratePolicies("ms-a", 1, "deviceConfigurations");
  env.sim.GeneratePolicies("ms-b", 1, "deviceConfigurations");
  env.sim.Configure({{"throttle_enabled", false}});
  for (int64_t t : {env.tenant_a, env.tenant_b})
    ASSERT_TRUE(StartInventorySync(*env.runs, t, env.operator_both).has_value());
  env.Drain();
  env.sim.Configure({{"throttle_enabled", true}, {"reset_throttle", true}});
  // Tenant A spends its whole window; B has all of its own.
  auto reader = env.access->Reader(env.tenant_a);
  ASSERT_TRUE(reader.has_value());
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE((*reader)->Get("deviceManagement/deviceConfigurations").has_value());
  auto policy = [&](int64_t t) {
    return env.Count("SELECT MIN(id) FROM policies WHERE tenant_id = $1", {t});
  };
  auto a = StartCaptureSnapshot(*env.runs, env.tenant_a, policy(env.tenant_a), env.operator_both);
  auto b = StartCaptureSnapshot(*env.runs, env.tenant_b, policy(env.tenant_b), env.operator_both);
  ASSERT_TRUE(a.has_value() && b.has_value());
  const auto started = Clock::now();
  auto ran = env.pool->RunOnce();  // one worker, both jobs in one batch
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  ASSERT_TRUE(ran.has_value());
  EXPECT_EQ(*ran, 2);
  EXPECT_LT(took.count(), 1000) << "the worker did not wait out A's 4 s throttle";
  EXPECT_EQ(env.Run(env.tenant_b, b->run.id).status, RunStatus::kSucceeded);
  const auto snoozed = env.Run(env.tenant_a, a->run.id);
  EXPECT_FALSE(store::IsTerminal(snoozed.status));
  EXPECT_EQ(snoozed.processed, 0) << "the throttled item is redone, not failed";
  EXPECT_EQ(env.Count("SELECT attempts FROM jobs WHERE run_id = $1", {a->run.id}), 0)
      << "a snooze uses no attempt";
  EXPECT_GT(env.Count("SELECT run_at FROM jobs WHERE run_id = $1", {a->run.id}),
            ToUnixMillis(SystemClock::Instance().Now()) + 2'000)
      << "snoozed for about Retry-After";
  // When the window has passed, A's run finishes (Drain waits out the snooze).
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, a->run.id).status, RunStatus::kSucceeded)
      << env.JobErrors(a->run.id);
  PrintRow("tenant A throttled 4 s (inline limit 1 s), tenant B not, one worker", env, env.tenant_b,
           b->run.id,
           "B finished in " + std::to_string(took.count()) + " ms; A snoozed, then succeeded");
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
