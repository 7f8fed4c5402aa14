// The API's behaviour through real HTTP: dedupe under concurrency, the
// Idempotency-Key header, sign-in with sessions and CSRF, validation, paging
// and live run events.
#include <gtest/gtest.h>

#include "core/log.h"

#include <atomic>
#include <barrier>
#include <filesystem>
#include <fstream>
#include <set>

#include "api/problem.h"
#include "api/routes.h"
#include "api_env.h"

namespace ta::api {
namespace {

using nlohmann::json;
using ::ta::testing::QueryInt;
using ::ta::testing::TestBackend;

class ApiTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  // Tenant A with an operator (token) and policy 1..n.
  struct World {
    int64_t tenant = 0;
    Who op;
  };
  World Setup(ApiEnv& env, int policies = 1) {
    World w;
    w.tenant = ::ta::testing::MakeTenant(env.db(), "A");
    w.op = env.AddUser("op@example.com");
    env.Member(w.op, w.tenant, "operator");
    for (int i = 0; i < policies; ++i)
      ::ta::testing::MustExec(env.db(),
                              "INSERT INTO policies (tenant_id, policy_type, graph_id, "
                              "display_name, synced_at) VALUES ($1, 'deviceConfiguration', $2, "
                              "'P', 0)",
                              {w.tenant, "g-" + std::to_string(i)});
    return w;
  }
  static std::string T(int64_t tenant) { return "/api/v1/tenants/" + std::to_string(tenant); }
  // Starts an inventory sync (queued: these tests run no worker), follows its
  // event stream until the first event, calls end(run id), which must end the
  // run, and returns everything the stream sent until it closed.
  static std::string FollowRunUntilItEnds(ApiEnv& env, const World& w,
                                          const std::function<void(int64_t)>& end) {
    const Reply started = env.Call("POST", T(w.tenant) + "/policies/sync", w.op.token);
    EXPECT_EQ(started.status, 202);
    if (started.status != 202) return "";
    const int64_t run = started.Json()["run"]["id"];
    std::string stream;
    std::atomic<bool> first_event{false};
    std::thread reader =
        env.ReadStream(T(w.tenant) + "/runs/" + std::to_string(run) + "/events", w.op.token, {},
                       stream, first_event, [](const std::string&) { return true; });
    EXPECT_TRUE(ApiEnv::Await(first_event)) << "no event within 20 s";
    end(run);
    reader.join();
    return stream;
  }
};

TEST_P(ApiTest, FiveHundredConcurrentIdenticalStartsGiveOneRun) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  constexpr int kClients = 500;
  std::vector<Reply> replies(kClients);
  std::barrier start(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      start.arrive_and_wait();
      replies[i] = env.Call("POST", T(w.tenant) + "/policies/1/capture", w.op.token);
    });
  }
  for (auto& c : clients) c.join();
  std::set<int64_t> ids;
  int created = 0, reused = 0;
  for (const Reply& r : replies) {
    ASSERT_TRUE(r.status == 202 || r.status == 200) << r.status << " " << r.body;
    const json j = r.Json();
    ids.insert(j["run"]["id"].get<int64_t>());
    EXPECT_EQ(r.Header("Location"),
              T(w.tenant) + "/runs/" + std::to_string(j["run"]["id"].get<int64_t>()));
    (r.status == 202 ? created : reused)++;
    EXPECT_EQ(j["reused"].get<bool>(), r.status == 200);
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(created, 1);
  EXPECT_EQ(reused, kClients - 1);
  EXPECT_EQ(QueryInt(env.db(), "SELECT COUNT(*) FROM runs"), 1);
  EXPECT_EQ(QueryInt(env.db(), "SELECT COUNT(*) FROM jobs"), 1);
}

