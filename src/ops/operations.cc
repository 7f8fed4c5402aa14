#include "ops/operations.h"

#include "core/idempotency.h"
#include "ops/handlers.h"

namespace ta::ops {

void RegisterHandlers(jobs::WorkerPool& pool, OpsContext& ctx) {
  pool.Register(kInventorySync, [&ctx](jobs::JobContext& c) { return RunInventorySync(c, ctx); });
  pool.Register(kConnectionCheck,
                [&ctx](jobs::JobContext& c) { return RunConnectionCheck(c, ctx); });
  pool.Register(kCaptureSnapshot,
                [&ctx](jobs::JobContext& c) { return RunCaptureSnapshot(c, ctx); });
  pool.Register(kBackupSetCreate,
                [&ctx](jobs::JobContext& c) { return RunBackupSetCreate(c, ctx); });
  pool.Register(kScheduledBackup,
                [&ctx](jobs::JobContext& c) { return RunBackupSetCreate(c, ctx); });
  pool.Register(runs::kDriftDetect,
                [&ctx](jobs::JobContext& c) { return RunDriftDetect(c, ctx); });
  pool.Register(kRestorePreview, [&ctx](jobs::JobContext& c) { return RunRestore(c, ctx, false); });
  pool.Register(kRestoreExecute, [&ctx](jobs::JobContext& c) { return RunRestore(c, ctx, true); });
}

}  // namespace ta::ops
