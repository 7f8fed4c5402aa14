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

}  // namespace ta::app