TEST_P(ApiTest, IdempotencyKeyReplaysTheFirstResponse) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  const std::string body = R"({"name":"nightly"})";
  const Reply first = env.Call("POST", T(w.tenant) + "/backup-sets", w.op.token, body,
                               {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.status, 202) << first.body;
  const int64_t run = first.Json()["run"]["id"];
  // The run ends; a retry with the same key still gets the first answer, not a new run.
  ASSERT_TRUE(env.runs().Cancel(w.tenant, run, std::nullopt).ok());
  const Reply again = env.Call("POST", T(w.tenant) + "/backup-sets", w.op.token, body,
                               {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(again.Header("Location"), first.Header("Location"));
  EXPECT_EQ(QueryInt(env.db(), "SELECT COUNT(*) FROM runs"), 1);
  // The same key with another request is refused and names the header.
  const Reply other = env.Call("POST", T(w.tenant) + "/backup-sets", w.op.token,
                               R"({"name":"weekly"})", {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(other.Json()["field"], "Idempotency-Key");
  // Keys are per user: another user's k-1 is a request of its own.
  Who op2 = env.AddUser("op2@example.com");
  env.Member(op2, w.tenant, "operator");
  const Reply theirs =
      env.Call("POST", T(w.tenant) + "/backup-sets", op2.token, body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(theirs.status, 202);
  EXPECT_NE(theirs.Json()["run"]["id"], run);
  EXPECT_EQ(theirs.Header("Idempotent-Replayed"), "");
}

TEST_P(ApiTest, SignInUsesAStrictCookieAndCsrfAndFailuresAreLimitedAndAudited) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  env.AddUser("jo@example.com", false, "correct horse battery staple");
  auto login = [&](const std::string& password) {
    return env.Call("POST", "/api/v1/auth/login", "",
                    json{{"email", "jo@example.com"}, {"password", password}}.dump());
  };
  for (int i = 0; i < 5; ++i) {
    const Reply r = login("wrong password " + std::to_string(i));
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.body.find("wrong password"), std::string::npos) << "the password is echoed";
  }
  const Reply limited = login("correct horse battery staple");
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.Header("Retry-After").empty());
  EXPECT_EQ(QueryInt(env.db(),
                     "SELECT COUNT(*) FROM audit_log WHERE tenant_id = 0 AND action = "
                     "'auth.login_failed'"),
            5);

  env.AddUser("sam@example.com", false, "another long passphrase");
  const Reply ok = env.Call("POST", "/api/v1/auth/login", "",
                            R"({"email":"SAM@example.com","password":"another long passphrase"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  const std::string cookie = ok.Header("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);  // plain HTTP here
  const std::string session = cookie.substr(0, cookie.find(';'));
  const std::string csrf = ok.Json()["csrf_token"];
  const Reply me = env.Call("GET", "/api/v1/me", "", "", {{"Cookie", session}});
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.Json()["user"]["email"], "sam@example.com");
  const Reply no_csrf =
      env.Call("POST", "/api/v1/tokens", "", R"({"name":"x"})", {{"Cookie", session}});
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_EQ(no_csrf.Json()["field"], "X-CSRF-Token");
  const Reply with_csrf = env.Call("POST", "/api/v1/tokens", "", R"({"name":"x"})",
                                   {{"Cookie", session}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(with_csrf.status, 201);
  // The new token works as a Bearer token, and revoking it ends it.
  const std::string token = with_csrf.Json()["secret"];
  EXPECT_EQ(env.Call("GET", "/api/v1/me", token).status, 200);
  const int64_t token_id = with_csrf.Json()["token"]["id"];
  EXPECT_EQ(env.Call("DELETE", "/api/v1/tokens/" + std::to_string(token_id), token).status, 204);
  EXPECT_EQ(env.Call("GET", "/api/v1/me", token).status, 401);
  EXPECT_EQ(
      env.Call("POST", "/api/v1/auth/logout", "", "", {{"Cookie", session}, {"X-CSRF-Token", csrf}})
          .status,
      204);
  EXPECT_EQ(env.Call("GET", "/api/v1/me", "", "", {{"Cookie", session}}).status, 401);
}

TEST_P(ApiTest, BadInputGetsAProblemNamingTheFieldAndWritesNothing) {
  TA_OPEN_DB(t);
  ApiOptions options;
  options.max_body_bytes = 4096;
  ApiEnv env(std::move(t), options);
  const World w = Setup(env);
  struct Case {
    std::string method, path, body, content_type;
    int status;
    std::string field;
  };
  const std::string sets = T(w.tenant) + "/backup-sets";
  const std::vector<Case> cases = {
      {"POST", sets, R"({"name":)", "", 400, "body"},
      {"POST", sets, R"([1,2])", "", 400, "body"},
      {"POST", sets, R"({"nmae":"x"})", "", 400, "nmae"},
      {"POST", sets, R"({"name":7})", "", 400, "name"},
      {"POST", sets, R"({})", "", 400, "name"},
      {"POST", sets, R"({"name":"x","policy_ids":[1,"2"]})", "", 400, "policy_ids[1]"},
      {"POST", sets, R"({"name":"x","policy_ids":[999]})", "", 400, "policy_ids"},
      {"POST", sets, "name=x", "application/x-www-form-urlencoded", 415, "Content-Type"},
      {"POST", sets, "{\"name\":\"" + std::string(5000, 'x') + "\"}", "", 413, "body"},
      {"POST", sets, "{\"name\":\"\xff\"}", "", 400, "body"},
      {"POST", T(w.tenant) + "/restores/preview", R"({"backup_set_id":-3})", "", 400,
       "backup_set_id"},
      {"POST", T(w.tenant) + "/restores/preview", R"({"backup_set_id":1,"group_mapping":{"g":5}})",
       "", 400, "group_mapping.g"},
      {"GET", T(w.tenant) + "/runs?limit=0", "", "", 400, "limit"},
      {"GET", T(w.tenant) + "/runs?status=done", "", "", 400, "status"},
      {"GET", T(w.tenant) + "/runs?colour=red", "", "", 400, "colour"},
      {"GET", T(w.tenant) + "/runs/abc", "", "", 400, "run"},
      {"GET", "/api/v1/tenants/x/runs", "", "", 400, "tenant"},
      {"POST", T(w.tenant) + "/policies/sync", R"({"force":true})", "", 400, "force"},
  };
  for (const Case& c : cases) {
    httplib::Headers h;
    if (!c.content_type.empty()) h.emplace("Content-Type", c.content_type);
    const Reply r = env.Call(c.method, c.path, w.op.token, c.body, h);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 60)
                                  << " -> " << r.body;
    EXPECT_EQ(r.Header("Content-Type"), "application/problem+json") << c.path;
    EXPECT_EQ(r.Json()["field"], c.field) << c.path << " " << r.body;
  }
  EXPECT_EQ(env.Call("GET", "/api/v1/nothing-here", w.op.token).status, 404);
  EXPECT_EQ(env.Call("PUT", T(w.tenant) + "/runs", w.op.token).status, 405);
  EXPECT_EQ(QueryInt(env.db(), "SELECT COUNT(*) FROM runs"), 0);
  EXPECT_EQ(QueryInt(env.db(), "SELECT COUNT(*) FROM jobs"), 0);
  EXPECT_EQ(QueryInt(env.db(), "SELECT COUNT(*) FROM audit_log"), 0);
}

TEST_P(ApiTest, AnIdThatDoesNotExistIs404AndAnotherTenantsIs403) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  const int64_t other = ::ta::testing::MakeTenant(env.db(), "B");
  runs::StartRequest req;
  req.tenant_id = other;
  req.type = "inventory.sync";
  const int64_t foreign_run = env.runs().Start(req)->run.id;
  struct Case {
    std::string method, path;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET", T(w.tenant) + "/runs/99999", 404},
      {"GET", T(w.tenant) + "/runs/" + std::to_string(foreign_run), 403},
      {"GET", T(w.tenant) + "/runs/99999/items", 404},
      {"POST", T(w.tenant) + "/runs/99999/cancel", 404},
      {"GET", T(w.tenant) + "/policies/99999", 404},
      {"POST", T(w.tenant) + "/policies/99999/capture", 404},
      {"GET", T(w.tenant) + "/policies/1/versions/7", 404},
      {"GET", T(w.tenant) + "/backup-sets/99999", 404},
      {"GET", "/api/v1/tenants/99999", 404},
      {"GET", "/api/v1/tenants/99999/runs", 404},
      {"GET", T(other), 403},
      {"POST", "/api/v1/notifications/99999/read", 404},
      {"DELETE", "/api/v1/tokens/99999", 404},
  };
  for (const Case& c : cases) {
    const Reply r = env.Call(c.method, c.path, w.op.token);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << ": " << r.body;
  }
  // A cancelled run cannot be cancelled again: 409 naming its state.
  const Reply started = env.Call("POST", T(w.tenant) + "/policies/sync", w.op.token);
  const std::string run =
      T(w.tenant) + "/runs/" + std::to_string(started.Json()["run"]["id"].get<int64_t>());
  EXPECT_EQ(env.Call("POST", run + "/cancel", w.op.token).status, 202);
  const Reply again = env.Call("POST", run + "/cancel", w.op.token);
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("already ended (cancelled)"), std::string::npos) << again.body;
}

