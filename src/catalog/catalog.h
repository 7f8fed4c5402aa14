#pragma once

// The Intune object-type catalog: one table row per type says how to list
// it, capture it completely, compare it, map its references into another
// tenant, and write it back, sub-resource by sub-resource. Adding a type
// means adding a row (and a simulator fixture), not new control flow.
//
// Pure data and JSON functions: no I/O, so the run layer (mapping
// suggestions) and the operations layer (capture, restore) share one truth.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ta::catalog {

enum class UpdateMethod { kPatch, kPut };

// How Graph takes a sub-resource. A PATCH of the object ignores every one of
// them, so each has its own way in.
enum class SubWrite {
  // In the create body, and in the PUT that replaces the object (settings
  // catalog settings).
  kInBody,
  // In the create body; afterwards only through POST {item}/scheduleActionsForRules
  // (compliance scheduled actions).
  kScheduleActions,
  // Never in a body: POST {item}/updateDefinitionValues with the computed
  // added / updated / deletedIds sets (administrative template values).
  kDefinitionValues,
  // Never in a body: POST {item}/{path} per added entry, PATCH per changed
  // one, DELETE per removed one (notification template messages).
  kEntries,
  // Never in a body: POST {item}/targetApps {"apps": [...], "appGroupType"}
  // replaces the whole list (the apps an app protection or app
  // configuration policy targets).
  kTargetApps,
  // In the create body as `settingsDelta`; afterwards POST {item}/updateSettings
  // {"settings": [...]} with every desired value (endpoint security intents).
  kUpdateSettings,
  // In the create body; afterwards POST {item}/update with the computed
  // added / deleted items (policy sets; the same action carries assignments).
  kPolicySetItems,
};

struct SubResource {
  std::string_view property;  // where it sits in the captured payload
  std::string_view path;      // read from {item}/{path}; "" = read in the item's GET ($expand)
  std::string_view query;     // e.g. "$expand=definition,presentationValues"
  std::string_view key;       // dotted path of the field that names an entry in every tenant
  SubWrite write;
};

// What a reference points at. Each kind is mapped source id -> target id
// for a restore into another tenant.
enum class RefKind {
  kGroup,
  kAssignmentFilter,
  kScopeTag,
  kNotificationTemplate,
  // Entra objects a conditional access policy names.
  kUser,
  kApplication,    // by appId (the same in every tenant for a multi-tenant app)
  kDirectoryRole,  // by role template id
  kNamedLocation,
  kMobileApp,  // an app that app configuration targets
  kPolicy,     // any catalog object (a policy set's items)
};
std::string_view RefKindName(RefKind kind);  // "group", "assignmentFilter", ...
// Entra directory objects (groups, users, applications, roles): synced as
// the tenant's directory, not as catalog types.
bool IsDirectoryKind(RefKind kind);

struct Reference {
  RefKind kind;
  // Where the id sits: dotted names, "[]" for every element of an array:
  // "roleScopeTagIds[]",
  // "scheduledActionsForRule[].scheduledActionConfigurations[].notificationMessageCCList[]".
  std::string_view path;
};

// Values Graph returns encrypted, with a function that reads the plaintext:
// {item}/{function}(secretReferenceValueId='...').
struct EncryptedValues {
  std::string_view array;     // "omaSettings"
  std::string_view function;  // "getOmaSettingPlainTextValue"
};

