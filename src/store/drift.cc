#include "store/drift.h"

#include <set>

#include "store/backup_sets.h"
#include "store/row_reader.h"
#include "store/runs_repository.h"

namespace ta::store {

namespace {

constexpr const char* kSelect =
    "SELECT id, tenant_id, policy_type, graph_id, display_name, kind, status, baseline_set_id, "
    "baseline_item_id, live_version_id, diff, actor, actor_detail, changed_at, first_run_id, "
    "last_run_id, first_seen_at, last_seen_at, closed_at, closed_by, revert_run_id, "
    "accepted_set_id, close_note FROM drift_findings ";

DriftFinding Read(const Row& row) {
  RowReader r(row);
  DriftFinding f;
  f.id = r.Int();
  f.tenant_id = r.Int();
  f.type = r.Text();
  f.graph_id = r.Text();
  f.display_name = r.Text();
  f.kind = r.Text();
  f.status = r.Text();
  f.baseline_set_id = r.OptInt();
  f.baseline_item_id = r.OptInt();
  f.live_version_id = r.OptInt();
  f.diff = r.Text();
  f.actor = r.Text();
  f.actor_detail = r.Text();
  f.changed_at = r.OptInt();
  f.first_run_id = r.Int();
  f.last_run_id = r.Int();
  f.first_seen_at = r.Int();
  f.last_seen_at = r.Int();
  f.closed_at = r.OptInt();
  f.closed_by = r.OptInt();
  f.revert_run_id = r.OptInt();
  f.accepted_set_id = r.OptInt();
  f.close_note = r.OptText();
  return f;
}

}  // namespace

Result<std::optional<int64_t>> Drift::BaselineSet(Tx& tx, int64_t tenant_id,
                                                  std::optional<int64_t> before_ms,
                                                  std::optional<int64_t> exclude_set) {
  auto pinned = tx.Query(
      "SELECT id FROM backup_sets WHERE tenant_id = $1 AND baseline = 1 ORDER BY id DESC LIMIT 1",
      {tenant_id});
  if (!pinned) return Unexpected(pinned.error());
  if (!pinned->empty()) return std::optional<int64_t>(pinned->front().Int(0));
  const Param before = OptParam(before_ms), exclude = OptParam(exclude_set);
  auto rows = tx.Query(
      "SELECT s.id FROM backup_sets s LEFT JOIN runs r ON r.id = s.run_id WHERE s.tenant_id = $1 "
      "AND (s.derived_from IS NOT NULL OR (r.status = 'succeeded' AND (SELECT COUNT(*) FROM "
      "backup_items i WHERE i.backup_set_id = s.id) = " + std::string(kSetExpectedSql) + ")) "
      "AND (CAST($2 AS BIGINT) IS NULL OR s.created_at < $2) "
      "AND (CAST($3 AS BIGINT) IS NULL OR s.id <> $3) "
      "ORDER BY s.created_at DESC, s.id DESC LIMIT 1",
      {tenant_id, before, exclude});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().Int(0));
}

Status Drift::SetBaseline(Tx& tx, int64_t tenant_id, int64_t set_id, bool baseline) {
  if (baseline) {
    auto off = tx.Exec("UPDATE backup_sets SET baseline = 0 WHERE tenant_id = $1 AND id <> $2",
                       {tenant_id, set_id});
    if (!off) return off.error();
  }
  auto n = tx.Exec("UPDATE backup_sets SET baseline = $1 WHERE id = $2 AND tenant_id = $3",
                   {int64_t{baseline ? 1 : 0}, set_id, tenant_id});
  if (!n) return n.error();
  if (*n == 0) return MissingOrForeign(tx, "backup_sets", set_id, "backup set");
  return Status::Ok();
}

Result<std::vector<LiveObject>> Drift::LiveObjects(Tx& tx, int64_t tenant_id) {
  return QueryAll(
      tx,
      "SELECT p.id, v.id, p.policy_type, p.graph_id, p.display_name, v.content_hash FROM "
      "policies p JOIN policy_versions v ON v.policy_id = p.id AND v.version = (SELECT "
      "MAX(n.version) FROM policy_versions n WHERE n.policy_id = p.id) WHERE p.tenant_id = $1 "
      "AND p.gone_at IS NULL ORDER BY p.policy_type, p.display_name, p.id",
      {tenant_id}, [](const Row& row) {
        RowReader r(row);
        LiveObject o;
        o.policy_id = r.Int();
        o.version_id = r.Int();
        o.type = r.Text();
        o.graph_id = r.Text();
        o.display_name = r.Text();
        o.content_hash = r.Text();
        return o;
      });
}

