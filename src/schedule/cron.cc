#include "schedule/cron.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <array>
#include <cctype>
#include <charconv>

namespace ta::schedule {

namespace {

struct FieldSpec {
  const char* name;
  int lo, hi;
  const char* const* names;  // names[0] is the value lo
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                       "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day of month", 1, 31, nullptr},
    {"month", 1, 12, kMonthNames},
    {"day of week", 0, 7, kDayNames},  // 7 is Sunday too
}};

Status FieldError(int index, std::string_view text, const std::string& why) {
  const FieldSpec& f = kFields[static_cast<size_t>(index)];
  return Status::InvalidArgument("cron: field " + std::to_string(index + 1) + " (" + f.name +
                                 ") \"" + std::string(text) + "\": " + why);
}

Result<int> Value(int index, std::string_view s) {
  const FieldSpec& f = kFields[static_cast<size_t>(index)];
  if (f.names && s.size() == 3) {
    std::string up(s);
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int i = 0; f.names[i]; ++i)
      if (up == f.names[i]) return f.lo + i;
  }
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return Unexpected(
        FieldError(index, s, "not a number" + std::string(f.names ? " or name" : "")));
  if (v < f.lo || v > f.hi)
    return Unexpected(
        FieldError(index, s, "must be " + std::to_string(f.lo) + " to " + std::to_string(f.hi)));
  return v;
}

// One field: a comma list of *, N, N-M, each optionally /STEP. Sets bits
// value - lo .. in `bits` (a vector of the field's span).
Result<bool> ParseField(int index, std::string_view text, std::vector<bool>& bits) {
  const FieldSpec& f = kFields[static_cast<size_t>(index)];
  bits.assign(static_cast<size_t>(f.hi + 1), false);
  bool star = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(start, comma - start);
    start = comma + 1;
    if (part.empty()) return Unexpected(FieldError(index, text, "empty list entry"));
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      std::string_view st = part.substr(slash + 1);
      auto [p, ec] = std::from_chars(st.data(), st.data() + st.size(), step);
      if (ec != std::errc() || p != st.data() + st.size() || step < 1 || st.empty())
        return Unexpected(FieldError(index, text, "the step after / must be a positive number"));
      part = part.substr(0, slash);
    }
    int lo = 0, hi = 0;
    if (part == "*") {
      lo = f.lo;
      hi = index == 4 ? 6 : f.hi;
      if (step == 1) star = true;
    } else if (size_t dash = part.find('-'); dash != std::string_view::npos) {
      auto a = Value(index, part.substr(0, dash));
      if (!a) return Unexpected(a.error());
      auto b = Value(index, part.substr(dash + 1));
      if (!b) return Unexpected(b.error());
      lo = *a;
      hi = *b;
      if (lo > hi) return Unexpected(FieldError(index, text, "a range must go from low to high"));
    } else {
      auto a = Value(index, part);
      if (!a) return Unexpected(a.error());
      lo = *a;
      // N/STEP means N, N+STEP, ... to the end of the field.
      hi = step > 1 ? (index == 4 ? 6 : f.hi) : *a;
    }
    for (int v = lo; v <= hi; v += step) bits[static_cast<size_t>(v)] = true;
    if (comma == text.size()) break;
  }
  return star;
}

std::string_view Macro(std::string_view e) {
  if (e == "@hourly") return "0 * * * *";
  if (e == "@daily" || e == "@midnight") return "0 0 * * *";
  if (e == "@weekly") return "0 0 * * 0";
  if (e == "@monthly") return "0 0 1 * *";
  if (e == "@yearly" || e == "@annually") return "0 0 1 1 *";
  return {};
}

bool DayMatches(const CronFields& f, const cctz::civil_day& d) {
  const bool dom = f.day_of_month[static_cast<size_t>(d.day())];
  // cctz: monday = 0 .. sunday = 6; cron: sunday = 0.
  const int wd = (static_cast<int>(cctz::get_weekday(d)) + 1) % 7;
  const bool dow = f.day_of_week[static_cast<size_t>(wd)];
  if (f.any_day_of_month || f.any_day_of_week) return dom && dow;
  return dom || dow;
}

}  // namespace

