// The fidelity conformance suite: for every type in the catalog, on both
// backends, back up; change the live object in the simulator once per kind
// of change (a scalar, a nested value, each sub-resource, assignments, scope
// tags, an encrypted value); the preview must name each change; execute and
// read back: the live object equals the backup. Then the same restore into
// another tenant with the suggested mapping: the object there equals the
// mapped backup, and no write to that tenant carries a source-tenant id.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "ops/capture.h"
#include "ops_env.h"
#include "store/audit_log.h"

namespace ta::ops {
namespace {

using nlohmann::json;
using store::RunStatus;
using ::ta::testing::TestBackend;

json GroupTarget(const std::string& group, const std::string& filter = "") {
  json t = {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"}, {"groupId", group}};
  if (!filter.empty()) {
    t["deviceAndAppManagementAssignmentFilterId"] = filter;
    t["deviceAndAppManagementAssignmentFilterType"] = "include";
  }
  return json::array({{{"target", t}}});
}

// Tenant A's conditional access conditions, with `exclude_users`: a user,
// a group, a built-in role, a Microsoft application and a named location.
json CaConditions(const json& exclude_users) {
  return {{"clientAppTypes", {"all"}},
          {"users",
           {{"includeUsers", json::array()},
            {"excludeUsers", exclude_users},
            {"includeGroups", {"a-grp-fin"}},
            {"excludeGroups", {"a-grp-help"}},
            {"includeRoles", {"62e90394-69f5-4237-9190-012177145e10"}},
            {"excludeRoles", json::array()}}},
          {"applications",
           {{"includeApplications", {"All"}},
            {"excludeApplications", {"00000003-0000-0ff1-ce00-000000000000"}}}},
          {"locations", {{"includeLocations", {"All"}}, {"excludeLocations", {"a-loc"}}}}};
}

// Reference objects with the same names in both tenants (different ids), and
// one object of every catalog type in tenant A that uses them.
struct World {
  std::set<std::string> source_ids;        // every id that exists only in tenant A
  std::map<std::string, std::string> ids;  // catalog type -> its object in A
};

// The web app both tenants have (tenant prefix "a" or "b").
json Portal(const std::string& p) {
  return {{"id", p + "-app-portal"},
          {"@odata.type", "#microsoft.graph.webApp"},
          {"displayName", "Contoso portal"},
          {"description", p},
          {"publisher", "Contoso"},
          {"appUrl", "https://portal.contoso.example"},
          {"useManagedBrowser", false}};
}

World Seed(sim::GraphSim& sim) {
  World w;
  auto seed = [&](const std::string& tenant, const std::string& coll, const json& o) {
    const std::string id = sim.Seed(tenant, coll, {o})[0];
    if (tenant == "ms-a") w.source_ids.insert(id);
    return id;
  };
  for (const char* t : {"ms-a", "ms-b"}) {
    const std::string p = t == std::string("ms-a") ? "a" : "b";
    seed(t, "groups", {{"id", p + "-grp-fin"}, {"displayName", "Finance"}});
    seed(t, "groups", {{"id", p + "-grp-help"}, {"displayName", "Helpdesk"}});
    seed(t, "roleScopeTags",
         {{"id", p + "-tag-eu"}, {"displayName", "Europe"}, {"description", p}});
    seed(t, "roleScopeTags", {{"id", p + "-tag-am"}, {"displayName", "Americas"}});
    seed(t, "assignmentFilters",
         {{"id", p + "-flt"},
          {"displayName", "Contoso laptops"},
          {"description", p},
          {"platform", "windows10AndLater"},
          {"rule", "(device.manufacturer -eq \"Contoso\")"},
          {"roleScopeTagIds", {"0"}}});
    seed(t, "notificationMessageTemplates",
         {{"id", p + "-tmpl"},
          {"displayName", "Noncompliance mail"},
          {"description", p},
          {"defaultLocale", "en-us"},
          {"brandingOptions", "includeCompanyLogo"},
          {"roleScopeTagIds", {"0"}},
          {"localizedNotificationMessages",
           {{{"locale", "en-us"},
             {"subject", "Your device is not compliant"},
             {"messageTemplate", "Please update it."},
             {"isDefault", true}}}}});
    seed(t, "users", {{"id", p + "-user-bg"}, {"displayName", "Break Glass 1"}});
    seed(t, "namedLocations",
         {{"id", p + "-loc"},
          {"@odata.type", "#microsoft.graph.ipNamedLocation"},
          {"displayName", "Head office"},
          {"isTrusted", p == "a"},
          {"ipRanges",
           {{{"@odata.type", "#microsoft.graph.iPv4CidrRange"},
             {"cidrAddress", p == "a" ? "203.0.113.0/24" : "198.51.100.0/24"}}}}});
    if (p == "b") seed(t, "mobileApps", Portal(p));  // A's, below, carries tags and assignments
    // The same in every tenant: a Microsoft application and a built-in role.
    sim.Seed(t, "servicePrincipals",
             {{{"id", p + "-sp-spo"},
               {"appId", "00000003-0000-0ff1-ce00-000000000000"},
               {"displayName", "Office 365 SharePoint Online"}}});
    sim.Seed(t, "directoryRoleDefinitions",
             {{{"id", "62e90394-69f5-4237-9190-012177145e10"},
               {"templateId", "62e90394-69f5-4237-9190-012177145e10"},
               {"displayName", "Global Administrator"}}});
  }
  const json tags = {"a-tag-eu"};
  const json assigned = GroupTarget("a-grp-fin", "a-flt");
  // An object of tenant A with the scope tag every policy here carries, and
  // (for assignable types) the assignment to Finance with the filter.
  enum Carries { kTags, kTagsAndAssignments, kAssignments };
  auto managed = [&](const std::string& coll, json o, Carries carries) {
    if (carries != kAssignments) o["roleScopeTagIds"] = tags;
    if (carries != kTags) o["assignments"] = assigned;
    return seed("ms-a", coll, o);
  };
  w.ids["assignmentFilter"] = "a-flt";
  w.ids["scopeTag"] = "a-tag-eu";
  w.ids["notificationMessageTemplate"] = "a-tmpl";
  w.ids["namedLocation"] = "a-loc";
  w.ids["mobileApp"] = managed("mobileApps", Portal("a"), kTagsAndAssignments);
  w.ids["conditionalAccessPolicy"] =
      seed("ms-a", "policies",
           {{"displayName", "Require MFA for admins"},
            {"state", "enabled"},
            {"conditions", CaConditions({"a-user-bg"})},
            {"grantControls", {{"operator", "OR"}, {"builtInControls", {"mfa"}}}}});
  w.ids["mobileAppConfiguration"] =
      managed("mobileAppConfigurations",
              {{"@odata.type", "#microsoft.graph.iosMobileAppConfiguration"},
               {"displayName", "Portal iOS settings"},
               {"description", "mac"},
               {"targetedMobileApps", {"a-app-portal"}},
               {"settings",
                {{{"appConfigKey", "com.contoso.portal.sso"},
                  {"appConfigKeyType", "booleanType"},
                  {"appConfigKeyValue", "false"}}}}},
              kTagsAndAssignments);
  w.ids["endpointSecurityIntent"] =
      managed("intents",
              {{"displayName", "Defender antivirus"},
               {"description", "esi"},
               {"templateId", "804339ad-1553-4478-a742-138fb5807418"},
               {"settings",
                {{{"@odata.type", "#microsoft.graph.deviceManagementBooleanSettingInstance"},
                  {"definitionId", "deviceConfiguration--defenderRealTimeMonitoring"},
                  {"valueJson", "true"}},
                 {{"@odata.type", "#microsoft.graph.deviceManagementIntegerSettingInstance"},
                  {"definitionId", "deviceConfiguration--defenderScanMaxCpuPercentage"},
                  {"valueJson", "50"}}}}},
              kTagsAndAssignments);
  w.ids["policySet"] = managed("policySets",
                               {{"displayName", "Portal rollout"},
                                {"description", "ps"},
                                {"items",
                                 {{{"@odata.type", "#microsoft.graph.mobileAppPolicySetItem"},
                                   {"payloadId", "a-app-portal"}}}}},
                               kTagsAndAssignments);
  w.ids["cloudPcProvisioningPolicy"] =
      managed("provisioningPolicies",
              {{"displayName", "Cloud PC standard"},
               {"description", "cpc"},
               {"provisioningType", "dedicated"},
               {"imageType", "gallery"},
               {"imageId", "MicrosoftWindowsDesktop_windows-ent-cpc_win11-23h2-ent-cpc-m365"},
               {"windowsSetting", {{"locale", "en-US"}}}},
              kAssignments);
  w.ids["cloudPcUserSetting"] =
      managed("userSettings",
              {{"displayName", "Cloud PC users"},
               {"description", "cus"},
               {"localAdminEnabled", false},
               {"resetEnabled", true},
               {"restorePointSetting", {{"frequencyInHours", 12}, {"userRestoreEnabled", true}}}},
              kAssignments);
  w.ids["appleEnrollmentProfile"] =
      managed("appleUserInitiatedEnrollmentProfiles",
              {{"displayName", "iOS user enrollment"},
               {"description", "ae"},
               {"platform", "iOS"},
               {"defaultEnrollmentType", "accountDrivenUserEnrollment"},
               {"availableEnrollmentTypeOptions",
                {{{"option", "accountDrivenUserEnrollment"}, {"userType", "byod"}}}},
               {"priority", 1}},
              kAssignments);
  w.ids["deviceConfiguration"] =
      managed("deviceConfigurations",
              {{"@odata.type", "#microsoft.graph.windows10CustomConfiguration"},
               {"displayName", "Custom OMA"},
               {"description", "d"},
               {"omaSettings",
                {{{"@odata.type", "#microsoft.graph.omaSettingString"},
                  {"displayName", "Wi-Fi key"},
                  {"omaUri", "./Vendor/MSFT/WiFi/Profile/Corp/Key"},
                  {"value", "s3cret-psk-original"}},
                 {{"@odata.type", "#microsoft.graph.omaSettingInteger"},
                  {"displayName", "Timeout"},
                  {"omaUri", "./Vendor/MSFT/Policy/Config/Timeout"},
                  {"value", 30}}}}},
              kTagsAndAssignments);
  w.ids["compliancePolicy"] =
      managed("deviceCompliancePolicies",
              {{"@odata.type", "#microsoft.graph.windows10CompliancePolicy"},
               {"displayName", "Baseline compliance"},
               {"description", "c"},
               {"osMinimumVersion", "10.0.19045"},
               {"scheduledActionsForRule",
                {{{"ruleName", "PasswordRequired"},
                  {"scheduledActionConfigurations",
                   {{{"actionType", "block"},
                     {"gracePeriodHours", 0},
                     {"notificationTemplateId", ""},
                     {"notificationMessageCCList", json::array()}},
                    {{"actionType", "notification"},
                     {"gracePeriodHours", 24},
                     {"notificationTemplateId", "a-tmpl"},
                     {"notificationMessageCCList", {"a-grp-help"}}}}}}}}},
              kTagsAndAssignments);
  auto setting = [](const std::string& def, const std::string& value) {
    return json{
        {"settingInstance",
         {{"@odata.type", "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"},
          {"settingDefinitionId", def},
          {"choiceSettingValue", {{"value", value}}}}}};
  };
  w.ids["settingsCatalog"] =
      managed("configurationPolicies",
              {{"name", "Edge hardening"},
               {"description", "s"},
               {"platforms", "windows10"},
               {"technologies", "mdm"},
               {"settings", {setting("edge_smartscreen", "enabled"), setting("edge_sync", "off")}}},
              kTagsAndAssignments);
  w.ids["groupPolicyConfiguration"] =
      managed("groupPolicyConfigurations",
              {{"displayName", "Office ADMX"},
               {"description", "g"},
               {"definitionValues",
                {{{"enabled", true},
                  {"definition", {{"id", "def-telemetry"}, {"displayName", "Allow telemetry"}}},
                  {"presentationValues",
                   {{{"@odata.type", "#microsoft.graph.groupPolicyPresentationValueText"},
                     {"value", "3"},
                     {"presentation", {{"id", "pres-level"}}}}}}},
                 {{"enabled", false},
                  {"definition", {{"id", "def-onedrive"}}},
                  {"presentationValues", json::array()}}}}},
              kTagsAndAssignments);
  w.ids["deviceManagementScript"] = managed("deviceManagementScripts",
                                            {{"displayName", "Set timezone"},
                                             {"description", "x"},
                                             {"fileName", "tz.ps1"},
                                             {"scriptContent", "V3JpdGUtSG9zdCAiaGVsbG8i"},
                                             {"runAsAccount", "system"}},
                                            kTagsAndAssignments);
  w.ids["autopilotProfile"] = managed(
      "windowsAutopilotDeploymentProfiles",
      {{"displayName", "Autopilot standard"},
       {"description", "a"},
       {"deviceNameTemplate", "MSP-%SERIAL%"},
       {"outOfBoxExperienceSettings", {{"hidePrivacySettings", true}, {"userType", "standard"}}}},
      kTagsAndAssignments);
  const std::string ps1 = "V3JpdGUtSG9zdCAiaGVsbG8i";  // Write-Host "hello"
  const std::string sh = "IyEvYmluL3NoCmVjaG8gaGk=";   // #!/bin/sh echo hi
  w.ids["remediationScript"] = managed("deviceHealthScripts",
                                       {{"displayName", "Fix time service"},
                                        {"description", "r"},
                                        {"publisher", "MSP"},
                                        {"detectionScriptContent", ps1},
                                        {"remediationScriptContent", ps1},
                                        {"runAs32Bit", false}},
                                       kTagsAndAssignments);
  w.ids["complianceScript"] = managed("deviceComplianceScripts",
                                      {{"displayName", "Disk encrypted"},
                                       {"description", "cs"},
                                       {"publisher", "MSP"},
                                       {"detectionScriptContent", ps1},
                                       {"runAsAccount", "system"}},
                                      kTagsAndAssignments);
  w.ids["macOSShellScript"] = managed("deviceShellScripts",
                                      {{"displayName", "Dock setup"},
                                       {"description", "m"},
                                       {"fileName", "dock.sh"},
                                       {"scriptContent", sh},
                                       {"runAsAccount", "user"},
                                       {"executionFrequency", "PT1H"},
                                       {"retryCount", 2}},
                                      kTagsAndAssignments);
  w.ids["macOSCustomAttributeScript"] = managed("deviceCustomAttributeShellScripts",
                                                {{"displayName", "Serial attribute"},
                                                 {"description", "ca"},
                                                 {"customAttributeName", "serial"},
                                                 {"customAttributeType", "string"},
                                                 {"fileName", "serial.sh"},
                                                 {"scriptContent", sh},
                                                 {"runAsAccount", "system"}},
                                                kTagsAndAssignments);
  w.ids["featureUpdateProfile"] = managed(
      "windowsFeatureUpdateProfiles",
      {{"displayName", "Windows 11 23H2"},
       {"description", "f"},
       {"featureUpdateVersion", "Windows 11, version 23H2"},
       {"rolloutSettings", {{"offerStartDateTimeInUTC", nullptr}, {"offerIntervalInDays", 7}}},
       {"installLatestWindows10OnWindows11IneligibleDevice", false}},
      kTagsAndAssignments);
  w.ids["qualityUpdateProfile"] =
      managed("windowsQualityUpdateProfiles",
              {{"displayName", "Expedite May"},
               {"description", "q"},
               {"expeditedUpdateSettings",
                {{"qualityUpdateRelease", "2026-05-13T00:00:00Z"}, {"daysUntilForcedReboot", 1}}}},
              kTagsAndAssignments);
  w.ids["driverUpdateProfile"] = managed("windowsDriverUpdateProfiles",
                                         {{"displayName", "Drivers manual"},
                                          {"description", "dr"},
                                          {"approvalType", "manual"},
                                          {"deploymentDeferralInDays", 0}},
                                         kTagsAndAssignments);
  w.ids["deviceCategory"] =
      managed("deviceCategories", {{"displayName", "Kiosk"}, {"description", "dc"}}, kTags);
  auto ios = [](const std::string& bundle) {
    return json{
        {"mobileAppIdentifier",
         {{"@odata.type", "#microsoft.graph.iosMobileAppIdentifier"}, {"bundleId", bundle}}}};
  };
  auto android = [](const std::string& package) {
    return json{
        {"mobileAppIdentifier",
         {{"@odata.type", "#microsoft.graph.androidMobileAppIdentifier"}, {"packageId", package}}}};
  };
  w.ids["iosAppProtection"] =
      managed("iosManagedAppProtections",
              {{"displayName", "iOS Office protection"},
               {"description", "i"},
               {"pinRequired", true},
               {"minimumPinLength", 6},
               {"allowedDataStorageLocations", {"oneDriveForBusiness", "sharePoint"}},
               {"appGroupType", "selectedPublicApps"},
               {"apps", {ios("com.microsoft.office.outlook"), ios("com.microsoft.skydrive")}}},
              kTagsAndAssignments);
  w.ids["androidAppProtection"] = managed("androidManagedAppProtections",
                                          {{"displayName", "Android Office protection"},
                                           {"description", "an"},
                                           {"pinRequired", true},
                                           {"minimumPinLength", 4},
                                           {"screenCaptureBlocked", true},
                                           {"allowedDataStorageLocations", {"oneDriveForBusiness"}},
                                           {"appGroupType", "selectedPublicApps"},
                                           {"apps", {android("com.microsoft.office.outlook")}}},
                                          kTagsAndAssignments);
  w.ids["managedAppConfiguration"] =
      managed("targetedManagedAppConfigurations",
              {{"displayName", "Outlook settings"},
               {"description", "mc"},
               {"appGroupType", "selectedPublicApps"},
               {"customSettings",
                {{{"name", "com.microsoft.outlook.Mail.FocusedInbox"}, {"value", "false"}}}},
               {"apps", {ios("com.microsoft.office.outlook")}}},
              kTagsAndAssignments);
  w.ids["windowsAppProtection"] =
      managed("windowsManagedAppProtections",
              {{"displayName", "Windows Edge protection"},
               {"description", "w"},
               {"printBlocked", true},
               {"allowedOutboundDataTransferDestinations", "managedApps"},
               {"appGroupType", "selectedPublicApps"},
               {"apps",
                {{{"mobileAppIdentifier",
                   {{"@odata.type", "#microsoft.graph.windowsAppIdentifier"},
                    {"windowsAppId", "com.microsoft.edge"}}}}}}},
              kTagsAndAssignments);
  w.ids["reusablePolicySetting"] =
      seed("ms-a", "reusablePolicySettings",
           {{"displayName", "Firewall: block SMB"},
            {"description", "rp"},
            {"settingInstance",
             {{"@odata.type",
               "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance"},
              {"settingDefinitionId", "vendor_msft_firewall_mdmstore_firewallrules"},
              {"groupSettingCollectionValue",
               {{{"children",
                  {{{"settingDefinitionId", "port"},
                    {"simpleSettingValue", {{"value", "445"}}}}}}}}}}}});
  w.ids["androidEnrollmentProfile"] = managed("androidDeviceOwnerEnrollmentProfiles",
                                              {{"displayName", "Dedicated kiosks"},
                                               {"description", "ae"},
                                               {"enrollmentMode", "corporateOwnedDedicatedDevice"},
                                               {"enrollmentTokenType", "default"},
                                               {"wifiSsid", "Kiosk"},
                                               {"configureWifi", true},
                                               {"tokenValue", "tenant-specific-token"}},
                                              kTags);
  w.ids["roleDefinition"] = managed(
      "roleDefinitions",
      {{"displayName", "Helpdesk operator"},
       {"description", "rd"},
       {"isBuiltIn", false},
       {"rolePermissions",
        {{{"resourceActions",
           {{{"allowedResourceActions",
              {"Microsoft.Intune_Organization_Read", "Microsoft.Intune_ManagedDevices_Read"}},
             {"notAllowedResourceActions", json::array()}}}}}}}},
      kTags);
  w.ids["termsAndConditions"] = managed("termsAndConditions",
                                        {{"displayName", "Acceptable use"},
                                         {"description", "tc"},
                                         {"title", "Contoso acceptable use"},
                                         {"bodyText", "Use company devices for company work."},
                                         {"acceptanceStatement", "I accept"}},
                                        kTagsAndAssignments);
  w.ids["enrollmentConfiguration"] =
      managed("deviceEnrollmentConfigurations",
              {{"@odata.type", "#microsoft.graph.deviceEnrollmentLimitConfiguration"},
               {"displayName", "Limit five"},
               {"description", "e"},
               {"limit", 5},
               {"priority", 1}},
              kTagsAndAssignments);
  return w;
}

// One kind of change made in Intune after the backup, and where the preview
// must name it.
struct Mutation {
  std::string kind;
  std::string path;  // a preview diff path starts with this
  std::function<void(graph::GraphReader&, graph::GraphWriter&, const std::string& item)> apply;
};

void Ok(const graph::GraphResult<json>& r) { ASSERT_TRUE(r.has_value()) << r.error().message; }

std::vector<Mutation> MutationsOf(const catalog::PolicyType& type) {
  std::vector<Mutation> m;
  // Entra's conditional access objects have no description.
  const std::string scalar =
      type.collection.rfind("identity/", 0) == 0 ? "displayName" : "description";
  m.push_back({"scalar", scalar, [scalar](auto&, graph::GraphWriter& w, const std::string& item) {
                 json patch = {{scalar, "changed in the portal"}};
                 // Graph needs the type to update a named location.
                 if (item.find("namedLocations") != std::string::npos)
                   patch["@odata.type"] = "#microsoft.graph.ipNamedLocation";
                 Ok(w.Patch(item, patch));
               }});
  if (std::any_of(type.references.begin(), type.references.end(),
                  [](const auto& r) { return r.kind == catalog::RefKind::kScopeTag; }))
    m.push_back({"scope tags", "roleScopeTagIds",
                 [](auto&, graph::GraphWriter& w, const std::string& item) {
                   Ok(w.Patch(item, {{"roleScopeTagIds", {"a-tag-am"}}}));
                 }});
  if (type.assign_body_key) {
    m.push_back({"assignments", "assignments",
                 [&type](auto&, graph::GraphWriter& w, const std::string& item) {
                   if (type.assign_body_key == catalog::kAssignEachEntry)  // no /assign action
                     return Ok(w.Post(item + "/assignments", GroupTarget("a-grp-help")[0]));
                   Ok(w.Post(item + "/" + std::string(type.assign_action),
                             catalog::AssignBody(type, GroupTarget("a-grp-help"))));
                 }});
  }
  if (type.name == "deviceConfiguration") {
    auto oma = [](graph::GraphReader& r, const std::string& item) {
      return (*r.Get(item))["omaSettings"];
    };
    m.push_back({"nested value", "omaSettings[1].value",
                 [oma](graph::GraphReader& r, graph::GraphWriter& w, const std::string& item) {
                   json s = oma(r, item);
                   s[1]["value"] = 45;  // the encrypted one is sent back as Graph gave it
                   Ok(w.Patch(item, {{"omaSettings", s}}));
                 }});
    m.push_back({"encrypted value", "omaSettings[0].secretValue",
                 [oma](graph::GraphReader& r, graph::GraphWriter& w, const std::string& item) {
                   json s = oma(r, item);
                   s[0] = {{"@odata.type", "#microsoft.graph.omaSettingString"},
                           {"displayName", "Wi-Fi key"},
                           {"omaUri", "./Vendor/MSFT/WiFi/Profile/Corp/Key"},
                           {"isEncrypted", false},
                           {"value", "rotated-by-someone"}};
                   Ok(w.Patch(item, {{"omaSettings", s}}));
                 }});
  }
  // A nested (or type-specific) value: where it is, and the PATCH that changes it.
  static const std::map<std::string_view, std::pair<std::string, json>> kNested = {
      {"autopilotProfile",
       {"outOfBoxExperienceSettings.hidePrivacySettings",
        {{"outOfBoxExperienceSettings",
          {{"hidePrivacySettings", false}, {"userType", "standard"}}}}}},
      {"assignmentFilter", {"rule", {{"rule", "(device.model -eq \"X1\")"}}}},
      {"remediationScript",
       {"remediationScriptContent", {{"remediationScriptContent", "IyBmaXg="}}}},
      {"complianceScript",
       {"detectionScriptContent", {{"detectionScriptContent", "IyBjaGVjaw=="}}}},
      {"macOSShellScript", {"scriptContent", {{"scriptContent", "IyBtYWM="}}}},
      {"macOSCustomAttributeScript", {"customAttributeType", {{"customAttributeType", "integer"}}}},
      {"featureUpdateProfile",
       {"rolloutSettings.offerIntervalInDays",
        {{"rolloutSettings",
          {{"offerStartDateTimeInUTC", nullptr}, {"offerIntervalInDays", 14}}}}}},
      {"qualityUpdateProfile",
       {"expeditedUpdateSettings.daysUntilForcedReboot",
        {{"expeditedUpdateSettings",
          {{"qualityUpdateRelease", "2026-05-13T00:00:00Z"}, {"daysUntilForcedReboot", 2}}}}}},
      {"driverUpdateProfile", {"deploymentDeferralInDays", {{"deploymentDeferralInDays", 3}}}},
      {"iosAppProtection",
       {"allowedDataStorageLocations", {{"allowedDataStorageLocations", {"oneDriveForBusiness"}}}}},
      {"androidAppProtection", {"minimumPinLength", {{"minimumPinLength", 8}}}},
      {"windowsAppProtection", {"printBlocked", {{"printBlocked", false}}}},
      {"reusablePolicySetting",
       {"settingInstance.groupSettingCollectionValue[0].children[0].simpleSettingValue.value",
        {{"settingInstance",
          {{"@odata.type",
            "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance"},
           {"settingDefinitionId", "vendor_msft_firewall_mdmstore_firewallrules"},
           {"groupSettingCollectionValue",
            {{{"children",
               {{{"settingDefinitionId", "port"},
                 {"simpleSettingValue", {{"value", "139"}}}}}}}}}}}}}},
      {"androidEnrollmentProfile", {"wifiSsid", {{"wifiSsid", "Kiosk-2"}}}},
      {"termsAndConditions", {"bodyText", {{"bodyText", "Changed terms."}}}},
      {"roleDefinition",
       {"rolePermissions[0].resourceActions[0].allowedResourceActions",
        {{"rolePermissions",
          {{{"resourceActions",
             {{{"allowedResourceActions", {"Microsoft.Intune_Organization_Read"}},
               {"notAllowedResourceActions", json::array()}}}}}}}}}},
      {"namedLocation",
       {"ipRanges",
        {{"@odata.type", "#microsoft.graph.ipNamedLocation"},
         {"ipRanges",
          {{{"@odata.type", "#microsoft.graph.iPv4CidrRange"}, {"cidrAddress", "0.0.0.0/0"}}}}}}},
      {"conditionalAccessPolicy",
       {"conditions.users.excludeUsers", {{"conditions", CaConditions(json::array())}}}},
      {"mobileApp", {"appUrl", {{"appUrl", "https://evil.example"}}}},
      {"mobileAppConfiguration",
       {"settings",
        {{"settings",
          {{{"appConfigKey", "com.contoso.portal.sso"},
            {"appConfigKeyType", "booleanType"},
            {"appConfigKeyValue", "true"}}}}}}},
      {"cloudPcProvisioningPolicy",
       {"windowsSetting.locale", {{"windowsSetting", {{"locale", "de-DE"}}}}}},
      {"cloudPcUserSetting",
       {"restorePointSetting.frequencyInHours",
        {{"restorePointSetting", {{"frequencyInHours", 6}, {"userRestoreEnabled", true}}}}}},
      {"appleEnrollmentProfile", {"defaultEnrollmentType", {{"defaultEnrollmentType", "device"}}}},
      {"managedAppConfiguration",
       {"customSettings[0].value",
        {{"customSettings",
          {{{"name", "com.microsoft.outlook.Mail.FocusedInbox"}, {"value", "true"}}}}}}}};
  if (auto it = kNested.find(type.name); it != kNested.end()) {
    const json patch = it->second.second;
    m.push_back({"nested value", it->second.first,
                 [patch](auto&, graph::GraphWriter& w, const std::string& item) {
                   Ok(w.Patch(item, patch));
                 }});
  }
  if (type.name == "compliancePolicy")
    m.push_back({"sub-resource", "scheduledActionsForRule",
                 [](auto&, graph::GraphWriter& w, const std::string& item) {
                   Ok(w.Post(item + "/scheduleActionsForRules",
                             {{"deviceComplianceScheduledActionForRules",
                               {{{"ruleName", "PasswordRequired"},
                                 {"scheduledActionConfigurations",
                                  {{{"actionType", "block"}, {"gracePeriodHours", 72}}}}}}}}));
                 }});
  if (type.name == "settingsCatalog")
    m.push_back(
        {"sub-resource", "settings",
         [](graph::GraphReader& r, graph::GraphWriter& w, const std::string& item) {
           json body = *r.Get(item);
           for (const char* k : {"id", "createdDateTime", "lastModifiedDateTime", "settingCount"})
             body.erase(k);
           body["settings"] = json::array(
               {{{"settingInstance",
                  {{"@odata.type",
                    "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"},
                   {"settingDefinitionId", "edge_smartscreen"},
                   {"choiceSettingValue", {{"value", "disabled"}}}}}}});
           Ok(w.Put(item, body));
         }});
  if (type.name == "groupPolicyConfiguration")
    m.push_back(
        {"sub-resource", "definitionValues",
         [](graph::GraphReader& r, graph::GraphWriter& w, const std::string& item) {
           auto values = graph::ListAll(r, item + "/definitionValues?$expand=definition");
           ASSERT_TRUE(values.has_value());
           json updated = json::array(), deleted = json::array();
           for (const auto& v : *values) {
             if (v["definition"]["id"] == "def-telemetry")
               updated.push_back({{"id", v["id"]}, {"enabled", false}});
             else
               deleted.push_back(v["id"]);
           }
           Ok(w.Post(item + "/updateDefinitionValues",
                     {{"added", json::array()}, {"updated", updated}, {"deletedIds", deleted}}));
         }});
  if (std::any_of(type.sub_resources.begin(), type.sub_resources.end(),
                  [](const auto& s) { return s.write == catalog::SubWrite::kTargetApps; }))
    m.push_back({"sub-resource", "apps", [](auto&, graph::GraphWriter& w, const std::string& item) {
                   // Another app, identified the way this platform identifies apps.
                   const json id =
                       item.find("android") != std::string::npos
                           ? json{{"@odata.type", "#microsoft.graph.androidMobileAppIdentifier"},
                                  {"packageId", "com.example.other"}}
                       : item.find("windows") != std::string::npos
                           ? json{{"@odata.type", "#microsoft.graph.windowsAppIdentifier"},
                                  {"windowsAppId", "com.example.other"}}
                           : json{{"@odata.type", "#microsoft.graph.iosMobileAppIdentifier"},
                                  {"bundleId", "com.example.other"}};
                   Ok(w.Post(item + "/targetApps", {{"apps", {{{"mobileAppIdentifier", id}}}}}));
                 }});
  if (type.name == "endpointSecurityIntent")
    m.push_back(
        {"sub-resource", "settings", [](auto&, graph::GraphWriter& w, const std::string& item) {
           Ok(w.Post(item + "/updateSettings",
                     {{"settings",
                       {{{"@odata.type", "#microsoft.graph.deviceManagementIntegerSettingInstance"},
                         {"definitionId", "deviceConfiguration--defenderScanMaxCpuPercentage"},
                         {"valueJson", "20"}}}}}));
         }});
  if (type.name == "policySet")
    m.push_back(
        {"sub-resource", "items",
         [](graph::GraphReader& r, graph::GraphWriter& w, const std::string& item) {
           auto live = r.Get(item + "?$expand=items");
           ASSERT_TRUE(live.has_value());
           ASSERT_FALSE((*live)["items"].empty());
           Ok(w.Post(item + "/update", {{"deletedPolicySetItems", {(*live)["items"][0]["id"]}}}));
         }});
  if (type.name == "notificationMessageTemplate")
    m.push_back({"sub-resource", "localizedNotificationMessages",
                 [](graph::GraphReader& r, graph::GraphWriter& w, const std::string& item) {
                   auto msgs = graph::ListAll(r, item + "/localizedNotificationMessages");
                   ASSERT_TRUE(msgs.has_value());
                   ASSERT_FALSE(msgs->empty());
                   Ok(w.Patch(item + "/localizedNotificationMessages/" +
                                  (*msgs)[0]["id"].get<std::string>(),
                              {{"subject", "Changed subject"}}));
                   Ok(w.Post(item + "/localizedNotificationMessages", {{"locale", "de-de"},
                                                                       {"subject", "Neu"},
                                                                       {"messageTemplate", "x"},
                                                                       {"isDefault", false}}));
                 }});
  return m;
}

class FidelityTest : public ::testing::TestWithParam<std::tuple<TestBackend, std::string>> {};

// Runs a restore to its end; returns the run id and its items.
struct Restored {
  int64_t run = 0;
  std::vector<store::RunItem> items;
};
Restored RunRestore(OpsEnv& env, const RestoreRequest& req, bool execute) {
  auto run = StartRestore(*env.runs, env.db(), req, execute);
  EXPECT_TRUE(run.has_value()) << (run ? "" : run.error().ToString());
  if (!run) return {};
  env.Drain();
  return {run->run.id, env.Items(req.target_tenant_id, run->run.id)};
}

// One item that failed with `code` and a message naming `needle`.
void ExpectOneFailed(const std::vector<store::RunItem>& items, const std::string& code,
                     const std::string& needle) {
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].status, "failed");
  EXPECT_EQ(items[0].error_code.value_or(""), code);
  EXPECT_NE(items[0].error_message.value_or("").find(needle), std::string::npos)
      << items[0].error_message.value_or("");
}

struct Fidelity {
  OpsEnv& env;
  const catalog::PolicyType& type;
  int64_t set_id = 0, item_id = 0;

