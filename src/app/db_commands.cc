#include "app/db_commands.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>

#include "app/cli.h"
#include "report/document.h"
#include "store/accounts.h"
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

int RunDocumentCommand(const std::string& db_url, const std::string& tenant, int64_t set_id,
                       const std::string& format, const std::string& out_path, std::ostream& out,
                       std::ostream& err) {
  auto f = report::ParseFormat(format);
  if (!f) {
    err << "error: " << f.error().message() << "\n";
    return 2;
  }
  store::DatabaseOptions options;
  options.run_migrations = false;  // reading must not change the database
  auto db = store::OpenDatabase(db_url, options);
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }
  auto id = store::ReadResult<std::optional<int64_t>>(
      **db, [&](store::Tx& tx) { return store::Accounts::FindTenant(tx, tenant); });
  if (!id || !*id) {
    err << "error: tenant: no tenant has the id or name '" << tenant << "'\n";
    return 2;
  }
  std::ofstream file;
  if (out_path != "-") {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file) {
      err << "error: out: cannot write " << out_path << "\n";
      return 2;
    }
  }
  std::ostream& sink = out_path == "-" ? out : file;
  const Status s = report::WriteBackupSetDocument(**db, **id, set_id, *f, [&](std::string_view p) {
    sink.write(p.data(), static_cast<std::streamsize>(p.size()));
    return static_cast<bool>(sink);
  });
  if (!s.ok()) {
    err << "error: " << s.ToString() << "\n";
    return 2;
  }
  if (!sink.flush()) {
    err << "error: out: the document could not be written completely\n";
    return 2;
  }
  if (out_path != "-") err << "wrote " << out_path << "\n";
  return 0;
}

void AddDbOption(CLI::App* cmd, std::string& db_url) {
  cmd->add_option("--db", db_url,
                  "Database: a SQLite path, sqlite:PATH, or postgresql://user@host:port/db")
      ->envname("TA_DATABASE_URL")
      ->capture_default_str();
}

void AddMasterKeyOption(CLI::App* cmd, std::string& key_file) {
  cmd->add_option("--master-key-file", key_file,
                  "File with the base64 master key that seals tenant secrets (else TA_MASTER_KEY)");
}

void AddDbCommands(CLI::App& app, Commands& out) {
  auto migrate_db = std::make_shared<std::string>(kDefaultDatabase);
  auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations");
  AddDbOption(migrate, *migrate_db);
  out.push_back(
      {migrate, [migrate_db] { return RunMigrateCommand(*migrate_db, std::cout, std::cerr); }});

  auto* audit = app.add_subcommand("audit", "Audit log tools");
  audit->require_subcommand(1);
  auto verify_db = std::make_shared<std::string>(kDefaultDatabase);
  auto* verify = audit->add_subcommand(
      "verify",
      "Check every tenant's hash chain; exit 1 and list each edited, deleted or truncated row");
  AddDbOption(verify, *verify_db);
  out.push_back(
      {verify, [verify_db] { return RunAuditVerifyCommand(*verify_db, std::cout, std::cerr); }});

  struct DocumentArgs {
    std::string db = kDefaultDatabase, tenant, format = "md", out = "-";
    int64_t set = 0;
  };
  auto doc = std::make_shared<DocumentArgs>();
  auto* document = app.add_subcommand(
      "document", "Write a backup set's documentation (every object, assignment and setting)");
  AddDbOption(document, doc->db);
  document->add_option("--tenant", doc->tenant, "Tenant id or name")->required();
  document->add_option("--backup-set", doc->set, "Backup set id")->required();
  document->add_option("--format", doc->format, "md, html or csv")->capture_default_str();
  document->add_option("--out", doc->out, "File to write (- for stdout)")->capture_default_str();
  out.push_back({document, [doc] {
                   return RunDocumentCommand(doc->db, doc->tenant, doc->set, doc->format, doc->out,
                                             std::cout, std::cerr);
                 }});
}

}  // namespace ta::app
