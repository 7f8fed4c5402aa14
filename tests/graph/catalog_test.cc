#include "graph/catalog.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ta::graph {
namespace {

using nlohmann::json;

TEST(Catalog, DescribesTheEightIntuneTypes) {
  EXPECT_EQ(Catalog().size(), 8u);
  for (const char* name : {"deviceConfiguration", "compliancePolicy", "settingsCatalog",
                           "groupPolicyConfiguration", "deviceManagementScript", "autopilotProfile",
                           "enrollmentConfiguration", "assignmentFilter"}) {
    EXPECT_NE(FindPolicyType(name), nullptr) << name;
  }
  EXPECT_EQ(FindPolicyType("nope"), nullptr);
}

TEST(Catalog, SettingsCatalogIsUpdatedWithPutAndCapturesSettings) {
  const PolicyType& t = *FindPolicyType("settingsCatalog");
  EXPECT_EQ(t.update_method, UpdateMethod::kPut);
  EXPECT_EQ(t.display_name_field, "name");
  ASSERT_EQ(t.sub_resources.size(), 1u);
  EXPECT_EQ(t.sub_resources[0].path, "settings");
}

TEST(Catalog, CompliancePolicyExpandsScheduledActionsAndSendsThemOnlyOnCreate) {
  const PolicyType& t = *FindPolicyType("compliancePolicy");
  EXPECT_NE(t.get_expand.find("scheduledActionsForRule"), std::string_view::npos);
  const json captured = {
      {"id", "1"}, {"displayName", "C"}, {"scheduledActionsForRule", json::array({1})}};
  EXPECT_TRUE(StripForWrite(t, captured, false).contains("scheduledActionsForRule"));
  EXPECT_FALSE(StripForWrite(t, captured, true).contains("scheduledActionsForRule"));
}

TEST(Catalog, StripRemovesReadOnlyFieldsAndAnnotationsButKeepsTheType) {
  const PolicyType& t = *FindPolicyType("deviceConfiguration");
  const json captured = {{"id", "1"},
                         {"@odata.type", "#microsoft.graph.windows10GeneralConfiguration"},
                         {"@odata.context", "x"},
                         {"createdDateTime", "2020"},
                         {"lastModifiedDateTime", "2021"},
                         {"version", 3},
                         {"displayName", "D"},
                         {"passwordRequired", true}};
  const json out = StripForWrite(t, captured, false);
  EXPECT_EQ(out, (json{{"@odata.type", "#microsoft.graph.windows10GeneralConfiguration"},
                       {"displayName", "D"},
                       {"passwordRequired", true}}));
  EXPECT_TRUE(captured.contains("id"));  // input untouched
}

TEST(Catalog, AssignBodyUsesEachTypesKey) {
  const json a = json::array({{{"target", {{"groupId", "g"}}}}});
  EXPECT_TRUE(AssignBody(*FindPolicyType("deviceManagementScript"), a)
                  .contains("deviceManagementScriptAssignments"));
  EXPECT_TRUE(AssignBody(*FindPolicyType("enrollmentConfiguration"), a)
                  .contains("enrollmentConfigurationAssignments"));
  EXPECT_TRUE(AssignBody(*FindPolicyType("deviceConfiguration"), a).contains("assignments"));
  EXPECT_FALSE(FindPolicyType("assignmentFilter")->assign_body_key.has_value());
}

}  // namespace
}  // namespace ta::graph
