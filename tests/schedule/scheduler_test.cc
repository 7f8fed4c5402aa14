// The scheduler on both backends, with a fake clock: each slot fires exactly
// once per tenant however many nodes tick at the same time; downtime gives
// one catch-up run; an active run is reused; a decided slot whose tenants
// were not all started is finished by another node; jitter spreads starts.
#include "schedule/scheduler.h"

#include <gtest/gtest.h>

#include <barrier>
#include <set>
#include <thread>

#include "core/redactor.h"
#include "core/secret_box.h"
#include "notify/alerts.h"
#include "schedule/cron.h"
#include "schedule/service.h"
#include "store/accounts.h"
#include "store/runs_repository.h"
#include "store/schedules.h"
#include "support/test_database.h"

namespace ta::schedule {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::ta::testing::TestBackend;

// 2026-10-20T00:00:00Z: the simulated days cross Europe/Berlin's change back
// to winter time on 2026-10-25.
const Clock::TimePoint kStart = FromUnixMillis(1792454400000);

ScheduleInput In(std::string name, std::string cron, std::string zone,
                 std::optional<std::vector<int64_t>> tenants) {
  ScheduleInput in;
  in.name = std::move(name);
  in.cron = std::move(cron);
  in.time_zone = std::move(zone);
  in.tenant_ids = std::move(tenants);
  return in;
}

class SchedulerTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  // One "node": its own database handle, run service and scheduler.
  struct Node {
    std::unique_ptr<store::Database> db;
    std::unique_ptr<runs::RunService> runs;
    std::unique_ptr<Scheduler> scheduler;
  };

  Node MakeNode(::ta::testing::TestDatabase& tdb, const std::string& name) {
    Node n;
    n.db = tdb.OpenAnother();
    n.runs = std::make_unique<runs::RunService>(*n.db, clock_, redactor_);
    n.scheduler = std::make_unique<Scheduler>(*n.db, *n.runs, clock_, log_, name);
    return n;
  }

  store::User Admin(store::Database& db) {
    const int64_t id = ::ta::testing::MakeUser(db, "admin@msp.example");
    ::ta::testing::MustExec(db, "UPDATE users SET is_platform_admin = 1 WHERE id = $1", {id});
    store::User u;
    u.id = id;
    u.is_platform_admin = true;
    return u;
  }

  store::ScheduleRecord Make(store::Database& db, const store::User& admin, ScheduleInput in) {
    ScheduleService service(db, clock_);
    auto s = service.Create(admin, in);
    EXPECT_TRUE(s.has_value()) << s.error().message();
    return s.value_or(store::ScheduleRecord{});
  }

  std::vector<store::FireRecord> Fires(store::Database& db, int64_t schedule) {
    auto f = store::ReadResult<std::vector<store::FireRecord>>(
        db, [&](store::Tx& tx) { return store::Schedules::AllFires(tx, schedule); });
    EXPECT_TRUE(f.has_value());
    return f.value_or(std::vector<store::FireRecord>{});
  }

  // Cancels every queued run, as if a worker had finished them, so the next
  // slot starts new runs instead of reusing these.
  void FinishRuns(store::Database& db, runs::RunService& runs,
                  const std::vector<int64_t>& tenants) {
    auto queued = store::ReadResult<std::vector<store::RunRecord>>(db, [&](store::Tx& tx) {
      store::RunFilter f;
      f.status = "queued";
      f.limit = 1000;
      return store::RunsRepository::List(tx, tenants, f);
    });
    ASSERT_TRUE(queued.has_value()) << queued.error().message();
    for (const auto& r : *queued) ASSERT_TRUE(runs.Cancel(r.tenant_id, r.id, std::nullopt).ok());
  }

  FakeClock clock_{kStart};
  Redactor redactor_;
  Logger log_{redactor_, clock_, stderr, Logger::Level::kWarn};
};

