#include "core/clock.h"

#include "core/log.h"

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

// Dates as users type them and as Graph writes them (7 fractional digits).
TEST(Iso8601, ParsesDatesTimesFractionsAndOffsets) {
  EXPECT_EQ(ParseIso8601("2027-06-30"), 1'814'313'600'000);
  EXPECT_EQ(ParseIso8601("2027-06-30T10:20:30Z"), 1'814'350'830'000);
  EXPECT_EQ(ParseIso8601("2027-06-30T10:20:30.1234567Z"), 1'814'350'830'123);
  EXPECT_EQ(ParseIso8601("2027-06-30T12:20:30+02:00"), 1'814'350'830'000);
  EXPECT_EQ(ParseIso8601("2027-06-30T10:20Z"), 1'814'350'800'000);
  EXPECT_EQ(ParseIso8601(FormatIso8601(1'814'350'830'123)), 1'814'350'830'123);
  for (const char* bad : {"", "tomorrow", "2027-13-01", "2027-06-31", "2027-06-30T25:00:00Z",
                          "2027-06-30 junk", "30/06/2027"})
    EXPECT_FALSE(ParseIso8601(bad).has_value()) << bad;
}

}  // namespace
}  // namespace ta
