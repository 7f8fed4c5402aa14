#pragma once

// Helpers shared by the operation handlers (internal to ops).

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/graph_error.h"
#include "jobs/worker_pool.h"
#include "store/audit_log.h"
#include "store/runs_repository.h"

namespace ta::ops {

int64_t NowMs(jobs::JobContext& ctx);

// The run's items so far, by item_ref (to skip what a previous attempt finished).
std::map<std::string, store::RunItem> ExistingItems(jobs::JobContext& ctx);
bool Done(const std::map<std::string, store::RunItem>& items, const std::string& ref);

// Records an item outcome (and optional audit entry) in one transaction.
Status RecordItem(jobs::JobContext& ctx, const store::RunItem& item,
                  const std::optional<store::AuditEntry>& audit = std::nullopt);
// A failed item from a Graph error: code, redacted message.
store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const graph::GraphError& e);
store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const std::string& code, const std::string& message);

// Marks every listed ref not yet done as skipped ("cancelled before it ran").
void SkipRemaining(jobs::JobContext& ctx, const std::vector<std::string>& refs,
                   const std::map<std::string, store::RunItem>& done);

// Maps a whole-job failure to the job result: transient -> retry, else fail.
jobs::JobResult JobFailure(const Status& s);

}  // namespace ta::ops
