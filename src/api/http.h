#pragma once

// The API's own view of an HTTP exchange. Handlers see only these types, so
// they stay independent of the HTTP library (only server.cc includes it).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "store/accounts.h"

namespace ta::api {

struct Request {
  std::string method;  // upper case
  std::string path;    // without the query string
  std::map<std::string, std::string> path_params;
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string remote_addr;

  // Set by the router before the handler runs.
  std::optional<store::Principal> principal;
  int64_t tenant_id = 0;  // routes with {tenant}
  std::string role;       // the principal's role in that tenant

  std::string Header(std::string_view lower_case_name) const;
  // The value of cookie `name` in the Cookie header; empty when absent.
  std::string Cookie(std::string_view name) const;
  std::optional<std::string> QueryParam(std::string_view name) const;
  int64_t user_id() const { return principal ? principal->user.id : 0; }
};

// Writes one chunk to an event stream; false when the client has gone.
using StreamWriter = std::function<bool(std::string_view chunk)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for Server-Sent Events: called on a server thread until it returns.
  std::function<void(const StreamWriter&)> stream;

  static Response Json(int status, const nlohmann::json& body);
  static Response NoContent();
};

}  // namespace ta::api
