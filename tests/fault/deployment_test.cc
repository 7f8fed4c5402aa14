// The multi-node deployment of docs/DEPLOYMENT.md as real processes: two
// `serve` nodes (API only) and two `worker` processes on one PostgreSQL.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/installation.h"
#include "support/test_database.h"

namespace ta::testing {
namespace {

class Deployment : public TempDirTest {};

struct Answer {
  int status = 0;  // 0: no answer (node down)
  int64_t run = 0;
};

Answer Post(int port, const std::string& token, const std::string& path,
            const std::string& body = "") {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(30, 0);
  auto r = c.Post(path.c_str(), {{"Authorization", "Bearer " + token}}, body, "application/json");
  if (!r) return {};
  Answer a{r->status, 0};
  if (r->status == 200 || r->status == 202)
    a.run = json::parse(r->body)["run"]["id"].get<int64_t>();
  return a;
}

// The `run` events of a stream: the processed count each carried, and the end status.
std::pair<std::vector<int64_t>, std::string> RunEvents(const std::string& stream) {
  std::vector<int64_t> processed;
  std::string end;
  std::istringstream lines(stream);
  std::string line, event;
  while (std::getline(lines, line)) {
    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
    if (line.rfind("data: ", 0) != 0) continue;
    const json data = json::parse(line.substr(6), nullptr, false);
    if (event == "run") processed.push_back(Count(data, "processed"));
    if (event == "end") end = data.value("status", "");
  }
  return {processed, end};
}

TEST_F(Deployment, TwoServeNodesAndTwoWorkersShareOnePostgres) {
  auto pg = TestDatabase::Create(TestBackend::kPostgres);
  if (!pg) return;
  Installation ta(dir_, pg->url(), /*policies=*/60, /*latency_ms=*/5);
  ta.StartServe(0);  // node A: API only
  const int a = ta.port();
  const int b = ta.StartAnotherServe(0);  // node B: API only
  ASSERT_GT(b, 0);
  ta.StartWorker();
  ta.StartWorker();

  // 1. A storm of 500 identical requests over both nodes gives one run. The
  // simulator holds the sync's first Graph read, so the run stays active.
  ta.Sim({{"hang_next", 1}});
  std::mutex mu;
  std::map<int, int> statuses;
  std::set<int64_t> runs;
  std::vector<std::thread> storm;
  for (int t = 0; t < 20; ++t) {
    storm.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const Answer r = Post((t + i) % 2 ? b : a, ta.token(), "/api/v1/tenants/1/policies/sync");
        std::lock_guard<std::mutex> lock(mu);
        ++statuses[r.status];
        if (r.run) runs.insert(r.run);
      }
    });
  }
  for (auto& t : storm) t.join();
  std::printf("STORM|500 requests over 2 nodes|202: %d|200: %d|runs: %zu\n", statuses[202],
              statuses[200], runs.size());
  EXPECT_EQ(statuses[202], 1);
  EXPECT_EQ(statuses[200], 499);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(QueryInt(pg->db(), "SELECT COUNT(*) FROM runs WHERE type = 'inventory.sync'"), 1);
  const int64_t sync = *runs.begin();

  // 2. Node A's event stream follows the run a worker process executes (node
  // A runs no jobs): every progress event, then the end.
  std::string stream;
  std::thread follower = ta.FollowEvents(sync, &stream);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the stream is open before release
  ta.Sim({{"release", true}});
  EXPECT_EQ(ta.AwaitEnd(sync, std::chrono::seconds(60))["status"], "succeeded");
  follower.join();
  auto [processed, end] = RunEvents(stream);
  std::printf("STREAM|node A|run events: %zu|processed: %lld -> %lld|end: %s\n", processed.size(),
              static_cast<long long>(processed.empty() ? -1 : processed.front()),
              static_cast<long long>(processed.empty() ? -1 : processed.back()), end.c_str());
  EXPECT_EQ(end, "succeeded") << stream.substr(0, 400);
  ASSERT_GE(processed.size(), 2u) << stream.substr(0, 400);
  EXPECT_TRUE(std::is_sorted(processed.begin(), processed.end()));
  EXPECT_EQ(processed.back(), Count(ta.Run(sync), "total"));
  EXPECT_LT(processed.front(), processed.back());
  const auto workers = ta.WorkerIds();
  ASSERT_EQ(workers.size(), 2u);
  const std::string ran_on =
      QueryText(pg->db(), "SELECT worker_id FROM jobs WHERE run_id = $1", {sync});
  EXPECT_TRUE(ran_on == workers[0] || ran_on == workers[1]) << "the sync ran on " << ran_on;

  // 3. Stopping node B (SIGTERM, then a restarted B killed with SIGKILL) while
  // clients send captures to both: every request a node acknowledged has its
  // run, and it ends. Unanswered requests are retried on node A, as a load
  // balancer would.
  for (int sig : {SIGTERM, SIGKILL}) {
    const int node_b = sig == SIGTERM ? 0 : static_cast<int>(1);
    const int port_b = sig == SIGTERM ? b : ta.StartAnotherServe(0);
    std::atomic<bool> stop{false};
    std::atomic<int> acknowledged_by_b{0}, unanswered{0};
    std::set<int64_t> acknowledged;
    std::vector<std::thread> clients;
    for (int t = 0; t < 8; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          const std::string path =
              "/api/v1/tenants/1/policies/" + std::to_string((t * 7 + i) % 60 + 1) + "/capture";
          const bool to_b = i % 2 == 0;
          Answer r = Post(to_b ? port_b : a, ta.token(), path);
          if (r.status == 0) {
            ++unanswered;
            r = Post(a, ta.token(), path);
          } else if (to_b) {
            ++acknowledged_by_b;
          }
          EXPECT_TRUE(r.status == 200 || r.status == 202) << r.status;
          std::lock_guard<std::mutex> lock(mu);
          if (r.run) acknowledged.insert(r.run);
        }
      });
    }
    while (acknowledged_by_b < 100) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int code = ta.node(node_b).Stop(sig);
    if (sig == SIGTERM) {
      EXPECT_EQ(code, 0);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // clients keep going on node A
    stop = true;
    for (auto& t : clients) t.join();
    std::vector<int64_t> ids(acknowledged.begin(), acknowledged.end());
    const auto deadline = SteadyClock::now() + std::chrono::seconds(90);
    while (QueryInt(pg->db(), "SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')") >
               0 &&
           SteadyClock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling with a deadline
    int64_t present = 0, succeeded = 0;
    for (int64_t id : ids) {
      present += QueryInt(pg->db(), "SELECT COUNT(*) FROM runs WHERE id = $1", {id});
      succeeded += QueryInt(
          pg->db(), "SELECT COUNT(*) FROM runs WHERE id = $1 AND status = 'succeeded'", {id});
    }
    std::printf(
        "STOP|%s node B|acknowledged by B before: %d|unanswered, retried on A: %d|runs "
        "acknowledged: %zu|in the database: %lld|succeeded: %lld\n",
        sig == SIGTERM ? "SIGTERM" : "SIGKILL", acknowledged_by_b.load(), unanswered.load(),
        ids.size(), static_cast<long long>(present), static_cast<long long>(succeeded));
    EXPECT_EQ(present, static_cast<int64_t>(ids.size()));
    EXPECT_EQ(succeeded, static_cast<int64_t>(ids.size()));
  }

  // 4. A token revoked through one node stops working there at once, and on
  // the other within the authorization cache's 1 s.
  const int node_c = ta.StartAnotherServe(0);
  httplib::Client on_a("127.0.0.1", a), on_c("127.0.0.1", node_c);
  auto made = on_a.Post("/api/v1/tokens", {{"Authorization", "Bearer " + ta.token()}},
                        R"({"name":"short-lived"})", "application/json");
  ASSERT_TRUE(made && made->status == 201) << (made ? made->body : "no answer");
  const std::string secret = json::parse(made->body)["secret"];
  const int64_t token_id = json::parse(made->body)["token"]["id"];
  const httplib::Headers with = {{"Authorization", "Bearer " + secret}};
  ASSERT_EQ(on_a.Get("/api/v1/me", with)->status, 200);  // node A now holds the grant
  ASSERT_EQ(on_c.Delete(("/api/v1/tokens/" + std::to_string(token_id)).c_str(), with)->status, 204);
  const auto revoked = SteadyClock::now();
  EXPECT_EQ(on_c.Get("/api/v1/me", with)->status, 401);
  int status = 0;
  while ((status = on_a.Get("/api/v1/me", with)->status) == 200 &&
         SteadyClock::now() - revoked < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling with a deadline
  const double seen_after = Seconds(SteadyClock::now() - revoked);
  std::printf("REVOKE|node C at once|node A after %.2f s\n", seen_after);
  EXPECT_EQ(status, 401);
  EXPECT_LE(seen_after, 1.5);

  std::string out;
  EXPECT_EQ(ta.AuditVerify(&out), 0) << out;
}

}  // namespace
}  // namespace ta::testing
