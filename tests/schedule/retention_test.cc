// The retention planner: keep-last, keep-days and GFS buckets in a time
// zone; pinned, newest successful and in-progress sets always kept.
#include "schedule/retention.h"

#include <gtest/gtest.h>

#include <set>

namespace ta::schedule {
namespace {

constexpr int64_t kDay = 86'400'000;
// 2026-01-01T01:00:00Z: 02:00 in Berlin. One set a night to 2026-03-01.
constexpr int64_t kJan1 = 1767229200000;

std::vector<SetFacts> Nights(int n) {
  std::vector<SetFacts> out;
  for (int i = 0; i < n; ++i) {
    SetFacts f;
    f.id = i + 1;
    f.created_at = kJan1 + i * kDay;
    out.push_back(f);
  }
  return out;
}

std::set<int64_t> Kept(const std::vector<RetentionDecision>& plan) {
  std::set<int64_t> out;
  for (const auto& d : plan)
    if (d.keep) out.insert(d.set_id);
  return out;
}

TEST(Retention, GrandfatherFatherSonInTheScheduleZone) {
  // Set k is night k: 1 = Jan 1 ... 31 = Jan 31, 32 = Feb 1 ... 60 = Mar 1 (a Sunday).
  RetentionRule rule;
  rule.gfs_daily = 7;
  rule.gfs_weekly = 4;
  rule.gfs_monthly = 3;
  auto plan = PlanRetention(Nights(60), rule, kJan1 + 60 * kDay, "Europe/Berlin");
  ASSERT_TRUE(plan.has_value());
  // Daily: Mar 1, Feb 28..23. Weekly (ISO, Monday first): Mar 1, Feb 22, 15, 8.
  // Monthly: Mar 1, Feb 28, Jan 31.
  EXPECT_EQ(Kept(*plan), (std::set<int64_t>{60, 59, 58, 57, 56, 55, 54, 53, 46, 39, 31}));
  // Newest first, each with its reasons.
  EXPECT_EQ(plan->front().set_id, 60);
  EXPECT_EQ(plan->front().reasons, (std::vector<std::string>{"daily", "weekly", "monthly"}));
}

TEST(Retention, KeepLastKeepDaysAndWhatIsAlwaysKept) {
  auto sets = Nights(20);
  sets[2].pinned = true;             // night 3
  sets[4].newest_successful = true;  // night 5: the later ones failed
  sets[19].in_progress = true;       // tonight's, still running
  RetentionRule last;
  last.keep_last = 3;
  auto a = PlanRetention(sets, last, kJan1 + 20 * kDay, "UTC");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(Kept(*a), (std::set<int64_t>{20, 19, 18, 5, 3}));
  RetentionRule days;
  days.keep_days = 5;  // younger than 5 days at Jan 21 01:00: nights 16..20 (Jan 16 01:00 on)
  auto b = PlanRetention(sets, days, kJan1 + 20 * kDay, "UTC");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Kept(*b), (std::set<int64_t>{20, 19, 18, 17, 16, 5, 3}));
  for (const auto& d : *b) {
    if (d.set_id == 3) {
      EXPECT_EQ(d.reasons, (std::vector<std::string>{"pinned"}));
    }
  }
}

TEST(Retention, RulesAreValidatedByField) {
  RetentionRule r;
  r.gfs_weekly = 0;
  EXPECT_NE(ValidateRetention(r).message().find("gfs_weekly: 1 to 10000"), std::string::npos);
  EXPECT_FALSE(PlanRetention({}, r, 0, "Nowhere/Else").has_value());
}

}  // namespace
}  // namespace ta::schedule
