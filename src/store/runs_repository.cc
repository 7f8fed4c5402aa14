#include "store/runs_repository.h"

#include <array>

#include "store/row_reader.h"
#include "store/sql_text.h"

namespace ta::store {
namespace {

constexpr std::array<std::string_view, 6> kNames = {
    "queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled"};

constexpr const char* kRunColumns =
    "id, tenant_id, type, status, idempotency_key, target_id, initiator_user_id, params, total, "
    "processed, succeeded, failed, skipped, error_code, error_message, cancel_requested, "
    "created_at, started_at, finished_at, updated_at";

RunRecord FromRow(const Row& r) {
  RunRecord run;
  run.id = r.Int(0);
  run.tenant_id = r.Int(1);
  run.type = r.Text(2);
  run.status = ParseRunStatus(r.Text(3)).value_or(RunStatus::kFailed);
  run.idempotency_key = r.Text(4);
  run.target_id = r.OptText(5);
  run.initiator_user_id = r.OptInt(6);
  run.params = r.Text(7);
  run.total = r.Int(8);
  run.processed = r.Int(9);
  run.succeeded = r.Int(10);
  run.failed = r.Int(11);
  run.skipped = r.Int(12);
  run.error_code = r.OptText(13);
  run.error_message = r.OptText(14);
  run.cancel_requested = r.Int(15) != 0;
  run.created_at = r.Int(16);
  run.started_at = r.OptInt(17);
  run.finished_at = r.OptInt(18);
  run.updated_at = r.Int(19);
  return run;
}

enum Bucket { kNone, kSucceeded, kFailed, kSkipped };
Bucket BucketOf(std::string_view status) {
  if (status.empty() || status == "pending") return kNone;
  if (status == "failed") return kFailed;
  if (status == "skipped" || status == "cancelled") return kSkipped;
  return kSucceeded;
}

}  // namespace

std::string_view ToString(RunStatus s) { return kNames[static_cast<size_t>(s)]; }

std::optional<RunStatus> ParseRunStatus(std::string_view s) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == s) return static_cast<RunStatus>(i);
  return std::nullopt;
}

bool IsTerminal(RunStatus s) { return s != RunStatus::kQueued && s != RunStatus::kRunning; }

bool IsLegalTransition(RunStatus from, RunStatus to) {
  if (IsTerminal(from)) return false;
  if (from == RunStatus::kQueued)
    return to == RunStatus::kRunning || to == RunStatus::kCancelled || to == RunStatus::kFailed;
  return IsTerminal(to);  // from running
}

namespace {

// INSERT of new runs, `rows` of them (NewRunParams each): a key that already
// has an active run inserts nothing and returns no row.
std::string InsertRuns(size_t rows) {
  return "INSERT INTO runs (tenant_id, type, status, idempotency_key, target_id, "
         "initiator_user_id, params, total, created_at, updated_at) VALUES " +
         ValuesRows(rows, "($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $8)", 8) +
         " ON CONFLICT (tenant_id, idempotency_key) WHERE status IN ('queued', 'running') DO "
         "NOTHING RETURNING " +
         kRunColumns;
}

void AppendNewRun(Params& p, const NewRun& run, int64_t now_ms) {
  p.insert(p.end(), {run.tenant_id, run.type, run.idempotency_key, OptParam(run.target_id),
                     OptParam(run.initiator_user_id), run.params, run.total, now_ms});
}

}  // namespace

Result<CreateOrReuseResult> RunsRepository::CreateOrReuse(Tx& tx, const NewRun& run,
                                                          int64_t now_ms) {
  const std::string insert = InsertRuns(1);
  const std::string active = std::string("SELECT ") + kRunColumns +
                             " FROM runs WHERE tenant_id = $1 AND idempotency_key = $2 AND "
                             "status IN ('queued', 'running')";
  // Reuse first, as a pure read: a reused start must not even draw an id from
  // the sequence (an INSERT that conflicts still does, on PostgreSQL).
  auto found = tx.Query(active, {run.tenant_id, run.idempotency_key});
  if (!found) return Unexpected(found.error());
  if (!found->empty()) return CreateOrReuseResult{FromRow(found->front()), true};
  // The loop covers the window where the conflicting run ends between our
  // INSERT and our SELECT (PostgreSQL, READ COMMITTED): then we insert again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    Params params;
    AppendNewRun(params, run, now_ms);
    auto rows = tx.Query(insert, params);
    if (!rows) return Unexpected(rows.error());
    if (!rows->empty()) return CreateOrReuseResult{FromRow(rows->front()), false};
    auto existing = tx.Query(active, {run.tenant_id, run.idempotency_key});
    if (!existing) return Unexpected(existing.error());
    if (!existing->empty()) return CreateOrReuseResult{FromRow(existing->front()), true};
  }
  return Unexpected(Status::Unavailable("run key kept changing state; retry the request"));
}

