#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "core/thread_annotations.h"
#include "jobs/job_queue.h"

namespace ta::jobs {

// What a handler decided. Handlers never throw for expected failures.
struct JobResult {
  enum class Kind { kSuccess, kRetry, kFail, kSnooze, kCancelled, kRelease };
  Kind kind = Kind::kSuccess;
  Status error;
  Clock::TimePoint snooze_until{};

  static JobResult Success() { return {}; }
  static JobResult Retry(Status e) { return {Kind::kRetry, std::move(e), {}}; }  // backoff
  static JobResult Fail(Status e) { return {Kind::kFail, std::move(e), {}}; }    // no retry
  static JobResult Snooze(Clock::TimePoint until) { return {Kind::kSnooze, {}, until}; }
  static JobResult Cancelled() { return {Kind::kCancelled, {}, {}}; }
  static JobResult Release() { return {Kind::kRelease, {}, {}}; }  // give back on shutdown
};

// What a handler sees of its job and the pool. Thread-safe: a handler may
// fan an item list out over threads that share one context.
class JobContext {
 public:
  JobContext(const Job& job, JobQueue& queue, const std::atomic<bool>& stopping,
             const std::atomic<bool>& aborting)
      : job_(job), queue_(queue), stopping_(stopping), aborting_(aborting) {}
  const Job& job() const { return job_; }
  store::Database& db() { return queue_.db(); }
  Clock& clock() { return queue_.clock(); }
  // Handlers call this between items; it reads the job's cancel flag (one row).
  bool CancelRequested();
  // True once the pool is shutting down: finish the current item and return Release().
  bool ShuttingDown() const { return stopping_.load(); }
  // For calls in progress (graph::AbortCheck): true when the user cancelled
  // (the flag is read at most twice a second) or the pool's shutdown grace
  // period ran out. The handler then returns Cancelled() or Release().
  bool AbortRequested();

 private:
  const Job& job_;
  JobQueue& queue_;
  const std::atomic<bool>& stopping_;
  const std::atomic<bool>& aborting_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> last_poll_ns_{0};  // steady clock: a poll rate, not business time
};

using Handler = std::function<JobResult(JobContext&)>;

struct WorkerOptions {
  std::string worker_id;  // default: host-pid-random
  int concurrency = 4;    // handler threads
  int batch = 32;         // max jobs per claim
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds rescue_interval{5000};
  // Stop() lets running handlers finish for this long, then aborts their Graph
  // calls (JobContext::AbortRequested) and hands their jobs back.
  std::chrono::milliseconds shutdown_grace{30'000};
  // When set: ta_job_duration_seconds{kind,result}, one observation per handler call.
  Metrics* metrics = nullptr;
  // When set: every failed attempt and every result the queue could not store
  // is logged at error level.
  Logger* logger = nullptr;
};

// Claims jobs and runs their handlers. Either step it with RunOnce() (tests,
// no threads) or Start() it (one dispatcher, `concurrency` handler threads and
// a heartbeat thread). Successful completions are flushed in batches.
class WorkerPool {
 public:
  WorkerPool(JobQueue& queue, WorkerOptions options);
  ~WorkerPool();

  // Register before Start()/RunOnce(). A job with no handler fails permanently.
  void Register(const std::string& kind, Handler handler);

  // One synchronous step: rescue expired leases, claim up to `batch` jobs,
  // run each on this thread, record the results. Returns jobs run.
  Result<int> RunOnce();

  void Start();
  // Graceful and bounded: stops claiming, lets running handlers finish (they
  // see ShuttingDown() and return Release() at the next item boundary) for up
  // to shutdown_grace, then aborts the Graph calls still in progress; releases
  // every job not finished, so another worker resumes it at once; flushes
  // results. Idempotent.
  void Stop();

  const std::string& worker_id() const { return options_.worker_id; }
  int64_t processed() const { return processed_.load(); }

 private:
  void Execute(const Job& job);
  void Record(const Job& job, JobResult result);
  // Retries a queue write until it lands or the pool stops: the job's lease
  // (still heartbeated) keeps it ours meanwhile, and a lost write would
  // otherwise leave the job running until its lease lapsed.
  void Persist(const Job& job, const char* what, const std::function<Status()>& write);
  Status FlushCompletions();
  void DispatcherLoop();
  void ExecutorLoop();
  void HeartbeatLoop();

  JobQueue& queue_;
  WorkerOptions options_;
  std::map<std::string, Handler> handlers_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> aborting_{false};
  std::atomic<int64_t> processed_{0};

  std::mutex mu_;
  std::condition_variable work_cv_;  // executors wait for jobs
  std::condition_variable done_cv_;  // dispatcher waits for free slots
  std::deque<Job> ready_ GUARDED_BY(mu_);
  std::map<int64_t, Job> in_flight_ GUARDED_BY(mu_);  // claimed, not yet recorded
  std::vector<Job> completed_ GUARDED_BY(mu_);        // succeeded, not yet flushed
  bool dispatcher_waiting_ GUARDED_BY(mu_) = false;
  int executing_ GUARDED_BY(mu_) = 0;  // handlers running now

  std::thread dispatcher_;
  std::thread heartbeat_;
  std::vector<std::thread> executors_;
  std::mutex hb_mu_;
  std::condition_variable hb_cv_;
  bool started_ = false;
};

std::string DefaultWorkerId();

}  // namespace ta::jobs