  // Runs a restore of this type's item; returns the run's items.
  std::vector<store::RunItem> Restore(int64_t target, bool execute,
                                      const std::map<std::string, std::string>& mapping = {}) {
    RestoreRequest req{
        env.operator_both, env.tenant_a, target, set_id, std::vector<int64_t>{item_id}, mapping};
    return RunRestore(env, req, execute).items;
  }
  json Backup() {
    json p;
    (void)env.db().Read([&](store::Tx& tx) -> Status {
      auto rows =
          tx.Query("SELECT v.payload, v.assignments FROM backup_items i JOIN policy_versions v "
                   "ON v.id = i.policy_version_id WHERE i.id = $1",
                   {item_id});
      if (!rows) return rows.error();
      p = {{"payload", json::parse(rows->front().Text(0))},
           {"assignments", json::parse(rows->front().Text(1))}};
      return Status::Ok();
    });
    return p;
  }
  // What still differs between the live object and `desired` (read back
  // independently of the run).
  std::vector<FieldChange> LiveDiff(int64_t tenant, const std::string& id, const json& desired) {
    auto live = CapturePolicy(**env.access->Reader(tenant), type, id, env.box);
    EXPECT_TRUE(live.has_value()) << (live ? "" : live.error().message);
    if (!live) return {{"(unreadable)", json(), json()}};
    return ContentDiff(type, live->payload, live->assignments, desired["payload"],
                       desired["assignments"]);
  }
};

// What a restore into another tenant should leave there: the backup with its
// references mapped, a conditional access policy in report-only state.
catalog::Mapped Expected(const catalog::PolicyType& type, const json& backup,
                         const std::map<std::string, std::string>& mapping) {
  auto mapped =
      catalog::MapReferences(type, backup["payload"], backup["assignments"], mapping, false);
  if (type.conditional_access && mapped.payload.value("state", "") == "enabled")
    mapped.payload["state"] = "enabledForReportingButNotEnforced";
  return mapped;
}

std::string Paths(const std::vector<FieldChange>& changes) {
  std::string out;
  for (const auto& c : changes) out += c.path + " ";
  return out;
}

TEST_P(FidelityTest, EveryKindOfChangeIsPreviewedRestoredAndReadBackEqual) {
  auto db = ::ta::testing::TestDatabase::Create(std::get<0>(GetParam()));
  if (!db) return;
  OpsEnv env(std::move(db));
  const catalog::PolicyType& type = *catalog::FindPolicyType(std::get<1>(GetParam()));
  World world = Seed(env.sim);
  Fidelity f{env, type};
  f.set_id = env.SyncAndBackUpA();
  f.item_id = env.Count(
      "SELECT id FROM backup_items WHERE backup_set_id = $1 AND policy_type = $2 AND graph_id = $3",
      {f.set_id, std::string(type.name), world.ids.at(std::string(type.name))});
  ASSERT_GT(f.item_id, 0);
  const json backup = f.Backup();
  const std::string item = catalog::ItemPath(type, world.ids.at(std::string(type.name)));
  auto reader = env.access->Reader(env.tenant_a);
  auto writer = env.access->Writer(env.tenant_a);
  ASSERT_TRUE(f.LiveDiff(env.tenant_a, world.ids.at(std::string(type.name)), backup).empty());

  int previewed = 0, restored = 0;
  const auto mutations = MutationsOf(type);
  for (const auto& m : mutations) {
    SCOPED_TRACE(std::string(type.name) + ": " + m.kind);
    m.apply(**reader, **writer, item);
    const auto changed = f.LiveDiff(env.tenant_a, world.ids.at(std::string(type.name)), backup);
    ASSERT_FALSE(changed.empty()) << "the mutation changed nothing";

    auto preview = f.Restore(env.tenant_a, false);
    ASSERT_EQ(preview.size(), 1u);
    EXPECT_EQ(preview[0].status, "would_update");
    const json diff = json::parse(preview[0].details.value_or("{}"))["diff"];
    bool named = false;
    for (const auto& c : diff) named |= c["path"].get<std::string>().rfind(m.path, 0) == 0;
    EXPECT_TRUE(named) << "the preview does not name " << m.path << ": " << diff.dump();
    previewed += named ? 1 : 0;
    for (const auto& c : diff) {  // a secret is never shown
      EXPECT_EQ(c.dump().find("rotated-by-someone"), std::string::npos);
      EXPECT_EQ(c.dump().find("s3cret-psk-original"), std::string::npos);
    }

    auto done = f.Restore(env.tenant_a, true);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].status, "updated") << done[0].error_message.value_or("");
    const auto still = f.LiveDiff(env.tenant_a, world.ids.at(std::string(type.name)), backup);
    EXPECT_TRUE(still.empty()) << "differs after restore: " << Paths(still);
    restored += still.empty() && done[0].status == "updated" ? 1 : 0;
  }
  // Spot checks of the raw objects, where the product once said "updated"
  // and Graph had ignored the write.
  if (type.name == "compliancePolicy") {
    auto live = (**reader).Get(item + "?$expand=" + std::string(type.get_expand));
    const json& actions = (*live)["scheduledActionsForRule"][0]["scheduledActionConfigurations"];
    ASSERT_EQ(actions.size(), 2u);
    EXPECT_EQ(actions[1]["gracePeriodHours"], 24);
    EXPECT_EQ(actions[1]["notificationMessageCCList"], json::array({"a-grp-help"}));
  }
  if (type.name == "groupPolicyConfiguration") {
    auto values = graph::ListAll(**reader, item + "/definitionValues?$expand=definition");
    ASSERT_EQ(values->size(), 2u);
    for (const auto& v : *values)
      EXPECT_EQ(v["enabled"].get<bool>(), v["definition"]["id"] == "def-telemetry");
  }
  if (type.name == "deviceConfiguration") {
    json s = (*(**reader).Get(item))["omaSettings"][0];
    auto plain = (**reader).Get(item + "/getOmaSettingPlainTextValue(secretReferenceValueId='" +
                                s["secretReferenceValueId"].get<std::string>() + "')");
    EXPECT_EQ((*plain)["value"], "s3cret-psk-original");
  }

  // Into tenant B, with the suggested mapping.
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  auto rows = SuggestMapping(env.db(), env.tenant_a, env.tenant_b, f.set_id);
  ASSERT_TRUE(rows.has_value());
  std::map<std::string, std::string> mapping;
  for (const auto& r : *rows) {
    EXPECT_TRUE(r["suggested"].get<bool>()) << r.dump();
    if (r["suggested"].get<bool>()) mapping[r["source_id"]] = r["target_id"];
  }
  env.sim.ClearRequests();
  auto cross = f.Restore(env.tenant_b, true, mapping);
  ASSERT_EQ(cross.size(), 1u);
  EXPECT_TRUE(cross[0].status == "created" || cross[0].status == "updated")
      << cross[0].status << ": " << cross[0].error_message.value_or("");
  const auto mapped = Expected(type, backup, mapping);
  EXPECT_TRUE(mapped.unmapped.empty());
  const auto in_b = f.LiveDiff(env.tenant_b, cross[0].graph_id.value_or(""),
                               {{"payload", mapped.payload}, {"assignments", mapped.assignments}});
  EXPECT_TRUE(in_b.empty()) << "differs in the other tenant: " << Paths(in_b);
  int writes = 0, leaks = 0;
  for (const auto& r : env.sim.Requests()) {
    if (!r["write"].get<bool>() || r["tenant"] != "ms-b") continue;
    ++writes;
    for (const auto& id : world.source_ids) {
      const bool leaked = r["body"].get<std::string>().find(id) != std::string::npos ||
                          r["path"].get<std::string>().find(id) != std::string::npos;
      leaks += leaked;
      EXPECT_FALSE(leaked) << "source id " << id << " sent to the target: " << r.dump();
    }
  }
  EXPECT_GT(writes, 0);
  // A preview right after the restore finds nothing to do: no server-assigned
  // id or Graph metadata shows as a change.
  auto again = f.Restore(env.tenant_b, false, mapping);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].status, "unchanged")
      << json::parse(again[0].details.value_or("{}"))["diff"].dump();
  std::printf(
      "[fidelity] %-28s changes made %d, named by the preview %d, equal after restore %d; "
      "into another tenant: %s, %d writes, %d source ids sent\n",
      std::string(type.name).c_str(), static_cast<int>(mutations.size()), previewed, restored,
      cross[0].status.c_str(), writes, leaks);
}

