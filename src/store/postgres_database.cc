#include "store/postgres_database.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/thread_annotations.h"
#include "store/conn_tx.h"
#include "store/migrations.h"

namespace ta::store {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// The one place where libpq errors become Status. SQLSTATE classes:
// 23 integrity, 40 transaction rollback (retryable), 08/57 connection gone.
Status PgError(PGconn* conn, const PGresult* res, std::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = std::string(what) + ": ";
  msg += res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const std::string_view code = state ? state : "";
  if (code == "23505") return Status::AlreadyExists(std::move(msg));
  if (code.rfind("23", 0) == 0 || code.rfind("22", 0) == 0)
    return Status::InvalidArgument(std::move(msg));
  if (code == "40001" || code == "40P01") return Status::Unavailable(std::move(msg));
  if (code == "53100") return Status::StorageFull(std::move(msg));  // disk_full
  if (code.rfind("08", 0) == 0 || code.rfind("57", 0) == 0 || PQstatus(conn) != CONNECTION_OK)
    return Status::StorageUnavailable(std::move(msg));
  return Status::Internal(std::move(msg));
}

bool Retryable(const Status& s) {
  return s.code() == Status::Code::kUnavailable &&
         (s.message().find("deadlock") != std::string::npos ||
          s.message().find("could not serialize") != std::string::npos);
}

// Parameters as the text libpq sends (NULL for nullptr).
class TextParams {
 public:
  explicit TextParams(const Params& params) : text_(params.size()), values_(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
              values_[i] = nullptr;
            } else if constexpr (std::is_same_v<T, std::string>) {
              values_[i] = v.c_str();
            } else {
              char buf[64];
              auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
              (void)ec;
              text_[i].assign(buf, end);
              values_[i] = text_[i].c_str();
            }
          },
          params[i]);
    }
  }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }

 private:
  std::vector<std::string> text_;
  std::vector<const char*> values_;
};

// Appends a result's rows to `rows` (when given) and returns the rows it
// changed, or for a query without a count, the rows it returned.
int64_t TakeRows(const PGresult* res, Rows* rows) {
  const auto st = PQresultStatus(res);
  if (rows && st == PGRES_TUPLES_OK) {
    const int n = PQntuples(res), m = PQnfields(res);
    rows->reserve(rows->size() + n);
    for (int r = 0; r < n; ++r) {
      std::vector<std::optional<std::string>> cells;
      cells.reserve(m);
      for (int c = 0; c < m; ++c) {
        if (PQgetisnull(res, r, c)) {
          cells.emplace_back(std::nullopt);
        } else {
          cells.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
        }
      }
      rows->emplace_back(std::move(cells));
    }
  }
  const char* affected = PQcmdTuples(const_cast<PGresult*>(res));
  int64_t n = 0;
  if (affected && *affected) std::from_chars(affected, affected + strlen(affected), n);
  if (st == PGRES_TUPLES_OK && (!affected || !*affected)) n = PQntuples(res);
  return n;
}

// One connection. Statements are prepared once per connection. Inside a
// transaction, round trips are saved with libpq's pipeline mode: BEGIN is
// held back and sent with the transaction's first statement, deferred writes
// (Tx::Defer) with the next statement or the COMMIT, and a read-only
// transaction's COMMIT (or any ROLLBACK) is sent without waiting: its reply is
// read by the next use of the connection, before anything else is sent.
class PgConn {
 public:
  ~PgConn() { PQfinish(conn_); }

  static Result<std::unique_ptr<PgConn>> Connect(const std::string& url) {
    PGconn* c = PQconnectdb(url.c_str());
    auto conn = std::unique_ptr<PgConn>(new PgConn(c));
    if (PQstatus(c) != CONNECTION_OK) {
      // libpq's message names host and port, never the password.
      return Unexpected(PgError(c, nullptr, "connect to PostgreSQL"));
    }
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    return conn;
  }

  PGconn* raw() { return conn_; }
  bool healthy() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

  // Starts a transaction; `begin` is sent with its first statement.
  void Begin(const char* begin) {
    begin_ = begin;
    begun_ = false;
    deferred_.clear();
  }