TEST_P(SchedulerTest, ThreeNodesTickingTogetherFireEachSlotOncePerTenant) {
  TA_OPEN_DB(tdb);
  const int64_t a = ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const int64_t b = ::ta::testing::MakeTenant(tdb->db(), "Fabrikam");
  const store::User admin = Admin(tdb->db());
  auto hourly = Make(tdb->db(), admin, In("Hourly", "0 * * * *", "UTC", std::nullopt));
  auto nightly =
      Make(tdb->db(), admin, In("Nightly", "30 2 * * *", "Europe/Berlin", std::vector<int64_t>{b}));
  std::vector<Node> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(MakeNode(*tdb, "node-" + std::to_string(i)));

  // Six simulated days in 20-minute steps; at every step the three nodes tick
  // at the same moment (a barrier), then the runs end.
  const int steps = 6 * 24 * 3;
  std::barrier sync(3);
  std::atomic<int> decided{0}, started{0}, reused{0}, errors{0};
  for (int step = 1; step <= steps; ++step) {
    clock_.Set(kStart + minutes(20 * step));
    std::vector<std::thread> threads;
    for (auto& n : nodes) {
      threads.emplace_back([&] {
        sync.arrive_and_wait();
        auto r = n.scheduler->Tick();
        if (!r) {
          ++errors;
          return;
        }
        decided += r->decided;
        started += r->started;
        reused += r->reused;
      });
    }
    for (auto& t : threads) t.join();
    FinishRuns(tdb->db(), *nodes[0].runs, {a, b});
  }
  EXPECT_EQ(errors.load(), 0);

  const auto hourly_fires = Fires(tdb->db(), hourly.id);
  const auto nightly_fires = Fires(tdb->db(), nightly.id);
  // Every hour on the hour, for both tenants: 144 slots x 2, no gaps, no repeats.
  ASSERT_EQ(hourly_fires.size(), 144u * 2);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const auto& f : hourly_fires) {
    EXPECT_TRUE(seen.insert({f.slot_at, f.tenant_id}).second);
    EXPECT_EQ(f.slot_at % 3'600'000, 0);
    EXPECT_FALSE(f.reused);
  }
  for (int h = 1; h <= 144; ++h) {
    const int64_t slot = ToUnixMillis(kStart + hours(h));
    EXPECT_TRUE(seen.count({slot, a}) && seen.count({slot, b})) << "hour " << h;
  }
  // 02:30 in Berlin on each of the 6 days, once each, only for Fabrikam; on
  // 25 October (02:30 happens twice) at the first one, 00:30 UTC.
  ASSERT_EQ(nightly_fires.size(), 6u);
  auto cron = ZonedCron::Make("30 2 * * *", "Europe/Berlin");
  ASSERT_TRUE(cron.has_value());
  std::vector<std::string> local;
  for (const auto& f : nightly_fires) {
    EXPECT_EQ(f.tenant_id, b);
    local.push_back(cron->LocalIso(FromUnixMillis(f.slot_at)));
  }
  EXPECT_EQ(local,
            (std::vector<std::string>{"2026-10-20T02:30:00+02:00", "2026-10-21T02:30:00+02:00",
                                      "2026-10-22T02:30:00+02:00", "2026-10-23T02:30:00+02:00",
                                      "2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00"}));
  // The counters agree with the table: each slot decided once, each fire a
  // new run, every run distinct.
  EXPECT_EQ(decided.load(), 144 + 6);
  EXPECT_EQ(started.load(), 144 * 2 + 6);
  EXPECT_EQ(reused.load(), 0);
  std::set<int64_t> runs;
  for (const auto& f : hourly_fires) runs.insert(f.run_id);
  for (const auto& f : nightly_fires) runs.insert(f.run_id);
  EXPECT_EQ(runs.size(), 144u * 2 + 6);
  EXPECT_EQ(::ta::testing::QueryInt(tdb->db(), "SELECT COUNT(*) FROM runs"), 144 * 2 + 6);
  EXPECT_EQ(::ta::testing::QueryInt(tdb->db(),
                                    "SELECT COUNT(*) FROM schedule_slots WHERE missed_count > 0"),
            0);
}