// Faults in the middle of one object's restore, on both backends.
class FidelityFaultTest : public ::testing::TestWithParam<TestBackend> {};

struct FaultWorld {
  World world;
  int64_t set_id = 0;
  std::map<std::string, std::string> mapping;  // every suggestion, all of them suggested
};

FaultWorld BackUpAndSyncBoth(OpsEnv& env) {
  FaultWorld fw;
  fw.world = Seed(env.sim);
  fw.set_id = env.SyncAndBackUpA();
  EXPECT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  auto rows = SuggestMapping(env.db(), env.tenant_a, env.tenant_b, fw.set_id);
  EXPECT_TRUE(rows.has_value());
  for (const auto& r : rows ? *rows : json::array())
    if (r["suggested"].get<bool>()) fw.mapping[r["source_id"]] = r["target_id"];
  return fw;
}

int64_t ItemOf(OpsEnv& env, int64_t set_id, const std::string& type) {
  return env.Count("SELECT id FROM backup_items WHERE backup_set_id = $1 AND policy_type = $2",
                   {set_id, type});
}

// The object named `name` in tenant B's `collection`, as many as there are.
std::vector<json> NamedInB(OpsEnv& env, const std::string& collection, const std::string& name) {
  std::vector<json> out;
  auto all = graph::ListAll(**env.access->Reader(env.tenant_b), "deviceManagement/" + collection);
  EXPECT_TRUE(all.has_value());
  for (const auto& p : all ? *all : std::vector<json>{})
    if (p.value("displayName", "") == name) out.push_back(p);
  return out;
}

