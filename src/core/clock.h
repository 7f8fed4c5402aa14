#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace ta {

// Time source. Everything that reads the time, or waits for a span of it
// (Graph's Retry-After and backoff), takes a Clock& so that tests drive time
// with FakeClock instead of sleeping.
class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Blocks the calling thread for `d` of this clock's time. Callers that must
  // stay responsive (to a cancel) sleep in short steps and check between them.
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
};

// The real clock. Stateless; one shared instance is fine.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  void SleepFor(std::chrono::milliseconds d) override;
  static SystemClock& Instance();
};

// A clock that moves only when told to, or by the time a caller sleeps on
// it: SleepFor(d) returns at once, having moved the clock d forward (each
// sleeper moves it by its own d). Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)));
  TimePoint Now() const override;
  void SleepFor(std::chrono::milliseconds d) override;
  void Advance(std::chrono::microseconds delta);
  void Set(TimePoint t);
  // Total time callers slept on this clock.
  std::chrono::milliseconds slept() const;

 private:
  mutable std::mutex mu_;
  TimePoint now_;                       // guarded by mu_
  std::chrono::milliseconds slept_{0};  // guarded by mu_
};

// A clock several processes share: each Now() reads the time (milliseconds
// since the epoch, in decimal) from a file that a test driver rewrites. Only
// the scheduler is given it (`--scheduler-clock-file`), to simulate days of
// slots across processes in seconds. An unreadable file keeps the last time
// read (the system time before the first). SleepFor sleeps real time.
class FileClock final : public Clock {
 public:
  explicit FileClock(std::string path);
  TimePoint Now() const override;
  void SleepFor(std::chrono::milliseconds d) override;

 private:
  std::string path_;
  mutable std::mutex mu_;
  mutable TimePoint last_;  // guarded by mu_
};

// Milliseconds since the Unix epoch, the unit we persist timestamps in.
int64_t ToUnixMillis(Clock::TimePoint t);
Clock::TimePoint FromUnixMillis(int64_t ms);

}  // namespace ta
