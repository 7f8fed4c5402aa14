#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "core/status.h"
#include "graph/http_transport.h"

namespace ta::graph {

// A failed Graph call, typed: the HTTP status, Graph's error code and message,
// and the request-id Microsoft support asks for. Messages are redacted.
struct GraphError {
  Status::Code kind = Status::Code::kInternal;
  int http_status = 0;  // 0: no HTTP response (network error)
  std::string code;     // e.g. "BadRequest", "ModelValidationFailure", "TooManyRequests"
  std::string message;
  std::string request_id;
  // Set when there was no HTTP answer (http_status 0): how the call failed.
  std::optional<TransportFailure::Kind> transport;
  // A write that may have been carried out although it failed (a timeout, a
  // reset, or a 5xx after the body was sent). The client never resends such a
  // write blindly: the caller looks the object up first.
  bool ambiguous = false;
  // Throttled for longer than the client waits inline: how long Graph asked
  // to wait. A job snoozes for that long instead of holding a worker thread.
  std::optional<std::chrono::milliseconds> retry_after;

  // The code stored with a failed item: Graph's own code when it sent one,
  // else graph_timeout | graph_unreachable | graph_connection_lost |
  // graph_cancelled | graph_<http status>.
  std::string ErrorCode() const;
  bool cancelled() const { return transport == TransportFailure::Kind::kCancelled; }

  // "Graph 400 ModelValidationFailure: Property 'id' is read-only ... (request-id 1f2e...)"
  std::string ToString() const;
  Status ToStatus() const;
};

// [[nodiscard]] for the same reason as ta::Result: an ignored Graph failure is a
// silently lost write.
template <typename T>
class [[nodiscard]] GraphResult : public tl::expected<T, GraphError> {
 public:
  using Base = tl::expected<T, GraphError>;
  using Base::Base;
  GraphResult(const Base& b) : Base(b) {}
  GraphResult(Base&& b) : Base(std::move(b)) {}
};

inline tl::unexpected<GraphError> GraphFailure(GraphError e) {
  return tl::unexpected<GraphError>(std::move(e));
}

// Maps an HTTP status to the Status kind used for it.
Status::Code KindForHttpStatus(int http_status);

}  // namespace ta::graph