// A helper process runs the queued restore and dies by SIGKILL at `event`.
void CrashAt(OpsEnv& env, const std::string& event) {
  const std::string cmd = std::string(TA_TEST_HELPER) + " restore-crash '" + env.t->url() + "' " +
                          env.sim.base_url() + " " + kMasterKey + " " + event;
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL))
      << "the helper should have died by SIGKILL at " << event << ", status " << status;
}

// This process takes the job over once the dead worker's lease lapses and
// runs it to its end, which must be success.
void ResumeUntilDone(OpsEnv& env, int64_t run_id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env.Run(env.tenant_b, run_id).status == RunStatus::kRunning &&
         std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(env.pool->RunOnce().has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the 1 s lease lapses
  }
  EXPECT_EQ(env.Run(env.tenant_b, run_id).status, RunStatus::kSucceeded) << env.JobErrors(run_id);
}

// A worker restoring the administrative template into tenant B is killed
// with SIGKILL at `event`; the lease lapses and this process resumes the job.
// Returns what the target holds afterwards.
struct AfterKill {
  size_t objects = 0, values_at_kill = 0, values = 0;
  std::string status;
  int64_t attempts = 0;
};
AfterKill KillAndResume(OpsEnv& env, const std::string& event) {
  AfterKill out;
  FaultWorld fw = BackUpAndSyncBoth(env);
  const int64_t item = ItemOf(env, fw.set_id, "groupPolicyConfiguration");
  RestoreRequest req{env.operator_both,          env.tenant_a, env.tenant_b, fw.set_id,
                     std::vector<int64_t>{item}, fw.mapping};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  EXPECT_TRUE(run.has_value());
  if (!run) return out;
  CrashAt(env, event);
  auto values = [&] {
    auto objects = NamedInB(env, "groupPolicyConfigurations", "Office ADMX");
    if (objects.size() != 1) return size_t{0};
    return graph::ListAll(**env.access->Reader(env.tenant_b),
                          "deviceManagement/groupPolicyConfigurations/" +
                              objects[0]["id"].get<std::string>() + "/definitionValues")
        ->size();
  };
  EXPECT_EQ(NamedInB(env, "groupPolicyConfigurations", "Office ADMX").size(), 1u)
      << "the create happened before the kill";
  out.values_at_kill = values();
  ResumeUntilDone(env, run->run.id);
  auto items = env.Items(env.tenant_b, run->run.id);
  EXPECT_EQ(items.size(), 1u);
  out.status = items.empty() ? "" : items[0].status;
  out.objects = NamedInB(env, "groupPolicyConfigurations", "Office ADMX").size();
  out.values = values();
  out.attempts = env.Count("SELECT attempts FROM jobs WHERE run_id = $1", {run->run.id});
  std::printf(
      "[fidelity] SIGKILL %s: definition values at the kill %zu; after the resume: "
      "objects in target %zu, definition values %zu of 2, item %s, attempts %lld\n",
      event.c_str(), out.values_at_kill, out.objects, out.values, out.status.c_str(),
      static_cast<long long>(out.attempts));
  return out;
}