TEST_P(SchedulerTest, DowntimeFiresOneCatchUpRunAndRecordsTheMissedSlots) {
  TA_OPEN_DB(tdb);
  ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const store::User admin = Admin(tdb->db());
  auto s = Make(tdb->db(), admin, In("Hourly", "0 * * * *", "UTC", std::nullopt));
  Node n = MakeNode(*tdb, "node-a");
  clock_.Set(kStart + hours(5) + minutes(30));  // down for 5 slots
  auto r = n.scheduler->Tick();
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->decided, 1);
  EXPECT_EQ(r->missed, 4);
  EXPECT_EQ(r->started, 1);
  auto slots = store::ReadResult<std::vector<store::SlotRecord>>(
      tdb->db(), [&](store::Tx& tx) { return store::Schedules::Slots(tx, s.id, 10); });
  ASSERT_TRUE(slots.has_value());
  ASSERT_EQ(slots->size(), 1u);
  EXPECT_EQ(slots->front().slot_at, ToUnixMillis(kStart + hours(5)));
  EXPECT_EQ(slots->front().missed_count, 4);
  EXPECT_EQ(
      slots->front().missed,
      (std::vector<int64_t>{ToUnixMillis(kStart + hours(1)), ToUnixMillis(kStart + hours(2)),
                            ToUnixMillis(kStart + hours(3)), ToUnixMillis(kStart + hours(4))}));
  EXPECT_EQ(slots->front().state, "fired");
  // Ticking again in the same hour does nothing.
  auto again = n.scheduler->Tick();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->decided + again->started + again->reused, 0);
  EXPECT_EQ(Fires(tdb->db(), s.id).size(), 1u);
}

TEST_P(SchedulerTest, ASlotWhoseRunIsStillActiveReusesIt) {
  TA_OPEN_DB(tdb);
  ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const store::User admin = Admin(tdb->db());
  auto s = Make(tdb->db(), admin, In("Hourly", "0 * * * *", "UTC", std::nullopt));
  Node n = MakeNode(*tdb, "node-a");
  clock_.Set(kStart + hours(1));
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  clock_.Set(kStart + hours(2));  // the first run is still queued
  auto r = n.scheduler->Tick();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reused, 1);
  const auto fires = Fires(tdb->db(), s.id);
  ASSERT_EQ(fires.size(), 2u);
  EXPECT_EQ(fires[0].run_id, fires[1].run_id);
  EXPECT_FALSE(fires[0].reused);
  EXPECT_TRUE(fires[1].reused);
  EXPECT_EQ(::ta::testing::QueryInt(tdb->db(), "SELECT COUNT(*) FROM runs"), 1);
}

TEST_P(SchedulerTest, EachOperationStartsItsRunOncePerSlot) {
  TA_OPEN_DB(tdb);
  const int64_t t = ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const store::User admin = Admin(tdb->db());
  ScheduleInput drift = In("Drift", "0 * * * *", "UTC", std::vector<int64_t>{t});
  drift.operation = "drift";
  ScheduleInput both = In("Both", "30 * * * *", "UTC", std::vector<int64_t>{t});
  both.operation = "backup_and_drift";
  const auto d = Make(tdb->db(), admin, drift);
  const auto b = Make(tdb->db(), admin, both);
  ScheduleInput bad = In("Bad", "0 * * * *", "UTC", std::vector<int64_t>{t});
  bad.operation = "compare";
  ScheduleService service(tdb->db(), clock_);
  auto refused = service.Create(admin, bad);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("operation: must be"), std::string::npos);
  Node n = MakeNode(*tdb, "node-a");
  clock_.Set(kStart + hours(1) + minutes(45));  // past both schedules' slots
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  ASSERT_TRUE(n.scheduler->Tick().has_value());  // a second tick adds nothing
  const auto fd = Fires(tdb->db(), d.id), fb = Fires(tdb->db(), b.id);
  ASSERT_EQ(fd.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(::ta::testing::QueryInt(tdb->db(), "SELECT COUNT(*) FROM runs"), 2);
  EXPECT_EQ(::ta::testing::QueryInt(
                tdb->db(), "SELECT COUNT(*) FROM runs WHERE id = $1 AND type = 'drift.detect' AND "
                           "target_id = $2",
                {fd[0].run_id, std::to_string(d.id)}),
            1);
  EXPECT_EQ(::ta::testing::QueryInt(
                tdb->db(), "SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND kind = "
                           "'schedule.backup' AND payload LIKE '%\"detect_drift\":true%'",
                {fb[0].run_id}),
            1);
}

