#include "runs/run_service.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "runs/operations.h"
#include "runs/run_words.h"
#include "store/accounts.h"
#include "store/audit_log.h"
#include "store/inventory.h"
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

namespace {

bool Batchable(const StartRequest& r) { return !r.in_same_tx && r.also_audit.empty(); }

Status CheckRequest(const StartRequest& r) {
  if (r.type.empty()) return Status::InvalidArgument("type: is required");
  if (r.tenant_id <= 0) return Status::InvalidArgument("tenant_id: must be positive");
  return Status::Ok();
}

jobs::JobSpec JobOf(const StartRequest& r, int64_t run_id) {
  jobs::JobSpec spec;
  spec.tenant_id = r.tenant_id;
  spec.kind = r.type;
  spec.run_id = run_id;
  spec.payload = r.params;
  spec.max_attempts = r.max_attempts;
  spec.priority = r.priority;
  return spec;
}

store::NewRun NewRunOf(const StartRequest& r, const IdempotencyKey& key) {
  return store::NewRun{r.tenant_id,         r.type,   key.key, r.target_id,
                       r.initiator_user_id, r.params, r.total};
}

}  // namespace

// Concurrent starts queue here. A caller that finds no batch writing takes
// up to max_batch of the queued starts, oldest first, writes them with
// StartMany and hands each its answer; the others queue meanwhile, and form
// the next batch. Every caller waits until its own start has an answer.
struct RunService::Grouper {
  struct Waiting {
    KeyedStart start;
    std::optional<Result<StartResult>> result;
  };
  explicit Grouper(size_t max) : max_batch(max) {}
  const size_t max_batch;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Waiting*> queue;  // GUARDED_BY(mu)
  bool writing = false;        // GUARDED_BY(mu)

  Result<StartResult> Start(RunService& service, const StartRequest& r, const IdempotencyKey& k) {
    Waiting me{{r, k}, std::nullopt};
    std::unique_lock<std::mutex> lock(mu);
    queue.push_back(&me);
    while (!me.result) {
      if (writing || queue.empty()) {
        cv.wait(lock);
        continue;
      }
      std::vector<Waiting*> batch;
      while (!queue.empty() && batch.size() < max_batch) {
        batch.push_back(queue.front());
        queue.pop_front();
      }
      writing = true;
      lock.unlock();
      std::vector<KeyedStart> starts;
      starts.reserve(batch.size());
      for (Waiting* w : batch) starts.push_back(w->start);
      // An exception must not leave `writing` set (every later start would
      // wait for ever) or this batch's callers without an answer.
      std::vector<Result<StartResult>> results;
      try {
        results = service.StartMany(starts);
      } catch (const std::exception& e) {
        results.assign(batch.size(),
                       Unexpected(Status::Internal(std::string("start failed: ") + e.what())));
      } catch (...) {
        results.assign(batch.size(), Unexpected(Status::Internal("start failed")));
      }
      lock.lock();
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
      writing = false;
      cv.notify_all();
    }
    return std::move(*me.result);
  }
};

RunService::~RunService() = default;

void RunService::GroupStarts(size_t max_batch) {
  grouper_ = std::make_unique<Grouper>(std::max<size_t>(1, max_batch));
}

int64_t RunService::start_batches() const { return start_batches_.load(); }

Result<StartResult> RunService::StartWithKey(const StartRequest& request,
                                             const IdempotencyKey& key) {
  TA_RETURN_IF_ERROR(CheckRequest(request));
  if (grouper_ && Batchable(request)) return grouper_->Start(*this, request, key);
  return StartOne(request, key);
}

