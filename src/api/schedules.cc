// Schedules: list, create, change, delete, their slots, and a preview of the
// next fire times of a cron expression. The rules (who, validation) live in
// schedule::ScheduleService; these handlers only parse and shape.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/routes.h"
#include "schedule/portfolio.h"
#include "schedule/retention.h"
#include "schedule/service.h"

namespace ta::api::handlers {

using nlohmann::json;

namespace {

constexpr size_t kNextShown = 5;

Result<schedule::ScheduleInput> ParseInput(const Request& req) {
  auto body = JsonBody::Parse(req.body, {"name", "cron", "time_zone", "tenant_ids", "tag",
                                         "operation", "jitter_seconds", "enabled", "retention"});
  if (!body) return Unexpected(body.error());
  schedule::ScheduleInput in;
  auto name = body->String("name", 100);
  if (!name) return Unexpected(name.error());
  in.name = *name;
  auto cron = body->String("cron", 200);
  if (!cron) return Unexpected(cron.error());
  in.cron = *cron;
  auto zone = body->String("time_zone", 64);
  if (!zone) return Unexpected(zone.error());
  in.time_zone = *zone;
  auto tenants = body->OptIdList("tenant_ids", 10'000);
  if (!tenants) return Unexpected(tenants.error());
  in.tenant_ids = *tenants;
  auto tag = body->OptString("tag", 40);
  if (!tag) return Unexpected(tag.error());
  in.tag = *tag;
  auto op = body->OptString("operation", 40);
  if (!op) return Unexpected(op.error());
  if (*op) in.operation = **op;
  auto jitter = body->OptInt("jitter_seconds", 0, schedule::kMaxJitterSeconds);
  if (!jitter) return Unexpected(jitter.error());
  in.jitter_seconds = jitter->value_or(0);
  auto enabled = body->OptBool("enabled");
  if (!enabled) return Unexpected(enabled.error());
  in.enabled = enabled->value_or(true);
  if (auto r = body->value().find("retention"); r != body->value().end() && !r->is_null()) {
    auto rule = schedule::ParseRetentionRule(*r, "retention");
    if (!rule) return Unexpected(rule.error());
    in.retention = *rule;
  }
  return in;
}

Result<Response> One(schedule::ScheduleService& service, const store::ScheduleRecord& s,
                     int status) {
  auto j = service.Json(s, kNextShown);
  if (!j) return Unexpected(j.error());
  return Response::Json(status, *j);
}

}  // namespace

Result<Response> ListSchedules(ApiContext& ctx, Request& req) {
  schedule::ScheduleService service(ctx.db, ctx.clock);
  auto list = service.List(req.principal->user);
  if (!list) return Unexpected(list.error());
  json items = json::array();
  for (const auto& s : *list) {
    auto j = service.Json(s, kNextShown);
    if (!j) return Unexpected(j.error());
    items.push_back(std::move(*j));
  }
  return Response::Json(200, {{"items", items}});
}

Result<Response> CreateSchedule(ApiContext& ctx, Request& req) {
  auto in = ParseInput(req);
  if (!in) return Unexpected(in.error());
  schedule::ScheduleService service(ctx.db, ctx.clock);
  auto s = service.Create(req.principal->user, *in);
  if (!s) return Unexpected(s.error());
  return One(service, *s, 201);
}

Result<Response> GetSchedule(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "schedule");
  if (!id) return Unexpected(id.error());
  schedule::ScheduleService service(ctx.db, ctx.clock);
  auto s = service.Get(req.principal->user, *id);
  if (!s) return Unexpected(s.error());
  return One(service, *s, 200);
}

Result<Response> UpdateSchedule(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "schedule");
  if (!id) return Unexpected(id.error());
  auto in = ParseInput(req);
  if (!in) return Unexpected(in.error());
  schedule::ScheduleService service(ctx.db, ctx.clock);
  auto s = service.Update(req.principal->user, *id, *in);
  if (!s) return Unexpected(s.error());
  return One(service, *s, 200);
}

Result<Response> DeleteSchedule(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "schedule");
  if (!id) return Unexpected(id.error());
  schedule::ScheduleService service(ctx.db, ctx.clock);
  if (Status s = service.Delete(req.principal->user, *id); !s.ok()) return Unexpected(s);
  return Response::NoContent();
}

Result<Response> ListScheduleSlots(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "schedule");
  if (!id) return Unexpected(id.error());
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  schedule::ScheduleService service(ctx.db, ctx.clock);
  auto slots = service.SlotsJson(req.principal->user, *id, page->limit);
  if (!slots) return Unexpected(slots.error());
  return Response::Json(200, {{"items", *slots}});
}

Result<Response> Portfolio(ApiContext& ctx, Request& req) {
  schedule::PortfolioQuery q;
  q.q = req.QueryParam("q").value_or("");
  if (q.q.size() > 100) return Unexpected(Status::InvalidArgument("q: at most 100 characters"));
  auto attention = QueryEnum(req, "attention", {"true", "false"});
  if (!attention) return Unexpected(attention.error());
  q.attention_only = *attention == std::optional<std::string>("true");
  auto sort =
      QueryEnum(req, "sort", {"name", "last_backup", "failed_runs", "drift", "next_backup", "credentials"});
  if (!sort) return Unexpected(sort.error());
  if (*sort) q.sort = **sort;
  auto order = QueryEnum(req, "order", {"asc", "desc"});
  if (!order) return Unexpected(order.error());
  q.descending = *order == std::optional<std::string>("desc");
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  q.limit = page->limit;
  q.offset = page->cursor.value_or(0);
  auto out = schedule::PortfolioJson(ctx.db, ctx.clock, req.principal->user, q);
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

Result<Response> PreviewSchedule(ApiContext& ctx, Request& req) {
  const std::string cron = req.QueryParam("cron").value_or("");
  const std::string zone = req.QueryParam("time_zone").value_or("UTC");
  if (cron.empty())
    return Unexpected(Status::InvalidArgument("cron: is required, such as \"30 2 * * *\""));
  auto next = schedule::PreviewJson(cron, zone, ctx.clock.Now(), kNextShown);
  if (!next) return Unexpected(next.error());
  return Response::Json(200, {{"next", *next}});
}

}  // namespace ta::api::handlers
