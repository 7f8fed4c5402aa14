#include "store/sqlite_database.h"

#include <sys/resource.h>
#include <unistd.h>

#include <sqlite3.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/thread_annotations.h"
#include "store/conn_tx.h"
#include "store/migrations.h"
#include "store/sql_text.h"

namespace ta::store {
namespace {

// The one place where SQLite result codes become Status.
Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xFF) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Status::AlreadyExists(std::move(msg));
      return Status::InvalidArgument(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    case SQLITE_FULL:
      return Status::StorageFull(std::move(msg));
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return Status::StorageUnavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

// One connection plus its prepared-statement cache. Used by one thread at a time.
class SqliteConn {
 public:
  ~SqliteConn() {
    for (auto& [_, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  static Result<std::unique_ptr<SqliteConn>> Open(const std::string& path, bool reader,
                                                  const DatabaseOptions& o) {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | (o.read_only ? 0 : SQLITE_OPEN_CREATE) |
                            SQLITE_OPEN_NOMUTEX,
                        nullptr);
    auto conn = std::unique_ptr<SqliteConn>(new SqliteConn(db));
    if (rc != SQLITE_OK) return Unexpected(SqliteError(db, rc, "open " + path));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, o.sqlite_busy_timeout_ms);
    std::string pragmas = "PRAGMA foreign_keys=ON;";
    if (!reader) {
      // Every request in a group commit runs in its own savepoint, so SQLite
      // keeps a statement journal of each page a request first touches. On
      // disk that journal was a temp file created, written page by page and
      // deleted for every batch: 9 of 10 of the writer's pwrite() calls.
      // In memory it is a copy of each such page, dropped at the RELEASE.
      pragmas += "PRAGMA journal_mode=WAL;PRAGMA temp_store=MEMORY;";
      pragmas +=
          o.sqlite_synchronous_normal ? "PRAGMA synchronous=NORMAL;" : "PRAGMA synchronous=FULL;";
    } else {
      pragmas += "PRAGMA query_only=1;";
    }
    if (Status s = conn->Script(pragmas); !s.ok()) return Unexpected(s);
    return conn;
  }

  sqlite3* db() { return db_; }

  Status Script(std::string_view sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return SqliteError(nullptr, rc, "script").WithContext(msg);
    }
    return Status::Ok();
  }

  // Runs one statement; collects rows when `rows` is non-null.
  Result<int64_t> Run(std::string_view sql, const Params& params, Rows* rows) {
    sqlite3_stmt* stmt = nullptr;
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      stmt = it->second;
    } else {
      const std::string translated = DollarToQuestion(sql);
      int rc = sqlite3_prepare_v3(db_, translated.c_str(), static_cast<int>(translated.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return Unexpected(SqliteError(db_, rc, "prepare"));
      cache_.emplace(std::string(sql), stmt);
    }
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};
    for (size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(stmt, idx);
            if constexpr (std::is_same_v<T, int64_t>) return sqlite3_bind_int64(stmt, idx, v);
            if constexpr (std::is_same_v<T, double>) return sqlite3_bind_double(stmt, idx, v);
            if constexpr (std::is_same_v<T, std::string>)
              return sqlite3_bind_text(stmt, idx, v.data(), static_cast<int>(v.size()),
                                       SQLITE_STATIC);
          },
          params[i]);
      if (rc != SQLITE_OK) return Unexpected(SqliteError(db_, rc, "bind"));
    }
    const int ncol = sqlite3_column_count(stmt);
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Unexpected(SqliteError(db_, rc, "step"));
      if (!rows) continue;
      std::vector<std::optional<std::string>> cells;
      cells.reserve(ncol);
      for (int c = 0; c < ncol; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          cells.emplace_back(std::nullopt);
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          cells.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
        }
      }
      rows->emplace_back(std::move(cells));
    }
    return static_cast<int64_t>(sqlite3_changes64(db_));
  }

  // Records how much page cache this connection holds (after a transaction,
  // by the thread using it); CacheBytes() may be read from any thread.
  void SampleCache() {
    int current = 0, high = 0;
    if (sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_USED, &current, &high, 0) == SQLITE_OK)
      cache_bytes_.store(current, std::memory_order_relaxed);
  }
  int64_t CacheBytes() const { return cache_bytes_.load(std::memory_order_relaxed); }

 private:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
  std::atomic<int64_t> cache_bytes_{0};
};