TEST_P(ApiTest, CursorPagingVisitsEveryRunOnceNewestFirst) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env, 25);
  for (int p = 1; p <= 25; ++p)
    ASSERT_EQ(
        env.Call("POST", T(w.tenant) + "/policies/" + std::to_string(p) + "/capture", w.op.token)
            .status,
        202);
  std::vector<int64_t> seen;
  std::string cursor;
  int pages = 0;
  do {
    const Reply r = env.Call(
        "GET", T(w.tenant) + "/runs?limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor),
        w.op.token);
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.Json();
    for (const auto& run : j["items"]) seen.push_back(run["id"]);
    cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend()));
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 25u);
  EXPECT_EQ(pages, 3);
  const Reply filtered =
      env.Call("GET", T(w.tenant) + "/runs?status=queued&type=policy.capture_snapshot&limit=200",
               w.op.token);
  EXPECT_EQ(filtered.Json()["items"].size(), 25u);
  EXPECT_TRUE(
      env.Call("GET", T(w.tenant) + "/runs?status=succeeded", w.op.token).Json()["items"].empty());
}

TEST_P(ApiTest, RunEventsStreamProgressAndEndWithTheRun) {
  TA_OPEN_DB(t);
  ApiOptions options;
  options.stream_poll = std::chrono::milliseconds(20);
  ApiEnv env(std::move(t), options);
  const World w = Setup(env);
  // Cancelling the queued run ends it; the stream reports that and closes.
  const std::string stream = FollowRunUntilItEnds(env, w, [&](int64_t run) {
    EXPECT_EQ(env.Call("POST", T(w.tenant) + "/runs/" + std::to_string(run) + "/cancel", w.op.token)
                  .status,
              202);
  });
  EXPECT_NE(stream.find("event: run\n"), std::string::npos) << stream;
  EXPECT_NE(stream.find("\"status\":\"queued\""), std::string::npos) << stream;
  EXPECT_NE(stream.find("\"status\":\"cancelled\""), std::string::npos) << stream;
  EXPECT_NE(stream.find("event: end\ndata: {\"status\":\"cancelled\"}"), std::string::npos)
      << stream;
}

// A run can end in the millisecond of its last change (the worker records the
// last item and ends the run at once). The stream must still send the ended
// run, not only "end": a page that follows it would otherwise show the run
// running forever.
TEST_P(ApiTest, RunEventsSendTheEndedRunEvenWhenItEndsInTheSameMillisecond) {
  TA_OPEN_DB(t);
  ApiOptions options;
  options.stream_poll = std::chrono::milliseconds(20);
  ApiEnv env(std::move(t), options);
  const World w = Setup(env);
  // Ends it without moving updated_at.
  const std::string stream = FollowRunUntilItEnds(env, w, [&](int64_t run) {
    ::ta::testing::MustExec(
        env.db(), "UPDATE runs SET status = 'succeeded', finished_at = updated_at WHERE id = $1",
        {run});
  });
  const size_t last_run = stream.rfind("event: run\n");
  ASSERT_NE(last_run, std::string::npos) << stream;
  const std::string last = stream.substr(last_run, stream.find('\n', last_run + 11) - last_run);
  EXPECT_NE(last.find("\"status\":\"succeeded\""), std::string::npos) << stream;
  EXPECT_NE(stream.find("event: end\ndata: {\"status\":\"succeeded\"}"), std::string::npos)
      << stream;
}

TEST_P(ApiTest, NotificationsAreListedMarkedReadAndStreamed) {
  TA_OPEN_DB(t);
  ApiOptions options;
  options.stream_poll = std::chrono::milliseconds(20);
  ApiEnv env(std::move(t), options);
  const World w = Setup(env);
  ASSERT_EQ(env.Call("POST", T(w.tenant) + "/policies/sync", w.op.token).status, 202);
  const Reply list = env.Call("GET", "/api/v1/notifications?unread=true", w.op.token);
  ASSERT_EQ(list.status, 200);
  const json j = list.Json();
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["unread_count"], 1);
  EXPECT_EQ(j["items"][0]["action"]["label"], "View run");
  const int64_t id = j["items"][0]["id"];
  EXPECT_EQ(
      env.Call("POST", "/api/v1/notifications/" + std::to_string(id) + "/read", w.op.token).status,
      204);
  EXPECT_EQ(env.Call("GET", "/api/v1/notifications?unread=true", w.op.token).Json()["unread_count"],
            0);
  // The stream resumes after Last-Event-ID and delivers the next notification.
  std::string stream;
  std::atomic<bool> started{false};
  std::thread reader = env.ReadStream(
      "/api/v1/notifications/stream", w.op.token, {{"Last-Event-ID", std::to_string(id)}}, stream,
      started,
      [](const std::string& s) { return s.find("event: notification") == std::string::npos; });
  ASSERT_EQ(env.Call("POST", T(w.tenant) + "/policies/1/capture", w.op.token).status, 202);
  reader.join();
  EXPECT_NE(stream.find("event: notification"), std::string::npos) << stream;
  EXPECT_NE(stream.find("Snapshot of \u201cP\u201d in A is queued."), std::string::npos) << stream;
}