Result<std::vector<RunRecord>> RunsRepository::ActiveByKeys(
    Tx& tx, const std::vector<std::pair<int64_t, std::string>>& keys) {
  std::vector<RunRecord> out;
  if (keys.empty()) return out;
  // A join with the pairs: one probe of the active-key index per pair, where
  // "tenant in (...) and key in (...)" would read every active run of the
  // tenants.
  Params params;
  params.reserve(keys.size() * 2);
  for (const auto& [tenant, key] : keys) params.insert(params.end(), {tenant, key});
  // (The VALUES columns are column1 and column2, so the run columns need no
  // table prefix.)
  auto rows = tx.Query(std::string("SELECT ") + kRunColumns + " FROM runs JOIN (VALUES " +
                           ValuesRows(keys.size(), "(CAST($1 AS BIGINT), $2)", 2) +
                           ") AS v ON tenant_id = v.column1 AND idempotency_key = v.column2 "
                           "WHERE status IN ('queued', 'running')",
                       params);
  if (!rows) return Unexpected(rows.error());
  for (const auto& row : *rows) out.push_back(FromRow(row));
  return out;
}

Result<std::vector<RunRecord>> RunsRepository::CreateMany(Tx& tx, const std::vector<NewRun>& runs,
                                                          int64_t now_ms) {
  if (runs.empty()) return std::vector<RunRecord>{};
  Params params;
  params.reserve(runs.size() * 8);
  for (const auto& run : runs) AppendNewRun(params, run, now_ms);
  auto rows = tx.Query(InsertRuns(runs.size()), params);
  if (!rows) return Unexpected(rows.error());
  std::vector<RunRecord> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) out.push_back(FromRow(row));
  return out;
}

