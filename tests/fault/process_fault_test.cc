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
#include "support/installation.h"

namespace ta {
namespace {

using namespace ::ta::testing;

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

class ProcessFault : public ::ta::testing::TempDirTest {};

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
  // While it drains, the API still answers, and says it is not ready (as soon
  // as the signal has been taken: within a second, not at once).
  auto ready = ta.Call("GET", "/readyz");
  while (ready.status == 200 && SteadyClock::now() - sent < std::chrono::seconds(1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling with a deadline
    ready = ta.Call("GET", "/readyz");
  }
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
