#pragma once

// The keep-alive connection loop under the HTTP library's request parsing.
//
// cpp-httplib 0.11 serves a keep-alive connection with a poll() before every
// read and every write, and writes a response's head and body as two send()s:
// six poll()s, two send()s and two TCP segments per small JSON response
// (strace of the API load benchmark). ConnectionServer keeps the library's
// parsing, routing and response writing (Server::process_request) and gives it
// a stream that
//   - reads with a blocking recv() and a receive timeout instead of poll(),
//   - holds back a fixed-length response head and sends it together with its
//     body in one sendmsg() (a chunked/streaming head goes out at once, so
//     event streams are never held back),
//   - looks the peer and local addresses up once per connection.
// Used by the API server and the Graph simulator; it pulls in httplib.h, so
// include it only where a server is built.

#include <httplib.h>

#include <string>

namespace ta::http {

// True for a response head whose body has a fixed length: the library writes
// that body right after it, so the two can go out in one send. False for the
// head of a chunked (streaming) response or an interim 100 Continue, which are
// sent at once.
bool HeadAwaitsBody(const std::string& head);

class ConnectionServer : public httplib::Server {
 private:
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace ta::http