// GET /api/v1/runs: every tenant the caller belongs to, in words, filtered by
// tenant, type, status and time; never another customer's runs.
TEST_P(ApiTest, RunsAcrossTenantsAreFilteredByTenantTypeStatusAndTime) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  const int64_t dental = ::ta::testing::MakeTenant(env.db(), "Northwind Dental");
  const int64_t foreign = ::ta::testing::MakeTenant(env.db(), "Someone else");
  env.Member(w.op, dental, "owner");
  ::ta::testing::MustExec(env.db(),
                          "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, "
                          "synced_at) VALUES ($1, 'deviceConfiguration', 'g-d', 'Kiosk', 0)",
                          {dental});
  const int64_t kiosk = ::ta::testing::QueryInt(
      env.db(), "SELECT id FROM policies WHERE graph_id = 'g-d'", {});
  ASSERT_EQ(env.Call("POST", T(w.tenant) + "/policies/sync", w.op.token).status, 202);
  ASSERT_EQ(env.Call("POST", T(dental) + "/policies/" + std::to_string(kiosk) + "/capture",
                     w.op.token)
                .status,
            202);
  const Who other = env.AddUser("other@example.com");
  env.Member(other, foreign, "owner");
  ASSERT_EQ(env.Call("POST", T(foreign) + "/policies/sync", other.token).status, 202);

  const json all = env.Call("GET", "/api/v1/runs", w.op.token).Json();
  ASSERT_EQ(all["items"].size(), 2u) << all.dump();
  EXPECT_EQ(all["items"][0]["tenant_name"], "Northwind Dental");
  EXPECT_EQ(all["items"][0]["subject"], "\u201cKiosk\u201d");
  EXPECT_EQ(all["items"][1]["tenant_name"], "A");
  EXPECT_EQ(all["items"][1]["subject"], "inventory of A");

  const json only = env.Call("GET", "/api/v1/runs?tenant=" + std::to_string(w.tenant), w.op.token)
                        .Json();
  ASSERT_EQ(only["items"].size(), 1u);
  EXPECT_EQ(only["items"][0]["tenant_id"], w.tenant);
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?tenant=" + std::to_string(foreign), w.op.token).status,
            403);
  const json typed =
      env.Call("GET", "/api/v1/runs?type=policy.capture_snapshot&status=queued", w.op.token).Json();
  ASSERT_EQ(typed["items"].size(), 1u);
  EXPECT_EQ(typed["items"][0]["tenant_id"], dental);
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?status=succeeded", w.op.token).Json()["items"].size(),
            0u);
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?since=2000-01-01", w.op.token).Json()["items"].size(),
            2u);
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?until=2000-01-01", w.op.token).Json()["items"].size(),
            0u);
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?since=9999-01-01T00:00:00Z", w.op.token)
                .Json()["items"]
                .size(),
            0u);
  const Reply bad = env.Call("GET", "/api/v1/runs?since=yesterday", w.op.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["field"], "since");
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?since=2026-02-30", w.op.token).status, 400);
  EXPECT_EQ(env.Call("GET", "/api/v1/runs?since=2026-02-02&until=2026-02-01", w.op.token).status,
            400);
  // Paging across tenants visits each run once.
  const json p1 = env.Call("GET", "/api/v1/runs?limit=1", w.op.token).Json();
  ASSERT_TRUE(p1["next_cursor"].is_string());
  const json p2 =
      env.Call("GET", "/api/v1/runs?limit=1&cursor=" + p1["next_cursor"].get<std::string>(),
               w.op.token)
          .Json();
  ASSERT_EQ(p2["items"].size(), 1u);
  EXPECT_NE(p1["items"][0]["id"], p2["items"][0]["id"]);
  // A run's own page names its tenant and subject too.
  const json one = env.Call("GET", T(dental) + "/runs/" +
                                       std::to_string(all["items"][0]["id"].get<int64_t>()),
                            w.op.token)
                       .Json();
  EXPECT_EQ(one["subject"], "\u201cKiosk\u201d");
}

