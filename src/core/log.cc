#include "core/log.h"

#include <cctz/time_zone.h>

#include <ctime>

namespace ta {

nlohmann::json TimeJson(std::optional<int64_t> ms) {
  return ms ? nlohmann::json(FormatIso8601(*ms)) : nlohmann::json();
}

std::optional<int64_t> ParseIso8601(std::string_view text) {
  const std::string in(text);
  const cctz::time_zone utc = cctz::utc_time_zone();
  std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds> tp;
  // %E*S takes any number of fractional digits; %Ez takes "Z" or "+hh:mm".
  for (const char* format : {"%Y-%m-%dT%H:%M:%E*S%Ez", "%Y-%m-%dT%H:%M%Ez", "%Y-%m-%d"}) {
    if (cctz::parse(format, in, utc, &tp))
      return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  }
  return std::nullopt;
}

std::string FormatIso8601(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Logger::Logger(const Redactor& redactor, Clock& clock, std::FILE* out, Level min_level)
    : redactor_(redactor), clock_(clock), out_(out), min_level_(min_level) {}

void Logger::Log(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (!Enabled(level)) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  nlohmann::json line = {{"ts", FormatIso8601(ToUnixMillis(clock_.Now()))},
                         {"level", kNames[static_cast<int>(level)]},
                         {"msg", std::string(msg)}};
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) line[k] = v;
  }
  // Invalid UTF-8 in a field is replaced rather than aborting the log call.
  std::string text =
      redactor_.Redact(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  text += '\n';
  std::lock_guard lock(mu_);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace ta