// Killed after the create, before its definition values are written: the
// resumed job finds the half-restored object (by the id its step row
// recorded), writes the missing values and reads it back complete.
TEST_P(FidelityFaultTest, SigkillBetweenCreateAndFirstSubWriteResumesToOneCompleteObject) {
  TA_OPS_ENV(env);
  const AfterKill k = KillAndResume(env, "after_create");
  EXPECT_EQ(k.values_at_kill, 0u) << "killed before the first sub-resource write";
  EXPECT_EQ(k.objects, 1u) << "no duplicate";
  EXPECT_EQ(k.values, 2u) << "complete after the resume";
  EXPECT_EQ(k.status, "created");
  EXPECT_EQ(k.attempts, 2);
}

// Killed right after the definition values were written, before that was
// recorded: the resumed job reads them, finds them done and does not add
// them again (a second updateDefinitionValues with the same "added" would).
TEST_P(FidelityFaultTest, SigkillAfterASubWriteDoesNotRepeatIt) {
  TA_OPS_ENV(env);
  const AfterKill k = KillAndResume(env, "after_sub_write");
  EXPECT_EQ(k.values_at_kill, 2u) << "killed after the sub-resource write";
  EXPECT_EQ(k.objects, 1u);
  EXPECT_EQ(k.values, 2u) << "not written twice";
  EXPECT_EQ(k.status, "created");
  EXPECT_EQ(k.attempts, 2);
}

