#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/idempotency.h"
#include "core/redactor.h"
#include "jobs/job_queue.h"
#include "store/audit_log.h"
#include "store/runs_repository.h"

namespace ta::runs {

struct StartRequest {
  int64_t tenant_id = 0;
  std::string type;  // e.g. "policy.capture_snapshot"; also the job kind
  std::optional<std::string> target_id;
  php::Value key_context = php::Value(php::Array{});  // what makes two starts "the same"
  std::optional<int64_t> initiator_user_id;
  std::string params = "{}";  // JSON handed to the job
  int64_t total = 0;
  int max_attempts = 5;
  int priority = 100;
  // Audit entries in other tenants' logs, written with the run (run_id and
  // target filled in): a restore into another tenant is recorded in the
  // source tenant's log too.
  std::vector<store::AuditEntry> also_audit;
  // The policy this start is about (a capture). It must be a policy of the
  // tenant, or nothing starts (NotFound or PermissionDenied, named
  // "policy_id"). Checked in the start's own transaction.
  std::optional<int64_t> policy_id;
  // Runs in the start's transaction, with the run (new or reused); an error
  // rolls the whole start back. A scheduler records "this slot started this
  // run" here, so the record and the run exist together or not at all.
  std::function<Status(store::Tx&, const store::RunRecord&, bool reused)> in_same_tx;
};

struct StartResult {
  store::RunRecord run;
  bool reused = false;  // an identical run was already queued or running
};

// Starts, cancels and finishes runs. Start writes the run, its job, the
// "queued" notification and the audit entry in one transaction, so a run
// never exists without its job. As JobHooks it moves runs to running and to
// their terminal state in the same transactions as their jobs.
class RunService final : public jobs::JobHooks {
 public:
  RunService(store::Database& db, Clock& clock, const Redactor& redactor);

  ~RunService() override;

  // Key = BuildKey(tenant, type, target, key_context).
  Result<StartResult> Start(const StartRequest& request);
  // For operations with their own key function (RestoreExecuteKey).
  Result<StartResult> StartWithKey(const StartRequest& request, const IdempotencyKey& key);

  // Starts many requests. Those without in_same_tx and also_audit are
  // written together, in one transaction with a fixed number of statements
  // whatever their number (set-based: one lookup of every key, one insert of
  // every new run, one of their jobs, notifications and audit entries). Two
  // requests with one key in the batch give one run, the second reused. A
  // request the batch cannot take (its policy is missing, its key became
  // active meanwhile) or a batch that fails is started on its own, so each
  // request gets exactly the answer Start would give it.
  struct KeyedStart {
    const StartRequest& request;
    const IdempotencyKey& key;
  };
  std::vector<Result<StartResult>> StartMany(const std::vector<KeyedStart>& starts);

  // Group commit of starts: from now on, concurrent Start calls of requests
  // StartMany can batch are queued and written by StartMany, up to max_batch
  // per transaction, one transaction at a time; the starts that arrive
  // meanwhile form the next. Each call still returns only after its own
  // start committed. Call before the first Start.
  void GroupStarts(size_t max_batch);
  // Transactions StartMany wrote (tests and benchmarks).
  int64_t start_batches() const;

  // Queued: cancelled at once. Running: flagged; the handler stops between items.
  Status Cancel(int64_t tenant_id, int64_t run_id, std::optional<int64_t> actor_user_id);

  // Called in the transaction that ends a run (after its notification and
  // audit entry): alerts hook in here. An error rolls the ending back.
  using FinishedHook = std::function<Status(store::Tx&, const store::RunRecord&, int64_t now_ms)>;
  void SetFinishedHook(FinishedHook hook) { finished_hook_ = std::move(hook); }

  Status OnClaimed(store::Tx& tx, const std::vector<jobs::Job>& jobs, int64_t now_ms) override;
  Status OnFinished(store::Tx& tx, const jobs::Job& job, jobs::JobState state,
                    const std::string& error, int64_t now_ms) override;

 private:
  struct Grouper;
  Result<StartResult> StartOne(const StartRequest& request, const IdempotencyKey& key);
  // The starts of `batch` (indices into starts) in tx; a start the batch
  // cannot take is added to `alone`.
  Status WriteStarts(store::Tx& tx, const std::vector<KeyedStart>& starts,
                     const std::vector<size_t>& batch, std::vector<Result<StartResult>>& out,
                     std::vector<size_t>& alone);
  // The runs' notifications (to initiators who want them) and audit entries,
  // a few statements for all of them; for an ended run, the finished hook.
  Status NotifyAndAudit(store::Tx& tx, const std::vector<store::RunRecord>& runs, int64_t now_ms);

  store::Database& db_;
  Clock& clock_;
  const Redactor& redactor_;
  FinishedHook finished_hook_;
  std::unique_ptr<Grouper> grouper_;
  std::atomic<int64_t> start_batches_{0};
};

// "/runs/<id>": the run detail page a notification links to.
std::string RunUrl(int64_t run_id);

}  // namespace ta::runs
