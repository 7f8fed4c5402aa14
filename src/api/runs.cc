// Runs (list, detail, items, cancel, live events), audit and notifications.
#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/routes.h"
#include "api/stream_hub.h"
#include "api/views.h"
#include "store/accounts.h"
#include "catalog/catalog.h"
#include "store/audit_log.h"
#include "store/inventory.h"

namespace ta::api::handlers {
namespace {

using nlohmann::json;

Response EventStream(const StreamFeed& feed) {
  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  r.feed = feed;
  return r;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

namespace {

// ?status, ?type, ?since, ?until and the page, as a run filter.
Result<store::RunFilter> RunFilterOf(const Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto status =
      QueryEnum(req, "status",
                {"queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled"});
  if (!status) return Unexpected(status.error());
  const auto type = req.QueryParam("type");
  if (type && !IsIdentifier(*type))
    return Unexpected(Status::InvalidArgument("type: a run type such as policy.capture_snapshot"));
  auto since = QueryTime(req, "since");
  if (!since) return Unexpected(since.error());
  auto until = QueryTime(req, "until");
  if (!until) return Unexpected(until.error());
  if (*since && *until && **until <= **since)
    return Unexpected(Status::InvalidArgument("until: must be later than since"));
  store::RunFilter f;
  f.status = *status;
  f.type = type;
  f.created_from = *since;
  f.created_before = *until;
  f.before_id = page->cursor;
  f.limit = page->limit;
  return f;
}

// A page of runs of `tenants` with their words, in one read.
Result<Response> RunsPage(ApiContext& ctx, const std::vector<int64_t>& tenants,
                          const store::RunFilter& f) {
  std::optional<int64_t> last;
  auto items = store::ReadResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    auto list = store::RunsRepository::List(tx, tenants, f);
    if (!list) return Unexpected(list.error());
    if (!list->empty()) last = list->back().id;
    return RunsJson(tx, *list);
  });
  if (!items) return Unexpected(items.error());
  return Response::Json(200, PageJson(std::move(*items), f.limit, last));
}

}  // namespace

Result<Response> ListRuns(ApiContext& ctx, Request& req) {
  auto f = RunFilterOf(req);
  if (!f) return Unexpected(f.error());
  return RunsPage(ctx, {req.tenant_id}, *f);
}

Result<Response> ListAllRuns(ApiContext& ctx, Request& req) {
  auto f = RunFilterOf(req);
  if (!f) return Unexpected(f.error());
  auto only = QueryId(req, "tenant");
  if (!only) return Unexpected(only.error());
  auto memberships = store::ReadResult<std::vector<store::Membership>>(
      ctx.db, [&](store::Tx& tx) { return store::Accounts::MembershipsOf(tx, req.user_id()); });
  if (!memberships) return Unexpected(memberships.error());
  std::vector<int64_t> tenants;
  for (const auto& m : *memberships)
    if (!*only || m.tenant_id == **only) tenants.push_back(m.tenant_id);
  if (*only && tenants.empty())
    return Unexpected(Status::PermissionDenied("tenant: you are not a member of tenant " +
                                               std::to_string(**only)));
  if (tenants.empty()) return Response::Json(200, PageJson(json::array(), f->limit, std::nullopt));
  return RunsPage(ctx, tenants, *f);
}

namespace {

Result<store::RunRecord> LoadRun(ApiContext& ctx, int64_t tenant, int64_t run) {
  return store::ReadResult<store::RunRecord>(
      ctx.db, [&](store::Tx& tx) { return store::RunsRepository::Get(tx, tenant, run); });
}

}  // namespace

Result<Response> ActiveRuns(ApiContext& ctx, Request& req) {
  auto list = ActiveRunsOf(ctx.db, req.user_id());
  if (!list) return Unexpected(list.error());
  return Response::Json(200, {{"items", std::move(*list)}});
}

Result<Response> ActiveRunsStream(ApiContext&, Request& req) {
  StreamFeed feed;
  feed.kind = StreamFeed::Kind::kActiveRuns;
  feed.user_id = req.user_id();
  return EventStream(feed);
}

Result<Response> GetRun(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "run");
  if (!id) return Unexpected(id.error());
  auto run = store::ReadResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    auto r = store::RunsRepository::Get(tx, req.tenant_id, *id);
    if (!r) return Unexpected(r.error());
    auto words = runs::DescribeRun(tx, *r);
    if (!words) return Unexpected(words.error());
    return RunJson(*r, &*words);
  });
  if (!run) return Unexpected(run.error());
  return Response::Json(200, std::move(*run));
}

