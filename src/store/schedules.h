#pragma once

// Schedules, their decided slots and each tenant's fire of a slot. The
// exactly-once rules live in the keys: a slot is decided by the one caller
// whose compare-and-set on slots_after succeeds; a tenant's run of a slot is
// started by the one transaction that inserts its schedule_fires row.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct ScheduleRecord {
  int64_t id = 0;
  std::string name;
  std::string cron;
  std::string time_zone;
  std::optional<std::vector<int64_t>> tenant_ids;  // nullopt = every tenant
  std::optional<std::string> tag;                  // only tenants with this tag
  std::string operation = "backup";
  int64_t jitter_seconds = 0;
  bool enabled = true;
  std::optional<int64_t> created_by;
  int64_t created_at = 0, updated_at = 0;
  int64_t slots_after = 0;  // slots at or before this instant (ms) are decided
  // Retention of the sets it made (schedule/retention.h); all nullopt: keep all.
  std::optional<int64_t> keep_last, keep_days, gfs_daily, gfs_weekly, gfs_monthly;
};

struct SlotTarget {
  int64_t tenant_id = 0;
  int64_t due_at = 0;  // the slot plus the tenant's jitter (ms)
};

struct SlotRecord {
  int64_t schedule_id = 0;
  int64_t slot_at = 0;
  int64_t decided_at = 0;
  std::string decided_by;
  int64_t missed_count = 0;
  std::vector<int64_t> missed;  // the first missed slots (ms)
  std::vector<SlotTarget> targets;
  std::string state = "firing";  // firing | fired
  std::optional<int64_t> fired_at;
};

struct FireRecord {
  int64_t schedule_id = 0;
  int64_t slot_at = 0;
  int64_t tenant_id = 0;
  int64_t run_id = 0;
  bool reused = false;
  int64_t fired_at = 0;
};

class Schedules {
 public:
  // A duplicate name is AlreadyExists naming the field.
  static Result<int64_t> Create(Tx& tx, const ScheduleRecord& s);
  // Every field but id and created_at/created_by.
  static Status Update(Tx& tx, const ScheduleRecord& s);
  static Result<ScheduleRecord> Get(Tx& tx, int64_t id);  // NotFound
  static Result<std::vector<ScheduleRecord>> List(Tx& tx, bool enabled_only);
  static Status Delete(Tx& tx, int64_t id);

  // Moves slots_after from `expected` to `slot`; false if another caller
  // already moved it (that caller decided the slot).
  static Result<bool> AdvanceSlots(Tx& tx, int64_t id, int64_t expected, int64_t slot);
  static Status InsertSlot(Tx& tx, const SlotRecord& slot);
  static Result<std::vector<SlotRecord>> FiringSlots(Tx& tx);
  // Newest first.
  static Result<std::vector<SlotRecord>> Slots(Tx& tx, int64_t schedule_id, int64_t limit);
  static Status MarkFired(Tx& tx, int64_t schedule_id, int64_t slot_at, int64_t now_ms);

  // False if the tenant's fire of this slot exists already (nothing written).
  static Result<bool> InsertFire(Tx& tx, const FireRecord& fire);
  static Result<std::vector<FireRecord>> Fires(Tx& tx, int64_t schedule_id, int64_t slot_at);
  // Every fire of a schedule, oldest slot first.
  static Result<std::vector<FireRecord>> AllFires(Tx& tx, int64_t schedule_id);

  // The tenants a schedule targets now: the listed ones that exist (or all),
  // with the tag if one is given; ascending ids.
  static Result<std::vector<int64_t>> TargetTenants(Tx& tx,
                                                    const std::optional<std::vector<int64_t>>& ids,
                                                    const std::optional<std::string>& tag);
};

}  // namespace ta::store
