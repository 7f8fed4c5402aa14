#include "schedule/retention.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "runs/item_progress.h"
#include "runs/operations.h"
#include "store/accounts.h"
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

Result<RetentionRule> ParseRetentionRule(const json& v, const std::string& field,
                                         const std::vector<std::string>& extra) {
  if (!v.is_object())
    return Unexpected(Status::InvalidArgument(
        field + ": an object such as {\"keep_last\": 30} or {\"gfs_daily\": 7, "
                "\"gfs_weekly\": 4, \"gfs_monthly\": 12}"));
  RetentionRule r;
  const std::pair<const char*, std::optional<int64_t>*> fields[] = {
      {"keep_last", &r.keep_last},
      {"keep_days", &r.keep_days},
      {"gfs_daily", &r.gfs_daily},
      {"gfs_weekly", &r.gfs_weekly},
      {"gfs_monthly", &r.gfs_monthly}};
  for (const auto& item : v.items()) {
    const std::string& key = item.key();
    if (std::find(extra.begin(), extra.end(), key) != extra.end()) continue;
    auto f = std::find_if(std::begin(fields), std::end(fields),
                          [&](const auto& x) { return key == x.first; });
    if (f == std::end(fields))
      return Unexpected(Status::InvalidArgument(
          field + "." + key +
          ": unknown rule; allowed: keep_last, keep_days, gfs_daily, gfs_weekly, gfs_monthly"));
    if (item.value().is_null()) continue;
    if (!item.value().is_number_integer())
      return Unexpected(Status::InvalidArgument(field + "." + key + ": must be an integer"));
    *f->second = item.value().get<int64_t>();
  }
  if (Status st = ValidateRetention(r); !st.ok())
    return Unexpected(Status::InvalidArgument(field + "." + st.message()));
  return r;
}

json RetentionRuleJson(const RetentionRule& r) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(); };
  return {{"keep_last", opt(r.keep_last)},
          {"keep_days", opt(r.keep_days)},
          {"gfs_daily", opt(r.gfs_daily)},
          {"gfs_weekly", opt(r.gfs_weekly)},
          {"gfs_monthly", opt(r.gfs_monthly)}};
}

RetentionRule ScheduleRule(const store::ScheduleRecord& s) {
  return {s.keep_last, s.keep_days, s.gfs_daily, s.gfs_weekly, s.gfs_monthly};
}

Result<TenantRetention> ParseTenantRetention(const json& v) {
  auto rule = ParseRetentionRule(v, "retention", {"time_zone"});
  if (!rule) return Unexpected(rule.error());
  if (!rule->Any())
    return Unexpected(Status::InvalidArgument(
        "retention: give at least one rule (keep_last, keep_days, gfs_daily, gfs_weekly, "
        "gfs_monthly), or send null to remove the tenant's rule"));
  TenantRetention out{*rule, "UTC"};
  if (auto z = v.find("time_zone"); z != v.end() && !z->is_null()) {
    cctz::time_zone tz;
    if (!z->is_string() || !cctz::load_time_zone(z->get<std::string>(), &tz))
      return Unexpected(Status::InvalidArgument(
          "retention.time_zone: an IANA time zone such as \"Europe/Berlin\" (GFS days, weeks "
          "and months are counted in it)"));
    out.time_zone = z->get<std::string>();
  }
  return out;
}

Result<std::optional<TenantRetention>> LoadTenantRetention(const std::optional<std::string>& text) {
  if (!text) return std::optional<TenantRetention>();
  const json v = json::parse(*text, nullptr, false);
  auto r = ParseTenantRetention(v);
  if (!r) return Unexpected(r.error().WithContext("the tenant's stored retention rule"));
  return std::optional<TenantRetention>(std::move(*r));
}

json TenantRetentionJson(const TenantRetention& r) {
  json j = RetentionRuleJson(r.rule);
  j["time_zone"] = r.time_zone;
  return j;
}

