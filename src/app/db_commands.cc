#include "app/db_commands.h"

#include <ostream>

#include "store/audit_log.h"
#include "store/migrations.h"

namespace ta::app {

int RunMigrateCommand(const std::string& db_url, std::ostream& out, std::ostream& err) {
  auto db = store::OpenDatabase(db_url);  // opening runs pending migrations
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }
  auto applied = store::AppliedMigrations(**db);
  if (!applied) {
    err << "error: " << applied.error().ToString() << "\n";
    return 2;
  }
  out << "schema is at version " << (applied->empty() ? 0 : applied->back()) << " ("
      << applied->size() << " migration" << (applied->size() == 1 ? "" : "s") << " applied)\n";
  return 0;
}

int RunAuditVerifyCommand(const std::string& db_url, std::ostream& out, std::ostream& err) {
  store::DatabaseOptions options;
  options.run_migrations = false;  // verifying must not change the database
  auto db = store::OpenDatabase(db_url, options);
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }
  auto problems = store::AuditLog::Verify(**db);
  if (!problems) {
    err << "error: " << problems.error().ToString() << "\n";
    return 2;
  }
  auto count = store::ReadResult<store::AuditLog::Size>(
      **db, [](store::Tx& tx) { return store::AuditLog::Count(tx); });
  if (problems->empty()) {
    out << "audit log intact: " << (count ? count->entries : 0) << " entries in "
        << (count ? count->chains : 0) << " tenant chains\n";
    return 0;
  }
  for (const auto& p : *problems) {
    out << "TAMPERED tenant " << p.tenant_id << " seq " << p.seq << ": " << p.problem << "\n";
  }
  err << "audit log verification failed: " << problems->size() << " problem(s)\n";
  return 1;
}

}  // namespace ta::app
