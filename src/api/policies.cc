// Policies, versions, groups, backup sets and restores. Start endpoints only
// validate and start runs (runs/operations.h); the work happens in jobs.
#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/routes.h"
#include "api/views.h"
#include "runs/operations.h"

namespace ta::api::handlers {
namespace {

using nlohmann::json;

constexpr const char* kPolicyCols =
    "p.id, p.policy_type, p.graph_id, p.display_name, p.platform, p.odata_type, "
    "p.last_modified_at, p.gone_at, p.synced_at, "
    "(SELECT MAX(v.version) FROM policy_versions v WHERE v.policy_id = p.id), "
    "(SELECT MAX(v.created_at) FROM policy_versions v WHERE v.policy_id = p.id)";

json PolicyJson(const store::Row& r) {
  auto opt = [&](size_t i) { return r.OptText(i) ? json(*r.OptText(i)) : json(); };
  return {{"id", r.Int(0)},
          {"type", r.Text(1)},
          {"graph_id", r.Text(2)},
          {"display_name", r.Text(3)},
          {"platform", opt(4)},
          {"odata_type", opt(5)},
          {"last_modified_at", opt(6)},
          {"gone", !r.IsNull(7)},
          {"gone_at", Time(r.OptInt(7))},
          {"synced_at", Time(r.Int(8))},
          {"last_snapshot",
           r.IsNull(9) ? json() : json{{"version", r.Int(9)}, {"captured_at", Time(r.Int(10))}}}};
}

// The policy's row when it belongs to the tenant; 403/404 otherwise.
Result<store::Row> OwnedPolicy(store::Tx& tx, int64_t tenant, int64_t policy) {
  auto rows = tx.Query(std::string("SELECT ") + kPolicyCols +
                           " FROM policies p WHERE p.id = $1 AND p.tenant_id = $2",
                       {policy, tenant});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty()) return Unexpected(store::MissingOrForeign(tx, "policies", policy, "policy"));
  return rows->front();
}

// Derived, never stored: a set is complete when its run succeeded and holds
// every policy the run set out to capture.
std::string BackupSetStatus(const std::string& run_status, int64_t held, int64_t expected) {
  if (run_status == "queued" || run_status == "running") return "in_progress";
  return run_status == "succeeded" && held == expected ? "complete" : "incomplete";
}

json BackupSetJson(const store::Row& r) {
  return {{"id", r.Int(0)},
          {"name", r.Text(1)},
          {"description", r.Text(2)},
          {"run_id", r.OptInt(3) ? json(*r.OptInt(3)) : json()},
          {"created_by", r.OptInt(4) ? json(*r.OptInt(4)) : json()},
          {"created_at", Time(r.Int(5))},
          {"item_count", r.Int(6)},
          {"expected_count", r.Int(8)},
          {"status", BackupSetStatus(r.Text(7), r.Int(6), r.Int(8))}};
}

constexpr const char* kSetCols =
    "s.id, s.name, s.description, s.run_id, s.created_by, s.created_at, (SELECT COUNT(*) FROM "
    "backup_items i WHERE i.backup_set_id = s.id), (SELECT r.status FROM runs r WHERE r.id = "
    "s.run_id), (SELECT r.total FROM runs r WHERE r.id = s.run_id)";

Result<Response> Started(Result<runs::StartResult> started) {
  if (!started) return Unexpected(started.error());
  return StartResponse(*started);
}

}  // namespace

Result<Response> ListPolicies(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto gone = QueryEnum(req, "include_gone", {"true", "false"});
  if (!gone) return Unexpected(gone.error());
  const auto type = req.QueryParam("type");
  auto rows = store::ReadResult<store::Rows>(ctx.db, [&](store::Tx& tx) {
    return tx.Query(std::string("SELECT ") + kPolicyCols +
                        " FROM policies p WHERE p.tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR "
                        "p.policy_type = $2) AND ($3 = 1 OR p.gone_at IS NULL) AND p.id > $4 "
                        "ORDER BY p.id LIMIT $5",
                    {req.tenant_id, type ? store::Param(*type) : store::Param(nullptr),
                     int64_t{*gone == std::optional<std::string>("true") ? 1 : 0},
                     page->cursor.value_or(0), page->limit});
  });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  for (const auto& r : *rows) items.push_back(PolicyJson(r));
  return Response::Json(200, PageJson(items, page->limit, *rows, 0));
}

Result<Response> GetPolicy(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  auto row = store::ReadResult<store::Row>(
      ctx.db, [&](store::Tx& tx) { return OwnedPolicy(tx, req.tenant_id, *id); });
  if (!row) return Unexpected(row.error());
  return Response::Json(200, PolicyJson(*row));
}

Result<Response> SyncPolicies(ApiContext& ctx, Request& req) {
  return Started(runs::StartInventorySync(ctx.runs, req.tenant_id, req.user_id()));
}

