#include "store/backup_sets.h"

#include "store/row_reader.h"
#include "store/runs_repository.h"

namespace ta::store {
namespace {

constexpr const char* kSetSelect =
    "SELECT s.id, s.tenant_id, s.name, s.description, s.run_id, s.created_by, s.created_at, "
    "(SELECT COUNT(*) FROM backup_items i WHERE i.backup_set_id = s.id), "
    "(SELECT r.total FROM runs r WHERE r.id = s.run_id), "
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
  s.item_count = r.Int();
  s.expected_count = r.Int();
  s.run_status = r.Text();
  return s;
}

constexpr const char* kItemSelect =
    "SELECT id, tenant_id, backup_set_id, policy_id, policy_version_id, policy_type, graph_id, "
    "display_name, payload, assignments, content_hash, created_at FROM backup_items ";

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
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
      "ON CONFLICT (backup_set_id, policy_id) DO NOTHING",
      {i.tenant_id, i.backup_set_id, i.policy_id, i.policy_version_id, i.type, i.graph_id,
       i.display_name, i.payload, i.assignments, i.content_hash, i.created_at});
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
      std::string(kItemSelect) + "WHERE backup_set_id = $1 AND tenant_id = $2 AND id > $3";
  Params params = {set_id, tenant_id, after_id, limit};
  if (ids) {
    sql += " AND " + InIdArray(tx.backend(), "id", 5);
    params.push_back(IdArray(tx.backend(), *ids));
  }
  // LIMIT -1 is "no limit" on SQLite; PostgreSQL takes NULL for that.
  sql += " ORDER BY id LIMIT CAST($4 AS BIGINT)";
  if (limit < 0)
    params[3] = tx.backend() == Backend::kPostgres ? Param(nullptr) : Param(int64_t{-1});
  return QueryAll(tx, sql, params, ReadItem);
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