Result<Response> ListRunItems(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "run");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  const auto status = req.QueryParam("status");
  if (status && !IsIdentifier(*status))
    return Unexpected(Status::InvalidArgument("status: an item outcome such as failed or created"));
  using Items = std::vector<store::RunsRepository::ItemRow>;
  // "policy:<id>" refs (sync, capture, backup set) named from the inventory.
  std::map<std::string, std::pair<std::string, std::string>> names;  // ref -> (name, type)
  auto rows = store::ReadResult<Items>(ctx.db, [&](store::Tx& tx) -> Result<Items> {
    TA_RETURN_IF_ERROR(store::RunsRepository::Get(tx, req.tenant_id, *id));
    auto page_rows = store::RunsRepository::ItemsPage(
        tx, req.tenant_id, *id, status ? std::optional<std::string>(*status) : std::nullopt,
        page->cursor.value_or(0), page->limit);
    if (!page_rows) return page_rows;
    for (const auto& r : *page_rows) {
      const std::string& ref = r.item.item_ref;
      if (ref.rfind("policy:", 0) != 0) continue;
      const int64_t policy = std::atoll(ref.c_str() + 7);
      auto p = store::Inventory::Policy(tx, req.tenant_id, policy);
      if (p) names[ref] = {p->display_name, p->type};
    }
    return page_rows;
  });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(); };
  for (const auto& r : *rows) {
    const store::RunItem& i = r.item;
    items.push_back(
        {{"id", r.id},
         {"item_ref", i.item_ref},
         {"outcome", i.status},
         {"action", opt(i.action)},
         {"graph_id", opt(i.graph_id)},
         {"error", !i.error_code && !i.error_message
                       ? json()
                       : json{{"code", opt(i.error_code)}, {"message", opt(i.error_message)}}},
         {"details", i.details ? JsonColumn(*i.details) : json()},
         {"attempts", r.attempts},
         {"updated_at", Time(r.updated_at)}});
    if (auto n = names.find(i.item_ref); n != names.end()) {
      items.back()["name"] = n->second.first;
      items.back()["type"] = n->second.second;
      items.back()["type_title"] = std::string(catalog::TypeTitle(n->second.second));
    }
  }
  return Response::Json(
      200, PageJson(items, page->limit,
                    rows->empty() ? std::nullopt : std::optional<int64_t>(rows->back().id)));
}

Result<Response> CancelRun(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "run");
  if (!id) return Unexpected(id.error());
  if (Status s = ctx.runs.Cancel(req.tenant_id, *id, req.user_id()); !s.ok()) return Unexpected(s);
  auto run = LoadRun(ctx, req.tenant_id, *id);
  if (!run) return Unexpected(run.error());
  return Response::Json(202, RunJson(*run));
}

Result<Response> RunEvents(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "run");
  if (!id) return Unexpected(id.error());
  const int64_t tenant = req.tenant_id, run_id = *id;
  auto first = LoadRun(ctx, tenant, run_id);
  if (!first) return Unexpected(first.error());  // 403/404 before the stream starts
  StreamFeed feed;
  feed.kind = StreamFeed::Kind::kRun;
  feed.user_id = req.user_id();
  feed.tenant_id = tenant;
  feed.run_id = run_id;
  return EventStream(feed);
}