Result<Response> CapturePolicy(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  return Started(runs::StartCaptureSnapshot(ctx.runs, ctx.db, req.tenant_id, *id, req.user_id()));
}

Result<Response> ListVersions(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto rows = store::ReadResult<store::Rows>(ctx.db, [&](store::Tx& tx) -> Result<store::Rows> {
    if (auto p = OwnedPolicy(tx, req.tenant_id, *id); !p) return Unexpected(p.error());
    return tx.Query(
        "SELECT id, version, content_hash, run_id, created_at FROM policy_versions WHERE "
        "tenant_id = $1 AND policy_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR version < $3) ORDER "
        "BY version "
        "DESC LIMIT $4",
        {req.tenant_id, *id, page->cursor ? store::Param(*page->cursor) : store::Param(nullptr),
         page->limit});
  });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  for (const auto& r : *rows)
    items.push_back({{"id", r.Int(0)},
                     {"version", r.Int(1)},
                     {"content_hash", r.Text(2)},
                     {"run_id", r.OptInt(3) ? json(*r.OptInt(3)) : json()},
                     {"captured_at", Time(r.Int(4))}});
  return Response::Json(200, PageJson(items, page->limit, *rows, 1));
}

Result<Response> GetVersion(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  auto version = PathId(req, "version");
  if (!version) return Unexpected(version.error());
  auto rows = store::ReadResult<store::Rows>(ctx.db, [&](store::Tx& tx) -> Result<store::Rows> {
    if (auto p = OwnedPolicy(tx, req.tenant_id, *id); !p) return Unexpected(p.error());
    return tx.Query(
        "SELECT id, version, content_hash, run_id, created_at, payload, assignments FROM "
        "policy_versions WHERE tenant_id = $1 AND policy_id = $2 AND version = $3",
        {req.tenant_id, *id, *version});
  });
  if (!rows) return Unexpected(rows.error());
  if (rows->empty())
    return Unexpected(Status::NotFound("version: policy " + std::to_string(*id) +
                                       " has no version " + std::to_string(*version)));
  const auto& r = rows->front();
  return Response::Json(200, {{"id", r.Int(0)},
                              {"policy_id", *id},
                              {"version", r.Int(1)},
                              {"content_hash", r.Text(2)},
                              {"run_id", r.OptInt(3) ? json(*r.OptInt(3)) : json()},
                              {"captured_at", Time(r.Int(4))},
                              {"payload", JsonColumn(r.Text(5))},
                              {"assignments", JsonColumn(r.Text(6))}});
}

Result<Response> ListGroups(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  // Paged by rowid-free order: display name, then graph id, offset by cursor rows.
  auto rows = store::ReadResult<store::Rows>(ctx.db, [&](store::Tx& tx) {
    return tx.Query(
        "SELECT graph_id, display_name, gone_at, synced_at FROM tenant_groups WHERE tenant_id = "
        "$1 ORDER BY display_name, graph_id LIMIT $2 OFFSET $3",
        {req.tenant_id, page->limit, page->cursor.value_or(0)});
  });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  for (const auto& r : *rows)
    items.push_back({{"id", r.Text(0)},
                     {"display_name", r.Text(1)},
                     {"gone", !r.IsNull(2)},
                     {"synced_at", Time(r.Int(3))}});
  const int64_t next = page->cursor.value_or(0) + static_cast<int64_t>(rows->size());
  return Response::Json(200, PageJson(items, page->limit, std::optional<int64_t>(next)));
}

Result<Response> ListBackupSets(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto rows = store::ReadResult<store::Rows>(ctx.db, [&](store::Tx& tx) {
    return tx.Query(
        std::string("SELECT ") + kSetCols +
            " FROM backup_sets s WHERE s.tenant_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR s.id < "
            "$2) "
            "ORDER BY s.id DESC LIMIT $3",
        {req.tenant_id, page->cursor ? store::Param(*page->cursor) : store::Param(nullptr),
         page->limit});
  });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  for (const auto& r : *rows) items.push_back(BackupSetJson(r));
  return Response::Json(200, PageJson(items, page->limit, *rows, 0));
}

Result<Response> CreateBackupSet(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"name", "policy_ids"});
  if (!body) return Unexpected(body.error());
  auto name = body->String("name", 200);
  if (!name) return Unexpected(name.error());
  auto ids = body->OptIdList("policy_ids", 10'000);
  if (!ids) return Unexpected(ids.error());
  return Started(runs::StartBackupSet(ctx.runs, ctx.db, req.tenant_id, *name, *ids, req.user_id()));
}

namespace {

Result<store::Row> OwnedSet(store::Tx& tx, int64_t tenant, int64_t set) {
  auto rows = tx.Query(std::string("SELECT ") + kSetCols +
                           " FROM backup_sets s WHERE s.id = $1 AND s.tenant_id = $2",
                       {set, tenant});
  if (!rows) return Unexpected(rows.error());
  if (rows->empty())
    return Unexpected(store::MissingOrForeign(tx, "backup_sets", set, "backup set"));
  return rows->front();
}

}  // namespace

