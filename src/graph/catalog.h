#pragma once

// The Intune policy-type catalog: one table row per type describes how to
// list, capture completely, strip, write and assign it. Adding a type means
// adding a row (and a simulator fixture), not new control flow.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ta::graph {

enum class UpdateMethod { kPatch, kPut };

// A sub-collection fetched separately for a complete capture (paged).
struct SubResource {
  std::string_view property;  // where it goes in the captured payload
  std::string_view path;      // relative to the item: "settings"
  std::string_view query;     // e.g. "$expand=definition,presentationValues"
};

struct PolicyType {
  std::string_view name;                // our stable type id, e.g. "settingsCatalog"
  std::string_view collection;          // "deviceManagement/configurationPolicies"
  std::string_view api_version;         // "beta"
  std::string_view display_name_field;  // "displayName", or "name" for the settings catalog
  std::string_view get_expand;          // $expand for GET of one item ("" = none)
  std::vector<SubResource> sub_resources;
  std::vector<std::string_view> read_only_fields;  // stripped before create/update
  // Fields that must be sent on create but cannot be updated in place
  // (e.g. compliance scheduledActionsForRule), stripped before update.
  std::vector<std::string_view> create_only_fields;
  UpdateMethod update_method = UpdateMethod::kPatch;
  std::optional<std::string_view> assign_body_key;  // nullopt: not assignable
  std::string_view platform_field;                  // "" when the type has none
};

const std::vector<PolicyType>& Catalog();
const PolicyType* FindPolicyType(std::string_view name);

// The path of one item: "deviceManagement/configurationPolicies/{id}".
std::string ItemPath(const PolicyType& type, std::string_view id);

// A payload ready to send: read-only fields (and, for updates, create-only
// fields) removed, recursively for "@odata.*" annotations other than
// "@odata.type". Never mutates the input.
nlohmann::json StripForWrite(const PolicyType& type, const nlohmann::json& payload,
                             bool for_update);

// The /assign body for this type: {"<assign_body_key>": assignments}.
nlohmann::json AssignBody(const PolicyType& type, const nlohmann::json& assignments);

}  // namespace ta::graph
