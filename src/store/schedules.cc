#include "store/schedules.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "store/row_reader.h"

namespace ta::store {

using nlohmann::json;

namespace {

constexpr const char* kCols =
    "id, name, cron, time_zone, tenant_ids, tag, operation, jitter_seconds, enabled, created_by, "
    "created_at, updated_at, slots_after, keep_last, keep_days, gfs_daily, gfs_weekly, "
    "gfs_monthly";

ScheduleRecord ReadSchedule(const Row& row) {
  RowReader r(row);
  ScheduleRecord s;
  s.id = r.Int();
  s.name = r.Text();
  s.cron = r.Text();
  s.time_zone = r.Text();
  if (auto ids = r.OptText()) s.tenant_ids = json::parse(*ids).get<std::vector<int64_t>>();
  s.tag = r.OptText();
  s.operation = r.Text();
  s.jitter_seconds = r.Int();
  s.enabled = r.Int() != 0;
  s.created_by = r.OptInt();
  s.created_at = r.Int();
  s.updated_at = r.Int();
  s.slots_after = r.Int();
  s.keep_last = r.OptInt();
  s.keep_days = r.OptInt();
  s.gfs_daily = r.OptInt();
  s.gfs_weekly = r.OptInt();
  s.gfs_monthly = r.OptInt();
  return s;
}

Param TenantIds(const ScheduleRecord& s) {
  return s.tenant_ids ? Param(json(*s.tenant_ids).dump()) : Param(nullptr);
}
Param Tag(const ScheduleRecord& s) { return s.tag ? Param(*s.tag) : Param(nullptr); }

constexpr const char* kSlotCols =
    "schedule_id, slot_at, decided_at, decided_by, missed_count, missed, targets, state, fired_at";

SlotRecord ReadSlot(const Row& row) {
  RowReader r(row);
  SlotRecord s;
  s.schedule_id = r.Int();
  s.slot_at = r.Int();
  s.decided_at = r.Int();
  s.decided_by = r.Text();
  s.missed_count = r.Int();
  s.missed = json::parse(r.Text()).get<std::vector<int64_t>>();
  for (const auto& t : json::parse(r.Text()))
    s.targets.push_back(
        SlotTarget{t.at("tenant_id").get<int64_t>(), t.at("due_at").get<int64_t>()});
  s.state = r.Text();
  s.fired_at = r.OptInt();
  return s;
}

constexpr const char* kFireCols = "schedule_id, slot_at, tenant_id, run_id, reused, fired_at";

FireRecord ReadFire(const Row& row) {
  RowReader r(row);
  FireRecord f;
  f.schedule_id = r.Int();
  f.slot_at = r.Int();
  f.tenant_id = r.Int();
  f.run_id = r.Int();
  f.reused = r.Int() != 0;
  f.fired_at = r.Int();
  return f;
}

Status NameTaken(Status s) {
  if (s.code() == Status::Code::kAlreadyExists)
    return Status::AlreadyExists("name: a schedule with this name already exists");
  return s;
}

}  // namespace

Result<int64_t> Schedules::Create(Tx& tx, const ScheduleRecord& s) {
  auto rows = tx.Query(
      "INSERT INTO schedules (name, cron, time_zone, tenant_ids, tag, operation, jitter_seconds, "
      "enabled, created_by, created_at, updated_at, slots_after, keep_last, keep_days, "
      "gfs_daily, gfs_weekly, gfs_monthly) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) "
      "RETURNING id",
      {s.name, s.cron, s.time_zone, TenantIds(s), Tag(s), s.operation, s.jitter_seconds,
       int64_t{s.enabled ? 1 : 0}, s.created_by ? Param(*s.created_by) : Param(nullptr),
       s.created_at, s.updated_at, s.slots_after, OptParam(s.keep_last), OptParam(s.keep_days),
       OptParam(s.gfs_daily), OptParam(s.gfs_weekly), OptParam(s.gfs_monthly)});
  if (!rows) return Unexpected(NameTaken(rows.error()));
  return rows->front().Int(0);
}

Status Schedules::Update(Tx& tx, const ScheduleRecord& s) {
  auto n = tx.Exec(
      "UPDATE schedules SET name = $1, cron = $2, time_zone = $3, tenant_ids = $4, tag = $5, "
      "operation = $6, jitter_seconds = $7, enabled = $8, updated_at = $9, slots_after = $10, "
      "keep_last = $12, keep_days = $13, gfs_daily = $14, gfs_weekly = $15, gfs_monthly = $16 "
      "WHERE id = $11",
      {s.name, s.cron, s.time_zone, TenantIds(s), Tag(s), s.operation, s.jitter_seconds,
       int64_t{s.enabled ? 1 : 0}, s.updated_at, s.slots_after, s.id, OptParam(s.keep_last),
       OptParam(s.keep_days), OptParam(s.gfs_daily), OptParam(s.gfs_weekly),
       OptParam(s.gfs_monthly)});
  if (!n) return NameTaken(n.error());
  return *n == 1 ? Status::Ok() : Status::NotFound("schedule: does not exist");
}

Result<ScheduleRecord> Schedules::Get(Tx& tx, int64_t id) {
  auto rows = QueryAll(tx, std::string("SELECT ") + kCols + " FROM schedules WHERE id = $1", {id},
                       ReadSchedule);
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return Unexpected(Status::NotFound("schedule: does not exist"));
  return rows->front();
}

Result<std::vector<ScheduleRecord>> Schedules::List(Tx& tx, bool enabled_only) {
  return QueryAll(tx,
                  std::string("SELECT ") + kCols + " FROM schedules" +
                      (enabled_only ? " WHERE enabled = 1" : "") + " ORDER BY name",
                  {}, ReadSchedule);
}

Status Schedules::Delete(Tx& tx, int64_t id) {
  for (const char* sql : {"DELETE FROM schedule_fires WHERE schedule_id = $1",
                          "DELETE FROM schedule_slots WHERE schedule_id = $1"}) {
    if (auto n = tx.Exec(sql, {id}); !n) return n.error();
  }
  auto n = tx.Exec("DELETE FROM schedules WHERE id = $1", {id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("schedule: does not exist");
}

Result<bool> Schedules::AdvanceSlots(Tx& tx, int64_t id, int64_t expected, int64_t slot) {
  auto n = tx.Exec(
      "UPDATE schedules SET slots_after = $1 WHERE id = $2 AND slots_after = $3 AND enabled = 1",
      {slot, id, expected});
  if (!n) return Unexpected(n.error());
  return *n == 1;
}

Status Schedules::InsertSlot(Tx& tx, const SlotRecord& s) {
  json targets = json::array();
  for (const auto& t : s.targets)
    targets.push_back({{"tenant_id", t.tenant_id}, {"due_at", t.due_at}});
  auto n = tx.Exec(
      "INSERT INTO schedule_slots (schedule_id, slot_at, decided_at, decided_by, missed_count, "
      "missed, targets, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'firing')",
      {s.schedule_id, s.slot_at, s.decided_at, s.decided_by, s.missed_count, json(s.missed).dump(),
       targets.dump()});
  return n ? Status::Ok() : n.error();
}

Result<std::vector<SlotRecord>> Schedules::FiringSlots(Tx& tx) {
  return QueryAll(tx,
                  std::string("SELECT ") + kSlotCols +
                      " FROM schedule_slots WHERE state = 'firing' ORDER BY slot_at",
                  {}, ReadSlot);
}

Result<std::vector<SlotRecord>> Schedules::Slots(Tx& tx, int64_t schedule_id, int64_t limit) {
  return QueryAll(tx,
                  std::string("SELECT ") + kSlotCols +
                      " FROM schedule_slots WHERE schedule_id = $1 ORDER BY slot_at DESC LIMIT $2",
                  {schedule_id, limit}, ReadSlot);
}

Status Schedules::MarkFired(Tx& tx, int64_t schedule_id, int64_t slot_at, int64_t now_ms) {
  auto n = tx.Exec(
      "UPDATE schedule_slots SET state = 'fired', fired_at = $1 WHERE schedule_id = $2 AND "
      "slot_at = $3 AND state = 'firing'",
      {now_ms, schedule_id, slot_at});
  return n ? Status::Ok() : n.error();
}

Result<bool> Schedules::InsertFire(Tx& tx, const FireRecord& f) {
  auto n = tx.Exec(
      "INSERT INTO schedule_fires (schedule_id, slot_at, tenant_id, run_id, reused, fired_at) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
      {f.schedule_id, f.slot_at, f.tenant_id, f.run_id, int64_t{f.reused ? 1 : 0}, f.fired_at});
  if (!n) return Unexpected(n.error());
  return *n == 1;
}

Result<std::vector<FireRecord>> Schedules::Fires(Tx& tx, int64_t schedule_id, int64_t slot_at) {
  return QueryAll(tx,
                  std::string("SELECT ") + kFireCols +
                      " FROM schedule_fires WHERE schedule_id = $1 AND slot_at = $2 ORDER BY "
                      "tenant_id",
                  {schedule_id, slot_at}, ReadFire);
}

Result<std::vector<FireRecord>> Schedules::AllFires(Tx& tx, int64_t schedule_id) {
  return QueryAll(tx,
                  std::string("SELECT ") + kFireCols +
                      " FROM schedule_fires WHERE schedule_id = $1 ORDER BY slot_at, tenant_id",
                  {schedule_id}, ReadFire);
}

Result<std::vector<int64_t>> Schedules::TargetTenants(
    Tx& tx, const std::optional<std::vector<int64_t>>& ids, const std::optional<std::string>& tag) {
  auto rows = QueryAll(tx, "SELECT id, tags FROM tenants ORDER BY id", {}, [](const Row& row) {
    RowReader r(row);
    const int64_t id = r.Int();
    return std::pair<int64_t, std::string>(id, r.Text());
  });
  if (!rows) return Unexpected(rows.error());
  std::vector<int64_t> out;
  for (const auto& [id, tags] : *rows) {
    if (ids && std::find(ids->begin(), ids->end(), id) == ids->end()) continue;
    if (tag) {
      const json t = json::parse(tags, nullptr, false);
      if (!t.is_array() || std::find(t.begin(), t.end(), *tag) == t.end()) continue;
    }
    out.push_back(id);
  }
  return out;
}

}  // namespace ta::store
