#include "core/clock.h"

#include <fstream>
#include <thread>

namespace ta {

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

void SystemClock::SleepFor(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

FakeClock::FakeClock(TimePoint start) : now_(start) {}

FakeClock::TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void FakeClock::SleepFor(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
  slept_ += d;
}

std::chrono::milliseconds FakeClock::slept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slept_;
}

void FakeClock::Advance(std::chrono::microseconds delta) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += delta;
}

void FakeClock::Set(TimePoint t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = t;
}

FileClock::FileClock(std::string path)
    : path_(std::move(path)), last_(std::chrono::system_clock::now()) {}

FileClock::TimePoint FileClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ifstream in(path_);
  long long ms = 0;
  if (in >> ms && ms > 0) last_ = TimePoint(std::chrono::milliseconds(ms));
  return last_;
}

void FileClock::SleepFor(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

int64_t ToUnixMillis(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::TimePoint FromUnixMillis(int64_t ms) {
  return Clock::TimePoint(std::chrono::milliseconds(ms));
}

}  // namespace ta
