#pragma once

// The job handlers (internal to ops; registered by RegisterHandlers).
#include "jobs/worker_pool.h"
#include "ops/operations.h"
#include "ops/ops_common.h"

namespace ta::ops {

// The inventory sync's items (one per catalog type and directory list), and
// the sync itself as a phase of a larger run: `refs` are all the run's items
// (a cancel skips the rest of them). nullopt: every list recorded, go on.
std::vector<std::string> SyncRefs();
Next SyncInventory(jobs::JobContext& ctx, graph::GraphReader& reader,
                   const std::vector<std::string>& refs);

jobs::JobResult RunInventorySync(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunConnectionCheck(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunCaptureSnapshot(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunBackupSetCreate(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunRestore(jobs::JobContext& ctx, OpsContext& ops, bool execute);

}  // namespace ta::ops
