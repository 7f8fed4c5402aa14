// Faults on real processes, as an operator would meet them: `tenantatlas serve`,
// `tenantatlas worker`s and `graph-sim` as separate processes, the database
// taken away in the middle of a 200-policy backup, then given back. Each test
// ends with every item having an outcome, the run's status matching its items,
// a complete backup set, no Graph writes, and `audit verify` intact. Each also
// prints one FAULT-TABLE line (the closing note's table).
//
// TA_FAULT_BIN=/path/to/tenantatlas runs the same scenario against another
// build (how the "before" column was measured).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/database.h"
#include "support/child.h"

namespace ta {
namespace {

using nlohmann::json;
using ::ta::testing::Child;
using ::ta::testing::Shell;
using SteadyClock = std::chrono::steady_clock;

const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

std::string Bin() {
  const char* other = std::getenv("TA_FAULT_BIN");
  return other && *other ? other : TA_BINARY;
}

// A run's counter ("total", "processed", ...) from its API view.
int64_t Count(const json& run, const char* name) {
  return run.is_object() && run.contains("counts") ? run["counts"].value(name, int64_t{0}) : 0;
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

// The processes of one installation, and an API client for it.
class Installation {
 public:
  Installation(std::string dir, std::string db_url, int policies)
      : dir_(std::move(dir)), db_(std::move(db_url)) {
    sim_ = Child::Start(
        {TA_GRAPH_SIM, "--port", "0", "--tenant", "t1", "--client-id", "app", "--client-secret",
         "s3cret-Qx8", "--generate", std::to_string(policies), "--latency-ms", "100"},
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
                        "' --email ops@example.com",
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
    serve_.Stop(SIGKILL);
    sim_.Stop(SIGKILL);
  }

  // `serve` with `workers` in-process worker pools (0 or 1).
  void StartServe(int workers, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {Bin(),    "serve", "--db",      db_,
                                     "--port", "0",     "--workers", std::to_string(workers)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    serve_ = Child::Start(argv, dir_ + "/serve.log", env_);
    auto m = serve_.WaitFor(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"),
                            std::chrono::seconds(30));
    ASSERT_FALSE(m.empty()) << serve_.buffered;
    api_port_ = std::stoi(m[1]);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_port_);
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(10, 0);
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
  std::vector<Child> workers_;
  std::unique_ptr<httplib::Client> client_;
  int api_port_ = 0;
};

// What the API answered while the fault lasted: "503×12 (Retry-After)".
struct Answers {
  std::map<int, int> by_status;
  bool all_retry_after = true;
  bool leaked = false;  // a body named the database host, port or driver
  void Add(const Installation::Reply& r, const std::string& secret_text) {
    ++by_status[r.status];
    if (r.status >= 500) all_retry_after &= !r.retry_after.empty();
    if (!secret_text.empty() && r.body.find(secret_text) != std::string::npos) leaked = true;
    if (r.body.find("libpq") != std::string::npos ||
        r.body.find("server closed") != std::string::npos ||
        r.body.find("SQLITE") != std::string::npos)
      leaked = true;
  }
  std::string ToString() const {
    std::string out;
    for (const auto& [status, n] : by_status)
      out += (out.empty() ? "" : " ") + (status ? std::to_string(status) : "none") + "x" +
             std::to_string(n);
    if (!all_retry_after) out += " (5xx without Retry-After)";
    return out;
  }
};

void PrintRow(const std::string& fault, const json& run, int64_t with_outcome, int64_t held,
              int64_t writes, double recover_s, const Answers& answers) {
  std::printf(
      "FAULT-TABLE|%s|total %lld|with outcome %lld|set holds %lld|%s|graph writes %lld|"
      "recovered %.1f s|API during fault: %s\n",
      fault.c_str(), static_cast<long long>(Count(run, "total")),
      static_cast<long long>(with_outcome), static_cast<long long>(held),
      run.value("status", std::string("?")).c_str(), static_cast<long long>(writes), recover_s,
      answers.ToString().c_str());
  std::fflush(stdout);
}

class ProcessFault : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ta-fault-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
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

// PostgreSQL stopped for 10 s in the middle of a 200-policy backup, with
// `serve --workers 0` and 2 workers. Before: the run ended `succeeded` with 80
// of 200 items and the set held 80.
TEST_F(ProcessFault, PostgresStoppedTenSecondsMidBackupLosesNothing) {
  std::string out;
  PgCluster pg;
  ASSERT_TRUE(pg.Start());
  const std::string& url = pg.url;
  const std::string& port = pg.port;
  Installation ta(dir_, url, 200);
  ta.StartServe(0);
  ta.StartWorker();
  ta.StartWorker();
  const int64_t sync = ta.Start("/policies/sync");
  ASSERT_EQ(ta.AwaitEnd(sync, std::chrono::seconds(60))["status"], "succeeded");
  const int64_t backup = ta.Start("/backup-sets", R"({"name":"Nightly"})");
  std::string events;
  std::thread follower = ta.FollowEvents(backup, &events);
  std::printf("database stopped at %lld of 200 items\n",
              static_cast<long long>(ta.AwaitProgress(backup, 40)));
  ASSERT_EQ(pg.Pause(), 0);
  const auto stopped = SteadyClock::now();
  Answers answers;
  while (SteadyClock::now() - stopped < std::chrono::seconds(10)) {
    answers.Add(ta.Call("GET", "/api/v1/tenants/1/runs/" + std::to_string(backup)), port);
    answers.Add(ta.Call("POST", "/api/v1/tenants/1/policies/1/capture"), port);
    auto ready = ta.Call("GET", "/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_EQ(ready.body.find(port), std::string::npos) << ready.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(pg.Resume(), 0);
  const auto resumed = SteadyClock::now();
  while (ta.Call("GET", "/readyz").status != 200 &&
         SteadyClock::now() - resumed < std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double recover_s = Seconds(SteadyClock::now() - resumed);

  const json run = ta.AwaitEnd(backup, std::chrono::seconds(180));
  std::printf("backup ended %.1f s after the database came back\n",
              Seconds(SteadyClock::now() - resumed));
  const auto [with_outcome, held] = ta.StoredItems(backup);
  const int64_t writes = ta.GraphWrites();
  PrintRow("PostgreSQL stopped 10 s mid-backup, serve --workers 0 + 2 workers", run, with_outcome,
           held, writes, recover_s, answers);
  EXPECT_EQ(run["status"], "succeeded") << run.dump();
  EXPECT_EQ(Count(run, "total"), 200);
  EXPECT_EQ(Count(run, "processed"), 200);
  EXPECT_EQ(with_outcome, 200) << "every item has an outcome";
  EXPECT_EQ(held, 200) << "the backup set is complete";
  EXPECT_EQ(writes, 0) << "a backup writes nothing to Graph";
  EXPECT_LT(recover_s, 5.0) << "the API is ready within 5 s of the database coming back";
  EXPECT_GT(answers.by_status[503], 0) << answers.ToString();
  EXPECT_TRUE(answers.all_retry_after) << answers.ToString();
  EXPECT_FALSE(answers.leaked) << "database details reached an API answer";
  EXPECT_EQ(ta.AuditVerify(&out), 0) << out;
  // The run's event stream lived through the outage and ended with the run.
  follower.join();
  EXPECT_EQ(events.rfind("retry: 3000\n", 0), 0u) << events.substr(0, 200);
  EXPECT_NE(events.find(": the database is unavailable; retrying"), std::string::npos);
  EXPECT_NE(events.find("event: end\ndata: {\"status\":\"succeeded\"}"), std::string::npos)
      << events.substr(events.size() > 400 ? events.size() - 400 : 0);
  // The details went to the log, at error level.
  const std::string log = ta.ServeLog();
  EXPECT_NE(log.find("\"level\":\"error\""), std::string::npos);
  EXPECT_NE(log.find("database fault"), std::string::npos);
}

// Every connection of the installation killed (pg_terminate_backend) in the
// middle of a 200-item restore preview, with `serve --workers 0` and 2
// workers. Before: the preview ended `succeeded` with items missing.
TEST_F(ProcessFault, PostgresConnectionsKilledMidPreviewLoseNothing) {
  std::string out;
  PgCluster pg;
  ASSERT_TRUE(pg.Start());
  Installation ta(dir_, pg.url, 200);
  ta.StartServe(0);
  ta.StartWorker();
  ta.StartWorker();
  ASSERT_EQ(ta.AwaitEnd(ta.Start("/policies/sync"), std::chrono::seconds(60))["status"],
            "succeeded");
  ASSERT_EQ(ta.AwaitEnd(ta.Start("/backup-sets", R"({"name":"Nightly"})"),
                        std::chrono::seconds(120))["status"],
            "succeeded");
  const int64_t preview = ta.Start("/restores/preview", R"({"backup_set_id":1})");
  std::printf("connections killed at %lld of 200 items\n",
              static_cast<long long>(ta.AwaitProgress(preview, 40)));
  auto admin = store::OpenDatabase(pg.url, store::DatabaseOptions{.run_migrations = false});
  ASSERT_TRUE(admin.has_value());
  int64_t killed = 0;
  ASSERT_TRUE((*admin)
                  ->Read([&](store::Tx& tx) -> Status {
                    auto r = tx.Query(
                        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) AS t FROM "
                        "pg_stat_activity WHERE backend_type = 'client backend' AND pid <> "
                        "pg_backend_pid()) k WHERE t");
                    if (!r) return r.error();
                    killed = r->front().Int(0);
                    return Status::Ok();
                  })
                  .ok());
  admin->reset();
  const auto at = SteadyClock::now();
  const json run = ta.AwaitEnd(preview, std::chrono::seconds(180));
  const auto [with_outcome, held] = ta.StoredItems(preview);
  (void)held;  // a preview has no set of its own
  Answers none;
  PrintRow("pg_terminate_backend of " + std::to_string(killed) +
               " connections mid-preview, serve --workers 0 + 2 workers",
           run, with_outcome, 0, ta.GraphWrites(), Seconds(SteadyClock::now() - at), none);
  EXPECT_GT(killed, 0);
  EXPECT_EQ(run["status"], "succeeded") << run.dump();
  EXPECT_EQ(Count(run, "total"), 200);
  EXPECT_EQ(Count(run, "processed"), 200);
  EXPECT_EQ(with_outcome, 200) << "every item has an outcome";
  EXPECT_EQ(ta.GraphWrites(), 0) << "a preview writes nothing to Graph";
  EXPECT_EQ(ta.AuditVerify(&out), 0) << out;
}

// SIGTERM to `serve` while its job waits on a hung Graph call: /readyz turns
// 503 at once, the process exits within its grace period, and a worker started
// afterwards finishes the run. Before: the process waited for the hung call
// (still alive after 90 s).
TEST_F(ProcessFault, SigtermToServeDrainsWithinGraceAndAWorkerFinishesTheRun) {
  Installation ta(dir_, dir_ + "/ta.db", 24);
  ta.StartServe(1, {"--shutdown-grace", "3"});
  ASSERT_EQ(ta.AwaitEnd(ta.Start("/policies/sync"), std::chrono::seconds(60))["status"],
            "succeeded");
  ta.Sim({{"hang_next", 1}, {"hang_ms", 600'000}});
  const int64_t backup = ta.Start("/backup-sets", R"({"name":"Nightly"})");
  const auto until = SteadyClock::now() + std::chrono::seconds(30);
  while (ta.SimWaiting() < 1 && SteadyClock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling with a deadline
  ASSERT_EQ(ta.SimWaiting(), 1);
  const auto sent = SteadyClock::now();
  kill(ta.serve().pid, SIGTERM);
  // While it drains, the API still answers, and says it is not ready.
  auto ready = ta.Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("\"stopping\":true"), std::string::npos) << ready.body;
  const int code = ta.serve().Stop(0);  // signal 0: only reap
  const double exited_s = Seconds(SteadyClock::now() - sent);
  EXPECT_EQ(code, 0);
  EXPECT_LT(exited_s, 3.0 + 3.0) << "grace 3 s";
  ta.StartServe(0);
  ta.StartWorker();
  const json run = ta.AwaitEnd(backup, std::chrono::seconds(60));
  const auto [with_outcome, held] = ta.StoredItems(backup);
  Answers answers;
  answers.Add(ready, "");
  PrintRow("SIGTERM to serve (grace 3 s) during a hung Graph call, then a new worker", run,
           with_outcome, held, ta.GraphWrites(), exited_s, answers);
  EXPECT_EQ(run["status"], "succeeded") << run.dump();
  EXPECT_EQ(with_outcome, 24);
  EXPECT_EQ(held, 24);
  std::string out;
  EXPECT_EQ(ta.AuditVerify(&out), 0) << out;
  ta.Sim({{"release", true}});
}

// SQLite on a small real filesystem (a loop-mounted ext4 image) filled in the
// middle of a 300-policy backup, then freed. Before: the run ended `succeeded`
// with 74 of 300 missing, and the API answered 429.
TEST_F(ProcessFault, SqliteFilesystemFilledMidBackupThenFreedLosesNothing) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to loop-mount an image (the max_page_count "
                    "variant runs in FaultTest.StoreFault*)";
  const std::string img = dir_ + "/fs.img", mnt = dir_ + "/mnt";
  std::filesystem::create_directories(mnt);
  std::string out;
  if (Shell("truncate -s 24M " + img + " && mkfs.ext4 -q -F " + img + " && mount -o loop " + img +
                " " + mnt,
            &out) != 0)
    GTEST_SKIP() << "cannot loop-mount an ext4 image here: " << out;
  struct Unmount {
    std::string mnt;
    ~Unmount() { umount2(mnt.c_str(), MNT_DETACH); }
  } unmount{mnt};

  Installation ta(dir_, mnt + "/ta.db", 300);
  ta.StartServe(1);
  const int64_t sync = ta.Start("/policies/sync");
  ASSERT_EQ(ta.AwaitEnd(sync, std::chrono::seconds(60))["status"], "succeeded");
  const int64_t backup = ta.Start("/backup-sets", R"({"name":"Nightly"})");
  std::printf("filesystem filled at %lld of 300 items\n",
              static_cast<long long>(ta.AwaitProgress(backup, 40)));
  // Fill every free block (dd stops at ENOSPC).
  Shell("dd if=/dev/zero of=" + mnt + "/filler bs=64k 2>/dev/null; sync");
  const auto filled = SteadyClock::now();
  Answers answers;
  bool readyz_full = false;
  // A new policy each time: a start that reuses an active run is a pure read
  // and (rightly) still succeeds on a full disk; a new start must write.
  for (int policy = 2; SteadyClock::now() - filled < std::chrono::seconds(6); ++policy) {
    answers.Add(
        ta.Call("POST", "/api/v1/tenants/1/policies/" + std::to_string(policy) + "/capture"), "");
    auto ready = ta.Call("GET", "/readyz");
    if (ready.status == 503 && ready.body.find("\"full\"") != std::string::npos) readyz_full = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::filesystem::remove(mnt + "/filler");
  const auto freed = SteadyClock::now();
  Installation::Reply after;
  while (SteadyClock::now() - freed < std::chrono::seconds(30)) {
    after = ta.Call("POST", "/api/v1/tenants/1/policies/250/capture");
    if (after.status == 202 || after.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double recover_s = Seconds(SteadyClock::now() - freed);

  const json run = ta.AwaitEnd(backup, std::chrono::seconds(180));
  std::printf("backup ended %.1f s after space was freed\n", Seconds(SteadyClock::now() - freed));
  const auto [with_outcome, held] = ta.StoredItems(backup);
  const int64_t writes = ta.GraphWrites();
  PrintRow("SQLite filesystem (24 MB ext4 image) filled mid-backup, then freed", run, with_outcome,
           held, writes, recover_s, answers);
  EXPECT_EQ(run["status"], "succeeded") << run.dump();
  EXPECT_EQ(Count(run, "total"), 300);
  EXPECT_EQ(Count(run, "processed"), 300);
  EXPECT_EQ(with_outcome, 300) << "every item has an outcome";
  EXPECT_EQ(held, 300) << "the backup set is complete";
  EXPECT_EQ(writes, 0);
  EXPECT_TRUE(after.status == 202 || after.status == 200) << after.status << " " << after.body;
  EXPECT_GT(answers.by_status[507], 0) << answers.ToString();
  EXPECT_EQ(answers.by_status[429], 0) << answers.ToString();
  EXPECT_TRUE(answers.all_retry_after) << answers.ToString();
  EXPECT_TRUE(readyz_full) << "/readyz reported the full disk";
  EXPECT_FALSE(answers.leaked);
  EXPECT_NE(ta.ServeLog().find("database fault"), std::string::npos) << "logged at error level";
  EXPECT_EQ(ta.AuditVerify(&out), 0) << out;
}

}  // namespace
}  // namespace ta
