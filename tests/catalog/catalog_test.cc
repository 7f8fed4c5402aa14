#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace ta::catalog {
namespace {

using nlohmann::json;

TEST(Catalog, DescribesEveryType) {
  const std::vector<std::string> names = {"deviceConfiguration",
                                          "compliancePolicy",
                                          "settingsCatalog",
                                          "groupPolicyConfiguration",
                                          "deviceManagementScript",
                                          "autopilotProfile",
                                          "enrollmentConfiguration",
                                          "assignmentFilter",
                                          "scopeTag",
                                          "notificationMessageTemplate",
                                          "remediationScript",
                                          "complianceScript",
                                          "macOSShellScript",
                                          "macOSCustomAttributeScript",
                                          "featureUpdateProfile",
                                          "qualityUpdateProfile",
                                          "driverUpdateProfile",
                                          "deviceCategory",
                                          "iosAppProtection",
                                          "androidAppProtection",
                                          "managedAppConfiguration",
                                          "windowsAppProtection",
                                          "reusablePolicySetting",
                                          "androidEnrollmentProfile",
                                          "roleDefinition",
                                          "termsAndConditions",
                                          "namedLocation",
                                          "conditionalAccessPolicy",
                                          "mobileApp",
                                          "mobileAppConfiguration",
                                          "endpointSecurityIntent",
                                          "policySet",
                                          "cloudPcProvisioningPolicy",
                                          "cloudPcUserSetting",
                                          "appleEnrollmentProfile"};
  EXPECT_EQ(Catalog().size(), names.size());
  EXPECT_GE(Catalog().size(), 35u);
  std::set<std::string_view> collections;
  for (const auto& t : Catalog()) collections.insert(t.collection);
  EXPECT_EQ(collections.size(), Catalog().size()) << "one collection per type";
  for (const auto& name : names) EXPECT_NE(FindPolicyType(name), nullptr) << name;
  EXPECT_EQ(FindPolicyType("nope"), nullptr);
}

// Referenced types come before what refers to them; policy sets last.
TEST(Catalog, RestoreRankPutsEveryTypeAfterWhatItRefersTo) {
  auto rank = [](const char* n) { return RestoreRank(*FindPolicyType(n)); };
  EXPECT_EQ(rank("scopeTag"), 0);
  EXPECT_EQ(rank("namedLocation"), 0);
  EXPECT_LT(rank("scopeTag"), rank("assignmentFilter"));
  EXPECT_LT(rank("assignmentFilter"), rank("deviceConfiguration"));
  EXPECT_LT(rank("notificationMessageTemplate"), rank("compliancePolicy"));
  EXPECT_LT(rank("namedLocation"), rank("conditionalAccessPolicy"));
  EXPECT_LT(rank("mobileApp"), rank("mobileAppConfiguration"));
  for (const auto& t : Catalog()) {
    if (t.name == "policySet") continue;
    EXPECT_LT(RestoreRank(t), rank("policySet")) << t.name;
  }
}

// An intent is created from its template: the template id is in the path,
// the settings are the body's settingsDelta; neither is in an update.
TEST(Catalog, AnIntentIsCreatedThroughItsTemplate) {
  const PolicyType& t = *FindPolicyType("endpointSecurityIntent");
  const json captured = {{"id", "i1"},
                         {"displayName", "AV"},
                         {"templateId", "tmpl-1"},
                         {"settings", {{{"id", "s1"}, {"definitionId", "d1"}, {"valueJson", "1"}}}}};
  EXPECT_EQ(CreatePath(t, captured), "deviceManagement/templates/tmpl-1/createInstance");
  EXPECT_EQ(CreatePath(t, json{{"displayName", "AV"}}), "") << "no template: no path";
  const json create = StripForWrite(t, captured, false);
  EXPECT_EQ(create, (json{{"displayName", "AV"},
                          {"settingsDelta", {{{"definitionId", "d1"}, {"valueJson", "1"}}}}}));
  EXPECT_EQ(StripForWrite(t, captured, true), (json{{"displayName", "AV"}}));
  EXPECT_EQ(UpdateSettingsBody(captured["settings"]),
            (json{{"settings", {{{"definitionId", "d1"}, {"valueJson", "1"}}}}}));
  EXPECT_EQ(CreatePath(*FindPolicyType("deviceConfiguration"), captured),
            "deviceManagement/deviceConfigurations");
}

TEST(Catalog, PolicySetUpdateAddsAndDeletesItemsByPayload) {
  const json live = {{{"id", "e1"}, {"payloadId", "keep"}}, {{"id", "e2"}, {"payloadId", "gone"}}};
  const json desired = {{{"payloadId", "keep"}}, {{"id", "x"}, {"payloadId", "new"}}};
  EXPECT_EQ(PolicySetUpdateBody(live, desired),
            (json{{"addedPolicySetItems", {{{"payloadId", "new"}}}},
                  {"updatedPolicySetItems", json::array()},
                  {"deletedPolicySetItems", {"e2"}}}));
}

// Conditional access references: users, groups, roles, applications and
// locations are found and mapped; Entra's keywords are not references.
TEST(Catalog, ConditionalAccessReferencesAreMappedAndKeywordsKept) {
  const PolicyType& t = *FindPolicyType("conditionalAccessPolicy");
  const json p = {{"displayName", "CA"},
                  {"conditions",
                   {{"users",
                     {{"includeUsers", {"All"}},
                      {"excludeUsers", {"u1"}},
                      {"includeGroups", {"g1"}},
                      {"includeRoles", {"r1"}}}},
                    {"applications", {{"includeApplications", {"Office365", "app1"}}}},
                    {"locations", {{"includeLocations", {"AllTrusted"}},
                                   {"excludeLocations", {"loc1"}}}}}}};
  const auto refs = FindReferences(t, p, json::array());
  std::set<std::string> kinds;
  for (const auto& r : refs) kinds.insert(std::string(RefKindName(r.kind)) + ":" + r.id);
  EXPECT_EQ(kinds, (std::set<std::string>{"user:u1", "group:g1", "directoryRole:r1",
                                          "application:app1", "namedLocation:loc1"}));
  const auto m = MapReferences(t, p, json::array(), {{"u1", "U1"}, {"g1", "G1"}}, false);
  EXPECT_EQ(m.payload["conditions"]["users"]["excludeUsers"], json({"U1"}));
  EXPECT_EQ(m.payload["conditions"]["users"]["includeUsers"], json({"All"}));
  EXPECT_EQ(m.unmapped.size(), 3u) << "role, application and location have no mapping";
}

// Setting ids anywhere in a payload (children included), each once.
TEST(Catalog, SettingDefinitionIdsAreFoundAtEveryDepthOnce) {
  const json p = {{"settings",
                   {{{"settingInstance",
                      {{"settingDefinitionId", "a"},
                       {"groupSettingCollectionValue",
                        {{{"children", {{{"settingDefinitionId", "b"}}, {{"settingDefinitionId", "a"}}}}}}}}}}}},
                  {"settingInstance", {{"settingDefinitionId", "c"}}},
                  {"noise", {{"settingDefinitionId", 5}}}};
  auto ids = SettingDefinitionIds(p);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SettingDefinitionIds(json("x")).empty());
  EXPECT_EQ(CreateBodyKey(FindPolicyType("endpointSecurityIntent")->sub_resources[0]),
            "settingsDelta");
  EXPECT_EQ(CreateBodyKey(FindPolicyType("settingsCatalog")->sub_resources[0]), "settings");
}