// A sub-resource write whose answer times out (Graph carried it out): the
// sub-resource is read again and found done, so it is not sent twice (a
// second updateDefinitionValues would add every value again).
TEST_P(FidelityFaultTest, SubResourceWriteWhoseAnswerTimesOutIsReadBackNotRepeated) {
  TA_OPS_ENV(env, sim::SimConfig{}, jobs::QueueOptions{},
             [](OpsStackOptions& o) { o.graph.timeout = std::chrono::milliseconds(1000); });
  FaultWorld fw = BackUpAndSyncBoth(env);
  const int64_t item = ItemOf(env, fw.set_id, "groupPolicyConfiguration");
  env.sim.Configure(
      {{"hold_next_writes", 1}, {"hold_ms", 3000}, {"hold_path", "updateDefinitionValues"}});
  env.sim.ClearRequests();
  RestoreRequest req{env.operator_both,          env.tenant_a, env.tenant_b, fw.set_id,
                     std::vector<int64_t>{item}, fw.mapping};
  auto items = RunRestore(env, req, true).items;
  env.sim.Configure({{"release", true}});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].status, "created") << items[0].error_message.value_or("");
  auto objects = NamedInB(env, "groupPolicyConfigurations", "Office ADMX");
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(graph::ListAll(**env.access->Reader(env.tenant_b),
                           "deviceManagement/groupPolicyConfigurations/" +
                               objects[0]["id"].get<std::string>() + "/definitionValues")
                ->size(),
            2u);
  // The held write is logged once the simulator has answered it.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (env.sim.Waiting() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(env.sim.Waiting(), 0);
  int sends = 0;
  for (const auto& r : env.sim.Requests())
    sends += r["path"].get<std::string>().find("updateDefinitionValues") != std::string::npos;
  EXPECT_EQ(sends, 1) << "sent once; the timeout was followed by a read, not a resend";
}

// Graph accepts a write and does not apply it: the read-back says so, and
// the item is failed with restore_mismatch naming the field, never "updated".
TEST_P(FidelityFaultTest, AWriteGraphIgnoresIsAMismatchNotAnUpdate) {
  TA_OPS_ENV(env);
  FaultWorld fw = BackUpAndSyncBoth(env);
  const int64_t item = ItemOf(env, fw.set_id, "compliancePolicy");
  const std::string path =
      "deviceManagement/deviceCompliancePolicies/" + fw.world.ids.at("compliancePolicy");
  ASSERT_TRUE((*env.access->Writer(env.tenant_a))
                  ->Post(path + "/scheduleActionsForRules",
                         {{"deviceComplianceScheduledActionForRules",
                           {{{"ruleName", "PasswordRequired"},
                             {"scheduledActionConfigurations",
                              {{{"actionType", "block"}, {"gracePeriodHours", 72}}}}}}}}));
  env.sim.Configure({{"ignore_next_writes", 1}, {"ignore_path", "scheduleActionsForRules"}});
  RestoreRequest req{
      env.operator_both, env.tenant_a, env.tenant_a, fw.set_id, std::vector<int64_t>{item}, {}};
  const Restored done = RunRestore(env, req, true);
  ExpectOneFailed(done.items, "restore_mismatch", "scheduledActionsForRule");
  EXPECT_EQ(env.Run(env.tenant_a, done.run).status, RunStatus::kFailed);
  // Run again without the fault: now it is restored, and says so.
  EXPECT_EQ(RunRestore(env, req, true).items.at(0).status, "updated");
}

// A reference with no mapping blocks the item: nothing is written to the
// target, and the error names the reference and what to do.
TEST_P(FidelityFaultTest, AnUnmappedScopeTagBlocksTheItemAndIsNamed) {
  TA_OPS_ENV(env);
  FaultWorld fw = BackUpAndSyncBoth(env);
  fw.mapping.erase("a-tag-eu");
  const int64_t item = ItemOf(env, fw.set_id, "deviceManagementScript");
  env.sim.ClearRequests();
  RestoreRequest req{env.operator_both,          env.tenant_a, env.tenant_b, fw.set_id,
                     std::vector<int64_t>{item}, fw.mapping};
  const auto preview = RunRestore(env, req, false).items;
  ASSERT_EQ(preview.size(), 1u);
  EXPECT_EQ(preview[0].error_code.value_or(""), "unmapped_reference");
  const auto items = RunRestore(env, req, true).items;
  ExpectOneFailed(items, "unmapped_reference", "scopeTag 'a-tag-eu' (at roleScopeTagIds[0])");
  EXPECT_NE(items[0].error_message.value_or("").find("mapping"), std::string::npos);
  int writes = 0;
  for (const auto& r : env.sim.Requests()) writes += r["write"].get<bool>() ? 1 : 0;
  EXPECT_EQ(writes, 0) << env.sim.Requests().dump();
}

// A source-tenant id where no declared reference is (a group's id inside a
// setting's value): it cannot be mapped, so the item is blocked, named, and
// nothing is written to the target.
TEST_P(FidelityFaultTest, ASourceIdOutsideADeclaredReferenceBlocksTheItem) {
  TA_OPS_ENV(env);
  const std::string group = "3f1c9a2e-5b7d-4e8a-9c1f-2a6b8d0e4f17";
  env.sim.Seed("ms-a", "groups", {{{"id", group}, {"displayName", "Kiosk devices"}}});
  env.sim.Seed(
      "ms-a", "configurationPolicies",
      {{{"name", "Kiosk"},
        {"platforms", "windows10"},
        {"technologies", "mdm"},
        {"settings",
         {{{"settingInstance",
            {{"@odata.type", "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"},
             {"settingDefinitionId", "kiosk_allowed_group"},
             {"simpleSettingValue", {{"value", group}}}}}}}}}});
  const int64_t set_id = env.SyncAndBackUpA();
  env.sim.ClearRequests();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  const auto items = RunRestore(env, req, true).items;
  ExpectOneFailed(items, "source_id_in_payload", group);
  EXPECT_NE(items[0].error_message.value_or("").find("simpleSettingValue"), std::string::npos)
      << items[0].error_message.value_or("");
  for (const auto& r : env.sim.Requests())
    EXPECT_FALSE(r["write"].get<bool>()) << "nothing is written: " << r.dump();
  // Into the same tenant the id is its own: restored as it is.
  RestoreRequest same{env.operator_both, env.tenant_a, env.tenant_a, set_id, std::nullopt, {}};
  EXPECT_EQ(RunRestore(env, same, true).items.at(0).status, "unchanged");
}

