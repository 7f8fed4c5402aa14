#include "api/server.h"

#include <atomic>
#include <utility>

#include "api/problem.h"
#include "api/routes.h"
#include "api/stream_hub.h"
#include "http/event_server.h"

namespace ta::api {

struct Server::Impl {
  ApiContext& ctx;
  ServerOptions options;
  ::ta::http::EventServer http;  // the library's parsing and routing, our event loop
  StreamHub hub;
  int port = 0;
  std::atomic<int64_t> streams_refused{0};  // over --max-streams-per-user

  // Connections, streams and every limit hit, in Prometheus text.
  std::string Metrics() const {
    const auto& c = http.counters();
    std::string out =
        GaugeText("ta_http_connections_open", "Open client connections.", c.open) +
        GaugeText("ta_http_connections_busy", "Connections with a request on a server thread.",
                  c.busy) +
        GaugeText("ta_http_streams_open", "Open event streams.", c.streams) +
        "# HELP ta_http_connections_accepted_total Connections accepted.\n"
        "# TYPE ta_http_connections_accepted_total counter\n"
        "ta_http_connections_accepted_total " +
        std::to_string(c.accepted.load()) +
        "\n# HELP ta_http_limit_hits_total Connections or streams closed or refused by a limit.\n"
        "# TYPE ta_http_limit_hits_total counter\n";
    const std::pair<const char*, int64_t> hits[] = {
        {"header_timeout", c.header_timeouts},
        {"body_timeout", c.body_timeouts},
        {"idle_timeout", c.idle_timeouts},
        {"max_connections", c.refused_max_connections},
        {"max_connections_per_ip", c.refused_per_ip},
        {"max_header_bytes", c.headers_too_large},
        {"stream_buffer_bytes", c.streams_dropped_slow},
        {"max_streams_per_user", streams_refused},
    };
    for (const auto& [limit, n] : hits)
      out += std::string("ta_http_limit_hits_total{limit=\"") + limit + "\"} " + std::to_string(n) +
             "\n";
    return out;
  }

  Impl(ApiContext& c, ServerOptions o)
      : ctx(c), options(std::move(o)), http(options.limits), hub(c) {}

  // A response with a body and no stream (problems, mostly).
  static void Answer(const Response& r, httplib::Response& out) {
    out.status = r.status;
    out.set_content(r.body, r.content_type);
  }

  // An event stream: the connection is handed to the event loop and the hub
  // feeds it. HEAD answers the head alone.
  void OpenStream(const httplib::Request& in, const Response& r, httplib::Response& out) {
    if (in.method == "HEAD") {
      out.set_header("Content-Type", r.content_type);
      return;
    }
    if (!hub.Reserve(r.feed->user_id)) {
      ++streams_refused;
      return Answer(
          Problem(429,
                  "streams: you have " + std::to_string(ctx.options.max_streams_per_user) +
                      " event streams open; close some tabs, or ask an admin to raise "
                      "--max-streams-per-user",
                  ""),
          out);
    }
    auto sink = ::ta::http::DetachAsStream();
    if (!sink) {
      hub.Release(r.feed->user_id);
      return Answer(Problem(500, "stream: this connection cannot stream", ""), out);
    }
    hub.Subscribe(*r.feed, std::move(sink));
    // The head goes out as a chunked response; the body belongs to the loop.
    out.set_chunked_content_provider(r.content_type, [](size_t, httplib::DataSink& sink) {
      sink.done();
      return true;
    });
  }

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
        return Answer(bad, out);
      }
    }
    Request req;
    req.method = in.method == "HEAD" ? "GET" : in.method;  // HEAD works wherever GET does
    req.path = in.path;
    req.body = in.body;
    req.remote_addr = ClientAddress(in.remote_addr, in.get_header_value("X-Forwarded-For"),
                                    ctx.options.trusted_proxies);
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
    if (r.feed && r.status == 200) return OpenStream(in, r, out);
    if (r.producer && r.status == 200) {
      if (in.method == "HEAD") return out.set_header("Content-Type", r.content_type);
      out.set_chunked_content_provider(
          r.content_type, [producer = r.producer](size_t, httplib::DataSink& sink) {
            const bool ok = producer([&](std::string_view piece) {
              return piece.empty() || sink.write(piece.data(), piece.size());
            });
            if (ok) sink.done();
            return ok;
          });
      return;
    }
    if (!r.content_type.empty()) out.set_content(r.body, r.content_type);
  }
};

Server::Server(ApiContext& ctx, ServerOptions options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {
  auto& http = impl_->http;
  http.set_payload_max_length(ctx.options.max_body_bytes);
  ctx.connection_metrics = [impl = impl_.get()] { return impl->Metrics(); };
  ctx.stream_hub = &impl_->hub;
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

Server::~Server() {
  Stop();
  impl_->ctx.connection_metrics = nullptr;
  impl_->ctx.stream_hub = nullptr;
}

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
  return Status::Ok();
}

int Server::port() const { return impl_->port; }

void Server::Serve() { impl_->http.Serve(); }

void Server::Stop() {
  impl_->ctx.stopping = true;
  impl_->hub.Stop();
  impl_->http.Stop();
}

}  // namespace ta::api
