#include "schedule/cron.h"

#include <gtest/gtest.h>

#include <chrono>

#include "core/clock.h"

namespace ta::schedule {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

// 2026-01-01T00:00:00Z
const TimePoint kNewYear = TimePoint(std::chrono::seconds(1767225600));

TimePoint Utc(int64_t unix_seconds) { return TimePoint(std::chrono::seconds(unix_seconds)); }

std::vector<std::string> Iso(const ZonedCron& c, const std::vector<TimePoint>& ts) {
  std::vector<std::string> out;
  for (auto t : ts) out.push_back(c.LocalIso(t));
  return out;
}

TEST(Cron, ParsesListsRangesStepsAndNames) {
  auto f = ParseCron("*/15 9-17 * JAN,mar-may MON-FRI");
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_EQ(f->minute.count(), 4u);
  EXPECT_TRUE(f->minute[45]);
  EXPECT_EQ(f->hour.count(), 9u);
  EXPECT_TRUE(f->month[1] && f->month[3] && f->month[5] && !f->month[2]);
  EXPECT_TRUE(f->day_of_week[1] && f->day_of_week[5] && !f->day_of_week[0]);
  EXPECT_TRUE(f->any_day_of_month);
  EXPECT_FALSE(f->any_day_of_week);
  auto sunday = ParseCron("0 0 * * 7");
  ASSERT_TRUE(sunday.has_value());
  EXPECT_TRUE(sunday->day_of_week[0]);
  auto daily = ParseCron("@daily");
  ASSERT_TRUE(daily.has_value());
  EXPECT_TRUE(daily->minute[0] && daily->hour[0] && daily->minute.count() == 1);
}

TEST(Cron, ErrorsNameTheFieldAndTheFix) {
  struct Case {
    const char* expr;
    const char* want;
  } cases[] = {
      {"* * * *", "needs 5 fields"},
      {"60 * * * *", "field 1 (minute) \"60\": must be 0 to 59"},
      {"0 24 * * *", "field 2 (hour) \"24\": must be 0 to 23"},
      {"0 0 0 * *", "field 3 (day of month) \"0\": must be 1 to 31"},
      {"0 0 * FOO *", "field 4 (month) \"FOO\": not a number or name"},
      {"0 0 * * 1-", "field 5 (day of week)"},
      {"5-1 * * * *", "a range must go from low to high"},
      {"*/0 * * * *", "the step after / must be a positive number"},
      {"1,,2 * * * *", "empty list entry"},
      {"@often", "unknown macro"},
  };
  for (const auto& c : cases) {
    auto f = ParseCron(c.expr);
    ASSERT_FALSE(f.has_value()) << c.expr;
    EXPECT_NE(f.error().message().find(c.want), std::string::npos)
        << c.expr << ": " << f.error().message();
  }
  auto never = ZonedCron::Make("0 0 31 2 *", "UTC");
  ASSERT_FALSE(never.has_value());
  EXPECT_NE(never.error().message().find("never fires"), std::string::npos);
  auto zone = ZonedCron::Make("0 0 * * *", "Mars/Olympus");
  ASSERT_FALSE(zone.has_value());
  EXPECT_NE(zone.error().message().find("time_zone: \"Mars/Olympus\" is not an IANA time zone"),
            std::string::npos);
  EXPECT_TRUE(IsTimeZone("Europe/Berlin"));
  EXPECT_FALSE(IsTimeZone("Europe/Nowhere"));
}

TEST(Cron, NextFireTimesInAZone) {
  auto c = ZonedCron::Make("30 2 * * *", "America/New_York");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Iso(*c, c->NextN(kNewYear, 3)),
            (std::vector<std::string>{"2026-01-01T02:30:00-05:00", "2026-01-02T02:30:00-05:00",
                                      "2026-01-03T02:30:00-05:00"}));
  // Day of month OR day of week when both are restricted (Vixie cron).
  auto either = ZonedCron::Make("0 12 13 * FRI", "UTC");
  ASSERT_TRUE(either.has_value());
  EXPECT_EQ(Iso(*either, either->NextN(kNewYear, 4)),
            (std::vector<std::string>{"2026-01-02T12:00:00+00:00", "2026-01-09T12:00:00+00:00",
                                      "2026-01-13T12:00:00+00:00", "2026-01-16T12:00:00+00:00"}));
  // Strictly after: a slot exactly at `after` is not next.
  auto hourly = ZonedCron::Make("0 * * * *", "UTC");
  ASSERT_TRUE(hourly.has_value());
  EXPECT_EQ(*hourly->Next(kNewYear), kNewYear + hours(1));
  EXPECT_EQ(hourly->Between(kNewYear, kNewYear + hours(5), 100).size(), 5u);
  EXPECT_EQ(hourly->Between(kNewYear, kNewYear + hours(5), 3).size(), 3u);
  // Leap day: the next 29 February.
  auto leap = ZonedCron::Make("0 0 29 2 *", "UTC");
  ASSERT_TRUE(leap.has_value());
  EXPECT_EQ(leap->LocalIso(*leap->Next(kNewYear)), "2028-02-29T00:00:00+00:00");
}

// Europe/Berlin: summer time starts 2026-03-29 02:00 CET (-> 03:00 CEST) and
// ends 2026-10-25 03:00 CEST (-> 02:00 CET).
TEST(Cron, DaylightSavingGapFiresOnceWhenTheGapEnds) {
  auto c = ZonedCron::Make("30 2 * * *", "Europe/Berlin");
  ASSERT_TRUE(c.has_value());
  const TimePoint before = Utc(1774656000);  // 2026-03-28T00:00Z
  EXPECT_EQ(Iso(*c, c->NextN(before, 3)),
            (std::vector<std::string>{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00",
                                      "2026-03-30T02:30:00+02:00"}));
  // Every 15 minutes: 02:00, 02:15, 02:30, 02:45 do not exist; they are one
  // slot at 03:00, and 03:00 itself is that same slot.
  auto q = ZonedCron::Make("*/15 * * * *", "Europe/Berlin");
  ASSERT_TRUE(q.has_value());
  const TimePoint t0 = Utc(1774744200);  // 2026-03-29T00:30Z = 01:30 CET
  EXPECT_EQ(Iso(*q, q->NextN(t0, 4)),
            (std::vector<std::string>{"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00",
                                      "2026-03-29T03:15:00+02:00", "2026-03-29T03:30:00+02:00"}));
}

TEST(Cron, DaylightSavingOverlapFiresOnceAtTheFirstOccurrence) {
  auto c = ZonedCron::Make("30 2 * * *", "Europe/Berlin");
  ASSERT_TRUE(c.has_value());
  const TimePoint before = Utc(1792800000);  // 2026-10-24T00:00Z
  const auto next = c->NextN(before, 3);
  EXPECT_EQ(Iso(*c, next),
            (std::vector<std::string>{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00",
                                      "2026-10-26T02:30:00+01:00"}));
  // From inside the repeated hour (02:10 CET, after the first 02:30 CEST),
  // 02:30 CET is not a second slot.
  const TimePoint inside = Utc(1792890600);  // 2026-10-25T01:10Z = 02:10 CET
  EXPECT_EQ(c->LocalIso(*c->Next(inside)), "2026-10-26T02:30:00+01:00");
  EXPECT_EQ(c->Local(next[1]), "2026-10-25 02:30 CEST");
}

}  // namespace
}  // namespace ta::schedule
