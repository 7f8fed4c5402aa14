#include "core/clock.h"

#include <gtest/gtest.h>

namespace ta {
namespace {

using namespace std::chrono_literals;

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  const auto t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(1500ms);
  EXPECT_EQ(clock.Now() - t0, 1500ms);
}

TEST(FakeClock, SetJumpsToAnInstant) {
  FakeClock clock;
  clock.Set(FromUnixMillis(42));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 42);
}

TEST(SystemClock, ReportsTheCurrentEpochTime) {
  // 2024-01-01 as a lower bound: catches a clock that returns zero or garbage.
  EXPECT_GT(ToUnixMillis(SystemClock::Instance().Now()), 1'704'067'200'000);
}

TEST(Clock, UnixMillisRoundTrip) {
  EXPECT_EQ(ToUnixMillis(FromUnixMillis(1'790'000'000'123)), 1'790'000'000'123);
}

}  // namespace
}  // namespace ta