Result<Response> GetBackupSet(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto row = store::ReadResult<store::Row>(
      ctx.db, [&](store::Tx& tx) { return OwnedSet(tx, req.tenant_id, *id); });
  if (!row) return Unexpected(row.error());
  return Response::Json(200, BackupSetJson(*row));
}

Result<Response> ListBackupItems(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto rows = store::ReadResult<store::Rows>(ctx.db, [&](store::Tx& tx) -> Result<store::Rows> {
    if (auto s = OwnedSet(tx, req.tenant_id, *id); !s) return Unexpected(s.error());
    return tx.Query(
        "SELECT id, policy_id, policy_version_id, policy_type, graph_id, display_name, "
        "content_hash, created_at, assignments FROM backup_items WHERE tenant_id = $1 AND "
        "backup_set_id = $2 AND id > $3 ORDER BY id LIMIT $4",
        {req.tenant_id, *id, page->cursor.value_or(0), page->limit});
  });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  for (const auto& r : *rows)
    items.push_back({{"id", r.Int(0)},
                     {"policy_id", r.Int(1)},
                     {"policy_version_id", r.Int(2)},
                     {"type", r.Text(3)},
                     {"graph_id", r.Text(4)},
                     {"display_name", r.Text(5)},
                     {"content_hash", r.Text(6)},
                     {"captured_at", Time(r.Int(7))},
                     {"assignments", JsonColumn(r.Text(8))}});
  return Response::Json(200, PageJson(items, page->limit, *rows, 0));
}

namespace {

// The caller must also be a member of the source tenant (when it differs).
Status CheckSourceMember(ApiContext& ctx, const Request& req, int64_t source) {
  if (source == req.tenant_id) return Status::Ok();
  auto role = store::ReadResult<std::optional<std::string>>(
      ctx.db, [&](store::Tx& tx) { return store::Accounts::RoleOf(tx, req.user_id(), source); });
  if (!role) return role.error();
  if (!*role) {
    auto exists = store::ReadResult<bool>(
        ctx.db, [&](store::Tx& tx) { return store::Accounts::TenantExists(tx, source); });
    if (!exists) return exists.error();
    if (!*exists)
      return Status::NotFound("source_tenant_id: tenant " + std::to_string(source) +
                              " does not exist");
    return Status::PermissionDenied("source_tenant_id: you are not a member of tenant " +
                                    std::to_string(source));
  }
  return Status::Ok();
}

Result<Response> StartRestore(ApiContext& ctx, Request& req, bool execute) {
  auto body =
      JsonBody::Parse(req.body, {"backup_set_id", "source_tenant_id", "item_ids", "group_mapping"});
  if (!body) return Unexpected(body.error());
  auto set = body->Id("backup_set_id");
  if (!set) return Unexpected(set.error());
  auto source = body->OptInt("source_tenant_id", 1, INT64_MAX);
  if (!source) return Unexpected(source.error());
  auto items = body->OptIdList("item_ids", 10'000);
  if (!items) return Unexpected(items.error());
  auto mapping = body->StringMap("group_mapping", 10'000);
  if (!mapping) return Unexpected(mapping.error());
  runs::RestoreRequest r;
  r.actor_user_id = req.user_id();
  r.target_tenant_id = req.tenant_id;
  r.source_tenant_id = source->value_or(req.tenant_id);
  if (Status s = CheckSourceMember(ctx, req, r.source_tenant_id); !s.ok()) return Unexpected(s);
  r.backup_set_id = *set;
  r.item_ids = std::move(*items);
  r.group_mapping = std::move(*mapping);
  return Started(runs::StartRestore(ctx.runs, ctx.db, r, execute));
}

}  // namespace

Result<Response> SuggestMapping(ApiContext& ctx, Request& req) {
  auto set = QueryId(req, "backup_set");
  if (!set) return Unexpected(set.error());
  if (!*set) return Unexpected(Status::InvalidArgument("backup_set: is required"));
  auto source = QueryId(req, "source_tenant");
  if (!source) return Unexpected(source.error());
  const int64_t src = source->value_or(req.tenant_id);
  if (Status s = CheckSourceMember(ctx, req, src); !s.ok()) return Unexpected(s);
  auto owned = store::ReadResult<store::Row>(
      ctx.db, [&](store::Tx& tx) { return OwnedSet(tx, src, **set); });
  if (!owned) return Unexpected(owned.error());
  auto rows = runs::SuggestGroupMapping(ctx.db, src, req.tenant_id, **set);
  if (!rows) return Unexpected(rows.error());
  return Response::Json(200, {{"items", *rows}});
}

Result<Response> PreviewRestore(ApiContext& ctx, Request& req) {
  return StartRestore(ctx, req, false);
}

Result<Response> ExecuteRestore(ApiContext& ctx, Request& req) {
  return StartRestore(ctx, req, true);
}

}  // namespace ta::api::handlers