// /me carries what the tenant picker searches (Entra tenant id, tags) and the
// notification preference; tags and the preference are validated by field.
TEST_P(ApiTest, TagsAndPreferencesAreValidatedAndShownOnMe) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  const Who owner = env.AddUser("owner@example.com");
  env.Member(owner, w.tenant, "owner");
  const Reply set = env.Call("PUT", T(w.tenant) + "/tags", owner.token,
                             R"({"tags":[" dental ","eu","eu"]})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json()["tags"], json::array({"dental", "eu"}));
  EXPECT_EQ(env.Call("PUT", T(w.tenant) + "/tags", w.op.token, R"({"tags":["x"]})").status, 403);
  const Reply bad = env.Call("PUT", T(w.tenant) + "/tags", owner.token, R"({"tags":["ok",""]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["field"], "tags[1]");
  EXPECT_EQ(env.Call("PUT", T(w.tenant) + "/tags", owner.token, R"({"tags":"eu"})").status, 400);
  const json me = env.Call("GET", "/api/v1/me", w.op.token).Json();
  EXPECT_EQ(me["memberships"][0]["tags"], json::array({"dental", "eu"}));
  EXPECT_EQ(me["preferences"]["notify"], "all");
  const Reply pref =
      env.Call("PUT", "/api/v1/me/preferences", w.op.token, R"({"notify":"sometimes"})");
  EXPECT_EQ(pref.status, 400);
  EXPECT_EQ(pref.Json()["field"], "notify");
  ASSERT_EQ(
      env.Call("PUT", "/api/v1/me/preferences", w.op.token, R"({"notify":"failures"})").status,
      200);
  EXPECT_EQ(env.Call("GET", "/api/v1/me", w.op.token).Json()["preferences"]["notify"],
            "failures");
  // With "failures", starting a run writes no notification at all.
  ASSERT_EQ(env.Call("POST", T(w.tenant) + "/policies/sync", w.op.token).status, 202);
  EXPECT_EQ(env.Call("GET", "/api/v1/notifications", w.op.token).Json()["items"].size(), 0u);
}

// The portfolio: each tenant's last successful backup, next scheduled backup,
// failed runs of the last day and credential health; sorted, filtered, paged,
// and only the caller's tenants.
TEST_P(ApiTest, PortfolioShowsEachTenantsBackupsScheduleFailuresAndCredentials) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  store::Database& db = env.db();
  const Who me = env.AddUser("msp@example.com");
  const Who other = env.AddUser("other@example.com");
  const int64_t now = ToUnixMillis(SystemClock::Instance().Now());
  std::vector<int64_t> ids;
  for (const char* name : {"Alpha Dental", "Bravo Legal", "Charlie Foods"}) {
    ids.push_back(::ta::testing::MakeTenant(db, name));
    env.Member(me, ids.back(), "operator");
  }
  const int64_t foreign = ::ta::testing::MakeTenant(db, "Delta Secret");
  env.Member(other, foreign, "owner");
  int drift_seq = 0;
  ::ta::testing::MustExec(db, "UPDATE tenants SET tags = '[\"dental\"]' WHERE id = $1", {ids[0]});
  // Alpha: backed up an hour ago (succeeded); Bravo: a day-old success and a
  // failed run since; Charlie: nothing.
  auto backup = [&](int64_t tenant, int64_t at, const char* status) {
    runs::StartRequest req;
    req.tenant_id = tenant;
    req.type = "backup_set.create";
    req.target_id = std::to_string(at);
    const int64_t run = env.runs().Start(req)->run.id;
    ::ta::testing::MustExec(db, "UPDATE runs SET status = $1, created_at = $2 WHERE id = $3",
                            {std::string(status), at, run});
    ::ta::testing::MustExec(db,
                            "INSERT INTO backup_sets (tenant_id, name, run_id, created_at) VALUES "
                            "($1, 'set', $2, $3)",
                            {tenant, run, at});
  };
  backup(ids[0], now - 3'600'000, "succeeded");
  backup(ids[1], now - 72 * 3'600'000, "succeeded");
  backup(ids[1], now - 3'600'000, "failed");
  ::ta::testing::MustExec(db, "UPDATE tenants SET client_secret_enc = 'x' WHERE id = $1", {ids[0]});
  // A daily schedule over Alpha.
  const Who admin = env.AddUser("admin@example.com", true);
  ASSERT_EQ(env.Call("POST", "/api/v1/schedules", admin.token,
                     R"({"name":"Daily","cron":"0 3 * * *","time_zone":"UTC","tenant_ids":[)" +
                         std::to_string(ids[0]) + "]}")
                .status,
            201);

  const Reply all = env.Call("GET", "/api/v1/portfolio", me.token);
  ASSERT_EQ(all.status, 200) << all.body;
  const json items = all.Json()["items"];
  ASSERT_EQ(items.size(), 3u) << "only the caller's tenants";
  EXPECT_EQ(all.Json()["total"], 3);
  EXPECT_EQ(items[0]["name"], "Alpha Dental");
  EXPECT_NEAR(items[0]["last_backup"]["age_seconds"].get<double>(), 3600, 60);
  EXPECT_EQ(items[0]["next_backup"]["schedule"], "Daily");
  EXPECT_EQ(items[0]["credentials"], "unchecked");
  EXPECT_EQ(items[0]["attention"], json::array());
  EXPECT_EQ(items[1]["failed_runs_24h"], 1);
  EXPECT_EQ(items[1]["credentials"], "missing");
  EXPECT_NE(items[1]["attention"].dump().find("over 48 hours old"), std::string::npos);
  EXPECT_TRUE(items[2]["last_backup"].is_null());
  EXPECT_TRUE(items[2]["next_backup"].is_null());
  // Oldest backup first (never backed up last); a tag search; attention only.
  const json by_age =
      env.Call("GET", "/api/v1/portfolio?sort=last_backup&order=asc", me.token).Json()["items"];
  EXPECT_EQ(by_age[0]["name"], "Bravo Legal");
  EXPECT_EQ(by_age[2]["name"], "Charlie Foods");
  const json dental = env.Call("GET", "/api/v1/portfolio?q=DENTAL", me.token).Json()["items"];
  ASSERT_EQ(dental.size(), 1u);
  EXPECT_EQ(dental[0]["name"], "Alpha Dental");
  const json attention =
      env.Call("GET", "/api/v1/portfolio?attention=true", me.token).Json()["items"];
  EXPECT_EQ(attention.size(), 2u);
  // Paged.
  const Reply first = env.Call("GET", "/api/v1/portfolio?limit=2", me.token);
  EXPECT_EQ(first.Json()["items"].size(), 2u);
  const std::string cursor = first.Json()["next_cursor"];
  const json rest = env.Call("GET", "/api/v1/portfolio?limit=2&cursor=" + cursor, me.token).Json();
  ASSERT_EQ(rest["items"].size(), 1u);
  EXPECT_EQ(rest["items"][0]["name"], "Charlie Foods");
  EXPECT_TRUE(rest["next_cursor"].is_null());
  // Open drift findings: counted per tenant, a reason for attention, a sort key.
  for (const char* status : {"open", "open", "accepted"})
    ::ta::testing::MustExec(
        db,
        "INSERT INTO drift_findings (tenant_id, policy_type, graph_id, display_name, kind, status, "
        "diff, actor, actor_detail, first_run_id, last_run_id, first_seen_at, last_seen_at) VALUES "
        "($1, 'deviceConfiguration', $2, 'P', 'changed', $3, '[]', 'unknown', '', 0, 0, 0, 0)",
        {ids[2], "g-" + std::to_string(++drift_seq), std::string(status)});
  const json by_drift =
      env.Call("GET", "/api/v1/portfolio?sort=drift&order=desc", me.token).Json()["items"];
  EXPECT_EQ(by_drift[0]["name"], "Charlie Foods");
  EXPECT_EQ(by_drift[0]["open_drift_findings"], 2);
  EXPECT_EQ(by_drift[1]["open_drift_findings"], 0);
  EXPECT_NE(by_drift[0]["attention"].dump().find("2 open drift findings"), std::string::npos);
  const Reply bad = env.Call("GET", "/api/v1/portfolio?sort=size", me.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["field"], "sort");
  // A secret expiring in 10 days, and one that has expired: the worst first
  // when sorted by credentials, each with its date as a reason for attention.
  ::ta::testing::MustExec(db,
                          "UPDATE tenants SET client_secret_enc = 'x', credential_expires_at = $1 "
                          "WHERE id = $2",
                          {now + 10 * 86'400'000 + 3'600'000, ids[0]});
  ::ta::testing::MustExec(db,
                          "UPDATE tenants SET client_secret_enc = 'x', credential_expires_at = $1 "
                          "WHERE id = $2",
                          {now - 86'400'000, ids[2]});
  const json by_creds =
      env.Call("GET", "/api/v1/portfolio?sort=credentials", me.token).Json()["items"];
  ASSERT_EQ(by_creds.size(), 3u);
  EXPECT_EQ(by_creds[0]["name"], "Bravo Legal");
  EXPECT_EQ(by_creds[0]["credentials"], "missing");
  EXPECT_EQ(by_creds[1]["name"], "Charlie Foods");
  EXPECT_EQ(by_creds[1]["credentials"], "expired");
  EXPECT_EQ(by_creds[2]["credentials"], "expiring");
  EXPECT_EQ(by_creds[2]["credential_expires_at"], FormatIso8601(now + 10 * 86'400'000 + 3'600'000));
  EXPECT_NE(by_creds[2]["attention"].dump().find("expires on " +
                                                 FormatIso8601(now + 10 * 86'400'000 + 3'600'000)
                                                     .substr(0, 10) +
                                                 " (in 10 days)"),
            std::string::npos)
      << by_creds[2]["attention"].dump();
  EXPECT_NE(by_creds[1]["attention"].dump().find("the client secret expired on"), std::string::npos);
}

