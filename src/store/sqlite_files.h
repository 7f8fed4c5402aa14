#pragma once

// Whole-file operations on a SQLite installation: an online backup while
// `serve` writes to it, an integrity check, and a restore that puts a backup
// in place of a stopped installation.

#include <sys/types.h>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace ta::store {

// The file path of a SQLite database URL ("sqlite:PATH" or a plain path);
// nullopt for a PostgreSQL URL.
std::optional<std::string> SqlitePath(const std::string& url);

// The process that has the SQLite database at `path` open (serve, worker, a
// CLI command), read from SQLite's own lock on its shared-memory file; nullopt
// when none has. Processes of this one are not seen (POSIX locks).
std::optional<pid_t> SqliteOpenedBy(const std::string& path);

struct SqliteFileCheck {
  int64_t pages = 0, page_size = 0;
  int64_t bytes() const { return pages * page_size; }
};
// PRAGMA integrity_check and foreign_key_check on the file at `path` (opened
// read-only). An error names the first problems found.
Result<SqliteFileCheck> CheckSqliteFile(const std::string& path);

// Copies the live database at `from` to the new file `to` with SQLite's online
// backup API: one consistent snapshot, taken while other processes keep
// writing (WAL readers do not block writers). The copy is a single
// self-contained file (rollback journal), fsynced, then integrity-checked;
// only then does it get its name (`to` never holds a partial copy). Refuses
// to overwrite an existing `to`.
Result<SqliteFileCheck> BackupSqlite(const std::string& from, const std::string& to);

struct SqliteRestore {
  SqliteFileCheck check;
  std::optional<std::string> replaced;  // where the database that was at `to` went
};
// Puts the backup `from` (checked first) in place of the database at `to`.
// Refuses while any process has `to` open, and refuses to replace an existing
// database unless `replace`; the replaced files (with their -wal) are kept
// beside it as `to.replaced-<unix time>`, never deleted.
Result<SqliteRestore> RestoreSqlite(const std::string& from, const std::string& to, bool replace);

}  // namespace ta::store
