#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace ta::app {

// Default database when neither --db nor TA_DATABASE_URL is given.
inline constexpr const char* kDefaultDatabase = "./data/tenantatlas.db";

// `tenantatlas migrate`: applies pending migrations; prints the schema version.
int RunMigrateCommand(const std::string& db_url, std::ostream& out, std::ostream& err);

// `tenantatlas audit verify`: walks every tenant's hash chain. Exit 0 when
// intact, 1 with one line per break when not, 2 when the database cannot be read.
int RunAuditVerifyCommand(const std::string& db_url, std::ostream& out, std::ostream& err);

// `tenantatlas document`: writes a backup set's documentation (md, html or
// csv) to `out_path` ("-": stdout), streamed. The tenant is an id or a name.
// Exit 0, or 2 with the reason (unknown tenant or set, bad format).
int RunDocumentCommand(const std::string& db_url, const std::string& tenant, int64_t set_id,
                       const std::string& format, const std::string& out_path, std::ostream& out,
                       std::ostream& err);

// `tenantatlas db backup --to FILE`: a consistent copy of a SQLite database
// while serve runs, integrity-checked, with the audit chain verified on the
// copy. Exit 0, 1 when the copy failed a check, 2 on bad input.
int RunDbBackupCommand(const std::string& db_url, const std::string& to, std::ostream& out,
                       std::ostream& err);

// `tenantatlas db restore --from FILE`: puts a backup in place of a stopped
// SQLite installation (the replaced files are kept), then verifies it.
int RunDbRestoreCommand(const std::string& from, const std::string& db_url, bool replace,
                        std::ostream& out, std::ostream& err);

// `tenantatlas db migrate --from sqlite:PATH --to postgresql://...`: copies a
// stopped SQLite installation into an empty PostgreSQL database, resumably,
// and verifies it. Exit 0 when copied and verified, 1 when a check failed,
// 2 when it could not start (bad URL, non-empty target, source in use).
int RunDbMigrateCommand(const std::string& from, const std::string& to, int64_t batch_rows,
                        std::ostream& out, std::ostream& err);

}  // namespace ta::app
