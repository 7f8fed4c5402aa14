#include "store/inventory.h"

#include <algorithm>

#include "store/row_reader.h"
#include "store/runs_repository.h"

namespace ta::store {
namespace {

constexpr const char* kPolicySelect =
    "SELECT p.id, p.policy_type, p.graph_id, p.display_name, p.platform, p.odata_type, "
    "p.last_modified_at, p.gone_at, p.synced_at, "
    "(SELECT MAX(v.version) FROM policy_versions v WHERE v.policy_id = p.id), "
    "(SELECT MAX(v.created_at) FROM policy_versions v WHERE v.policy_id = p.id) "
    "FROM policies p ";

PolicyRecord ReadPolicy(const Row& row) {
  RowReader r(row);
  PolicyRecord p;
  p.id = r.Int();
  p.type = r.Text();
  p.graph_id = r.Text();
  p.display_name = r.Text();
  p.platform = r.OptText();
  p.odata_type = r.OptText();
  p.last_modified_at = r.OptText();
  p.gone_at = r.OptInt();
  p.synced_at = r.Int();
  p.last_version = r.OptInt();
  p.last_captured_at = r.OptInt();
  return p;
}

constexpr const char* kVersionList =
    "SELECT id, policy_id, version, content_hash, run_id, created_at";

VersionRecord ReadVersion(const Row& row, bool with_content) {
  RowReader r(row);
  VersionRecord v;
  v.id = r.Int();
  v.policy_id = r.Int();
  v.version = r.Int();
  v.content_hash = r.Text();
  v.run_id = r.OptInt();
  v.created_at = r.Int();
  if (with_content) {
    v.payload = r.Text();
    v.assignments = r.Text();
  }
  return v;
}

GroupRecord ReadGroup(const Row& row) {
  RowReader r(row);
  GroupRecord g;
  g.graph_id = r.Text();
  g.display_name = r.Text();
  g.gone_at = r.OptInt();
  g.synced_at = r.Int();
  return g;
}

Result<int64_t> Single(Result<Rows> rows) {
  if (!rows) return Unexpected(rows.error());
  return rows->empty() ? 0 : rows->front().Int(0);
}

}  // namespace

Result<PolicyRecord> Inventory::Policy(Tx& tx, int64_t tenant_id, int64_t policy_id) {
  auto rows = QueryAll(tx, std::string(kPolicySelect) + "WHERE p.id = $1 AND p.tenant_id = $2",
                       {policy_id, tenant_id}, ReadPolicy);
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return Unexpected(MissingOrForeign(tx, "policies", policy_id, "policy"));
  return rows->front();
}

Result<std::map<int64_t, std::pair<int64_t, std::string>>> Inventory::PolicyNames(
    Tx& tx, const std::vector<int64_t>& ids) {
  std::map<int64_t, std::pair<int64_t, std::string>> out;
  if (ids.empty()) return out;
  auto rows = tx.Query(
      "SELECT id, tenant_id, display_name FROM policies WHERE " + InIdArray(tx.backend(), "id", 1),
      {IdArray(tx.backend(), ids)});
  if (!rows) return Unexpected(rows.error());
  for (const auto& r : *rows) out[r.Int(0)] = {r.Int(1), r.Text(2)};
  return out;
}

namespace {
// "%text%" for LIKE, lower-cased, with LIKE's own characters escaped by '!'.
std::string LikePattern(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '!') out += '!';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out + "%";
}
}  // namespace

Result<std::vector<PolicyRecord>> Inventory::ListPolicies(Tx& tx, int64_t tenant_id,
                                                          const PolicyFilter& f) {
  return QueryAll(
      tx,
      std::string(kPolicySelect) +
          "WHERE p.tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR p.policy_type = $2) AND "
          "($3 = 1 OR p.gone_at IS NULL) AND p.id > $4 AND "
          "(CAST($6 AS TEXT) IS NULL OR p.platform = $6) AND "
          "(CAST($7 AS TEXT) IS NULL OR LOWER(p.display_name) LIKE $7 ESCAPE '!') "
          "ORDER BY p.id LIMIT $5",
      {tenant_id, f.type ? Param(*f.type) : Param(nullptr), int64_t{f.include_gone ? 1 : 0},
       f.after_id, f.limit, f.platform ? Param(*f.platform) : Param(nullptr),
       f.name_contains ? Param(LikePattern(*f.name_contains)) : Param(nullptr)},
      ReadPolicy);
}

