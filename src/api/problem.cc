#include "api/problem.h"

#include <nlohmann/json.hpp>

namespace ta::api {
namespace {

std::string_view Title(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    case 507:
      return "Insufficient Storage";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

// "items[2].id: must be ..." -> "items[2].id"; empty when the message does not
// start with a field path.
std::string FieldOf(std::string_view message) {
  const auto colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > 80) return "";
  for (char c : message.substr(0, colon)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
          c == ']' || c == '-'))
      return "";
  }
  return std::string(message.substr(0, colon));
}

}  // namespace

int HttpStatusFor(Status::Code code) {
  using C = Status::Code;
  switch (code) {
    case C::kOk:
      return 200;
    case C::kInvalidArgument:
      return 400;
    case C::kUnauthenticated:
      return 401;
    case C::kPermissionDenied:
      return 403;
    case C::kNotFound:
      return 404;
    case C::kAlreadyExists:
    case C::kConflict:
    case C::kFailedPrecondition:
      return 409;
    case C::kResourceExhausted:
      return 429;
    case C::kUnavailable:
      return 503;
    case C::kInternal:
      return 500;
    case C::kStorageFull:
      return 507;
    case C::kStorageUnavailable:
      return 503;
  }
  return 500;
}

Response Problem(int http_status, std::string_view detail, std::string_view field) {
  nlohmann::json body = {{"type", "about:blank"},
                         {"title", Title(http_status)},
                         {"status", http_status},
                         {"detail", detail}};
  if (!field.empty()) {
    body["field"] = field;
    body["errors"] = nlohmann::json::array({{{"field", field}, {"detail", detail}}});
  }
  Response r = Response::Json(http_status, body);
  r.content_type = "application/problem+json";
  return r;
}

Response Problem(const Status& status) {
  const int http = HttpStatusFor(status.code());
  // Database faults: a generic text (the backend's names host, port and driver
  // detail, which go to the log only) and when to try again.
  if (status.code() == Status::Code::kStorageFull) {
    Response r = Problem(507,
                         "the database is out of disk space; nothing was written. Retry after "
                         "an operator frees space");
    r.headers.emplace_back("Retry-After", "30");
    return r;
  }
  if (status.code() == Status::Code::kStorageUnavailable) {
    Response r = Problem(503, "the database is unavailable; nothing was written. Retry shortly");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  if (http == 500) return Problem(500, "internal error; see the server log");
  return Problem(http, status.message(), FieldOf(status.message()));
}

}  // namespace ta::api
