#pragma once

// Starting the backup and restore operations. Each runs only as a job; these
// functions validate, compute the run's key and start (or reuse) the run.
// They read the store and never touch Graph, so the HTTP layer can call them
// (the job handlers that do the work live in ops/).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runs/run_service.h"

namespace ta::runs {

inline constexpr const char* kInventorySync = "inventory.sync";
inline constexpr const char* kCaptureSnapshot = "policy.capture_snapshot";
inline constexpr const char* kBackupSetCreate = "backup_set.create";
inline constexpr const char* kRestorePreview = "restore.preview";
inline constexpr const char* kRestoreExecute = "restore.execute";
inline constexpr const char* kConnectionCheck = "tenant.connection_check";
// A schedule's backup: an inventory sync, then a backup set of every policy.
inline constexpr const char* kScheduledBackup = "schedule.backup";
// A schedule's retention in one tenant: deletes the sets its rule lets go.
inline constexpr const char* kScheduleRetention = "schedule.retention";
// A tenant's own retention rule over all its sets.
inline constexpr const char* kTenantRetention = "tenant.retention";
// Drift detection: sync, capture, compare with the baseline (findings).
inline constexpr const char* kDriftDetect = "drift.detect";
// The item of a drift comparison: the findings it recorded.
inline constexpr const char* kDriftFindingsRef = "drift:findings";
// Started by a schedule (a drift detection names its schedule in the
// target): they tell their initiator only about failures.
inline bool IsScheduledRun(std::string_view type, const std::optional<std::string>& target) {
  return type == kScheduledBackup || type == kScheduleRetention || type == kTenantRetention ||
         (type == kDriftDetect && target && !target->empty());
}

Result<StartResult> StartInventorySync(RunService& runs, int64_t tenant_id,
                                       std::optional<int64_t> user_id);
// Can TenantAtlas get a token for the tenant, and read each object type? One
// item per check, a failed read naming the permission to grant. Writes nothing.
Result<StartResult> StartConnectionCheck(RunService& runs, int64_t tenant_id,
                                         std::optional<int64_t> user_id);
Result<StartResult> StartCaptureSnapshot(RunService& runs, int64_t tenant_id, int64_t policy_id,
                                         std::optional<int64_t> user_id);
// policy_ids: nullopt = every policy the tenant has (not gone).
Result<StartResult> StartBackupSet(RunService& runs, store::Database& db, int64_t tenant_id,
                                   const std::string& name,
                                   std::optional<std::vector<int64_t>> policy_ids,
                                   std::optional<int64_t> user_id);

// One tenant's run of a schedule's slot. The key holds the schedule only, so
// a slot that fires while the tenant's previous scheduled run is still queued
// or running reuses that run. `in_same_tx` records the fire with the run.
struct ScheduledBackup {
  int64_t tenant_id = 0;
  int64_t schedule_id = 0;
  int64_t slot_at = 0;             // ms
  std::string set_name;            // "Nightly 2026-11-30 02:00 CET"
  std::optional<int64_t> user_id;  // the schedule's creator: told when it fails
  bool detect_drift = false;       // then compare the set with the baseline
  std::function<Status(store::Tx&, const store::RunRecord&, bool reused)> in_same_tx;
};
Result<StartResult> StartScheduledBackup(RunService& runs, const ScheduledBackup& request);
// The tenant's own retention rule over every set it has (reuses an active one).
Result<StartResult> StartTenantRetention(RunService& runs, int64_t tenant_id,
                                         std::optional<int64_t> user_id);
// Drift detection in the tenant (a manual one reuses the tenant's active
// manual one). From a schedule: `scheduled` names it (slot, fire hook) and
// the key holds the schedule, as for StartScheduledBackup.
Result<StartResult> StartDriftDetection(RunService& runs, int64_t tenant_id,
                                        std::optional<int64_t> user_id,
                                        const ScheduledBackup* scheduled = nullptr);
// The schedule's retention in the tenant (reuses one still active).
Result<StartResult> StartRetention(RunService& runs, int64_t tenant_id, int64_t schedule_id,
                                   std::optional<int64_t> user_id);

struct RestoreRequest {
  int64_t actor_user_id = 0;
  int64_t source_tenant_id = 0;  // owns the backup set
  int64_t target_tenant_id = 0;  // the run belongs here
  int64_t backup_set_id = 0;
  std::optional<std::vector<int64_t>> item_ids;          // nullopt = the whole set
  std::map<std::string, std::string> group_mapping;      // source group id -> target group id
  std::string conditional_access_state = "report_only";  // or "as_backed_up"
};

// Preview (execute = false) or execute. The actor must be an operator or owner
// of both tenants (PermissionDenied otherwise); selected items must belong to
// the set. Execute's key is RestoreExecuteKey, as in the PHP system.
Result<StartResult> StartRestore(RunService& runs, store::Database& db,
                                 const RestoreRequest& request, bool execute);

// For a restore into another tenant: every object the set's items refer to
// (groups anywhere in a payload or its assignments, assignment filters, scope
// tags, notification templates; see catalog::FindReferences), with a
// suggested target object of the same kind whose display name matches
// exactly and uniquely. Each row is {"kind", "source_id", "source_name",
// "target_id"|null, "target_name", "suggested", "used_by", "in_backup" (the
// object is an item of the set: left unmapped, a restore that includes it
// creates it first and maps to it)} and, for kinds
// other than groups, "candidates": the target's objects of that kind
// [{"id", "name"}]. Suggestions are never applied by themselves.
Result<nlohmann::json> SuggestMapping(store::Database& db, int64_t source_tenant_id,
                                      int64_t target_tenant_id, int64_t backup_set_id);

}  // namespace ta::runs
