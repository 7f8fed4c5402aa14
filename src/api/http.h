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

// What an event stream follows. The handler checks access and returns it; the
// server's StreamHub then feeds the stream (see stream_hub.h).
struct StreamFeed {
  enum class Kind { kRun, kActiveRuns, kNotifications };
  Kind kind = Kind::kRun;
  int64_t user_id = 0;    // whose stream (the per-user cap counts it)
  int64_t tenant_id = 0;  // kRun
  int64_t run_id = 0;     // kRun
  int64_t after_id = 0;   // kNotifications: the newest one the client has
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for Server-Sent Events (content type text/event-stream).
  std::optional<StreamFeed> feed;
  // Set for a body produced piece by piece after the handler returns (sent
  // chunked): it calls `write` per piece and returns false when it failed
  // (the connection is then cut, so a client never takes a truncated body
  // for a whole one).
  std::function<bool(const std::function<bool(std::string_view)>& write)> producer;

  static Response Json(int status, const nlohmann::json& body);
  static Response NoContent();
};

// An IP address (v4 or v6) or an IPv4 CIDR such as 10.0.0.0/8.
bool ValidProxySpec(std::string_view spec);
// The client's address: `peer` itself unless it is a trusted proxy; then the
// right-most X-Forwarded-For entry that is not one (each proxy appends the
// address it saw, so entries left of the first untrusted one could be forged).
// A malformed entry stops the walk at the last trusted hop seen.
std::string ClientAddress(const std::string& peer, std::string_view forwarded_for,
                          const std::vector<std::string>& trusted);

}  // namespace ta::api