Result<StartResult> RunService::StartOne(const StartRequest& request, const IdempotencyKey& key) {
  return store::WriteResult<StartResult>(db_, [&](Tx& tx) -> Result<StartResult> {
    if (request.policy_id) {
      auto found = store::Inventory::Policy(tx, request.tenant_id, *request.policy_id);
      if (!found) return Unexpected(found.error().WithContext("policy_id"));
    }
    const int64_t now = ToUnixMillis(clock_.Now());
    auto created = store::RunsRepository::CreateOrReuse(tx, NewRunOf(request, key), now);
    if (!created) return Unexpected(created.error());
    if (created->reused) {
      if (request.in_same_tx) TA_RETURN_IF_ERROR(request.in_same_tx(tx, created->run, true));
      return StartResult{created->run, true};
    }
    TA_RETURN_IF_ERROR(
        jobs::JobQueue::EnqueueRunJobs(db_, tx, {JobOf(request, created->run.id)}, now));
    TA_RETURN_IF_ERROR(NotifyAndAudit(tx, {created->run}, now));
    std::vector<store::AuditEntry> also = request.also_audit;
    for (store::AuditEntry& e : also) {
      e.run_id = created->run.id;
      e.target_type = "run";
      e.target_id = std::to_string(created->run.id);
    }
    TA_RETURN_IF_ERROR(store::AuditLog::AppendUnsealed(tx, also, now));
    if (request.in_same_tx) TA_RETURN_IF_ERROR(request.in_same_tx(tx, created->run, false));
    return StartResult{created->run, false};
  });
}

std::vector<Result<StartResult>> RunService::StartMany(const std::vector<KeyedStart>& starts) {
  std::vector<Result<StartResult>> out(starts.size(),
                                       Unexpected(Status::Internal("start not attempted")));
  std::vector<size_t> batch, alone;
  for (size_t i = 0; i < starts.size(); ++i) {
    if (Status s = CheckRequest(starts[i].request); !s.ok())
      out[i] = Unexpected(s);
    else if (Batchable(starts[i].request))
      batch.push_back(i);
    else
      alone.push_back(i);
  }
  if (!batch.empty()) {
    std::vector<size_t> left;
    Status s = db_.Write([&](Tx& tx) {
      left.clear();
      return WriteStarts(tx, starts, batch, out, left);
    });
    if (s.ok()) {
      start_batches_.fetch_add(1);
      alone.insert(alone.end(), left.begin(), left.end());
    } else if (s.code() == Status::Code::kStorageFull ||
               s.code() == Status::Code::kStorageUnavailable) {
      // The database itself failed: one by one would fail the same way.
      for (size_t i : batch) out[i] = Unexpected(s);
    } else {
      // One request's fault must fail only that request: each on its own.
      alone.insert(alone.end(), batch.begin(), batch.end());
    }
  }
  for (size_t i : alone) out[i] = StartOne(starts[i].request, starts[i].key);
  return out;
}

Status RunService::WriteStarts(Tx& tx, const std::vector<KeyedStart>& starts,
                               const std::vector<size_t>& batch,
                               std::vector<Result<StartResult>>& out, std::vector<size_t>& alone) {
  using Key = std::pair<int64_t, std::string>;
  const int64_t now = ToUnixMillis(clock_.Now());
  // The policies the starts are about, in one read. A missing or foreign one
  // is left to StartOne, which names the error.
  std::vector<int64_t> policy_ids;
  for (size_t i : batch)
    if (starts[i].request.policy_id) policy_ids.push_back(*starts[i].request.policy_id);
  auto policies = store::Inventory::PolicyNames(tx, policy_ids);
  if (!policies) return policies.error();
  std::vector<size_t> checked;
  std::set<Key> keys;
  for (size_t i : batch) {
    const StartRequest& r = starts[i].request;
    if (r.policy_id) {
      auto it = policies->find(*r.policy_id);
      if (it == policies->end() || it->second.first != r.tenant_id) {
        alone.push_back(i);
        continue;
      }
    }
    checked.push_back(i);
    keys.emplace(r.tenant_id, starts[i].key.key);
  }
  // Keys with an active run reuse it; the first start of every other key
  // makes its run, and later starts of that key in the batch reuse that.
  auto active = store::RunsRepository::ActiveByKeys(tx, {keys.begin(), keys.end()});
  if (!active) return active.error();
  std::map<Key, store::RunRecord> run_of;
  for (auto& run : *active) run_of.emplace(Key{run.tenant_id, run.idempotency_key}, run);
  std::map<Key, size_t> maker;
  for (size_t i : checked) {
    Key k{starts[i].request.tenant_id, starts[i].key.key};
    if (!run_of.count(k)) maker.emplace(k, i);  // the first start of the key
  }
  // In key order: two nodes' batches then take the unique index's entries in
  // one order, and cannot deadlock on them.
  std::vector<store::NewRun> fresh;
  for (const auto& [k, i] : maker) fresh.push_back(NewRunOf(starts[i].request, starts[i].key));
  auto made = store::RunsRepository::CreateMany(tx, fresh, now);
  if (!made) return made.error();
  std::vector<jobs::JobSpec> specs;
  for (const auto& run : *made) {
    const Key k{run.tenant_id, run.idempotency_key};
    specs.push_back(JobOf(starts[maker.at(k)].request, run.id));
    run_of.emplace(k, run);
  }
  for (size_t i : checked) {
    const Key k{starts[i].request.tenant_id, starts[i].key.key};
    auto it = run_of.find(k);
    // Not made: its key's run was committed after ActiveByKeys looked.
    if (it == run_of.end())
      alone.push_back(i);
    else
      out[i] = StartResult{it->second, !(maker.count(k) && maker.at(k) == i)};
  }
  TA_RETURN_IF_ERROR(jobs::JobQueue::EnqueueRunJobs(db_, tx, specs, now));
  return NotifyAndAudit(tx, *made, now);
}