TEST_P(SchedulerTest, ABackupThatDidNotSucceedIsOverdueAtTheNextSlotOnce) {
  TA_OPEN_DB(tdb);
  const int64_t t = ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const store::User admin = Admin(tdb->db());
  notify::ChannelService channels(tdb->db(), clock_, nullptr);
  notify::ChannelInput ch;
  ch.tenant_id = t;
  ch.name = "ops";
  ch.kind = "chat";
  ch.target = "https://chat.example.com/hook";
  ch.events = {notify::kBackupOverdue};
  ASSERT_TRUE(channels.Create(admin, ch).has_value());
  Make(tdb->db(), admin, In("Hourly", "0 * * * *", "UTC", std::vector<int64_t>{t}));
  Node n = MakeNode(*tdb, "node-a");
  auto overdue = [&] {
    return ::ta::testing::QueryInt(
        tdb->db(), "SELECT COUNT(*) FROM alert_deliveries WHERE event = 'backup.overdue'");
  };
  clock_.Set(kStart + hours(1));
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  EXPECT_EQ(overdue(), 0) << "the first slot has nothing before it";
  FinishRuns(*n.db, *n.runs, {t});  // the 01:00 backup ended without success
  clock_.Set(kStart + hours(2));
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  EXPECT_EQ(overdue(), 1);
  const std::string payload = ::ta::testing::QueryText(
      tdb->db(), "SELECT payload FROM alert_deliveries WHERE event = 'backup.overdue'");
  EXPECT_NE(payload.find("there is no successful backup yet"), std::string::npos) << payload;
}

