#pragma once

// The job handlers (internal to ops; registered by RegisterHandlers).
#include "jobs/worker_pool.h"
#include "ops/operations.h"

namespace ta::ops {

jobs::JobResult RunInventorySync(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunConnectionCheck(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunCaptureSnapshot(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunBackupSetCreate(jobs::JobContext& ctx, OpsContext& ops);
jobs::JobResult RunRestore(jobs::JobContext& ctx, OpsContext& ops, bool execute);

}  // namespace ta::ops
