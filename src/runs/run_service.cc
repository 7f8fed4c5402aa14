#include "runs/run_service.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "runs/operations.h"
#include "runs/run_words.h"
#include "store/accounts.h"
#include "store/audit_log.h"
#include "store/notifications.h"

namespace ta::runs {

using store::RunRecord;
using store::RunStatus;
using store::Tx;

std::string RunUrl(int64_t run_id) { return "/runs/" + std::to_string(run_id); }

namespace {

std::string ViewRunAction(int64_t run_id) {
  return nlohmann::json{{"label", "View run"}, {"url", RunUrl(run_id)}}.dump();
}

std::string Counts(const RunRecord& r) {
  return std::to_string(r.succeeded) + " succeeded, " + std::to_string(r.failed) + " failed, " +
         std::to_string(r.skipped) + " skipped";
}

}  // namespace

RunService::RunService(store::Database& db, Clock& clock, const Redactor& redactor)
    : db_(db), clock_(clock), redactor_(redactor) {}

Result<StartResult> RunService::Start(const StartRequest& request) {
  auto key = BuildKey(request.tenant_id, request.type, request.target_id, request.key_context);
  if (!key) return Unexpected(key.error());
  return StartWithKey(request, *key);
}

Result<StartResult> RunService::StartWithKey(const StartRequest& request,
                                             const IdempotencyKey& key) {
  if (request.type.empty()) return Unexpected(Status::InvalidArgument("type: is required"));
  if (request.tenant_id <= 0)
    return Unexpected(Status::InvalidArgument("tenant_id: must be positive"));
  return store::WriteResult<StartResult>(db_, [&](Tx& tx) -> Result<StartResult> {
    if (request.check) TA_RETURN_IF_ERROR(request.check(tx));
    const int64_t now = ToUnixMillis(clock_.Now());
    store::NewRun run{request.tenant_id,         request.type,   key.key,      request.target_id,
                      request.initiator_user_id, request.params, request.total};
    auto created = store::RunsRepository::CreateOrReuse(tx, run, now);
    if (!created) return Unexpected(created.error());
    if (created->reused) {
      if (request.in_same_tx) TA_RETURN_IF_ERROR(request.in_same_tx(tx, created->run, true));
      return StartResult{created->run, true};
    }

    jobs::JobSpec spec;
    spec.tenant_id = request.tenant_id;
    spec.kind = request.type;
    spec.run_id = created->run.id;
    spec.payload = request.params;
    spec.max_attempts = request.max_attempts;
    spec.priority = request.priority;
    if (Status s = jobs::JobQueue::EnqueueRunJob(db_, tx, spec, now); !s.ok()) return Unexpected(s);
    if (Status s = NotifyAndAudit(tx, created->run, now); !s.ok()) return Unexpected(s);
    for (store::AuditEntry e : request.also_audit) {
      e.run_id = created->run.id;
      e.target_type = "run";
      e.target_id = std::to_string(created->run.id);
      if (Status s = store::AuditLog::AppendUnsealed(tx, e, now); !s.ok()) return Unexpected(s);
    }
    if (request.in_same_tx) TA_RETURN_IF_ERROR(request.in_same_tx(tx, created->run, false));
    return StartResult{created->run, false};
  });
}

Status RunService::NotifyAndAudit(Tx& tx, const RunRecord& run, int64_t now) {
  const bool terminal = store::IsTerminal(run.status);
  if (run.initiator_user_id) {
    auto user = store::Accounts::UserById(tx, *run.initiator_user_id);
    if (!user) return user.error();
    if (*user &&
        ShouldNotify((*user)->notify, run.status, IsScheduledRun(run.type, run.target_id))) {
      auto words = DescribeRun(tx, run);
      if (!words) return words.error();
      store::Notification n;
      n.user_id = *run.initiator_user_id;
      n.tenant_id = run.tenant_id;
      n.run_id = run.id;
      n.action = ViewRunAction(run.id);
      n.created_at = now;
      n.title = RunSentence(run, *words) + ".";
      n.level = !terminal                                      ? "info"
                : run.status == RunStatus::kSucceeded          ? "success"
                : run.status == RunStatus::kPartiallySucceeded ? "warning"
                : run.status == RunStatus::kCancelled          ? "info"
                                                               : "error";
      const std::string id = "Run #" + std::to_string(run.id);
      n.body = terminal ? id + ": " + Counts(run) + "." : id + " is waiting for a worker.";
      if (terminal && run.error_message) n.body += " " + *run.error_message;
      if (run.status == RunStatus::kQueued) {  // made in this transaction: nothing to replace
        TA_RETURN_IF_ERROR(store::NotificationsRepository::InsertFirst(tx, n));
      } else if (auto r = store::NotificationsRepository::Insert(tx, n); !r) {
        return r.error();
      }
    }
  }
  store::AuditEntry e;
  e.tenant_id = run.tenant_id;
  e.actor_user_id = terminal ? std::nullopt : run.initiator_user_id;
  e.action = terminal ? "run.finished" : "run.queued";
  e.target_type = "run";
  e.target_id = std::to_string(run.id);
  e.run_id = run.id;
  nlohmann::json details{{"type", run.type}, {"status", store::ToString(run.status)}};
  if (run.target_id) details["target_id"] = *run.target_id;
  if (terminal) {
    details["succeeded"] = run.succeeded;
    details["failed"] = run.failed;
    details["skipped"] = run.skipped;
  }
  e.details = details.dump();
  // Unsealed on PostgreSQL: a start must not wait for the tenant's chain head
  // (every start of a tenant would queue on it); the sealer chains it.
  if (Status s = store::AuditLog::AppendUnsealed(tx, e, now); !s.ok()) return s;
  if (terminal && finished_hook_) return finished_hook_(tx, run, now);
  return Status::Ok();
}

Status RunService::Cancel(int64_t tenant_id, int64_t run_id, std::optional<int64_t> actor) {
  return db_.Write([&](Tx& tx) -> Status {
    const int64_t now = ToUnixMillis(clock_.Now());
    auto run = store::RunsRepository::Get(tx, tenant_id, run_id);
    if (!run) return run.error();
    if (store::IsTerminal(run->status)) {
      return Status::Conflict("run " + std::to_string(run_id) + " already ended (" +
                              std::string(store::ToString(run->status)) + ")");
    }
    if (Status s = store::RunsRepository::RequestCancel(tx, tenant_id, run_id, now); !s.ok())
      return s;
    auto job = jobs::JobQueue::ActiveJobOfRun(tx, tenant_id, run_id);
    if (!job) return job.error();
    store::AuditEntry e{tenant_id, actor, "run.cancel_requested", "run", std::to_string(run_id),
                        run_id,    "{}"};
    if (auto r = store::AuditLog::Append(tx, e, now); !r) return r.error();
    if (!*job) return Status::Ok();
    return jobs::JobQueue::CancelInTx(tx, this, tenant_id, **job, now);
  });
}

Status RunService::OnClaimed(Tx& tx, const std::vector<jobs::Job>& jobs, int64_t now) {
  std::vector<int64_t> run_ids;
  for (const auto& j : jobs)
    if (j.run_id) run_ids.push_back(*j.run_id);
  return store::RunsRepository::MarkRunning(tx, run_ids, now);
}

Status RunService::OnFinished(Tx& tx, const jobs::Job& job, jobs::JobState state,
                              const std::string& error, int64_t now) {
  if (!job.run_id) return Status::Ok();
  auto current = store::RunsRepository::Get(tx, job.tenant_id, *job.run_id);
  if (!current) return current.error();
  if (store::IsTerminal(current->status)) return Status::Ok();  // the handler finished it already
  // The status comes from the item rows, never from the job's word alone: a
  // run whose items do not all have an outcome is not a success.
  auto recounted = store::RunsRepository::Recount(tx, job.tenant_id, *job.run_id, now);
  if (!recounted) return recounted.error();
  const RunRecord& run = recounted->run;
  const int64_t missing = std::max<int64_t>(0, run.total - run.processed);
  const std::string of_total = " of " + std::to_string(run.total) + " items";
  RunStatus to = RunStatus::kSucceeded;
  std::optional<std::string> code, message;
  auto degraded = [&] {
    return run.succeeded > 0 ? RunStatus::kPartiallySucceeded : RunStatus::kFailed;
  };
  if (state == jobs::JobState::kCancelled) {
    to = RunStatus::kCancelled;
  } else if (state == jobs::JobState::kFailed) {
    to = degraded();
    code = "job_failed";
    message = redactor_.Redact(error);
    if (missing > 0) *message += "; " + std::to_string(missing) + of_total + " have no outcome";
  } else if (missing > 0) {
    to = degraded();
    code = "items_without_outcome";
    message = std::to_string(missing) + of_total + " have no outcome";
  } else if (run.failed > 0) {
    to = degraded();
    code = "items_failed";
    message = std::to_string(run.failed) + of_total + " failed";
    if (const auto& f = recounted->first_failure) {
      *message += "; first: " + f->item_ref + " (" + f->error_code.value_or("error") + ": " +
                  redactor_.Redact(f->error_message.value_or("")) + ")";
    }
  }
  if (run.status == RunStatus::kQueued && to != RunStatus::kCancelled && to != RunStatus::kFailed) {
    TA_RETURN_IF_ERROR(
        store::RunsRepository::Transition(tx, job.tenant_id, run.id, RunStatus::kRunning, now));
  }
  TA_RETURN_IF_ERROR(
      store::RunsRepository::Transition(tx, job.tenant_id, run.id, to, now, code, message));
  auto finished = store::RunsRepository::Get(tx, job.tenant_id, run.id);
  if (!finished) return finished.error();
  return NotifyAndAudit(tx, *finished, now);
}

}  // namespace ta::runs
