// Drift: detection runs, findings (with their history), accept and revert,
// and the backup set a tenant's drift is compared with.
#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/routes.h"
#include "api/views.h"
#include "runs/drift.h"
#include "runs/operations.h"
#include "store/audit_log.h"
#include "store/backup_sets.h"
#include "store/drift.h"

namespace ta::api::handlers {
namespace {

using nlohmann::json;

Result<store::DriftFinding> LoadFinding(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "finding");
  if (!id) return Unexpected(id.error());
  return store::ReadResult<store::DriftFinding>(
      ctx.db, [&](store::Tx& tx) { return store::Drift::Get(tx, req.tenant_id, *id); });
}

}  // namespace

Result<Response> DetectDrift(ApiContext& ctx, Request& req) {
  auto started = runs::StartDriftDetection(ctx.runs, req.tenant_id, req.user_id());
  if (!started) return Unexpected(started.error());
  return StartResponse(*started);
}

Result<Response> ListDriftFindings(ApiContext& ctx, Request& req) {
  auto page = ParsePage(req);
  if (!page) return Unexpected(page.error());
  std::string status = req.QueryParam("status").value_or("open");
  if (status != "open" && status != "accepted" && status != "reverted" && status != "resolved" &&
      status != "all")
    return Unexpected(Status::InvalidArgument(
        "status: must be open, accepted, reverted, resolved or all (default open)"));
  if (status == "all") status.clear();
  struct Listed {
    std::vector<store::DriftFinding> findings;
    int64_t open = 0;
  };
  auto listed = store::ReadResult<Listed>(ctx.db, [&](store::Tx& tx) -> Result<Listed> {
    Listed l;
    auto f = store::Drift::List(tx, req.tenant_id, status, page->cursor, page->limit);
    if (!f) return Unexpected(f.error());
    l.findings = std::move(*f);
    auto n = store::Drift::CountOpen(tx, req.tenant_id);
    if (!n) return Unexpected(n.error());
    l.open = *n;
    return l;
  });
  if (!listed) return Unexpected(listed.error());
  json items = json::array();
  for (const auto& f : listed->findings) items.push_back(runs::DriftFindingJson(f));
  const auto& all = listed->findings;
  json out = PageJson(items, page->limit,
                      all.empty() ? std::nullopt : std::optional<int64_t>(all.back().id));
  out["open_count"] = listed->open;
  return Response::Json(200, out);
}

Result<Response> GetDriftFinding(ApiContext& ctx, Request& req) {
  auto f = LoadFinding(ctx, req);
  if (!f) return Unexpected(f.error());
  auto history = store::ReadResult<std::vector<store::DriftFinding>>(ctx.db, [&](store::Tx& tx) {
    return store::Drift::History(tx, req.tenant_id, f->type, f->graph_id);
  });
  if (!history) return Unexpected(history.error());
  json out = runs::DriftFindingJson(*f);
  out["history"] = json::array();
  for (const auto& h : *history)
    if (h.id != f->id) out["history"].push_back(runs::DriftFindingJson(h));
  return Response::Json(200, out);
}

Result<Response> AcceptDriftFinding(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "finding");
  if (!id) return Unexpected(id.error());
  auto f = runs::AcceptDrift(ctx.db, req.tenant_id, *id, req.user_id(),
                             ToUnixMillis(ctx.clock.Now()));
  if (!f) return Unexpected(f.error());
  return Response::Json(200, runs::DriftFindingJson(*f));
}

Result<Response> RevertDriftFinding(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "finding");
  if (!id) return Unexpected(id.error());
  auto started = runs::RevertDrift(ctx.runs, ctx.db, req.tenant_id, *id, req.user_id(),
                                   ToUnixMillis(ctx.clock.Now()));
  if (!started) return Unexpected(started.error());
  return StartResponse(*started);
}

Result<Response> SetBaselineSet(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "backup_set");
  if (!id) return Unexpected(id.error());
  auto body = JsonBody::Parse(req.body, {"baseline"});
  if (!body) return Unexpected(body.error());
  auto baseline = body->OptBool("baseline");
  if (!baseline) return Unexpected(baseline.error());
  if (!*baseline)
    return Unexpected(Status::InvalidArgument(
        "baseline: is required (true: drift is compared with this set; false: with the newest "
        "complete backup)"));
  auto set = store::WriteResult<store::BackupSetRecord>(
      ctx.db, [&](store::Tx& tx) -> Result<store::BackupSetRecord> {
        auto s = store::BackupSets::Get(tx, req.tenant_id, *id);
        if (!s) return Unexpected(s.error());
        if (**baseline && s->Status() != "complete")
          return Unexpected(Status::FailedPrecondition(
              "backup set " + std::to_string(*id) + " is " + s->Status() +
              ": only a complete set can be the baseline"));
        TA_RETURN_IF_ERROR(store::Drift::SetBaseline(tx, req.tenant_id, *id, **baseline));
        TA_RETURN_IF_ERROR(store::AuditLog::Record(
            tx, req.tenant_id, req.user_id(),
            **baseline ? "backup_set.baseline_pinned" : "backup_set.baseline_unpinned",
            "backup_set", std::to_string(*id), "{}", ToUnixMillis(ctx.clock.Now())));
        return store::BackupSets::Get(tx, req.tenant_id, *id);
      });
  if (!set) return Unexpected(set.error());
  return Response::Json(200, BackupSetJson(*set));
}

}  // namespace ta::api::handlers
