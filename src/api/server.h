#pragma once

// The HTTP server: an event loop holds every waiting connection and event
// stream, a thread pool serves complete requests with cpp-httplib's parsing,
// every request handed to Dispatch (routes.h). Static web UI files (when configured) are served with
// cache headers and the SPA fallback for deep links.

#include <memory>
#include <string>

#include "api/context.h"
#include "http/limits.h"

namespace ta::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see port())
  http::Limits limits;  // threads (requests in flight), timeouts and connection caps
};

class Server {
 public:
  Server(ApiContext& ctx, ServerOptions options);
  ~Server();

  // Binds the socket; an error names the address.
  Status Bind();
  int port() const;
  // Serves until Stop(); call after Bind().
  void Serve();
  // Stops accepting, ends event streams and returns from Serve().
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ta::api
