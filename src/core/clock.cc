#include "core/clock.h"

namespace ta {

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

FakeClock::FakeClock(TimePoint start) : now_(start) {}

FakeClock::TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void FakeClock::Advance(std::chrono::microseconds delta) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += delta;
}

void FakeClock::Set(TimePoint t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = t;
}

int64_t ToUnixMillis(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::TimePoint FromUnixMillis(int64_t ms) {
  return Clock::TimePoint(std::chrono::milliseconds(ms));
}

}  // namespace ta
