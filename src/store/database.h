#pragma once

// The storage seam. Two backends implement Database: SQLite (embedded default)
// and PostgreSQL (multi-node). SQL is written with $1..$N placeholders on both.
// Backend-specific SQL (claiming jobs, arrays) branches on Tx::backend().

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"

namespace ta::store {

enum class Backend { kSqlite, kPostgres };

using Param = std::variant<std::nullptr_t, int64_t, double, std::string>;
using Params = std::vector<Param>;
// An optional value as a parameter: NULL when absent.
template <typename T>
Param OptParam(const std::optional<T>& v) {
  return v ? Param(*v) : Param(nullptr);
}

// One result row; cells are text as the backend printed them (NULL = nullopt).
class Row {
 public:
  explicit Row(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  size_t size() const { return cells_.size(); }
  bool IsNull(size_t i) const { return !cells_.at(i).has_value(); }
  int64_t Int(size_t i) const;  // 0 when NULL
  std::optional<int64_t> OptInt(size_t i) const;
  double Real(size_t i) const;
  const std::string& Text(size_t i) const;  // "" when NULL
  std::optional<std::string> OptText(size_t i) const { return cells_.at(i); }

 private:
  std::vector<std::optional<std::string>> cells_;
};
using Rows = std::vector<Row>;

// A transaction in progress. Not thread-safe; used only by the thread that got it.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Backend backend() const = 0;
  // Runs one statement and returns its rows (RETURNING rows for writes).
  virtual Result<Rows> Query(std::string_view sql, const Params& params = {}) = 0;
  // Runs one statement and returns the number of rows it changed.
  virtual Result<int64_t> Exec(std::string_view sql, const Params& params = {}) = 0;
  // Runs a write whose result the caller does not need (no rows, no count).
  // PostgreSQL sends it with the transaction's next statement or its COMMIT,
  // one round trip for several; an error in it then fails that statement or
  // the commit, so the transaction still commits all or nothing. Later
  // statements of the transaction see its effect. SQLite runs it at once.
  virtual Status Defer(std::string_view sql, const Params& params = {}) {
    auto n = Exec(sql, params);
    return n ? Status::Ok() : n.error();
  }
  // Runs a multi-statement script without parameters (migrations only).
  virtual Status ExecScript(std::string_view sql) = 0;
  // Registers fn to run after this transaction commits (never on rollback),
  // before the Write that ran it returns. fn must be quick and must not touch
  // the database (it may run on the SQLite writer thread).
  virtual void AfterCommit(std::function<void()> fn) = 0;
};

struct DatabaseOptions {
  // SQLite: synchronous=FULL by default (an acknowledged write survives power
  // loss). NORMAL trades the last commits on power loss for fewer fsyncs.
  bool sqlite_synchronous_normal = false;
  int sqlite_readers = 4;
  int sqlite_busy_timeout_ms = 5000;
  int pg_pool_size = 16;
  bool run_migrations = true;
  // A database that an unfinished `db migrate` is copying into is refused
  // (it is incomplete); only the copy itself opens it.
  bool allow_unfinished_copy = false;
  // SQLite: open without changing the file (no journal-mode switch, no
  // creation, Write fails). Implies no migrations. PostgreSQL: ignored.
  bool read_only = false;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Backend backend() const = 0;

  // Runs fn in a read-write transaction: commits when fn returns OK, rolls back
  // (only fn's own writes) otherwise, and returns fn's status or the commit
  // error. Returns only after the commit is durable. Thread-safe.
  virtual Status Write(const std::function<Status(Tx&)>& fn) = 0;

  // Runs fn in a read-only snapshot. Thread-safe.
  virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;

  // Wake-ups across processes (PostgreSQL LISTEN/NOTIFY) or threads (SQLite).
  // Notify is issued inside a transaction and delivered after it commits.
  virtual Status Notify(Tx& tx, std::string_view channel) = 0;
  // Blocks until a notification on `channel` arrives or timeout passes.
  // Returns true when woken by a notification.
  virtual bool WaitForNotification(std::string_view channel, std::chrono::milliseconds timeout) = 0;
  // Wakes every WaitForNotification caller in this process (used on shutdown).
  virtual void Interrupt() = 0;

  // The storage fault (StorageFull or StorageUnavailable) of the last write
  // that failed with one, until a later write commits; else OK. /readyz reports
  // it, since a full disk still serves reads. Thread-safe.
  Status WriteHealth() const;
  // A trivial read: can the database be reached at all?
  Status Ping();
  // The page-cache memory the database library holds in this process (SQLite:
  // every connection's cache, each bounded by its cache_size); nullopt when
  // the cache lives in a server (PostgreSQL). /metrics reports it.
  virtual std::optional<int64_t> CacheBytes() const { return std::nullopt; }

 protected:
  // Backends pass every Write's outcome through this; returns `s`.
  Status ObserveWrite(Status s);
  // Whether a successful ping shows that a write's storage fault is over.
  // By default it does not (the fault clears when a write commits): a full
  // disk is full for writes only, and SQLite's I/O error is the file's.
  virtual bool PingDisproves(const Status& /*fault*/) const { return false; }

 private:
  mutable std::mutex health_mu_;
  Status write_fault_;  // GUARDED_BY(health_mu_)
};

// Opens a database from a URL: "postgresql://..." / "postgres://..." selects
// PostgreSQL; "sqlite:PATH" or a plain path selects SQLite. Runs migrations
// unless options say not to. Refuses the target of an unfinished copy.
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url,
                                               const DatabaseOptions& options = {});

// The URL with any password in it (user:PASSWORD@ or password=) replaced by
// "***", for messages and logs.
std::string RedactedUrl(const std::string& url);

// Helpers that carry a value out of a transaction.
namespace detail {
template <typename T, typename Run, typename F>
Result<T> Carry(Run&& run, F&& fn) {
  std::optional<T> out;
  Status s = run([&](Tx& tx) -> Status {
    Result<T> r = fn(tx);
    if (!r) return r.error();
    out = std::move(*r);
    return Status::Ok();
  });
  if (!s.ok()) return Unexpected(std::move(s));
  return std::move(*out);
}
}  // namespace detail

template <typename T, typename F>
Result<T> WriteResult(Database& db, F&& fn) {
  return detail::Carry<T>([&](const std::function<Status(Tx&)>& f) { return db.Write(f); }, fn);
}

template <typename T, typename F>
Result<T> ReadResult(Database& db, F&& fn) {
  return detail::Carry<T>([&](const std::function<Status(Tx&)>& f) { return db.Read(f); }, fn);
}

// Formats ids for `= ANY($1::bigint[])` (PostgreSQL) or `IN (SELECT value FROM
// json_each($1))` (SQLite): "{1,2,3}" or "[1,2,3]".
std::string IdArray(Backend backend, const std::vector<int64_t>& ids);
// The SQL fragment that tests membership of `column` in IdArray parameter $n.
std::string InIdArray(Backend backend, std::string_view column, int n);
// The same for strings: a JSON array parameter, tested with InTextArray.
std::string TextArray(Backend backend, const std::vector<std::string>& values);
std::string InTextArray(Backend backend, std::string_view column, int n);

}  // namespace ta::store
