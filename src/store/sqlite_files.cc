#include "store/sqlite_files.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

namespace ta::store {
namespace {

namespace fs = std::filesystem;

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Handle = std::unique_ptr<sqlite3, Closer>;

Result<Handle> OpenFile(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Handle db(raw);
  if (rc != SQLITE_OK) {
    return Unexpected(Status::StorageUnavailable("open " + path + ": " +
                                                 (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))));
  }
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

// Runs `sql` and returns the first column of every row as text.
Result<std::vector<std::string>> Column(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return Unexpected(Status::Internal(std::string(sql) + ": " + sqlite3_errmsg(db)));
  }
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(stmt, 0);
    out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    return Unexpected(Status::Internal(std::string(sql) + ": " + sqlite3_errmsg(db)));
  }
  return out;
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = std::string(sql) + ": " + (err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return Status::StorageUnavailable(std::move(msg));
  }
  return Status::Ok();
}

// Copies every page of `from` into the new file `to` in one step (one read
// snapshot of the source), then makes `to` a self-contained rollback-journal
// file. SQLite commits the copy with fsync (synchronous=FULL).
Status CopyPages(const std::string& from, const std::string& to) {
  auto src = OpenFile(from, SQLITE_OPEN_READONLY);
  if (!src) return src.error();
  auto dst = OpenFile(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!dst) return dst.error();
  if (Status s = Exec(dst->get(), "PRAGMA synchronous=FULL"); !s.ok()) return s;
  sqlite3_backup* backup = sqlite3_backup_init(dst->get(), "main", src->get(), "main");
  if (!backup)
    return Status::StorageUnavailable("backup: " + std::string(sqlite3_errmsg(dst->get())));
  int rc;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // -1: all pages in one step. Smaller steps restart from the first page
  // whenever another process commits, which under load never finishes.
  while ((rc = sqlite3_backup_step(backup, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // another connection holds a lock
  }
  const int finish = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE || finish != SQLITE_OK) {
    return Status::StorageUnavailable(
        "backup of " + from + " stopped: " + sqlite3_errstr(rc != SQLITE_DONE ? rc : finish));
  }
  auto mode = Column(dst->get(), "PRAGMA journal_mode=DELETE");
  if (!mode) return mode.error();
  return Status::Ok();
}

// Makes renames and new files in `dir` durable.
void SyncDir(const fs::path& dir) {
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

}  // namespace

std::optional<std::string> SqlitePath(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return std::nullopt;
  return url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
}

std::optional<pid_t> SqliteOpenedBy(const std::string& path) {
  // Every connection to a WAL database holds a shared lock on the "DMS" byte
  // of its -shm file for as long as it is open (SQLite's os_unix.c: offset
  // (22 + 8) * 4 + 8 = 128); a test for a write lock there names a holder.
  const int fd = open((path + "-shm").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 128;
  probe.l_len = 1;
  const bool held = fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  close(fd);
  if (!held) return std::nullopt;
  return probe.l_pid;
}

Result<SqliteFileCheck> CheckSqliteFile(const std::string& path) {
  if (!fs::exists(path)) return Unexpected(Status::NotFound(path + ": no such file"));
  auto db = OpenFile(path, SQLITE_OPEN_READONLY);
  if (!db) return Unexpected(db.error());
  auto integrity = Column(db->get(), "PRAGMA integrity_check");
  if (!integrity) {
    return Unexpected(Status::InvalidArgument(path + " is not a readable SQLite database (" +
                                              integrity.error().message() + ")"));
  }
  if (integrity->size() != 1 || integrity->front() != "ok") {
    std::string problems;
    for (size_t i = 0; i < integrity->size() && i < 3; ++i) problems += "; " + (*integrity)[i];
    return Unexpected(Status::InvalidArgument(path + " failed the integrity check" + problems));
  }
  auto fk = Column(db->get(), "SELECT \"table\" FROM pragma_foreign_key_check");
  if (!fk) return Unexpected(fk.error());
  if (!fk->empty()) {
    return Unexpected(Status::InvalidArgument(path + ": " + std::to_string(fk->size()) +
                                              " rows break a foreign key (first in table " +
                                              fk->front() + ")"));
  }
  auto pages = Column(db->get(), "PRAGMA page_count");
  auto size = Column(db->get(), "PRAGMA page_size");
  if (!pages || !size) return Unexpected(Status::Internal("page count of " + path));
  return SqliteFileCheck{std::stoll(pages->front()), std::stoll(size->front())};
}

Result<SqliteFileCheck> BackupSqlite(const std::string& from, const std::string& to) {
  if (!fs::exists(from)) {
    return Unexpected(Status::NotFound("db: " + from + " does not exist"));
  }
  if (fs::exists(to)) {
    return Unexpected(
        Status::AlreadyExists("to: " + to + " exists; give the backup a new file name"));
  }
  const std::string partial = to + ".partial";
  fs::remove(partial);
  if (Status s = CopyPages(from, partial); !s.ok()) {
    fs::remove(partial);
    return Unexpected(s);
  }
  auto check = CheckSqliteFile(partial);
  if (!check) {
    fs::remove(partial);
    return Unexpected(check.error());
  }
  std::error_code ec;
  fs::rename(partial, to, ec);
  if (ec) return Unexpected(Status::StorageUnavailable("to: " + to + ": " + ec.message()));
  SyncDir(fs::path(to).parent_path());
  return check;
}

Result<SqliteRestore> RestoreSqlite(const std::string& from, const std::string& to, bool replace) {
  SqliteRestore out;
  auto check = CheckSqliteFile(from);
  if (!check) return Unexpected(check.error());
  out.check = *check;
  if (auto pid = SqliteOpenedBy(to)) {
    return Unexpected(
        Status::FailedPrecondition("db: " + to + " is open in process " + std::to_string(*pid) +
                                   "; stop every serve and worker using it, then restore"));
  }
  const bool exists = fs::exists(to);
  if (exists && !replace) {
    return Unexpected(
        Status::AlreadyExists("db: " + to +
                              " exists; pass --replace to put the backup in its place (the current "
                              "files are kept as " +
                              to + ".replaced-<time>)"));
  }
  const std::string incoming = to + ".restoring";
  fs::remove(incoming);
  if (Status s = CopyPages(from, incoming); !s.ok()) {
    fs::remove(incoming);
    return Unexpected(s);
  }
  std::error_code ec;
  if (exists) {
    // The -wal belongs to the old database: left beside the restored file, SQLite would replay it.
    const std::string aside =
        to + ".replaced-" +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      if (fs::exists(to + suffix)) fs::rename(to + suffix, aside + suffix, ec);
      if (ec) {
        return Unexpected(
            Status::StorageUnavailable("db: moving " + to + suffix + " aside: " + ec.message()));
      }
    }
    out.replaced = aside;
  }
  fs::rename(incoming, to, ec);
  if (ec) return Unexpected(Status::StorageUnavailable("db: " + to + ": " + ec.message()));
  SyncDir(fs::path(to).parent_path());
  return out;
}

}  // namespace ta::store