// A client secret's expiry: one credentials.expiring alert when it comes
// within 30 days, one within 7, one when it has passed, however many nodes
// tick; a new secret re-arms them; a tenant without a known date gets none.
TEST_P(SchedulerTest, AnExpiringSecretIsAlertedOncePerStageAcrossNodes) {
  TA_OPEN_DB(tdb);
  const int64_t t = ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const int64_t unknown = ::ta::testing::MakeTenant(tdb->db(), "Fabrikam");
  const store::User admin = Admin(tdb->db());
  auto box = SecretBox::FromBase64Key("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
  ASSERT_TRUE(box.has_value());
  const int64_t day = 86'400'000;
  const int64_t ends = ToUnixMillis(kStart) + 40 * day;
  auto set_secret = [&](int64_t tenant, std::optional<int64_t> expires) {
    ASSERT_TRUE(tdb->db()
                    .Write([&](store::Tx& tx) {
                      return store::Accounts::SetCredentials(
                          tx, tenant, {"ms-a", "app-a", box->Seal("Qx8~secret")}, expires);
                    })
                    .ok());
  };
  set_secret(t, ends);
  set_secret(unknown, std::nullopt);
  notify::ChannelService channels(tdb->db(), clock_, nullptr);
  notify::ChannelInput ch;
  ch.name = "everyone";
  ch.kind = "chat";
  ch.target = "https://chat.example.com/hook";
  ch.events = {notify::kCredentialsExpiring};
  ASSERT_TRUE(channels.Create(admin, ch).has_value());  // global: every tenant
  std::vector<Node> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(MakeNode(*tdb, "node-" + std::to_string(i)));
  auto alerts = [&] {
    return ::ta::testing::QueryInt(
        tdb->db(), "SELECT COUNT(*) FROM alert_deliveries WHERE event = 'credentials.expiring'");
  };
  auto tick_all = [&](Clock::TimePoint at) {
    clock_.Set(at);
    std::barrier sync(3);
    std::atomic<int> raised{0};
    std::vector<std::thread> threads;
    for (auto& n : nodes)
      threads.emplace_back([&, s = n.scheduler.get()] {
        sync.arrive_and_wait();
        auto r = s->Tick();
        ASSERT_TRUE(r.has_value()) << r.error().ToString();
        raised += r->credential_warnings;
      });
    for (auto& th : threads) th.join();
    return raised.load();
  };
  Clock::TimePoint at = kStart;
  auto at_day = [&](int d) { return at = kStart + hours(24 * d); };
  EXPECT_EQ(tick_all(at_day(0)), 0) << "40 days left: nothing yet";
  EXPECT_EQ(tick_all(at_day(11)), 1) << "29 days left: expiring";
  EXPECT_EQ(tick_all(at_day(12)), 0) << "still the same stage";
  EXPECT_EQ(tick_all(at_day(34)), 1) << "6 days left";
  EXPECT_EQ(tick_all(at_day(35)), 0);
  EXPECT_EQ(tick_all(at_day(41)), 1) << "expired";
  EXPECT_EQ(tick_all(at_day(45)), 0);
  EXPECT_EQ(alerts(), 3);
  const std::string payload = ::ta::testing::QueryText(
      tdb->db(), "SELECT payload FROM alert_deliveries WHERE event = 'credentials.expiring' "
                 "ORDER BY id DESC LIMIT 1");
  EXPECT_NE(payload.find("expired on"), std::string::npos) << payload;
  EXPECT_NE(payload.find("Contoso"), std::string::npos) << payload;
  EXPECT_EQ(payload.find("Qx8~secret"), std::string::npos) << "no secret in an alert";
  EXPECT_EQ(::ta::testing::QueryInt(tdb->db(),
                                    "SELECT COUNT(*) FROM alert_deliveries WHERE tenant_id = $1",
                                    {unknown}),
            0)
      << "no date, no expiry alert";
  // A new secret ending in 20 days: warned again, once.
  set_secret(t, ToUnixMillis(at) + 20 * day);
  EXPECT_EQ(tick_all(at_day(46)), 1);
  EXPECT_EQ(tick_all(at_day(47)), 0);
  EXPECT_EQ(alerts(), 4);
}

TEST_P(SchedulerTest, JitterSpreadsStartsAndAnyNodeStartsWhatIsDue) {
  TA_OPEN_DB(tdb);
  for (int i = 0; i < 20; ++i) ::ta::testing::MakeTenant(tdb->db(), "Tenant " + std::to_string(i));
  const store::User admin = Admin(tdb->db());
  ScheduleInput in = In("Fleet", "0 1 * * *", "UTC", std::nullopt);
  in.jitter_seconds = 1800;
  auto s = Make(tdb->db(), admin, in);
  Node a = MakeNode(*tdb, "node-a"), b = MakeNode(*tdb, "node-b");
  const auto slot = kStart + hours(1);
  clock_.Set(slot);
  auto first = a.scheduler->Tick();  // decides; starts only tenants due at +0
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->decided, 1);
  EXPECT_LT(first->started, 20);
  // Node a is gone; node b ticks through the jitter window and starts the rest.
  std::set<int64_t> due_minutes;
  for (int m = 1; m <= 31; ++m) {
    clock_.Set(slot + minutes(m));
    ASSERT_TRUE(b.scheduler->Tick().has_value());
  }
  const auto fires = Fires(tdb->db(), s.id);
  ASSERT_EQ(fires.size(), 20u);
  for (const auto& f : fires) {
    EXPECT_GE(f.fired_at, ToUnixMillis(slot));
    EXPECT_LE(f.fired_at, ToUnixMillis(slot + minutes(31)));
    due_minutes.insert((f.fired_at - ToUnixMillis(slot)) / 60'000);
  }
  EXPECT_GE(due_minutes.size(), 10u) << "20 tenants over 30 minutes should not bunch up";
  EXPECT_EQ(::ta::testing::QueryInt(tdb->db(),
                                    "SELECT COUNT(*) FROM schedule_slots WHERE state = 'fired'"),
            1);
}

TEST_P(SchedulerTest, TagsDisabledSchedulesAndRedefinitions) {
  TA_OPEN_DB(tdb);
  const int64_t a = ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  ::ta::testing::MakeTenant(tdb->db(), "Fabrikam");
  ::ta::testing::MustExec(tdb->db(), "UPDATE tenants SET tags = '[\"eu\"]' WHERE id = $1", {a});
  const store::User admin = Admin(tdb->db());
  ScheduleInput in = In("EU", "0 * * * *", "UTC", std::nullopt);
  in.tag = "eu";
  auto s = Make(tdb->db(), admin, in);
  Node n = MakeNode(*tdb, "node-a");
  clock_.Set(kStart + hours(1));
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  auto fires = Fires(tdb->db(), s.id);
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0].tenant_id, a);
  // Switched off for three hours, then on again: no catch-up for the off time.
  ScheduleService service(tdb->db(), clock_);
  in.enabled = false;
  ASSERT_TRUE(service.Update(admin, s.id, in).has_value());
  clock_.Set(kStart + hours(4) + minutes(10));
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  EXPECT_EQ(Fires(tdb->db(), s.id).size(), 1u);
  in.enabled = true;
  ASSERT_TRUE(service.Update(admin, s.id, in).has_value());
  ASSERT_TRUE(n.scheduler->Tick().has_value());
  EXPECT_EQ(Fires(tdb->db(), s.id).size(), 1u);
  clock_.Set(kStart + hours(5));
  auto r = n.scheduler->Tick();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->missed, 0);
  EXPECT_EQ(Fires(tdb->db(), s.id).size(), 2u);
}

