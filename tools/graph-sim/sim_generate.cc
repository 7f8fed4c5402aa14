// graph-sim: synthetic objects of every collection, realistic enough for the
// product's parsers and writers (sub-resources, base64 scripts, paged
// settings, encrypted values, templates, app identifiers), for benchmarks and
// the demo. They refer to nothing tenant-specific, so each restores into any
// tenant.
#include <map>

#include "sim_impl.h"

namespace ta::sim {

namespace {

const char* kScript = "V3JpdGUtSG9zdCAiaGVsbG8i";  // Write-Host "hello"

json IosApp(const std::string& bundle) {
  return {{"mobileAppIdentifier",
           {{"@odata.type", "#microsoft.graph.iosMobileAppIdentifier"}, {"bundleId", bundle}}}};
}

// One synthetic object of `coll` (the i-th), without its name.
json Synthetic(const std::string& coll, int i) {
  const std::string n = std::to_string(i);
  if (coll == "deviceConfigurations") {
    json p = {{"passwordRequired", i % 2 == 0},
              {"passwordMinimumLength", 8 + i % 8},
              {"defenderRequireRealTimeMonitoring", true}};
    if (i % 5 == 0) {  // a custom profile with an encrypted value
      p["@odata.type"] = "#microsoft.graph.windows10CustomConfiguration";
      p["omaSettings"] = {{{"@odata.type", "#microsoft.graph.omaSettingString"},
                           {"displayName", "Key " + n},
                           {"omaUri", "./Vendor/MSFT/Policy/Config/Key" + n},
                           {"value", "synthetic-secret-" + n}}};
    }
    return p;
  }
  if (coll == "deviceCompliancePolicies")
    return {{"osMinimumVersion", "10.0.19045"},
            {"scheduledActionsForRule",
             {{{"ruleName", "PasswordRequired"},
               {"scheduledActionConfigurations",
                {{{"actionType", "block"}, {"gracePeriodHours", 0}}}}}}}};
  if (coll == "configurationPolicies") {
    json settings = json::array();
    for (int s = 0; s < 3 + i % 40; ++s)  // some exceed the default page of 25
      settings.push_back(
          {{"id", std::to_string(s)},
           {"settingInstance",
            {{"@odata.type", "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"},
             {"settingDefinitionId",
              "device_vendor_msft_policy_config_setting_" + std::to_string(s)},
             {"choiceSettingValue",
              {{"value",
                "device_vendor_msft_policy_config_setting_" + std::to_string(s) + "_1"}}}}}});
    return {{"platforms", "windows10"}, {"technologies", "mdm"}, {"settings", settings}};
  }
  if (coll == "groupPolicyConfigurations")
    return {
        {"definitionValues",
         {{{"id", "dv-" + n},
           {"enabled", true},
           {"definition", {{"id", "def-" + std::to_string(i % 7)}, {"displayName", "Telemetry"}}},
           {"presentationValues",
            {{{"@odata.type", "#microsoft.graph.groupPolicyPresentationValueText"},
              {"value", "3"}}}}}}}};
  if (coll == "deviceManagementScripts")
    return {{"fileName", "script" + n + ".ps1"},
            {"scriptContent", kScript},
            {"runAsAccount", "system"}};
  if (coll == "windowsAutopilotDeploymentProfiles")
    return {
        {"deviceNameTemplate", "MSP-%SERIAL%"},
        {"outOfBoxExperienceSettings", {{"hidePrivacySettings", true}, {"userType", "standard"}}}};
  if (coll == "deviceEnrollmentConfigurations") return {{"limit", 5 + i % 10}, {"priority", i + 1}};
  if (coll == "assignmentFilters")
    return {{"platform", "windows10AndLater"}, {"rule", "(device.manufacturer -eq \"Contoso\")"}};
  if (coll == "notificationMessageTemplates")
    return {{"defaultLocale", "en-us"},
            {"brandingOptions", "includeCompanyLogo"},
            {"localizedNotificationMessages",
             {{{"locale", "en-us"},
               {"subject", "Not compliant " + n},
               {"messageTemplate", "Update it."},
               {"isDefault", true}}}}};
  if (coll == "deviceHealthScripts")
    return {{"publisher", "MSP"},
            {"detectionScriptContent", kScript},
            {"remediationScriptContent", kScript},
            {"runAsAccount", "system"}};
  if (coll == "deviceComplianceScripts")
    return {{"publisher", "MSP"}, {"detectionScriptContent", kScript}, {"runAsAccount", "system"}};
  if (coll == "deviceShellScripts" || coll == "deviceCustomAttributeShellScripts") {
    json p = {{"fileName", "script" + n + ".sh"},
              {"scriptContent", "IyBtYWM="},
              {"runAsAccount", "user"}};
    if (coll == "deviceCustomAttributeShellScripts") {
      p["customAttributeName"] = "attr" + n;
      p["customAttributeType"] = "string";
    }
    return p;
  }
  if (coll == "windowsFeatureUpdateProfiles")
    return {{"featureUpdateVersion", "Windows 11, version 23H2"},
            {"rolloutSettings", {{"offerIntervalInDays", 7}}}};
  if (coll == "windowsQualityUpdateProfiles")
    return {{"expeditedUpdateSettings",
             {{"qualityUpdateRelease", "2026-05-13T00:00:00Z"}, {"daysUntilForcedReboot", 1}}}};
  if (coll == "windowsDriverUpdateProfiles")
    return {{"approvalType", "manual"}, {"deploymentDeferralInDays", i % 30}};
  if (coll == "iosManagedAppProtections" || coll == "targetedManagedAppConfigurations")
    return {{"pinRequired", true},
            {"appGroupType", "selectedPublicApps"},
            {"apps", {IosApp("com.microsoft.office.outlook")}}};
  if (coll == "androidManagedAppProtections")
    return {{"pinRequired", true},
            {"minimumPinLength", 4 + i % 4},
            {"appGroupType", "selectedPublicApps"},
            {"apps",
             {{{"mobileAppIdentifier",
                {{"@odata.type", "#microsoft.graph.androidMobileAppIdentifier"},
                 {"packageId", "com.microsoft.office.outlook"}}}}}}};
  if (coll == "windowsManagedAppProtections")
    return {{"printBlocked", true},
            {"appGroupType", "selectedPublicApps"},
            {"apps",
             {{{"mobileAppIdentifier",
                {{"@odata.type", "#microsoft.graph.windowsAppIdentifier"},
                 {"windowsAppId", "com.microsoft.edge"}}}}}}};
  if (coll == "reusablePolicySettings")
    return {
        {"settingInstance",
         {{"@odata.type", "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"},
          {"settingDefinitionId", "vendor_msft_firewall_port"},
          {"simpleSettingValue", {{"value", std::to_string(1000 + i)}}}}}};
  if (coll == "androidDeviceOwnerEnrollmentProfiles")
    return {{"enrollmentMode", "corporateOwnedDedicatedDevice"},
            {"enrollmentTokenType", "default"}};
  if (coll == "roleDefinitions")
    return {{"isBuiltIn", false},
            {"rolePermissions",
             {{{"resourceActions",
                {{{"allowedResourceActions", {"Microsoft.Intune_Organization_Read"}},
                  {"notAllowedResourceActions", json::array()}}}}}}}};
  if (coll == "termsAndConditions")
    return {{"title", "Acceptable use " + n},
            {"bodyText", "Use devices for work."},
            {"acceptanceStatement", "I accept"}};
  if (coll == "namedLocations")
    return {{"@odata.type", "#microsoft.graph.ipNamedLocation"},
            {"isTrusted", i % 2 == 0},
            {"ipRanges",
             {{{"@odata.type", "#microsoft.graph.iPv4CidrRange"},
               {"cidrAddress", "10." + std::to_string(i % 250) + ".0.0/16"}}}}};
  if (coll == "policies")
    return {{"state", i % 3 == 0 ? "disabled" : "enabled"},
            {"conditions",
             {{"clientAppTypes", {"all"}},
              {"users", {{"includeUsers", {"All"}}, {"excludeUsers", json::array()}}},
              {"applications", {{"includeApplications", {"Office365"}}}}}},
            {"grantControls", {{"operator", "OR"}, {"builtInControls", {"mfa"}}}}};
  if (coll == "mobileApps")
    return i % 2 == 0 ? json{{"@odata.type", "#microsoft.graph.webApp"},
                             {"publisher", "Contoso"},
                             {"appUrl", "https://app" + n + ".contoso.example"}}
                      : json{{"@odata.type", "#microsoft.graph.iosStoreApp"},
                             {"publisher", "Microsoft"},
                             {"bundleId", "com.microsoft.app" + n},
                             {"appStoreUrl", "https://apps.apple.com/app/id" + n}};
  if (coll == "mobileAppConfigurations")
    return {{"@odata.type", "#microsoft.graph.iosMobileAppConfiguration"},
            {"targetedMobileApps", json::array()},
            {"settings",
             {{{"appConfigKey", "com.contoso.key" + n},
               {"appConfigKeyType", "stringType"},
               {"appConfigKeyValue", n}}}}};
  if (coll == "intents")
    return {{"templateId", "804339ad-1553-4478-a742-138fb5807418"},
            {"settings",
             {{{"@odata.type", "#microsoft.graph.deviceManagementBooleanSettingInstance"},
               {"definitionId", "deviceConfiguration--defenderRealTimeMonitoring"},
               {"valueJson", i % 2 == 0 ? "true" : "false"}}}}};
  if (coll == "policySets") return {{"items", json::array()}};
  if (coll == "provisioningPolicies")
    return {{"provisioningType", "dedicated"},
            {"imageType", "gallery"},
            {"imageId", "MicrosoftWindowsDesktop_windows-ent-cpc_win11-23h2-ent-cpc-m365"},
            {"windowsSetting", {{"locale", "en-US"}}}};
  if (coll == "userSettings")
    return {{"localAdminEnabled", false}, {"restorePointSetting", {{"frequencyInHours", 12}}}};
  if (coll == "appleUserInitiatedEnrollmentProfiles")
    return {{"platform", "iOS"}, {"defaultEnrollmentType", "accountDrivenUserEnrollment"}};
  return json::object();  // deviceCategories, roleScopeTags: a name and a description
}

}  // namespace

void GraphSim::GeneratePolicies(const std::string& tenant_id, int count, const std::string& only) {
  const auto& colls = GeneratedCollections();
  std::map<std::string, std::vector<json>> by;
  for (int i = 0; i < count; ++i) {
    const std::string coll = only.empty() ? colls[i % colls.size()] : only;
    json p = Synthetic(coll, i);
    p[NameField(coll)] = "Synthetic " + coll + " " + std::to_string(i);
    if (HomeOf(coll) != "identity/conditionalAccess") p["description"] = "Generated by graph-sim";
    by[coll].push_back(p);
  }
  for (const auto& [coll, items] : by) Seed(tenant_id, coll, items);
}

}  // namespace ta::sim