using SqliteTx = ConnTx<SqliteConn, Backend::kSqlite>;

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::unique_ptr<SqliteConn> writer,
                 std::vector<std::unique_ptr<SqliteConn>> readers,
                 std::unique_ptr<SqliteConn> checkpointer)
      : writer_conn_(std::move(writer)),
        checkpoint_conn_(std::move(checkpointer)),
        readers_(std::move(readers)) {
    all_conns_.push_back(writer_conn_.get());
    for (const auto& r : readers_) all_conns_.push_back(r.get());
    // Checkpoints run on their own thread and connection (PASSIVE: they never
    // block the writer), instead of inside whichever commit crosses the WAL
    // threshold, where they stalled every request in that group commit.
    sqlite3_wal_hook(writer_conn_->db(), &SqliteDatabase::OnWalCommit, this);
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }

  ~SqliteDatabase() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    writer_thread_.join();
    {
      std::lock_guard<std::mutex> lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.notify_all();
    checkpoint_thread_.join();
  }

  Backend backend() const override { return Backend::kSqlite; }

  Status Write(const std::function<Status(Tx&)>& fn) override {
    if (std::this_thread::get_id() == writer_thread_.get_id()) {
      return Status::Internal("nested Database::Write inside a write transaction");
    }
    Request req;
    req.fn = &fn;
    auto done = req.promise.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return Status::Unavailable("database is closing");
      queue_.push_back(&req);
    }
    cv_.notify_one();
    return ObserveWrite(done.get());
  }

  Status Read(const std::function<Status(Tx&)>& fn) override {
    std::unique_ptr<SqliteConn> conn;
    {
      std::unique_lock<std::mutex> lock(readers_mu_);
      readers_cv_.wait(lock, [&] { return !readers_.empty(); });
      conn = std::move(readers_.back());
      readers_.pop_back();
    }
    auto begun = conn->Run("BEGIN", {}, nullptr);  // cached statements: reads are the hot path
    Status s = begun ? Status::Ok() : begun.error();
    if (s.ok()) {
      SqliteTx tx(*conn);
      try {
        s = fn(tx);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("exception in read transaction: ") + e.what());
      }
      (void)conn->Run("COMMIT", {}, nullptr);
    }
    conn->SampleCache();
    {
      std::lock_guard<std::mutex> lock(readers_mu_);
      readers_.push_back(std::move(conn));
    }
    readers_cv_.notify_one();
    return s;
  }

  // The page caches of the writer and the readers (each bounded by its
  // cache_size, 2 MiB by default), as each last sampled it.
  std::optional<int64_t> CacheBytes() const override {
    int64_t total = 0;
    for (const SqliteConn* c : all_conns_) total += c->CacheBytes();
    return total;
  }

  Status Notify(Tx& tx, std::string_view channel) override {
    std::string ch(channel);
    tx.AfterCommit([this, ch] {
      {
        std::lock_guard<std::mutex> lock(notify_mu_);
        pending_[ch] = true;
      }
      notify_cv_.notify_all();
    });
    return Status::Ok();
  }

  // A notification or interrupt that arrives while nobody waits is kept as
  // pending, so a waiter that starts just after it returns at once (no lost
  // wake-up between "found no work" and "wait").
  bool WaitForNotification(std::string_view channel, std::chrono::milliseconds timeout) override {
    std::string ch(channel);
    std::unique_lock<std::mutex> lock(notify_mu_);
    notify_cv_.wait_for(lock, timeout, [&] { return pending_[ch] || interrupt_pending_; });
    const bool notified = pending_[ch];
    pending_[ch] = false;
    interrupt_pending_ = false;
    return notified;
  }

  void Interrupt() override {
    {
      std::lock_guard<std::mutex> lock(notify_mu_);
      interrupt_pending_ = true;
    }
    notify_cv_.notify_all();
  }

 private:
  static constexpr int kCheckpointPages = 1000;

  // Called by SQLite on the writer thread after each commit.
  static int OnWalCommit(void* self, sqlite3*, const char*, int pages) {
    if (pages >= kCheckpointPages) {
      auto* db = static_cast<SqliteDatabase*>(self);
      {
        std::lock_guard<std::mutex> lock(db->checkpoint_mu_);
        db->checkpoint_wanted_ = true;
      }
      db->checkpoint_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  void CheckpointLoop() {
    std::unique_lock<std::mutex> lock(checkpoint_mu_);
    while (!checkpoint_stop_) {
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stop_ || checkpoint_wanted_; });
      if (checkpoint_stop_) break;
      checkpoint_wanted_ = false;
      lock.unlock();
      int log = 0, done = 0;
      sqlite3_wal_checkpoint_v2(checkpoint_conn_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                                &done);
      lock.lock();
    }
  }

  struct Request {
    const std::function<Status(Tx&)>* fn = nullptr;
    std::promise<Status> promise;
    std::vector<std::function<void()>> after;
  };

  static constexpr size_t kMaxBatch = 1024;

  void WriterLoop() {
    // Every write in the process funnels through this one thread, so under
    // load it should not queue behind the request threads it serves. Raising
    // its weight needs CAP_SYS_NICE; without it the call fails and nothing changes.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), -5);
    SqliteConn& conn = *writer_conn_;
    while (true) {
      std::vector<Request*> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
      CommitBatch(conn, batch);
      conn.SampleCache();
    }
  }

  // Runs each request in its own savepoint, then commits once for the batch.
  void CommitBatch(SqliteConn& conn, std::vector<Request*>& batch) {
    Status begin = conn.Script("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      for (Request* r : batch) r->promise.set_value(begin);
      return;
    }
    std::vector<Request*> pending;  // ran OK, waiting for COMMIT
    for (Request* r : batch) {
      // Savepoints run as cached prepared statements: they bracket every
      // request in the batch, and re-parsing them showed up in profiles.
      (void)conn.Run("SAVEPOINT w", {}, nullptr);
      SqliteTx tx(conn);
      Status s;
      try {
        s = (*r->fn)(tx);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("exception in write transaction: ") + e.what());
      }
      if (sqlite3_get_autocommit(conn.db())) {
        // SQLite rolled the whole transaction back (e.g. disk full): everything
        // in this batch so far is lost. Fail them and start a new transaction.
        const Status lost = s.ok() ? Status::Internal("transaction rolled back by SQLite") : s;
        r->promise.set_value(lost);
        for (Request* p : pending) p->promise.set_value(lost);
        pending.clear();
        if (Status b = conn.Script("BEGIN IMMEDIATE"); !b.ok()) {
          for (Request* rest : batch)
            if (rest != r) rest->promise.set_value(b);
          return;
        }
        continue;
      }
      if (s.ok()) {
        (void)conn.Run("RELEASE w", {}, nullptr);
        r->after = tx.TakeAfterCommit();
        pending.push_back(r);
      } else {
        // The request already failed with `s`; a failed rollback shows up
        // as a failed COMMIT below, which fails the whole batch.
        (void)conn.Script("ROLLBACK TO w");
        (void)conn.Script("RELEASE w");
        r->promise.set_value(s);
      }
    }
    Status commit = conn.Script("COMMIT");
    if (!commit.ok()) (void)conn.Script("ROLLBACK");  // the batch failed with `commit`
    for (Request* r : pending) {
      // Hooks first: a caller that sees its Write return sees their effects
      // (an access change voids cached grants before the answer goes out).
      if (commit.ok())
        for (auto& fn : r->after) fn();
      r->promise.set_value(commit);  // r may be gone after this line
    }
  }

  std::unique_ptr<SqliteConn> writer_conn_;   // used only by writer_thread_
  std::vector<const SqliteConn*> all_conns_;  // writer and readers, for CacheBytes()
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request*> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread writer_thread_;
  std::unique_ptr<SqliteConn> checkpoint_conn_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stop_ GUARDED_BY(checkpoint_mu_) = false;
  std::thread checkpoint_thread_;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<SqliteConn>> readers_ GUARDED_BY(readers_mu_);

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::unordered_map<std::string, bool> pending_ GUARDED_BY(notify_mu_);
  bool interrupt_pending_ GUARDED_BY(notify_mu_) = false;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                             const DatabaseOptions& options) {
  // SQLite counts every allocation under one process-wide mutex unless told
  // not to; with 64 request threads that mutex was the most contended lock in
  // the server (futex waits several times per request). Nothing here reads
  // sqlite3_memory_used(). Must run before SQLite initializes; later calls
  // are refused harmlessly.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !options.read_only) std::filesystem::create_directories(parent, ec);
  // Read-only: every connection is a reader (query_only, the journal mode
  // left as it is), so Write fails and the file is not changed.
  auto writer = SqliteConn::Open(path, options.read_only, options);
  if (!writer) return Unexpected(writer.error());
  std::vector<std::unique_ptr<SqliteConn>> readers;
  for (int i = 0; i < std::max(1, options.sqlite_readers); ++i) {
    auto r = SqliteConn::Open(path, true, options);
    if (!r) return Unexpected(r.error());
    readers.push_back(std::move(*r));
  }
  auto checkpointer = SqliteConn::Open(path, options.read_only, options);
  if (!checkpointer) return Unexpected(checkpointer.error());
  auto db = std::make_unique<SqliteDatabase>(std::move(*writer), std::move(readers),
                                             std::move(*checkpointer));
  if (options.run_migrations && !options.read_only) {
    if (Status s = Migrate(*db); !s.ok()) return Unexpected(s);
  }
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace ta::store
