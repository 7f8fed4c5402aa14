#pragma once

// Retention: which of a schedule's backup sets to keep. A pure planner (the
// rules) and the job that applies a plan as a run (one item per set: kept,
// with the rules that keep it, or deleted, with what went).
//
// Rules (each optional; a set is kept if any rule keeps it):
//  - keep_last N: the newest N sets;
//  - keep_days N: sets younger than N days;
//  - GFS: the newest set of each of the N most recent local days (gfs_daily),
//    ISO weeks (gfs_weekly) and months (gfs_monthly) that have a set, in the
//    schedule's time zone.
// Always kept, whatever the rules: pinned sets (legal hold), the tenant's
// newest successful backup, and sets whose run has not ended.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"
#include "jobs/worker_pool.h"

namespace ta::store {
struct ScheduleRecord;
}

namespace ta::schedule {

struct RetentionRule {
  std::optional<int64_t> keep_last, keep_days, gfs_daily, gfs_weekly, gfs_monthly;
  bool Any() const { return keep_last || keep_days || gfs_daily || gfs_weekly || gfs_monthly; }
};

struct SetFacts {
  int64_t id = 0;
  int64_t created_at = 0;  // ms
  bool pinned = false;
  bool newest_successful = false;  // the tenant's newest successful backup
  bool in_progress = false;
};

struct RetentionDecision {
  int64_t set_id = 0;
  bool keep = false;
  std::vector<std::string> reasons;  // why kept: "pinned", "last 7", "daily", ...
};

// Newest first. InvalidArgument for an unknown time zone.
Result<std::vector<RetentionDecision>> PlanRetention(std::vector<SetFacts> sets,
                                                     const RetentionRule& rule, int64_t now_ms,
                                                     const std::string& time_zone);

// Validation naming the field: each count 1..10000 when given.
Status ValidateRetention(const RetentionRule& rule);

// {"keep_last": 30} or {"gfs_daily": 7, "gfs_weekly": 4, "gfs_monthly": 12}
// (a null rule is unused); errors name "<field>.<rule>". `extra` names other
// members allowed (and left to the caller).
Result<RetentionRule> ParseRetentionRule(const nlohmann::json& v, const std::string& field,
                                         const std::vector<std::string>& extra = {});
nlohmann::json RetentionRuleJson(const RetentionRule& rule);
// A schedule's own rule, as its record stores it.
RetentionRule ScheduleRule(const store::ScheduleRecord& s);

// A tenant's own rule: over every backup set of the tenant (manual and
// scheduled), GFS buckets in `time_zone`. A set is kept while any rule that
// applies to it keeps it: its schedule's (when that has one) or the tenant's.
struct TenantRetention {
  RetentionRule rule;
  std::string time_zone = "UTC";
};
// From the API's JSON (validated; errors name "retention.<field>").
Result<TenantRetention> ParseTenantRetention(const nlohmann::json& v);
// From and to the stored text (tenants.retention; nullopt: none).
Result<std::optional<TenantRetention>> LoadTenantRetention(const std::optional<std::string>& text);
nlohmann::json TenantRetentionJson(const TenantRetention& r);

// Run types runs::kScheduleRetention (target: the schedule; its sets) and
// runs::kTenantRetention (every set of the tenant): one item per set in
// scope, kept (with the rules that keep it) or deleted (audited).
void RegisterRetentionHandler(jobs::WorkerPool& pool);

}  // namespace ta::schedule
