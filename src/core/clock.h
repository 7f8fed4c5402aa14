#pragma once

#include <chrono>
#include <mutex>

namespace ta {

// Wall-clock time source. Everything that reads the time takes a Clock& so that
// tests can drive time with FakeClock instead of sleeping.
class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The real clock. Stateless; one shared instance is fine.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Instance();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)));
  TimePoint Now() const override;
  void Advance(std::chrono::microseconds delta);
  void Set(TimePoint t);

 private:
  mutable std::mutex mu_;
  TimePoint now_;  // guarded by mu_
};

// Milliseconds since the Unix epoch, the unit we persist timestamps in.
int64_t ToUnixMillis(Clock::TimePoint t);
Clock::TimePoint FromUnixMillis(int64_t ms);

}  // namespace ta
