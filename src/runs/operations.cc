#include "runs/operations.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "core/idempotency.h"
#include "runs/run_params.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/inventory.h"

namespace ta::runs {

using nlohmann::json;

namespace {

php::Value IdList(const std::vector<int64_t>& ids) {
  std::vector<php::Value> v(ids.begin(), ids.end());
  return php::Value(php::MakeList(std::move(v)));
}

// operator or owner of the tenant?
Result<bool> CanOperate(store::Tx& tx, int64_t user, int64_t tenant) {
  auto role = store::Accounts::RoleOf(tx, user, tenant);
  if (!role) return Unexpected(role.error());
  return *role && store::RoleRank(**role) >= store::RoleRank("operator");
}

// A run about the whole tenant, with no parameters: its key is the tenant and type.
Result<StartResult> StartTenantRun(RunService& runs, int64_t tenant_id, const char* type,
                                   std::optional<int64_t> user) {
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = type;
  req.initiator_user_id = user;
  return runs.Start(req);
}

}  // namespace

Result<StartResult> StartInventorySync(RunService& runs, int64_t tenant_id,
                                       std::optional<int64_t> user) {
  return StartTenantRun(runs, tenant_id, kInventorySync, user);
}

Result<StartResult> StartConnectionCheck(RunService& runs, int64_t tenant_id,
                                         std::optional<int64_t> user) {
  return StartTenantRun(runs, tenant_id, kConnectionCheck, user);
}

Result<StartResult> StartCaptureSnapshot(RunService& runs, int64_t tenant_id, int64_t policy_id,
                                         std::optional<int64_t> user) {
  StartRequest req;
  req.policy_id = policy_id;
  req.tenant_id = tenant_id;
  req.type = kCaptureSnapshot;
  req.target_id = std::to_string(policy_id);  // the seed's key: tenant + type + policy DB id
  req.initiator_user_id = user;
  req.params = CaptureParams{policy_id}.ToJson();
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
      auto owned = store::Inventory::CountOwned(tx, tenant_id, *policy_ids);
      if (!owned) return Unexpected(owned.error());
      std::vector<int64_t> unique = *policy_ids;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      if (*owned != static_cast<int64_t>(unique.size()))
        return Unexpected(
            Status::InvalidArgument("policy_ids: some ids are not policies of this tenant"));
      return static_cast<int64_t>(unique.size());
    }
    return store::Inventory::CountActive(tx, tenant_id);
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
  BackupSetParams params;
  params.name = name;
  params.policy_ids = policy_ids;
  params.user_id = user;
  req.params = params.ToJson();
  req.total = *total;
  return runs.Start(req);
}

Result<StartResult> StartScheduledBackup(RunService& runs, const ScheduledBackup& r) {
  StartRequest req;
  req.tenant_id = r.tenant_id;
  req.type = kScheduledBackup;
  req.target_id = std::to_string(r.schedule_id);
  req.initiator_user_id = r.user_id;
  BackupSetParams params;
  params.name = r.set_name;
  params.user_id = r.user_id;
  params.sync_first = true;
  params.schedule_id = r.schedule_id;
  params.slot_at = r.slot_at;
  params.detect_drift = r.detect_drift;
  req.params = params.ToJson();
  req.in_same_tx = r.in_same_tx;
  return runs.Start(req);
}

Result<StartResult> StartTenantRetention(RunService& runs, int64_t tenant_id,
                                         std::optional<int64_t> user_id) {
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = kTenantRetention;
  req.initiator_user_id = user_id;
  req.params = nlohmann::json{{"tenant", true}}.dump();
  return runs.Start(req);
}

Result<StartResult> StartDriftDetection(RunService& runs, int64_t tenant_id,
                                        std::optional<int64_t> user_id,
                                        const ScheduledBackup* scheduled) {
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = kDriftDetect;
  req.initiator_user_id = user_id;
  DriftParams params;
  params.user_id = user_id;
  if (scheduled) {
    req.target_id = std::to_string(scheduled->schedule_id);
    params.schedule_id = scheduled->schedule_id;
    params.slot_at = scheduled->slot_at;
    req.in_same_tx = scheduled->in_same_tx;
  }
  req.params = params.ToJson();
  return runs.Start(req);
}