namespace {

// Why each of the tenant's sets is kept, under every rule that applies to it:
// its schedule's (when that has one) and the tenant's. A set no rule governs
// is kept ("no retention rule").
struct Plan {
  std::vector<store::BackupSetRecord> sets;     // newest first
  std::map<int64_t, std::vector<std::string>> reasons;  // set -> why kept (none: delete)
};

Result<Plan> PlanTenant(store::Tx& tx, int64_t tenant, int64_t now_ms) {
  Plan plan;
  auto sets = store::BackupSets::List(tx, tenant, std::nullopt, 1'000'000);
  if (!sets) return Unexpected(sets.error());
  plan.sets = std::move(*sets);
  auto newest = store::BackupSets::NewestSucceeded(tx, tenant);
  if (!newest) return Unexpected(newest.error());
  auto of = store::BackupSets::ScheduleOfSets(tx, tenant);
  if (!of) return Unexpected(of.error());
  const std::map<int64_t, int64_t> schedule_of(of->begin(), of->end());
  auto stored = store::Accounts::TenantRetention(tx, tenant);
  if (!stored) return Unexpected(stored.error());
  auto own = LoadTenantRetention(*stored);
  if (!own) return Unexpected(own.error());

  std::map<int64_t, std::vector<SetFacts>> by_schedule;
  std::vector<SetFacts> all;
  std::set<int64_t> governed;
  for (const auto& s : plan.sets) {
    SetFacts f{s.id, s.created_at, s.pinned, *newest == s.id, s.Status() == "in_progress"};
    all.push_back(f);
    if (auto it = schedule_of.find(s.id); it != schedule_of.end()) by_schedule[it->second].push_back(f);
    auto& why = plan.reasons[s.id];
    if (s.baseline) why.push_back("drift baseline");
  }
  auto add = [&](const std::vector<RetentionDecision>& decisions, const std::string& prefix) {
    for (const auto& d : decisions) {
      governed.insert(d.set_id);
      auto& why = plan.reasons[d.set_id];
      for (const auto& r : d.reasons) {
        const std::string reason =
            r == "pinned" || r == "newest successful backup" || r == "in progress" ? r : prefix + r;
        if (std::find(why.begin(), why.end(), reason) == why.end()) why.push_back(reason);
      }
    }
  };
  for (const auto& [schedule_id, facts] : by_schedule) {
    auto s = store::Schedules::Get(tx, schedule_id);
    if (!s) {
      if (s.error().code() == Status::Code::kNotFound) continue;  // deleted: its sets stay
      return Unexpected(s.error());
    }
    const RetentionRule rule = ScheduleRule(*s);
    if (!rule.Any()) continue;
    auto d = PlanRetention(facts, rule, now_ms, s->time_zone);
    if (!d) return Unexpected(d.error());
    add(*d, "");
  }
  if (*own) {
    auto d = PlanRetention(all, (*own)->rule, now_ms, (*own)->time_zone);
    if (!d) return Unexpected(d.error());
    add(*d, "tenant: ");
  }
  for (const auto& s : plan.sets)
    if (!governed.count(s.id)) plan.reasons[s.id].push_back("no retention rule");
  return plan;
}

jobs::JobResult RunRetention(jobs::JobContext& ctx) {
  const int64_t tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  const auto params = json::parse(ctx.job().payload, nullptr, false);
  std::optional<int64_t> schedule_id;  // nullopt: the tenant's rule, every set
  if (params.is_object() && params.contains("schedule_id") &&
      params["schedule_id"].is_number_integer()) {
    schedule_id = params["schedule_id"].get<int64_t>();
  } else if (!params.is_object() || params.value("tenant", false) != true) {
    return jobs::JobResult::Fail(Status::InvalidArgument(
        "payload: {\"schedule_id\": N} or {\"tenant\": true} expected"));
  }
  struct Loaded {
    Plan plan;
    std::set<int64_t> scope;
  };
  auto loaded = store::ReadResult<Loaded>(ctx.db(), [&](store::Tx& tx) -> Result<Loaded> {
    Loaded l;
    auto plan = PlanTenant(tx, tenant, runs::NowMs(ctx));
    if (!plan) return Unexpected(plan.error());
    l.plan = std::move(*plan);
    if (schedule_id) {
      auto mine = store::BackupSets::OfSchedule(tx, tenant, *schedule_id);
      if (!mine) return Unexpected(mine.error());
      for (const auto& s : *mine) l.scope.insert(s.id);
    } else {
      for (const auto& s : l.plan.sets) l.scope.insert(s.id);
    }
    return l;
  });
  if (!loaded) return runs::JobFailure(loaded.error());
  std::vector<RetentionDecision> plan;
  for (const auto& s : loaded->plan.sets) {
    if (!loaded->scope.count(s.id)) continue;
    const auto& why = loaded->plan.reasons[s.id];
    plan.push_back({s.id, !why.empty(), why});
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
                         {"schedule", schedule_id ? json(*schedule_id) : json()},
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
  pool.Register(runs::kTenantRetention, RunRetention);
}

}  // namespace ta::schedule
