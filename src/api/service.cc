// Liveness, readiness and Prometheus metrics.
#include <nlohmann/json.hpp>

#include "api/routes.h"

namespace ta::api::handlers {

Result<Response> Healthz(ApiContext&, Request&) { return Response::Json(200, {{"status", "ok"}}); }

Result<Response> Readyz(ApiContext& ctx, Request&) {
  Status db = ctx.db.Ping();
  // A full disk still reads fine: the database also reports its last write.
  if (db.ok()) db = ctx.db.WriteHealth();
  if (!db.ok()) ctx.log.Error("readiness: database fault", {{"error", db.ToString()}});
  const bool workers = !ctx.ready || ctx.ready();
  const bool ok = db.ok() && workers && !ctx.stopping;
  const char* database = db.ok()                                   ? "ok"
                         : db.code() == Status::Code::kStorageFull ? "full"
                                                                   : "unavailable";
  Response r = Response::Json(ok ? 200 : 503, {{"status", ok ? "ready" : "not ready"},
                                               {"database", database},
                                               {"workers", workers ? "ok" : "not started"},
                                               {"stopping", ctx.stopping.load()}});
  if (!ok) r.headers.emplace_back("Retry-After", "5");
  return r;
}

Result<Response> MetricsText(ApiContext& ctx, Request&) {
  std::string out;
  Status s = ctx.db.Read([&](store::Tx& tx) -> Status {
    auto runs = store::RunsRepository::CountByTypeAndStatus(tx);
    if (!runs) return runs.error();
    out += "# HELP ta_runs Runs by type and status.\n# TYPE ta_runs gauge\n";
    for (const auto& c : *runs)
      out += "ta_runs" + RenderLabels({{"type", c.type}, {"status", c.status}}) + " " +
             std::to_string(c.count) + "\n";
    auto depth = jobs::JobQueue::CurrentDepth(tx);
    if (!depth) return depth.error();
    out += "# HELP ta_queue_depth Jobs waiting or running.\n# TYPE ta_queue_depth gauge\n";
    out += "ta_queue_depth{state=\"queued\"} " + std::to_string(depth->queued) + "\n";
    out += "ta_queue_depth{state=\"running\"} " + std::to_string(depth->running) + "\n";
    return Status::Ok();
  });
  if (!s.ok()) return Unexpected(s);
  out += ctx.metrics.Render();
  if (ctx.extra_metrics) out += ctx.extra_metrics();
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace ta::api::handlers
