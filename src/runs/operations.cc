#include "runs/operations.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/idempotency.h"

namespace ta::runs {

using nlohmann::json;

namespace {

php::Value IdList(const std::vector<int64_t>& ids) {
  std::vector<php::Value> v(ids.begin(), ids.end());
  return php::Value(php::MakeList(std::move(v)));
}

// operator or owner of the tenant?
Result<bool> CanOperate(store::Tx& tx, int64_t user, int64_t tenant) {
  auto rows = tx.Query("SELECT role FROM memberships WHERE user_id = $1 AND tenant_id = $2",
                       {user, tenant});
  if (!rows) return Unexpected(rows.error());
  return !rows->empty() &&
         (rows->front().Text(0) == "operator" || rows->front().Text(0) == "owner");
}

}  // namespace

Result<StartResult> StartInventorySync(RunService& runs, int64_t tenant_id,
                                       std::optional<int64_t> user) {
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = kInventorySync;
  req.initiator_user_id = user;
  return runs.Start(req);
}

Result<StartResult> StartCaptureSnapshot(RunService& runs, store::Database& db, int64_t tenant_id,
                                         int64_t policy_id, std::optional<int64_t> user) {
  auto found = store::ReadResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto r = tx.Query("SELECT tenant_id FROM policies WHERE id = $1", {policy_id});
    if (!r) return Unexpected(r.error());
    if (r->empty())
      return Unexpected(
          Status::NotFound("policy_id: policy " + std::to_string(policy_id) + " does not exist"));
    if (r->front().Int(0) != tenant_id)
      return Unexpected(Status::PermissionDenied("policy_id: policy " + std::to_string(policy_id) +
                                                 " belongs to another tenant"));
    return policy_id;
  });
  if (!found) return Unexpected(found.error());
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = kCaptureSnapshot;
  req.target_id = std::to_string(policy_id);  // the seed's key: tenant + type + policy DB id
  req.initiator_user_id = user;
  req.params = json{{"policy_id", policy_id}}.dump();
  req.total = 1;
  return runs.Start(req);
}

Result<StartResult> StartBackupSet(RunService& runs, store::Database& db, int64_t tenant_id,
                                   const std::string& name,
                                   std::optional<std::vector<int64_t>> policy_ids,
                                   std::optional<int64_t> user) {
  if (name.empty() || name.size() > 200) {
    return Unexpected(Status::InvalidArgument("name: must be 1 to 200 characters"));
  }
  auto total = store::ReadResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    if (policy_ids) {
      if (policy_ids->empty())
        return Unexpected(
            Status::InvalidArgument("policy_ids: select at least one policy, or omit it for all"));
      auto r = tx.Query("SELECT COUNT(*) FROM policies WHERE tenant_id = $1 AND " +
                            store::InIdArray(tx.backend(), "id", 2),
                        {tenant_id, store::IdArray(tx.backend(), *policy_ids)});
      if (!r) return Unexpected(r.error());
      std::vector<int64_t> unique = *policy_ids;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      if (r->front().Int(0) != static_cast<int64_t>(unique.size()))
        return Unexpected(
            Status::InvalidArgument("policy_ids: some ids are not policies of this tenant"));
      return static_cast<int64_t>(unique.size());
    }
    auto r = tx.Query("SELECT COUNT(*) FROM policies WHERE tenant_id = $1 AND gone_at IS NULL",
                      {tenant_id});
    if (!r) return Unexpected(r.error());
    return r->front().Int(0);
  });
  if (!total) return Unexpected(total.error());
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = kBackupSetCreate;
  req.initiator_user_id = user;
  php::Array ctx;
  ctx.push_back({std::string("name"), php::Value(name)});
  ctx.push_back(
      {std::string("policy_ids"), policy_ids ? IdList(*policy_ids) : php::Value(nullptr)});
  req.key_context = php::Value(std::move(ctx));
  json params = {{"name", name}, {"policy_ids", policy_ids ? json(*policy_ids) : json()}};
  if (user) params["user_id"] = *user;
  req.params = params.dump();
  req.total = *total;
  return runs.Start(req);
}

