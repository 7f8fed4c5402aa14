#pragma once

// An event-driven connection layer under cpp-httplib's request handling.
//
// One event-loop thread (epoll) owns the listening socket and every
// connection that is not being served: idle keep-alive connections, requests
// still arriving (headers and a Content-Length body are read there, without a
// thread), and event streams. A request is handed to a pool thread only once
// it is complete; the thread runs the library's parsing, routing and response
// writing (Server::process_request) over a stream that reads what the loop
// buffered, then gives the connection back. So a connection costs a few
// hundred bytes of our memory while it waits, never a thread.
//
// An event stream (Server-Sent Events) is detached: its handler calls
// DetachAsStream(), the response head goes out, and from then on the
// connection belongs to the loop; chunks pushed through its StreamSink from
// any thread are written without blocking, and a reader that falls more than
// Limits::stream_buffer_bytes behind is dropped (it never slows the others).
//
// Small responses keep the old loop's one-segment write: a fixed-length head
// is held back and sent with its body in one sendmsg().
//
// Used by the API server and the Graph simulator; it pulls in httplib.h, so
// include it only where a server is built.

#include <httplib.h>

#include "http/limits.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ta::http {

// True for a response head whose body has a fixed length: the library writes
// that body right after it, so the two can go out in one send. False for the
// head of a chunked (streaming) response or an interim 100 Continue, which are
// sent at once.
bool HeadAwaitsBody(const std::string& head);

// Called by a handler on a server thread: once this request's response head
// (which must be chunked and end at once) is written, its connection becomes
// an event stream owned by the event loop. Null outside an EventServer request.
std::shared_ptr<StreamSink> DetachAsStream();

class EventServer : public httplib::Server {
 public:
  explicit EventServer(Limits limits = {});
  ~EventServer() override;
  EventServer(const EventServer&) = delete;
  EventServer& operator=(const EventServer&) = delete;

  // Runs the event loop on this thread until Stop(); bind first
  // (bind_to_port / bind_to_any_port). Requests in flight finish; waiting
  // connections and streams are closed.
  void Serve();
  // Safe from any thread, before, during or after Serve().
  void Stop();
  bool serving() const;
  const Counters& counters() const;
  const Limits& limits() const;

  struct Loop;  // the implementation (event_server.cc)

 private:
  friend struct Loop;
  bool process_and_close_socket(socket_t sock) override;  // unused: the loop accepts
  std::unique_ptr<Loop> loop_;
};

}  // namespace ta::http
