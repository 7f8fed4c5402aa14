// Policies, versions, groups, backup sets and restores. Start endpoints only
// validate and start runs (runs/operations.h); the work happens in jobs.
#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/routes.h"
#include "api/views.h"
#include "catalog/catalog.h"
#include "report/document.h"
#include "runs/operations.h"
#include "runs/run_params.h"
#include "store/backup_sets.h"
#include "store/inventory.h"

namespace ta::api::handlers {
namespace {

using nlohmann::json;

json Opt(const std::optional<std::string>& v) { return v ? json(*v) : json(); }
json Opt(const std::optional<int64_t>& v) { return v ? json(*v) : json(); }

json PolicyJson(const store::PolicyRecord& p) {
  return {{"id", p.id},
          {"type", p.type},
          {"graph_id", p.graph_id},
          {"display_name", p.display_name},
          {"platform", Opt(p.platform)},
          {"odata_type", Opt(p.odata_type)},
          {"last_modified_at", Opt(p.last_modified_at)},
          {"gone", p.gone_at.has_value()},
          {"gone_at", Time(p.gone_at)},
          {"synced_at", Time(p.synced_at)},
          {"last_snapshot", p.last_version ? json{{"version", *p.last_version},
                                                  {"captured_at", Time(p.last_captured_at)}}
                                           : json()}};
}

// The cursor of a page of records: the last one's key.
template <typename T, typename Key>
std::optional<int64_t> LastKey(const std::vector<T>& records, Key key) {
  return records.empty() ? std::nullopt : std::optional<int64_t>(key(records.back()));
}

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
  store::PolicyFilter filter;
  if (auto type = req.QueryParam("type"); type && !type->empty()) {
    if (!catalog::FindPolicyType(*type))
      return Unexpected(
          Status::InvalidArgument("type: '" + std::string(*type) +
                                  "' is not a catalog type; GET /api/v1/catalog lists them"));
    filter.type = std::string(*type);
  }
  auto platform = QueryEnum(req, "platform", {"windows", "macOS", "iOS", "android", "multiple"});
  if (!platform) return Unexpected(platform.error());
  filter.platform = *platform;
  if (auto q = req.QueryParam("q"); q && !q->empty()) {
    if (q->size() > 200) return Unexpected(Status::InvalidArgument("q: at most 200 characters"));
    filter.name_contains = std::string(*q);
  }
  filter.include_gone = *gone == std::optional<std::string>("true");
  filter.after_id = page->cursor.value_or(0);
  filter.limit = page->limit;
  auto policies = store::ReadResult<std::vector<store::PolicyRecord>>(ctx.db, [&](store::Tx& tx) {
    return store::Inventory::ListPolicies(tx, req.tenant_id, filter);
  });
  if (!policies) return Unexpected(policies.error());
  json items = json::array();
  for (const auto& p : *policies) items.push_back(PolicyJson(p));
  return Response::Json(
      200, PageJson(items, page->limit, LastKey(*policies, [](const auto& p) { return p.id; })));
}

Result<Response> GetPolicy(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  auto policy = store::ReadResult<store::PolicyRecord>(
      ctx.db, [&](store::Tx& tx) { return store::Inventory::Policy(tx, req.tenant_id, *id); });
  if (!policy) return Unexpected(policy.error());
  return Response::Json(200, PolicyJson(*policy));
}

Result<Response> SyncPolicies(ApiContext& ctx, Request& req) {
  return Started(runs::StartInventorySync(ctx.runs, req.tenant_id, req.user_id()));
}

Result<Response> CheckConnection(ApiContext& ctx, Request& req) {
  return Started(runs::StartConnectionCheck(ctx.runs, req.tenant_id, req.user_id()));
}

Result<Response> CapturePolicy(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  return Started(runs::StartCaptureSnapshot(ctx.runs, req.tenant_id, *id, req.user_id()));
}

Result<Response> ListVersions(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  using Versions = std::vector<store::VersionRecord>;
  auto versions = store::ReadResult<Versions>(ctx.db, [&](store::Tx& tx) -> Result<Versions> {
    TA_RETURN_IF_ERROR(store::Inventory::Policy(tx, req.tenant_id, *id));
    return store::Inventory::Versions(tx, req.tenant_id, *id, page->cursor, page->limit);
  });
  if (!versions) return Unexpected(versions.error());
  json items = json::array();
  for (const auto& v : *versions)
    items.push_back({{"id", v.id},
                     {"version", v.version},
                     {"content_hash", v.content_hash},
                     {"run_id", Opt(v.run_id)},
                     {"captured_at", Time(v.created_at)}});
  return Response::Json(200, PageJson(items, page->limit,
                                      LastKey(*versions, [](const auto& v) { return v.version; })));
}

Result<Response> GetVersion(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "policy");
  if (!id) return Unexpected(id.error());
  auto version = PathId(req, "version");
  if (!version) return Unexpected(version.error());
  using Found = std::optional<store::VersionRecord>;
  auto found = store::ReadResult<Found>(ctx.db, [&](store::Tx& tx) -> Result<Found> {
    TA_RETURN_IF_ERROR(store::Inventory::Policy(tx, req.tenant_id, *id));
    return store::Inventory::Version(tx, req.tenant_id, *id, *version);
  });
  if (!found) return Unexpected(found.error());
  if (!*found)
    return Unexpected(Status::NotFound("version: policy " + std::to_string(*id) +
                                       " has no version " + std::to_string(*version)));
  const store::VersionRecord& v = **found;
  return Response::Json(200, {{"id", v.id},
                              {"policy_id", *id},
                              {"version", v.version},
                              {"content_hash", v.content_hash},
                              {"run_id", Opt(v.run_id)},
                              {"captured_at", Time(v.created_at)},
                              {"payload", WithoutSecrets(JsonColumn(v.payload))},
                              {"assignments", JsonColumn(v.assignments)}});
}