  // Commits and waits for the server's answer (the commit is durable).
  Status Commit() {
    if (!begun_ && deferred_.empty()) {  // nothing ran: there is nothing to commit
      begin_ = nullptr;
      return Status::Ok();
    }
    std::string tag;
    auto n = Send("COMMIT", nullptr, nullptr, &tag);
    if (!n) return n.error();
    begun_ = false;
    if (tag == "ROLLBACK") return Status::Internal("commit: transaction was aborted");
    return Status::Ok();
  }

  // Ends a read-only transaction without waiting for the answer: what it read
  // is already consistent, and no later statement can start before it ends.
  Status EndReadOnly() { return EndWithoutWaiting("COMMIT"); }

  // Rolls back, without waiting (best effort: the next use reads the answer,
  // and a connection still in a transaction then rolls back or is dropped).
  void Rollback() { (void)EndWithoutWaiting("ROLLBACK"); }

  Status Script(std::string_view sql_text) {
    if (Status s = Settle(); !s.ok()) return s;
    if (begin_ || !deferred_.empty()) {
      if (auto n = Send({}, nullptr, nullptr, nullptr); !n) return n.error();
    }
    const std::string sql(sql_text);
    PgResult res(PQexec(conn_, sql.c_str()));
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return PgError(conn_, res.get(), sql.substr(0, 60));
    return Status::Ok();
  }

  Result<int64_t> Run(std::string_view sql, const Params& params, Rows* rows) {
    return Send(sql, &params, rows, nullptr);
  }

  Status Defer(std::string_view sql, const Params& params) {
    deferred_.push_back({std::string(sql), params});
    if (deferred_.size() < kMaxDeferred) return Status::Ok();
    auto n = Send({}, nullptr, nullptr, nullptr);  // keep pipelines small
    return n ? Status::Ok() : n.error();
  }

 private:
  static constexpr size_t kMaxDeferred = 32;
  struct Deferred {
    std::string sql;
    Params params;
  };

  explicit PgConn(PGconn* c) : conn_(c) {}

  // The prepared statement's name for `sql`; *fresh when it must be prepared
  // now (it is then provisional until its PREPARE succeeds).
  const std::string& Prepared(std::string_view sql, bool* fresh) {
    auto it = cache_.find(sql);
    *fresh = it == cache_.end();
    if (*fresh) it = cache_.emplace(std::string(sql), "s" + std::to_string(next_name_++)).first;
    return it->second;
  }

