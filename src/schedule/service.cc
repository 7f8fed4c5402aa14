#include "schedule/service.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "schedule/cron.h"
#include "schedule/retention.h"
#include "store/audit_log.h"

namespace ta::schedule {

using nlohmann::json;
using store::ScheduleRecord;

bool IsScheduleOperation(std::string_view op) {
  return op == "backup" || op == "drift" || op == "backup_and_drift";
}

store::User CommandLineActor() {
  store::User u;
  u.email = "command line";
  u.is_platform_admin = true;
  return u;
}

namespace {

json NextJson(const ZonedCron& cron, Clock::TimePoint now, size_t n) {
  json out = json::array();
  for (auto t : cron.NextN(now, n))
    out.push_back({{"at", FormatIso8601(ToUnixMillis(t))},
                   {"local", cron.LocalIso(t)},
                   {"label", cron.Local(t)}});
  return out;
}


json Details(const ScheduleRecord& s) {
  return {{"name", s.name},
          {"cron", s.cron},
          {"time_zone", s.time_zone},
          {"tenant_ids", s.tenant_ids ? json(*s.tenant_ids) : json()},
          {"tag", s.tag ? json(*s.tag) : json()},
          {"operation", s.operation},
          {"jitter_seconds", s.jitter_seconds},
          {"enabled", s.enabled},
          {"retention", RetentionRuleJson(ScheduleRule(s))}};
}

Status Audit(store::Tx& tx, const store::User& actor, const std::string& action,
             const ScheduleRecord& s, int64_t now) {
  return store::AuditLog::Record(tx, 0, store::ActorIdOf(actor), action, "schedule",
                                 std::to_string(s.id), Details(s).dump(), now);
}

ScheduleRecord FromInput(const ScheduleInput& in) {
  ScheduleRecord s;
  s.name = in.name;
  s.cron = in.cron;
  s.time_zone = in.time_zone;
  s.tenant_ids = in.tenant_ids;
  if (s.tenant_ids) {
    std::sort(s.tenant_ids->begin(), s.tenant_ids->end());
    s.tenant_ids->erase(std::unique(s.tenant_ids->begin(), s.tenant_ids->end()),
                        s.tenant_ids->end());
  }
  s.tag = in.tag;
  s.operation = in.operation;
  s.jitter_seconds = in.jitter_seconds;
  s.enabled = in.enabled;
  s.keep_last = in.retention.keep_last;
  s.keep_days = in.retention.keep_days;
  s.gfs_daily = in.retention.gfs_daily;
  s.gfs_weekly = in.retention.gfs_weekly;
  s.gfs_monthly = in.retention.gfs_monthly;
  return s;
}

}  // namespace

Result<json> PreviewJson(const std::string& cron, const std::string& time_zone,
                         Clock::TimePoint now, size_t n) {
  auto c = ZonedCron::Make(cron, time_zone);
  if (!c) return Unexpected(c.error());
  return NextJson(*c, now, n);
}

Status ScheduleService::Validate(store::Tx& tx, const ScheduleInput& in) {
  if (in.name.empty() || in.name.size() > 100)
    return Status::InvalidArgument("name: 1 to 100 characters");
  if (auto c = ZonedCron::Make(in.cron, in.time_zone); !c) return c.error();
  if (!IsScheduleOperation(in.operation))
    return Status::InvalidArgument(
        "operation: must be \"backup\" (an inventory sync, then a backup set of every "
        "policy), \"drift\" (drift detection against the baseline) or \"backup_and_drift\" "
        "(the backup, then its set compared with the baseline before it)");
  if (in.jitter_seconds < 0 || in.jitter_seconds > kMaxJitterSeconds)
    return Status::InvalidArgument("jitter_seconds: 0 to " + std::to_string(kMaxJitterSeconds) +
                                   " (spreads the tenants' starts over that many seconds)");
  if (Status r = ValidateRetention(in.retention); !r.ok())
    return Status::InvalidArgument("retention." + r.message());
  if (in.tag && (in.tag->empty() || in.tag->size() > 40))
    return Status::InvalidArgument("tag: 1 to 40 characters, or null for no tag filter");
  if (in.tenant_ids) {
    if (in.tenant_ids->empty())
      return Status::InvalidArgument(
          "tenant_ids: list at least one tenant, or null for every tenant");
    for (size_t i = 0; i < in.tenant_ids->size(); ++i) {
      auto t = store::Accounts::TenantById(tx, (*in.tenant_ids)[i]);
      if (!t) {
        if (t.error().code() == Status::Code::kNotFound)
          return Status::InvalidArgument("tenant_ids[" + std::to_string(i) + "]: tenant " +
                                         std::to_string((*in.tenant_ids)[i]) + " does not exist");
        return t.error();
      }
    }
  }
  return Status::Ok();
}

Status ScheduleService::CheckManage(store::Tx& tx, const store::User& actor,
                                    const std::optional<std::vector<int64_t>>& tenant_ids) {
  if (actor.is_platform_admin) return Status::Ok();
  if (!tenant_ids)
    return Status::PermissionDenied(
        "a schedule over every tenant (or over a tag) needs a platform admin; list the tenants "
        "in tenant_ids to schedule only tenants you operate");
  for (int64_t t : *tenant_ids) {
    auto role = store::Accounts::RoleOf(tx, actor.id, t);
    if (!role) return role.error();
    if (!*role || store::RoleRank(**role) < store::RoleRank("operator"))
      return Status::PermissionDenied("scheduling tenant " + std::to_string(t) +
                                      " needs the operator or owner role in it");
  }
  return Status::Ok();
}

namespace {

// Members see the schedules whose every tenant they belong to; platform
// admins see all.
Result<bool> CanSee(store::Tx& tx, const store::User& actor, const ScheduleRecord& s) {
  if (actor.is_platform_admin) return true;
  if (!s.tenant_ids) return false;
  for (int64_t t : *s.tenant_ids) {
    auto role = store::Accounts::RoleOf(tx, actor.id, t);
    if (!role) return Unexpected(role.error());
    if (!*role) return false;
  }
  return true;
}

Result<ScheduleRecord> Visible(store::Tx& tx, const store::User& actor, int64_t id) {
  auto s = store::Schedules::Get(tx, id);
  if (!s) return Unexpected(s.error());
  auto see = CanSee(tx, actor, *s);
  if (!see) return Unexpected(see.error());
  if (!*see)
    return Unexpected(Status::PermissionDenied(
        "schedule " + std::to_string(id) +
        " covers tenants you are not a member of (or every tenant: platform admins only)"));
  return *s;
}

}  // namespace

Result<ScheduleRecord> ScheduleService::Create(const store::User& actor, const ScheduleInput& in) {
  return store::WriteResult<ScheduleRecord>(db_, [&](store::Tx& tx) -> Result<ScheduleRecord> {
    TA_RETURN_IF_ERROR(Validate(tx, in));
    ScheduleRecord s = FromInput(in);
    TA_RETURN_IF_ERROR(CheckManage(tx, actor, s.tenant_ids));
    const int64_t now = ToUnixMillis(clock_.Now());
    s.created_by = store::ActorIdOf(actor);
    s.created_at = s.updated_at = s.slots_after = now;
    auto id = store::Schedules::Create(tx, s);
    if (!id) return Unexpected(id.error());
    s.id = *id;
    TA_RETURN_IF_ERROR(Audit(tx, actor, "schedule.created", s, now));
    return s;
  });
}

Result<ScheduleRecord> ScheduleService::Update(const store::User& actor, int64_t id,
                                               const ScheduleInput& in) {
  return store::WriteResult<ScheduleRecord>(db_, [&](store::Tx& tx) -> Result<ScheduleRecord> {
    auto old = Visible(tx, actor, id);
    if (!old) return Unexpected(old.error());
    TA_RETURN_IF_ERROR(CheckManage(tx, actor, old->tenant_ids));
    TA_RETURN_IF_ERROR(Validate(tx, in));
    ScheduleRecord s = FromInput(in);
    TA_RETURN_IF_ERROR(CheckManage(tx, actor, s.tenant_ids));
    const int64_t now = ToUnixMillis(clock_.Now());
    s.id = id;
    s.created_by = old->created_by;
    s.created_at = old->created_at;
    s.updated_at = now;
    const bool redefined =
        s.cron != old->cron || s.time_zone != old->time_zone || (s.enabled && !old->enabled);
    s.slots_after = redefined ? now : old->slots_after;
    TA_RETURN_IF_ERROR(store::Schedules::Update(tx, s));
    TA_RETURN_IF_ERROR(Audit(tx, actor, "schedule.updated", s, now));
    return s;
  });
}

Status ScheduleService::Delete(const store::User& actor, int64_t id) {
  return db_.Write([&](store::Tx& tx) -> Status {
    auto old = Visible(tx, actor, id);
    if (!old) return old.error();
    TA_RETURN_IF_ERROR(CheckManage(tx, actor, old->tenant_ids));
    TA_RETURN_IF_ERROR(store::Schedules::Delete(tx, id));
    return Audit(tx, actor, "schedule.deleted", *old, ToUnixMillis(clock_.Now()));
  });
}

Result<std::vector<ScheduleRecord>> ScheduleService::List(const store::User& actor) {
  return store::ReadResult<std::vector<ScheduleRecord>>(
      db_, [&](store::Tx& tx) -> Result<std::vector<ScheduleRecord>> {
        auto all = store::Schedules::List(tx, false);
        if (!all) return Unexpected(all.error());
        std::vector<ScheduleRecord> out;
        for (auto& s : *all) {
          auto see = CanSee(tx, actor, s);
          if (!see) return Unexpected(see.error());
          if (*see) out.push_back(std::move(s));
        }
        return out;
      });
}

Result<ScheduleRecord> ScheduleService::Get(const store::User& actor, int64_t id) {
  return store::ReadResult<ScheduleRecord>(db_,
                                           [&](store::Tx& tx) { return Visible(tx, actor, id); });
}

Result<json> ScheduleService::SlotsJson(const store::User& actor, int64_t id, int64_t limit) {
  return store::ReadResult<json>(db_, [&](store::Tx& tx) -> Result<json> {
    auto s = Visible(tx, actor, id);
    if (!s) return Unexpected(s.error());
    auto slots = store::Schedules::Slots(tx, id, limit);
    if (!slots) return Unexpected(slots.error());
    json out = json::array();
    for (const auto& slot : *slots) {
      auto fires = store::Schedules::Fires(tx, id, slot.slot_at);
      if (!fires) return Unexpected(fires.error());
      json missed = json::array();
      for (int64_t m : slot.missed) missed.push_back(FormatIso8601(m));
      json f = json::array();
      for (const auto& x : *fires)
        f.push_back({{"tenant_id", x.tenant_id},
                     {"run_id", x.run_id},
                     {"reused", x.reused},
                     {"fired_at", TimeJson(x.fired_at)}});
      out.push_back({{"slot_at", TimeJson(slot.slot_at)},
                     {"decided_at", TimeJson(slot.decided_at)},
                     {"decided_by", slot.decided_by},
                     {"state", slot.state},
                     {"fired_at", TimeJson(slot.fired_at)},
                     {"tenants", slot.targets.size()},
                     {"missed_count", slot.missed_count},
                     {"missed", missed},
                     {"fires", f}});
    }
    return out;
  });
}

Result<json> ScheduleService::Json(const ScheduleRecord& s, size_t n) {
  auto targets = store::ReadResult<std::vector<int64_t>>(
      db_, [&](store::Tx& tx) { return store::Schedules::TargetTenants(tx, s.tenant_ids, s.tag); });
  if (!targets) return Unexpected(targets.error());
  json j = Details(s);
  j["id"] = s.id;
  j["created_by"] = s.created_by ? json(*s.created_by) : json();
  j["created_at"] = TimeJson(s.created_at);
  j["updated_at"] = TimeJson(s.updated_at);
  j["targets"] = targets->size();
  auto cron = ZonedCron::Make(s.cron, s.time_zone);
  j["next"] = cron && s.enabled ? NextJson(*cron, clock_.Now(), n) : json::array();
  return j;
}

}  // namespace ta::schedule