Result<Response> ListGroups(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  // Paged by rowid-free order: display name, then graph id, offset by cursor rows.
  auto groups = store::ReadResult<std::vector<store::GroupRecord>>(ctx.db, [&](store::Tx& tx) {
    return store::Inventory::Groups(tx, req.tenant_id, page->limit, page->cursor.value_or(0));
  });
  if (!groups) return Unexpected(groups.error());
  json items = json::array();
  for (const auto& g : *groups)
    items.push_back({{"id", g.graph_id},
                     {"display_name", g.display_name},
                     {"gone", g.gone_at.has_value()},
                     {"synced_at", Time(g.synced_at)}});
  const int64_t next = page->cursor.value_or(0) + static_cast<int64_t>(groups->size());
  return Response::Json(200, PageJson(items, page->limit, std::optional<int64_t>(next)));
}

Result<Response> ListBackupSets(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto sets = store::ReadResult<std::vector<store::BackupSetRecord>>(ctx.db, [&](store::Tx& tx) {
    return store::BackupSets::List(tx, req.tenant_id, page->cursor, page->limit);
  });
  if (!sets) return Unexpected(sets.error());
  json items = json::array();
  for (const auto& s : *sets) items.push_back(BackupSetJson(s));
  return Response::Json(
      200, PageJson(items, page->limit, LastKey(*sets, [](const auto& s) { return s.id; })));
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

// Legal hold: a pinned set is never deleted by retention.
Result<Response> PinBackupSet(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto body = JsonBody::Parse(req.body, {"pinned"});
  if (!body) return Unexpected(body.error());
  auto pinned = body->OptBool("pinned");
  if (!pinned) return Unexpected(pinned.error());
  if (!*pinned)
    return Unexpected(
        Status::InvalidArgument("pinned: is required (true: legal hold; false: "
                                "retention may delete it again)"));
  auto set = store::WriteResult<store::BackupSetRecord>(
      ctx.db, [&](store::Tx& tx) -> Result<store::BackupSetRecord> {
        TA_RETURN_IF_ERROR(store::BackupSets::SetPinned(tx, req.tenant_id, *id, **pinned));
        TA_RETURN_IF_ERROR(store::AuditLog::Record(
            tx, req.tenant_id, req.user_id(),
            **pinned ? "backup_set.pinned" : "backup_set.unpinned", "backup_set",
            std::to_string(*id), "{}", ToUnixMillis(ctx.clock.Now())));
        return store::BackupSets::Get(tx, req.tenant_id, *id);
      });
  if (!set) return Unexpected(set.error());
  return Response::Json(200, BackupSetJson(*set));
}

Result<Response> GetBackupSet(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto set = store::ReadResult<store::BackupSetRecord>(
      ctx.db, [&](store::Tx& tx) { return store::BackupSets::Get(tx, req.tenant_id, *id); });
  if (!set) return Unexpected(set.error());
  return Response::Json(200, BackupSetJson(*set));
}

// The set's documentation, streamed (see report/document.h).
Result<Response> BackupSetDocument(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto format = report::ParseFormat(req.QueryParam("format").value_or("md"));
  if (!format) return Unexpected(format.error());
  // Found and the tenant's, before the 200 goes out.
  auto set = store::ReadResult<store::BackupSetRecord>(
      ctx.db, [&](store::Tx& tx) { return store::BackupSets::Get(tx, req.tenant_id, *id); });
  if (!set) return Unexpected(set.error());
  Response r;
  r.content_type = std::string(report::ContentType(*format));
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"backup-set-" +
                                                    std::to_string(*id) + "." +
                                                    std::string(report::Extension(*format)) + "\"");
  r.headers.emplace_back("Cache-Control", "no-store");
  store::Database* db = &ctx.db;
  r.producer = [db, tenant = req.tenant_id, set_id = *id,
                f = *format](const std::function<bool(std::string_view)>& write) {
    bool reader_left = false;
    const Status s =
        report::WriteBackupSetDocument(*db, tenant, set_id, f, [&](std::string_view p) {
          if (!write(p)) reader_left = true;
          return !reader_left;
        });
    return s.ok() && !reader_left;
  };
  return r;
}

