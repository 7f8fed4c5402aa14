// Scheduled backups with retention, end to end on both backends: a schedule
// backs up an unchanged tenant every night for 41 simulated nights (the
// scheduler and the worker on one fake clock, Graph from the simulator),
// with one policy changed on night 10 and one set pinned. Payload bytes do
// not grow with the nights; GFS keeps exactly the expected sets; the pinned
// set and the newest survive; the version only the deleted sets held goes.
#include <gtest/gtest.h>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include "ops_env.h"
#include "schedule/scheduler.h"
#include "schedule/service.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/drift.h"

namespace ta::ops {
namespace {

using ::ta::testing::TestBackend;
using ::ta::testing::TestDatabase;

class RetentionTest : public ::testing::TestWithParam<TestBackend> {};

// "2026-01-20" in Europe/Berlin for a Unix ms time.
std::string BerlinDate(int64_t ms) {
  cctz::time_zone tz;
  EXPECT_TRUE(cctz::load_time_zone("Europe/Berlin", &tz));
  return cctz::format("%Y-%m-%d",
                      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)), tz);
}

TEST_P(RetentionTest, FortyOneNightsOfAnUnchangedTenantKeepExactlyTheGfsSets) {
  auto t = TestDatabase::Create(GetParam());
  if (!t) return;
  // 2026-01-19T12:00Z; each night's slot is 02:00 in Berlin (01:00 UTC in winter).
  const int64_t start = 1768824000000;
  FakeClock clock(FromUnixMillis(start));
  sim::SimConfig sc;
  sc.clock = &clock;  // Intune's throttle windows pass in simulated time
  OpsEnv env(std::move(t), sc, {}, {}, clock);
  env.sim.GeneratePolicies("ms-a", 12, "deviceConfigurations");
  env.sim.Seed("ms-a", "deviceConfigurations",
               {{{"id", "wifi-1"}, {"displayName", "Wi-Fi"}, {"description", "v1"}}});

  store::User admin;
  admin.id = ::ta::testing::MakeUser(env.db(), "admin@msp.example");
  admin.is_platform_admin = true;
  schedule::ScheduleService service(env.db(), clock);
  schedule::ScheduleInput in;
  in.name = "Nightly";
  in.cron = "0 2 * * *";
  in.time_zone = "Europe/Berlin";
  in.tenant_ids = std::vector<int64_t>{env.tenant_a};
  in.retention.gfs_daily = 7;
  in.retention.gfs_weekly = 2;
  in.retention.gfs_monthly = 3;
  auto s = service.Create(admin, in);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  Logger log(env.redactor, clock, stderr, Logger::Level::kWarn);
  schedule::Scheduler scheduler(env.db(), *env.runs, clock, log, "node-a");

  auto payload_bytes = [&] {
    return env.Count(
               "SELECT COALESCE(SUM(LENGTH(payload) + LENGTH(assignments)), 0) FROM "
               "policy_versions WHERE tenant_id = $1",
               {env.tenant_a}) +
           env.Count(
               "SELECT COALESCE(SUM(LENGTH(payload) + LENGTH(assignments)), 0) FROM "
               "backup_items WHERE tenant_id = $1",
               {env.tenant_a});
  };
  int64_t first_night_bytes = 0, pinned_set = 0;
  const int nights = 41;  // 2026-01-20 .. 2026-03-01
  for (int n = 0; n < nights; ++n) {
    if (n == 9) {  // night 10: someone edits the Wi-Fi policy
      env.sim.Seed("ms-a", "deviceConfigurations",
                   {{{"id", "wifi-1"}, {"displayName", "Wi-Fi"}, {"description", "v2"}}});
    }
    clock.Set(FromUnixMillis(start + 13 * 3'600'000 + 60'000 + n * int64_t{86'400'000}));
    auto tick = scheduler.Tick();
    ASSERT_TRUE(tick.has_value()) << tick.error().message();
    ASSERT_EQ(tick->decided, 1) << "night " << n;
    // The night goes on: a job that waits (Graph's pacing on the fake clock)
    // runs when simulated time reaches it.
    for (int waited = 0;; ++waited) {
      auto ran = env.pool->RunOnce();
      ASSERT_TRUE(ran.has_value()) << ran.error().ToString();
      if (*ran > 0) continue;
      if (env.Count("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')") == 0) break;
      ASSERT_LT(waited, 3600) << "night " << n << ": jobs still waiting after an hour";
      clock.Advance(std::chrono::seconds(1));
    }
    if (n == 0) first_night_bytes = payload_bytes();
    if (n == 14) {  // 2026-02-03: legal hold on that night's set
      pinned_set =
          env.Count("SELECT MAX(id) FROM backup_sets WHERE tenant_id = $1", {env.tenant_a});
      ASSERT_TRUE(env.db()
                      .Write([&](store::Tx& tx) {
                        return store::BackupSets::SetPinned(tx, env.tenant_a, pinned_set, true);
                      })
                      .ok());
    }
  }
  // Every backup succeeded, and every retention run too.
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM runs WHERE type = 'schedule.backup' AND status = "
                      "'succeeded'"),
            nights);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM runs WHERE type = 'schedule.retention' AND status = "
                      "'succeeded'"),
            nights);

  // GFS daily 7, weekly 2 (ISO weeks), monthly 3, in Berlin time, plus the pin.
  auto sets = store::ReadResult<std::vector<store::BackupSetRecord>>(env.db(), [&](store::Tx& tx) {
    return store::BackupSets::OfSchedule(tx, env.tenant_a, s->id);
  });
  ASSERT_TRUE(sets.has_value());
  std::vector<std::string> kept;
  for (const auto& set : *sets) kept.push_back(BerlinDate(set.created_at));
  EXPECT_EQ(kept, (std::vector<std::string>{"2026-03-01", "2026-02-28", "2026-02-27",
                                            "2026-02-26",                              // daily
                                            "2026-02-25", "2026-02-24", "2026-02-23",  //
                                            "2026-02-22",                              // weekly
                                            "2026-02-03",                              // pinned
                                            "2026-01-31"}));                           // monthly
  EXPECT_EQ(env.Count("SELECT pinned FROM backup_sets WHERE id = $1", {pinned_set}), 1);
  // 31 sets deleted, each audited and each an item of a retention run.
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE action = 'backup_set.deleted' AND "
                      "tenant_id = $1",
                      {env.tenant_a}),
            nights - 10);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM run_items i JOIN runs r ON r.id = i.run_id WHERE "
                      "r.type = 'schedule.retention' AND i.status = 'deleted'"),
            nights - 10);
  // The Wi-Fi policy's first version was held only by the deleted sets of
  // nights 1-9: it is gone; the second remains.
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policy_versions v JOIN policies p ON p.id = "
                      "v.policy_id WHERE p.graph_id = 'wifi-1'"),
            1);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policy_versions v JOIN policies p ON p.id = "
                      "v.policy_id WHERE p.graph_id = 'wifi-1' AND v.payload LIKE '%v2%'"),
            1);
  // A backup still reads back whole from the versions it references.
  auto items =
      store::ReadResult<std::vector<store::BackupItemRecord>>(env.db(), [&](store::Tx& tx) {
        return store::BackupSets::Items(tx, env.tenant_a, (*sets)[0].id, std::nullopt);
      });
  ASSERT_TRUE(items.has_value());
  ASSERT_EQ(items->size(), 13u);
  for (const auto& i : *items) EXPECT_NE(i.payload.find("\"id\""), std::string::npos);
  // 41 nights (one edit) cost under 5% of the first night's payload bytes.
  const int64_t growth = payload_bytes() - first_night_bytes;
  EXPECT_LT(growth * 20, first_night_bytes)
      << "first night " << first_night_bytes << " bytes, then " << growth << " more";
  std::printf("RETENTION|%s|41 nights|first night %lld payload bytes|then %+lld|kept %zu sets\n",
              GetParam() == TestBackend::kSqlite ? "sqlite" : "postgres",
              static_cast<long long>(first_night_bytes), static_cast<long long>(growth),
              sets->size());
}

