#pragma once

// Structured logs: one JSON object per line, every line passed through the
// Redactor before it is written, so a secret that slips into a message or a
// field never reaches the log. Thread-safe.

#include <cstdio>
#include <mutex>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/redactor.h"

namespace ta {

class Logger {
 public:
  enum class Level { kDebug, kInfo, kWarn, kError };

  // `out` is not owned (stderr by default).
  Logger(const Redactor& redactor, Clock& clock, std::FILE* out = stderr,
         Level min_level = Level::kInfo);

  void Log(Level level, std::string_view msg, const nlohmann::json& fields = nullptr);
  void Info(std::string_view msg, const nlohmann::json& fields = nullptr) {
    Log(Level::kInfo, msg, fields);
  }
  void Warn(std::string_view msg, const nlohmann::json& fields = nullptr) {
    Log(Level::kWarn, msg, fields);
  }
  void Error(std::string_view msg, const nlohmann::json& fields = nullptr) {
    Log(Level::kError, msg, fields);
  }
  bool Enabled(Level level) const { return level >= min_level_; }

 private:
  const Redactor& redactor_;
  Clock& clock_;
  std::FILE* out_;
  Level min_level_;
  std::mutex mu_;
};

// "2026-11-27T19:25:51.123Z"
std::string FormatIso8601(int64_t unix_ms);
// A time as ISO 8601 / RFC 3339 writes it, in Unix ms: "2027-06-30" (midnight
// UTC), "2027-06-30T10:20:30Z", with fractions of a second (as Graph writes
// them, up to 7 digits) or an offset ("+02:00"). nullopt when it is not one.
std::optional<int64_t> ParseIso8601(std::string_view text);
// The same as JSON for an answer or a payload; null when there is no time.
nlohmann::json TimeJson(std::optional<int64_t> unix_ms);

}  // namespace ta
