#pragma once

// Backup sets and their items (frozen copies of policy versions). Typed
// records, every query scoped by tenant; all functions run inside the
// caller's Tx.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

// SQL: the policies the run `r` that fills a set set out to capture (its
// items other than a scheduled backup's sync lists and drift comparison).
inline constexpr const char* kSetExpectedSql =
    "(r.total - (SELECT COUNT(*) FROM run_items ri WHERE ri.run_id = r.id AND ri.item_ref NOT "
    "LIKE 'policy:%'))";

struct BackupSetRecord {
  int64_t id = 0, tenant_id = 0;
  std::string name, description;
  std::optional<int64_t> run_id, created_by;
  int64_t created_at = 0;
  bool pinned = false;         // legal hold: retention never deletes it
  bool baseline = false;       // drift detection compares the tenant with it
  // Made by accepting drift: a copy of this baseline with the live state of
  // the accepted object (no run; always complete).
  std::optional<int64_t> derived_from;
  int64_t item_count = 0;      // items the set holds
  int64_t expected_count = 0;  // policies its run set out to capture
  std::string run_status;      // of the run that filled it
  // Derived, never stored: "complete" when its run succeeded and it holds every
  // expected policy; "incomplete" when the run ended otherwise; "in_progress".
  std::string Status() const;
};

struct BackupItemRecord {
  int64_t id = 0, tenant_id = 0, backup_set_id = 0, policy_id = 0, policy_version_id = 0;
  std::string type, graph_id, display_name, payload, assignments, content_hash;
  int64_t created_at = 0;
};

class BackupSets {
 public:
  // The set filled by `run_id`, created on first call (a retried job finds it).
  static Result<int64_t> ForRun(Tx& tx, int64_t tenant_id, int64_t run_id, const std::string& name,
                                const std::string& description, std::optional<int64_t> created_by,
                                int64_t now_ms);
  // Adds a policy's item once; a second add of the same policy is a no-op.
  static Status AddItem(Tx& tx, const BackupItemRecord& item);

  // PermissionDenied when the set is another tenant's, NotFound when none.
  static Result<BackupSetRecord> Get(Tx& tx, int64_t tenant_id, int64_t set_id);
  // Newest first; `before_id` is the cursor.
  static Result<std::vector<BackupSetRecord>> List(Tx& tx, int64_t tenant_id,
                                                   std::optional<int64_t> before_id, int64_t limit);
  // The set's items in id order: the listed ones, or all; after `after_id`.
  static Result<std::vector<BackupItemRecord>> Items(Tx& tx, int64_t tenant_id, int64_t set_id,
                                                     const std::optional<std::vector<int64_t>>& ids,
                                                     int64_t after_id = 0, int64_t limit = -1);
  static Status SetPinned(Tx& tx, int64_t tenant_id, int64_t set_id, bool pinned);
  // The sets a schedule's backups made in the tenant, newest first.
  static Result<std::vector<BackupSetRecord>> OfSchedule(Tx& tx, int64_t tenant_id,
                                                         int64_t schedule_id);
  // Each of the tenant's sets made by a schedule's backup, with the schedule.
  static Result<std::vector<std::pair<int64_t, int64_t>>> ScheduleOfSets(Tx& tx,
                                                                        int64_t tenant_id);
  // The tenant's newest set whose run succeeded, or made by accepting drift
  // (retention never deletes it).
  static Result<std::optional<int64_t>> NewestSucceeded(Tx& tx, int64_t tenant_id);
  // Deletes the set, its items and the versions nothing else needs (only
  // this set references them and a newer version of the policy exists).
  // A pinned set is FailedPrecondition.
  struct Deleted {
    int64_t items = 0, versions = 0, payload_bytes = 0;
  };
  static Result<Deleted> Delete(Tx& tx, int64_t tenant_id, int64_t set_id);
  // (type, items of that type) for the set, by type.
  static Result<std::vector<std::pair<std::string, int64_t>>> CountByType(Tx& tx,
                                                                          int64_t tenant_id,
                                                                          int64_t set_id);
  // How many of `ids` (or, without them, all items) belong to the set.
  static Result<int64_t> CountItems(Tx& tx, int64_t set_id,
                                    const std::optional<std::vector<int64_t>>& ids);
};

}  // namespace ta::store
