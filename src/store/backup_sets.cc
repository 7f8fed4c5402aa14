#include "store/backup_sets.h"

#include "store/row_reader.h"
#include "store/runs_repository.h"

namespace ta::store {
namespace {

const std::string kSetSelect =
    std::string("SELECT s.id, s.tenant_id, s.name, s.description, s.run_id, s.created_by, s.created_at, "
    "s.pinned, s.baseline, s.derived_from, "
    "(SELECT COUNT(*) FROM backup_items i WHERE i.backup_set_id = s.id), "
    "(SELECT ") + kSetExpectedSql + " FROM runs r WHERE r.id = s.run_id), "
    "(SELECT r.status FROM runs r WHERE r.id = s.run_id) FROM backup_sets s ";

BackupSetRecord ReadSet(const Row& row) {
  RowReader r(row);
  BackupSetRecord s;
  s.id = r.Int();
  s.tenant_id = r.Int();
  s.name = r.Text();
  s.description = r.Text();
  s.run_id = r.OptInt();
  s.created_by = r.OptInt();
  s.created_at = r.Int();
  s.pinned = r.Int() != 0;
  s.baseline = r.Int() != 0;
  s.derived_from = r.OptInt();
  s.item_count = r.Int();
  // A set made by accepting drift has no run: it holds what it copied.
  s.expected_count = r.OptInt().value_or(s.item_count);
  s.run_status = r.OptText().value_or("");
  return s;
}

// An item's payload and assignments are its version's unless it holds its
// own copy (items written before migration 8 whose content differed).
constexpr const char* kItemSelect =
    "SELECT i.id, i.tenant_id, i.backup_set_id, i.policy_id, i.policy_version_id, "
    "i.policy_type, i.graph_id, i.display_name, "
    "CASE WHEN i.payload = '' THEN v.payload ELSE i.payload END, "
    "CASE WHEN i.payload = '' THEN v.assignments ELSE i.assignments END, i.content_hash, "
    "i.created_at FROM backup_items i JOIN policy_versions v ON v.id = i.policy_version_id ";

BackupItemRecord ReadItem(const Row& row) {
  RowReader r(row);
  BackupItemRecord i;
  i.id = r.Int();
  i.tenant_id = r.Int();
  i.backup_set_id = r.Int();
  i.policy_id = r.Int();
  i.policy_version_id = r.Int();
  i.type = r.Text();
  i.graph_id = r.Text();
  i.display_name = r.Text();
  i.payload = r.Text();
  i.assignments = r.Text();
  i.content_hash = r.Text();
  i.created_at = r.Int();
  return i;
}

}  // namespace

std::string BackupSetRecord::Status() const {
  if (derived_from) return "complete";
  if (run_status == "queued" || run_status == "running") return "in_progress";
  return run_status == "succeeded" && item_count == expected_count ? "complete" : "incomplete";
}

Result<int64_t> BackupSets::ForRun(Tx& tx, int64_t tenant_id, int64_t run_id,
                                   const std::string& name, const std::string& description,
                                   std::optional<int64_t> created_by, int64_t now_ms) {
  auto found = tx.Query("SELECT id FROM backup_sets WHERE run_id = $1 AND tenant_id = $2",
                        {run_id, tenant_id});
  if (!found) return Unexpected(found.error());
  if (!found->empty()) return found->front().Int(0);
  auto ins = tx.Query(
      "INSERT INTO backup_sets (tenant_id, name, description, run_id, created_by, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
      {tenant_id, name, description, run_id, created_by ? Param(*created_by) : Param(nullptr),
       now_ms});
  if (!ins) return Unexpected(ins.error());
  return ins->front().Int(0);
}

Status BackupSets::AddItem(Tx& tx, const BackupItemRecord& i) {
  auto ins = tx.Exec(
      "INSERT INTO backup_items (tenant_id, backup_set_id, policy_id, policy_version_id, "
      "policy_type, graph_id, display_name, payload, assignments, content_hash, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', $8, $9) "
      "ON CONFLICT (backup_set_id, policy_id) DO NOTHING",
      {i.tenant_id, i.backup_set_id, i.policy_id, i.policy_version_id, i.type, i.graph_id,
       i.display_name, i.content_hash, i.created_at});
  return ins ? Status::Ok() : ins.error();
}

Result<BackupSetRecord> BackupSets::Get(Tx& tx, int64_t tenant_id, int64_t set_id) {
  auto rows = tx.Query(std::string(kSetSelect) + "WHERE s.id = $1 AND s.tenant_id = $2",
                       {set_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return Unexpected(MissingOrForeign(tx, "backup_sets", set_id, "backup set"));
  return ReadSet(rows->front());
}

Result<std::vector<BackupSetRecord>> BackupSets::List(Tx& tx, int64_t tenant_id,
                                                      std::optional<int64_t> before_id,
                                                      int64_t limit) {
  return QueryAll(tx,
                  std::string(kSetSelect) +
                      "WHERE s.tenant_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR s.id < $2) "
                      "ORDER BY s.id DESC LIMIT $3",
                  {tenant_id, before_id ? Param(*before_id) : Param(nullptr), limit}, ReadSet);
}

Result<std::vector<BackupItemRecord>> BackupSets::Items(
    Tx& tx, int64_t tenant_id, int64_t set_id, const std::optional<std::vector<int64_t>>& ids,
    int64_t after_id, int64_t limit) {
  std::string sql =
      std::string(kItemSelect) + "WHERE i.backup_set_id = $1 AND i.tenant_id = $2 AND i.id > $3";
  Params params = {set_id, tenant_id, after_id, limit};
  if (ids) {
    sql += " AND " + InIdArray(tx.backend(), "i.id", 5);
    params.push_back(IdArray(tx.backend(), *ids));
  }
  // LIMIT -1 is "no limit" on SQLite; PostgreSQL takes NULL for that.
  sql += " ORDER BY i.id LIMIT CAST($4 AS BIGINT)";
  if (limit < 0)
    params[3] = tx.backend() == Backend::kPostgres ? Param(nullptr) : Param(int64_t{-1});
  return QueryAll(tx, sql, params, ReadItem);
}

Status BackupSets::SetPinned(Tx& tx, int64_t tenant_id, int64_t set_id, bool pinned) {
  auto n = tx.Exec("UPDATE backup_sets SET pinned = $1 WHERE id = $2 AND tenant_id = $3",
                   {int64_t{pinned ? 1 : 0}, set_id, tenant_id});
  if (!n) return n.error();
  if (*n == 0) return MissingOrForeign(tx, "backup_sets", set_id, "backup set");
  return Status::Ok();
}

Result<std::vector<BackupSetRecord>> BackupSets::OfSchedule(Tx& tx, int64_t tenant_id,
                                                            int64_t schedule_id) {
  return QueryAll(tx,
                  std::string(kSetSelect) +
                      "WHERE s.tenant_id = $1 AND s.run_id IN (SELECT r.id FROM runs r WHERE "
                      "r.tenant_id = $1 AND r.type = 'schedule.backup' AND r.target_id = $2) "
                      "ORDER BY s.created_at DESC, s.id DESC",
                  {tenant_id, std::to_string(schedule_id)}, ReadSet);
}

Result<std::vector<std::pair<int64_t, int64_t>>> BackupSets::ScheduleOfSets(Tx& tx,
                                                                           int64_t tenant_id) {
  return QueryAll(tx,
                  "SELECT s.id, r.target_id FROM backup_sets s JOIN runs r ON r.id = s.run_id "
                  "WHERE s.tenant_id = $1 AND r.type = 'schedule.backup'",
                  {tenant_id}, [](const Row& row) {
                    return std::make_pair(row.Int(0), static_cast<int64_t>(std::stoll(row.Text(1))));
                  });
}

Result<std::optional<int64_t>> BackupSets::NewestSucceeded(Tx& tx, int64_t tenant_id) {
  auto rows = tx.Query(
      "SELECT s.id FROM backup_sets s LEFT JOIN runs r ON r.id = s.run_id WHERE s.tenant_id = $1 "
      "AND (r.status = 'succeeded' OR s.derived_from IS NOT NULL) "
      "ORDER BY s.created_at DESC, s.id DESC LIMIT 1",
      {tenant_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().Int(0));
}

Result<BackupSets::Deleted> BackupSets::Delete(Tx& tx, int64_t tenant_id, int64_t set_id) {
  auto set = Get(tx, tenant_id, set_id);
  if (!set) return Unexpected(set.error());
  if (set->pinned)
    return Unexpected(Status::FailedPrecondition("backup set " + std::to_string(set_id) +
                                                 " is pinned (legal hold); unpin it first"));
  Deleted out;
  // The versions only this set holds, that are not their policy's newest
  // (the newest is what the next capture compares with) and no other set
  // references: their payload bytes go with the set.
  auto orphans = tx.Query(
      "SELECT v.id, LENGTH(v.payload) + LENGTH(v.assignments) FROM policy_versions v WHERE "
      "v.tenant_id = $1 AND v.id IN (SELECT i.policy_version_id FROM backup_items i WHERE "
      "i.backup_set_id = $2) AND NOT EXISTS (SELECT 1 FROM backup_items o WHERE "
      "o.policy_version_id = v.id AND o.backup_set_id <> $2) AND v.version < (SELECT "
      "MAX(n.version) FROM policy_versions n WHERE n.policy_id = v.policy_id)",
      {tenant_id, set_id});
  if (!orphans) return Unexpected(orphans.error());
  std::vector<int64_t> versions;
  for (const auto& r : *orphans) {
    versions.push_back(r.Int(0));
    out.payload_bytes += r.Int(1);
  }
  auto items = tx.Exec("DELETE FROM backup_items WHERE backup_set_id = $1 AND tenant_id = $2",
                       {set_id, tenant_id});
  if (!items) return Unexpected(items.error());
  out.items = *items;
  if (!versions.empty()) {
    auto v = tx.Exec("DELETE FROM policy_versions WHERE tenant_id = $1 AND " +
                         InIdArray(tx.backend(), "id", 2),
                     {tenant_id, IdArray(tx.backend(), versions)});
    if (!v) return Unexpected(v.error());
    out.versions = *v;
  }
  auto s = tx.Exec("DELETE FROM backup_sets WHERE id = $1 AND tenant_id = $2", {set_id, tenant_id});
  if (!s) return Unexpected(s.error());
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> BackupSets::CountByType(Tx& tx,
                                                                             int64_t tenant_id,
                                                                             int64_t set_id) {
  auto rows = tx.Query(
      "SELECT policy_type, COUNT(*) FROM backup_items WHERE backup_set_id = $1 AND tenant_id = "
      "$2 GROUP BY policy_type ORDER BY policy_type",
      {set_id, tenant_id});
  if (!rows) return Unexpected(rows.error());
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& r : *rows) out.emplace_back(r.Text(0), r.Int(1));
  return out;
}

Result<int64_t> BackupSets::CountItems(Tx& tx, int64_t set_id,
                                       const std::optional<std::vector<int64_t>>& ids) {
  auto rows =
      ids ? tx.Query("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1 AND " +
                         InIdArray(tx.backend(), "id", 2),
                     {set_id, IdArray(tx.backend(), *ids)})
          : tx.Query("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1", {set_id});
  if (!rows) return Unexpected(rows.error());
  return rows->front().Int(0);
}

}  // namespace ta::store
