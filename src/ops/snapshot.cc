// policy.capture_snapshot and backup_set.create: complete captures stored as
// immutable versions; identical content makes no new version ("unchanged").
#include <algorithm>
#include <nlohmann/json.hpp>

#include "ops/capture.h"
#include "ops/handlers.h"
#include "ops/ops_common.h"
#include "runs/run_params.h"
#include "store/backup_sets.h"
#include "store/inventory.h"
#include "store/write_batcher.h"

namespace ta::ops {

using nlohmann::json;

namespace {

constexpr size_t kCaptureConcurrency = 8;

using store::PolicyRecord;

}  // namespace

Result<std::vector<PolicyRecord>> LoadPolicies(store::Database& db, int64_t tenant,
                                               const std::optional<std::vector<int64_t>>& ids) {
  return store::ReadResult<std::vector<PolicyRecord>>(
      db, [&](store::Tx& tx) { return store::Inventory::PoliciesToCapture(tx, tenant, ids); });
}

namespace {

// Caches the setting definitions a captured policy uses and the tenant does
// not have yet (names for documentation export). Best effort: a definition
// Graph does not give is shown by its id in documents; the capture itself is
// not affected.
void CacheDefinitions(jobs::JobContext& ctx, graph::GraphReader& reader, const json& payload) {
  const std::vector<std::string> ids = catalog::SettingDefinitionIds(payload);
  if (ids.empty()) return;
  const int64_t tenant = ctx.job().tenant_id;
  auto missing = store::ReadResult<std::vector<std::string>>(ctx.db(), [&](store::Tx& tx) {
    return store::Inventory::MissingDefinitions(tx, tenant, ids);
  });
  if (!missing) return;
  for (const auto& id : *missing) {
    auto d = reader.Get("deviceManagement/configurationSettings/" + id);
    if (!d || !d->is_object()) continue;
    json options = json::object();
    for (const auto& o : d->value("options", json::array()))
      if (o.is_object() && o.contains("itemId") && o["itemId"].is_string())
        options[o["itemId"].get<std::string>()] = o.value("displayName", "");
    store::Inventory::SettingDefinition def{id, d->value("displayName", id), options.dump()};
    (void)ctx.db().Write([&](store::Tx& tx) {
      return store::Inventory::PutDefinition(tx, tenant, def, NowMs(ctx));
    });
  }
}

// Captures one policy into a new or reused version (and, with a set, a
// backup item), and records the item's outcome in the same transaction.
// nullopt: stored, go on; else the result that ends the attempt.
Next CaptureOne(jobs::JobContext& ctx, graph::GraphReader& reader, const SecretBox& box,
                const PolicyRecord& p, std::optional<int64_t> backup_set_id,
                const std::vector<std::string>& refs, store::WriteBatcher& writes,
                const std::optional<std::vector<std::string>>& roles) {
  const std::string ref = "policy:" + std::to_string(p.id);
  const catalog::PolicyType* type = catalog::FindPolicyType(p.type);
  if (!type) {
    return Record(ctx, FailedItem(ref, "capture", "unsupported_type",
                                  "policy type '" + p.type + "' is not in the catalog"));
  }
  // A type the app may not read is skipped, naming the permission to grant.
  auto not_permitted = [&] {
    store::RunItem item = MissingPermissionItem(
        ref, "capture", std::string(catalog::TypeTitle(type->name)) + " \"" + p.display_name + "\"",
        std::string(catalog::ReadPermission(type->collection)));
    item.graph_id = p.graph_id;
    return Record(ctx, item);
  };
  if (MissingReadPermission(roles, type->collection)) return not_permitted();
  auto captured = CapturePolicy(reader, *type, p.graph_id, box);
  if (!captured && captured.error().http_status == 403) return not_permitted();
  if (!captured) return GraphFailed(ctx, refs, ref, "capture", captured.error());
  CacheDefinitions(ctx, reader, captured->payload);
  const int64_t tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  // Concurrent captures of this run commit together (store/write_batcher.h).
  Status s = writes.Write([&](store::Tx& tx) -> Status {
    const int64_t now = NowMs(ctx);
    const std::string payload = captured->payload.dump();
    const std::string assignments = captured->assignments.dump();
    auto stored = store::Inventory::StoreVersion(tx, tenant, p.id, payload, assignments,
                                                 captured->content_hash, run, now);
    if (!stored) return stored.error();
    if (backup_set_id) {
      store::BackupItemRecord item;
      item.tenant_id = tenant;
      item.backup_set_id = *backup_set_id;
      item.policy_id = p.id;
      item.policy_version_id = stored->version_id;
      item.type = p.type;
      item.graph_id = p.graph_id;
      item.display_name = p.display_name;
      item.content_hash = captured->content_hash;
      item.created_at = now;
      TA_RETURN_IF_ERROR(store::BackupSets::AddItem(tx, item));
    }
    store::RunItem item;
    item.item_ref = ref;
    item.status = stored->unchanged ? "unchanged" : "captured";
    item.action = "capture";
    item.graph_id = p.graph_id;
    item.details =
        json{{"version", stored->version}, {"policy_version_id", stored->version_id}}.dump();
    return store::RunsRepository::UpsertItem(tx, tenant, run, item, now);
  });
  // The capture is not stored: that is a store fault, not the item's outcome,
  // so the attempt ends and the resumed job captures the item again.
  if (!s.ok()) return ItemNotRecorded(ref, s);
  return std::nullopt;
}

}  // namespace

Next CaptureAll(jobs::JobContext& ctx, graph::GraphReader& reader, const SecretBox& box,
                const std::vector<store::PolicyRecord>& policies,
                std::optional<int64_t> backup_set_id, const std::vector<std::string>& refs,
                size_t first_policy, const ItemMap& done) {
  // Captures are independent reads: a few run at once.
  store::WriteBatcher writes(ctx.db());
  const auto roles = GrantedRoles(reader);
  return ForEachConcurrently(ctx, refs, policies.size(), kCaptureConcurrency, [&](size_t i) -> Next {
    if (Done(done, refs[first_policy + i])) return std::nullopt;
    return CaptureOne(ctx, reader, box, policies[i], backup_set_id, refs, writes, roles);
  });
}

jobs::JobResult RunCaptureSnapshot(jobs::JobContext& ctx, OpsContext& ops) {
  auto params = runs::CaptureParams::Parse(ctx.job().payload);
  if (!params) return jobs::JobResult::Fail(params.error());
  const int64_t policy_id = params->policy_id;
  auto reader = ops.graph.Reader(ctx.job().tenant_id, AbortFor(ctx));
  if (!reader) return JobFailure(reader.error());
  auto policies = LoadPolicies(ctx.db(), ctx.job().tenant_id, std::vector<int64_t>{policy_id});
  if (!policies) return JobFailure(policies.error());
  if (policies->empty())
    return jobs::JobResult::Fail(Status::NotFound("policy " + std::to_string(policy_id)));
  const std::vector<std::string> refs = {"policy:" + std::to_string(policy_id)};
  store::WriteBatcher writes(ctx.db());
  if (auto stop = CaptureOne(ctx, **reader, ops.box, policies->front(), std::nullopt, refs, writes,
                             GrantedRoles(**reader)))
    return *stop;
  return Finish(ctx, refs);
}

jobs::JobResult RunBackupSetCreate(jobs::JobContext& ctx, OpsContext& ops) {
  auto params = runs::BackupSetParams::Parse(ctx.job().payload);
  if (!params) return jobs::JobResult::Fail(params.error());
  const int64_t tenant = ctx.job().tenant_id, run = *ctx.job().run_id;
  const std::optional<std::vector<int64_t>>& ids = params->policy_ids;
  // The set row is created once per run (a retried job finds it).
  auto set_id = store::WriteResult<int64_t>(ctx.db(), [&](store::Tx& tx) {
    return store::BackupSets::ForRun(tx, tenant, run, params->name, "", params->user_id,
                                     NowMs(ctx));
  });
  if (!set_id) return JobFailure(set_id.error());
  auto reader = ops.graph.Reader(tenant, AbortFor(ctx));
  if (!reader) return JobFailure(reader.error());
  // A scheduled backup syncs first (once: a resumed job whose sync items are
  // all recorded goes straight to the captures), so new policies are in it
  // and deleted ones are not.
  std::vector<std::string> refs;
  if (params->sync_first) {
    if (auto stop = SyncOnce(ctx, **reader, refs)) return *stop;
  }
  auto policies = LoadPolicies(ctx.db(), tenant, ids);
  if (!policies) return JobFailure(policies.error());
  const size_t drift = params->detect_drift ? 1 : 0;
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size() + policies->size() + drift));
      !s.ok())
    return JobFailure(s);
  auto done = ExistingItems(ctx);
  if (!done) return JobFailure(done.error());
  const size_t first_policy = refs.size();
  for (const auto& p : *policies) refs.push_back("policy:" + std::to_string(p.id));
  if (drift) refs.push_back(kDriftFindingsRef);
  if (auto stop = CaptureAll(ctx, **reader, ops.box, *policies, *set_id, refs, first_policy, *done))
    return *stop;
  // A scheduled backup that also detects drift compares the new set with the baseline.
  if (drift && !Done(*done, kDriftFindingsRef)) {
    if (auto stop = DetectDrift(ctx, **reader, *set_id, refs)) return *stop;
  }
  return Finish(ctx, refs);
}

}  // namespace ta::ops
