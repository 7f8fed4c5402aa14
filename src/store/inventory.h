#pragma once

// A tenant's inventory: the policies synced from Intune, their immutable
// versions (snapshots), and the tenant's groups. Typed records, every query
// scoped by tenant; all functions run inside the caller's Tx.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct PolicyRecord {
  int64_t id = 0;
  std::string type, graph_id, display_name;
  std::optional<std::string> platform, odata_type, last_modified_at;
  std::optional<int64_t> gone_at;
  int64_t synced_at = 0;
  // The newest version, if the policy was ever captured.
  std::optional<int64_t> last_version, last_captured_at;
};

// One policy as a sync listed it.
struct SyncedPolicy {
  std::string graph_id, display_name, platform, odata_type, last_modified_at;
};

struct VersionRecord {
  int64_t id = 0, policy_id = 0, version = 0;
  std::string content_hash;
  std::optional<int64_t> run_id;
  int64_t created_at = 0;
  std::string payload, assignments;  // JSON text; empty in listings
};

struct GroupRecord {
  std::string graph_id, display_name;
  std::optional<int64_t> gone_at;
  int64_t synced_at = 0;
};

struct PolicyFilter {
  std::optional<std::string> type;
  std::optional<std::string> platform;
  std::optional<std::string> name_contains;  // case-insensitive
  bool include_gone = false;
  int64_t after_id = 0;  // cursor
  int64_t limit = 50;
};

class Inventory {
 public:
  // The tenant's policy; PermissionDenied when it is another tenant's,
  // NotFound when there is none.
  static Result<PolicyRecord> Policy(Tx& tx, int64_t tenant_id, int64_t policy_id);
  // Policy id -> (tenant id, display name) for the ids that exist, in one
  // statement (run titles of many runs at once).
  static Result<std::map<int64_t, std::pair<int64_t, std::string>>> PolicyNames(
      Tx& tx, const std::vector<int64_t>& ids);
  static Result<std::vector<PolicyRecord>> ListPolicies(Tx& tx, int64_t tenant_id,
                                                        const PolicyFilter& filter);
  // The listed policies of the tenant (gone or not), or every policy not gone.
  static Result<std::vector<PolicyRecord>> PoliciesToCapture(
      Tx& tx, int64_t tenant_id, const std::optional<std::vector<int64_t>>& ids);
  // How many of `ids` (duplicates counted once) are policies of the tenant.
  static Result<int64_t> CountOwned(Tx& tx, int64_t tenant_id, const std::vector<int64_t>& ids);
  static Result<int64_t> CountActive(Tx& tx, int64_t tenant_id);

  // A sync of one type: upserts what was listed (clearing gone_at) and marks
  // the type's other policies gone. Returns how many became gone.
  static Result<int64_t> ApplySync(Tx& tx, int64_t tenant_id, const std::string& type,
                                   const std::vector<SyncedPolicy>& listed, int64_t now_ms);
  // The same for directory objects of one kind ("group", "user",
  // "application", "directoryRole"): (graph id, display name) pairs.
  static Status ApplyGroupSync(Tx& tx, int64_t tenant_id, const std::string& kind,
                               const std::vector<std::pair<std::string, std::string>>& listed,
                               int64_t now_ms);

  // Adds a version unless the newest one has the same content hash; returns
  // the version kept and whether it was unchanged.
  struct Stored {
    int64_t version_id = 0, version = 0;
    bool unchanged = false;
  };
  static Result<Stored> StoreVersion(Tx& tx, int64_t tenant_id, int64_t policy_id,
                                     const std::string& payload, const std::string& assignments,
                                     const std::string& content_hash, int64_t run_id,
                                     int64_t now_ms);
  // Newest first; `before_version` is the cursor.
  static Result<std::vector<VersionRecord>> Versions(Tx& tx, int64_t tenant_id, int64_t policy_id,
                                                     std::optional<int64_t> before_version,
                                                     int64_t limit);
  static Result<std::optional<VersionRecord>> Version(Tx& tx, int64_t tenant_id, int64_t policy_id,
                                                      int64_t version);

  // Groups, ordered by display name, then graph id.
  static Result<std::vector<GroupRecord>> Groups(Tx& tx, int64_t tenant_id, int64_t limit,
                                                 int64_t offset);
  // The display name of a directory object (any kind).
  static Result<std::optional<std::string>> GroupName(Tx& tx, int64_t tenant_id,
                                                      const std::string& graph_id);
  // Directory objects of `kind` (not gone) with this display name.
  static Result<std::vector<GroupRecord>> GroupsNamed(Tx& tx, int64_t tenant_id,
                                                      const std::string& display_name,
                                                      const std::string& kind = "group");
  // Every Graph id the tenant's inventory knows (groups and objects, gone or
  // not): what must never be sent to another tenant.
  static Result<std::vector<std::string>> KnownGraphIds(Tx& tx, int64_t tenant_id);

  // Display names of the tenant's directory objects and policies (by Graph
  // id) among `ids`, for documents.
  static Result<std::map<std::string, std::string>> NamesOf(Tx& tx, int64_t tenant_id,
                                                            const std::vector<std::string>& ids);

  // Settings catalog setting definitions cached for the tenant.
  struct SettingDefinition {
    std::string id, display_name;
    std::string options;  // JSON object: option itemId -> display name
  };
  // Those of `ids` the tenant has no definition for.
  static Result<std::vector<std::string>> MissingDefinitions(Tx& tx, int64_t tenant_id,
                                                             const std::vector<std::string>& ids);
  static Status PutDefinition(Tx& tx, int64_t tenant_id, const SettingDefinition& d,
                              int64_t now_ms);
  static Result<std::map<std::string, SettingDefinition>> Definitions(
      Tx& tx, int64_t tenant_id, const std::vector<std::string>& ids);
};

}  // namespace ta::store
