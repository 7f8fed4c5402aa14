#include "graph/adaptive_limiter.h"

#include <algorithm>

namespace ta::graph {

AdaptiveLimiter::State& AdaptiveLimiter::Get(const std::string& tenant) {
  State& s = states_[tenant];
  if (s.limit == 0) s.limit = options_.initial;
  return s;
}

bool AdaptiveLimiter::Acquire(const std::string& tenant, const std::function<bool()>& abort) {
  // How often a waiting caller re-checks `abort`: a cancel must take effect
  // within seconds even while the tenant's throttle gate is closed.
  constexpr auto kAbortPoll = std::chrono::milliseconds(250);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (abort) {
      lock.unlock();
      const bool stop = abort();
      lock.lock();
      if (stop) return false;
    }
    State& s = Get(tenant);
    const auto now = clock_.Now();
    if (now < s.gate) {
      // Sleep on the clock (not the condition variable) so a FakeClock moves
      // past the gate; OnThrottle may move the gate meanwhile: check again.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s.gate - now);
      if (abort) left = std::min(left, std::chrono::milliseconds(kAbortPoll));
      lock.unlock();
      clock_.SleepFor(std::max(left, std::chrono::milliseconds(1)));
      lock.lock();
      continue;
    }
    if (s.in_flight < std::max(1, static_cast<int>(s.limit))) {
      ++s.in_flight;
      return true;
    }
    if (abort)
      cv_.wait_for(lock, kAbortPoll);
    else
      cv_.wait(lock);
  }
}

std::optional<AdaptiveLimiter::Slot> AdaptiveLimiter::Enter(const std::string& tenant,
                                                            const std::function<bool()>& abort) {
  if (!Acquire(tenant, abort)) return std::nullopt;
  return Slot(this, tenant);
}

void AdaptiveLimiter::Release(const std::string& tenant) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --Get(tenant).in_flight;
  }
  cv_.notify_all();
}

void AdaptiveLimiter::OnSuccess(const std::string& tenant) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = Get(tenant);
  s.limit = std::min(options_.max, s.limit + 1.0 / s.limit);
}

void AdaptiveLimiter::OnThrottle(const std::string& tenant, std::chrono::milliseconds retry_after) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    State& s = Get(tenant);
    const auto now = clock_.Now();
    // Halve once per throttle episode: the other requests that were in flight
    // when the limit was hit report the same episode.
    if (now >= s.gate) s.limit = std::max(options_.min, s.limit / 2);
    s.gate = std::max(s.gate, now + retry_after);
  }
  cv_.notify_all();
}

std::chrono::milliseconds AdaptiveLimiter::GateRemaining(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(tenant);
  if (it == states_.end()) return std::chrono::milliseconds(0);
  const auto now = clock_.Now();
  return it->second.gate > now
             ? std::chrono::duration_cast<std::chrono::milliseconds>(it->second.gate - now)
             : std::chrono::milliseconds(0);
}

double AdaptiveLimiter::Limit(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(tenant);
  return it == states_.end() ? options_.initial : it->second.limit;
}

}  // namespace ta::graph
