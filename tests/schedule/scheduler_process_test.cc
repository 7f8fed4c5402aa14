// Three `tenantatlas worker` processes on one PostgreSQL run the scheduler
// for 10 simulated days (a clock file they all read), one of them killed with
// SIGKILL halfway and replaced: every slot fires exactly once per tenant, no
// slot is missed, and no run exists that a fire does not account for. Then 5
// days across the spring change in Europe/Berlin (2027-03-28): the 02:30 slot
// that does not exist fires once, at 03:00 CEST. The autumn change
// (2026-10-25: 02:30 happens twice) is inside the 10 days.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/log.h"
#include "core/redactor.h"
#include "schedule/service.h"
#include "store/schedules.h"
#include "support/child.h"
#include "support/test_database.h"

namespace ta::schedule {
namespace {

using namespace ::ta::testing;
using std::chrono::hours;
using std::chrono::minutes;

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr int64_t kHour = 3'600'000;

int64_t Ms(const char* iso_utc) {
  // "2026-10-20T00:00:00Z" -> ms; the test's own arithmetic, not cctz.
  std::tm tm{};
  strptime(iso_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

class SchedulerProcesses : public TempDirTest {
 protected:
  void SetClock(int64_t ms) {
    const std::string tmp = clock_file() + ".tmp";
    {
      std::ofstream out(tmp);
      out << ms;
    }
    std::filesystem::rename(tmp, clock_file());  // the readers never see half a number
  }
  std::string clock_file() const { return dir_ + "/clock"; }
  Child StartWorker(const std::string& url, int n) {
    Child c = Child::Start(
        {TA_BINARY, "worker", "--db", url, "--concurrency", "2", "--scheduler-clock-file",
         clock_file(), "--scheduler-interval-ms", "20"},
        dir_ + "/worker" + std::to_string(n) + ".log", {std::string("TA_MASTER_KEY=") + kKey});
    EXPECT_FALSE(c.WaitFor(std::regex("scheduler on"), std::chrono::seconds(30)).empty())
        << c.buffered;
    return c;
  }
  // Waits (bounded) until the fires table holds `n` rows.
  bool AwaitFires(store::Database& db, int64_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (QueryInt(db, "SELECT COUNT(*) FROM schedule_fires") < n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling with a deadline
    }
    return true;
  }
};

TEST_F(SchedulerProcesses, ThreeProcessesTenSimulatedDaysEachSlotOnce) {
  auto t = TestDatabase::Create(TestBackend::kPostgres);
  if (!t) return;
  store::Database& db = t->db();
  const std::vector<int64_t> tenants = {MakeTenant(db, "Contoso"), MakeTenant(db, "Fabrikam"),
                                        MakeTenant(db, "Northwind")};
  store::User admin;
  admin.id = MakeUser(db, "admin@msp.example");
  admin.is_platform_admin = true;
  MustExec(db, "UPDATE users SET is_platform_admin = 1 WHERE id = $1", {admin.id});

  const int64_t start = Ms("2026-10-20T00:00:00Z");
  FakeClock clock(FromUnixMillis(start));
  ScheduleService service(db, clock);
  auto make = [&](const std::string& name, const std::string& cron, const std::string& zone,
                  std::optional<std::vector<int64_t>> ids) {
    ScheduleInput in;
    in.name = name;
    in.cron = cron;
    in.time_zone = zone;
    in.tenant_ids = std::move(ids);
    auto s = service.Create(admin, in);
    EXPECT_TRUE(s.has_value()) << s.error().message();
    return s.value_or(store::ScheduleRecord{});
  };
  const auto hourly = make("Hourly", "0 * * * *", "UTC", std::nullopt);
  const auto nightly =
      make("Nightly", "30 2 * * *", "Europe/Berlin", std::vector<int64_t>{tenants[1]});

  // The slots, by the test's own arithmetic: every hour; 02:30 Berlin is
  // 00:30 UTC in summer time (to 25 October, whose first 02:30 fires) and
  // 01:30 UTC after.
  std::vector<std::pair<int64_t, int>> slots;  // (instant, tenants)
  for (int h = 1; h <= 240; ++h) slots.push_back({start + h * kHour, 3});
  for (int d = 0; d < 10; ++d)
    slots.push_back({start + d * 24 * kHour + (d <= 5 ? kHour / 2 : 3 * kHour / 2), 1});
  std::sort(slots.begin(), slots.end());

  SetClock(start);
  std::vector<Child> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(StartWorker(t->url(), i));
  int64_t expected = 0;
  const auto began = std::chrono::steady_clock::now();
  for (size_t i = 0; i < slots.size(); ++i) {
    if (i == slots.size() / 2) {  // day 5: one scheduler dies mid-flight and is replaced
      workers[0].Stop(SIGKILL);
      workers[0] = StartWorker(t->url(), 3);
    }
    expected += slots[i].second;
    SetClock(slots[i].first + 1000);
    ASSERT_TRUE(AwaitFires(db, expected))
        << "slot " << i << ": " << QueryInt(db, "SELECT COUNT(*) FROM schedule_fires") << " of "
        << expected << " fires";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  // Settle: a few more passes of every scheduler must add nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // 15 scheduler passes each
  for (auto& w : workers) w.Stop(SIGTERM);

  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM schedule_fires"), 240 * 3 + 10);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM schedule_slots"), 250);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM schedule_slots WHERE missed_count > 0"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM schedule_slots WHERE state <> 'fired'"), 0);
  // Each expected slot, each tenant, exactly once: count what is missing and
  // what is extra.
  int64_t missing = 0, extra = 0;
  for (const auto& [at, n] : slots) {
    const int64_t id = n == 3 ? hourly.id : nightly.id;
    const int64_t got =
        QueryInt(db, "SELECT COUNT(*) FROM schedule_fires WHERE schedule_id = $1 AND slot_at = $2",
                 {id, at});
    EXPECT_EQ(got, n) << "slot " << FormatIso8601(at);
    missing += std::max<int64_t>(0, n - got);
    extra += std::max<int64_t>(0, got - n);
  }
  // No run that a fire does not account for (a duplicate start would be one).
  const int64_t runs = QueryInt(db, "SELECT COUNT(*) FROM runs WHERE type = 'schedule.backup'");
  const int64_t fired_runs = QueryInt(db, "SELECT COUNT(DISTINCT run_id) FROM schedule_fires");
  EXPECT_EQ(runs, fired_runs);
  extra += runs - fired_runs;
  missing += QueryInt(db, "SELECT COALESCE(SUM(missed_count), 0) FROM schedule_slots");
  // Which processes decided: more than one (no leader), all of them named.
  const int64_t deciders = QueryInt(db, "SELECT COUNT(DISTINCT decided_by) FROM schedule_slots");
  EXPECT_GE(deciders, 2);
  std::printf(
      "SCHEDULER|10 simulated days|3 processes (1 killed and replaced)|%d slots|"
      "%lld fires|%lld runs|%lld duplicates|%lld missed|%lld deciding processes|%.1f s\n",
      static_cast<int>(slots.size()),
      static_cast<long long>(QueryInt(db, "SELECT COUNT(*) FROM schedule_fires")),
      static_cast<long long>(runs), static_cast<long long>(extra), static_cast<long long>(missing),
      static_cast<long long>(deciders), seconds);

