#include "runs/drift.h"

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "runs/operations.h"
#include "store/audit_log.h"

namespace ta::runs {

using nlohmann::json;

namespace {

json Opt(const std::optional<int64_t>& v) { return v ? json(*v) : json(); }

}  // namespace

json DriftFindingJson(const store::DriftFinding& f) {
  json diff = json::parse(f.diff, nullptr, false);
  if (diff.is_discarded()) diff = json::array();
  return {{"id", f.id},
          {"tenant_id", f.tenant_id},
          {"type", f.type},
          {"graph_id", f.graph_id},
          {"display_name", f.display_name},
          {"kind", f.kind},
          {"status", f.status},
          {"baseline_set_id", Opt(f.baseline_set_id)},
          {"baseline_item_id", Opt(f.baseline_item_id)},
          {"diff", diff},
          {"actor", f.actor},
          {"actor_detail", f.actor_detail},
          {"changed_at", TimeJson(f.changed_at)},
          {"first_run_id", f.first_run_id},
          {"last_run_id", f.last_run_id},
          {"first_seen_at", TimeJson(f.first_seen_at)},
          {"last_seen_at", TimeJson(f.last_seen_at)},
          {"closed_at", TimeJson(f.closed_at)},
          {"closed_by", Opt(f.closed_by)},
          {"close_note", f.close_note ? json(*f.close_note) : json()},
          {"revert_run_id", Opt(f.revert_run_id)},
          {"accepted_set_id", Opt(f.accepted_set_id)}};
}

Result<store::DriftFinding> AcceptDrift(store::Database& db, int64_t tenant_id,
                                        int64_t finding_id, std::optional<int64_t> user_id,
                                        int64_t now_ms) {
  return store::WriteResult<store::DriftFinding>(
      db, [&](store::Tx& tx) -> Result<store::DriftFinding> {
        auto f = store::Drift::Get(tx, tenant_id, finding_id);
        if (!f) return Unexpected(f.error());
        if (f->status != "open")
          return Unexpected(Status::FailedPrecondition(
              "drift finding " + std::to_string(finding_id) + " is " + f->status + ", not open"));
        // The tenant's baseline now (an earlier accept may have moved it since).
        auto base = store::Drift::BaselineSet(tx, tenant_id, std::nullopt, std::nullopt);
        if (!base) return Unexpected(base.error());
        if (!*base)
          return Unexpected(Status::FailedPrecondition(
              "the tenant has no baseline any more: take a backup and detect drift again"));
        auto set = store::Drift::AcceptIntoBaseline(tx, *f, **base, user_id, now_ms);
        if (!set) return Unexpected(set.error());
        TA_RETURN_IF_ERROR(store::Drift::Close(tx, tenant_id, finding_id, "accepted", user_id,
                                               now_ms, "the live state is the baseline now",
                                               std::nullopt, *set));
        TA_RETURN_IF_ERROR(store::AuditLog::Record(
            tx, tenant_id, user_id, "drift.accepted", "drift_finding", std::to_string(finding_id),
            json{{"kind", f->kind},
                 {"type", f->type},
                 {"graph_id", f->graph_id},
                 {"display_name", f->display_name},
                 {"previous_baseline_set_id", **base},
                 {"baseline_set_id", *set}}
                .dump(),
            now_ms));
        return store::Drift::Get(tx, tenant_id, finding_id);
      });
}

Result<StartResult> RevertDrift(RunService& runs, store::Database& db, int64_t tenant_id,
                                int64_t finding_id, int64_t user_id, int64_t now_ms) {
  auto f = store::ReadResult<store::DriftFinding>(
      db, [&](store::Tx& tx) { return store::Drift::Get(tx, tenant_id, finding_id); });
  if (!f) return Unexpected(f.error());
  if (f->status != "open")
    return Unexpected(Status::FailedPrecondition("drift finding " + std::to_string(finding_id) +
                                                 " is " + f->status + ", not open"));
  if (f->kind == "added" || !f->baseline_set_id || !f->baseline_item_id)
    return Unexpected(Status::FailedPrecondition(
        "'" + f->display_name +
        "' was added after the baseline, so there is no backup of it to restore: delete it in "
        "Intune, or accept it"));
  RestoreRequest r;
  r.actor_user_id = user_id;
  r.source_tenant_id = tenant_id;
  r.target_tenant_id = tenant_id;
  r.backup_set_id = *f->baseline_set_id;
  r.item_ids = std::vector<int64_t>{*f->baseline_item_id};
  auto started = StartRestore(runs, db, r, false);
  if (!started) {
    if (started.error().code() == Status::Code::kNotFound)
      return Unexpected(Status::FailedPrecondition(
          "the baseline this finding was compared with (backup set " +
          std::to_string(*f->baseline_set_id) +
          ") no longer exists: detect drift again to compare with the current baseline"));
    return Unexpected(started.error());
  }
  Status s = db.Write([&](store::Tx& tx) -> Status {
    TA_RETURN_IF_ERROR(store::Drift::SetRevertRun(tx, tenant_id, finding_id, started->run.id));
    return store::AuditLog::Record(tx, tenant_id, user_id, "drift.revert_started",
                                   "drift_finding", std::to_string(finding_id),
                                   json{{"run_id", started->run.id},
                                        {"backup_set_id", *f->baseline_set_id},
                                        {"backup_item_id", *f->baseline_item_id}}
                                       .dump(),
                                   now_ms);
  });
  if (!s.ok()) return Unexpected(s);
  return started;
}

}  // namespace ta::runs