struct PolicyType {
  std::string_view name;                // our stable type id, e.g. "settingsCatalog"
  std::string_view collection;          // "deviceManagement/configurationPolicies"
  std::string_view api_version;         // "beta"
  std::string_view display_name_field;  // "displayName", or "name" for the settings catalog
  std::string_view get_expand;          // $expand for GET of one item ("" = none)
  std::vector<SubResource> sub_resources;
  std::vector<std::string_view> read_only_fields;  // server-assigned: never sent, never compared
  // Fields sent on create that cannot change afterwards (stripped from updates).
  std::vector<std::string_view> create_only_fields;
  UpdateMethod update_method = UpdateMethod::kPatch;
  // The /assign action's body key; kAssignEachEntry for a type without that
  // action, whose assignments are posted to and deleted from {item}/assignments
  // one by one; nullopt: not assignable.
  std::optional<std::string_view> assign_body_key;
  std::string_view platform_field;    // "" when the type has none
  std::vector<Reference> references;  // in the payload (assignments: see below)
  std::optional<EncryptedValues> encrypted;
  // The kind of reference this type is the target of (a scope tag, a
  // filter): its objects are what such references are mapped to by name.
  std::optional<RefKind> referenced_as;
  // Where a create is POSTed when not to the collection, with {field}
  // placeholders filled from the payload (those fields leave the body):
  // "deviceManagement/templates/{templateId}/createInstance".
  std::string_view create_via;
  // The action that takes the assignments body: "assign", or "update" for
  // policy sets.
  std::string_view assign_action = "assign";
  // Conditional access: restored in report-only state unless asked otherwise.
  bool conditional_access = false;
};

inline constexpr std::string_view kAssignEachEntry = "(each entry)";

const std::vector<PolicyType>& Catalog();
const PolicyType* FindPolicyType(std::string_view name);
// The type whose objects references of `kind` point at (nullptr for groups,
// which are Entra objects, not a catalog type).
const PolicyType* TypeReferencedAs(RefKind kind);

// The order a restore writes types in: a type comes after every type its
// references point at (scope tags before filters before policies; apps
// before app configuration; policy sets last).
int RestoreRank(const PolicyType& type);

// Where a create of `payload` is POSTed ("" when a placeholder's field is
// missing), and the body fields that path carries instead.
std::string CreatePath(const PolicyType& type, const nlohmann::json& payload);

// An app whose content (a Win32 package, an .msi, an .ipa) Graph does not
// give back: a restore writes its metadata and assignments, and the content
// must be uploaded again.
bool NeedsContentUpload(const PolicyType& type, const nlohmann::json& payload);

// The platform an object is for, in one vocabulary over every type:
// "windows", "macOS", "iOS", "android", "multiple" or "" (unknown), from the
// type's platform field, else its @odata.type, else what the type is for.
std::string PlatformOf(const PolicyType& type, const nlohmann::json& object);
// The type as a customer reads it: "Device configuration", "Conditional
// access policy" (documents, the UI). The type's name when it has none.
std::string_view TypeTitle(std::string_view name);

// The Microsoft Graph application permission that reads a collection (a
// catalog type's, or "groups", "users", "servicePrincipals",
// "roleManagement/directory/roleDefinitions"): what a tenant must grant.
std::string_view ReadPermission(std::string_view collection);
// The application permission that writes a collection (a restore needs it):
// ReadPermission's ReadWrite form ("DeviceManagementApps.ReadWrite.All"), or
// Policy.ReadWrite.ConditionalAccess for conditional access.
std::string WritePermission(std::string_view collection);
// Whether a token's `roles` grant `permission`: the permission itself, its
// ReadWrite form, or for directory reads Directory.Read(Write).All.
bool PermissionGranted(const std::vector<std::string>& roles, std::string_view permission);

// Every value PlatformOf gives (for filters).
const std::vector<std::string_view>& Platforms();

// The catalog as a Markdown table (docs/CATALOG.md is this, checked by a test).
std::string CatalogMarkdown();

// The path of one item: "deviceManagement/configurationPolicies/{id}".
std::string ItemPath(const PolicyType& type, std::string_view id);

// A payload ready to send: read-only fields removed, the sub-resources this
// write cannot carry removed (for an update also the create-only fields),
// and "@odata.*" annotations other than "@odata.type" removed. Never mutates
// the input.
nlohmann::json StripForWrite(const PolicyType& type, const nlohmann::json& payload,
                             bool for_update);