// Into a tenant that has none of the referenced objects: the run restores the
// scope tags, the filter and the notification template first and maps every
// later reference to what it just created; nothing is unmapped, every object
// reads back equal to the backup under that mapping, and no source id is sent.
TEST_P(FidelityFaultTest, ReferencedObjectsAreRestoredFirstAndMappedInTheSameRun) {
  TA_OPS_ENV(env);
  World world = Seed(env.sim);
  for (const auto& [coll, id] :
       std::vector<std::pair<std::string, std::string>>{{"roleScopeTags", "b-tag-eu"},
                                                        {"roleScopeTags", "b-tag-am"},
                                                        {"assignmentFilters", "b-flt"},
                                                        {"notificationMessageTemplates", "b-tmpl"},
                                                        {"namedLocations", "b-loc"},
                                                        {"mobileApps", "b-app-portal"}})
    ASSERT_TRUE(env.sim.Remove("ms-b", coll, id));
  const int64_t set_id = env.SyncAndBackUpA();
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  // Only what B already has: its directory (groups, users, applications, roles).
  std::map<std::string, std::string> mapping;
  auto rows = SuggestMapping(env.db(), env.tenant_a, env.tenant_b, set_id);
  ASSERT_TRUE(rows.has_value());
  for (const auto& r : *rows) {
    const bool directory = r["kind"] == "group" || r["kind"] == "user" ||
                           r["kind"] == "application" || r["kind"] == "directoryRole";
    EXPECT_EQ(r["suggested"].get<bool>(), directory) << r.dump();
    // The others are items of the set: restored first by the run.
    EXPECT_EQ(r["in_backup"].get<bool>(), !directory) << r.dump();
    if (r["suggested"].get<bool>()) mapping[r["source_id"]] = r["target_id"];
  }
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, mapping};

  const auto preview = RunRestore(env, req, false).items;
  for (const auto& i : preview)
    EXPECT_FALSE(i.error_code.has_value()) << i.item_ref << ": " << i.error_message.value_or("");
  env.sim.ClearRequests();
  const Restored done = RunRestore(env, req, true);
  EXPECT_EQ(env.Run(env.tenant_b, done.run).status, RunStatus::kSucceeded);
  // What the run created for each referenced object, from its own items.
  std::map<std::string, std::string> created = mapping;
  std::map<int64_t, std::pair<std::string, std::string>> source;  // item id -> type, graph id
  (void)env.db().Read([&](store::Tx& tx) -> Status {
    auto r = tx.Query("SELECT id, policy_type, graph_id FROM backup_items WHERE backup_set_id = $1",
                      {set_id});
    if (r)
      for (const auto& row : *r) source[row.Int(0)] = {row.Text(1), row.Text(2)};
    return Status::Ok();
  });
  for (const auto& i : done.items) {
    EXPECT_EQ(i.status, "created") << i.item_ref << ": " << i.error_message.value_or("");
    const auto& [type, id] = source.at(std::stoll(i.item_ref.substr(5)));
    if (catalog::FindPolicyType(type)->referenced_as) created[id] = i.graph_id.value_or("");
  }
  for (const auto& i : done.items) {
    const auto& [type, id] = source.at(std::stoll(i.item_ref.substr(5)));
    Fidelity f{env, *catalog::FindPolicyType(type)};
    f.item_id = std::stoll(i.item_ref.substr(5));
    const json backup = f.Backup();
    const auto mapped = Expected(f.type, backup, created);
    EXPECT_TRUE(mapped.unmapped.empty()) << type;
    const auto diff =
        f.LiveDiff(env.tenant_b, i.graph_id.value_or(""),
                   {{"payload", mapped.payload}, {"assignments", mapped.assignments}});
    EXPECT_TRUE(diff.empty()) << type << " differs: " << Paths(diff);
  }
  // Scope tags were written before anything that carries them, and no write
  // to B carried a source id.
  int64_t first_tag = -1, first_policy = -1, leaks = 0;
  for (const auto& r : env.sim.Requests()) {
    if (!r["write"].get<bool>() || r["tenant"] != "ms-b") continue;
    const std::string path = r["path"];
    if (path.find("/roleScopeTags") != std::string::npos && first_tag < 0) first_tag = r["seq"];
    if (path.find("/deviceConfigurations") != std::string::npos && first_policy < 0)
      first_policy = r["seq"];
    for (const auto& id : world.source_ids)
      leaks += r["body"].get<std::string>().find(id) != std::string::npos;
  }
  EXPECT_GE(first_tag, 0);
  EXPECT_LT(first_tag, first_policy);
  EXPECT_EQ(leaks, 0);
  // The source tenant's audit log records that its backup went elsewhere, once.
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = "
                      "'restore.into_other_tenant' AND run_id = $2",
                      {env.tenant_a, done.run}),
            1);
  // A double click: the second start reuses the queued run and records nothing more.
  auto first = StartRestore(*env.runs, env.db(), req, true);
  auto second = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = "
                      "'restore.into_other_tenant' AND run_id = $2",
                      {env.tenant_a, first->run.id}),
            1);
  env.Drain();
  auto chain = store::AuditLog::Verify(env.db());
  ASSERT_TRUE(chain.has_value());
  EXPECT_TRUE(chain->empty()) << "every tenant's chain stays intact";
  std::printf(
      "[fidelity] into a tenant without the referenced objects: %zu items, all created "
      "(scope tags, filter, template first), %d source ids sent\n",
      done.items.size(), static_cast<int>(leaks));
}

// A built-in object (here a built-in role) exists in every tenant and Graph
// refuses changes to it: the restore says so and writes nothing.
TEST_P(FidelityFaultTest, ABuiltInObjectIsSkippedWithItsReason) {
  TA_OPS_ENV(env);
  for (const char* tenant : {"ms-a", "ms-b"})
    env.sim.Seed(tenant, "roleDefinitions",
                 {{{"id", "role-help-desk"},
                   {"displayName", "Help Desk Operator"},
                   {"isBuiltIn", true},
                   {"rolePermissions", json::array()}}});
  const int64_t set_id = env.SyncAndBackUpA();
  env.sim.ClearRequests();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  const auto preview = RunRestore(env, req, false).items;
  ASSERT_EQ(preview.size(), 1u);
  EXPECT_EQ(preview[0].status, "unsupported");
  EXPECT_EQ(preview[0].error_code.value_or(""), "built_in");
  const auto done = RunRestore(env, req, true).items;
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status, "skipped");
  EXPECT_NE(done[0].error_message.value_or("").find("built in"), std::string::npos);
  for (const auto& r : env.sim.Requests()) EXPECT_FALSE(r["write"].get<bool>()) << r.dump();
}

// Conditional access into another tenant: created in report-only state by
// default, "as backed up" only when asked; the preview warns when the policy
// excludes no break-glass account; an unmapped user blocks it.
TEST_P(FidelityFaultTest,
       ConditionalAccessIsCreatedReportOnlyUnlessAskedAndWarnsWithoutBreakGlass) {
  TA_OPS_ENV(env);
  FaultWorld fw = BackUpAndSyncBoth(env);
  const int64_t item = ItemOf(env, fw.set_id, "conditionalAccessPolicy");
  RestoreRequest req{env.operator_both,          env.tenant_a, env.tenant_b, fw.set_id,
                     std::vector<int64_t>{item}, fw.mapping};
  // The named location is not in this selection: B's own is mapped by name.
  ASSERT_EQ(fw.mapping.at("a-loc"), "b-loc");
  auto warnings = [](const store::RunItem& i) {
    return json::parse(i.details.value_or("{}")).value("warnings", json::array()).dump();
  };
  const auto preview = RunRestore(env, req, false).items;
  ASSERT_EQ(preview.size(), 1u);
  EXPECT_EQ(preview[0].status, "would_create");
  EXPECT_NE(warnings(preview[0]).find("report-only"), std::string::npos) << warnings(preview[0]);
  EXPECT_EQ(warnings(preview[0]).find("break-glass"), std::string::npos)
      << "the backup excludes a user and a group";
  auto state_in_b = [&](const std::string& id) {
    auto live =
        (**env.access->Reader(env.tenant_b)).Get("identity/conditionalAccess/policies/" + id);
    return live ? (*live)["state"].get<std::string>() : std::string("(unreadable)");
  };
  const auto done = RunRestore(env, req, true).items;
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status, "created") << done[0].error_message.value_or("");
  EXPECT_EQ(state_in_b(done[0].graph_id.value_or("")), "enabledForReportingButNotEnforced");
  // Restored again (it exists now): its live state is kept, nothing differs.
  EXPECT_EQ(RunRestore(env, req, true).items.at(0).status, "unchanged");

  // "As backed up": the state is the backup's.
  ASSERT_TRUE((*env.access->Writer(env.tenant_b))
                  ->Delete("identity/conditionalAccess/policies/" + done[0].graph_id.value_or(""))
                  .has_value());
  RestoreRequest as_is = req;
  as_is.conditional_access_state = "as_backed_up";
  const auto enforced = RunRestore(env, as_is, true).items;
  ASSERT_EQ(enforced.size(), 1u);
  EXPECT_EQ(enforced[0].status, "created") << enforced[0].error_message.value_or("");
  EXPECT_EQ(state_in_b(enforced[0].graph_id.value_or("")), "enabled");
  EXPECT_EQ(warnings(enforced[0]).find("report-only"), std::string::npos);

  // Without the break-glass user's mapping the item is blocked, named, unwritten.
  RestoreRequest unmapped = req;
  unmapped.group_mapping.erase("a-user-bg");
  env.sim.ClearRequests();
  const auto blocked = RunRestore(env, unmapped, true).items;
  ExpectOneFailed(blocked, "unmapped_reference", "user 'a-user-bg'");
  for (const auto& r : env.sim.Requests()) EXPECT_FALSE(r["write"].get<bool>()) << r.dump();
}

