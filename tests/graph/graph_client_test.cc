// The Graph client against the simulator over real loopback HTTP.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "graph_test_env.h"

namespace ta::graph {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// GraphReader has no write methods: preview code cannot write even by mistake.
template <typename T>
concept CanPost = requires(T& t) {
  t.Post(std::string(), json());
};
static_assert(!CanPost<GraphReader>, "GraphReader must not expose writes");
static_assert(CanPost<GraphWriter>);

TEST(GraphClient, ListsAllPagesOf2500Policies) {
  GraphTestEnv env;
  env.sim.GeneratePolicies(kTenant, 2500, "deviceConfigurations");
  auto all = ListAll(*env.client, "deviceManagement/deviceConfigurations");
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  std::set<std::string> ids;
  for (const auto& p : *all) ids.insert(p["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 2500u);
  EXPECT_EQ(env.sim.CountRequests("GET", 200), 25);  // 100 per page
}

TEST(GraphClient, SettingsCatalogSettingsBeyondTheFirstPageAreAllRead) {
  sim::SimConfig sc;
  sc.page_size = 25;  // the page size that cuts other tools off
  GraphTestEnv env(sc);
  json settings = json::array();
  for (int i = 0; i < 60; ++i)
    settings.push_back({{"id", std::to_string(i)}, {"settingInstance", {{"x", i}}}});
  auto ids =
      env.sim.Seed(kTenant, "configurationPolicies", {{{"name", "Big"}, {"settings", settings}}});
  Pager pager(*env.client, "deviceManagement/configurationPolicies/" + ids[0] + "/settings");
  size_t total = 0;
  while (true) {
    auto page = pager.Next();
    ASSERT_TRUE(page.has_value());
    if (!*page) break;
    total += (*page)->size();
  }
  EXPECT_EQ(total, 60u);
  EXPECT_EQ(pager.pages(), 3);
}

TEST(GraphClient, ThrottleStormCompletesWithZeroFailures) {
  sim::SimConfig sc;
  sc.throttle_window_ms = 1000;
  sc.throttle_max_requests = 40;
  GraphTestEnv env(sc);
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  std::atomic<int> failures{0}, ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto r = env.client->Get("deviceManagement/deviceConfigurations/" + ids[0]);
        (r ? ok : failures)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ok, 200);
  EXPECT_GT(env.sim.CountRequests("GET", 429), 0) << "the storm should have been throttled";
  EXPECT_GT(env.client->stats().throttled, 0);
}

TEST(GraphClient, ThrottleWithoutRetryAfterFallsBackToBackoff) {
  sim::SimConfig sc;
  sc.throttle_window_ms = 500;
  sc.throttle_max_requests = 10;
  sc.omit_retry_after = true;
  GraphTestEnv env(sc);
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  int failures = 0;
  for (int i = 0; i < 40; ++i) {
    if (!env.client->Get("deviceManagement/deviceConfigurations/" + ids[0])) ++failures;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(env.sim.CountRequests("GET", 429), 0);
}

TEST(GraphClient, TokenExpiringMidRunIsRefreshedBeforeItLapses) {
  sim::SimConfig sc;
  sc.token_lifetime_s = 1;
  GraphTestEnv env(sc, {}, /*refresh_skew=*/0s);
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  int failures = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (env.tokens->fetches() < 3 && std::chrono::steady_clock::now() < deadline) {
    if (!env.client->Get("deviceManagement/deviceConfigurations/" + ids[0])) ++failures;
    env.clock.Advance(50ms);  // a long-running job issuing requests
  }
  EXPECT_GE(env.tokens->fetches(), 3);
  EXPECT_EQ(failures, 0);
}

TEST(GraphClient, TokenRejectedMidRunIsRefreshedOnceAndTheRequestRetried) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  ASSERT_TRUE(env.client->Get("deviceManagement/deviceConfigurations/" + ids[0]));
  env.sim.Configure({{"revoke_tokens", true}});  // the cached token is now refused (401)
  auto r = env.client->Get("deviceManagement/deviceConfigurations/" + ids[0]);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(env.client->stats().auth_retries, 1);
  EXPECT_EQ(env.tokens->fetches(), 2);
  EXPECT_EQ(env.sim.CountRequests("GET", 401), 1);
}

TEST(GraphClient, ConcurrentCallersShareOneTokenRequest) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back(
        [&] { EXPECT_TRUE(env.client->Get("deviceManagement/deviceConfigurations/" + ids[0])); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(env.tokens->fetches(), 1);
  EXPECT_EQ(env.sim.CountRequests("POST"), 1);
}

TEST(GraphClient, BadSecretGivesAClearErrorWithoutTheSecret) {
  const std::string wrong = "Wr0ng~Secret.Value_123";
  GraphTestEnv env({}, {}, 300s, wrong);
  auto r = env.client->Get("deviceManagement/deviceConfigurations");
  ASSERT_FALSE(r.has_value());
  const std::string text = r.error().ToString();
  EXPECT_EQ(r.error().kind, Status::Code::kUnauthenticated);
  EXPECT_NE(text.find("AADSTS7000215"), std::string::npos) << text;
  EXPECT_NE(text.find("Check the tenant's app credentials"), std::string::npos) << text;
  EXPECT_EQ(text.find(wrong), std::string::npos) << text;
  // And if it were ever logged with the request body, the Redactor knows it.
  EXPECT_EQ(env.redactor.Redact("client_secret=" + wrong).find(wrong), std::string::npos);
  EXPECT_EQ(env.redactor.Redact("oops " + wrong).find(wrong), std::string::npos);
}

// A token fetched with the right secret is never handed to a caller holding
// another secret for the same tenant and app (two of our tenants pointing at
// one app; a secret changed while a token is cached).
TEST(GraphClient, ACachedTokenIsNotSharedWithADifferentSecret) {
  GraphTestEnv env;
  ASSERT_TRUE(env.client->Get("deviceManagement/deviceConfigurations").has_value());
  GraphConfig config;
  config.authority_base = config.graph_base = env.sim.base_url();
  GraphClient other(AppCredentials{kTenant, kClientId, "Wr0ng~Secret.Value_123"}, config,
                    *env.transport, *env.tokens, env.limiter, env.redactor, 9);
  auto r = other.Get("deviceManagement/deviceConfigurations");
  ASSERT_FALSE(r.has_value()) << "the wrong secret rode on the cached token";
  EXPECT_EQ(r.error().kind, Status::Code::kUnauthenticated);
  EXPECT_EQ(env.tokens->fetches(), 2);
}

TEST(GraphClient, TransientFailuresAreRetried) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  env.sim.FailNext(3, 503);
  auto r = env.client->Get("deviceManagement/deviceConfigurations/" + ids[0]);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(env.sim.CountRequests("GET", 503), 3);
  EXPECT_EQ(env.client->stats().transient_retries, 3);
}

TEST(GraphClient, TransientRetriesAreBounded) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations", {{{"displayName", "P"}}});
  env.sim.FailNext(100, 503);
  auto r = env.client->Get("deviceManagement/deviceConfigurations/" + ids[0]);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Status::Code::kUnavailable);
  EXPECT_EQ(r.error().http_status, 503);
  EXPECT_EQ(env.sim.CountRequests("GET", 503), 5);  // 1 + 4 retries
}

