#include "store/portfolio.h"

#include "store/row_reader.h"

namespace ta::store {

Result<std::vector<PortfolioRow>> Portfolio::Rows(Tx& tx, const std::vector<int64_t>& tenant_ids,
                                                  int64_t now_ms) {
  if (tenant_ids.empty()) return std::vector<PortfolioRow>{};
  const std::string sql =
      "SELECT t.id, t.name, t.tags, CASE WHEN t.client_secret_enc IS NULL AND t.credential_kind <> "
      "'platform' THEN 0 ELSE 1 END, "
      "t.credential_expires_at, CASE WHEN t.credential_kind = 'certificate' THEN 1 ELSE 0 END, "
      "(SELECT MAX(s.created_at) FROM backup_sets s JOIN runs r ON r.id = s.run_id WHERE "
      " s.tenant_id = t.id AND r.status = 'succeeded'), "
      "(SELECT s.id FROM backup_sets s JOIN runs r ON r.id = s.run_id WHERE s.tenant_id = t.id "
      " AND r.status = 'succeeded' ORDER BY s.created_at DESC, s.id DESC LIMIT 1), "
      "(SELECT COUNT(*) FROM runs r WHERE r.tenant_id = t.id AND r.created_at >= $2 AND "
      " r.status IN ('failed', 'partially_succeeded')), "
      "(SELECT r.status FROM runs r WHERE r.tenant_id = t.id AND r.type = "
      " 'tenant.connection_check' ORDER BY r.id DESC LIMIT 1), "
      "(SELECT r.created_at FROM runs r WHERE r.tenant_id = t.id AND r.type = "
      " 'tenant.connection_check' ORDER BY r.id DESC LIMIT 1), "
      "(SELECT COUNT(*) FROM drift_findings f WHERE f.tenant_id = t.id AND f.status = 'open') "
      "FROM tenants t WHERE " +
      InIdArray(tx.backend(), "t.id", 1) + " ORDER BY t.name";
  return QueryAll(tx, sql, {IdArray(tx.backend(), tenant_ids), now_ms - 86'400'000},
                  [](const Row& row) {
                    RowReader r(row);
                    PortfolioRow p;
                    p.tenant_id = r.Int();
                    p.name = r.Text();
                    p.tags = r.Text();
                    p.has_credentials = r.Int() != 0;
                    p.credential_expires_at = r.OptInt();
                    p.certificate = r.Int() != 0;
                    p.last_backup_at = r.OptInt();
                    p.last_backup_set_id = r.OptInt();
                    p.failed_runs_24h = r.Int();
                    p.last_check_status = r.OptText();
                    p.last_check_at = r.OptInt();
                    p.open_drift = r.Int();
                    return p;
                  });
}

}  // namespace ta::store