Result<CronFields> ParseCron(std::string_view expression) {
  while (!expression.empty() && std::isspace(static_cast<unsigned char>(expression.front())))
    expression.remove_prefix(1);
  while (!expression.empty() && std::isspace(static_cast<unsigned char>(expression.back())))
    expression.remove_suffix(1);
  if (!expression.empty() && expression.front() == '@') {
    std::string_view m = Macro(expression);
    if (m.empty())
      return Unexpected(Status::InvalidArgument(
          "cron: unknown macro \"" + std::string(expression) +
          "\" (use @hourly, @daily, @weekly, @monthly or @yearly, or five fields)"));
    expression = m;
  }
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < expression.size()) {
    while (i < expression.size() && std::isspace(static_cast<unsigned char>(expression[i]))) ++i;
    size_t j = i;
    while (j < expression.size() && !std::isspace(static_cast<unsigned char>(expression[j]))) ++j;
    if (j > i) parts.push_back(expression.substr(i, j - i));
    i = j;
  }
  if (parts.size() != 5)
    return Unexpected(Status::InvalidArgument(
        "cron: needs 5 fields (minute hour day-of-month month day-of-week), got " +
        std::to_string(parts.size()) + "; for example \"30 2 * * *\" is 02:30 every day"));
  CronFields out;
  std::vector<bool> bits;
  for (int k = 0; k < 5; ++k) {
    auto star = ParseField(k, parts[static_cast<size_t>(k)], bits);
    if (!star) return Unexpected(star.error());
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (k) {
        case 0:
          out.minute.set(v);
          break;
        case 1:
          out.hour.set(v);
          break;
        case 2:
          out.day_of_month.set(v);
          break;
        case 3:
          out.month.set(v);
          break;
        case 4:
          out.day_of_week.set(v % 7);
          break;
      }
    }
    if (k == 2) out.any_day_of_month = *star;
    if (k == 4) out.any_day_of_week = *star;
  }
  return out;
}

struct ZonedCron::Impl {
  CronFields fields;
  std::string zone_name;
  cctz::time_zone zone;
};

ZonedCron::ZonedCron(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

const std::string& ZonedCron::time_zone() const { return impl_->zone_name; }

bool IsTimeZone(std::string_view name) {
  cctz::time_zone tz;
  return !name.empty() && cctz::load_time_zone(std::string(name), &tz);
}

Result<ZonedCron> ZonedCron::Make(std::string_view expression, std::string_view time_zone) {
  auto fields = ParseCron(expression);
  if (!fields) return Unexpected(fields.error());
  auto impl = std::make_shared<Impl>();
  impl->fields = *fields;
  impl->zone_name = std::string(time_zone);
  // load_time_zone falls back to UTC for an unknown name: reject that, and
  // accept "UTC" itself.
  if (time_zone.empty() || !cctz::load_time_zone(impl->zone_name, &impl->zone))
    return Unexpected(Status::InvalidArgument(
        "time_zone: \"" + impl->zone_name +
        "\" is not an IANA time zone (for example Europe/Berlin, America/New_York or UTC)"));
  ZonedCron cron(std::move(impl));
  if (!cron.Next(std::chrono::system_clock::now()))
    return Unexpected(Status::InvalidArgument("cron: \"" + std::string(expression) +
                                              "\" never fires (no such date)"));
  return cron;
}

std::optional<TimePoint> ZonedCron::Next(TimePoint after) const {
  const CronFields& f = impl_->fields;
  const cctz::time_zone& tz = impl_->zone;
  const auto after_s = std::chrono::time_point_cast<std::chrono::seconds>(after);
  cctz::civil_minute c = cctz::civil_minute(cctz::convert(after_s, tz)) + 1;
  const auto horizon = c.year() + 8;
  while (c.year() <= horizon) {
    if (!f.month[static_cast<size_t>(c.month())]) {
      c = cctz::civil_minute(cctz::civil_month(c) + 1);
      continue;
    }
    if (!DayMatches(f, cctz::civil_day(c))) {
      c = cctz::civil_minute(cctz::civil_day(c) + 1);
      continue;
    }
    if (!f.hour[static_cast<size_t>(c.hour())]) {
      c = cctz::civil_minute(cctz::civil_hour(c) + 1);
      continue;
    }
    if (!f.minute[static_cast<size_t>(c.minute())]) {
      c += 1;
      continue;
    }
    const cctz::time_zone::civil_lookup lookup = tz.lookup(cctz::civil_second(c));
    // Skipped (a gap): the instant the gap ends. Repeated: the first one.
    const auto at =
        lookup.kind == cctz::time_zone::civil_lookup::SKIPPED ? lookup.trans : lookup.pre;
    if (at > after) return TimePoint(at);
    c += 1;
  }
  return std::nullopt;
}

std::vector<TimePoint> ZonedCron::NextN(TimePoint after, size_t n) const {
  std::vector<TimePoint> out;
  while (out.size() < n) {
    auto next = Next(out.empty() ? after : out.back());
    if (!next) break;
    out.push_back(*next);
  }
  return out;
}

std::vector<TimePoint> ZonedCron::Between(TimePoint after, TimePoint until, size_t limit) const {
  std::vector<TimePoint> out;
  for (TimePoint t = after; out.size() < limit;) {
    auto next = Next(t);
    if (!next || *next > until) break;
    out.push_back(*next);
    t = *next;
  }
  return out;
}

std::string ZonedCron::Local(TimePoint t) const {
  return cctz::format("%Y-%m-%d %H:%M %Z", std::chrono::time_point_cast<std::chrono::seconds>(t),
                      impl_->zone);
}

std::string ZonedCron::LocalIso(TimePoint t) const {
  return cctz::format("%Y-%m-%dT%H:%M:%S%Ez", std::chrono::time_point_cast<std::chrono::seconds>(t),
                      impl_->zone);
}

}  // namespace ta::schedule
