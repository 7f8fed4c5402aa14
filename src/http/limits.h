#pragma once

// The connection layer's limits, counters and event-stream sink (see
// event_server.h), without the HTTP library, so code that only configures the
// server or feeds streams stays light.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ta::http {

// Each is a setting of `serve` (see app/serve_command.cc).
struct Limits {
  int threads = 64;  // requests served at once (waiting connections hold none)
  // From the first byte of a request to the end of its headers: a client that
  // trickles its headers (slowloris) is closed here, having held only an fd.
  std::chrono::milliseconds header_timeout{10'000};
  // From the end of the headers to the last byte of the body.
  std::chrono::milliseconds body_timeout{30'000};
  // A keep-alive connection with no request in this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  // A pool thread's reads and writes (a response to a client that stops reading).
  std::chrono::milliseconds io_timeout{30'000};
  size_t max_connections = 20'000;        // open at once; more are answered 503 and closed
  size_t max_connections_per_ip = 1'000;  // from one address; more get 429 (0: no cap)
  size_t max_header_bytes = 64 * 1024;    // request line and headers; more gets 431
  size_t stream_buffer_bytes = 256 * 1024;  // unsent bytes of a stream before it is dropped
};

// Gauges and limit-hit counters, for /metrics.
struct Counters {
  std::atomic<int64_t> open{0};     // connections open now
  std::atomic<int64_t> streams{0};  // of which event streams
  std::atomic<int64_t> busy{0};     // of which on a pool thread
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> header_timeouts{0};
  std::atomic<int64_t> body_timeouts{0};
  std::atomic<int64_t> idle_timeouts{0};
  std::atomic<int64_t> refused_max_connections{0};
  std::atomic<int64_t> refused_per_ip{0};
  std::atomic<int64_t> headers_too_large{0};
  std::atomic<int64_t> streams_dropped_slow{0};
};

// A connection turned into an event stream. Thread-safe.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues `data` as one chunk of the response; false once the connection is
  // gone (closed by the client, dropped as a slow reader, server stopping).
  virtual bool Push(std::string_view data) = 0;
  // Ends the response (the last chunk) and closes the connection once sent.
  virtual void End() = 0;
  virtual bool open() const = 0;
};

}  // namespace ta::http
