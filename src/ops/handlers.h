#pragma once

// The job handlers (internal to ops; registered by RegisterHandlers).
#include "jobs/worker_pool.h"
#include "ops/operations.h"
#include "ops/ops_common.h"
#include "store/inventory.h"

namespace ta::ops {

// The inventory sync's items (one per catalog type and directory list), and
// the sync itself as a phase of a larger run: `refs` are all the run's items
// (a cancel skips the rest of them). nullopt: every list recorded, go on.
std::vector<std::string> SyncRefs();
Next SyncInventory(jobs::JobContext& ctx, graph::GraphReader& reader,
                   const std::vector<std::string>& refs);
// A run's first phase: sets `refs` to the sync's items and syncs, unless an
// earlier attempt recorded every one of them (a resumed job goes straight on).
Next SyncOnce(jobs::JobContext& ctx, graph::GraphReader& reader, std::vector<std::string>& refs);

// The tenant's policies to capture: the listed ones, or every one not gone.
Result<std::vector<store::PolicyRecord>> LoadPolicies(
    store::Database& db, int64_t tenant, const std::optional<std::vector<int64_t>>& ids);
// Captures `policies` (refs[first_policy + i] is policies[i]'s item; those in
// `done` are skipped) a few at a time, into new or reused versions and, with
// a set, its items. nullopt: every item recorded, go on.
Next CaptureAll(jobs::JobContext& ctx, graph::GraphReader& reader, const SecretBox& box,
                const std::vector<store::PolicyRecord>& policies,
                std::optional<int64_t> backup_set_id, const std::vector<std::string>& refs,
                size_t first_policy, const ItemMap& done);

// Compares the tenant's live state with its baseline and records the
// findings (with their actors, from Intune's audit log) and the
// kDriftFindingsRef item in one transaction. The live state is `live_set`'s
// items (a scheduled backup that detects drift; its baseline is the one before
// it), else each policy's newest version (a drift run, after its captures).
// Objects whose capture or sync failed in this run are left as they were.
Next DetectDrift(jobs::JobContext& ctx, graph::GraphReader& reader,
                 std::optional<int64_t> live_set, const std::vector<std::string>& refs);

jobs::JobResult RunInventorySync(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunConnectionCheck(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunCaptureSnapshot(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunBackupSetCreate(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunDriftDetect(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunRestore(jobs::JobContext& ctx, OpsContext& ops, bool execute);

}  // namespace ta::ops