// Credentials with the secret's expiry date: stored, shown (never the
// secret), re-armed by a new secret without a date; a bad date is refused
// naming the field, and nothing changes.
TEST_P(ApiTest, CredentialsCarryTheSecretsExpiryDate) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const Who owner = env.AddUser("owner@example.com");
  const int64_t tenant = ::ta::testing::MakeTenant(env.db(), "Contoso");
  env.Member(owner, tenant, "owner");
  const std::string path = "/api/v1/tenants/" + std::to_string(tenant) + "/credentials";
  const std::string creds =
      R"("entra_tenant_id":"contoso.onmicrosoft.com","client_id":"11111111-2222-3333-4444-555555555555","client_secret":"Qx8~not-shown")";
  const Reply set = env.Call("PUT", path, owner.token,
                             "{" + creds + R"(,"client_secret_expires_at":"2099-06-30"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json()["credential_expires_at"], "2099-06-30T00:00:00.000Z");
  EXPECT_EQ(set.Json()["credential_expiry_source"], "entered");
  EXPECT_EQ(set.Json()["credential_expiry"], "valid");
  EXPECT_EQ(set.body.find("Qx8~not-shown"), std::string::npos);
  const Reply bad = env.Call("PUT", path, owner.token,
                             "{" + creds + R"(,"client_secret_expires_at":"30/06/2099"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["field"], "client_secret_expires_at") << bad.body;
  EXPECT_NE(bad.body.find("2027-06-30"), std::string::npos) << "the error shows the format";
  const Reply unchanged =
      env.Call("GET", "/api/v1/tenants/" + std::to_string(tenant), owner.token);
  EXPECT_EQ(unchanged.Json()["credential_expires_at"], "2099-06-30T00:00:00.000Z");
  const Reply no_date = env.Call("PUT", path, owner.token, "{" + creds + "}");
  ASSERT_EQ(no_date.status, 200) << no_date.body;
  EXPECT_TRUE(no_date.Json()["credential_expires_at"].is_null());
  EXPECT_EQ(no_date.Json()["credential_expiry"], "unknown");
}

// Certificate credentials: the server makes the key pair; the answer carries
// the certificate to upload and never the private key; bad input names the
// field; the certificate can be downloaded; the cloud is stored and shown.
TEST_P(ApiTest, CertificateCredentialsAreMadeByTheServerAndTheKeyNeverLeaves) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const Who owner = env.AddUser("owner@example.com");
  const Who reader = env.AddUser("reader@example.com");
  const int64_t tenant = ::ta::testing::MakeTenant(env.db(), "Contoso");
  env.Member(owner, tenant, "owner");
  env.Member(reader, tenant, "readonly");
  const std::string base = "/api/v1/tenants/" + std::to_string(tenant);
  const std::string app =
      R"("entra_tenant_id":"contoso.onmicrosoft.us","client_id":"11111111-2222-3333-4444-555555555555")";
  for (auto [body, field] : {std::pair{"{" + app + R"(,"valid_days":0})", "valid_days"},
                             std::pair{"{" + app + R"(,"cloud":"mars"})", "cloud"},
                             std::pair{std::string(R"({"client_id":"x"})"), "entra_tenant_id"}}) {
    const Reply bad = env.Call("POST", base + "/credentials/certificate", owner.token, body);
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(bad.Json()["field"], field) << bad.body;
  }
  EXPECT_EQ(env.Call("GET", base + "/credentials/certificate", owner.token).status, 404)
      << "no certificate yet";
  EXPECT_EQ(env.Call("POST", base + "/credentials/certificate", reader.token, "{" + app + "}").status,
            403);
  const Reply made = env.Call("POST", base + "/credentials/certificate", owner.token,
                              "{" + app + R"(,"cloud":"usgov","valid_days":90})");
  ASSERT_EQ(made.status, 201) << made.body;
  const json m = made.Json();
  const std::string pem = m["certificate"]["pem"];
  EXPECT_NE(pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(made.body.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(m["tenant"]["credential_kind"], "certificate");
  EXPECT_EQ(m["tenant"]["cloud"], "usgov");
  EXPECT_EQ(m["tenant"]["certificate_thumbprint"], m["certificate"]["thumbprint"]);
  EXPECT_EQ(m["tenant"]["credential_expiry_source"], "certificate");
  EXPECT_EQ(m["tenant"]["credential_expires_at"], m["certificate"]["not_after"]);
  const Reply download = env.Call("GET", base + "/credentials/certificate", reader.token);
  ASSERT_EQ(download.status, 200);
  EXPECT_EQ(download.body, pem);
  EXPECT_EQ(download.Header("Content-Type"), "application/x-pem-file");
  // The sealed private key: none of its lines in any answer or the audit log.
  auto box = SecretBox::FromBase64Key(kTestMasterKey);
  auto key = box->Open(::ta::testing::QueryText(
      env.db(), "SELECT client_secret_enc FROM tenants WHERE id = $1", {tenant}));
  ASSERT_TRUE(key.has_value());
  const std::string line = key->substr(key->find('\n') + 1, 64);
  const std::string audit =
      ::ta::testing::QueryText(env.db(), "SELECT details FROM audit_log WHERE action = "
                                         "'tenant.credentials_set' AND tenant_id = $1",
                               {tenant});
  for (const std::string& shown :
       {made.body, download.body, env.Call("GET", base, owner.token).body, audit})
    EXPECT_EQ(shown.find(line), std::string::npos);
  EXPECT_NE(audit.find(m["certificate"]["thumbprint"].get<std::string>()), std::string::npos);
}

// A CSV of tenants: the good rows are created (with directory, cloud and
// tags), each bad row names its field and blocks nothing, a quoted field may
// hold a comma; importing the file again creates nothing twice; a file with
// an unknown column creates nothing and says which.
TEST_P(ApiTest, ImportingACsvCreatesTheGoodRowsAndNamesEachBadField) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const Who admin = env.AddUser("admin@example.com", /*platform_admin=*/true);
  const Who user = env.AddUser("user@example.com");
  const std::string csv =
      "Name,Entra_Tenant_Id,Cloud,Tags\r\n"
      "Dental One,11111111-2222-3333-4444-555555555555,global,dental;eu\r\n"
      "\"Smith, Jones & Co\",smithjones.onmicrosoft.us,usgov,legal\r\n"
      "Bad Cloud,bad.onmicrosoft.com,mars,\r\n"
      "Bad Directory,not a domain!,global,\r\n"
      ",nameless.onmicrosoft.com,global,\r\n"
      "Bad Tag,,global,ok;" + std::string(41, 'x') + "\r\n"
      "\r\n"
      "No Directory Yet,,,\r\n";
  const json body = {{"csv", csv}};
  EXPECT_EQ(env.Call("POST", "/api/v1/tenants/import", user.token, body.dump()).status, 403);
  const Reply first = env.Call("POST", "/api/v1/tenants/import", admin.token, body.dump());
  ASSERT_EQ(first.status, 200) << first.body;
  const json r = first.Json();
  EXPECT_EQ(r["created"], 3);
  EXPECT_EQ(r["failed"], 4);
  EXPECT_EQ(r["exists"], 0);
  std::map<std::string, json> by_name;
  for (const auto& row : r["rows"]) by_name[row["name"]] = row;
  EXPECT_EQ(by_name["Bad Cloud"]["error"]["field"], "cloud");
  EXPECT_EQ(by_name["Bad Cloud"]["line"], 4);
  EXPECT_EQ(by_name["Bad Directory"]["error"]["field"], "entra_tenant_id");
  EXPECT_EQ(by_name[""]["error"]["field"], "name");
  EXPECT_EQ(by_name["Bad Tag"]["error"]["field"], "tags");
  EXPECT_EQ(by_name["No Directory Yet"]["line"], 9);
  const Reply smith = env.Call("GET", "/api/v1/tenants/" +
                                          std::to_string(by_name["Smith, Jones & Co"]["tenant_id"]
                                                             .get<int64_t>()),
                               admin.token);
  ASSERT_EQ(smith.status, 200) << smith.body;
  EXPECT_EQ(smith.Json()["cloud"], "usgov");
  EXPECT_EQ(smith.Json()["entra_tenant_id"], "smithjones.onmicrosoft.us");
  EXPECT_EQ(smith.Json()["tags"], json::array({"legal"}));
  EXPECT_EQ(smith.Json()["has_credentials"], false);
  EXPECT_EQ(smith.Json()["role"], "owner") << "the importer owns the new tenants";
  const Reply again = env.Call("POST", "/api/v1/tenants/import", admin.token, body.dump());
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.Json()["created"], 0);
  EXPECT_EQ(again.Json()["exists"], 3);
  EXPECT_EQ(::ta::testing::QueryInt(env.db(), "SELECT COUNT(*) FROM tenants"), 3);
  const Reply unknown = env.Call("POST", "/api/v1/tenants/import", admin.token,
                                 json{{"csv", "name,region\nA,eu\n"}}.dump());
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("region"), std::string::npos) << unknown.body;
  const Reply open_quote = env.Call("POST", "/api/v1/tenants/import", admin.token,
                                    json{{"csv", "name\n\"Unclosed\n"}}.dump());
  EXPECT_EQ(open_quote.status, 400);
  EXPECT_NE(open_quote.body.find("line 2"), std::string::npos) << open_quote.body;
  EXPECT_EQ(::ta::testing::QueryInt(env.db(), "SELECT COUNT(*) FROM tenants"), 3);
}

