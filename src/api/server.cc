#include "api/server.h"

#include <sys/socket.h>

#include "api/problem.h"
#include "api/routes.h"
#include "http/connection_server.h"

namespace ta::api {

struct Server::Impl {
  ApiContext& ctx;
  ServerOptions options;
  ::ta::http::ConnectionServer http;  // the library's parsing and routing, our connection loop
  int port = 0;
  int listen_fd = -1;

  Impl(ApiContext& c, ServerOptions o) : ctx(c), options(std::move(o)) {}

  void Handle(const httplib::Request& in, httplib::Response& out) {
    // RFC 9112 §2.2: a bare CR (or a LF or NUL) inside a header line makes the
    // line invalid. The library keeps such bytes in the value; refuse them.
    for (const auto& [k, v] : in.headers) {
      if ((k + v).find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
        const Response bad = Problem(400,
                                     "header " + k +
                                         ": contains a CR, LF or NUL byte; "
                                         "send each header on one line ending in CRLF",
                                     k);
        out.status = bad.status;
        out.set_content(bad.body, bad.content_type);
        return;
      }
    }
    Request req;
    req.method = in.method;
    req.path = in.path;
    req.body = in.body;
    req.remote_addr = in.remote_addr;
    for (const auto& [k, v] : in.headers) {
      std::string name = k;
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace(std::move(name), v);
    }
    for (const auto& [k, v] : in.params) req.query.emplace(k, v);
    Response r = Dispatch(ctx, req);
    out.status = r.status;
    // Browser-facing hardening on every answer: scripts and styles only from
    // this origin (no inline script), never framed, no referrer leaves, no
    // content sniffing.
    out.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
                   "data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
                   "form-action 'self'; frame-ancestors 'none'");
    out.set_header("X-Frame-Options", "DENY");
    out.set_header("Referrer-Policy", "no-referrer");
    out.set_header("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) out.set_header(k, v);
    if (r.stream) {
      auto stream = std::move(r.stream);
      out.set_chunked_content_provider(r.content_type, [stream](size_t, httplib::DataSink& sink) {
        stream([&sink](std::string_view chunk) {
          return sink.is_writable() && sink.write(chunk.data(), chunk.size());
        });
        sink.done();
        return true;
      });
      return;
    }
    if (!r.content_type.empty()) out.set_content(r.body, r.content_type);
  }
};

Server::Server(ApiContext& ctx, ServerOptions options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {
  auto& http = impl_->http;
  const int threads = std::max(4, impl_->options.threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(ctx.options.max_body_bytes);
  // The library listens with a backlog of 5, so a burst of new connections
  // would wait for SYN retries; remember the socket to widen it after binding.
  http.set_socket_options([impl = impl_.get()](int sock) {
    httplib::default_socket_options(sock);
    impl->listen_fd = sock;
  });
  http.set_keep_alive_max_count(10'000);
  http.set_tcp_nodelay(true);  // small responses must not wait for delayed ACKs (Nagle)
  http.set_keep_alive_timeout(30);
  http.set_read_timeout(30, 0);
  http.set_write_timeout(30, 0);
  auto handler = [impl = impl_.get()](const httplib::Request& in, httplib::Response& out) {
    impl->Handle(in, out);
  };
  http.Get(".*", handler);
  http.Post(".*", handler);
  http.Put(".*", handler);
  http.Patch(".*", handler);
  http.Delete(".*", handler);
  // A POST without Content-Length or Transfer-Encoding (plain `curl -X POST`)
  // has an empty body (RFC 9112 §6.3); the HTTP library would reject it while
  // reading the body, so such requests are dispatched before that step.
  http.set_pre_routing_handler(httplib::Server::HandlerWithResponse(
      [impl = impl_.get()](const httplib::Request& in, httplib::Response& out) {
        if (in.method == "GET" || in.method == "HEAD" || in.has_header("Content-Length") ||
            in.has_header("Transfer-Encoding"))
          return httplib::Server::HandlerResponse::Unhandled;
        impl->Handle(in, out);
        return httplib::Server::HandlerResponse::Handled;
      }));
  // Errors raised by the HTTP library itself (413, 400 on a bad request line)
  // still answer in problem+json.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& out) {
        if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        Response p = Problem(
            out.status,
            out.status == 413 ? "body: too large for this server" : "the request could not be read",
            out.status == 413 ? "body" : "");
        out.set_content(p.body, p.content_type);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

Server::~Server() { Stop(); }

Status Server::Bind() {
  auto& o = impl_->options;
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
    if (impl_->port <= 0)
      return Status::Unavailable("listen: cannot bind " + o.host + " (any port)");
  } else {
    if (!impl_->http.bind_to_port(o.host, o.port))
      return Status::Unavailable("listen: cannot bind " + o.host + ":" + std::to_string(o.port) +
                                 " (in use? choose another with --port)");
    impl_->port = o.port;
  }
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  return Status::Ok();
}

int Server::port() const { return impl_->port; }

void Server::Serve() { impl_->http.listen_after_bind(); }

void Server::Stop() {
  impl_->ctx.stopping = true;
  if (impl_->http.is_running()) impl_->http.stop();
}

}  // namespace ta::api
