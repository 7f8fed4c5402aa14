#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace ta::graph {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{60'000};  // the whole exchange
  // Polled (about once per second, and on every chunk) while the transfer is in
  // progress; returning true aborts it. Empty: never.
  std::function<bool()> abort;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A request that got no complete HTTP answer.
struct TransportFailure {
  enum class Kind {
    kUnreachable,     // no connection (DNS, refused, connect timeout): nothing was sent
    kTimeout,         // sent, but no complete answer within the timeout
    kConnectionLost,  // sent, then the connection broke (reset, truncated answer)
    kCancelled,       // HttpRequest::abort asked to stop
  };
  Kind kind = Kind::kUnreachable;
  // True when the server may have received the request and acted on it. A
  // write that failed this way is ambiguous: look before sending it again.
  bool request_sent = false;
  std::string message;  // safe to show: names the method and URL, never headers
};

template <typename T>
using TransportResult = tl::expected<T, TransportFailure>;

// The outbound HTTP seam. Any HTTP status is a response. Thread-safe.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual TransportResult<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace ta::graph
