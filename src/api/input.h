#pragma once

// Request validation. Every failure is InvalidArgument naming the field
// ("item_ids[3]: must be a positive integer"), which problem.h turns into a
// 400 problem with `field` set.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "core/result.h"

namespace ta::api {

// A JSON object body whose members were checked against an allowed list.
class JsonBody {
 public:
  // Empty body -> {} (callers then report the missing fields). Malformed JSON,
  // a non-object, invalid UTF-8 or an unknown member is InvalidArgument.
  static Result<JsonBody> Parse(std::string_view body,
                                std::initializer_list<std::string_view> allowed);

  Result<std::string> String(std::string_view name, size_t max_len) const;  // required, non-empty
  Result<std::optional<std::string>> OptString(std::string_view name, size_t max_len) const;
  Result<int64_t> Id(std::string_view name) const;  // required positive integer
  Result<std::optional<int64_t>> OptInt(std::string_view name, int64_t min, int64_t max) const;
  // Absent or null -> nullopt; else a list of positive integers (at most max_items).
  Result<std::optional<std::vector<int64_t>>> OptIdList(std::string_view name,
                                                        size_t max_items) const;
  // Absent -> empty; else an object of non-empty string to non-empty string.
  Result<std::map<std::string, std::string>> StringMap(std::string_view name,
                                                       size_t max_items) const;
  Result<std::optional<bool>> OptBool(std::string_view name) const;
  const nlohmann::json& value() const { return json_; }

 private:
  explicit JsonBody(nlohmann::json j) : json_(std::move(j)) {}
  const nlohmann::json* Find(std::string_view name) const;
  nlohmann::json json_;
};

// {name} from the path as a positive integer.
Result<int64_t> PathId(const Request& req, std::string_view name);

// ?limit= (1..200, default 50) and ?cursor= (opaque; from a previous page's next_cursor).
struct Page {
  int64_t limit = 50;
  std::optional<int64_t> cursor;
};
Result<Page> ParsePage(const Request& req);
// A query parameter that must be one of `allowed` when present.
Result<std::optional<std::string>> QueryEnum(const Request& req, std::string_view name,
                                             std::initializer_list<std::string_view> allowed);
Result<std::optional<int64_t>> QueryId(const Request& req, std::string_view name);
// A date (2026-11-30, midnight UTC) or an RFC 3339 UTC time (2026-11-30T08:00:00Z)
// as unix milliseconds.
Result<std::optional<int64_t>> QueryTime(const Request& req, std::string_view name);

}  // namespace ta::api