TEST_P(ApiTest, ActiveRunsStreamFollowsRunsAcrossTheUsersTenants) {
  TA_OPEN_DB(t);
  ApiOptions options;
  options.stream_poll = std::chrono::milliseconds(20);
  ApiEnv env(std::move(t), options);
  const World w = Setup(env);
  std::string stream;
  std::atomic<bool> first{false};
  // The first event (no active run), then the one with the new run.
  std::thread reader = env.ReadStream(
      "/api/v1/runs/active/stream", w.op.token, {}, stream, first,
      [](const std::string& s) { return s.find("policy.capture_snapshot") == std::string::npos; });
  EXPECT_TRUE(ApiEnv::Await(first)) << "no event within 20 s";
  ASSERT_EQ(env.Call("POST", T(w.tenant) + "/policies/1/capture", w.op.token).status, 202);
  reader.join();
  EXPECT_NE(stream.find("event: active\ndata: {\"items\":[]}"), std::string::npos) << stream;
  EXPECT_NE(stream.find("\"status\":\"queued\""), std::string::npos) << stream;
}

// /metrics carries the process's own gauges, so an operator (and the soak)
// can tell a leak (heap in use grows) from allocator retention (RSS only).
TEST_P(ApiTest, MetricsReportProcessMemoryFdsAndThreads) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const Who admin = env.AddUser("admin@example.com", true);
  const Reply r = env.Call("GET", "/metrics", admin.token);
  ASSERT_EQ(r.status, 200) << r.body;
  auto value = [&](const std::string& name) -> double {
    const size_t at = r.body.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name << " missing";
    EXPECT_NE(r.body.find("# TYPE " + name + " gauge\n"), std::string::npos) << name;
    return at == std::string::npos ? -1 : std::stod(r.body.substr(at + name.size() + 2));
  };
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(value("process_open_fds"), 2);
  EXPECT_GE(value("process_threads"), 2);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer brings its own allocator, which mallinfo2 cannot see.
  EXPECT_GE(value("ta_heap_in_use_bytes"), 0);
#else
  EXPECT_GT(value("ta_heap_in_use_bytes"), 0);
#endif
  EXPECT_GE(value("ta_heap_free_bytes"), 0);
  if (GetParam() == TestBackend::kSqlite) {
    EXPECT_GT(value("ta_db_cache_bytes"), 0);
  } else {
    EXPECT_EQ(r.body.find("ta_db_cache_bytes"), std::string::npos);
  }
}

