#pragma once

// Cron expressions (5 fields) in an IANA time zone -> the instants they fire.
// Time zone rules come from the system's tz database through cctz (Debian
// libcctz-dev + tzdata); there is no offset arithmetic here.
//
// Daylight saving time, documented for users (docs/SCHEDULES.md):
//  - a local time that does not exist (the spring-forward gap, e.g. 02:30 in
//    Europe/Berlin on the last Sunday of March) fires once, at the instant
//    the gap ends (03:00 local time, summer time);
//  - a local time that happens twice (the fall-back overlap, 02:30 on the last
//    Sunday of October) fires once, at its first occurrence (summer time).
// Several local times that resolve to the same instant are one slot.

#include <bitset>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ta::schedule {

using TimePoint = std::chrono::system_clock::time_point;

struct CronFields {
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> day_of_month;   // 1..31
  std::bitset<13> month;          // 1..12
  std::bitset<7> day_of_week;     // 0 = Sunday
  bool any_day_of_month = false;  // the field was "*"
  bool any_day_of_week = false;
};

// "m h dom mon dow" with *, lists, ranges, steps (*/15, 1-5/2), month and
// weekday names (JAN, MON) and 7 for Sunday; or @hourly, @daily, @midnight,
// @weekly, @monthly, @yearly, @annually. As in Vixie cron, when both day
// fields are restricted a day matches either. Errors name the field.
Result<CronFields> ParseCron(std::string_view expression);

class ZonedCron {
 public:
  // InvalidArgument naming "cron" or "time_zone", including an expression
  // that never fires (31 February).
  static Result<ZonedCron> Make(std::string_view expression, std::string_view time_zone);

  // The first slot strictly after `after`; nullopt only past the search
  // horizon (about 8 years), which Make rules out for the next slot.
  std::optional<TimePoint> Next(TimePoint after) const;
  std::vector<TimePoint> NextN(TimePoint after, size_t n) const;
  // Slots in (after, until], oldest first, at most `limit` of them.
  std::vector<TimePoint> Between(TimePoint after, TimePoint until, size_t limit) const;
  // "2026-03-29 03:00 CEST" in this zone.
  std::string Local(TimePoint t) const;
  // "2026-03-29T03:00:00+02:00".
  std::string LocalIso(TimePoint t) const;
  const std::string& time_zone() const;

 private:
  struct Impl;
  explicit ZonedCron(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// True if the name is a zone of the system's tz database.
bool IsTimeZone(std::string_view name);

}  // namespace ta::schedule
