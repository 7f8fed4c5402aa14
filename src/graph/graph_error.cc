#include "graph/graph_error.h"

namespace ta::graph {

std::string GraphError::ToString() const {
  std::string out =
      http_status ? "Graph " + std::to_string(http_status) : std::string("Graph request failed");
  if (!code.empty()) out += " " + code;
  out += ": " + message;
  if (!request_id.empty()) out += " (request-id " + request_id + ")";
  return out;
}

std::string GraphError::ErrorCode() const {
  if (!code.empty()) return code;
  if (transport) {
    switch (*transport) {
      case TransportFailure::Kind::kUnreachable:
        return "graph_unreachable";
      case TransportFailure::Kind::kTimeout:
        return "graph_timeout";
      case TransportFailure::Kind::kConnectionLost:
        return "graph_connection_lost";
      case TransportFailure::Kind::kCancelled:
        return "graph_cancelled";
    }
  }
  return http_status ? "graph_" + std::to_string(http_status) : "graph_error";
}

Status GraphError::ToStatus() const {
  switch (kind) {
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(ToString());
    case Status::Code::kNotFound:
      return Status::NotFound(ToString());
    case Status::Code::kConflict:
      return Status::Conflict(ToString());
    case Status::Code::kPermissionDenied:
      return Status::PermissionDenied(ToString());
    case Status::Code::kUnauthenticated:
      return Status::Unauthenticated(ToString());
    case Status::Code::kResourceExhausted:
      return Status::ResourceExhausted(ToString());
    case Status::Code::kUnavailable:
      return Status::Unavailable(ToString());
    default:
      return Status::Internal(ToString());
  }
}

Status::Code KindForHttpStatus(int s) {
  if (s == 400 || s == 405 || s == 422) return Status::Code::kInvalidArgument;
  if (s == 401) return Status::Code::kUnauthenticated;
  if (s == 403) return Status::Code::kPermissionDenied;
  if (s == 404) return Status::Code::kNotFound;
  if (s == 409 || s == 412) return Status::Code::kConflict;
  if (s == 429) return Status::Code::kResourceExhausted;
  if (s >= 500 || s == 0) return Status::Code::kUnavailable;
  return Status::Code::kInternal;
}

}  // namespace ta::graph