Result<RunRecord> RunsRepository::Get(Tx& tx, int64_t tenant_id, int64_t run_id) {
  auto rows =
      tx.Query(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = $1 AND tenant_id = $2",
               {run_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (!rows->empty()) return FromRow(rows->front());
  return Unexpected(MissingOrForeign(tx, "runs", run_id, "run"));
}

Status MissingOrForeign(Tx& tx, std::string_view table, int64_t id, std::string_view what) {
  auto other = tx.Query("SELECT 1 FROM " + std::string(table) + " WHERE id = $1", {id});
  if (!other) return other.error();
  const std::string name = std::string(what) + " " + std::to_string(id);
  if (!other->empty()) return Status::PermissionDenied(name + " belongs to another tenant");
  return Status::NotFound(name + " does not exist");
}

Status RunsRepository::Transition(Tx& tx, int64_t tenant_id, int64_t run_id, RunStatus to,
                                  int64_t now_ms, std::optional<std::string> error_code,
                                  std::optional<std::string> error_message) {
  auto run = Get(tx, tenant_id, run_id);
  if (!run) return run.error();
  if (!IsLegalTransition(run->status, to)) {
    return Status::Conflict("run " + std::to_string(run_id) + " cannot move from " +
                            std::string(ToString(run->status)) + " to " +
                            std::string(ToString(to)) +
                            (IsTerminal(run->status) ? "; it has already ended" : ""));
  }
  auto n = tx.Exec(
      "UPDATE runs SET status = $1, updated_at = $2, "
      "started_at = CASE WHEN $1 = 'running' THEN COALESCE(started_at, $2) ELSE started_at END, "
      "finished_at = CASE WHEN $1 IN ('queued', 'running') THEN NULL ELSE $2 END, "
      "error_code = COALESCE($3, error_code), error_message = COALESCE($4, error_message) "
      "WHERE id = $5 AND tenant_id = $6 AND status = $7",
      {std::string(ToString(to)), now_ms, OptParam(error_code), OptParam(error_message), run_id,
       tenant_id, std::string(ToString(run->status))});
  if (!n) return n.error();
  if (*n != 1)
    return Status::Conflict("run " + std::to_string(run_id) + " changed concurrently; retry");
  return Status::Ok();
}

Status RunsRepository::MarkRunning(Tx& tx, const std::vector<int64_t>& run_ids, int64_t now_ms) {
  if (run_ids.empty()) return Status::Ok();
  auto n = tx.Exec(
      "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, $1), updated_at = $1 "
      "WHERE status = 'queued' AND " +
          InIdArray(tx.backend(), "id", 2),
      {now_ms, IdArray(tx.backend(), run_ids)});
  return n ? Status::Ok() : n.error();
}

Status RunsRepository::SetTotal(Tx& tx, int64_t tenant_id, int64_t run_id, int64_t total,
                                int64_t now_ms) {
  auto n = tx.Exec("UPDATE runs SET total = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4",
                   {total, now_ms, run_id, tenant_id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok() : Status::NotFound("run " + std::to_string(run_id));
}

Status RunsRepository::RequestCancel(Tx& tx, int64_t tenant_id, int64_t run_id, int64_t now_ms) {
  auto n = tx.Exec(
      "UPDATE runs SET cancel_requested = 1, updated_at = $1 WHERE id = $2 AND tenant_id = $3 AND "
      "status IN ('queued', 'running')",
      {now_ms, run_id, tenant_id});
  if (!n) return n.error();
  return *n == 1 ? Status::Ok()
                 : Status::Conflict("run " + std::to_string(run_id) + " is not active");
}

Status RunsRepository::UpsertItem(Tx& tx, int64_t tenant_id, int64_t run_id, const RunItem& item,
                                  int64_t now_ms) {
  auto prev = tx.Query(
      "SELECT status FROM run_items WHERE run_id = $1 AND item_ref = $2 AND tenant_id = $3",
      {run_id, item.item_ref, tenant_id});
  if (!prev) return prev.error();
  const Bucket before = prev->empty() ? kNone : BucketOf(prev->front().Text(0));
  const Bucket after = BucketOf(item.status);
  auto up = tx.Exec(
      "INSERT INTO run_items (run_id, tenant_id, item_ref, status, action, graph_id, error_code, "
      "error_message, details, attempts, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) "
      "ON CONFLICT (run_id, item_ref) DO UPDATE SET status = excluded.status, "
      "action = excluded.action, graph_id = COALESCE(excluded.graph_id, run_items.graph_id), "
      "error_code = excluded.error_code, error_message = excluded.error_message, "
      "details = excluded.details, attempts = run_items.attempts + 1, updated_at = "
      "excluded.updated_at",
      {run_id, tenant_id, item.item_ref, item.status, OptParam(item.action),
       OptParam(item.graph_id), OptParam(item.error_code), OptParam(item.error_message),
       OptParam(item.details), now_ms});
  if (!up) return up.error();
  if (before == after) return Status::Ok();
  auto delta = [&](Bucket b) -> int64_t { return (after == b ? 1 : 0) - (before == b ? 1 : 0); };
  auto n = tx.Exec(
      "UPDATE runs SET processed = processed + $1, succeeded = succeeded + $2, failed = failed + "
      "$3, "
      "skipped = skipped + $4, updated_at = $5 WHERE id = $6 AND tenant_id = $7",
      {int64_t{(after != kNone ? 1 : 0) - (before != kNone ? 1 : 0)}, delta(kSucceeded),
       delta(kFailed), delta(kSkipped), now_ms, run_id, tenant_id});
  if (!n) return n.error();
  return Status::Ok();
}

Result<std::vector<RunItem>> RunsRepository::Items(Tx& tx, int64_t tenant_id, int64_t run_id) {
  auto rows = tx.Query(
      "SELECT item_ref, status, action, graph_id, error_code, error_message, details FROM "
      "run_items "
      "WHERE run_id = $1 AND tenant_id = $2 ORDER BY id",
      {run_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  std::vector<RunItem> out;
  for (const auto& r : *rows) {
    out.push_back(RunItem{r.Text(0), r.Text(1), r.OptText(2), r.OptText(3), r.OptText(4),
                          r.OptText(5), r.OptText(6)});
  }
  return out;
}

Result<RunsRepository::Recounted> RunsRepository::Recount(Tx& tx, int64_t tenant_id, int64_t run_id,
                                                          int64_t now_ms) {
  // The buckets of BucketOf, in SQL.
  auto n = tx.Exec(
      "UPDATE runs SET "
      "processed = (SELECT COUNT(*) FROM run_items i WHERE i.run_id = runs.id AND i.status NOT IN "
      "('', 'pending')), "
      "succeeded = (SELECT COUNT(*) FROM run_items i WHERE i.run_id = runs.id AND i.status NOT IN "
      "('', 'pending', 'failed', 'skipped', 'cancelled')), "
      "failed = (SELECT COUNT(*) FROM run_items i WHERE i.run_id = runs.id AND i.status = "
      "'failed'), "
      "skipped = (SELECT COUNT(*) FROM run_items i WHERE i.run_id = runs.id AND i.status IN "
      "('skipped', 'cancelled')), "
      "updated_at = $1 WHERE id = $2 AND tenant_id = $3",
      {now_ms, run_id, tenant_id});
  if (!n) return Unexpected(n.error());
  auto run = Get(tx, tenant_id, run_id);
  if (!run) return Unexpected(run.error());
  Recounted out{*run, std::nullopt};
  if (run->failed > 0) {
    auto rows = tx.Query(
        "SELECT item_ref, status, action, graph_id, error_code, error_message, details FROM "
        "run_items WHERE run_id = $1 AND tenant_id = $2 AND status = 'failed' ORDER BY id LIMIT 1",
        {run_id, tenant_id});
    if (!rows) return Unexpected(rows.error());
    if (!rows->empty()) {
      const Row& r = rows->front();
      out.first_failure = RunItem{r.Text(0),    r.Text(1),    r.OptText(2), r.OptText(3),
                                  r.OptText(4), r.OptText(5), r.OptText(6)};
    }
  }
  return out;
}

Result<std::vector<RunsRepository::Census>> RunsRepository::CountByTypeAndStatus(Tx& tx) {
  return QueryAll(tx, "SELECT type, status, COUNT(*) FROM runs GROUP BY type, status ORDER BY 1, 2",
                  {}, [](const Row& row) {
                    RowReader r(row);
                    Census c;
                    c.type = r.Text();
                    c.status = r.Text();
                    c.count = r.Int();
                    return c;
                  });
}

Result<std::vector<RunsRepository::Change>> RunsRepository::ChangedSince(Tx& tx, int64_t since_ms,
                                                                         int64_t limit) {
  return QueryAll(tx,
                  "SELECT id, tenant_id, updated_at FROM runs WHERE updated_at >= $1 "
                  "ORDER BY updated_at LIMIT $2",
                  {since_ms, limit}, [](const Row& row) {
                    RowReader r(row);
                    Change c;
                    c.id = r.Int();
                    c.tenant_id = r.Int();
                    c.updated_at = r.Int();
                    return c;
                  });
}

Result<std::vector<RunsRepository::ItemRow>> RunsRepository::ItemsPage(
    Tx& tx, int64_t tenant_id, int64_t run_id, std::optional<std::string> status, int64_t after_id,
    int64_t limit) {
  return QueryAll(
      tx,
      "SELECT id, item_ref, status, action, graph_id, error_code, error_message, details, "
      "attempts, updated_at FROM run_items WHERE tenant_id = $1 AND run_id = $2 AND "
      "(CAST($3 AS TEXT) IS NULL OR status = $3) AND id > $4 ORDER BY id LIMIT $5",
      {tenant_id, run_id, status ? Param(*status) : Param(nullptr), after_id, limit},
      [](const Row& row) {
        RowReader r(row);
        ItemRow i;
        i.id = r.Int();
        i.item.item_ref = r.Text();
        i.item.status = r.Text();
        i.item.action = r.OptText();
        i.item.graph_id = r.OptText();
        i.item.error_code = r.OptText();
        i.item.error_message = r.OptText();
        i.item.details = r.OptText();
        i.attempts = r.Int();
        i.updated_at = r.Int();
        return i;
      });
}

Result<std::vector<RunRecord>> RunsRepository::List(Tx& tx, const std::vector<int64_t>& tenant_ids,
                                                    const RunFilter& f) {
  // Absent filters are NULL parameters, so one statement (and one prepared
  // plan) serves every combination.
  const std::string sql =
      std::string("SELECT ") + kRunColumns + " FROM runs WHERE " +
      InIdArray(tx.backend(), "tenant_id", 1) +
      " AND (CAST($2 AS TEXT) IS NULL OR status = $2) AND (CAST($3 AS TEXT) IS NULL OR type = $3)"
      " AND (CAST($4 AS BIGINT) IS NULL OR id < $4) AND ($5 = 0 OR status IN ('queued', "
      "'running')) AND (CAST($7 AS BIGINT) IS NULL OR created_at >= $7) AND (CAST($8 AS BIGINT) IS "
      "NULL OR created_at < $8) ORDER BY id DESC LIMIT $6";
  auto rows = tx.Query(
      sql, {IdArray(tx.backend(), tenant_ids), f.status ? Param(*f.status) : Param(nullptr),
            f.type ? Param(*f.type) : Param(nullptr),
            f.before_id ? Param(*f.before_id) : Param(nullptr), int64_t{f.active_only ? 1 : 0},
            f.limit, f.created_from ? Param(*f.created_from) : Param(nullptr),
            f.created_before ? Param(*f.created_before) : Param(nullptr)});
  if (!rows) return Unexpected(rows.error());
  std::vector<RunRecord> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(FromRow(r));
  return out;
}

}  // namespace ta::store
