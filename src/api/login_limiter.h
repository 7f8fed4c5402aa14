#pragma once

// Slows password guessing: at most `max_failures` failed logins per (address,
// email) and `max_failures_per_address` per address within a sliding window.
// In memory, per process: with N serve processes an attacker gets N times the
// budget, which the per-address cap still bounds. Thread-safe.

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "core/thread_annotations.h"

namespace ta::api {

class LoginLimiter {
 public:
  LoginLimiter(Clock& clock, int max_failures = 5, int max_failures_per_address = 50,
               std::chrono::seconds window = std::chrono::minutes(15));

  // Zero when an attempt is allowed now, else how long until it is.
  std::chrono::seconds RetryAfter(const std::string& address, const std::string& email);
  void RecordFailure(const std::string& address, const std::string& email);
  // A successful login clears the (address, email) failures.
  void RecordSuccess(const std::string& address, const std::string& email);

 private:
  using Times = std::deque<Clock::TimePoint>;
  std::chrono::seconds Wait(Times& times, int limit, Clock::TimePoint now)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const int max_failures_;
  const int max_per_address_;
  const std::chrono::seconds window_;
  std::mutex mu_;
  std::map<std::string, Times> by_pair_ GUARDED_BY(mu_);
  std::map<std::string, Times> by_address_ GUARDED_BY(mu_);
};

}  // namespace ta::api
