#include "jobs/worker_pool.h"

#include <unistd.h>

#include <random>

namespace ta::jobs {

std::string DefaultWorkerId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
}

bool JobContext::CancelRequested() {
  // Read every time: one indexed row read per item is negligible next to the
  // Graph calls an item makes, and the user's cancel then takes effect at the
  // very next item.
  if (!cancelled_ && !job_.cancel_requested && queue_.CancelRequested(job_.id)) cancelled_ = true;
  return cancelled_ || job_.cancel_requested;
}

bool JobContext::AbortRequested() {
  if (aborting_ || cancelled_ || job_.cancel_requested) return true;
  constexpr int64_t kPollNs = 500'000'000;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_poll_ns_.load();
  if (now - last < kPollNs || !last_poll_ns_.compare_exchange_strong(last, now)) return false;
  return CancelRequested();
}

WorkerPool::WorkerPool(JobQueue& queue, WorkerOptions options)
    : queue_(queue), options_(std::move(options)) {
  if (options_.worker_id.empty()) options_.worker_id = DefaultWorkerId();
  options_.concurrency = std::max(1, options_.concurrency);
  options_.batch = std::max(1, options_.batch);
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Register(const std::string& kind, Handler handler) {
  handlers_[kind] = std::move(handler);
}

void WorkerPool::Execute(const Job& job) {
  auto it = handlers_.find(job.kind);
  JobResult result;
  if (it == handlers_.end()) {
    result =
        JobResult::Fail(Status::Internal("no handler registered for job kind '" + job.kind + "'"));
  } else {
    JobContext ctx(job, queue_, stopping_, aborting_);
    const auto started = std::chrono::steady_clock::now();
    try {
      result = it->second(ctx);
    } catch (const std::exception& e) {
      // A bug in a handler: retry (it may be transient) until attempts run out.
      result = JobResult::Retry(Status::Internal(std::string("handler threw: ") + e.what()));
    }
    if (options_.metrics) {
      static constexpr const char* kResult[] = {"success", "retry",     "fail",
                                                "snooze",  "cancelled", "released"};
      const auto k = static_cast<size_t>(result.kind);
      options_.metrics->Observe(
          "ta_job_duration_seconds",
          {{"kind", job.kind}, {"result", k < std::size(kResult) ? kResult[k] : "other"}},
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }
  Record(job, std::move(result));
}

void WorkerPool::Persist(const Job& job, const char* what, const std::function<Status()>& write) {
  auto delay = std::chrono::milliseconds(100);
  for (int attempt = 1;; ++attempt) {
    Status s = write();
    if (s.ok()) return;
    if (options_.logger) {
      options_.logger->Error("job result not stored; retrying",
                             {{"job_id", job.id},
                              {"run_id", job.run_id ? nlohmann::json(*job.run_id) : nullptr},
                              {"result", what},
                              {"attempt", attempt},
                              {"error", s.ToString()}});
    }
    // Stopping: give up; the lease lapses and the rescuer re-queues the job.
    std::unique_lock<std::mutex> lock(hb_mu_);
    if (hb_cv_.wait_for(lock, delay, [&] { return stopping_.load(); })) return;
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
}

void WorkerPool::Record(const Job& job, JobResult result) {
  const std::string& w = options_.worker_id;
  if (options_.logger &&
      (result.kind == JobResult::Kind::kRetry || result.kind == JobResult::Kind::kFail)) {
    options_.logger->Error("job attempt failed",
                           {{"job_id", job.id},
                            {"run_id", job.run_id ? nlohmann::json(*job.run_id) : nullptr},
                            {"kind", job.kind},
                            {"attempt", job.attempts},
                            {"max_attempts", job.max_attempts},
                            {"retry", result.kind == JobResult::Kind::kRetry},
                            {"error", result.error.ToString()}});
  }
  switch (result.kind) {
    case JobResult::Kind::kSuccess: {
      std::lock_guard<std::mutex> lock(mu_);
      completed_.push_back(job);
      return;  // flushed in a batch; stays in_flight_ (heartbeated) until then
    }
    case JobResult::Kind::kRetry:
      Persist(job, "retry", [&] { return queue_.Fail(w, job, result.error, true); });
      break;
    case JobResult::Kind::kFail:
      Persist(job, "fail", [&] { return queue_.Fail(w, job, result.error, false); });
      break;
    case JobResult::Kind::kSnooze:
      Persist(job, "snooze", [&] { return queue_.Snooze(w, job, result.snooze_until); });
      break;
    case JobResult::Kind::kCancelled:
      Persist(job, "cancelled", [&] { return queue_.MarkCancelled(w, job); });
      break;
    case JobResult::Kind::kRelease:
      Persist(job, "release", [&] { return queue_.Release(w, {job}); });
      break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(job.id);
}

Status WorkerPool::FlushCompletions() {
  std::vector<Job> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(completed_);
  }
  if (batch.empty()) return Status::Ok();
  Status s = queue_.Complete(options_.worker_id, batch);
  if (!s.ok()) {
    // Keep them: the lease still protects them, the next flush retries.
    std::lock_guard<std::mutex> lock(mu_);
    completed_.insert(completed_.end(), batch.begin(), batch.end());
    return s;
  }
  processed_ += static_cast<int64_t>(batch.size());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& j : batch) in_flight_.erase(j.id);
  done_cv_.notify_all();
  return Status::Ok();
}

Result<int> WorkerPool::RunOnce() {
  TA_RETURN_IF_ERROR(queue_.RescueExpired());
  auto jobs = queue_.Claim(options_.worker_id, options_.batch);
  if (!jobs) return Unexpected(jobs.error());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& j : *jobs) in_flight_[j.id] = j;
  }
  for (const auto& j : *jobs) Execute(j);
  if (Status s = FlushCompletions(); !s.ok()) return Unexpected(s);
  return static_cast<int>(jobs->size());
}

void WorkerPool::Start() {
  if (started_) return;
  started_ = true;
  stopping_ = false;
  for (int i = 0; i < options_.concurrency; ++i)
    executors_.emplace_back([this] { ExecutorLoop(); });
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  dispatcher_ = std::thread([this] { DispatcherLoop(); });
}

void WorkerPool::Stop() {
  if (!started_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queue_.db().Interrupt();
  work_cv_.notify_all();
  done_cv_.notify_all();
  dispatcher_.join();
  {
    // The grace period: handlers see ShuttingDown() and stop at their next
    // item; the heartbeat keeps their leases meanwhile. Past it, their Graph
    // calls are aborted (AbortRequested), so a hung call cannot hold the
    // process.
    std::unique_lock<std::mutex> lock(mu_);
    if (!done_cv_.wait_for(lock, options_.shutdown_grace, [&] { return executing_ == 0; })) {
      aborting_ = true;
      if (options_.logger)
        options_.logger->Warn("shutdown grace period over; aborting running jobs' Graph calls",
                              {{"running", executing_}});
    }
  }
  for (auto& t : executors_) t.join();
  executors_.clear();
  hb_cv_.notify_all();
  heartbeat_.join();
  // Results of handlers that finished during shutdown, then anything unstarted.
  if (Status s = FlushCompletions(); !s.ok() && options_.logger)
    options_.logger->Error("completions not stored at shutdown; their leases will lapse",
                           {{"error", s.ToString()}});
  std::vector<Job> unstarted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, job] : in_flight_) unstarted.push_back(job);
    in_flight_.clear();
    ready_.clear();
  }
  if (Status s = queue_.Release(options_.worker_id, unstarted); !s.ok() && options_.logger)
    options_.logger->Error("jobs not handed back at shutdown; their leases will lapse",
                           {{"jobs", unstarted.size()}, {"error", s.ToString()}});
  started_ = false;
  aborting_ = false;
}