Result<std::vector<PolicyRecord>> Inventory::PoliciesToCapture(
    Tx& tx, int64_t tenant_id, const std::optional<std::vector<int64_t>>& ids) {
  if (ids) {
    return QueryAll(tx,
                    std::string(kPolicySelect) + "WHERE p.tenant_id = $1 AND " +
                        InIdArray(tx.backend(), "p.id", 2) + " ORDER BY p.id",
                    {tenant_id, IdArray(tx.backend(), *ids)}, ReadPolicy);
  }
  return QueryAll(
      tx, std::string(kPolicySelect) + "WHERE p.tenant_id = $1 AND p.gone_at IS NULL ORDER BY p.id",
      {tenant_id}, ReadPolicy);
}

Result<int64_t> Inventory::CountOwned(Tx& tx, int64_t tenant_id, const std::vector<int64_t>& ids) {
  return Single(tx.Query(
      "SELECT COUNT(*) FROM policies WHERE tenant_id = $1 AND " + InIdArray(tx.backend(), "id", 2),
      {tenant_id, IdArray(tx.backend(), ids)}));
}

Result<int64_t> Inventory::CountActive(Tx& tx, int64_t tenant_id) {
  return Single(tx.Query("SELECT COUNT(*) FROM policies WHERE tenant_id = $1 AND gone_at IS NULL",
                         {tenant_id}));
}

Result<int64_t> Inventory::ApplySync(Tx& tx, int64_t tenant_id, const std::string& type,
                                     const std::vector<SyncedPolicy>& listed, int64_t now_ms) {
  for (const auto& p : listed) {
    auto r = tx.Exec(
        "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, platform, "
        "odata_type, last_modified_at, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (tenant_id, policy_type, graph_id) DO UPDATE SET "
        "display_name = excluded.display_name, platform = excluded.platform, "
        "odata_type = excluded.odata_type, last_modified_at = excluded.last_modified_at, "
        "synced_at = excluded.synced_at, gone_at = NULL",
        {tenant_id, type, p.graph_id, p.display_name, p.platform, p.odata_type, p.last_modified_at,
         now_ms});
    if (!r) return Unexpected(r.error());
  }
  return tx.Exec(
      "UPDATE policies SET gone_at = $1 WHERE tenant_id = $2 AND policy_type = $3 AND "
      "synced_at <> $1 AND gone_at IS NULL",
      {now_ms, tenant_id, type});
}

Status Inventory::ApplyGroupSync(Tx& tx, int64_t tenant_id, const std::string& kind,
                                 const std::vector<std::pair<std::string, std::string>>& listed,
                                 int64_t now_ms) {
  for (const auto& [id, name] : listed) {
    auto r = tx.Exec(
        "INSERT INTO tenant_groups (tenant_id, graph_id, display_name, synced_at, kind) VALUES "
        "($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, graph_id) DO UPDATE SET "
        "display_name = excluded.display_name, synced_at = excluded.synced_at, gone_at = NULL, "
        "kind = excluded.kind",
        {tenant_id, id, name, now_ms, kind});
    if (!r) return r.error();
  }
  auto gone = tx.Exec(
      "UPDATE tenant_groups SET gone_at = $1 WHERE tenant_id = $2 AND kind = $3 AND "
      "synced_at <> $1",
      {now_ms, tenant_id, kind});
  return gone ? Status::Ok() : gone.error();
}

Result<Inventory::Stored> Inventory::StoreVersion(Tx& tx, int64_t tenant_id, int64_t policy_id,
                                                  const std::string& payload,
                                                  const std::string& assignments,
                                                  const std::string& content_hash, int64_t run_id,
                                                  int64_t now_ms) {
  auto latest = tx.Query(
      "SELECT id, version, content_hash FROM policy_versions WHERE policy_id = $1 AND "
      "tenant_id = $2 ORDER BY version DESC LIMIT 1",
      {policy_id, tenant_id});
  if (!latest) return Unexpected(latest.error());
  int64_t version = 1;
  if (!latest->empty()) {
    RowReader r(latest->front());
    const int64_t id = r.Int(), newest = r.Int();
    if (r.Text() == content_hash) return Stored{id, newest, true};
    version = newest + 1;
  }
  auto ins = tx.Query(
      "INSERT INTO policy_versions (tenant_id, policy_id, version, payload, assignments, "
      "content_hash, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
      {tenant_id, policy_id, version, payload, assignments, content_hash, run_id, now_ms});
  if (!ins) return Unexpected(ins.error());
  return Stored{ins->front().Int(0), version, false};
}

Result<std::vector<VersionRecord>> Inventory::Versions(Tx& tx, int64_t tenant_id, int64_t policy_id,
                                                       std::optional<int64_t> before_version,
                                                       int64_t limit) {
  return QueryAll(
      tx,
      std::string(kVersionList) +
          " FROM policy_versions WHERE tenant_id = $1 AND policy_id = $2 AND "
          "(CAST($3 AS BIGINT) IS NULL OR version < $3) ORDER BY version DESC "
          "LIMIT $4",
      {tenant_id, policy_id, before_version ? Param(*before_version) : Param(nullptr), limit},
      [](const Row& r) { return ReadVersion(r, false); });
}