// A tenant's own rule covers every set it has, manual and scheduled; a set
// goes only when no rule that applies to it keeps it, and never when pinned,
// the drift baseline or the newest successful backup.
TEST_P(RetentionTest, ATenantRuleCoversEverySetAndAnyApplicableRuleKeepsASet) {
  auto t = TestDatabase::Create(GetParam());
  if (!t) return;
  OpsEnv env(std::move(t));
  env.sim.GeneratePolicies("ms-a", 3, "deviceConfigurations");
  store::User admin;
  admin.id = ::ta::testing::MakeUser(env.db(), "admin@msp.example");
  admin.is_platform_admin = true;
  schedule::ScheduleService service(env.db(), SystemClock::Instance());
  schedule::ScheduleInput in;
  in.name = "Nightly";
  in.cron = "0 2 * * *";
  in.time_zone = "UTC";
  in.tenant_ids = std::vector<int64_t>{env.tenant_a};
  in.retention.keep_last = 2;  // the schedule keeps its newest 2
  auto sched = service.Create(admin, in);
  ASSERT_TRUE(sched.has_value()) << sched.error().message();

  std::vector<int64_t> manual, scheduled;
  for (int i = 0; i < 4; ++i) manual.push_back(env.SyncAndBackUpA());
  for (int i = 0; i < 3; ++i) {
    runs::ScheduledBackup b;
    b.tenant_id = env.tenant_a;
    b.schedule_id = sched->id;
    b.slot_at = i + 1;
    b.set_name = "Nightly " + std::to_string(i);
    auto run = runs::StartScheduledBackup(*env.runs, b);
    ASSERT_TRUE(run.has_value()) << run.error().ToString();
    env.Drain();
    scheduled.push_back(env.Count("SELECT id FROM backup_sets WHERE run_id = $1", {run->run.id}));
  }
  ASSERT_TRUE(env.db()
                  .Write([&](store::Tx& tx) -> Status {
                    TA_RETURN_IF_ERROR(store::BackupSets::SetPinned(tx, env.tenant_a, manual[0], true));
                    TA_RETURN_IF_ERROR(store::Drift::SetBaseline(tx, env.tenant_a, manual[1], true));
                    return store::Accounts::SetTenantRetention(
                        tx, env.tenant_a, R"({"keep_last":1,"time_zone":"UTC"})");
                  })
                  .ok());
  auto run = runs::StartTenantRetention(*env.runs, env.tenant_a, std::nullopt);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, run->run.id).status, store::RunStatus::kSucceeded);
  auto exists = [&](int64_t id) {
    return env.Count("SELECT COUNT(*) FROM backup_sets WHERE id = $1", {id}) == 1;
  };
  EXPECT_TRUE(exists(manual[0])) << "pinned";
  EXPECT_TRUE(exists(manual[1])) << "the drift baseline";
  EXPECT_FALSE(exists(manual[2]));
  EXPECT_FALSE(exists(manual[3]));
  EXPECT_FALSE(exists(scheduled[0])) << "neither rule keeps it";
  EXPECT_TRUE(exists(scheduled[1])) << "the schedule's rule keeps its newest 2";
  EXPECT_TRUE(exists(scheduled[2])) << "newest: both rules keep it";
  std::map<std::string, std::string> outcome;
  for (const auto& i : env.Items(env.tenant_a, run->run.id))
    outcome[i.item_ref] = i.status + " " + i.details.value_or("");
  ASSERT_EQ(outcome.size(), 7u) << "one item per set of the tenant";
  const std::string kept2 = outcome["backup_set:" + std::to_string(scheduled[2])];
  EXPECT_NE(kept2.find("tenant: last 1"), std::string::npos) << kept2;
  EXPECT_NE(kept2.find("\"last 2\""), std::string::npos) << kept2;
  EXPECT_NE(outcome["backup_set:" + std::to_string(manual[1])].find("drift baseline"),
            std::string::npos);
  EXPECT_EQ(outcome["backup_set:" + std::to_string(manual[2])].rfind("deleted", 0), 0u);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE action = 'backup_set.deleted'"), 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