TEST(Catalog, OnlyAppsWithUploadedContentNeedItUploadedAgain) {
  const PolicyType& apps = *FindPolicyType("mobileApp");
  EXPECT_TRUE(NeedsContentUpload(apps, {{"@odata.type", "#microsoft.graph.win32LobApp"}}));
  EXPECT_TRUE(NeedsContentUpload(apps, {{"@odata.type", "#microsoft.graph.iosLobApp"}}));
  EXPECT_FALSE(NeedsContentUpload(apps, {{"@odata.type", "#microsoft.graph.webApp"}}));
  EXPECT_FALSE(NeedsContentUpload(apps, {{"@odata.type", "#microsoft.graph.iosStoreApp"}}));
  EXPECT_FALSE(NeedsContentUpload(*FindPolicyType("deviceConfiguration"),
                                  {{"@odata.type", "#microsoft.graph.win32LobApp"}}));
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
}  // namespace ta::catalog

namespace ta::catalog {
namespace {

using nlohmann::json;

const json kCompliance = {
    {"displayName", "C"},
    {"roleScopeTagIds", {"0", "tag-eu"}},
    {"scheduledActionsForRule",
     {{{"id", "rule-1"},
       {"ruleName", "PasswordRequired"},
       {"scheduledActionConfigurations",
        {{{"id", "a1"}, {"actionType", "block"}, {"notificationTemplateId", ""}},
         {{"id", "a2"},
          {"actionType", "notification"},
          {"notificationTemplateId", "tmpl-1"},
          {"notificationMessageCCList", {"grp-cc"}}}}}}}}};
const json kAssignments = {{{"id", "x"},
                            {"target",
                             {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"},
                              {"groupId", "grp-fin"},
                              {"deviceAndAppManagementAssignmentFilterId", "flt-1"}}}}};

TEST(CatalogReferences, FindsEveryKindAnywhereAndSkipsWellKnownIds) {
  const auto refs = FindReferences(*FindPolicyType("compliancePolicy"), kCompliance, kAssignments);
  std::vector<std::string> got;
  for (const auto& r : refs)
    got.push_back(std::string(RefKindName(r.kind)) + ":" + r.id + "@" + r.where);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "scopeTag:tag-eu@roleScopeTagIds[1]",
                     "group:grp-cc@scheduledActionsForRule[0].scheduledActionConfigurations[1]."
                     "notificationMessageCCList[0]",
                     "notificationTemplate:tmpl-1@scheduledActionsForRule[0]."
                     "scheduledActionConfigurations[1].notificationTemplateId",
                     "group:grp-fin@assignments[0].target.groupId",
                     "assignmentFilter:flt-1@assignments[0].target."
                     "deviceAndAppManagementAssignmentFilterId"}));
}