Result<Response> ListAudit(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto run = QueryId(req, "run_id");
  if (!run) return Unexpected(run.error());
  const auto action = req.QueryParam("action");
  if (action && !IsIdentifier(*action))
    return Unexpected(Status::InvalidArgument("action: an audit action such as run.started"));
  store::AuditLog::Filter f;
  if (action) f.action = std::string(*action);
  f.run_id = *run;
  f.before_seq = page->cursor;
  f.limit = page->limit;
  using Entries = std::vector<store::AuditLog::Row>;
  auto rows = store::ReadResult<Entries>(
      ctx.db, [&](store::Tx& tx) { return store::AuditLog::List(tx, req.tenant_id, f); });
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  auto opt_text = [](const std::optional<std::string>& v) { return v ? json(*v) : json(); };
  auto opt_int = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(); };
  for (const auto& r : *rows)
    items.push_back({{"id", r.id},
                     {"seq", r.seq},
                     {"actor_user_id", opt_int(r.entry.actor_user_id)},
                     {"action", r.entry.action},
                     {"target_type", opt_text(r.entry.target_type)},
                     {"target_id", opt_text(r.entry.target_id)},
                     {"run_id", opt_int(r.entry.run_id)},
                     {"details", JsonColumn(r.entry.details)},
                     {"created_at", Time(r.created_at)},
                     {"hash", r.hash}});
  return Response::Json(
      200, PageJson(items, page->limit,
                    rows->empty() ? std::nullopt : std::optional<int64_t>(rows->back().seq)));
}

Result<Response> ListNotifications(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto unread = QueryEnum(req, "unread", {"true", "false"});
  if (!unread) return Unexpected(unread.error());
  store::NotificationsRepository::Filter f;
  f.unread_only = *unread == std::optional<std::string>("true");
  f.before_id = page->cursor;
  f.limit = page->limit;
  json items = json::array();
  int64_t count = 0;
  std::optional<int64_t> last;
  Status s = ctx.db.Read([&](store::Tx& tx) -> Status {
    auto list = store::NotificationsRepository::List(tx, req.user_id(), f);
    if (!list) return list.error();
    for (const auto& n : *list) items.push_back(NotificationJson(n));
    if (!list->empty()) last = list->back().id;
    auto c = store::NotificationsRepository::UnreadCount(tx, req.user_id());
    if (!c) return c.error();
    count = *c;
    return Status::Ok();
  });
  if (!s.ok()) return Unexpected(s);
  json out = PageJson(items, page->limit, last);
  out["unread_count"] = count;
  return Response::Json(200, out);
}

Result<Response> MarkNotificationRead(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "notification");
  if (!id) return Unexpected(id.error());
  Status s = ctx.db.Write([&](store::Tx& tx) {
    return store::NotificationsRepository::MarkRead(tx, req.user_id(), *id,
                                                    ToUnixMillis(ctx.clock.Now()));
  });
  if (!s.ok()) return Unexpected(s);
  if (ctx.stream_hub) ctx.stream_hub->Touch(req.user_id());  // the unread count changed
  return Response::NoContent();
}

Result<Response> MarkAllNotificationsRead(ApiContext& ctx, Request& req) {
  auto n = store::WriteResult<int64_t>(ctx.db, [&](store::Tx& tx) {
    return store::NotificationsRepository::MarkAllRead(tx, req.user_id(),
                                                       ToUnixMillis(ctx.clock.Now()));
  });
  if (!n) return Unexpected(n.error());
  if (ctx.stream_hub) ctx.stream_hub->Touch(req.user_id());
  return Response::Json(200, {{"marked", *n}});
}

Result<Response> NotificationStream(ApiContext& ctx, Request& req) {
  const int64_t user = req.user_id();
  std::optional<int64_t> after;
  if (auto last = req.Header("last-event-id"); !last.empty()) {
    Request probe;
    probe.path_params["Last-Event-ID"] = last;
    auto id = PathId(probe, "Last-Event-ID");
    if (!id) return Unexpected(Status::InvalidArgument("Last-Event-ID: must be a notification id"));
    after = *id;
  }
  if (!after) {  // new notifications only
    auto max = store::ReadResult<int64_t>(
        ctx.db, [&](store::Tx& tx) { return store::NotificationsRepository::MaxId(tx, user); });
    if (!max) return Unexpected(max.error());
    after = *max;
  }
  StreamFeed feed;
  feed.kind = StreamFeed::Kind::kNotifications;
  feed.user_id = user;
  feed.after_id = *after;
  return EventStream(feed);
}

}  // namespace ta::api::handlers