// The /assign body for this type: {"<assign_body_key>": assignments}.
nlohmann::json AssignBody(const PolicyType& type, const nlohmann::json& assignments);

// --- Comparison ---------------------------------------------------------

// The payload as content: read-only fields and annotations gone; each
// sub-resource an object keyed by its entry key, entries without their
// server-assigned fields (ids, timestamps; expanded navigation objects cut
// to their id); an encrypted value by its digest only. Diff, content hash
// and read-back verification all compare this form.
nlohmann::json Canonical(const PolicyType& type, const nlohmann::json& payload);
// Assignments as content: without ids, in a stable order.
nlohmann::json CanonicalAssignments(const nlohmann::json& assignments);

// --- References ---------------------------------------------------------

struct RefSite {
  RefKind kind;
  std::string id;     // the id found
  std::string where;  // "assignments[2].target.groupId", "roleScopeTagIds[0]"
};

// Every reference in a payload and its assignments, in document order.
// Well-known ids that are the same in every tenant (the Default scope tag
// "0", the empty template id) are not references.
std::vector<RefSite> FindReferences(const PolicyType& type, const nlohmann::json& payload,
                                    const nlohmann::json& assignments);

struct Mapped {
  nlohmann::json payload, assignments;
  std::vector<RefSite> unmapped;  // references with no mapping (left as they were)
  // Every reference with the id it is now written as ("" when unmapped).
  std::vector<std::pair<RefSite, std::string>> sites;
};
// Rewrites every reference through `mapping` (source id -> target id, one
// map for every kind: ids are unique across kinds). With `keep_unmapped`
// (a restore into the same tenant) an unmapped id stays as it is and is not
// reported.
Mapped MapReferences(const PolicyType& type, const nlohmann::json& payload,
                     const nlohmann::json& assignments,
                     const std::map<std::string, std::string>& mapping, bool keep_unmapped);

// --- Sub-resource writes -----------------------------------------------

// The body of POST {item}/targetApps for `apps` (as captured), with the
// policy's appGroupType when it has one.
nlohmann::json TargetAppsBody(const nlohmann::json& apps, const nlohmann::json& app_group_type);

// The body of POST {item}/scheduleActionsForRules for `actions` (as captured).
nlohmann::json ScheduleActionsBody(const nlohmann::json& actions);

// Where a create body carries sub-resource `sub` ("settingsDelta" for an
// intent's settings; else its property).
std::string CreateBodyKey(const SubResource& sub);

// Every settings catalog setting id in a payload (settings, their children,
// a reusable setting's instance), each once.
std::vector<std::string> SettingDefinitionIds(const nlohmann::json& payload);

// The body of POST {item}/updateSettings for `settings` (as captured).
nlohmann::json UpdateSettingsBody(const nlohmann::json& settings);

// The body of POST {policySet}/update that turns `live` items into `desired`
// (matched by payloadId).
nlohmann::json PolicySetUpdateBody(const nlohmann::json& live, const nlohmann::json& desired);

// The body of POST {item}/updateDefinitionValues that turns `live` (the
// target's values, as captured) into `desired` (as captured), matching
// values by definition id: {"added":[...],"updated":[...],"deletedIds":[...]}.
// Definitions and presentations are bound under `bind_base`
// ("https://graph.microsoft.com/beta/"). Empty sets when nothing differs.
nlohmann::json DefinitionValuesBody(const nlohmann::json& live, const nlohmann::json& desired,
                                    std::string_view bind_base);

struct EntryWrite {
  std::string method;  // POST, PATCH or DELETE
  std::string id;      // the live entry (PATCH, DELETE)
  nlohmann::json body;
};
// The per-entry writes that turn `live` into `desired` for a kEntries
// sub-resource, matching entries by `sub.key`.
std::vector<EntryWrite> EntryWrites(const SubResource& sub, const nlohmann::json& live,
                                    const nlohmann::json& desired);

}  // namespace ta::catalog