TEST(CatalogReferences, MapsEveryReferenceAndReportsWhatIsNotMapped) {
  const PolicyType& t = *FindPolicyType("compliancePolicy");
  const std::map<std::string, std::string> mapping = {
      {"tag-eu", "tag-eu-b"}, {"grp-cc", "grp-cc-b"}, {"grp-fin", "grp-fin-b"}};
  Mapped m = MapReferences(t, kCompliance, kAssignments, mapping, false);
  EXPECT_EQ(m.payload["roleScopeTagIds"], json({"0", "tag-eu-b"}));
  EXPECT_EQ(m.payload["scheduledActionsForRule"][0]["scheduledActionConfigurations"][1]
                     ["notificationMessageCCList"],
            json({"grp-cc-b"}));
  EXPECT_EQ(m.assignments[0]["target"]["groupId"], "grp-fin-b");
  ASSERT_EQ(m.unmapped.size(), 2u);  // the template and the filter
  EXPECT_EQ(m.unmapped[0].id, "tmpl-1");
  EXPECT_EQ(m.unmapped[1].id, "flt-1");
  // The same tenant keeps what is not mapped.
  EXPECT_TRUE(MapReferences(t, kCompliance, kAssignments, {}, true).unmapped.empty());
}

TEST(CatalogCanonical, SubResourcesAreKeyedAndServerIdsAreNotContent) {
  const PolicyType& t = *FindPolicyType("compliancePolicy");
  json other = kCompliance;
  other["id"] = "another-tenant-id";
  other["scheduledActionsForRule"][0]["id"] = "rule-9";
  other["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["id"] = "zz";
  EXPECT_EQ(Canonical(t, kCompliance), Canonical(t, other));
  other["roleScopeTagIds"] = {"0"};  // scope tags are content
  EXPECT_NE(Canonical(t, kCompliance), Canonical(t, other));
  EXPECT_TRUE(Canonical(t, kCompliance)["scheduledActionsForRule"].contains("PasswordRequired"));
}

TEST(CatalogCanonical, AnEncryptedValueIsItsDigest) {
  const PolicyType& t = *FindPolicyType("deviceConfiguration");
  const json a = {{"omaSettings",
                   {{{"omaUri", "./x"},
                     {"isEncrypted", true},
                     {"secretReferenceValueId", "ref-1"},
                     {"secretValue", {{"sealed", "AAA"}, {"digest", "d1"}}}}}}};
  json b = a;
  b["omaSettings"][0]["secretReferenceValueId"] = "ref-2";
  b["omaSettings"][0]["secretValue"]["sealed"] = "BBB";  // sealing is randomized
  EXPECT_EQ(Canonical(t, a), Canonical(t, b));
  b["omaSettings"][0]["secretValue"]["digest"] = "d2";
  EXPECT_NE(Canonical(t, a), Canonical(t, b));
  EXPECT_EQ(Canonical(t, a).dump().find("AAA"), std::string::npos);
}

TEST(CatalogSubWrites, StripKeepsOnlyWhatEachWriteCarries) {
  const json gp = {{"displayName", "G"}, {"definitionValues", json::array({{{"enabled", true}}})}};
  EXPECT_FALSE(StripForWrite(*FindPolicyType("groupPolicyConfiguration"), gp, false)
                   .contains("definitionValues"));  // written after the create
  const json sc = {{"name", "S"}, {"settings", json::array({{{"id", "0"}}})}};
  EXPECT_TRUE(StripForWrite(*FindPolicyType("settingsCatalog"), sc, true).contains("settings"))
      << "a PUT replaces the settings";
  EXPECT_EQ(StripForWrite(*FindPolicyType("settingsCatalog"), sc, true)["settings"][0],
            json::object())
      << "without the server's ids";
}

TEST(CatalogSubWrites, DefinitionValuesBodyComputesAddedUpdatedAndDeleted) {
  auto value = [](const std::string& id, const std::string& def, bool enabled) {
    json v = {{"enabled", enabled},
              {"definition", {{"id", def}}},
              {"presentationValues",
               {{{"value", "3"}, {"presentation", {{"id", "p-" + def}}}, {"id", "pv-" + id}}}}};
    if (!id.empty()) v["id"] = id;
    return v;
  };
  const json live = {value("l1", "d-same", true), value("l2", "d-changed", true),
                     value("l3", "d-gone", true)};
  const json desired = {value("", "d-same", true), value("", "d-changed", false),
                        value("", "d-new", true)};
  const json body = DefinitionValuesBody(live, desired, "https://graph.example/beta/");
  ASSERT_EQ(body["added"].size(), 1u);
  EXPECT_EQ(body["added"][0]["definition@odata.bind"],
            "https://graph.example/beta/deviceManagement/groupPolicyDefinitions('d-new')");
  EXPECT_EQ(body["added"][0]["presentationValues"][0]["presentation@odata.bind"],
            "https://graph.example/beta/deviceManagement/groupPolicyDefinitions('d-new')/"
            "presentations('p-d-new')");
  ASSERT_EQ(body["updated"].size(), 1u);
  EXPECT_EQ(body["updated"][0]["id"], "l2");
  EXPECT_EQ(body["updated"][0]["enabled"], false);
  EXPECT_EQ(body["updated"][0]["presentationValues"][0]["id"], "pv-l2");
  EXPECT_EQ(body["deletedIds"], json({"l3"}));
  // Nothing to do once live equals desired.
  const json none = DefinitionValuesBody(desired, desired, "x/");
  EXPECT_TRUE(none["added"].empty() && none["updated"].empty() && none["deletedIds"].empty());
}

TEST(CatalogSubWrites, EntryWritesMatchByKey) {
  const SubResource& sub = FindPolicyType("notificationMessageTemplate")->sub_resources[0];
  const json live = {{{"id", "m1"}, {"locale", "en-us"}, {"subject", "old"}},
                     {{"id", "m2"}, {"locale", "fr-fr"}, {"subject", "x"}}};
  const json desired = {{{"locale", "en-us"}, {"subject", "new"}},
                        {{"locale", "de-de"}, {"subject", "neu"}}};
  const auto w = EntryWrites(sub, live, desired);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].method + w[0].id, "PATCHm1");
  EXPECT_EQ(w[1].method, "POST");
  EXPECT_EQ(w[1].body["locale"], "de-de");
  EXPECT_EQ(w[2].method + w[2].id, "DELETEm2");
}

}  // namespace
}  // namespace ta::catalog