Status RunService::NotifyAndAudit(Tx& tx, const std::vector<RunRecord>& runs, int64_t now) {
  std::vector<int64_t> initiators;
  for (const auto& run : runs)
    if (run.initiator_user_id) initiators.push_back(*run.initiator_user_id);
  auto users = store::Accounts::UsersByIds(tx, initiators);
  if (!users) return users.error();
  std::vector<RunRecord> told;  // runs whose initiator wants to hear of this status
  for (const auto& run : runs) {
    if (!run.initiator_user_id) continue;
    auto user = users->find(*run.initiator_user_id);
    if (user != users->end() &&
        ShouldNotify(user->second.notify, run.status, IsScheduledRun(run.type, run.target_id)))
      told.push_back(run);
  }
  auto words = DescribeRuns(tx, told);
  if (!words) return words.error();
  std::vector<store::Notification> first;  // of runs made in this transaction
  for (const auto& run : told) {
    const bool terminal = store::IsTerminal(run.status);
    store::Notification n;
    n.user_id = *run.initiator_user_id;
    n.tenant_id = run.tenant_id;
    n.run_id = run.id;
    n.action = ViewRunAction(run.id);
    n.created_at = now;
    n.title = RunSentence(run, words->at(run.id)) + ".";
    n.level = !terminal                                      ? "info"
              : run.status == RunStatus::kSucceeded          ? "success"
              : run.status == RunStatus::kPartiallySucceeded ? "warning"
              : run.status == RunStatus::kCancelled          ? "info"
                                                             : "error";
    const std::string id = "Run #" + std::to_string(run.id);
    n.body = terminal ? id + ": " + Counts(run) + "." : id + " is waiting for a worker.";
    if (terminal && run.error_message) n.body += " " + *run.error_message;
    if (run.status == RunStatus::kQueued) {  // made in this transaction: nothing to replace
      first.push_back(std::move(n));
    } else if (auto r = store::NotificationsRepository::Insert(tx, n); !r) {
      return r.error();
    }
  }
  TA_RETURN_IF_ERROR(store::NotificationsRepository::InsertFirst(tx, first));
  std::vector<store::AuditEntry> entries;
  for (const auto& run : runs) {
    const bool terminal = store::IsTerminal(run.status);
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
    entries.push_back(std::move(e));
  }
  // Unsealed on PostgreSQL: a start must not wait for the tenant's chain head
  // (every start of a tenant would queue on it); the sealer chains it.
  TA_RETURN_IF_ERROR(store::AuditLog::AppendUnsealed(tx, entries, now));
  if (finished_hook_)
    for (const auto& run : runs)
      if (store::IsTerminal(run.status)) TA_RETURN_IF_ERROR(finished_hook_(tx, run, now));
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
  return NotifyAndAudit(tx, {*finished}, now);
}

}  // namespace ta::runs