  // Reads the answer of a COMMIT or ROLLBACK sent without waiting.
  Status Settle() {
    if (!in_flight_) return Status::Ok();
    in_flight_ = false;
    while (PGresult* r = PQgetResult(conn_)) PQclear(r);
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      PgResult res(PQexec(conn_, "ROLLBACK"));
      if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        broken_ = true;
        return Status::StorageUnavailable("PostgreSQL connection stuck in a transaction");
      }
    }
    return Status::Ok();
  }

  Status EndWithoutWaiting(const char* sql) {
    deferred_.clear();
    begin_ = nullptr;
    if (!begun_) return Status::Ok();
    begun_ = false;
    if (Status s = Settle(); !s.ok()) return s;
    if (!PQsendQuery(conn_, sql)) {
      broken_ = true;
      return PgError(conn_, nullptr, sql);
    }
    in_flight_ = true;
    return Status::Ok();
  }

  // Sends the held-back BEGIN and deferred writes, then `sql` (prepared when
  // params is given, else as plain text; none when empty), and returns the
  // last statement's rows and count. One round trip.
  Result<int64_t> Send(std::string_view sql, const Params* params, Rows* rows, std::string* tag) {
    if (Status s = Settle(); !s.ok()) return Unexpected(s);
    if (!begin_ && deferred_.empty()) return SendOne(sql, params, rows, tag);
    return SendPipeline(sql, params, rows, tag);
  }

  Result<int64_t> SendOne(std::string_view sql, const Params* params, Rows* rows,
                          std::string* tag) {
    PgResult res;
    if (params) {
      bool fresh;
      const std::string& name = Prepared(sql, &fresh);
      if (fresh) {
        PgResult prep(PQprepare(conn_, name.c_str(), std::string(sql).c_str(), 0, nullptr));
        if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) {
          Status s = PgError(conn_, prep.get(), "prepare");
          cache_.erase(cache_.find(sql));
          return Unexpected(s);
        }
      }
      TextParams values(*params);
      res.reset(
          PQexecPrepared(conn_, name.c_str(), values.size(), values.values(), nullptr, nullptr, 0));
    } else {
      res.reset(PQexec(conn_, std::string(sql).c_str()));
    }
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return Unexpected(PgError(conn_, res.get(), params ? "query" : sql));
    if (tag) *tag = PQcmdStatus(res.get());
    return TakeRows(res.get(), rows);
  }

  Result<int64_t> SendPipeline(std::string_view sql, const Params* params, Rows* rows,
                               std::string* tag) {
    // What each reply answers, in order.
    struct Expect {
      const char* what;
      std::string fresh_sql;  // a PREPARE: forget the name unless it succeeds
      bool last = false;
    };
    std::vector<Expect> expect;
    bool sent = PQenterPipelineMode(conn_) == 1;
    auto send_text = [&](const char* text, const char* what, bool last) {
      sent = sent && PQsendQueryParams(conn_, text, 0, nullptr, nullptr, nullptr, nullptr, 0);
      expect.push_back({what, {}, last});
    };
    auto send_prepared = [&](std::string_view text, const Params& p, const char* what, bool last) {
      bool fresh;
      const std::string& name = Prepared(text, &fresh);
      if (fresh) {
        sent = sent && PQsendPrepare(conn_, name.c_str(), std::string(text).c_str(), 0, nullptr);
        expect.push_back({"prepare", std::string(text), false});
      }
      TextParams values(p);
      sent = sent && PQsendQueryPrepared(conn_, name.c_str(), values.size(), values.values(),
                                         nullptr, nullptr, 0);
      expect.push_back({what, {}, last});
    };
    if (begin_) send_text(begin_, "begin", false);
    for (const auto& d : deferred_) send_prepared(d.sql, d.params, "deferred write", false);
    if (!sql.empty()) {
      if (params) {
        send_prepared(sql, *params, "query", true);
      } else {
        send_text(std::string(sql).c_str(), "statement", true);
      }
    }
    if (begin_) begun_ = true;
    begin_ = nullptr;
    deferred_.clear();
    sent = sent && PQpipelineSync(conn_);
    if (!sent) {
      broken_ = true;
      for (const auto& e : expect)
        if (!e.fresh_sql.empty()) cache_.erase(e.fresh_sql);
      return Unexpected(PgError(conn_, nullptr, "send pipeline"));
    }
    // Each command answers with one result and then NULL; the sync with
    // PGRES_PIPELINE_SYNC. After an error, the rest answer PIPELINE_ABORTED.
    Status first_error;
    int64_t count = 0;
    for (const auto& e : expect) {
      PgResult res(PQgetResult(conn_));
      if (!res) {
        broken_ = true;
        if (first_error.ok()) first_error = PgError(conn_, nullptr, "pipeline");
        break;
      }
      const auto st = PQresultStatus(res.get());
      const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (!ok && !e.fresh_sql.empty()) cache_.erase(e.fresh_sql);
      if (!ok && first_error.ok()) {
        first_error = st == PGRES_PIPELINE_ABORTED ? Status::Internal("pipeline aborted")
                                                   : PgError(conn_, res.get(), e.what);
      }
      if (ok && e.last) {
        if (tag) *tag = PQcmdStatus(res.get());
        count = TakeRows(res.get(), rows);
      }
      if (PgResult end(PQgetResult(conn_)); end) {  // more than one result: out of step
        broken_ = true;
        break;
      }
    }
    if (!broken_) {
      PgResult sync(PQgetResult(conn_));
      if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) broken_ = true;
    }
    if (!broken_ && PQexitPipelineMode(conn_) != 1) broken_ = true;
    if (broken_ && first_error.ok())
      first_error = Status::StorageUnavailable("PostgreSQL pipeline ended out of step");
    if (!first_error.ok()) return Unexpected(first_error);
    return count;
  }

  PGconn* conn_;
  bool broken_ = false;
  std::map<std::string, std::string, std::less<>> cache_;  // sql -> prepared name
  int64_t next_name_ = 0;
  const char* begin_ = nullptr;  // a BEGIN not sent yet
  bool begun_ = false;           // a transaction is open on the server
  std::vector<Deferred> deferred_;
  bool in_flight_ = false;  // a COMMIT or ROLLBACK whose answer is unread
};

