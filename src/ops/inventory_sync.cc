// inventory.sync: list every catalog type (all pages) and the tenant's
// directory objects policies refer to (groups, users, applications, roles);
// upsert them; mark what disappeared from Intune as gone (never delete).
#include <algorithm>

#include "catalog/catalog.h"
#include "ops/handlers.h"
#include "ops/ops_common.h"
#include "store/inventory.h"

namespace ta::ops {

using nlohmann::json;

std::vector<std::string> SyncRefs() {
  std::vector<std::string> refs;
  for (const auto& type : catalog::Catalog()) refs.push_back("type:" + std::string(type.name));
  for (const auto& d : kDirectory) refs.push_back(d.ref);
  return refs;
}

namespace {

constexpr size_t kListConcurrency = 8;

// The list is not read (roles known to lack its permission) or Graph refused
// it (403): skipped, naming the permission; what was synced before stays.
Next NotPermitted(jobs::JobContext& ctx, const std::string& ref, std::string_view collection,
                  const std::string& what) {
  return Record(ctx, MissingPermissionItem(ref, "list", what,
                                           std::string(catalog::ReadPermission(collection))));
}

Next SyncType(jobs::JobContext& ctx, graph::GraphReader& reader,
              const std::vector<std::string>& refs, const catalog::PolicyType& type,
              const std::optional<std::vector<std::string>>& roles) {
  const int64_t tenant = ctx.job().tenant_id;
  const std::string ref = "type:" + std::string(type.name);
  const std::string what(catalog::TypeTitle(type.name));
  if (MissingReadPermission(roles, type.collection))
    return NotPermitted(ctx, ref, type.collection, what);
  auto items = graph::ListAll(reader, std::string(type.collection));
  if (!items && items.error().http_status == 403)
    return NotPermitted(ctx, ref, type.collection, what);
  if (!items) return GraphFailed(ctx, refs, ref, "list", items.error());
  std::vector<store::SyncedPolicy> listed;
  for (const auto& p : *items) {
    store::SyncedPolicy sp;
    sp.graph_id = p.value("id", "");
    sp.display_name = p.value(std::string(type.display_name_field), "");
    if (std::string platform = catalog::PlatformOf(type, p); !platform.empty())
      sp.platform = std::move(platform);
    sp.odata_type = p.value("@odata.type", "");
    sp.last_modified_at = p.value("lastModifiedDateTime", "");
    listed.push_back(std::move(sp));
  }
  const int64_t now = NowMs(ctx);
  Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
    auto gone = store::Inventory::ApplySync(tx, tenant, std::string(type.name), listed, now);
    if (!gone) return gone.error();
    store::RunItem item;
    item.item_ref = ref;
    item.status = "synced";
    item.action = "list";
    item.details = json{{"count", items->size()}, {"gone", *gone}}.dump();
    return store::RunsRepository::UpsertItem(tx, tenant, *ctx.job().run_id, item, now);
  });
  if (!s.ok()) return ItemNotRecorded(ref, s);
  return std::nullopt;
}

// The directory objects policies refer to: a list of (id, name).
Next SyncDirectory(jobs::JobContext& ctx, graph::GraphReader& reader,
                   const std::vector<std::string>& refs, const DirectoryList& d,
                   const std::optional<std::vector<std::string>>& roles) {
  const int64_t tenant = ctx.job().tenant_id;
  if (MissingReadPermission(roles, d.path)) return NotPermitted(ctx, d.ref, d.path, d.ref);
  auto all = graph::ListAll(reader, d.path);
  if (!all && all.error().http_status == 403) return NotPermitted(ctx, d.ref, d.path, d.ref);
  if (!all) return GraphFailed(ctx, refs, d.ref, "list", all.error());
  std::vector<std::pair<std::string, std::string>> listed;
  for (const auto& o : *all)
    if (o.contains(d.id_field) && o[d.id_field].is_string())
      listed.emplace_back(o[d.id_field], o.value("displayName", ""));
  const int64_t now = NowMs(ctx);
  Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
    TA_RETURN_IF_ERROR(store::Inventory::ApplyGroupSync(tx, tenant, d.kind, listed, now));
    store::RunItem item;
    item.item_ref = d.ref;
    item.status = "synced";
    item.action = "list";
    item.details = json{{"count", listed.size()}}.dump();
    return store::RunsRepository::UpsertItem(tx, tenant, *ctx.job().run_id, item, now);
  });
  if (!s.ok()) return ItemNotRecorded(d.ref, s);
  return std::nullopt;
}

}  // namespace

// Each list is independent: a few run at once (a sync is ~40 lists, so at
// Graph's latency one after another it would take seconds per tenant).
Next SyncInventory(jobs::JobContext& ctx, graph::GraphReader& reader,
                   const std::vector<std::string>& refs) {
  const auto& types = catalog::Catalog();
  const size_t lists = types.size() + std::size(kDirectory);
  const auto roles = GrantedRoles(reader);
  return ForEachConcurrently(ctx, refs, lists, kListConcurrency, [&](size_t i) -> Next {
    if (i < types.size()) return SyncType(ctx, reader, refs, types[i], roles);
    return SyncDirectory(ctx, reader, refs, kDirectory[i - types.size()], roles);
  });
}

Next SyncOnce(jobs::JobContext& ctx, graph::GraphReader& reader, std::vector<std::string>& refs) {
  refs = SyncRefs();
  auto done = ExistingItems(ctx);
  if (!done) return JobFailure(done.error());
  if (std::all_of(refs.begin(), refs.end(), [&](const std::string& r) { return Done(*done, r); }))
    return std::nullopt;
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size())); !s.ok()) return JobFailure(s);
  return SyncInventory(ctx, reader, refs);
}

jobs::JobResult RunInventorySync(jobs::JobContext& ctx, OpsContext& ops) {
  auto reader = ops.graph.Reader(ctx.job().tenant_id, AbortFor(ctx));
  if (!reader) return JobFailure(reader.error());
  const std::vector<std::string> refs = SyncRefs();
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size())); !s.ok()) return JobFailure(s);
  if (auto stop = SyncInventory(ctx, **reader, refs)) return *stop;
  return Finish(ctx, refs);
}

}  // namespace ta::ops