Result<StartResult> StartRestore(RunService& runs, store::Database& db, const RestoreRequest& r,
                                 bool execute) {
  for (const auto& [src, dst] : r.group_mapping) {
    if (src.empty() || dst.empty())
      return Unexpected(
          Status::InvalidArgument("group_mapping: source and target group ids must be non-empty"));
  }
  auto total = store::ReadResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    for (int64_t tenant : {r.source_tenant_id, r.target_tenant_id}) {
      auto ok = CanOperate(tx, r.actor_user_id, tenant);
      if (!ok) return Unexpected(ok.error());
      if (!*ok) {
        return Unexpected(Status::PermissionDenied(
            "restoring needs the operator or owner role in both the source and the target tenant; "
            "user " +
            std::to_string(r.actor_user_id) + " lacks it in tenant " + std::to_string(tenant)));
      }
    }
    auto set = tx.Query("SELECT tenant_id FROM backup_sets WHERE id = $1", {r.backup_set_id});
    if (!set) return Unexpected(set.error());
    if (set->empty())
      return Unexpected(Status::NotFound("backup_set_id: backup set " +
                                         std::to_string(r.backup_set_id) + " does not exist"));
    if (set->front().Int(0) != r.source_tenant_id)
      return Unexpected(
          Status::PermissionDenied("backup_set_id: the backup set belongs to another tenant"));
    auto count = r.item_ids
                     ? tx.Query("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1 AND " +
                                    store::InIdArray(tx.backend(), "id", 2),
                                {r.backup_set_id, store::IdArray(tx.backend(), *r.item_ids)})
                     : tx.Query("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1",
                                {r.backup_set_id});
    if (!count) return Unexpected(count.error());
    if (r.item_ids) {
      std::vector<int64_t> unique = *r.item_ids;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      if (unique.empty())
        return Unexpected(
            Status::InvalidArgument("item_ids: select at least one item, or omit it for all"));
      if (count->front().Int(0) != static_cast<int64_t>(unique.size()))
        return Unexpected(Status::InvalidArgument(
            "item_ids: some ids are not items of backup set " + std::to_string(r.backup_set_id)));
    }
    return count->front().Int(0);
  });
  if (!total) return Unexpected(total.error());

  php::Array mapping;
  for (const auto& [k, v] : r.group_mapping)
    mapping.push_back({php::NormalizeKey(k), php::Value(v)});
  json params = {{"source_tenant_id", r.source_tenant_id},
                 {"backup_set_id", r.backup_set_id},
                 {"item_ids", r.item_ids ? json(*r.item_ids) : json()},
                 {"group_mapping", r.group_mapping},
                 {"user_id", r.actor_user_id}};
  StartRequest req;
  req.tenant_id = r.target_tenant_id;
  req.type = execute ? kRestoreExecute : kRestorePreview;
  req.target_id = std::to_string(r.backup_set_id);
  req.initiator_user_id = r.actor_user_id;
  req.params = params.dump();
  req.total = *total;
  if (execute) {
    auto key = RestoreExecuteKey(r.target_tenant_id, r.backup_set_id, r.item_ids,
                                 php::Value(std::move(mapping)));
    if (!key) return Unexpected(key.error());
    return runs.StartWithKey(req, *key);
  }
  php::Array ctx;
  ctx.push_back({std::string("scope"), r.item_ids ? IdList(*r.item_ids) : php::Value(nullptr)});
  ctx.push_back({std::string("group_mapping"), php::Value(std::move(mapping))});
  ctx.push_back({std::string("source_tenant_id"), php::Value(r.source_tenant_id)});
  req.key_context = php::Value(std::move(ctx));
  return runs.Start(req);
}

Result<json> SuggestGroupMapping(store::Database& db, int64_t source_tenant, int64_t target_tenant,
                                 int64_t set_id) {
  return store::ReadResult<json>(db, [&](store::Tx& tx) -> Result<json> {
    auto items =
        tx.Query("SELECT assignments FROM backup_items WHERE backup_set_id = $1 AND tenant_id = $2",
                 {set_id, source_tenant});
    if (!items) return Unexpected(items.error());
    std::set<std::string> groups;
    for (const auto& row : *items) {
      for (const auto& a : json::parse(row.Text(0), nullptr, false)) {
        if (a.contains("target") && a["target"].contains("groupId") &&
            a["target"]["groupId"].is_string())
          groups.insert(a["target"]["groupId"].get<std::string>());
      }
    }
    json out = json::array();
    for (const auto& g : groups) {
      auto src =
          tx.Query("SELECT display_name FROM tenant_groups WHERE tenant_id = $1 AND graph_id = $2",
                   {source_tenant, g});
      if (!src) return Unexpected(src.error());
      const std::string name = src->empty() ? "" : src->front().Text(0);
      json row = {{"source_group_id", g},
                  {"source_name", name},
                  {"target_group_id", nullptr},
                  {"target_name", nullptr},
                  {"suggested", false}};
      if (!name.empty()) {
        auto dst = tx.Query(
            "SELECT graph_id, display_name FROM tenant_groups WHERE tenant_id = $1 AND "
            "display_name = $2 AND "
            "gone_at IS NULL",
            {target_tenant, name});
        if (!dst) return Unexpected(dst.error());
        if (dst->size() == 1) {  // ambiguous names are not suggested
          row["target_group_id"] = dst->front().Text(0);
          row["target_name"] = dst->front().Text(1);
          row["suggested"] = true;
        }
      }
      out.push_back(row);
    }
    return out;
  });
}

}  // namespace ta::runs
