// Alert channels: list, create (a webhook's signing secret shown once),
// change, delete, send a test, and the delivery log. The rules live in
// notify::ChannelService.
#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/routes.h"
#include "notify/alerts.h"

namespace ta::api::handlers {

using nlohmann::json;

namespace {

Result<notify::ChannelInput> ParseChannel(const Request& req, bool creating) {
  auto body = creating ? JsonBody::Parse(
                             req.body, {"tenant_id", "name", "kind", "target", "events", "enabled"})
                       : JsonBody::Parse(req.body, {"name", "target", "events", "enabled"});
  if (!body) return Unexpected(body.error());
  notify::ChannelInput in;
  if (creating) {
    auto tenant = body->OptInt("tenant_id", 1, INT64_MAX);
    if (!tenant) return Unexpected(tenant.error());
    in.tenant_id = *tenant;
    auto kind = body->String("kind", 20);
    if (!kind) return Unexpected(kind.error());
    in.kind = *kind;
  }
  auto name = body->String("name", 100);
  if (!name) return Unexpected(name.error());
  in.name = *name;
  // Creating needs the target; a change without one keeps it (answers show
  // only the URL's host, since its path is often the receiver's credential).
  if (creating) {
    auto target = body->String("target", 2000);
    if (!target) return Unexpected(target.error());
    in.target = *target;
  } else {
    auto target = body->OptString("target", 2000);
    if (!target) return Unexpected(target.error());
    in.target = target->value_or("");
  }
  const json& v = body->value();
  if (!v.contains("events") || !v["events"].is_array())
    return Unexpected(Status::InvalidArgument(
        "events: a list such as [\"run.failed\", \"run.partially_succeeded\"]"));
  for (size_t i = 0; i < v["events"].size(); ++i) {
    if (!v["events"][i].is_string())
      return Unexpected(
          Status::InvalidArgument("events[" + std::to_string(i) + "]: must be a string"));
    in.events.push_back(v["events"][i].get<std::string>());
  }
  auto enabled = body->OptBool("enabled");
  if (!enabled) return Unexpected(enabled.error());
  in.enabled = enabled->value_or(true);
  return in;
}

notify::ChannelService Service(ApiContext& ctx) {
  return notify::ChannelService(ctx.db, ctx.clock, ctx.box);
}

}  // namespace

Result<Response> ListAlertChannels(ApiContext& ctx, Request& req) {
  auto list = Service(ctx).List(req.principal->user);
  if (!list) return Unexpected(list.error());
  json items = json::array();
  for (const auto& c : *list) items.push_back(notify::ChannelJson(c));
  return Response::Json(200, {{"items", items}, {"events", notify::AlertEvents()}});
}

Result<Response> CreateAlertChannel(ApiContext& ctx, Request& req) {
  auto in = ParseChannel(req, true);
  if (!in) return Unexpected(in.error());
  auto created = Service(ctx).Create(req.principal->user, *in);
  if (!created) return Unexpected(created.error());
  json out = notify::ChannelJson(created->channel);
  // Shown once: the receiver verifies signatures with it.
  if (created->secret) out["secret"] = *created->secret;
  return Response::Json(201, out);
}

Result<Response> UpdateAlertChannel(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "channel");
  if (!id) return Unexpected(id.error());
  auto in = ParseChannel(req, false);
  if (!in) return Unexpected(in.error());
  auto c = Service(ctx).Update(req.principal->user, *id, *in);
  if (!c) return Unexpected(c.error());
  return Response::Json(200, notify::ChannelJson(*c));
}

Result<Response> DeleteAlertChannel(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "channel");
  if (!id) return Unexpected(id.error());
  if (Status s = Service(ctx).Delete(req.principal->user, *id); !s.ok()) return Unexpected(s);
  return Response::NoContent();
}

Result<Response> TestAlertChannel(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "channel");
  if (!id) return Unexpected(id.error());
  auto delivery = Service(ctx).Test(req.principal->user, *id);
  if (!delivery) return Unexpected(delivery.error());
  return Response::Json(202, {{"delivery_id", *delivery}});
}

Result<Response> ListAlertDeliveries(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "channel");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  auto list = Service(ctx).Deliveries(req.principal->user, *id, page->limit);
  if (!list) return Unexpected(list.error());
  json items = json::array();
  for (const auto& d : *list) items.push_back(notify::DeliveryJson(d));
  return Response::Json(200, {{"items", items}});
}

}  // namespace ta::api::handlers
