#include "catalog/catalog.h"

#include <algorithm>
#include <functional>
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
  return kind == RefKind::kScopeTag && id == "0";  // "Default" in every tenant
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
  }
  return "reference";
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
          std::nullopt};
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
  };
  return kCatalog;
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
    }
    return "";
  };
  std::string out =
      "# The object catalog\n\n"
      "Generated from `src/catalog/catalog.cc` (`catalog::CatalogMarkdown`); the `unit` test\n"
      "`Catalog.DocumentMatchesTheCatalog` fails when this file and the catalog differ (run it\n"
      "with `TA_UPDATE_DOCS=1` to rewrite this file). Every type here is proven by the fidelity\n"
      "suite (`tests/ops/fidelity_test.cc`).\n\n"
      "| type | collection (Graph beta) | update | assignments | sub-resources (how written) | "
      "references | other |\n"
      "|---|---|---|---|---|---|---|\n";
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
    if (!t.create_only_fields.empty()) {
      std::string f;
      for (const auto& c : t.create_only_fields) f += (f.empty() ? "" : ", ") + std::string(c);
      other += std::string(other.empty() ? "" : "; ") + "create-only: " + f;
    }
    const std::string assign = !t.assign_body_key ? "—"
                               : *t.assign_body_key == kAssignEachEntry
                                   ? "POST/DELETE each on `assignments`"
                                   : "`/assign` (`" + std::string(*t.assign_body_key) + "`)";
    out += "| " + std::string(t.name) + " | `" + std::string(t.collection) + "` | " +
           (t.update_method == UpdateMethod::kPut ? "PUT" : "PATCH") + " | " + assign + " | " +
           (subs.empty() ? "—" : subs) + " | " + (refs.empty() ? "—" : refs) + " | " +
           (other.empty() ? "—" : other) + " |\n";
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
                               : sub->write == SubWrite::kScheduleActions && !for_update;
      if (!in_body) continue;
      out[k] = CleanEntry(v);
      continue;
    }
    out[k] = v;
  }
  return out;
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
