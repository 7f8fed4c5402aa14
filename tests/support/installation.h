#pragma once

// One TenantAtlas installation as real processes, as an operator runs it:
// `graph-sim`, `tenantatlas serve`, optional `tenantatlas worker`s, set up with
// the CLI (migrate, user, token, tenant, member), and an API client for it.
// Used by the process fault tests and the soak.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/database.h"
#include "support/child.h"

namespace ta::testing {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

inline const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

inline std::string Bin() {
  const char* other = std::getenv("TA_FAULT_BIN");
  return other && *other ? other : TA_BINARY;
}

// A run's counter ("total", "processed", ...) from its API view.
inline int64_t Count(const json& run, const char* name) {
  return run.is_object() && run.contains("counts") ? run["counts"].value(name, int64_t{0}) : 0;
}

inline double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

// The processes of one installation, and an API client for it.
class Installation {
 public:
  Installation(std::string dir, std::string db_url, int policies, int latency_ms = 100)
      : dir_(std::move(dir)), db_(std::move(db_url)) {
    sim_ = Child::Start({TA_GRAPH_SIM, "--port", "0", "--tenant", "t1", "--client-id", "app",
                         "--client-secret", "s3cret-Qx8", "--generate", std::to_string(policies),
                         "--latency-ms", std::to_string(latency_ms)},
                        dir_ + "/sim.log");
    auto sim = sim_.WaitFor(std::regex(R"(listening on (http://127\.0\.0\.1:\d+))"),
                            std::chrono::seconds(20));
    EXPECT_FALSE(sim.empty()) << sim_.buffered;
    sim_url_ = sim.empty() ? "" : sim[1].str();
    env_ = {std::string("TA_MASTER_KEY=") + kKey, "TA_GRAPH_AUTHORITY=" + sim_url_,
            "TA_GRAPH_BASE=" + sim_url_, "TA_DATABASE_URL=" + db_};
    const std::string cli = "TA_MASTER_KEY=" + std::string(kKey) + " " + Bin() + " ";
    std::string out;
    EXPECT_EQ(Shell(cli + "migrate --db '" + db_ + "'", &out), 0) << out;
    EXPECT_EQ(Shell("echo 'a long enough passphrase' | " + cli + "user add --db '" + db_ +
                        "' --email ops@example.com --platform-admin",
                    &out),
              0)
        << out;
    EXPECT_EQ(Shell(cli + "token create --db '" + db_ + "' --email ops@example.com", &token_, true),
              0);
    token_ = token_.substr(0, token_.find('\n'));
    EXPECT_EQ(Shell("printf s3cret-Qx8 | " + cli + "tenant add --db '" + db_ +
                        "' --name Contoso --entra-tenant-id t1 --client-id app",
                    &out),
              0)
        << out;
    EXPECT_EQ(Shell(cli + "member add --db '" + db_ +
                        "' --tenant Contoso --email ops@example.com --role operator",
                    &out),
              0)
        << out;
  }
  ~Installation() {
    for (auto& w : workers_) w.Stop(SIGKILL);
    for (auto& n : nodes_) n.Stop(SIGKILL);
    serve_.Stop(SIGKILL);
    sim_.Stop(SIGKILL);
  }

  // `serve` with `workers` in-process worker pools (0 or 1), and `env` added
  // to its environment.
  void StartServe(int workers, const std::vector<std::string>& extra = {},
                  const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {Bin(),    "serve", "--db",      db_,
                                     "--port", "0",     "--workers", std::to_string(workers)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<std::string> serve_env = env_;
    serve_env.insert(serve_env.end(), env.begin(), env.end());
    serve_ = Child::Start(argv, dir_ + "/serve.log", serve_env);
    auto m = serve_.WaitFor(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"),
                            std::chrono::seconds(30));
    ASSERT_FALSE(m.empty()) << serve_.buffered;
    api_port_ = std::stoi(m[1]);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_port_);
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(10, 0);
  }
  // Another `serve` on the same database (a second API node behind a load
  // balancer); returns its port. node(i) is its process.
  int StartAnotherServe(int workers) {
    nodes_.push_back(Child::Start({Bin(), "serve", "--db", db_, "--port", "0", "--workers",
                                   std::to_string(workers)},
                                  dir_ + "/serve" + std::to_string(nodes_.size() + 1) + ".log",
                                  env_));
    auto m = nodes_.back().WaitFor(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"),
                                   std::chrono::seconds(30));
    EXPECT_FALSE(m.empty()) << nodes_.back().buffered;
    return m.empty() ? 0 : std::stoi(m[1]);
  }
  Child& node(size_t i) { return nodes_.at(i); }
  // The worker id each `worker` process announced ("worker ID started").
  std::vector<std::string> WorkerIds() {
    std::vector<std::string> ids;
    std::smatch m;
    for (const auto& w : workers_)
      if (std::regex_search(w.buffered, m, std::regex(R"(worker (\S+) started)"))) ids.push_back(m[1]);
    return ids;
  }
  void StartWorker() {
    workers_.push_back(Child::Start({Bin(), "worker", "--db", db_},
                                    dir_ + "/worker" + std::to_string(workers_.size()) + ".log",
                                    env_));
    EXPECT_FALSE(workers_.back().WaitFor(std::regex("started"), std::chrono::seconds(30)).empty());
  }

