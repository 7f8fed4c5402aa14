#include "api/login_limiter.h"

namespace ta::api {

LoginLimiter::LoginLimiter(Clock& clock, int max_failures, int max_failures_per_address,
                           std::chrono::seconds window)
    : clock_(clock),
      max_failures_(max_failures),
      max_per_address_(max_failures_per_address),
      window_(window) {}

std::chrono::seconds LoginLimiter::Wait(Times& times, int limit, Clock::TimePoint now) {
  while (!times.empty() && times.front() + window_ <= now) times.pop_front();
  if (static_cast<int>(times.size()) < limit) return std::chrono::seconds(0);
  // Allowed again once the oldest failure in the window expires.
  const auto wait = std::chrono::duration_cast<std::chrono::seconds>(times.front() + window_ - now);
  return std::max(wait, std::chrono::seconds(1));
}

std::chrono::seconds LoginLimiter::RetryAfter(const std::string& address,
                                              const std::string& email) {
  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  return std::max(Wait(by_pair_[address + "\n" + email], max_failures_, now),
                  Wait(by_address_[address], max_per_address_, now));
}

void LoginLimiter::RecordFailure(const std::string& address, const std::string& email) {
  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  by_pair_[address + "\n" + email].push_back(now);
  by_address_[address].push_back(now);
  // Bound memory under a spray of distinct emails: drop pairs that are idle.
  if (by_pair_.size() > 100'000) {
    for (auto it = by_pair_.begin(); it != by_pair_.end();) {
      Wait(it->second, max_failures_, now);
      it = it->second.empty() ? by_pair_.erase(it) : std::next(it);
    }
  }
}

void LoginLimiter::RecordSuccess(const std::string& address, const std::string& email) {
  std::lock_guard lock(mu_);
  by_pair_.erase(address + "\n" + email);
}

}  // namespace ta::api
