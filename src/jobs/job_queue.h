#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/redactor.h"
#include "core/result.h"
#include "core/thread_annotations.h"
#include "jobs/backoff.h"
#include "jobs/job.h"
#include "store/database.h"

namespace ta::jobs {

inline constexpr std::string_view kJobsChannel = "ta_jobs";

// Called inside the queue's transactions, so that a run's state changes in the
// same commit as its job's. Implemented by the runs layer.
class JobHooks {
 public:
  virtual ~JobHooks() = default;
  virtual Status OnClaimed(store::Tx& tx, const std::vector<Job>& jobs, int64_t now_ms) = 0;
  // The job reached a terminal state (completed, failed or cancelled).
  virtual Status OnFinished(store::Tx& tx, const Job& job, JobState state, const std::string& error,
                            int64_t now_ms) = 0;
};

struct QueueOptions {
  // Running jobs per tenant across all workers; 0 means no cap.
  int tenant_running_cap = 4;
  std::chrono::milliseconds lease{30'000};
  RetryPolicy retry;
};

struct EnqueueResult {
  int64_t job_id = 0;
  bool deduped = false;  // an active job with the same dedupe key already existed
};

struct Completion {
  Job job;
};

// The durable job queue. Thread-safe; any number of queues (in any number of
// processes) may share one database.
class JobQueue {
 public:
  JobQueue(store::Database& db, Clock& clock, QueueOptions options, JobHooks* hooks = nullptr,
           const Redactor* redactor = nullptr, uint64_t seed = std::random_device{}());

  // Enqueues inside the caller's transaction (so a run never exists without its
  // job), and schedules a wake-up for workers after commit.
  static Result<EnqueueResult> Enqueue(store::Database& db, store::Tx& tx, const JobSpec& spec,
                                       int64_t now_ms);
  // The jobs of runs made in the caller's transaction, in one statement. The
  // run is what makes a job unique (spec.dedupe_key must be unset), and no
  // caller needs the ids, so the insert is deferred (Tx::Defer): on
  // PostgreSQL it travels with the commit instead of costing a round trip.
  static Status EnqueueRunJobs(store::Database& db, store::Tx& tx,
                               const std::vector<JobSpec>& specs, int64_t now_ms);

  // Claims up to `max` due jobs, favouring tenants with the fewest running jobs
  // and respecting the per-tenant cap. Claimed jobs are leased to worker_id.
  Result<std::vector<Job>> Claim(const std::string& worker_id, int max);

  // Marks jobs completed in one transaction (jobs whose lease this worker lost
  // are left alone).
  Status Complete(const std::string& worker_id, const std::vector<Job>& jobs);
  // Failure: retried after a full-jitter backoff while attempts remain and the
  // error is retryable; otherwise the job fails for good.
  Status Fail(const std::string& worker_id, const Job& job, const Status& error, bool retryable);
  // Re-queues for `until` without consuming an attempt (Graph 429).
  Status Snooze(const std::string& worker_id, const Job& job, Clock::TimePoint until);
  // Ends the job as cancelled (the handler saw the cancel flag).
  Status MarkCancelled(const std::string& worker_id, const Job& job);
  // Hands jobs back (graceful shutdown) without consuming an attempt.
  Status Release(const std::string& worker_id, const std::vector<Job>& jobs);
  // Extends the lease of this worker's running jobs; returns the ids whose
  // cancellation was requested.
  Result<std::vector<int64_t>> Heartbeat(const std::string& worker_id,
                                         const std::vector<int64_t>& ids);
  // Re-queues running jobs whose lease lapsed (a crashed worker); fails those
  // out of attempts. Returns how many were rescued or failed.
  Result<int> RescueExpired();

  // Jobs waiting and running now (for /metrics).
  struct Depth {
    int64_t queued = 0, running = 0;
  };
  static Result<Depth> CurrentDepth(store::Tx& tx);

  // Cancels a job: at once when queued; by flag when running.
  Status Cancel(int64_t tenant_id, int64_t job_id);
  static Status CancelInTx(store::Tx& tx, JobHooks* hooks, int64_t tenant_id, int64_t job_id,
                           int64_t now_ms);
  // The queued or running job of a run, if any.
  static Result<std::optional<int64_t>> ActiveJobOfRun(store::Tx& tx, int64_t tenant_id,
                                                       int64_t run_id);
  bool CancelRequested(int64_t job_id);

  store::Database& db() { return db_; }
  Clock& clock() { return clock_; }
  const QueueOptions& options() const { return options_; }

 private:
  int64_t NowMs() const { return ToUnixMillis(clock_.Now()); }
  std::string Sanitize(const Status& s) const;
  Status Finish(store::Tx& tx, const Job& job, JobState state, const std::string& error,
                int64_t now);

  store::Database& db_;
  Clock& clock_;
  const QueueOptions options_;
  JobHooks* hooks_;
  const Redactor* redactor_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_);
  std::mutex claim_mu_;
  uint64_t claim_round_ GUARDED_BY(claim_mu_) = 0;
};

}  // namespace ta::jobs