Result<StartResult> StartRetention(RunService& runs, int64_t tenant_id, int64_t schedule_id,
                                   std::optional<int64_t> user_id) {
  StartRequest req;
  req.tenant_id = tenant_id;
  req.type = kScheduleRetention;
  req.target_id = std::to_string(schedule_id);
  req.initiator_user_id = user_id;
  req.params = nlohmann::json{{"schedule_id", schedule_id}}.dump();
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
    auto set = store::BackupSets::Get(tx, r.source_tenant_id, r.backup_set_id);
    if (!set) return Unexpected(set.error().WithContext("backup_set_id"));
    auto count = store::BackupSets::CountItems(tx, r.backup_set_id, r.item_ids);
    if (!count) return Unexpected(count.error());
    if (r.item_ids) {
      std::vector<int64_t> unique = *r.item_ids;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      if (unique.empty())
        return Unexpected(
            Status::InvalidArgument("item_ids: select at least one item, or omit it for all"));
      if (*count != static_cast<int64_t>(unique.size()))
        return Unexpected(Status::InvalidArgument(
            "item_ids: some ids are not items of backup set " + std::to_string(r.backup_set_id)));
    }
    return *count;
  });
  if (!total) return Unexpected(total.error());

  php::Array mapping;
  for (const auto& [k, v] : r.group_mapping)
    mapping.push_back({php::NormalizeKey(k), php::Value(v)});
  if (!ValidConditionalAccessState(r.conditional_access_state))
    return Unexpected(Status::InvalidArgument(
        "conditional_access_state: must be \"report_only\" (the default: conditional access "
        "policies are created in report-only state) or \"as_backed_up\""));
  const RestoreParams params{r.source_tenant_id, r.backup_set_id, r.item_ids,
                             r.group_mapping,    r.actor_user_id, r.conditional_access_state};
  // A non-default option is part of what the run is (the default keeps the
  // PHP system's keys).
  php::Array options;
  if (r.conditional_access_state != "report_only")
    options.push_back(
        {std::string("conditional_access_state"), php::Value(r.conditional_access_state)});
  StartRequest req;
  req.tenant_id = r.target_tenant_id;
  req.type = execute ? kRestoreExecute : kRestorePreview;
  req.target_id = std::to_string(r.backup_set_id);
  req.initiator_user_id = r.actor_user_id;
  req.params = params.ToJson();
  req.total = *total;
  if (execute && r.source_tenant_id != r.target_tenant_id) {
    // The source tenant's log says its backup was restored elsewhere: who,
    // into which tenant, which set, which run (the run id is filled in).
    store::AuditEntry e;
    e.tenant_id = r.source_tenant_id;
    e.actor_user_id = r.actor_user_id;
    e.action = "restore.into_other_tenant";
    e.details =
        nlohmann::json{{"target_tenant", r.target_tenant_id},
                       {"backup_set", r.backup_set_id},
                       {"items", r.item_ids ? nlohmann::json(*r.item_ids) : nlohmann::json()}}
            .dump();
    req.also_audit.push_back(std::move(e));
  }
  if (execute) {
    auto key = RestoreExecuteKey(r.target_tenant_id, r.backup_set_id, r.item_ids,
                                 php::Value(std::move(mapping)), std::move(options));
    if (!key) return Unexpected(key.error());
    return runs.StartWithKey(req, *key);
  }
  php::Array ctx;
  ctx.push_back({std::string("scope"), r.item_ids ? IdList(*r.item_ids) : php::Value(nullptr)});
  ctx.push_back({std::string("group_mapping"), php::Value(std::move(mapping))});
  ctx.push_back({std::string("source_tenant_id"), php::Value(r.source_tenant_id)});
  for (auto& o : options) ctx.push_back(std::move(o));
  req.key_context = php::Value(std::move(ctx));
  return runs.Start(req);
}

