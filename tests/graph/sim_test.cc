// The simulator behaves as Graph does where our restores depend on it.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "graph_test_env.h"

namespace ta::graph {
namespace {

using nlohmann::json;

std::string Coll(const std::string& c) { return "deviceManagement/" + c; }

TEST(GraphSim, ComplianceGetOmitsScheduledActionsUnlessExpanded) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(
      kTenant, "deviceCompliancePolicies",
      {{{"displayName", "C"}, {"scheduledActionsForRule", json::array({{{"ruleName", "r"}}})}}});
  auto plain = env.client->Get(Coll("deviceCompliancePolicies/") + ids[0]);
  EXPECT_FALSE(plain->contains("scheduledActionsForRule"));
  auto expanded =
      env.client->Get(Coll("deviceCompliancePolicies/") + ids[0] +
                      "?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)");
  EXPECT_EQ((*expanded)["scheduledActionsForRule"].size(), 1u);
}

TEST(GraphSim, ComplianceCreateRequiresScheduledActions) {
  GraphTestEnv env;
  auto r = env.client->Post(Coll("deviceCompliancePolicies"), {{"displayName", "C"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("scheduledActionsForRule is required"), std::string::npos);
}

TEST(GraphSim, SettingsCatalogRejectsPatchOfSettingsAndAcceptsPut) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "configurationPolicies",
                          {{{"name", "S"}, {"settings", json::array({1, 2})}}});
  const std::string path = Coll("configurationPolicies/") + ids[0];
  auto patch = env.client->Patch(path, {{"settings", json::array({1})}});
  ASSERT_FALSE(patch.has_value());
  EXPECT_EQ(patch.error().http_status, 400);
  ASSERT_TRUE(
      env.client->Put(path, {{"name", "S2"}, {"settings", json::array({1, 2, 3})}}).has_value());
  auto settings = ListAll(*env.client, path + "/settings");
  EXPECT_EQ(settings->size(), 3u);
  EXPECT_EQ((*env.client->Get(path))["name"], "S2");
}

TEST(GraphSim, AssignRejectsUnknownGroupsAndStoresKnownOnes) {
  GraphTestEnv env;
  env.sim.Seed(kTenant, "groups", {{{"id", "g-1"}, {"displayName", "Finance Users"}}});
  auto ids = env.sim.Seed(kTenant, "deviceManagementScripts",
                          {{{"displayName", "S"}, {"scriptContent", "SGVsbG8="}}});
  const catalog::PolicyType& type = *catalog::FindPolicyType("deviceManagementScript");
  auto target = [](const std::string& g) {
    return json::array(
        {{{"target",
           {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"}, {"groupId", g}}}}});
  };
  const std::string path = catalog::ItemPath(type, ids[0]);
  auto bad = env.client->Post(path + "/assign", catalog::AssignBody(type, target("g-missing")));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("g-missing"), std::string::npos);
  ASSERT_TRUE(
      env.client->Post(path + "/assign", catalog::AssignBody(type, target("g-1"))).has_value());
  EXPECT_EQ((*env.client->Get(path + "/assignments"))["value"].size(), 1u);
}

TEST(GraphSim, GroupsFilterByDisplayName) {
  GraphTestEnv env;
  env.sim.Seed(kTenant, "groups",
               {{{"id", "g-1"}, {"displayName", "Finance Users"}},
                {{"id", "g-2"}, {"displayName", "Pilot"}}});
  auto r = env.client->Get("groups?$filter=displayName eq 'Pilot'");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ((*r)["value"].size(), 1u);
  EXPECT_EQ((*r)["value"][0]["id"], "g-2");
}

TEST(GraphSim, ScriptContentMustBeBase64) {
  GraphTestEnv env;
  auto r = env.client->Post(Coll("deviceManagementScripts"),
                            {{"displayName", "S"}, {"scriptContent", "not base64!"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("base64"), std::string::npos);
}

TEST(GraphSim, WritesHaveTheirOwnLimit) {
  sim::SimConfig sc;
  sc.throttle_window_ms = 1000;
  sc.throttle_max_writes = 5;
  GraphTestEnv env(sc);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(
        env.client->Post(Coll("deviceConfigurations"), {{"displayName", "P" + std::to_string(i)}}));
  }
  EXPECT_GT(env.sim.CountRequests("POST", 429), 0);
  EXPECT_EQ(env.sim.CountRequests("POST", 201), 8);
}

TEST(GraphSim, RequestLogShowsNoWritesForReads) {
  GraphTestEnv env;
  env.sim.GeneratePolicies(kTenant, 16);
  for (const auto& t : catalog::Catalog())
    ASSERT_TRUE(ListAll(*env.client, std::string(t.collection)));
  int writes = 0;
  for (const auto& r : env.sim.Requests()) writes += r["write"].get<bool>() ? 1 : 0;
  EXPECT_EQ(writes, 0);
  EXPECT_EQ(env.sim.CountRequests("GET", 200), static_cast<int64_t>(catalog::Catalog().size()));
}

}  // namespace
}  // namespace ta::graph

namespace ta::graph {
namespace {

using nlohmann::json;

// POST /_sim/fixture loads what it is given (it used to answer 204 and add
// nothing), and refuses a malformed fixture with a message naming the field.
TEST(GraphSimFixture, HttpFixtureAddsTheTenantsItIsGiven) {
  GraphTestEnv env;
  auto post = [&](const std::string& body) {
    HttpRequest r;
    r.method = "POST";
    r.url = env.sim.base_url() + "/_sim/fixture";
    r.body = body;
    r.headers = {{"Content-Type", "application/json"}};
    return env.transport->Send(r);
  };
  const json fixture = {
      {"tenants",
       {{{"id", "fabrikam"},
         {"apps", {{{"client_id", "app-f"}, {"client_secret", "Qx8~fabrikam-secret"}}}},
         {"groups", {{{"id", "g-f"}, {"displayName", "Finance"}}}},
         {"policies",
          {{"roleScopeTags", {{{"id", "7"}, {"displayName", "Europe"}}}},
           {"deviceConfigurations", {{{"displayName", "From the fixture"}}}}}}}}}};
  auto ok = post(fixture.dump());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 204);
  TokenProvider tokens(*env.transport, env.sim.base_url(), GraphConfig{}.scope, env.clock,
                       env.redactor);
  GraphConfig config;
  config.authority_base = config.graph_base = env.sim.base_url();
  GraphClient fabrikam(AppCredentials{"fabrikam", "app-f", "Qx8~fabrikam-secret"}, config,
                       *env.transport, tokens, env.limiter, env.redactor, 3);
  auto configs = ListAll(fabrikam, "deviceManagement/deviceConfigurations");
  ASSERT_TRUE(configs.has_value()) << configs.error().message;
  ASSERT_EQ(configs->size(), 1u);
  EXPECT_EQ((*configs)[0]["displayName"], "From the fixture");
  EXPECT_EQ(ListAll(fabrikam, "deviceManagement/roleScopeTags")->size(), 1u);
  EXPECT_EQ(ListAll(fabrikam, "groups")->size(), 1u);

  auto bad = post(R"({"tenants":[{"id":"x","policies":{"deviceConfigurations":{}}}]})");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("policies.deviceConfigurations must be an array"), std::string::npos)
      << bad->body;
}

// Graph's behaviour the restore depends on: a PATCH ignores sub-resources,
// the actions change them, and unknown references are refused.
TEST(GraphSimFidelity, PatchIgnoresSubResourcesAndTheActionsChangeThem) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "deviceCompliancePolicies",
                          {{{"displayName", "C"},
                            {"scheduledActionsForRule",
                             {{{"ruleName", "PasswordRequired"},
                               {"scheduledActionConfigurations",
                                {{{"actionType", "block"}, {"gracePeriodHours", 0}}}}}}}}});
  const std::string item = "deviceManagement/deviceCompliancePolicies/" + ids[0];
  const std::string expand =
      "?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)";
  auto grace = [&] {
    return (
        *env.client->Get(item + expand))["scheduledActionsForRule"][0]
                                        ["scheduledActionConfigurations"][0]["gracePeriodHours"];
  };
  ASSERT_TRUE(
      env.client->Patch(item, {{"scheduledActionsForRule",
                                {{{"ruleName", "PasswordRequired"},
                                  {"scheduledActionConfigurations",
                                   {{{"actionType", "block"}, {"gracePeriodHours", 48}}}}}}}}));
  EXPECT_EQ(grace(), 0) << "a PATCH does not change scheduled actions";
  ASSERT_TRUE(env.client->Post(item + "/scheduleActionsForRules",
                               {{"deviceComplianceScheduledActionForRules",
                                 {{{"ruleName", "PasswordRequired"},
                                   {"scheduledActionConfigurations",
                                    {{{"actionType", "block"}, {"gracePeriodHours", 48}}}}}}}}));
  EXPECT_EQ(grace(), 48);
  auto unknown = env.client->Post(
      item + "/scheduleActionsForRules",
      {{"deviceComplianceScheduledActionForRules",
        {{{"ruleName", "PasswordRequired"},
          {"scheduledActionConfigurations",
           {{{"actionType", "notification"}, {"notificationTemplateId", "nope"}}}}}}}});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().http_status, 400);
  EXPECT_NE(unknown.error().message.find("Invalid Reference id"), std::string::npos);
  // A PATCH of the sub-resource entry itself is what every read returns.
  auto rules = ListAll(*env.client, item + "/scheduledActionsForRule");
  ASSERT_EQ(rules->size(), 1u);
  ASSERT_TRUE(env.client->Patch(item + "/scheduledActionsForRule/" +
                                    (*rules)[0]["id"].get<std::string>(),
                                {{"scheduledActionConfigurations",
                                  {{{"actionType", "block"}, {"gracePeriodHours", 96}}}}}));
  EXPECT_EQ(grace(), 96) << "seen through $expand";
  EXPECT_EQ((*ListAll(*env.client, item + "/scheduledActionsForRule"))[0]
                ["scheduledActionConfigurations"][0]["gracePeriodHours"],
            96)
      << "and through the list";
  auto tag = env.client->Patch(item, {{"roleScopeTagIds", {"42"}}});
  ASSERT_FALSE(tag.has_value());
  EXPECT_NE(tag.error().message.find("scope tag '42'"), std::string::npos);
}

TEST(GraphSimFidelity, OmaStringValuesAreEncryptedAndReadWithTheFunction) {
  GraphTestEnv env;
  auto ids = env.sim.Seed(kTenant, "deviceConfigurations",
                          {{{"displayName", "W"},
                            {"omaSettings",
                             {{{"@odata.type", "#microsoft.graph.omaSettingString"},
                               {"omaUri", "./x"},
                               {"value", "plain-psk"}}}}}});
  const std::string item = "deviceManagement/deviceConfigurations/" + ids[0];
  const json s = (*env.client->Get(item))["omaSettings"][0];
  EXPECT_EQ(s["isEncrypted"], true);
  EXPECT_NE(s["value"], "plain-psk");
  auto plain = env.client->Get(item + "/getOmaSettingPlainTextValue(secretReferenceValueId='" +
                               s["secretReferenceValueId"].get<std::string>() + "')");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ((*plain)["value"], "plain-psk");
}

}  // namespace
}  // namespace ta::graph