void WorkerPool::ExecutorLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;  // stopping; unstarted jobs are released by Stop()
      if (stopping_) return;
      job = std::move(ready_.front());
      ready_.pop_front();
      ++executing_;
    }
    Execute(job);
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --executing_;
      wake = dispatcher_waiting_;
    }
    done_cv_.notify_all();
    if (wake) queue_.db().Interrupt();
  }
}

void WorkerPool::DispatcherLoop() {
  auto last_rescue = std::chrono::steady_clock::time_point{};
  while (!stopping_) {
    // A failed flush keeps its jobs for the next round (their leases hold).
    if (Status s = FlushCompletions(); !s.ok() && options_.logger)
      options_.logger->Error("job completions not stored; retrying", {{"error", s.ToString()}});
    if (std::chrono::steady_clock::now() - last_rescue >= options_.rescue_interval) {
      if (auto r = queue_.RescueExpired(); !r && options_.logger)
        options_.logger->Warn("lease rescue failed", {{"error", r.error().ToString()}});
      last_rescue = std::chrono::steady_clock::now();
    }
    int free_slots;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Slots count jobs claimed and not yet recorded, so a claim never
      // outruns the handlers by more than one batch.
      free_slots = options_.concurrency + options_.batch - static_cast<int>(in_flight_.size());
    }
    int claimed = 0;
    if (free_slots > 0) {
      auto jobs = queue_.Claim(options_.worker_id, std::min(free_slots, options_.batch));
      if (jobs) {
        claimed = static_cast<int>(jobs->size());
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& j : *jobs) {
          in_flight_[j.id] = j;
          ready_.push_back(std::move(j));
        }
      }
      if (claimed > 0) work_cv_.notify_all();
    }
    if (claimed > 0) continue;
    std::unique_lock<std::mutex> lock(mu_);
    if (!completed_.empty()) continue;
    if (free_slots <= 0) {
      // Every slot is busy: wait for handlers to finish something.
      done_cv_.wait_for(lock, options_.poll_interval,
                        [&] { return stopping_ || !completed_.empty(); });
      continue;
    }
    dispatcher_waiting_ = true;
    lock.unlock();
    queue_.db().WaitForNotification(kJobsChannel, options_.poll_interval);
    lock.lock();
    dispatcher_waiting_ = false;
  }
}

void WorkerPool::HeartbeatLoop() {
  std::unique_lock<std::mutex> hb(hb_mu_);
  while (!stopping_) {
    hb_cv_.wait_for(hb, options_.heartbeat_interval, [&] { return stopping_.load(); });
    if (stopping_) break;
    std::vector<int64_t> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, _] : in_flight_) ids.push_back(id);
    }
    if (auto r = queue_.Heartbeat(options_.worker_id, ids); !r && options_.logger)
      options_.logger->Warn("heartbeat failed",
                            {{"jobs", ids.size()}, {"error", r.error().ToString()}});
  }
}

}  // namespace ta::jobs