namespace {

// The display names of a tenant's objects of the type references of `kind`
// point at (groups: the synced groups), by id; and the ids by name.
struct Names {
  std::map<std::string, std::string> by_id;
  std::map<std::string, std::vector<std::string>> by_name;
};

Result<Names> ObjectNames(store::Tx& tx, int64_t tenant, catalog::RefKind kind, bool include_gone) {
  Names out;
  if (catalog::IsDirectoryKind(kind)) return out;  // looked up one by one (there are many)
  const catalog::PolicyType* type = catalog::TypeReferencedAs(kind);
  if (!type && kind != catalog::RefKind::kPolicy) return out;
  store::PolicyFilter f;  // a policy set's item: an object of any type
  if (type) f.type = std::string(type->name);
  f.include_gone = include_gone;
  f.limit = 100'000;
  auto rows = store::Inventory::ListPolicies(tx, tenant, f);
  if (!rows) return Unexpected(rows.error());
  for (const auto& p : *rows) {
    out.by_id[p.graph_id] = p.display_name;
    if (!p.gone_at) out.by_name[p.display_name].push_back(p.graph_id);
  }
  return out;
}

}  // namespace

Result<json> SuggestMapping(store::Database& db, int64_t source_tenant, int64_t target_tenant,
                            int64_t set_id) {
  return store::ReadResult<json>(db, [&](store::Tx& tx) -> Result<json> {
    auto items = store::BackupSets::Items(tx, source_tenant, set_id, std::nullopt);
    if (!items) return Unexpected(items.error());
    // kind -> source id -> the items that use it
    std::map<catalog::RefKind, std::map<std::string, std::set<std::string>>> refs;
    std::set<std::string> in_set;  // graph ids of the set's own items
    for (const auto& item : *items) {
      in_set.insert(item.graph_id);
      const catalog::PolicyType* type = catalog::FindPolicyType(item.type);
      if (!type) continue;
      const json payload = json::parse(item.payload, nullptr, false);
      const json assignments = json::parse(item.assignments, nullptr, false);
      for (const auto& r : catalog::FindReferences(*type, payload, assignments))
        refs[r.kind][r.id].insert(item.display_name);
    }
    json out = json::array();
    for (const auto& [kind, ids] : refs) {
      auto source = ObjectNames(tx, source_tenant, kind, true);
      if (!source) return Unexpected(source.error());
      auto target = ObjectNames(tx, target_tenant, kind, false);
      if (!target) return Unexpected(target.error());
      json candidates = json::array();
      for (const auto& [name, tids] : target->by_name)
        for (const auto& id : tids) candidates.push_back({{"id", id}, {"name", name}});
      for (const auto& [id, used_by] : ids) {
        std::string name;
        std::vector<std::pair<std::string, std::string>> matches;  // id, name
        if (catalog::IsDirectoryKind(kind)) {
          auto src = store::Inventory::GroupName(tx, source_tenant, id);
          if (!src) return Unexpected(src.error());
          name = src->value_or("");
          if (!name.empty()) {
            auto dst = store::Inventory::GroupsNamed(tx, target_tenant, name,
                                                     std::string(catalog::RefKindName(kind)));
            if (!dst) return Unexpected(dst.error());
            for (const auto& g : *dst) matches.emplace_back(g.graph_id, g.display_name);
          }
        } else {
          auto it = source->by_id.find(id);
          name = it == source->by_id.end() ? "" : it->second;
          auto t = target->by_name.find(name);
          if (!name.empty() && t != target->by_name.end())
            for (const auto& tid : t->second) matches.emplace_back(tid, name);
        }
        json row = {{"kind", catalog::RefKindName(kind)},
                    {"source_id", id},
                    {"source_name", name},
                    {"target_id", nullptr},
                    {"target_name", nullptr},
                    {"suggested", false},
                    {"used_by", used_by},
                    {"in_backup", in_set.count(id) > 0}};
        if (matches.size() == 1) {  // ambiguous names are not suggested
          row["target_id"] = matches[0].first;
          row["target_name"] = matches[0].second;
          row["suggested"] = true;
        }
        if (!catalog::IsDirectoryKind(kind)) {
          row["candidates"] = candidates;
        } else if (kind != catalog::RefKind::kGroup) {  // users, apps, roles: the same-named
          json same = json::array();
          for (const auto& [mid, mname] : matches) same.push_back({{"id", mid}, {"name", mname}});
          row["candidates"] = same;
        }
        out.push_back(row);
      }
    }
    return out;
  });
}

}  // namespace ta::runs