  struct Reply {
    int status = 0;  // 0: no answer
    std::string body, retry_after;
  };
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    const httplib::Headers auth = {{"Authorization", "Bearer " + token_}};
    auto r = method == "POST" ? client_->Post(path.c_str(), auth, body, "application/json")
                              : client_->Get(path.c_str(), auth);
    if (!r) return {};
    return {r->status, r->body, r->get_header_value("Retry-After")};
  }
  json Run(int64_t id) {
    auto r = Call("GET", "/api/v1/tenants/1/runs/" + std::to_string(id));
    return r.status == 200 ? json::parse(r.body) : json();
  }
  // Waits (bounded) until run `id` has ended; returns it.
  json AwaitEnd(int64_t id, std::chrono::seconds limit) {
    const auto until = SteadyClock::now() + limit;
    json run;
    while (SteadyClock::now() < until) {
      run = Run(id);
      if (run.is_object()) {
        const std::string s = run["status"];
        if (s != "queued" && s != "running") return run;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling with a deadline
    }
    ADD_FAILURE() << "run " << id << " did not end within " << limit.count() << " s";
    return run;
  }
  // Waits (bounded) until run `id` has processed `n` items; returns how many it has.
  int64_t AwaitProgress(int64_t id, int64_t n) {
    const auto until = SteadyClock::now() + std::chrono::seconds(60);
    int64_t processed = 0;
    while ((processed = Count(Run(id), "processed")) < n && SteadyClock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling with a deadline
    return processed;
  }
  int64_t Start(const std::string& path, const std::string& body = "") {
    auto r = Call("POST", "/api/v1/tenants/1" + path, body);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.status == 202 ? json::parse(r.body)["run"]["id"].get<int64_t>() : 0;
  }
  // Sets simulator knobs (POST /_sim/config); requests held by hang_next now.
  void Sim(const json& knobs) {
    httplib::Client sim(sim_url_);
    auto r = sim.Post("/_sim/config", knobs.dump(), "application/json");
    EXPECT_TRUE(r && r->status / 100 == 2) << (r ? r->status : 0);
  }
  int SimWaiting() {
    httplib::Client sim(sim_url_);
    auto r = sim.Get("/_sim/waiting");
    return r ? json::parse(r->body).value("waiting", -1) : -1;
  }
  // SIGTERM to serve; returns its exit code after it ended.
  Child& serve() { return serve_; }

  // Graph writes the simulator answered (a backup makes none).
  int64_t GraphWrites() {
    httplib::Client sim(sim_url_);
    auto r = sim.Get("/_sim/requests");
    if (!r) return -1;
    int64_t n = 0;
    for (const auto& e : json::parse(r->body))
      if (e.value("write", false)) ++n;
    return n;
  }
  int AuditVerify(std::string* out) {
    return Shell(Bin() + " audit verify --db '" + db_ + "'", out);
  }
  // Items of the run with an outcome, and the backup set's items, from the
  // database itself (not from the API's counters).
  std::pair<int64_t, int64_t> StoredItems(int64_t run) {
    auto db = store::OpenDatabase(db_, store::DatabaseOptions{.run_migrations = false});
    if (!db) {
      ADD_FAILURE() << db.error().ToString();
      return {-1, -1};
    }
    auto count = [&](const std::string& sql) {
      return store::ReadResult<int64_t>(**db,
                                        [&](store::Tx& tx) -> Result<int64_t> {
                                          auto r = tx.Query(sql, {run});
                                          if (!r) return Unexpected(r.error());
                                          return r->front().Int(0);
                                        })
          .value_or(-1);
    };
    return {count("SELECT COUNT(*) FROM run_items WHERE run_id = $1 AND status <> 'pending'"),
            count("SELECT COUNT(*) FROM backup_items i JOIN backup_sets s ON s.id = "
                  "i.backup_set_id WHERE s.run_id = $1")};
  }
  const std::string& db() const { return db_; }
  const std::string& token() const { return token_; }
  int port() const { return api_port_; }
  std::string ServeLog() const {
    std::ifstream in(dir_ + "/serve.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Follows a run's event stream on its own connection until the stream ends.
  std::thread FollowEvents(int64_t run, std::string* into) {
    return std::thread([this, run, into] {
      httplib::Client c("127.0.0.1", api_port_);
      c.set_read_timeout(120, 0);
      const httplib::Headers auth = {{"Authorization", "Bearer " + token_}};
      c.Get(("/api/v1/tenants/1/runs/" + std::to_string(run) + "/events").c_str(), auth,
            [&](const char* d, size_t n) {
              into->append(d, n);
              return true;
            });
    });
  }

 private:
  std::string dir_, db_, sim_url_, token_;
  std::vector<std::string> env_;
  Child sim_, serve_;
  std::vector<Child> workers_, nodes_;
  std::unique_ptr<httplib::Client> client_;
  int api_port_ = 0;
};

// A private PostgreSQL cluster (scripts/pg-throwaway) that a test may stop
// and start: the shared test cluster serves the tests running beside this one.
struct PgCluster {
  std::string dir, url, port;
  static std::string Script() { return std::string(TA_SOURCE_DIR) + "/scripts/pg-throwaway "; }
  bool Start() {
    std::string out;
    if (Shell(Script() + "start", &out, true) != 0) return false;
    std::smatch m;
    if (!std::regex_search(out, m, std::regex(R"(TA_TEST_PG_DIR=(\S+))"))) return false;
    dir = m[1];
    if (!std::regex_search(out, m, std::regex(R"(TA_TEST_PG_URL=(\S+))"))) return false;
    url = m[1];
    port = url.substr(url.rfind(':') + 1, url.rfind('/') - url.rfind(':') - 1);
    return true;
  }
  int Pause() { return Shell(Script() + "pause " + dir); }
  int Resume() { return Shell(Script() + "resume " + dir); }
  ~PgCluster() {
    if (!dir.empty()) Shell(Script() + "stop " + dir);
  }
};

}  // namespace ta::testing