TEST(GraphClient, NonRetryable400SurfacesTheGraphErrorCode) {
  GraphTestEnv env;
  auto r = env.client->Post("deviceManagement/deviceConfigurations",
                            {{"displayName", "X"}, {"id", "abc"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().code, "ModelValidationFailure");
  EXPECT_NE(r.error().message.find("'id' is read-only"), std::string::npos);
  EXPECT_FALSE(r.error().request_id.empty());
  EXPECT_EQ(r.error().ToStatus().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(env.sim.CountRequests("POST", 400), 1);  // not retried
}

TEST(GraphClient, NetworkErrorIsUnavailableAfterBoundedRetries) {
  GraphTestEnv env;
  GraphConfig config;
  config.authority_base = env.sim.base_url();
  config.graph_base = "http://127.0.0.1:1";  // nothing listens there
  config.backoff_base = 1ms;
  GraphClient client({kTenant, kClientId, kSecret}, config, *env.transport, *env.tokens,
                     env.limiter, env.redactor);
  auto r = client.Get("deviceManagement/deviceConfigurations");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Status::Code::kUnavailable);
  EXPECT_NE(r.error().message.find("gave up after 4 retries"), std::string::npos)
      << r.error().message;
}

TEST(AdaptiveLimiter, HalvesOncePerThrottleEpisodeAndGrowsOnSuccess) {
  FakeClock clock;
  AdaptiveLimiter limiter({8, 1, 16}, clock);
  limiter.OnThrottle("t", 50ms);
  limiter.OnThrottle("t", 50ms);  // same episode: no second halving
  EXPECT_DOUBLE_EQ(limiter.Limit("t"), 4);
  for (int i = 0; i < 4; ++i) limiter.OnSuccess("t");
  EXPECT_GT(limiter.Limit("t"), 4.5);
  const auto t0 = clock.Now();
  { auto slot = limiter.Enter("t"); }  // waits for the gate, on the clock
  EXPECT_GE(clock.Now() - t0, 50ms);
  EXPECT_GE(clock.slept(), 50ms);
  EXPECT_DOUBLE_EQ(limiter.Limit("other"), 8);  // tenants are independent
}

}  // namespace
}  // namespace ta::graph

namespace ta::graph {
namespace {

// A national cloud's token is asked for its own Graph (issue: national clouds).
TEST(GraphClient, TheTokenScopeFollowsTheGraphBase) {
  EXPECT_EQ(ScopeFor("https://graph.microsoft.com"), "https://graph.microsoft.com/.default");
  EXPECT_EQ(ScopeFor("https://graph.microsoft.us/"), "https://graph.microsoft.us/.default");
  EXPECT_EQ(ScopeFor("https://dod-graph.microsoft.us"), "https://dod-graph.microsoft.us/.default");
  EXPECT_EQ(ScopeFor("https://microsoftgraph.chinacloudapi.cn"),
            "https://microsoftgraph.chinacloudapi.cn/.default");
  EXPECT_EQ(GraphConfig{}.scope, ScopeFor(GraphConfig{}.graph_base));
}

}  // namespace
}  // namespace ta::graph
