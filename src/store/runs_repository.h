#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

enum class RunStatus { kQueued, kRunning, kSucceeded, kPartiallySucceeded, kFailed, kCancelled };

std::string_view ToString(RunStatus s);
std::optional<RunStatus> ParseRunStatus(std::string_view s);
bool IsTerminal(RunStatus s);
// queued → running | cancelled | failed; running → any terminal state.
// Nothing leaves a terminal state.
bool IsLegalTransition(RunStatus from, RunStatus to);

struct RunRecord {
  int64_t id = 0;
  int64_t tenant_id = 0;
  std::string type;
  RunStatus status = RunStatus::kQueued;
  std::string idempotency_key;
  std::optional<std::string> target_id;
  std::optional<int64_t> initiator_user_id;
  std::string params = "{}";
  int64_t total = 0, processed = 0, succeeded = 0, failed = 0, skipped = 0;
  std::optional<std::string> error_code, error_message;
  bool cancel_requested = false;
  int64_t created_at = 0;
  std::optional<int64_t> started_at, finished_at;
  int64_t updated_at = 0;
};

struct NewRun {
  int64_t tenant_id = 0;
  std::string type;
  std::string idempotency_key;
  std::optional<std::string> target_id;
  std::optional<int64_t> initiator_user_id;
  std::string params = "{}";
  int64_t total = 0;
};

struct CreateOrReuseResult {
  RunRecord run;
  bool reused = false;
};

// Per-item outcome. Status strings are the operation's outcomes (created,
// updated, unchanged, failed, skipped, would_create, ...); "failed" counts as
// failed, "skipped"/"cancelled" as skipped, "pending" as not yet processed, and
// anything else as succeeded.
struct RunItem {
  std::string item_ref;
  std::string status;
  std::optional<std::string> action, graph_id, error_code, error_message, details;
};

struct RunFilter {
  std::optional<std::string> status;  // a RunStatus name
  std::optional<std::string> type;
  bool active_only = false;                             // queued or running
  std::optional<int64_t> before_id;                     // cursor: ids below this one
  std::optional<int64_t> created_from, created_before;  // unix ms: [from, before)
  int64_t limit = 50;
};

// Every query takes the tenant id. All functions run inside the caller's Tx.
class RunsRepository {
 public:
  // Atomic create-or-reuse: one INSERT .. ON CONFLICT DO NOTHING against the
  // partial unique index over active runs; when it conflicts, the active run
  // is returned with reused = true. Never creates two active runs for a key.
  static Result<CreateOrReuseResult> CreateOrReuse(Tx& tx, const NewRun& run, int64_t now_ms);

  // Set-based starts (RunService::StartMany): the active runs of these
  // (tenant, key) pairs, in one statement; and new queued runs inserted in one
  // statement. A run whose key already has an active run (one committed since
  // ActiveByKeys looked) is not inserted and not returned; the caller matches
  // the returned runs to its requests by (tenant, key), and the keys must be
  // distinct.
  static Result<std::vector<RunRecord>> ActiveByKeys(
      Tx& tx, const std::vector<std::pair<int64_t, std::string>>& keys);
  static Result<std::vector<RunRecord>> CreateMany(Tx& tx, const std::vector<NewRun>& runs,
                                                   int64_t now_ms);

  // NotFound when no such run exists; PermissionDenied when it belongs to
  // another tenant (the API maps that to 403).
  static Result<RunRecord> Get(Tx& tx, int64_t tenant_id, int64_t run_id);

  // Validated status change; Conflict (naming both states) when illegal or when
  // the run changed concurrently.
  static Status Transition(Tx& tx, int64_t tenant_id, int64_t run_id, RunStatus to, int64_t now_ms,
                           std::optional<std::string> error_code = std::nullopt,
                           std::optional<std::string> error_message = std::nullopt);

  // queued -> running (the transition IsLegalTransition allows) for each run
  // still queued, in one statement for a claimed batch; a run already running
  // (a retried job's) is left as it is.
  static Status MarkRunning(Tx& tx, const std::vector<int64_t>& run_ids, int64_t now_ms);

  static Status SetTotal(Tx& tx, int64_t tenant_id, int64_t run_id, int64_t total, int64_t now_ms);
  static Status RequestCancel(Tx& tx, int64_t tenant_id, int64_t run_id, int64_t now_ms);

  // Upserts by (run_id, item_ref) and moves the run's counters by the change in
  // the item's outcome, so a retried item updates its row and counts once.
  static Status UpsertItem(Tx& tx, int64_t tenant_id, int64_t run_id, const RunItem& item,
                           int64_t now_ms);
  static Result<std::vector<RunItem>> Items(Tx& tx, int64_t tenant_id, int64_t run_id);
  // How many runs there are of each (type, status), across tenants (/metrics).
  struct Census {
    std::string type, status;
    int64_t count = 0;
  };
  static Result<std::vector<Census>> CountByTypeAndStatus(Tx& tx);

  // Runs whose updated_at is at or after `since_ms` (indexed): what the stream
  // hub looks at each tick. At most `limit`, oldest change first.
  struct Change {
    int64_t id = 0, tenant_id = 0, updated_at = 0;
  };
  static Result<std::vector<Change>> ChangedSince(Tx& tx, int64_t since_ms, int64_t limit);

  // A page of the run's items in id order, optionally with one outcome only.
  struct ItemRow {
    int64_t id = 0;
    RunItem item;
    int64_t attempts = 0, updated_at = 0;
  };
  static Result<std::vector<ItemRow>> ItemsPage(Tx& tx, int64_t tenant_id, int64_t run_id,
                                                std::optional<std::string> status, int64_t after_id,
                                                int64_t limit);

  // Recomputes the run's counters from its item rows (the truth; the counters
  // UpsertItem moves are only a live estimate) and returns the run, plus its
  // first failed item, if any.
  struct Recounted {
    RunRecord run;
    std::optional<RunItem> first_failure;
  };
  static Result<Recounted> Recount(Tx& tx, int64_t tenant_id, int64_t run_id, int64_t now_ms);

  // Newest first. `tenant_ids` scopes the query (one tenant, or the tenants a
  // user belongs to for the cross-tenant progress widget); never empty.
  static Result<std::vector<RunRecord>> List(Tx& tx, const std::vector<int64_t>& tenant_ids,
                                             const RunFilter& filter);
};

// After a tenant-scoped lookup of `table`.id found nothing: PermissionDenied
// when the row exists in another tenant, else NotFound. `what` names the
// record in the message ("run 7 belongs to another tenant").
Status MissingOrForeign(Tx& tx, std::string_view table, int64_t id, std::string_view what);

}  // namespace ta::store
