#pragma once

// The backup and restore job handlers, and their wiring.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/redactor.h"
#include "jobs/worker_pool.h"
#include "ops/graph_access.h"
#include "runs/operations.h"
#include "runs/run_service.h"

namespace ta::ops {

using runs::kBackupSetCreate;
using runs::kCaptureSnapshot;
using runs::kConnectionCheck;
using runs::kDriftFindingsRef;
using runs::kInventorySync;
using runs::kRestoreExecute;
using runs::kRestorePreview;
using runs::kScheduledBackup;

struct OpsContext {
  store::Database& db;
  Clock& clock;
  Redactor& redactor;
  GraphAccess& graph;
  // Seals encrypted values at capture and opens them for a restore.
  const SecretBox& box;
  // Fault-injection seam for crash tests: called with "after_create" right
  // after a restore's Graph create succeeds and before it is recorded.
  std::function<void(const std::string& event)> fault_hook;
};

// Registers the five handlers on a worker pool.
void RegisterHandlers(jobs::WorkerPool& pool, OpsContext& ctx);

// The start functions live in runs/ (Graph-free, so the API can use them).
using runs::RestoreRequest;
using runs::StartBackupSet;
using runs::StartCaptureSnapshot;
using runs::StartInventorySync;
using runs::StartRestore;
using runs::SuggestMapping;

}  // namespace ta::ops
