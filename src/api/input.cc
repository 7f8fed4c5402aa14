#include "api/input.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <set>
#include <vector>

#include "core/log.h"
#include "core/utf8.h"

namespace ta::api {
namespace {

using nlohmann::json;

Status Bad(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(what));
}

std::optional<int64_t> ParsePositive(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

Result<JsonBody> JsonBody::Parse(std::string_view body,
                                 std::initializer_list<std::string_view> allowed) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return JsonBody(json::object());
  if (auto bad = FindInvalidUtf8(body))
    return Unexpected(Bad("body", "invalid UTF-8 at byte " + std::to_string(*bad)));
  json j;
  // A key twice in one object is refused: parsers disagree on which one wins,
  // so a proxy or log and this server could read different requests.
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  auto check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() &&
        !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  try {
    j = json::parse(body, check);
  } catch (const json::parse_error& e) {
    return Unexpected(
        Bad("body", "malformed JSON at byte " + std::to_string(e.byte) + "; send one JSON object"));
  } catch (const json::exception&) {
    // The parser's other refusal: a number too large for a double (1e999).
    return Unexpected(Bad("body", "a number is out of range; send numbers that fit in 64 bits"));
  }
  if (!duplicate.empty())
    return Unexpected(Bad(duplicate, "appears more than once in an object; send each field once"));
  if (!j.is_object()) return Unexpected(Bad("body", "must be a JSON object"));
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == k;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Unexpected(Bad(k, "unknown field; allowed: " + (list.empty() ? "none" : list)));
    }
  }
  return JsonBody(std::move(j));
}

const json* JsonBody::Find(std::string_view name) const {
  auto it = json_.find(name);
  return it == json_.end() || it->is_null() ? nullptr : &*it;
}

Result<std::optional<std::string>> JsonBody::OptString(std::string_view name,
                                                       size_t max_len) const {
  const json* v = Find(name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return Unexpected(Bad(name, "must be a string"));
  std::string s = v->get<std::string>();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos)
    return Unexpected(Bad(name, "must not be empty"));
  if (s.size() > max_len)
    return Unexpected(Bad(name, "must be at most " + std::to_string(max_len) + " bytes"));
  return std::optional<std::string>(std::move(s));
}

Result<std::string> JsonBody::String(std::string_view name, size_t max_len) const {
  auto s = OptString(name, max_len);
  if (!s) return Unexpected(s.error());
  if (!*s) return Unexpected(Bad(name, "is required"));
  return std::move(**s);
}

Result<std::optional<int64_t>> JsonBody::OptInt(std::string_view name, int64_t min,
                                                int64_t max) const {
  const json* v = Find(name);
  if (!v) return std::optional<int64_t>();
  if (!v->is_number_integer()) return Unexpected(Bad(name, "must be an integer"));
  const int64_t i = v->get<int64_t>();
  if (i < min || i > max)
    return Unexpected(
        Bad(name, "must be between " + std::to_string(min) + " and " + std::to_string(max)));
  return std::optional<int64_t>(i);
}

Result<int64_t> JsonBody::Id(std::string_view name) const {
  auto i = OptInt(name, 1, INT64_MAX);
  if (!i && i.error().message().find("between") != std::string::npos)
    return Unexpected(Bad(name, "must be a positive integer id"));
  if (!i) return Unexpected(i.error());
  if (!*i) return Unexpected(Bad(name, "is required"));
  return **i;
}

Result<std::optional<std::vector<int64_t>>> JsonBody::OptIdList(std::string_view name,
                                                                size_t max_items) const {
  const json* v = Find(name);
  if (!v) return std::optional<std::vector<int64_t>>();
  if (!v->is_array()) return Unexpected(Bad(name, "must be a list of ids, or null for all"));
  if (v->size() > max_items)
    return Unexpected(Bad(name, "at most " + std::to_string(max_items) + " ids"));
  std::vector<int64_t> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_number_integer() || e.get<int64_t>() <= 0)
      return Unexpected(
          Bad(std::string(name) + "[" + std::to_string(i) + "]", "must be a positive integer id"));
    out.push_back(e.get<int64_t>());
  }
  return std::optional<std::vector<int64_t>>(std::move(out));
}

Result<std::map<std::string, std::string>> JsonBody::StringMap(std::string_view name,
                                                               size_t max_items) const {
  std::map<std::string, std::string> out;
  const json* v = Find(name);
  if (!v) return out;
  if (!v->is_object())
    return Unexpected(Bad(name, "must be an object of source group id to target group id"));
  if (v->size() > max_items)
    return Unexpected(Bad(name, "at most " + std::to_string(max_items) + " entries"));
  for (const auto& [k, e] : v->items()) {
    const std::string field = std::string(name) + "." + k;
    if (k.empty() || k.size() > 200) return Unexpected(Bad(name, "keys must be 1 to 200 bytes"));
    if (!e.is_string() || e.get<std::string>().empty() || e.get<std::string>().size() > 200)
      return Unexpected(Bad(field, "must be a target group id (1 to 200 bytes)"));
    out[k] = e.get<std::string>();
  }
  return out;
}

Result<std::optional<bool>> JsonBody::OptBool(std::string_view name) const {
  const json* v = Find(name);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return Unexpected(Bad(name, "must be true or false"));
  return std::optional<bool>(v->get<bool>());
}

Result<int64_t> PathId(const Request& req, std::string_view name) {
  auto it = req.path_params.find(std::string(name));
  auto v = it == req.path_params.end() ? std::nullopt : ParsePositive(it->second);
  if (!v) return Unexpected(Bad(name, "must be a positive integer id in the path"));
  return *v;
}

Result<std::optional<int64_t>> QueryId(const Request& req, std::string_view name) {
  auto s = req.QueryParam(name);
  if (!s) return std::optional<int64_t>();
  auto v = ParsePositive(*s);
  if (!v) return Unexpected(Bad(name, "must be a positive integer"));
  return std::optional<int64_t>(*v);
}

Result<std::optional<int64_t>> QueryTime(const Request& req, std::string_view name) {
  auto s = req.QueryParam(name);
  if (!s) return std::optional<int64_t>();
  auto ms = ParseIso8601(*s);
  if (!ms)
    return Unexpected(Bad(name, "must be a date (2026-11-30) or a UTC time (2026-11-30T08:00:00Z)"));
  return std::optional<int64_t>(*ms);
}

Result<Page> ParsePage(const Request& req) {
  Page p;
  if (auto limit = req.QueryParam("limit")) {
    auto v = ParsePositive(*limit);
    if (!v || *v > 200) return Unexpected(Bad("limit", "must be an integer from 1 to 200"));
    p.limit = *v;
  }
  if (auto cursor = req.QueryParam("cursor")) {
    auto v = ParsePositive(*cursor);
    if (!v) return Unexpected(Bad("cursor", "is not a cursor this API returned"));
    p.cursor = *v;
  }
  return p;
}

Result<std::optional<std::string>> QueryEnum(const Request& req, std::string_view name,
                                             std::initializer_list<std::string_view> allowed) {
  auto s = req.QueryParam(name);
  if (!s) return std::optional<std::string>();
  for (auto a : allowed)
    if (a == *s) return s;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return Unexpected(Bad(name, "must be one of " + list));
}

}  // namespace ta::api
