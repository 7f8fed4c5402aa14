#include "api/http.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ta::api {

std::string Request::Cookie(std::string_view name) const {
  const std::string header = Header("cookie");
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ';')) ++i;
    const size_t eq = header.find('=', i);
    const size_t end = std::min(header.find(';', i), header.size());
    if (eq != std::string::npos && eq < end && std::string_view(header).substr(i, eq - i) == name)
      return header.substr(eq + 1, end - eq - 1);
    i = end;
  }
  return "";
}

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? "" : it->second;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

}  // namespace ta::api
