#include "store/postgres_database.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <condition_variable>
#include <cstring>
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
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

  Status Script(std::string_view sql_text) {
    const std::string sql(sql_text);
    PgResult res(PQexec(conn_, sql.c_str()));
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return PgError(conn_, res.get(), sql.substr(0, 60));
    return Status::Ok();
  }

  Result<int64_t> Run(std::string_view sql, const Params& params, Rows* rows) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      std::string name = "s" + std::to_string(cache_.size());
      PgResult prep(PQprepare(conn_, name.c_str(), std::string(sql).c_str(), 0, nullptr));
      if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK)
        return Unexpected(PgError(conn_, prep.get(), "prepare"));
      it = cache_.emplace(std::string(sql), std::move(name)).first;
    }
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
              values[i] = nullptr;
            } else {
              if constexpr (std::is_same_v<T, std::string>) {
                values[i] = v.c_str();
              } else {
                text[i] = std::to_string(v);
                if constexpr (std::is_same_v<T, double>) {
                  char buf[64];
                  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
                  (void)ec;
                  text[i].assign(buf, end);
                }
                values[i] = text[i].c_str();
              }
            }
          },
          params[i]);
    }
    PgResult res(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                values.data(), nullptr, nullptr, 0));
    const auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Unexpected(PgError(conn_, res.get(), "query"));
    }
    if (rows && st == PGRES_TUPLES_OK) {
      const int n = PQntuples(res.get()), m = PQnfields(res.get());
      rows->reserve(rows->size() + n);
      for (int r = 0; r < n; ++r) {
        std::vector<std::optional<std::string>> cells;
        cells.reserve(m);
        for (int c = 0; c < m; ++c) {
          if (PQgetisnull(res.get(), r, c)) {
            cells.emplace_back(std::nullopt);
          } else {
            cells.emplace_back(
                std::string(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c)));
          }
        }
        rows->emplace_back(std::move(cells));
      }
    }
    const char* affected = PQcmdTuples(res.get());
    int64_t n = 0;
    if (affected && *affected) std::from_chars(affected, affected + strlen(affected), n);
    if (st == PGRES_TUPLES_OK && (!affected || !*affected)) n = PQntuples(res.get());
    return n;
  }

 private:
  explicit PgConn(PGconn* c) : conn_(c) {}
  PGconn* conn_;
  std::map<std::string, std::string, std::less<>> cache_;  // sql -> prepared name
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
    return ObserveWrite(WithConn([&](PgConn& conn) { return RunTx(conn, fn, "BEGIN"); }));
  }

  Status Read(const std::function<Status(Tx&)>& fn) override {
    return WithConn([&](PgConn& conn) {
      return RunTx(conn, fn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
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

  Status RunTx(PgConn& conn, const std::function<Status(Tx&)>& fn, const char* begin) {
    for (int attempt = 0;; ++attempt) {
      if (Status s = conn.Script(begin); !s.ok()) return s;
      PgTx tx(conn);
      Status s;
      try {
        s = fn(tx);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("exception in transaction: ") + e.what());
      }
      if (s.ok()) {
        PgResult res(PQexec(conn.raw(), "COMMIT"));
        if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
          s = PgError(conn.raw(), res.get(), "commit");
        } else if (std::string_view(PQcmdStatus(res.get())) == "ROLLBACK") {
          s = Status::Internal("commit: transaction was aborted");
        } else {
          for (auto& f : tx.TakeAfterCommit()) f();
          return s;
        }
      } else {
        // Best effort: a connection that cannot roll back is dropped as unhealthy.
        (void)conn.Script("ROLLBACK");
      }
      if (!Retryable(s) || attempt >= 4) return s;
    }
  }

  Status WithConn(const std::function<Status(PgConn&)>& fn) {
    std::unique_ptr<PgConn> conn;
    {
      std::unique_lock<std::mutex> lock(pool_mu_);
      pool_cv_.wait(lock, [&] { return !idle_.empty() || open_ < pool_size_; });
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (!conn) {
      auto c = PgConn::Connect(url_);
      if (!c) {
        {
          std::lock_guard<std::mutex> lock(pool_mu_);
          --open_;
        }
        pool_cv_.notify_one();
        return c.error();
      }
      conn = std::move(*c);
    }
    Status s = fn(*conn);
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (conn->healthy()) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;  // dropped; a new one is opened on demand
      }
    }
    pool_cv_.notify_one();
    return s;
  }

  const std::string url_;
  const int pool_size_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<PgConn>> idle_ GUARDED_BY(pool_mu_);
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
