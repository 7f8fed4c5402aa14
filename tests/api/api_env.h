#pragma once

// The API in-process on loopback: a test database (either backend), the run
// service, and the HTTP server on a free port. Requests go through a real HTTP
// client, as a script would send them. No workers: runs stay queued unless a
// test drives them.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/server.h"
#include "core/credentials.h"
#include "store/accounts.h"
#include "support/test_database.h"

namespace ta::api {

inline const char* kTestMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Who {
  int64_t id = 0;
  std::string email;
  std::string token;  // empty: anonymous
};

class ApiEnv {
 public:
  explicit ApiEnv(std::unique_ptr<::ta::testing::TestDatabase> t, ApiOptions options = {},
                  http::Limits limits = {})
      : ApiEnv(std::move(t), nullptr, std::move(options), limits) {}
  // On a database someone else owns (e.g. an ops test environment's).
  explicit ApiEnv(store::Database& db, ApiOptions options = {})
      : ApiEnv(nullptr, &db, std::move(options), {}) {}
  ~ApiEnv() {
    server_->Stop();
    thread_.join();
    std::fclose(log_file_);
  }

 private:
  ApiEnv(std::unique_ptr<::ta::testing::TestDatabase> t, store::Database* db, ApiOptions options,
         http::Limits limits)
      : t_(std::move(t)),
        db_(db ? *db : t_->db()),
        log_file_(std::tmpfile()),
        log_(redactor_, SystemClock::Instance(), log_file_, Logger::Level::kDebug),
        limiter_(SystemClock::Instance()),
        box_(*SecretBox::FromBase64Key(kTestMasterKey)),
        runs_(db_, SystemClock::Instance(), redactor_),
        ctx_(db_, runs_, SystemClock::Instance(), redactor_, &box_, metrics_, log_, limiter_,
             options) {
    metrics_.DescribeHistogram("ta_http_request_duration_seconds", "latency", {0.01, 0.1, 1});
    ServerOptions so;
    so.port = 0;
    so.limits = limits;
    server_ = std::make_unique<Server>(ctx_, so);
    EXPECT_TRUE(server_->Bind().ok());
    thread_ = std::thread([this] { server_->Serve(); });
    // Serve() starts accepting on its own thread; wait until it answers.
    for (int i = 0; i < 500 && Call("GET", "/healthz").status != 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

 public:
  store::Database& db() { return db_; }
  runs::RunService& runs() { return runs_; }
  Redactor& redactor() { return redactor_; }
  ApiContext& ctx() { return ctx_; }
  int port() const { return server_->port(); }

  // Everything the server logged so far.
  std::string Logs() {
    std::fflush(log_file_);
    std::rewind(log_file_);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, log_file_)) > 0) out.append(buf, n);
    std::fseek(log_file_, 0, SEEK_END);
    return out;
  }

  // A user with an API token (and a password when given, for sign-in tests).
  Who AddUser(const std::string& email, bool platform_admin = false,
              const std::string& password = "") {
    Who w;
    w.email = email;
    w.token = NewSecret("tat_");
    const std::string hash = password.empty() ? "" : HashPassword(password).value_or("");
    auto id = store::WriteResult<int64_t>(db(), [&](store::Tx& tx) -> Result<int64_t> {
      auto id = store::Accounts::CreateUser(tx, email, email, hash, platform_admin, 0);
      if (!id) return id;
      auto tok =
          store::Accounts::CreateToken(tx, *id, "test", SecretHash(w.token), std::nullopt, 0);
      if (!tok) return Unexpected(tok.error());
      return id;
    });
    EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().ToString());
    w.id = id.value_or(0);
    return w;
  }
  std::string NewToken(const Who& w) {
    const std::string token = NewSecret("tat_");
    Status s = db().Write([&](store::Tx& tx) -> Status {
      auto r = store::Accounts::CreateToken(tx, w.id, "extra", SecretHash(token), std::nullopt, 0);
      return r ? Status::Ok() : r.error();
    });
    EXPECT_TRUE(s.ok());
    return token;
  }
  void Member(const Who& w, int64_t tenant, const std::string& role) {
    Status s = db().Write(
        [&](store::Tx& tx) { return store::Accounts::SetMember(tx, tenant, w.id, role, 0); });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // Reads an event stream on its own thread: appends what arrives to `out`
  // while `more(out)` is true and the stream lasts; sets `started` with the
  // first event. Read `out` only after joining the thread.
  std::thread ReadStream(std::string path, const std::string& token, httplib::Headers headers,
                         std::string& out, std::atomic<bool>& started,
                         std::function<bool(const std::string&)> more) {
    headers.emplace("Authorization", "Bearer " + token);
    return std::thread([this, path = std::move(path), headers = std::move(headers), &out, &started,
                        more = std::move(more)] {
      httplib::Client client("127.0.0.1", port());
      client.set_read_timeout(20, 0);
      client.Get(path.c_str(), headers, [&](const char* data, size_t n) {
        out.append(data, n);
        started = true;
        return more(out);
      });
    });
  }

  // Waits up to 20 s for `flag` (polling with a deadline); false if it never came.
  static bool Await(const std::atomic<bool>& flag) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!flag && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return flag;
  }

  // One request. Event streams are cut after their headers (the status is kept).
  Reply Call(const std::string& method, const std::string& path, const std::string& token = "",
             const std::string& body = "", httplib::Headers headers = {}) {
    httplib::Client client("127.0.0.1", port());
    client.set_read_timeout(30, 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = headers;
    if (!body.empty()) {
      req.body = body;
      if (!req.has_header("Content-Type")) req.set_header("Content-Type", "application/json");
    } else if (method != "GET") {
      req.set_header("Content-Length", "0");
    }
    Reply reply;
    req.response_handler = [&](const httplib::Response& r) {
      reply.status = r.status;
      reply.headers = r.headers;
      return r.get_header_value("Content-Type") != "text/event-stream";
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      reply.body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    client.send(req, res, error);
    if (reply.status == 0) {  // no body (204): the handlers were not called
      reply.status = res.status;
      reply.headers = res.headers;
    }
    return reply;
  }

 private:
  std::unique_ptr<::ta::testing::TestDatabase> t_;
  store::Database& db_;
  Redactor redactor_;
  Metrics metrics_;
  std::FILE* log_file_;
  Logger log_;
  LoginLimiter limiter_;
  SecretBox box_;
  runs::RunService runs_;
  ApiContext ctx_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace ta::api