Result<std::pair<std::string, std::string>> Drift::VersionContent(Tx& tx, int64_t tenant_id,
                                                                  int64_t version_id) {
  auto rows = tx.Query(
      "SELECT payload, assignments FROM policy_versions WHERE id = $1 AND tenant_id = $2",
      {version_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty())
    return Unexpected(Status::NotFound("policy version " + std::to_string(version_id)));
  return std::make_pair(rows->front().Text(0), rows->front().Text(1));
}

Result<bool> Drift::Record(Tx& tx, const DriftFinding& f) {
  auto open = tx.Query(
      "SELECT id FROM drift_findings WHERE tenant_id = $1 AND policy_type = $2 AND graph_id = $3 "
      "AND status = 'open'",
      {f.tenant_id, f.type, f.graph_id});
  if (!open) return Unexpected(open.error());
  if (!open->empty()) {
    auto up = tx.Exec(
        "UPDATE drift_findings SET display_name = $1, kind = $2, baseline_set_id = $3, "
        "baseline_item_id = $4, live_version_id = $5, diff = $6, actor = $7, actor_detail = $8, "
        "changed_at = $9, last_run_id = $10, last_seen_at = $11 WHERE id = $12",
        {f.display_name, f.kind, OptParam(f.baseline_set_id), OptParam(f.baseline_item_id),
         OptParam(f.live_version_id), f.diff, f.actor, f.actor_detail, OptParam(f.changed_at),
         f.last_run_id, f.last_seen_at, open->front().Int(0)});
    if (!up) return Unexpected(up.error());
    return false;
  }
  auto ins = tx.Exec(
      "INSERT INTO drift_findings (tenant_id, policy_type, graph_id, display_name, kind, status, "
      "baseline_set_id, baseline_item_id, live_version_id, diff, actor, actor_detail, changed_at, "
      "first_run_id, last_run_id, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, "
      "'open', $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $14)",
      {f.tenant_id, f.type, f.graph_id, f.display_name, f.kind, OptParam(f.baseline_set_id),
       OptParam(f.baseline_item_id), OptParam(f.live_version_id), f.diff, f.actor, f.actor_detail,
       OptParam(f.changed_at), f.last_run_id, f.last_seen_at});
  if (!ins) return Unexpected(ins.error());
  return true;
}

Result<int64_t> Drift::ResolveOthers(Tx& tx, int64_t tenant_id,
                                     const std::vector<std::string>& still_drifted, int64_t run_id,
                                     int64_t now_ms) {
  auto open = tx.Query(
      "SELECT id, policy_type, graph_id FROM drift_findings WHERE tenant_id = $1 AND status = "
      "'open'",
      {tenant_id});
  if (!open) return Unexpected(open.error());
  const std::set<std::string> keep(still_drifted.begin(), still_drifted.end());
  int64_t n = 0;
  for (const auto& row : *open) {
    if (keep.count(row.Text(1) + "\n" + row.Text(2))) continue;
    auto up = tx.Exec(
        "UPDATE drift_findings SET status = CASE WHEN revert_run_id IS NULL THEN 'resolved' ELSE "
        "'reverted' END, closed_at = $1, last_run_id = $2, close_note = 'the object matches the "
        "baseline again' WHERE id = $3 AND status = 'open'",
        {now_ms, run_id, row.Int(0)});
    if (!up) return Unexpected(up.error());
    n += *up;
  }
  return n;
}

Result<std::vector<DriftFinding>> Drift::List(Tx& tx, int64_t tenant_id, const std::string& status,
                                              std::optional<int64_t> before_id, int64_t limit) {
  return QueryAll(tx,
                  std::string(kSelect) +
                      "WHERE tenant_id = $1 AND ($2 = '' OR status = $2) AND "
                      "(CAST($3 AS BIGINT) IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
                  {tenant_id, status, OptParam(before_id), limit}, Read);
}

Result<std::vector<DriftFinding>> Drift::History(Tx& tx, int64_t tenant_id,
                                                 const std::string& type,
                                                 const std::string& graph_id) {
  return QueryAll(tx,
                  std::string(kSelect) +
                      "WHERE tenant_id = $1 AND policy_type = $2 AND graph_id = $3 "
                      "ORDER BY id DESC LIMIT 50",
                  {tenant_id, type, graph_id}, Read);
}

Result<DriftFinding> Drift::Get(Tx& tx, int64_t tenant_id, int64_t finding_id) {
  auto rows =
      tx.Query(std::string(kSelect) + "WHERE id = $1 AND tenant_id = $2", {finding_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty())
    return Unexpected(MissingOrForeign(tx, "drift_findings", finding_id, "drift finding"));
  return Read(rows->front());
}

Result<int64_t> Drift::CountOpen(Tx& tx, int64_t tenant_id) {
  auto rows = tx.Query(
      "SELECT COUNT(*) FROM drift_findings WHERE tenant_id = $1 AND status = 'open'", {tenant_id});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

Status Drift::Close(Tx& tx, int64_t tenant_id, int64_t finding_id, const std::string& status,
                    std::optional<int64_t> user_id, int64_t now_ms, const std::string& note,
                    std::optional<int64_t> revert_run_id, std::optional<int64_t> accepted_set_id) {
  auto n = tx.Exec(
      "UPDATE drift_findings SET status = $1, closed_at = $2, closed_by = $3, close_note = $4, "
      "revert_run_id = $5, accepted_set_id = $6 WHERE id = $7 AND tenant_id = $8 AND status = "
      "'open'",
      {status, now_ms, OptParam(user_id), note, OptParam(revert_run_id), OptParam(accepted_set_id),
       finding_id, tenant_id});
  if (!n) return n.error();
  if (*n == 1) return Status::Ok();
  auto f = Get(tx, tenant_id, finding_id);
  if (!f) return f.error();
  return Status::FailedPrecondition("drift finding " + std::to_string(finding_id) + " is " +
                                    f->status + ", not open");
}

Status Drift::SetRevertRun(Tx& tx, int64_t tenant_id, int64_t finding_id, int64_t run_id) {
  auto n = tx.Exec(
      "UPDATE drift_findings SET revert_run_id = $1 WHERE id = $2 AND tenant_id = $3 AND status = "
      "'open'",
      {run_id, finding_id, tenant_id});
  if (!n) return n.error();
  if (*n == 0) return MissingOrForeign(tx, "drift_findings", finding_id, "open drift finding");
  return Status::Ok();
}

Result<int64_t> Drift::AcceptIntoBaseline(Tx& tx, const DriftFinding& f, int64_t from_set,
                                          std::optional<int64_t> user_id, int64_t now_ms) {
  auto from = tx.Query("SELECT name, baseline FROM backup_sets WHERE id = $1 AND tenant_id = $2",
                       {from_set, f.tenant_id});
  if (!from) return Unexpected(from.error());
  if (from->empty())
    return Unexpected(Status::FailedPrecondition(
        "the baseline this finding was compared with (backup set " + std::to_string(from_set) +
        ") no longer exists; run drift detection again"));
  const bool pinned = from->front().Int(1) != 0;
  std::string name = "Baseline: " + from->front().Text(0) + " + accepted " + f.kind + " '" +
                     f.display_name + "'";
  if (name.size() > 200) name = name.substr(0, 197) + "...";
  auto ins = tx.Query(
      "INSERT INTO backup_sets (tenant_id, name, description, run_id, created_by, created_at, "
      "derived_from) VALUES ($1, $2, $3, NULL, $4, $5, $6) RETURNING id",
      {f.tenant_id, name, "Drift finding " + std::to_string(f.id) + " accepted", OptParam(user_id),
       now_ms, from_set});
  if (!ins) return Unexpected(ins.error());
  const int64_t set_id = ins->front().Int(0);
  // Every item but the object's, then the object's live version (not for a removal).
  auto copied = tx.Exec(
      "INSERT INTO backup_items (tenant_id, backup_set_id, policy_id, policy_version_id, "
      "policy_type, graph_id, display_name, payload, assignments, content_hash, created_at) "
      "SELECT tenant_id, $1, policy_id, policy_version_id, policy_type, graph_id, display_name, "
      "payload, assignments, content_hash, $2 FROM backup_items WHERE backup_set_id = $3 AND "
      "tenant_id = $4 AND NOT (policy_type = $5 AND graph_id = $6) ORDER BY id",
      {set_id, now_ms, from_set, f.tenant_id, f.type, f.graph_id});
  if (!copied) return Unexpected(copied.error());
  if (f.kind != "removed") {
    if (!f.live_version_id)
      return Unexpected(Status::FailedPrecondition("the finding has no live state to accept"));
    auto live = tx.Exec(
        "INSERT INTO backup_items (tenant_id, backup_set_id, policy_id, policy_version_id, "
        "policy_type, graph_id, display_name, payload, assignments, content_hash, created_at) "
        "SELECT v.tenant_id, $1, v.policy_id, v.id, p.policy_type, p.graph_id, p.display_name, "
        "'', '', v.content_hash, $2 FROM policy_versions v JOIN policies p ON p.id = v.policy_id "
        "WHERE v.id = $3 AND v.tenant_id = $4",
        {set_id, now_ms, *f.live_version_id, f.tenant_id});
    if (!live) return Unexpected(live.error());
    if (*live != 1)
      return Unexpected(Status::FailedPrecondition(
          "the live state this finding recorded (policy version " +
          std::to_string(*f.live_version_id) + ") no longer exists; run drift detection again"));
  }
  if (pinned) {
    if (Status s = SetBaseline(tx, f.tenant_id, set_id, true); !s.ok()) return Unexpected(s);
  }
  return set_id;
}

}  // namespace ta::store
