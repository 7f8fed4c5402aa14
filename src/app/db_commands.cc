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
#include "store/db_copy.h"
#include "store/migrations.h"
#include "store/sqlite_files.h"

namespace ta::app {

namespace {

// Schema version, what the database holds, and whether its audit chain
// verifies: the line every db command ends with. Returns false when the chain
// does not verify.
bool Describe(store::Database& db, std::ostream& out) {
  auto applied = store::AppliedMigrations(db);
  auto counts = store::ReadResult<store::DatabaseContents>(db, store::CountContents);
  auto problems = store::AuditLog::Verify(db);
  out << "  schema version " << (applied && !applied->empty() ? applied->back() : 0);
  if (counts) {
    out << "; " << counts->tenants << " tenants, " << counts->runs << " runs, " << counts->versions
        << " policy versions, " << counts->audit_entries << " audit entries";
  }
  out << "\n";
  if (!problems || !problems->empty()) {
    out << "  audit chain: DOES NOT VERIFY ("
        << (problems ? std::to_string(problems->size()) + " problem(s); run `tenantatlas audit verify`"
                     : problems.error().ToString())
        << ")\n";
    return false;
  }
  out << "  audit chain: intact\n";
  return true;
}

Result<std::unique_ptr<store::Database>> OpenUnchanged(const std::string& url) {
  store::DatabaseOptions options;
  options.run_migrations = false;
  options.read_only = true;
  return store::OpenDatabase(url, options);
}

int Fail(std::ostream& err, const Status& s, int code) {
  err << "error: " << s.message() << "\n";
  return code;
}

std::string Megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace

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
  auto db = OpenUnchanged(db_url);  // verifying must not change the database
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
  auto unsealed =
      store::ReadResult<int64_t>(**db, [](store::Tx& tx) { return store::AuditLog::Unsealed(tx); });
  if (problems->empty()) {
    out << "audit log intact: " << (count ? count->entries : 0) << " entries in "
        << (count ? count->chains : 0) << " tenant chains";
    // Entries of the last moments wait for a running serve or worker to seal them.
    if (unsealed && *unsealed > 0) out << " (" << *unsealed << " just written, not sealed yet)";
    out << "\n";
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
  auto db = OpenUnchanged(db_url);  // reading must not change the database
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


int RunDbBackupCommand(const std::string& db_url, const std::string& to, std::ostream& out,
                       std::ostream& err) {
  const auto path = store::SqlitePath(db_url);
  if (!path) {
    err << "error: db: db backup copies SQLite databases; back up PostgreSQL with pg_dump "
           "(docs/DEPLOYMENT.md, \"Backing up\")\n";
    return 2;
  }
  if (to.empty()) return Fail(err, Status::InvalidArgument("to: name the backup file"), 2);
  auto copy = store::BackupSqlite(*path, to);
  if (!copy) {
    const bool input = copy.error().code() == Status::Code::kAlreadyExists ||
                       copy.error().code() == Status::Code::kNotFound;
    return Fail(err, copy.error(), input ? 2 : 1);
  }
  out << "backed up " << *path << " to " << to << ": " << Megabytes(copy->bytes())
      << ", integrity check ok\n";
  auto db = OpenUnchanged("sqlite:" + to);
  if (!db) return Fail(err, db.error(), 1);
  return Describe(**db, out) ? 0 : 1;
}

int RunDbRestoreCommand(const std::string& from, const std::string& db_url, bool replace,
                        std::ostream& out, std::ostream& err) {
  const auto path = store::SqlitePath(db_url);
  if (!path) {
    err << "error: db: db restore restores SQLite databases; restore PostgreSQL with pg_restore "
           "(docs/DEPLOYMENT.md, \"Backing up\")\n";
    return 2;
  }
  auto restored = store::RestoreSqlite(from, *path, replace);
  if (!restored) return Fail(err, restored.error(), 2);
  out << "restored " << from << " (" << Megabytes(restored->check.bytes())
      << ", integrity check ok) to " << *path << "\n";
  if (restored->replaced) out << "  the database it replaced is kept as " << *restored->replaced << "\n";
  auto db = OpenUnchanged(db_url);
  if (!db) return Fail(err, db.error(), 1);
  return Describe(**db, out) ? 0 : 1;
}

int RunDbMigrateCommand(const std::string& from, const std::string& to, int64_t batch_rows,
                        std::ostream& out, std::ostream& err) {
  const auto source = store::SqlitePath(from);
  if (!source || from.rfind("sqlite:", 0) != 0) {
    return Fail(err, Status::InvalidArgument("from: must be sqlite:PATH"), 2);
  }
  if (store::SqlitePath(to)) {
    return Fail(err, Status::InvalidArgument("to: must be a postgresql:// URL"), 2);
  }
  if (batch_rows < 1) return Fail(err, Status::InvalidArgument("batch-rows: must be at least 1"), 2);
  store::DatabaseOptions options;
  options.allow_unfinished_copy = true;
  auto target = store::OpenDatabase(to, options);  // creates the schema when empty
  if (!target) return Fail(err, target.error(), 2);
  store::CopyOptions copy;
  copy.batch_rows = batch_rows;
  std::string shown;
  copy.progress = [&](const std::string& table, int64_t done, int64_t total) {
    if (table != shown) {
      if (!shown.empty()) out << "\n";
      shown = table;
    }
    out << "\r  " << table << ": " << done << " / " << total << " rows" << std::flush;
  };
  out << "copying " << *source << " into " << store::RedactedUrl(to) << "\n";
  auto report = store::CopySqliteInto(*source, **target, copy);
  if (!shown.empty()) out << "\n";
  if (!report) {
    const auto code = report.error().code();
    const bool refused = code == Status::Code::kAlreadyExists ||
                         code == Status::Code::kFailedPrecondition ||
                         code == Status::Code::kInvalidArgument;
    return Fail(err, report.error(), refused ? 2 : 1);
  }
  out << (report->resumed ? "resumed and finished: " : "copied: ") << report->rows() << " rows in "
      << report->tables.size() << " tables, every table's count equal to the source's; "
      << report->audit_entries << " audit entries in " << report->audit_chains
      << " chains, heads equal to the source's\n";
  return Describe(**target, out) ? 0 : 1;
}

void AddDbOption(CLI::App* cmd, std::string& db_url) {
  cmd->add_option("--db", db_url,
                  "Database: a SQLite path, sqlite:PATH, or postgresql://user@host:port/db")
      ->envname("TA_DATABASE_URL")
      ->capture_default_str();
}

void AddMasterKeyOption(CLI::App* cmd, std::string& key_file) {
  cmd->add_option("--master-key-file", key_file,
                  "File with the base64 master key that seals tenant secrets (else TA_MASTER_KEY)")
      ->envname("TA_MASTER_KEY_FILE");
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

  auto* db = app.add_subcommand("db", "Back up, restore and move the database");
  db->require_subcommand(1);
  {
    struct Args {
      std::string db = kDefaultDatabase, to;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = db->add_subcommand(
        "backup", "Copy a SQLite database while serve runs (online backup API), then check it");
    AddDbOption(cmd, a->db);
    cmd->add_option("--to", a->to, "The backup file to write (must not exist)")->required();
    out.push_back({cmd, [a] { return RunDbBackupCommand(a->db, a->to, std::cout, std::cerr); }});
  }
  {
    struct Args {
      std::string db = kDefaultDatabase, from;
      bool replace = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = db->add_subcommand(
        "restore", "Put a backup in place of a stopped SQLite installation, then check it");
    AddDbOption(cmd, a->db);
    cmd->add_option("--from", a->from, "The backup file (from db backup)")->required();
    cmd->add_flag("--replace", a->replace,
                  "Replace an existing database (its files are kept as PATH.replaced-<time>)");
    out.push_back({cmd, [a] {
                     return RunDbRestoreCommand(a->from, a->db, a->replace, std::cout, std::cerr);
                   }});
  }
  {
    struct Args {
      std::string from, to;
      int64_t batch = 500;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = db->add_subcommand(
        "migrate",
        "Copy a stopped SQLite installation into an empty PostgreSQL database, resumably, and "
        "verify it");
    cmd->add_option("--from", a->from, "sqlite:PATH")->required();
    cmd->add_option("--to", a->to, "postgresql://user@host:port/db (empty)")->required();
    cmd->add_option("--batch-rows", a->batch, "Rows per transaction")->capture_default_str();
    out.push_back({cmd, [a] {
                     return RunDbMigrateCommand(a->from, a->to, a->batch, std::cout, std::cerr);
                   }});
  }

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
