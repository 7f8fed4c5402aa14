#include "graph/catalog.h"

#include <nlohmann/json.hpp>

namespace ta::graph {
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

}  // namespace

const std::vector<PolicyType>& Catalog() {
  static const std::vector<PolicyType> kCatalog = {
      {"deviceConfiguration",
       "deviceManagement/deviceConfigurations",
       "beta",
       "displayName",
       "",
       {},
       With({}),
       {},
       UpdateMethod::kPatch,
       "assignments",
       ""},
      {"compliancePolicy",
       "deviceManagement/deviceCompliancePolicies",
       "beta",
       "displayName",
       "scheduledActionsForRule($expand=scheduledActionConfigurations)",
       {},
       With({}),
       {"scheduledActionsForRule"},
       UpdateMethod::kPatch,
       "assignments",
       ""},
      {"settingsCatalog",
       "deviceManagement/configurationPolicies",
       "beta",
       "name",
       "",
       {{"settings", "settings", ""}},
       With({"settingCount", "creationSource", "priorityMetaData"}),
       {},
       UpdateMethod::kPut,
       "assignments",
       "platforms"},
      {"groupPolicyConfiguration",
       "deviceManagement/groupPolicyConfigurations",
       "beta",
       "displayName",
       "",
       {{"definitionValues", "definitionValues", "$expand=definition,presentationValues"}},
       With({}),
       {"definitionValues"},
       UpdateMethod::kPatch,
       "assignments",
       ""},
      {"deviceManagementScript",
       "deviceManagement/deviceManagementScripts",
       "beta",
       "displayName",
       "",
       {},
       With({}),
       {},
       UpdateMethod::kPatch,
       "deviceManagementScriptAssignments",
       ""},
      {"autopilotProfile",
       "deviceManagement/windowsAutopilotDeploymentProfiles",
       "beta",
       "displayName",
       "",
       {},
       With({}),
       {},
       UpdateMethod::kPatch,
       "assignments",
       ""},
      {"enrollmentConfiguration",
       "deviceManagement/deviceEnrollmentConfigurations",
       "beta",
       "displayName",
       "",
       {},
       With({"priority"}),
       {},
       UpdateMethod::kPatch,
       "enrollmentConfigurationAssignments",
       ""},
      {"assignmentFilter",
       "deviceManagement/assignmentFilters",
       "beta",
       "displayName",
       "",
       {},
       With({"payloads"}),
       {"platform"},
       UpdateMethod::kPatch,
       std::nullopt,
       "platform"},
  };
  return kCatalog;
}

const PolicyType* FindPolicyType(std::string_view name) {
  for (const auto& t : Catalog())
    if (t.name == name) return &t;
  return nullptr;
}

std::string ItemPath(const PolicyType& type, std::string_view id) {
  return std::string(type.collection) + "/" + std::string(id);
}

nlohmann::json StripForWrite(const PolicyType& type, const nlohmann::json& payload,
                             bool for_update) {
  nlohmann::json out = nlohmann::json::object();
  if (!payload.is_object()) return out;
  for (const auto& [k, v] : payload.items()) {
    const bool read_only = std::find(type.read_only_fields.begin(), type.read_only_fields.end(),
                                     k) != type.read_only_fields.end();
    const bool create_only =
        for_update && std::find(type.create_only_fields.begin(), type.create_only_fields.end(),
                                k) != type.create_only_fields.end();
    const bool annotation = k.rfind("@odata.", 0) == 0 && k != "@odata.type";
    const bool navigation =
        k.find("@odata.") != std::string::npos && k.rfind("@odata.", 0) != 0 &&
        k.find("@odata.bind") == std::string::npos;  // e.g. "settings@odata.context"
    if (!read_only && !create_only && !annotation && !navigation) out[k] = v;
  }
  return out;
}

nlohmann::json AssignBody(const PolicyType& type, const nlohmann::json& assignments) {
  nlohmann::json body = nlohmann::json::object();
  if (type.assign_body_key) body[std::string(*type.assign_body_key)] = assignments;
  return body;
}

}  // namespace ta::graph