Result<Response> ListBackupItems(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  using Items = std::vector<store::BackupItemRecord>;
  auto records = store::ReadResult<Items>(ctx.db, [&](store::Tx& tx) -> Result<Items> {
    TA_RETURN_IF_ERROR(store::BackupSets::Get(tx, req.tenant_id, *id));
    return store::BackupSets::Items(tx, req.tenant_id, *id, std::nullopt, page->cursor.value_or(0),
                                    page->limit);
  });
  if (!records) return Unexpected(records.error());
  json items = json::array();
  for (const auto& i : *records)
    items.push_back({{"id", i.id},
                     {"policy_id", i.policy_id},
                     {"policy_version_id", i.policy_version_id},
                     {"type", i.type},
                     {"graph_id", i.graph_id},
                     {"display_name", i.display_name},
                     {"content_hash", i.content_hash},
                     {"captured_at", Time(i.created_at)},
                     {"assignments", JsonColumn(i.assignments)}});
  return Response::Json(
      200, PageJson(items, page->limit, LastKey(*records, [](const auto& i) { return i.id; })));
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
  auto body = JsonBody::Parse(req.body, {"backup_set_id", "source_tenant_id", "item_ids",
                                         "group_mapping", "conditional_access_state"});
  if (!body) return Unexpected(body.error());
  auto set = body->Id("backup_set_id");
  if (!set) return Unexpected(set.error());
  auto source = body->OptInt("source_tenant_id", 1, INT64_MAX);
  if (!source) return Unexpected(source.error());
  auto items = body->OptIdList("item_ids", 10'000);
  if (!items) return Unexpected(items.error());
  auto mapping = body->StringMap("group_mapping", 10'000);
  if (!mapping) return Unexpected(mapping.error());
  auto ca = body->OptString("conditional_access_state", 32);
  if (!ca) return Unexpected(ca.error());
  if (*ca && !runs::ValidConditionalAccessState(**ca))
    return Unexpected(Status::InvalidArgument(
        "conditional_access_state: must be \"report_only\" (the default) or \"as_backed_up\""));
  runs::RestoreRequest r;
  r.actor_user_id = req.user_id();
  r.target_tenant_id = req.tenant_id;
  r.source_tenant_id = source->value_or(req.tenant_id);
  if (Status s = CheckSourceMember(ctx, req, r.source_tenant_id); !s.ok()) return Unexpected(s);
  r.backup_set_id = *set;
  r.item_ids = std::move(*items);
  r.group_mapping = std::move(*mapping);
  if (*ca) r.conditional_access_state = **ca;
  return Started(runs::StartRestore(ctx.runs, ctx.db, r, execute));
}

}  // namespace

// The object types TenantAtlas backs up, and the platforms it tells apart
// (what the policy list filters by).
Result<Response> CatalogTypes(ApiContext&, Request&) {
  json types = json::array();
  for (const auto& t : catalog::Catalog())
    types.push_back({{"name", t.name},
                     {"title", catalog::TypeTitle(t.name)},
                     {"collection", t.collection},
                     {"assignable", t.assign_body_key.has_value()},
                     {"restore_rank", catalog::RestoreRank(t)}});
  return Response::Json(200, json{{"types", types}, {"platforms", catalog::Platforms()}});
}

Result<Response> SuggestMapping(ApiContext& ctx, Request& req) {
  auto set = QueryId(req, "backup_set");
  if (!set) return Unexpected(set.error());
  if (!*set) return Unexpected(Status::InvalidArgument("backup_set: is required"));
  auto source = QueryId(req, "source_tenant");
  if (!source) return Unexpected(source.error());
  const int64_t src = source->value_or(req.tenant_id);
  if (Status s = CheckSourceMember(ctx, req, src); !s.ok()) return Unexpected(s);
  auto owned = store::ReadResult<store::BackupSetRecord>(
      ctx.db, [&](store::Tx& tx) { return store::BackupSets::Get(tx, src, **set); });
  if (!owned) return Unexpected(owned.error());
  auto rows = runs::SuggestMapping(ctx.db, src, req.tenant_id, **set);
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
