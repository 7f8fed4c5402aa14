#include "schedule/retention.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "runs/item_progress.h"
#include "runs/operations.h"
#include "store/backup_sets.h"
#include "store/schedules.h"

namespace ta::schedule {

using nlohmann::json;

namespace {

constexpr int64_t kDayMs = 86'400'000;

// Keeps the newest set of each of the `n` most recent buckets.
void Buckets(const std::vector<SetFacts>& sets, const std::vector<std::string>& keys, int64_t n,
             const std::string& reason, std::vector<RetentionDecision>& out) {
  std::set<std::string> seen;
  for (size_t i = 0; i < sets.size(); ++i) {
    if (seen.count(keys[i])) continue;  // an older set of a bucket already kept
    if (static_cast<int64_t>(seen.size()) == n) break;
    seen.insert(keys[i]);
    out[i].reasons.push_back(reason);
  }
}

std::string Key(const cctz::civil_day& d) {
  return std::to_string(d.year()) + "-" + std::to_string(d.month()) + "-" + std::to_string(d.day());
}

}  // namespace

Status ValidateRetention(const RetentionRule& r) {
  const std::pair<const char*, const std::optional<int64_t>*> fields[] = {
      {"keep_last", &r.keep_last},
      {"keep_days", &r.keep_days},
      {"gfs_daily", &r.gfs_daily},
      {"gfs_weekly", &r.gfs_weekly},
      {"gfs_monthly", &r.gfs_monthly}};
  for (const auto& [name, v] : fields)
    if (*v && (**v < 1 || **v > 10'000))
      return Status::InvalidArgument(std::string(name) +
                                     ": 1 to 10000, or null to not use this rule");
  return Status::Ok();
}

Result<std::vector<RetentionDecision>> PlanRetention(std::vector<SetFacts> sets,
                                                     const RetentionRule& rule, int64_t now_ms,
                                                     const std::string& time_zone) {
  cctz::time_zone tz;
  if (!cctz::load_time_zone(time_zone, &tz))
    return Unexpected(Status::InvalidArgument("time_zone: \"" + time_zone + "\" is unknown"));
  std::sort(sets.begin(), sets.end(), [](const SetFacts& a, const SetFacts& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
  });
  std::vector<RetentionDecision> out(sets.size());
  std::vector<std::string> day, week, month;
  for (size_t i = 0; i < sets.size(); ++i) {
    out[i].set_id = sets[i].id;
    const auto t = std::chrono::time_point_cast<std::chrono::seconds>(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(sets[i].created_at)));
    const cctz::civil_day d = cctz::civil_day(cctz::convert(t, tz));
    day.push_back(Key(d));
    // ISO week: the Monday that starts it.
    const int from_monday = static_cast<int>(cctz::get_weekday(d));  // monday = 0
    week.push_back(Key(d - from_monday));
    month.push_back(std::to_string(d.year()) + "-" + std::to_string(d.month()));
    if (sets[i].pinned) out[i].reasons.push_back("pinned");
    if (sets[i].newest_successful) out[i].reasons.push_back("newest successful backup");
    if (sets[i].in_progress) out[i].reasons.push_back("in progress");
    if (rule.keep_last && static_cast<int64_t>(i) < *rule.keep_last)
      out[i].reasons.push_back("last " + std::to_string(*rule.keep_last));
    if (rule.keep_days && sets[i].created_at >= now_ms - *rule.keep_days * kDayMs)
      out[i].reasons.push_back("younger than " + std::to_string(*rule.keep_days) + " days");
  }
  if (rule.gfs_daily) Buckets(sets, day, *rule.gfs_daily, "daily", out);
  if (rule.gfs_weekly) Buckets(sets, week, *rule.gfs_weekly, "weekly", out);
  if (rule.gfs_monthly) Buckets(sets, month, *rule.gfs_monthly, "monthly", out);
  for (auto& d : out) d.keep = !d.reasons.empty();
  return out;
}

namespace {

jobs::JobResult RunRetention(jobs::JobContext& ctx) {
  const int64_t tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  const auto params = json::parse(ctx.job().payload, nullptr, false);
  if (!params.is_object() || !params.contains("schedule_id") ||
      !params["schedule_id"].is_number_integer())
    return jobs::JobResult::Fail(
        Status::InvalidArgument("payload.schedule_id: missing or not an integer"));
  const int64_t schedule_id = params["schedule_id"].get<int64_t>();
  struct Loaded {
    store::ScheduleRecord schedule;
    std::vector<store::BackupSetRecord> sets;
    std::optional<int64_t> newest;
  };
  auto loaded = store::ReadResult<Loaded>(ctx.db(), [&](store::Tx& tx) -> Result<Loaded> {
    auto s = store::Schedules::Get(tx, schedule_id);
    if (!s) return Unexpected(s.error());
    auto sets = store::BackupSets::OfSchedule(tx, tenant, schedule_id);
    if (!sets) return Unexpected(sets.error());
    auto newest = store::BackupSets::NewestSucceeded(tx, tenant);
    if (!newest) return Unexpected(newest.error());
    return Loaded{std::move(*s), std::move(*sets), *newest};
  });
  if (!loaded) return runs::JobFailure(loaded.error());
  const store::ScheduleRecord& s = loaded->schedule;
  const RetentionRule rule{s.keep_last, s.keep_days, s.gfs_daily, s.gfs_weekly, s.gfs_monthly};
  std::vector<SetFacts> facts;
  for (const auto& set : loaded->sets)
    facts.push_back({set.id, set.created_at, set.pinned, loaded->newest == set.id,
                     set.Status() == "in_progress"});
  std::vector<RetentionDecision> plan;
  if (rule.Any()) {
    auto p = PlanRetention(facts, rule, runs::NowMs(ctx), s.time_zone);
    if (!p) return jobs::JobResult::Fail(p.error());
    plan = std::move(*p);
  } else {
    for (const auto& f : facts) plan.push_back({f.id, true, {"no retention rule"}});
  }
  if (Status st = runs::SetTotal(ctx, static_cast<int64_t>(plan.size())); !st.ok())
    return runs::JobFailure(st);
  auto done = runs::ExistingItems(ctx);
  if (!done) return runs::JobFailure(done.error());
  std::vector<std::string> refs;
  for (const auto& d : plan) refs.push_back("backup_set:" + std::to_string(d.set_id));
  for (size_t i = 0; i < plan.size(); ++i) {
    const RetentionDecision& d = plan[i];
    if (runs::Done(*done, refs[i])) continue;
    if (ctx.CancelRequested()) return runs::CancelRemaining(ctx, refs);
    if (ctx.ShuttingDown()) return jobs::JobResult::Release();
    Status st = ctx.db().Write([&](store::Tx& tx) -> Status {
      const int64_t now = runs::NowMs(ctx);
      store::RunItem item;
      item.item_ref = refs[i];
      item.action = "retain";
      if (d.keep) {
        item.status = "kept";
        item.details = json{{"reasons", d.reasons}}.dump();
      } else {
        auto gone = store::BackupSets::Delete(tx, tenant, d.set_id);
        if (!gone) return gone.error();
        item.status = "deleted";
        item.details = json{{"items", gone->items},
                            {"versions", gone->versions},
                            {"payload_bytes", gone->payload_bytes}}
                           .dump();
        store::AuditEntry e;
        e.tenant_id = tenant;
        e.action = "backup_set.deleted";
        e.target_type = "backup_set";
        e.target_id = std::to_string(d.set_id);
        e.run_id = run;
        e.details = json{{"by", "retention"},
                         {"schedule", schedule_id},
                         {"items", gone->items},
                         {"versions", gone->versions}}
                        .dump();
        if (auto a = store::AuditLog::Append(tx, e, now); !a) return a.error();
      }
      return store::RunsRepository::UpsertItem(tx, tenant, run, item, now);
    });
    if (!st.ok()) return runs::ItemNotRecorded(refs[i], st);
  }
  return runs::Finish(ctx, refs);
}

}  // namespace

void RegisterRetentionHandler(jobs::WorkerPool& pool) {
  pool.Register(runs::kScheduleRetention, RunRetention);
}

}  // namespace ta::schedule