TEST_P(ApiTest, ServesTheWebUiWithCacheHeadersAndDeepLinks) {
  TA_OPEN_DB(t);
  char tmpl[] = "/tmp/ta-web-XXXXXX";
  const std::string outer = mkdtemp(tmpl);  // holds the web root and a file beside it
  const std::string root = outer + "/web";
  std::filesystem::create_directories(root + "/assets");
  std::ofstream(root + "/index.html") << "<!doctype html><div id=app></div>";
  std::ofstream(root + "/assets/app-1a2b3c.js") << "console.log(1)";
  std::ofstream(outer + "/secret.txt") << "outside";
  ApiOptions options;
  options.web_root = root;
  ApiEnv env(std::move(t), options);
  const Reply index = env.Call("GET", "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><div id=app></div>");
  EXPECT_EQ(index.Header("Cache-Control"), "no-cache");
  EXPECT_EQ(index.Header("Content-Type"), "text/html; charset=utf-8");
  const Reply deep = env.Call("GET", "/runs/123");
  EXPECT_EQ(deep.status, 200);
  EXPECT_EQ(deep.body, index.body);
  const Reply asset = env.Call("GET", "/assets/app-1a2b3c.js");
  EXPECT_EQ(asset.status, 200);
  EXPECT_EQ(asset.Header("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(asset.Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(env.Call("GET", "/assets/missing.js").status, 404);
  EXPECT_EQ(env.Call("GET", "/assets/../../secret.txt").status, 404);
  EXPECT_EQ(env.Call("GET", "/%2e%2e/secret.txt").status, 404);
  EXPECT_EQ(env.Call("GET", "/../secret.txt").status, 404);
  // API paths never fall back to the app.
  const Reply api = env.Call("GET", "/api/v1/nothing");
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(api.Header("Content-Type"), "application/problem+json");
  std::filesystem::remove_all(outer);
}

// A full disk (SQLite's file may not grow) answers 507 with Retry-After and a
// generic text, /readyz says "full", and everything works again once there is
// space. Before: 429 Too Many Requests, no Retry-After, /readyz "ok".
TEST_P(ApiTest, FullDiskIs507WithRetryAfterAndReadyzSaysSoUntilThereIsSpace) {
  if (GetParam() != TestBackend::kSqlite) GTEST_SKIP() << "SQLite's max_page_count";
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env, 40);
  const int64_t pages = QueryInt(env.db(), "PRAGMA page_count");
  ::ta::testing::MustExec(env.db(), "PRAGMA max_page_count = " + std::to_string(pages));
  Reply full;
  for (int i = 1; i <= 40 && full.status != 507; ++i) {
    full =
        env.Call("POST", T(w.tenant) + "/policies/" + std::to_string(i) + "/capture", w.op.token);
    ASSERT_TRUE(full.status == 202 || full.status == 507) << full.status << " " << full.body;
  }
  ASSERT_EQ(full.status, 507) << "the file never filled up";
  EXPECT_EQ(full.Header("Retry-After"), "30");
  EXPECT_EQ(full.Header("Content-Type"), "application/problem+json");
  EXPECT_NE(full.body.find("out of disk space"), std::string::npos) << full.body;
  EXPECT_EQ(full.body.find("SQLITE"), std::string::npos) << full.body;
  const Reply not_ready = env.Call("GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.Json()["database"], "full") << not_ready.body;
  EXPECT_FALSE(not_ready.Header("Retry-After").empty());

  ::ta::testing::MustExec(env.db(), "PRAGMA max_page_count = 1073741823");
  const int64_t runs_before = QueryInt(env.db(), "SELECT COUNT(*) FROM runs");
  const Reply again = env.Call("POST", T(w.tenant) + "/policies/40/capture", w.op.token);
  EXPECT_TRUE(again.status == 202 || again.status == 200) << again.status << " " << again.body;
  EXPECT_EQ(env.Call("GET", "/readyz").status, 200);
  EXPECT_GE(QueryInt(env.db(), "SELECT COUNT(*) FROM runs"), runs_before);
}

// Hostile bodies on every JSON route answer 4xx, never 500. Before: a number
// too large to parse ({"password":1e999}) answered 500 on every JSON route.
TEST_P(ApiTest, HostileBodiesOnEveryJsonRouteAnswer4xxNever500) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  const Who admin = env.AddUser("admin@example.com", true);
  env.Member(admin, w.tenant, "owner");
  const std::string deep(5000, '[');
  const std::vector<std::string> bodies = {R"({"email":"a","password":1e999})",
                                           R"({"name":-1e999})",
                                           "1e999",
                                           R"({"a":1e-999})",
                                           R"({"backup_set_id":99999999999999999999999})",
                                           R"({"backup_set_id":-1})",
                                           R"({"backup_set_id":1.5})",
                                           R"({"backup_set_id":"1"})",
                                           R"({"name":1})",
                                           R"({"name":"a","name":"b"})",
                                           R"({"policy_ids":[1,"x",{}]})",
                                           R"({"item_ids":{"a":1}})",
                                           R"({"group_mapping":[1]})",
                                           R"({"group_mapping":{"a":1}})",
                                           R"({"email":{},"password":[]})",
                                           R"({"role":null})",
                                           R"({"name":"\ud800"})",
                                           "{\"name\":\"\xff\xfe\"}",
                                           R"({"name":"abc)",
                                           R"({"a":)",
                                           "[]",
                                           "\"str\"",
                                           "null",
                                           "true",
                                           deep,
                                           deep + "]",
                                           "{" + std::string(3000, ' '),
                                           std::string("{\"name\":\"a\0b\"}", 13)};
  int checked = 0;
  for (const Route& route : RouteTable()) {
    if (route.body != BodyKind::kJson) continue;
    std::string path(route.pattern);
    for (size_t a; (a = path.find('{')) != std::string::npos;)
      path.replace(a, path.find('}', a) - a + 1,
                   path.compare(a, 8, "{tenant}") == 0 ? std::to_string(w.tenant) : "1");
    for (const auto& body : bodies) {
      const Reply r = env.Call(std::string(route.method), path, admin.token, body);
      EXPECT_GE(r.status, 400) << route.method << " " << path << " " << body.substr(0, 60);
      EXPECT_LT(r.status, 500) << route.method << " " << path << " " << body.substr(0, 60) << " "
                               << r.body;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

// RFC 9112: a bare CR inside a header line makes it invalid. Before: accepted.
TEST_P(ApiTest, AHeaderWithABareCrIsRefused) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env);
  const Reply r = env.Call("GET", "/api/v1/me", w.op.token, "", {{"X-Trace", "a\rb"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("CR"), std::string::npos) << r.body;
}

// A reused start is a pure read: 100 reused starts do not move the run id
// sequence. Before: after a 500-request storm the next run's id was 500 higher.
TEST_P(ApiTest, ReusedStartsDoNotDrawRunIds) {
  TA_OPEN_DB(t);
  ApiEnv env(std::move(t));
  const World w = Setup(env, 2);
  const Reply first = env.Call("POST", T(w.tenant) + "/policies/1/capture", w.op.token);
  ASSERT_EQ(first.status, 202) << first.body;
  const int64_t id = first.Json()["run"]["id"];
  for (int i = 0; i < 100; ++i) {
    const Reply again = env.Call("POST", T(w.tenant) + "/policies/1/capture", w.op.token);
    ASSERT_EQ(again.status, 200) << again.body;
  }
  const Reply next = env.Call("POST", T(w.tenant) + "/policies/2/capture", w.op.token);
  ASSERT_EQ(next.status, 202) << next.body;
  EXPECT_EQ(next.Json()["run"]["id"].get<int64_t>(), id + 1);
}

// A database outage: the client sees a generic 503 with Retry-After; the
// driver's text (host, port) is for the log only.
TEST(Problem, DatabaseOutageIsAGeneric503WithRetryAfter) {
  const Response r = Problem(Status::StorageUnavailable(
      "connect to PostgreSQL: connection to server at \"10.1.2.3\", port 5432 failed"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(r.body.find("10.1.2.3"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("5432"), std::string::npos) << r.body;
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after |= k == "Retry-After" && v == "5";
  EXPECT_TRUE(retry_after);
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::api
