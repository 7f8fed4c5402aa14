#include "catalog/catalog.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace ta::catalog {

using nlohmann::json;

namespace {

// Properties Graph computes; sending them back on create/update is a 400.
const std::vector<std::string_view> kCommonReadOnly = {
    "id",           "createdDateTime",      "lastModifiedDateTime", "version",
    "isAssigned",   "supportsScopeTags",    "assignments",          "deviceStatuses",
    "userStatuses", "deviceStatusOverview", "userStatusOverview"};

std::vector<std::string_view> With(std::vector<std::string_view> extra) {
  std::vector<std::string_view> all = kCommonReadOnly;
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

const Reference kScopeTags{RefKind::kScopeTag, "roleScopeTagIds[]"};

// In every assignment of every assignable type.
const std::vector<Reference> kAssignmentRefs = {
    {RefKind::kGroup, "[].target.groupId"},
    {RefKind::kAssignmentFilter, "[].target.deviceAndAppManagementAssignmentFilterId"}};

// Fields of a sub-resource entry that the server assigns.
bool ServerField(const std::string& k) {
  return k == "id" || k == "createdDateTime" || k == "lastModifiedDateTime" || k == "version" ||
         (k.find("@odata.") != std::string::npos && k != "@odata.type");
}

// An entry without its server-assigned fields; expanded navigation objects
// (a definition, a presentation) cut to their id, which is global.
json CleanEntry(const json& v) {
  if (v.is_array()) {
    json out = json::array();
    for (const auto& x : v) out.push_back(CleanEntry(x));
    return out;
  }
  if (!v.is_object()) return v;
  json out = json::object();
  for (const auto& [k, x] : v.items()) {
    if (ServerField(k)) continue;
    if ((k == "definition" || k == "presentation") && x.is_object())
      out[k] = json{{"id", x.value("id", "")}};
    else
      out[k] = CleanEntry(x);
  }
  return out;
}

// The value at a dotted path inside an entry ("definition.id"), as text.
std::string KeyOf(const json& entry, std::string_view key) {
  const json* v = &entry;
  size_t start = 0;
  while (start <= key.size()) {
    const size_t dot = key.find('.', start);
    const std::string part(
        key.substr(start, dot == std::string_view::npos ? key.npos : dot - start));
    if (!v->is_object() || !v->contains(part)) return "";
    v = &(*v)[part];
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {  // an identifier object: its values, without annotations
    std::string out;
    for (const auto& [k, x] : v->items())
      if (k.find("@odata.") == std::string::npos)
        out += (out.empty() ? "" : "|") + (x.is_string() ? x.get<std::string>() : x.dump());
    return out;
  }
  return v->dump();
}

// A sub-resource array as an object keyed by its entries' keys.
json Keyed(const SubResource& sub, const json& entries) {
  if (!entries.is_array()) return entries;
  json out = json::object();
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string k = KeyOf(entries[i], sub.key);
    if (k.empty()) k = "#" + std::to_string(i);
    for (int n = 2; out.contains(k); ++n) k = KeyOf(entries[i], sub.key) + "#" + std::to_string(n);
    out[k] = CleanEntry(entries[i]);
  }
  return out;
}

// An encrypted value as content: its digest (see ops/secrets), never the
// server's reference id or the masked value Graph answers with.
json SecretsCut(const json& entries) {
  if (!entries.is_array()) return entries;
  json out = json::array();
  for (json e : entries) {
    if (e.is_object()) {
      e.erase("secretReferenceValueId");
      if (e.contains("secretValue") && e["secretValue"].is_object()) {
        e["secretValue"] = e["secretValue"].value("digest", "");
        e.erase("value");
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool WellKnown(RefKind kind, const std::string& id) {
  if (id.empty() || id == "00000000-0000-0000-0000-000000000000") return true;
  if (kind == RefKind::kScopeTag) return id == "0";  // "Default" in every tenant
  // Conditional access keywords: the same in every tenant.
  static const std::set<std::string> kKeywords = {
      "All",          "None",     "GuestsOrExternalUsers", "AllTrusted",
      "Office365",    "MicrosoftAdminPortals"};
  return kind != RefKind::kPolicy && kind != RefKind::kMobileApp && kKeywords.count(id) > 0;
}

// Calls `fn` for every string at `path` under `v` (see Reference::path).
void Visit(json& v, std::string_view path, const std::string& where,
           const std::function<void(json&, const std::string&)>& fn) {
  if (path.empty()) {
    if (v.is_string()) fn(v, where);
    return;
  }
  if (path.rfind("[]", 0) == 0) {
    if (!v.is_array()) return;
    std::string_view rest = path.substr(2);
    if (!rest.empty() && rest[0] == '.') rest.remove_prefix(1);
    for (size_t i = 0; i < v.size(); ++i)
      Visit(v[i], rest, where + "[" + std::to_string(i) + "]", fn);
    return;
  }
  const size_t end = path.find_first_of(".[");
  const std::string name(path.substr(0, end));
  if (!v.is_object() || !v.contains(name)) return;
  std::string_view rest = end == std::string_view::npos ? "" : path.substr(end);
  if (!rest.empty() && rest[0] == '.') rest.remove_prefix(1);
  Visit(v[name], rest, where.empty() ? name : where + "." + name, fn);
}

using RefFn = std::function<void(RefKind, json&, const std::string&)>;
void VisitRefs(const PolicyType& type, json& payload, json& assignments, const RefFn& fn) {
  for (const auto& r : type.references)
    Visit(payload, r.path, "",
          [&](json& leaf, const std::string& where) { fn(r.kind, leaf, where); });
  for (const auto& r : kAssignmentRefs)
    Visit(assignments, r.path, "assignments",
          [&](json& leaf, const std::string& where) { fn(r.kind, leaf, where); });
}

}  // namespace

std::string_view RefKindName(RefKind kind) {
  switch (kind) {
    case RefKind::kGroup:
      return "group";
    case RefKind::kAssignmentFilter:
      return "assignmentFilter";
    case RefKind::kScopeTag:
      return "scopeTag";
    case RefKind::kNotificationTemplate:
      return "notificationTemplate";
    case RefKind::kUser:
      return "user";
    case RefKind::kApplication:
      return "application";
    case RefKind::kDirectoryRole:
      return "directoryRole";
    case RefKind::kNamedLocation:
      return "namedLocation";
    case RefKind::kMobileApp:
      return "mobileApp";
    case RefKind::kPolicy:
      return "policy";
  }
  return "reference";
}

bool IsDirectoryKind(RefKind kind) {
  return kind == RefKind::kGroup || kind == RefKind::kUser || kind == RefKind::kApplication ||
         kind == RefKind::kDirectoryRole;
}

namespace {

// Most types: one collection under Graph beta, named by displayName,
// updated with PATCH, no sub-resources, with scope tags. `assign_key` is the
// /assign body key (nullopt: not assignable).
PolicyType Plain(std::string_view name, std::string_view collection,
                 std::optional<std::string_view> assign_key,
                 std::vector<std::string_view> read_only = {}) {
  return {name,
          collection,
          "beta",
          "displayName",
          "",
          {},
          With(std::move(read_only)),
          {},
          UpdateMethod::kPatch,
          assign_key,
          "",
          {kScopeTags},
          std::nullopt,
          std::nullopt,
          "",
          "assign",
          false};
}

// App protection and app configuration: the apps they target are a
// sub-resource written through targetApps.
PolicyType TargetingApps(std::string_view name, std::string_view collection) {
  PolicyType t = Plain(name, collection, "assignments", {"deployedAppCount"});
  t.sub_resources = {{"apps", "apps", "", "mobileAppIdentifier", SubWrite::kTargetApps}};
  return t;
}

// A Plain type with what differs set by `change`.
PolicyType Tweaked(PolicyType t, const std::function<void(PolicyType&)>& change) {
  change(t);
  return t;
}

}  // namespace

const std::vector<PolicyType>& Catalog() {
  static const std::vector<PolicyType> kCatalog = {
      Tweaked(Plain("deviceConfiguration", "deviceManagement/deviceConfigurations", "assignments"),
              [](PolicyType& t) {
                t.encrypted = EncryptedValues{"omaSettings", "getOmaSettingPlainTextValue"};
              }),
      Tweaked(Plain("compliancePolicy", "deviceManagement/deviceCompliancePolicies", "assignments"),
              [](PolicyType& t) {
                t.get_expand = "scheduledActionsForRule($expand=scheduledActionConfigurations)";
                t.sub_resources = {
                    {"scheduledActionsForRule", "", "", "ruleName", SubWrite::kScheduleActions}};
                t.references = {kScopeTags,
                                {RefKind::kGroup,
                                 "scheduledActionsForRule[].scheduledActionConfigurations[]."
                                 "notificationMessageCCList[]"},
                                {RefKind::kNotificationTemplate,
                                 "scheduledActionsForRule[].scheduledActionConfigurations[]."
                                 "notificationTemplateId"}};
              }),
      Tweaked(Plain("settingsCatalog", "deviceManagement/configurationPolicies", "assignments",
                    {"settingCount", "creationSource", "priorityMetaData"}),
              [](PolicyType& t) {
                t.display_name_field = "name";
                t.sub_resources = {{"settings", "settings", "",
                                    "settingInstance.settingDefinitionId", SubWrite::kInBody}};
                t.update_method = UpdateMethod::kPut;
                t.platform_field = "platforms";
              }),
      Tweaked(Plain("groupPolicyConfiguration", "deviceManagement/groupPolicyConfigurations",
                    "assignments"),
              [](PolicyType& t) {
                t.sub_resources = {{"definitionValues", "definitionValues",
                                    "$expand=definition,presentationValues($expand=presentation)",
                                    "definition.id", SubWrite::kDefinitionValues}};
              }),
      Plain("deviceManagementScript", "deviceManagement/deviceManagementScripts",
            "deviceManagementScriptAssignments"),
      Plain("autopilotProfile", "deviceManagement/windowsAutopilotDeploymentProfiles",
            "assignments"),
      Plain("enrollmentConfiguration", "deviceManagement/deviceEnrollmentConfigurations",
            "enrollmentConfigurationAssignments", {"priority"}),
      Tweaked(Plain("assignmentFilter", "deviceManagement/assignmentFilters", std::nullopt,
                    {"payloads"}),
              [](PolicyType& t) {
                t.create_only_fields = {"platform"};
                t.platform_field = "platform";
                t.referenced_as = RefKind::kAssignmentFilter;
              }),
      Plain("remediationScript", "deviceManagement/deviceHealthScripts",
            "deviceHealthScriptAssignments",
            {"isGlobalScript", "highestAvailableVersion", "deviceHealthScriptType"}),
      Plain("complianceScript", "deviceManagement/deviceComplianceScripts",
            "deviceHealthScriptAssignments"),
      Plain("macOSShellScript", "deviceManagement/deviceShellScripts",
            "deviceManagementScriptAssignments"),
      Plain("macOSCustomAttributeScript", "deviceManagement/deviceCustomAttributeShellScripts",
            "deviceManagementScriptAssignments"),
      Plain("featureUpdateProfile", "deviceManagement/windowsFeatureUpdateProfiles", "assignments",
            {"deployableContentDisplayName", "endOfSupportDate"}),
      Plain("qualityUpdateProfile", "deviceManagement/windowsQualityUpdateProfiles", "assignments",
            {"deployableContentDisplayName", "releaseDateDisplayText"}),
      Plain("driverUpdateProfile", "deviceManagement/windowsDriverUpdateProfiles", "assignments",
            {"deviceReporting", "newUpdates", "inventorySyncStatus"}),
      Plain("deviceCategory", "deviceManagement/deviceCategories", std::nullopt),
      TargetingApps("iosAppProtection", "deviceAppManagement/iosManagedAppProtections"),
      TargetingApps("androidAppProtection", "deviceAppManagement/androidManagedAppProtections"),
      TargetingApps("managedAppConfiguration",
                    "deviceAppManagement/targetedManagedAppConfigurations"),
      TargetingApps("windowsAppProtection", "deviceAppManagement/windowsManagedAppProtections"),
      Tweaked(
          Plain("reusablePolicySetting", "deviceManagement/reusablePolicySettings", std::nullopt,
                {"settingDefinitionId", "referencingConfigurationPolicyCount",
                 "referencingConfigurationPolicies"}),
          [](PolicyType& t) { t.references = {}; }),
      Plain("androidEnrollmentProfile", "deviceManagement/androidDeviceOwnerEnrollmentProfiles",
            std::nullopt,
            {"tokenValue", "tokenCreationDateTime", "tokenExpirationDateTime",
             "enrolledDeviceCount", "qrCodeContent", "qrCodeImage"}),
      Plain("roleDefinition", "deviceManagement/roleDefinitions", std::nullopt,
            {"isBuiltIn", "isBuiltInRoleDefinition"}),
      Plain("termsAndConditions", "deviceManagement/termsAndConditions", kAssignEachEntry,
            {"acceptanceStatuses", "groupAssignments"}),
      Tweaked(Plain("scopeTag", "deviceManagement/roleScopeTags", std::nullopt, {"isBuiltIn"}),
              [](PolicyType& t) {
                t.references = {};
                t.referenced_as = RefKind::kScopeTag;
              }),
      Tweaked(Plain("notificationMessageTemplate", "deviceManagement/notificationMessageTemplates",
                    std::nullopt),
              [](PolicyType& t) {
                t.sub_resources = {{"localizedNotificationMessages",
                                    "localizedNotificationMessages", "", "locale",
                                    SubWrite::kEntries}};
                t.referenced_as = RefKind::kNotificationTemplate;
              }),
      // Conditional access (Entra). Named locations go first; a policy names
      // users, groups, roles, applications and locations, each mapped.
      Tweaked(Plain("namedLocation", "identity/conditionalAccess/namedLocations", std::nullopt,
                    {"modifiedDateTime"}),
              [](PolicyType& t) {
                t.references = {};
                t.referenced_as = RefKind::kNamedLocation;
              }),
      Tweaked(Plain("conditionalAccessPolicy", "identity/conditionalAccess/policies",
                    std::nullopt, {"modifiedDateTime", "templateId"}),
              [](PolicyType& t) {
                t.conditional_access = true;
                t.references = {
                    {RefKind::kUser, "conditions.users.includeUsers[]"},
                    {RefKind::kUser, "conditions.users.excludeUsers[]"},
                    {RefKind::kGroup, "conditions.users.includeGroups[]"},
                    {RefKind::kGroup, "conditions.users.excludeGroups[]"},
                    {RefKind::kDirectoryRole, "conditions.users.includeRoles[]"},
                    {RefKind::kDirectoryRole, "conditions.users.excludeRoles[]"},
                    {RefKind::kApplication, "conditions.applications.includeApplications[]"},
                    {RefKind::kApplication, "conditions.applications.excludeApplications[]"},
                    {RefKind::kNamedLocation, "conditions.locations.includeLocations[]"},
                    {RefKind::kNamedLocation, "conditions.locations.excludeLocations[]"}};
              }),
      // Apps: store and web apps in full; an app with uploaded content as
      // metadata and assignments (see NeedsContentUpload).
      Tweaked(Plain("mobileApp", "deviceAppManagement/mobileApps", "mobileAppAssignments",
                    {"uploadState", "publishingState", "dependentAppCount",
                     "supersedingAppCount", "supersededAppCount", "committedContentVersion",
                     "size", "isAssigned"}),
              [](PolicyType& t) { t.referenced_as = RefKind::kMobileApp; }),
      Tweaked(Plain("mobileAppConfiguration", "deviceAppManagement/mobileAppConfigurations",
                    "assignments"),
              [](PolicyType& t) {
                t.references = {kScopeTags, {RefKind::kMobileApp, "targetedMobileApps[]"}};
              }),
      Tweaked(Plain("endpointSecurityIntent", "deviceManagement/intents", "assignments",
                    {"isMigratingToConfigurationPolicy"}),
              [](PolicyType& t) {
                t.sub_resources = {
                    {"settings", "settings", "", "definitionId", SubWrite::kUpdateSettings}};
                t.create_only_fields = {"templateId"};
                t.create_via = "deviceManagement/templates/{templateId}/createInstance";
              }),
      Tweaked(Plain("policySet", "deviceAppManagement/policySets", "assignments",
                    {"status", "errorCode"}),
              [](PolicyType& t) {
                t.get_expand = "items";
                t.sub_resources = {{"items", "", "", "payloadId", SubWrite::kPolicySetItems}};
                t.references = {kScopeTags, {RefKind::kPolicy, "items[].payloadId"}};
                t.assign_action = "update";
              }),
      Tweaked(Plain("cloudPcProvisioningPolicy", "deviceManagement/virtualEndpoint/provisioningPolicies",
                    "assignments", {"managedBy"}),
              [](PolicyType& t) { t.references = {}; }),
      Tweaked(Plain("cloudPcUserSetting", "deviceManagement/virtualEndpoint/userSettings",
                    "assignments"),
              [](PolicyType& t) { t.references = {}; }),
      Tweaked(Plain("appleEnrollmentProfile",
                    "deviceManagement/appleUserInitiatedEnrollmentProfiles", kAssignEachEntry,
                    {"priority"}),
              [](PolicyType& t) {
                t.references = {};
                t.platform_field = "platform";
              }),
  };
  return kCatalog;
}

int RestoreRank(const PolicyType& type) {
  int rank = 0;
  std::vector<RefKind> kinds;
  for (const auto& r : type.references) kinds.push_back(r.kind);
  if (type.assign_body_key) kinds.push_back(RefKind::kAssignmentFilter);
  for (RefKind k : kinds) {
    if (k == RefKind::kPolicy) return 100;  // after everything it may hold
    const PolicyType* t = TypeReferencedAs(k);
    if (t && t != &type) rank = std::max(rank, RestoreRank(*t) + 1);
  }
  return rank;
}

std::string CreatePath(const PolicyType& type, const json& payload) {
  std::string path(type.create_via.empty() ? type.collection : type.create_via);
  for (size_t open; (open = path.find('{')) != std::string::npos;) {
    const size_t close = path.find('}', open);
    const std::string field = path.substr(open + 1, close - open - 1);
    if (!payload.is_object() || !payload.contains(field) || !payload[field].is_string() ||
        payload[field].get<std::string>().empty())
      return "";
    path.replace(open, close - open + 1, payload[field].get<std::string>());
  }
  return path;
}

std::string_view ReadPermission(std::string_view c) {
  auto starts = [&](std::string_view p) { return c.substr(0, p.size()) == p; };
  if (starts("identity/conditionalAccess")) return "Policy.Read.All";
  if (starts("groups")) return "Group.Read.All";
  if (starts("users")) return "User.Read.All";
  if (starts("servicePrincipals") || starts("applications")) return "Application.Read.All";
  if (starts("roleManagement/directory")) return "RoleManagement.Read.Directory";
  if (starts("organization")) return "Organization.Read.All";
  // Intune's audit log needs the apps permission, as Graph documents it.
  if (starts("deviceAppManagement") || starts("deviceManagement/auditEvents"))
    return "DeviceManagementApps.Read.All";
  if (starts("deviceManagement/virtualEndpoint")) return "CloudPC.Read.All";
  if (starts("deviceManagement/roleDefinitions") || starts("deviceManagement/roleScopeTags"))
    return "DeviceManagementRBAC.Read.All";
  if (starts("deviceManagement/deviceEnrollmentConfigurations") ||
      starts("deviceManagement/windowsAutopilotDeploymentProfiles") ||
      starts("deviceManagement/androidDeviceOwnerEnrollmentProfiles") ||
      starts("deviceManagement/appleUserInitiatedEnrollmentProfiles") ||
      starts("deviceManagement/deviceCategories") || starts("deviceManagement/termsAndConditions"))
    return "DeviceManagementServiceConfig.Read.All";
  return "DeviceManagementConfiguration.Read.All";
}

std::string WritePermission(std::string_view collection) {
  if (collection.substr(0, 26) == "identity/conditionalAccess")
    return "Policy.ReadWrite.ConditionalAccess";
  std::string p(ReadPermission(collection));
  if (const size_t at = p.find(".Read."); at != std::string::npos) p.replace(at, 6, ".ReadWrite.");
  return p;
}

bool PermissionGranted(const std::vector<std::string>& roles, std::string_view permission) {
  std::vector<std::string> enough{std::string(permission)};
  if (const size_t at = permission.find(".Read."); at != std::string_view::npos) {
    std::string rw(permission);
    enough.push_back(rw.replace(at, 6, ".ReadWrite."));
  }
  if (permission == "Group.Read.All" || permission == "User.Read.All" ||
      permission == "Application.Read.All" || permission == "Organization.Read.All" ||
      permission == "Group.ReadWrite.All" ||
      permission == "User.ReadWrite.All" || permission == "Application.ReadWrite.All") {
    enough.push_back("Directory.ReadWrite.All");
    if (permission.find("ReadWrite") == std::string_view::npos)
      enough.push_back("Directory.Read.All");
  }
  for (const auto& r : roles)
    if (std::find(enough.begin(), enough.end(), r) != enough.end()) return true;
  return false;
}

std::string_view TypeTitle(std::string_view name) {
  static const std::map<std::string_view, std::string_view> kTitles = {
      {"deviceConfiguration", "Device configuration"},
      {"compliancePolicy", "Compliance policy"},
      {"settingsCatalog", "Settings catalog policy"},
      {"groupPolicyConfiguration", "Administrative template"},
      {"deviceManagementScript", "PowerShell script"},
      {"autopilotProfile", "Autopilot profile"},
      {"enrollmentConfiguration", "Enrollment configuration"},
      {"assignmentFilter", "Assignment filter"},
      {"remediationScript", "Remediation"},
      {"complianceScript", "Compliance script"},
      {"macOSShellScript", "macOS shell script"},
      {"macOSCustomAttributeScript", "macOS custom attribute script"},
      {"featureUpdateProfile", "Feature update profile"},
      {"qualityUpdateProfile", "Quality update profile (expedite)"},
      {"driverUpdateProfile", "Driver update profile"},
      {"deviceCategory", "Device category"},
      {"iosAppProtection", "iOS app protection policy"},
      {"androidAppProtection", "Android app protection policy"},
      {"managedAppConfiguration", "App configuration (managed apps)"},
      {"windowsAppProtection", "Windows app protection policy"},
      {"reusablePolicySetting", "Reusable policy setting"},
      {"androidEnrollmentProfile", "Android Enterprise enrollment profile"},
      {"roleDefinition", "Intune role"},
      {"termsAndConditions", "Terms and conditions"},
      {"scopeTag", "Scope tag"},
      {"notificationMessageTemplate", "Notification message template"},
      {"namedLocation", "Named location"},
      {"conditionalAccessPolicy", "Conditional access policy"},
      {"mobileApp", "App"},
      {"mobileAppConfiguration", "App configuration (managed devices)"},
      {"endpointSecurityIntent", "Endpoint security policy (template)"},
      {"policySet", "Policy set"},
      {"cloudPcProvisioningPolicy", "Windows 365 provisioning policy"},
      {"cloudPcUserSetting", "Windows 365 user setting"},
      {"appleEnrollmentProfile", "Apple enrollment profile"}};
  auto it = kTitles.find(name);
  return it == kTitles.end() ? name : it->second;
}

const std::vector<std::string_view>& Platforms() {
  static const std::vector<std::string_view> kAll = {"windows", "macOS", "iOS", "android",
                                                     "multiple"};
  return kAll;
}

std::string PlatformOf(const PolicyType& type, const json& object) {
  // A platform name (any case, any suffix Graph adds) in our vocabulary.
  auto normal = [](std::string v) -> std::string {
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v.find(',') != std::string::npos) return "multiple";
    for (const auto& [prefix, name] :
         std::vector<std::pair<std::string, std::string>>{{"windows", "windows"},
                                                          {"win32", "windows"},
                                                          {"macos", "macOS"},
                                                          {"ios", "iOS"},
                                                          {"ipados", "iOS"},
                                                          {"android", "android"},
                                                          {"aosp", "android"}})
      if (v.rfind(prefix, 0) == 0) return name;
    return "";
  };
  if (!type.platform_field.empty() && object.is_object()) {
    const std::string field(type.platform_field);
    if (object.contains(field) && object[field].is_string())
      if (auto p = normal(object[field].get<std::string>()); !p.empty()) return p;
  }
  if (object.is_object() && object.contains("@odata.type") && object["@odata.type"].is_string()) {
    std::string odata = object["@odata.type"].get<std::string>();
    if (odata.rfind("#microsoft.graph.", 0) == 0) odata = odata.substr(17);
    if (auto p = normal(odata); !p.empty()) return p;
  }
  // What the type itself is for.
  static const std::map<std::string_view, std::string_view> kFor = {
      {"deviceManagementScript", "windows"},     {"remediationScript", "windows"},
      {"complianceScript", "windows"},           {"macOSShellScript", "macOS"},
      {"macOSCustomAttributeScript", "macOS"},   {"featureUpdateProfile", "windows"},
      {"qualityUpdateProfile", "windows"},       {"driverUpdateProfile", "windows"},
      {"autopilotProfile", "windows"},           {"groupPolicyConfiguration", "windows"},
      {"iosAppProtection", "iOS"},               {"androidAppProtection", "android"},
      {"windowsAppProtection", "windows"},       {"androidEnrollmentProfile", "android"},
      {"cloudPcProvisioningPolicy", "windows"},  {"cloudPcUserSetting", "windows"},
      {"managedAppConfiguration", "multiple"},   {"conditionalAccessPolicy", "multiple"}};
  auto it = kFor.find(type.name);
  return it == kFor.end() ? "" : std::string(it->second);
}

bool NeedsContentUpload(const PolicyType& type, const json& payload) {
  if (type.name != "mobileApp" || !payload.is_object()) return false;
  const std::string odata = payload.value("@odata.type", "");
  for (const char* kind : {"win32LobApp", "windowsMobileMSI", "iosLobApp", "androidLobApp",
                           "macOSLobApp", "macOSDmgApp", "macOSPkgApp", "windowsUniversalAppX",
                           "windowsAppX", "win32CatalogApp"})
    if (odata == std::string("#microsoft.graph.") + kind) return true;
  return false;
}

const PolicyType* FindPolicyType(std::string_view name) {
  for (const auto& t : Catalog())
    if (t.name == name) return &t;
  return nullptr;
}

const PolicyType* TypeReferencedAs(RefKind kind) {
  for (const auto& t : Catalog())
    if (t.referenced_as == kind) return &t;
  return nullptr;
}

std::string CatalogMarkdown() {
  auto write = [](SubWrite w) -> std::string {
    switch (w) {
      case SubWrite::kInBody:
        return "in the create body and the PUT";
      case SubWrite::kScheduleActions:
        return "create body, then `scheduleActionsForRules`";
      case SubWrite::kDefinitionValues:
        return "`updateDefinitionValues` (added/updated/deleted)";
      case SubWrite::kEntries:
        return "per entry: POST, PATCH, DELETE";
      case SubWrite::kTargetApps:
        return "`targetApps` (whole list)";
      case SubWrite::kUpdateSettings:
        return "create body (`settingsDelta`), then `updateSettings`";
      case SubWrite::kPolicySetItems:
        return "create body, then `update` (added/deleted items)";
    }
    return "";
  };
  std::string out =
      "# The object catalog\n\n"
      "Generated from `src/catalog/catalog.cc` (`catalog::CatalogMarkdown`); the `unit` test\n"
      "`Catalog.DocumentMatchesTheCatalog` fails when this file and the catalog differ (run it\n"
      "with `TA_UPDATE_DOCS=1` to rewrite this file). Every type here is proven by the fidelity\n"
      "suite (`tests/ops/fidelity_test.cc`, on SQLite and PostgreSQL): every kind of change\n"
      "previewed, restored and read back equal in the same tenant; restored into another\n"
      "tenant with no source id in any write; and a worker killed with SIGKILL right after\n"
      "the create, resumed to one object equal to the backup. A restore writes types in\n"
      "\"restore order\" (`catalog::RestoreRank`: lower first), so what an object refers to\n"
      "exists, and is mapped, before it.\n\n"
      "| type | what it is | collection (Graph beta) | update | assignments | sub-resources (how "
      "written) | references | restore order | other |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& t : Catalog()) {
    std::string subs, refs, other;
    for (const auto& s : t.sub_resources)
      subs += (subs.empty() ? "" : "; ") + std::string("`") + std::string(s.property) +
              "`: " + write(s.write) + " (key `" + std::string(s.key) + "`)";
    for (const auto& r : t.references)
      refs += (refs.empty() ? "" : "; ") + std::string(RefKindName(r.kind)) + " at `" +
              std::string(r.path) + "`";
    if (t.assign_body_key)
      refs += std::string(refs.empty() ? "" : "; ") + "group, assignmentFilter in assignments";
    if (t.encrypted)
      other += "encrypted `" + std::string(t.encrypted->array) + "` values read with `" +
               std::string(t.encrypted->function) + "`";
    if (t.referenced_as)
      other += std::string(other.empty() ? "" : "; ") + "restored first; referenced as " +
               std::string(RefKindName(*t.referenced_as));
    if (!t.create_via.empty())
      other += std::string(other.empty() ? "" : "; ") + "created through `" +
               std::string(t.create_via) + "`";
    if (t.conditional_access)
      other += std::string(other.empty() ? "" : "; ") +
               "created in report-only state unless restored \"as backed up\"; preview warns "
               "when no user or group is excluded (break-glass)";
    if (t.name == "mobileApp")
      other += std::string(other.empty() ? "" : "; ") +
               "Win32 and line-of-business apps: metadata and assignments only, the content "
               "must be uploaded again";
    if (!t.create_only_fields.empty()) {
      std::string f;
      for (const auto& c : t.create_only_fields) f += (f.empty() ? "" : ", ") + std::string(c);
      other += std::string(other.empty() ? "" : "; ") + "create-only: " + f;
    }
    const std::string assign = !t.assign_body_key ? "—"
                               : *t.assign_body_key == kAssignEachEntry
                                   ? "POST/DELETE each on `assignments`"
                                   : "`/" + std::string(t.assign_action) + "` (`" +
                                         std::string(*t.assign_body_key) + "`)";
    out += "| " + std::string(t.name) + " | " + std::string(TypeTitle(t.name)) + " | `" +
           std::string(t.collection) + "` | " +
           (t.update_method == UpdateMethod::kPut ? "PUT" : "PATCH") + " | " + assign + " | " +
           (subs.empty() ? "—" : subs) + " | " + (refs.empty() ? "—" : refs) + " | " +
           std::to_string(RestoreRank(t)) + " | " + (other.empty() ? "—" : other) + " |\n";
  }
  return out;
}

std::string ItemPath(const PolicyType& type, std::string_view id) {
  return std::string(type.collection) + "/" + std::string(id);
}

json StripForWrite(const PolicyType& type, const json& payload, bool for_update) {
  json out = json::object();
  if (!payload.is_object()) return out;
  auto listed = [](const std::vector<std::string_view>& v, const std::string& k) {
    return std::find(v.begin(), v.end(), k) != v.end();
  };
  for (const auto& [k, v] : payload.items()) {
    if (listed(type.read_only_fields, k)) continue;
    if (for_update && listed(type.create_only_fields, k)) continue;
    if (k.rfind("@odata.", 0) == 0 && k != "@odata.type") continue;  // annotations
    // A navigation annotation, "settings@odata.context" (binds are kept).
    if (k.find("@odata.") != std::string::npos && k.rfind("@odata.", 0) != 0 &&
        k.find("@odata.bind") == std::string::npos)
      continue;
    const SubResource* sub = nullptr;
    for (const auto& s : type.sub_resources)
      if (s.property == k) sub = &s;
    if (sub) {
      const bool in_body = sub->write == SubWrite::kInBody
                               ? (!for_update || type.update_method == UpdateMethod::kPut)
                               : (sub->write == SubWrite::kScheduleActions ||
                                  sub->write == SubWrite::kUpdateSettings ||
                                  sub->write == SubWrite::kPolicySetItems) &&
                                     !for_update;
      if (!in_body) continue;
      out[CreateBodyKey(*sub)] =
          CleanEntry(v);
      continue;
    }
    out[k] = v;
  }
  // What the create path carries is not in the body.
  if (!for_update && !type.create_via.empty()) {
    const std::string via(type.create_via);
    for (size_t open = via.find('{'); open != std::string::npos; open = via.find('{', open + 1))
      out.erase(via.substr(open + 1, via.find('}', open) - open - 1));
  }
  return out;
}

std::string CreateBodyKey(const SubResource& sub) {
  return sub.write == SubWrite::kUpdateSettings ? "settingsDelta" : std::string(sub.property);
}

std::vector<std::string> SettingDefinitionIds(const json& payload) {
  std::vector<std::string> out;
  std::function<void(const json&)> walk = [&](const json& v) {
    if (v.is_object()) {
      for (const auto& [k, x] : v.items()) {
        if (k != "settingDefinitionId" || !x.is_string())
          walk(x);
        else if (std::find(out.begin(), out.end(), x.get<std::string>()) == out.end())
          out.push_back(x.get<std::string>());
      }
    } else if (v.is_array()) {
      for (const auto& x : v) walk(x);
    }
  };
  walk(payload);
  return out;
}

json UpdateSettingsBody(const json& settings) {
  json list = json::array();
  if (settings.is_array())
    for (const auto& s : settings) list.push_back(CleanEntry(s));
  return {{"settings", list}};
}

json PolicySetUpdateBody(const json& live, const json& desired) {
  std::map<std::string, const json*> live_by;
  if (live.is_array())
    for (const auto& v : live)
      if (v.is_object()) live_by[v.value("payloadId", "")] = &v;
  json added = json::array(), deleted = json::array();
  std::set<std::string> wanted;
  for (const auto& d : desired.is_array() ? desired : json::array()) {
    if (!d.is_object()) continue;
    wanted.insert(d.value("payloadId", ""));
    if (!live_by.count(d.value("payloadId", ""))) added.push_back(CleanEntry(d));
  }
  for (const auto& [id, l] : live_by)
    if (!wanted.count(id)) deleted.push_back(l->value("id", ""));
  return {{"addedPolicySetItems", added},
          {"updatedPolicySetItems", json::array()},
          {"deletedPolicySetItems", deleted}};
}

json AssignBody(const PolicyType& type, const json& assignments) {
  json body = json::object();
  if (type.assign_body_key) body[std::string(*type.assign_body_key)] = assignments;
  return body;
}

json Canonical(const PolicyType& type, const json& payload) {
  if (!payload.is_object()) return payload;  // compared as it is (found by fuzzing)
  json out = json::object();
  for (const auto& [k, v] : payload.items()) {
    if (std::find(type.read_only_fields.begin(), type.read_only_fields.end(), k) !=
        type.read_only_fields.end())
      continue;
    if (k.find("@odata.") != std::string::npos && k != "@odata.type") continue;
    const SubResource* sub = nullptr;
    for (const auto& s : type.sub_resources)
      if (s.property == k) sub = &s;
    if (sub)
      out[k] = Keyed(*sub, v);
    else if (type.encrypted && type.encrypted->array == k)
      out[k] = SecretsCut(v);
    else
      out[k] = v;
  }
  return out;
}

json CanonicalAssignments(const json& assignments) {
  if (!assignments.is_array()) return assignments;
  std::vector<json> all;
  for (json a : assignments) {
    if (a.is_object())
      for (const char* k : {"id", "source", "sourceId", "@odata.type"}) a.erase(k);
    all.push_back(CleanEntry(a));
  }
  std::sort(all.begin(), all.end(),
            [](const json& x, const json& y) { return x.dump() < y.dump(); });
  return json(all);
}

std::vector<RefSite> FindReferences(const PolicyType& type, const json& payload,
                                    const json& assignments) {
  json p = payload, a = assignments;
  std::vector<RefSite> out;
  VisitRefs(type, p, a, [&](RefKind kind, json& leaf, const std::string& where) {
    const std::string id = leaf.get<std::string>();
    if (!WellKnown(kind, id)) out.push_back({kind, id, where});
  });
  return out;
}

Mapped MapReferences(const PolicyType& type, const json& payload, const json& assignments,
                     const std::map<std::string, std::string>& mapping, bool keep_unmapped) {
  Mapped m{payload, assignments, {}, {}};
  VisitRefs(type, m.payload, m.assignments,
            [&](RefKind kind, json& leaf, const std::string& where) {
              const std::string id = leaf.get<std::string>();
              if (WellKnown(kind, id)) return;
              std::string target = id;  // kept (same tenant) unless mapped
              if (auto it = mapping.find(id); it != mapping.end()) {
                target = it->second;
                leaf = target;
              } else if (!keep_unmapped) {
                m.unmapped.push_back({kind, id, where});
                target.clear();
              }
              m.sites.push_back({{kind, id, where}, target});
            });
  return m;
}

json TargetAppsBody(const json& apps, const json& app_group_type) {
  json list = json::array();
  if (apps.is_array())
    for (const auto& a : apps) list.push_back(CleanEntry(a));
  json body = {{"apps", list}};
  if (app_group_type.is_string()) body["appGroupType"] = app_group_type;
  return body;
}

json ScheduleActionsBody(const json& actions) {
  json rules = json::array();
  if (actions.is_array())
    for (const auto& a : actions) rules.push_back(CleanEntry(a));
  return {{"deviceComplianceScheduledActionForRules", rules}};
}

json DefinitionValuesBody(const json& live, const json& desired, std::string_view bind_base) {
  std::map<std::string, const json*> live_by_def;
  if (live.is_array())
    for (const auto& v : live)
      if (v.is_object()) live_by_def[KeyOf(v, "definition.id")] = &v;
  json added = json::array(), updated = json::array(), deleted = json::array();
  std::set<std::string> wanted;
  const std::string base(bind_base);
  for (const auto& d : desired.is_array() ? desired : json::array()) {
    const std::string def = KeyOf(d, "definition.id");
    if (def.empty() || !d.is_object()) continue;
    wanted.insert(def);
    auto it = live_by_def.find(def);
    const json* l = it == live_by_def.end() ? nullptr : it->second;
    if (l && CleanEntry(*l) == CleanEntry(d)) continue;  // already as desired
    json v = json::object();
    for (const auto& [k, x] : d.items())
      if (!ServerField(k) && k != "definition" && k != "presentationValues") v[k] = x;
    v["definition@odata.bind"] = base + "deviceManagement/groupPolicyDefinitions('" + def + "')";
    if (l) v["id"] = l->value("id", "");
    json pvs = json::array();
    for (const auto& pv : d.value("presentationValues", json::array())) {
      if (!pv.is_object()) continue;
      json out = json::object();
      for (const auto& [k, x] : pv.items())
        if (!ServerField(k) && k != "presentation") out[k] = x;
      const std::string pid = KeyOf(pv, "presentation.id");
      if (!pid.empty()) {
        out["presentation@odata.bind"] = base + "deviceManagement/groupPolicyDefinitions('" + def +
                                         "')/presentations('" + pid + "')";
        if (l)  // an update names the live presentation value it changes
          for (const auto& lpv : l->value("presentationValues", json::array()))
            if (lpv.is_object() && KeyOf(lpv, "presentation.id") == pid)
              out["id"] = lpv.value("id", "");
      }
      pvs.push_back(out);
    }
    v["presentationValues"] = pvs;
    (l ? updated : added).push_back(v);
  }
  for (const auto& [def, l] : live_by_def)
    if (!wanted.count(def)) deleted.push_back(l->value("id", ""));
  return {{"added", added}, {"updated", updated}, {"deletedIds", deleted}};
}

std::vector<EntryWrite> EntryWrites(const SubResource& sub, const json& live, const json& desired) {
  std::map<std::string, const json*> live_by_key;
  if (live.is_array())
    for (const auto& v : live)
      if (v.is_object()) live_by_key[KeyOf(v, sub.key)] = &v;
  std::vector<EntryWrite> out;
  std::set<std::string> wanted;
  for (const auto& d : desired.is_array() ? desired : json::array()) {
    if (!d.is_object()) continue;
    const std::string key = KeyOf(d, sub.key);
    wanted.insert(key);
    auto it = live_by_key.find(key);
    if (it == live_by_key.end()) {
      out.push_back({"POST", "", CleanEntry(d)});
    } else if (CleanEntry(*it->second) != CleanEntry(d)) {
      out.push_back({"PATCH", it->second->value("id", ""), CleanEntry(d)});
    }
  }
  for (const auto& [key, l] : live_by_key)
    if (!wanted.count(key)) out.push_back({"DELETE", l->value("id", ""), json()});
  return out;
}

}  // namespace ta::catalog
