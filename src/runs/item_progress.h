#pragma once

// A run's item progress and outcomes, as its job handler records them. The
// rule they enforce: an item whose outcome cannot be stored is never dropped.
// Every write of an item's outcome returns a Status; a failed one ends the
// attempt (ItemNotRecorded -> JobResult::Retry), and the job resumes from its
// checkpoint (the item rows already stored). Finish() refuses to report
// success while any item of the attempt has no outcome. Handlers in ops/ add
// only what concerns Graph (ops/ops_common.h).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/worker_pool.h"
#include "store/audit_log.h"
#include "store/runs_repository.h"

namespace ta::runs {

using ItemMap = std::map<std::string, store::RunItem>;

// The job clock's now, in Unix milliseconds.
int64_t NowMs(jobs::JobContext& ctx);

// The run's items so far, by item_ref (to skip what a previous attempt
// finished). A read error is an error, never "nothing done yet".
Result<ItemMap> ExistingItems(jobs::JobContext& ctx);
bool Done(const ItemMap& items, const std::string& ref);

// Records an item outcome (and optional audit entry) in one transaction.
Status RecordItem(jobs::JobContext& ctx, const store::RunItem& item,
                  const std::optional<store::AuditEntry>& audit = std::nullopt);
// Sets the run's item total.
Status SetTotal(jobs::JobContext& ctx, int64_t total);

// A failed item: its code and message.
store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const std::string& code, const std::string& message);

// Record*, with what a handler does next: nullopt when the outcome is stored
// (go on to the next item), else the JobResult that ends the attempt. Use as
//   if (auto stop = Record(ctx, item)) return *stop;
using Next = std::optional<jobs::JobResult>;
Next Record(jobs::JobContext& ctx, const store::RunItem& item,
            const std::optional<store::AuditEntry>& audit = std::nullopt);

// The attempt ends because `ref`'s outcome could not be stored: a retryable
// failure naming the item, so the job resumes from its checkpoint.
jobs::JobResult ItemNotRecorded(const std::string& ref, const Status& s);

// Marks every listed ref not yet done as skipped ("cancelled before it ran"),
// then ends the attempt as cancelled (or as a retry when a write failed).
jobs::JobResult CancelRemaining(jobs::JobContext& ctx, const std::vector<std::string>& refs);

// The end of an attempt that processed `refs`: Success only when every ref has
// an outcome in the store; otherwise a retry that says how many have none.
jobs::JobResult Finish(jobs::JobContext& ctx, const std::vector<std::string>& refs);

// Maps a whole-job failure to the job result: transient -> retry, else fail.
jobs::JobResult JobFailure(const Status& s);

}  // namespace ta::runs