TEST_P(SchedulerTest, SchedulesValidateAndCheckWhoMayManageThem) {
  TA_OPEN_DB(tdb);
  const int64_t a = ::ta::testing::MakeTenant(tdb->db(), "Contoso");
  const int64_t b = ::ta::testing::MakeTenant(tdb->db(), "Fabrikam");
  const store::User admin = Admin(tdb->db());
  store::User op;
  op.id = ::ta::testing::MakeUser(tdb->db(), "op@msp.example");
  ::ta::testing::MustExec(tdb->db(),
                          "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES "
                          "($1, $2, 'operator', 0)",
                          {a, op.id});
  ScheduleService service(tdb->db(), clock_);
  struct Case {
    ScheduleInput in;
    const char* want;
  } cases[] = {
      {In("", "0 * * * *", "UTC", std::nullopt), "name: 1 to 100 characters"},
      {In("x", "0 25 * * *", "UTC", std::nullopt), "cron: field 2 (hour)"},
      {In("x", "0 1 * * *", "Europe/Atlantis", std::nullopt), "time_zone:"},
      {In("x", "0 1 * * *", "UTC", std::vector<int64_t>{}), "tenant_ids: list at least one"},
      {In("x", "0 1 * * *", "UTC", std::vector<int64_t>{a, 999}), "tenant_ids[1]: tenant 999"},
  };
  for (const auto& c : cases) {
    auto r = service.Create(admin, c.in);
    ASSERT_FALSE(r.has_value()) << c.want;
    EXPECT_EQ(r.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message();
  }
  ScheduleInput bad_op = In("x", "0 1 * * *", "UTC", std::nullopt);
  bad_op.operation = "restore";
  EXPECT_NE(service.Create(admin, bad_op).error().message().find("operation:"), std::string::npos);
  // An operator may schedule the tenants they operate, not the fleet.
  auto fleet = service.Create(op, In("Fleet", "0 1 * * *", "UTC", std::nullopt));
  ASSERT_FALSE(fleet.has_value());
  EXPECT_EQ(fleet.error().code(), Status::Code::kPermissionDenied);
  auto other = service.Create(op, In("Both", "0 1 * * *", "UTC", std::vector<int64_t>{a, b}));
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), Status::Code::kPermissionDenied);
  auto own = service.Create(op, In("Mine", "0 1 * * *", "UTC", std::vector<int64_t>{a}));
  ASSERT_TRUE(own.has_value()) << own.error().message();
  auto admins = service.Create(admin, In("Fleet", "0 1 * * *", "UTC", std::nullopt));
  ASSERT_TRUE(admins.has_value());
  // The operator sees their schedule, not the fleet's; the admin sees both.
  auto mine = service.List(op);
  ASSERT_TRUE(mine.has_value());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ(mine->front().name, "Mine");
  EXPECT_EQ(service.Get(op, admins->id).error().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(service.List(admin)->size(), 2u);
  auto dup = service.Create(admin, In("Mine", "0 1 * * *", "UTC", std::nullopt));
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message().find("name: a schedule with this name already exists"),
            std::string::npos);
  // The next 5 fire times, in UTC and in the zone.
  auto j = service.Json(*own, 5);
  ASSERT_TRUE(j.has_value());
  ASSERT_EQ((*j)["next"].size(), 5u);
  EXPECT_EQ((*j)["next"][0]["at"], "2026-10-20T01:00:00.000Z");
  EXPECT_EQ((*j)["targets"], 1);
  ASSERT_TRUE(service.Delete(op, own->id).ok());
  EXPECT_EQ(service.Delete(op, admins->id).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(::ta::testing::QueryInt(
                tdb->db(), "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'schedule.%'"),
            3);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::schedule
