#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/thread_annotations.h"

namespace ta::graph {

// Per-tenant concurrency limit that adapts by AIMD (additive increase,
// multiplicative decrease), plus a gate that a 429 closes for Retry-After.
// A success raises the limit by 1/limit (about +1 per round of requests); a
// throttle halves it and holds every caller for that tenant until the gate
// opens, so one 429 pauses the tenant instead of letting each in-flight
// request discover the throttle on its own. The gate is kept, and waited out,
// in `clock` time: Graph tests run on a FakeClock and never sleep.
// Thread-safe.
class AdaptiveLimiter {
 public:
  struct Options {
    double initial = 4;
    double min = 1;
    double max = 16;
  };
  AdaptiveLimiter() : AdaptiveLimiter(Options{}) {}
  explicit AdaptiveLimiter(Options options, Clock& clock = SystemClock::Instance())
      : options_(options), clock_(clock) {}

  // A held concurrency slot; gives it back when it goes out of scope, so no
  // return path of a caller can leak one.
  class Slot {
   public:
    Slot(Slot&& other) noexcept
        : limiter_(std::exchange(other.limiter_, nullptr)), tenant_(std::move(other.tenant_)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (limiter_) limiter_->Release(tenant_);
    }

   private:
    friend class AdaptiveLimiter;
    Slot(AdaptiveLimiter* limiter, std::string tenant)
        : limiter_(limiter), tenant_(std::move(tenant)) {}
    AdaptiveLimiter* limiter_;
    std::string tenant_;
  };

  // Waits until the tenant has a free slot and its gate is open. With
  // `abort`, polls it a few times a second and returns nullopt (no slot taken)
  // once it says stop.
  std::optional<Slot> Enter(const std::string& tenant, const std::function<bool()>& abort = {});
  void OnSuccess(const std::string& tenant);
  void OnThrottle(const std::string& tenant, std::chrono::milliseconds retry_after);
  // How long the tenant's throttle gate stays closed (0 when open).
  std::chrono::milliseconds GateRemaining(const std::string& tenant) const;
  double Limit(const std::string& tenant) const;
  // The clock the gate runs on; GraphClient waits out its backoff on it too.
  Clock& clock() const { return clock_; }

 private:
  struct State {
    double limit = 0;
    int in_flight = 0;
    Clock::TimePoint gate{};
  };
  bool Acquire(const std::string& tenant, const std::function<bool()>& abort);
  void Release(const std::string& tenant);
  State& Get(const std::string& tenant) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, State> states_ GUARDED_BY(mu_);
};

}  // namespace ta::graph
