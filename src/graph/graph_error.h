#pragma once

#include <string>

#include <tl/expected.hpp>

#include "core/status.h"

namespace ta::graph {

// A failed Graph call, typed: the HTTP status, Graph's error code and message,
// and the request-id Microsoft support asks for. Messages are redacted.
struct GraphError {
  Status::Code kind = Status::Code::kInternal;
  int http_status = 0;  // 0: no HTTP response (network error)
  std::string code;     // e.g. "BadRequest", "ModelValidationFailure", "TooManyRequests"
  std::string message;
  std::string request_id;

  // "Graph 400 ModelValidationFailure: Property 'id' is read-only ... (request-id 1f2e...)"
  std::string ToString() const;
  Status ToStatus() const;
};

template <typename T>
using GraphResult = tl::expected<T, GraphError>;

inline tl::unexpected<GraphError> GraphFailure(GraphError e) {
  return tl::unexpected<GraphError>(std::move(e));
}

// Maps an HTTP status to the Status kind used for it.
Status::Code KindForHttpStatus(int http_status);

}  // namespace ta::graph