  // Spring: a new nightly schedule from 2027-03-26 (the old ones deleted, so
  // the jump in time is no downtime for them).
  ASSERT_TRUE(service.Delete(admin, hourly.id).ok());
  ASSERT_TRUE(service.Delete(admin, nightly.id).ok());
  const int64_t spring = Ms("2027-03-26T00:00:00Z");
  clock.Set(FromUnixMillis(spring));
  SetClock(spring);
  const auto berlin =
      make("Berlin spring", "30 2 * * *", "Europe/Berlin", std::vector<int64_t>{tenants[0]});
  // 26, 27: 01:30 UTC (CET); 28: 02:30 does not exist, fires at 03:00 CEST =
  // 01:00 UTC; 29, 30: 00:30 UTC (CEST).
  const std::vector<int64_t> want = {Ms("2027-03-26T01:30:00Z"), Ms("2027-03-27T01:30:00Z"),
                                     Ms("2027-03-28T01:00:00Z"), Ms("2027-03-29T00:30:00Z"),
                                     Ms("2027-03-30T00:30:00Z")};
  std::vector<Child> spring_workers;
  for (int i = 0; i < 3; ++i) spring_workers.push_back(StartWorker(t->url(), 10 + i));
  for (size_t i = 0; i < want.size(); ++i) {
    SetClock(want[i] + 1000);
    ASSERT_TRUE(AwaitFires(db, static_cast<int64_t>(i) + 1)) << FormatIso8601(want[i]);
  }
  SetClock(Ms("2027-03-31T00:00:00Z"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // 15 scheduler passes each
  for (auto& w : spring_workers) w.Stop(SIGTERM);
  auto fires = store::ReadResult<std::vector<store::FireRecord>>(
      db, [&](store::Tx& tx) { return store::Schedules::AllFires(tx, berlin.id); });
  ASSERT_TRUE(fires.has_value());
  std::vector<int64_t> got;
  for (const auto& f : *fires) got.push_back(f.slot_at);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace ta::schedule