using PgTx = ConnTx<PgConn, Backend::kPostgres>;

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string url, int pool_size)
      : url_(std::move(url)), pool_size_(pool_size), wake_fd_(eventfd(0, EFD_NONBLOCK)) {
    notifier_ = std::thread([this] { NotifierLoop(); });
  }
  ~PostgresDatabase() override {
    {
      std::lock_guard<std::mutex> lock(notify_mu_);
      stopping_ = true;
    }
    notify_cv_.notify_all();
    notifier_.join();
    close(wake_fd_);
  }

  Backend backend() const override { return Backend::kPostgres; }

  Status Write(const std::function<Status(Tx&)>& fn) override {
    return ObserveWrite(
        WithConn([&](PgConn& conn) { return RunTx(conn, fn, "BEGIN", /*read_only=*/false); }));
  }

  Status Read(const std::function<Status(Tx&)>& fn) override {
    return WithConn([&](PgConn& conn) {
      return RunTx(conn, fn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   /*read_only=*/true);
    });
  }

  // NOTIFY is sent after commit by the notifier thread, not inside `tx`: a
  // transaction that notifies takes a database-wide lock at commit and holds
  // it across its WAL flush, which serialises every such commit (no group
  // commit). Wake-ups that pile up while one is being sent coalesce into one.
  Status Notify(Tx& tx, std::string_view channel) override {
    std::string ch(channel);
    tx.AfterCommit([this, ch] {
      {
        std::lock_guard<std::mutex> lock(notify_mu_);
        pending_notify_.insert(ch);
      }
      notify_cv_.notify_one();
    });
    return Status::Ok();
  }

  bool WaitForNotification(std::string_view channel, std::chrono::milliseconds timeout) override {
    std::lock_guard<std::mutex> lock(listen_mu_);
    std::string ch(channel);
    if (!listener_ || !listener_->healthy() || !listening_.count(ch)) {
      if (!listener_ || !listener_->healthy()) {
        auto c = PgConn::Connect(url_);
        if (!c) {
          std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(200)));
          return false;
        }
        listener_ = std::move(*c);
        listening_.clear();
      }
      char* ident = PQescapeIdentifier(listener_->raw(), ch.c_str(), ch.size());
      std::string sql = std::string("LISTEN ") + ident;
      PQfreemem(ident);
      if (!listener_->Script(sql.c_str()).ok()) return false;
      listening_.insert(ch);
    }
    if (Drain(ch)) return true;
    pollfd fds[2] = {{PQsocket(listener_->raw()), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int rc = poll(fds, 2, static_cast<int>(timeout.count()));
    if (rc <= 0) return false;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
    }
    PQconsumeInput(listener_->raw());
    return Drain(ch);
  }

  void Interrupt() override {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  Status Init() {
    // Fail fast with a clear error when the server is unreachable.
    return WithConn([](PgConn&) { return Status::Ok(); });
  }

 protected:
  // A write's StorageUnavailable means the server could not be reached
  // (SQLSTATE 08/57, a lost connection), which an answered ping disproves.
  bool PingDisproves(const Status& fault) const override {
    return fault.code() == Status::Code::kStorageUnavailable;
  }

 private:
  void NotifierLoop() {
    std::unique_ptr<PgConn> conn;
    std::unique_lock<std::mutex> lock(notify_mu_);
    while (true) {
      notify_cv_.wait(lock, [&] { return stopping_ || !pending_notify_.empty(); });
      if (pending_notify_.empty()) return;  // stopping, nothing left to send
      std::set<std::string> channels;
      channels.swap(pending_notify_);
      lock.unlock();
      if (!conn || !conn->healthy()) {
        auto c = PgConn::Connect(url_);
        conn = c ? std::move(*c) : nullptr;
      }
      for (const auto& ch : channels) {
        // Best effort: workers also poll, so a lost wake-up only adds latency.
        if (conn) (void)conn->Run("SELECT pg_notify($1, '')", {ch}, nullptr);
      }
      lock.lock();
    }
  }

  bool Drain(const std::string& ch) EXCLUSIVE_LOCKS_REQUIRED(listen_mu_) {
    bool got = false;
    while (PGnotify* n = PQnotifies(listener_->raw())) {
      if (ch == n->relname) got = true;
      PQfreemem(n);
    }
    return got;
  }

  Status RunTx(PgConn& conn, const std::function<Status(Tx&)>& fn, const char* begin,
               bool read_only) {
    for (int attempt = 0;; ++attempt) {
      conn.Begin(begin);
      PgTx tx(conn);
      Status s;
      try {
        s = fn(tx);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("exception in transaction: ") + e.what());
      }
      if (s.ok()) {
        s = read_only ? conn.EndReadOnly() : conn.Commit();
        if (s.ok()) {
          for (auto& f : tx.TakeAfterCommit()) f();
          return s;
        }
      }
      conn.Rollback();
      if (!Retryable(s) || attempt >= 4) return s;
    }
  }

  // Connections are handed to waiters in arrival order: a released connection
  // goes straight to the longest waiter, so a request never loses its turn to
  // threads that came later (which would stretch the tail), and only that one
  // waiter is woken.
  Status WithConn(const std::function<Status(PgConn&)>& fn) {
    std::unique_ptr<PgConn> conn;
    bool open_new = false;
    {
      std::unique_lock<std::mutex> lock(pool_mu_);
      if (waiters_.empty() && !idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else if (waiters_.empty() && open_ < pool_size_) {
        ++open_;
        open_new = true;
      } else {
        Waiter me;
        waiters_.push_back(&me);
        me.cv.wait(lock, [&] { return me.served; });
        conn = std::move(me.conn);
        open_new = !conn;  // handed a slot whose connection was dropped
      }
    }
    if (open_new) {
      auto c = PgConn::Connect(url_);
      if (!c) {
        Release(nullptr);
        return c.error();
      }
      conn = std::move(*c);
    }
    Status s = fn(*conn);
    Release(conn->healthy() ? std::move(conn) : nullptr);
    return s;
  }

  // Gives a connection (or, when null, its slot) to the longest waiter, or
  // back to the pool.
  void Release(std::unique_ptr<PgConn> conn) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!waiters_.empty()) {
      Waiter* next = waiters_.front();
      waiters_.pop_front();
      next->conn = std::move(conn);
      next->served = true;
      next->cv.notify_one();
    } else if (conn) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;  // dropped; a new one is opened on demand
    }
  }

  struct Waiter {
    std::condition_variable cv;
    std::unique_ptr<PgConn> conn;
    bool served = false;
  };

  const std::string url_;
  const int pool_size_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<PgConn>> idle_ GUARDED_BY(pool_mu_);
  std::deque<Waiter*> waiters_ GUARDED_BY(pool_mu_);
  int open_ GUARDED_BY(pool_mu_) = 0;

  std::mutex listen_mu_;
  std::unique_ptr<PgConn> listener_ GUARDED_BY(listen_mu_);
  std::set<std::string> listening_ GUARDED_BY(listen_mu_);
  int wake_fd_;

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::set<std::string> pending_notify_ GUARDED_BY(notify_mu_);
  bool stopping_ GUARDED_BY(notify_mu_) = false;
  std::thread notifier_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                               const DatabaseOptions& options) {
  auto db = std::make_unique<PostgresDatabase>(url, std::max(1, options.pg_pool_size));
  if (Status s = db->Init(); !s.ok()) return Unexpected(s);
  if (options.run_migrations) {
    if (Status s = Migrate(*db); !s.ok()) return Unexpected(s);
  }
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace ta::store
