// inventory.sync: list every catalog type (all pages) and the tenant's groups;
// upsert them; mark what disappeared from Intune as gone (never delete).
#include "graph/catalog.h"
#include "ops/handlers.h"
#include "ops/ops_common.h"

namespace ta::ops {

using nlohmann::json;

jobs::JobResult RunInventorySync(jobs::JobContext& ctx, OpsContext& ops) {
  const int64_t tenant = ctx.job().tenant_id;
  auto reader = ops.graph.Reader(tenant, AbortFor(ctx));
  if (!reader) return JobFailure(reader.error());
  std::vector<std::string> refs;
  for (const auto& type : graph::Catalog()) refs.push_back("type:" + std::string(type.name));
  refs.push_back("groups");
  if (Status s = SetTotal(ctx, static_cast<int64_t>(refs.size())); !s.ok()) return JobFailure(s);
  for (const auto& type : graph::Catalog()) {
    const std::string ref = "type:" + std::string(type.name);
    if (ctx.CancelRequested()) return CancelRemaining(ctx, refs);
    if (ctx.ShuttingDown()) return jobs::JobResult::Release();
    auto items = graph::ListAll(**reader, std::string(type.collection));
    if (!items) {
      if (auto stop = GraphFailed(ctx, refs, ref, "list", items.error())) return *stop;
      continue;
    }
    const int64_t now = NowMs(ctx);
    Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
      for (const auto& p : *items) {
        const std::string name = p.value(std::string(type.display_name_field), "");
        std::string platform;
        if (!type.platform_field.empty() && p.contains(type.platform_field) &&
            p[type.platform_field].is_string())
          platform = p[type.platform_field];
        auto r = tx.Exec(
            "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, platform, "
            "odata_type, "
            "last_modified_at, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (tenant_id, policy_type, graph_id) DO UPDATE SET display_name = "
            "excluded.display_name, "
            "platform = excluded.platform, odata_type = excluded.odata_type, "
            "last_modified_at = excluded.last_modified_at, synced_at = excluded.synced_at, gone_at "
            "= NULL",
            {tenant, std::string(type.name), p.value("id", ""), name, platform,
             p.value("@odata.type", ""), p.value("lastModifiedDateTime", ""), now});
        if (!r) return r.error();
      }
      auto gone = tx.Exec(
          "UPDATE policies SET gone_at = $1 WHERE tenant_id = $2 AND policy_type = $3 AND "
          "synced_at <> $1 AND "
          "gone_at IS NULL",
          {now, tenant, std::string(type.name)});
      if (!gone) return gone.error();
      store::RunItem item;
      item.item_ref = ref;
      item.status = "synced";
      item.action = "list";
      item.details = json{{"count", items->size()}, {"gone", *gone}}.dump();
      return store::RunsRepository::UpsertItem(tx, tenant, *ctx.job().run_id, item, now);
    });
    if (!s.ok()) return ItemNotRecorded(ref, s);
  }
  if (ctx.CancelRequested()) return CancelRemaining(ctx, refs);
  auto groups = graph::ListAll(**reader, "groups");
  if (!groups) {
    if (auto stop = GraphFailed(ctx, refs, "groups", "list", groups.error())) return *stop;
    return Finish(ctx, refs);
  }
  const int64_t now = NowMs(ctx);
  Status s = ctx.db().Write([&](store::Tx& tx) -> Status {
    for (const auto& g : *groups) {
      auto r = tx.Exec(
          "INSERT INTO tenant_groups (tenant_id, graph_id, display_name, synced_at) VALUES ($1, "
          "$2, $3, $4) "
          "ON CONFLICT (tenant_id, graph_id) DO UPDATE SET display_name = excluded.display_name, "
          "synced_at = excluded.synced_at, gone_at = NULL",
          {tenant, g.value("id", ""), g.value("displayName", ""), now});
      if (!r) return r.error();
    }
    auto gone =
        tx.Exec("UPDATE tenant_groups SET gone_at = $1 WHERE tenant_id = $2 AND synced_at <> $1",
                {now, tenant});
    if (!gone) return gone.error();
    store::RunItem item;
    item.item_ref = "groups";
    item.status = "synced";
    item.action = "list";
    item.details = json{{"count", groups->size()}}.dump();
    return store::RunsRepository::UpsertItem(tx, tenant, *ctx.job().run_id, item, now);
  });
  if (!s.ok()) return ItemNotRecorded("groups", s);
  return Finish(ctx, refs);
}

}  // namespace ta::ops