// A policy that excludes nobody: the preview says so before anything is written.
TEST_P(FidelityFaultTest, APolicyThatExcludesNobodyIsFlaggedInThePreview) {
  TA_OPS_ENV(env);
  env.sim.Seed("ms-a", "policies",
               {{{"displayName", "Block legacy auth"},
                 {"state", "enabled"},
                 {"conditions",
                  {{"users", {{"includeUsers", {"All"}}, {"excludeUsers", json::array()}}},
                   {"applications", {{"includeApplications", {"All"}}}},
                   {"clientAppTypes", {"exchangeActiveSync", "other"}}}},
                 {"grantControls", {{"operator", "OR"}, {"builtInControls", {"block"}}}}}});
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  const auto preview = RunRestore(env, req, false).items;
  ASSERT_EQ(preview.size(), 1u);
  const std::string w =
      json::parse(preview[0].details.value_or("{}")).value("warnings", json::array()).dump();
  EXPECT_NE(w.find("break-glass"), std::string::npos) << w;
  EXPECT_NE(w.find("excludeUsers"), std::string::npos) << "names where to add one: " << w;
}

// A Win32 app is restored as metadata and assignments; the preview and the
// item say its content must be uploaded again. A web app needs nothing more.
TEST_P(FidelityFaultTest, AWin32AppIsRestoredAsMetadataAndSaysToUploadItsContent) {
  TA_OPS_ENV(env);
  for (const char* t : {"ms-a", "ms-b"})
    env.sim.Seed(t, "groups", {{{"id", std::string(t) + "-grp"}, {"displayName", "Finance"}}});
  env.sim.Seed("ms-a", "mobileApps",
               {{{"@odata.type", "#microsoft.graph.win32LobApp"},
                 {"displayName", "Contoso VPN"},
                 {"publisher", "Contoso"},
                 {"fileName", "vpn.intunewin"},
                 {"installCommandLine", "setup.exe /quiet"},
                 {"uninstallCommandLine", "setup.exe /uninstall"},
                 {"committedContentVersion", "1"},
                 {"size", 1048576},
                 {"assignments",
                  {{{"intent", "required"},
                    {"target",
                     {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"},
                      {"groupId", "ms-a-grp"}}}}}}},
                {{"@odata.type", "#microsoft.graph.webApp"},
                 {"displayName", "Contoso intranet"},
                 {"appUrl", "https://intranet.contoso.example"}}});
  const int64_t set_id = env.SyncAndBackUpA();
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  RestoreRequest req{env.operator_both,         env.tenant_a, env.tenant_b, set_id, std::nullopt,
                     {{"ms-a-grp", "ms-b-grp"}}};
  std::map<std::string, std::string> warned;  // name -> warnings
  for (bool execute : {false, true}) {
    for (const auto& i : RunRestore(env, req, execute).items) {
      const json d = json::parse(i.details.value_or("{}"));
      warned[d.value("name", "")] = d.value("warnings", json::array()).dump();
      EXPECT_EQ(i.status, execute ? "created" : "would_create") << i.error_message.value_or("");
    }
    EXPECT_NE(warned["Contoso VPN"].find("upload its content"), std::string::npos);
    EXPECT_EQ(warned["Contoso intranet"], "[]");
  }
  auto apps = graph::ListAll(**env.access->Reader(env.tenant_b), "deviceAppManagement/mobileApps");
  ASSERT_TRUE(apps.has_value());
  ASSERT_EQ(apps->size(), 2u);
  for (const auto& a : *apps) {
    if (a["displayName"] != "Contoso VPN") continue;
    EXPECT_EQ(a["installCommandLine"], "setup.exe /quiet");
    EXPECT_EQ(a["publishingState"], "notPublished") << "no content yet";
    EXPECT_FALSE(a.contains("committedContentVersion"));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, FidelityFaultTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

// Kill-and-resume for every type: a worker restoring one object into
// tenant B dies by SIGKILL right after Graph created it (before that was
// recorded, before any sub-resource or assignment write). The resumed job
// finds that object by the id its step row recorded, finishes it and reads it
// back equal: one object, never two.
class FidelityKillTest : public FidelityTest {};

TEST_P(FidelityKillTest, SigkillRightAfterTheCreateResumesToOneCompleteObject) {
  auto db = ::ta::testing::TestDatabase::Create(std::get<0>(GetParam()));
  if (!db) return;
  OpsEnv env(std::move(db));  // the helper claims the job with a 1 s lease
  const catalog::PolicyType& type = *catalog::FindPolicyType(std::get<1>(GetParam()));
  World world = Seed(env.sim);
  // Tenant B has its own copies of what others refer to; remove this type's,
  // so that restoring it creates one.
  static const std::map<std::string_view, std::pair<std::string, std::string>> kInB = {
      {"scopeTag", {"roleScopeTags", "b-tag-eu"}},
      {"assignmentFilter", {"assignmentFilters", "b-flt"}},
      {"notificationMessageTemplate", {"notificationMessageTemplates", "b-tmpl"}},
      {"namedLocation", {"namedLocations", "b-loc"}},
      {"mobileApp", {"mobileApps", "b-app-portal"}}};
  if (auto it = kInB.find(type.name); it != kInB.end()) {
    ASSERT_TRUE(env.sim.Remove("ms-b", it->second.first, it->second.second));
  }
  FaultWorld fw;
  fw.set_id = env.SyncAndBackUpA();
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  auto rows = SuggestMapping(env.db(), env.tenant_a, env.tenant_b, fw.set_id);
  ASSERT_TRUE(rows.has_value());
  for (const auto& r : *rows)
    if (r["suggested"].get<bool>()) fw.mapping[r["source_id"]] = r["target_id"];
  Fidelity f{env, type};
  f.set_id = fw.set_id;
  f.item_id = env.Count(
      "SELECT id FROM backup_items WHERE backup_set_id = $1 AND policy_type = $2 AND graph_id = $3",
      {f.set_id, std::string(type.name), world.ids.at(std::string(type.name))});
  ASSERT_GT(f.item_id, 0);
  const json backup = f.Backup();
  const std::string name = backup["payload"].value(std::string(type.display_name_field), "");
  auto named_in_b = [&] {
    auto all = graph::ListAll(**env.access->Reader(env.tenant_b), std::string(type.collection));
    EXPECT_TRUE(all.has_value());
    std::vector<std::string> ids;
    for (const auto& o : all ? *all : std::vector<json>{})
      if (o.value(std::string(type.display_name_field), "") == name) ids.push_back(o["id"]);
    return ids;
  };
  ASSERT_TRUE(named_in_b().empty());

  RestoreRequest req{
      env.operator_both, env.tenant_a, env.tenant_b, f.set_id, std::vector<int64_t>{f.item_id},
      fw.mapping};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  CrashAt(env, "after_create");
  EXPECT_EQ(named_in_b().size(), 1u) << "the create happened before the kill";
  ResumeUntilDone(env, run->run.id);
  const auto items = env.Items(env.tenant_b, run->run.id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].status, "created") << items[0].error_message.value_or("");
  const auto ids = named_in_b();
  ASSERT_EQ(ids.size(), 1u) << "no duplicate";
  EXPECT_EQ(items[0].graph_id.value_or(""), ids[0]);
  const auto mapped = Expected(type, backup, fw.mapping);
  const auto diff = f.LiveDiff(env.tenant_b, ids[0],
                               {{"payload", mapped.payload}, {"assignments", mapped.assignments}});
  EXPECT_TRUE(diff.empty()) << "differs after the resume: " << Paths(diff);
  const int64_t attempts = env.Count("SELECT attempts FROM jobs WHERE run_id = $1", {run->run.id});
  EXPECT_EQ(attempts, 2);
  std::printf(
      "[fidelity] SIGKILL after create %-28s objects in target %zu, item %s, %s, attempts %lld\n",
      std::string(type.name).c_str(), ids.size(), items[0].status.c_str(),
      diff.empty() ? "equal to the backup" : "DIFFERS", static_cast<long long>(attempts));
}

std::vector<std::tuple<TestBackend, std::string>> AllTypes() {
  std::vector<std::tuple<TestBackend, std::string>> out;
  for (auto backend : {TestBackend::kSqlite, TestBackend::kPostgres})
    for (const auto& t : catalog::Catalog()) out.emplace_back(backend, std::string(t.name));
  return out;
}

std::string TypeTestName(
    const ::testing::TestParamInfo<std::tuple<TestBackend, std::string>>& info) {
  return ::ta::testing::BackendName(
             ::testing::TestParamInfo<TestBackend>(std::get<0>(info.param), info.index)) +
         "_" + std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(Types, FidelityTest, ::testing::ValuesIn(AllTypes()), TypeTestName);
INSTANTIATE_TEST_SUITE_P(Types, FidelityKillTest, ::testing::ValuesIn(AllTypes()), TypeTestName);

}  // namespace
}  // namespace ta::ops