namespace ta::catalog {
namespace {

// An entry named by an identifier object (an app's mobileAppIdentifier) is
// keyed by its values; the object's "@odata.type" must not make the key
// look like an annotation (the diff skips those).
TEST(CatalogCanonical, AnIdentifierObjectKeysByItsValues) {
  const PolicyType& t = *FindPolicyType("iosAppProtection");
  auto app = [](const std::string& bundle) {
    return nlohmann::json{
        {"id", "x"},
        {"mobileAppIdentifier",
         {{"@odata.type", "#microsoft.graph.iosMobileAppIdentifier"}, {"bundleId", bundle}}}};
  };
  const nlohmann::json c =
      Canonical(t, {{"apps", nlohmann::json::array({app("com.a"), app("com.b")})}});
  EXPECT_TRUE(c["apps"].contains("com.a"));
  EXPECT_TRUE(c["apps"].contains("com.b"));
  EXPECT_NE(Canonical(t, {{"apps", nlohmann::json::array({app("com.a")})}}), c);
}

}  // namespace
}  // namespace ta::catalog

namespace ta::catalog {
namespace {

// docs/CATALOG.md is the catalog as a table; it may not drift from the code.
TEST(Catalog, DocumentMatchesTheCatalog) {
  const std::string path = std::string(TA_SOURCE_DIR) + "/docs/CATALOG.md";
  if (std::getenv("TA_UPDATE_DOCS")) {
    std::ofstream(path) << CatalogMarkdown();
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), CatalogMarkdown())
      << "docs/CATALOG.md differs from the catalog: run catalog_test with TA_UPDATE_DOCS=1";
}

}  // namespace
}  // namespace ta::catalog
