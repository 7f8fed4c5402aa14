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