Result<std::optional<VersionRecord>> Inventory::Version(Tx& tx, int64_t tenant_id,
                                                        int64_t policy_id, int64_t version) {
  auto rows = tx.Query(std::string(kVersionList) +
                           ", payload, assignments FROM policy_versions WHERE tenant_id = $1 AND "
                           "policy_id = $2 AND version = $3",
                       {tenant_id, policy_id, version});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<VersionRecord>();
  return std::optional<VersionRecord>(ReadVersion(rows->front(), true));
}

Result<std::vector<GroupRecord>> Inventory::Groups(Tx& tx, int64_t tenant_id, int64_t limit,
                                                   int64_t offset) {
  return QueryAll(
      tx,
      "SELECT graph_id, display_name, gone_at, synced_at FROM tenant_groups WHERE tenant_id = "
      "$1 AND kind = 'group' ORDER BY display_name, graph_id LIMIT $2 OFFSET $3",
      {tenant_id, limit, offset}, ReadGroup);
}

Result<std::optional<std::string>> Inventory::GroupName(Tx& tx, int64_t tenant_id,
                                                        const std::string& graph_id) {
  auto rows =
      tx.Query("SELECT display_name FROM tenant_groups WHERE tenant_id = $1 AND graph_id = $2",
               {tenant_id, graph_id});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->front().Text(0));
}

Result<std::vector<GroupRecord>> Inventory::GroupsNamed(Tx& tx, int64_t tenant_id,
                                                        const std::string& display_name,
                                                        const std::string& kind) {
  return QueryAll(
      tx,
      "SELECT graph_id, display_name, gone_at, synced_at FROM tenant_groups WHERE tenant_id = "
      "$1 AND display_name = $2 AND kind = $3 AND gone_at IS NULL",
      {tenant_id, display_name, kind}, ReadGroup);
}

Result<std::map<std::string, std::string>> Inventory::NamesOf(Tx& tx, int64_t tenant_id,
                                                              const std::vector<std::string>& ids) {
  std::map<std::string, std::string> out;
  if (ids.empty()) return out;
  auto rows =
      tx.Query("SELECT graph_id, display_name FROM tenant_groups WHERE tenant_id = $1 AND " +
                   InTextArray(tx.backend(), "graph_id", 2) +
                   " UNION ALL SELECT graph_id, display_name FROM policies WHERE "
                   "tenant_id = $1 AND " +
                   InTextArray(tx.backend(), "graph_id", 2),
               {tenant_id, TextArray(tx.backend(), ids)});
  if (!rows) return Unexpected(rows.error());
  for (const auto& r : *rows) out.emplace(r.Text(0), r.Text(1));
  return out;
}

Result<std::vector<std::string>> Inventory::MissingDefinitions(
    Tx& tx, int64_t tenant_id, const std::vector<std::string>& ids) {
  auto known = Definitions(tx, tenant_id, ids);
  if (!known) return Unexpected(known.error());
  std::vector<std::string> out;
  for (const auto& id : ids)
    if (!known->count(id) && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  return out;
}

Status Inventory::PutDefinition(Tx& tx, int64_t tenant_id, const SettingDefinition& d,
                                int64_t now_ms) {
  auto r = tx.Exec(
      "INSERT INTO setting_definitions (tenant_id, definition_id, display_name, options, "
      "fetched_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, definition_id) DO UPDATE "
      "SET display_name = excluded.display_name, options = excluded.options, "
      "fetched_at = excluded.fetched_at",
      {tenant_id, d.id, d.display_name, d.options, now_ms});
  return r ? Status::Ok() : r.error();
}

Result<std::map<std::string, Inventory::SettingDefinition>> Inventory::Definitions(
    Tx& tx, int64_t tenant_id, const std::vector<std::string>& ids) {
  std::map<std::string, SettingDefinition> out;
  if (ids.empty()) return out;
  auto rows = tx.Query(
      "SELECT definition_id, display_name, options FROM setting_definitions WHERE tenant_id = $1 "
      "AND " +
          InTextArray(tx.backend(), "definition_id", 2),
      {tenant_id, TextArray(tx.backend(), ids)});
  if (!rows) return Unexpected(rows.error());
  for (const auto& r : *rows) out[r.Text(0)] = {r.Text(0), r.Text(1), r.Text(2)};
  return out;
}

Result<std::vector<std::string>> Inventory::KnownGraphIds(Tx& tx, int64_t tenant_id) {
  return QueryAll(tx,
                  "SELECT graph_id FROM tenant_groups WHERE tenant_id = $1 UNION "
                  "SELECT graph_id FROM policies WHERE tenant_id = $1",
                  {tenant_id}, [](const Row& r) { return r.Text(0); });
}

}  // namespace ta::store
