#include "graph/graph_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <thread>

namespace ta::graph {

using nlohmann::json;

GraphResult<std::optional<std::vector<json>>> Pager::Next() {
  if (!next_) return std::optional<std::vector<json>>{};
  auto page = reader_.Get(*next_);
  if (!page) return GraphFailure(page.error());
  ++pages_;
  next_.reset();
  if (page->contains("@odata.nextLink") && (*page)["@odata.nextLink"].is_string()) {
    next_ = (*page)["@odata.nextLink"].get<std::string>();
  }
  std::vector<json> items;
  if (page->contains("value") && (*page)["value"].is_array()) {
    for (auto& v : (*page)["value"]) items.push_back(std::move(v));
  }
  return std::optional<std::vector<json>>(std::move(items));
}

GraphResult<std::vector<json>> ListAll(GraphReader& reader, const std::string& path) {
  Pager pager(reader, path);
  std::vector<json> all;
  while (true) {
    auto page = pager.Next();
    if (!page) return GraphFailure(page.error());
    if (!*page) return all;
    for (auto& v : **page) all.push_back(std::move(v));
  }
}

std::string ScopeFor(std::string_view graph_base) {
  while (!graph_base.empty() && graph_base.back() == '/') graph_base.remove_suffix(1);
  return std::string(graph_base) + "/.default";
}

GraphClient::GraphClient(AppCredentials app, GraphConfig config, HttpTransport& transport,
                         TokenProvider& tokens, AdaptiveLimiter& limiter, Redactor& redactor,
                         uint64_t seed)
    : app_(std::move(app)),
      config_(std::move(config)),
      transport_(transport),
      tokens_(tokens),
      limiter_(limiter),
      redactor_(redactor),
      rng_(seed) {
  if (!app_.client_secret.empty()) redactor_.RegisterSecret(app_.client_secret);
  if (!app_.private_key_pem.empty()) redactor_.RegisterSecret(app_.private_key_pem);
}

GraphResult<json> GraphClient::Get(const std::string& path) {
  return Send("GET", path, nullptr, {});
}
GraphResult<json> GraphClient::Post(const std::string& path, const json& body) {
  return Send("POST", path, &body, {});
}
GraphResult<json> GraphClient::Patch(const std::string& path, const json& body) {
  return Send("PATCH", path, &body, {});
}
GraphResult<json> GraphClient::Put(const std::string& path, const json& body) {
  return Send("PUT", path, &body, {});
}

GraphResult<json> GraphClient::Delete(const std::string& path) {
  return Send("DELETE", path, nullptr, {});
}

GraphResult<std::optional<std::vector<std::string>>> GraphClient::Roles() {
  auto token = tokens_.Token(app_);
  if (!token) return GraphFailure(token.error());
  return TokenRoles(*token);
}

std::string GraphClient::ResourceBase() const {
  return config_.graph_base + "/" + config_.api_version + "/";
}

GraphResult<json> GraphSession::Send(const std::string& method, const std::string& path,
                                     const json* body) {
  auto client = resolve_();
  if (!client) return GraphFailure(client.error());
  return (*client)->Send(method, path, body, abort_);
}

GraphResult<std::optional<std::vector<std::string>>> GraphSession::Roles() {
  auto client = resolve_();
  if (!client) return GraphFailure(client.error());
  return (*client)->Roles();
}

std::string GraphSession::ResourceBase() const {
  auto client = resolve_();
  return client ? (*client)->ResourceBase() : std::string();
}

bool GraphClient::Wait(std::chrono::milliseconds d, const AbortCheck& abort) {
  Clock& clock = limiter_.clock();
  if (!abort) {
    clock.SleepFor(d);
    return true;
  }
  const auto until = clock.Now() + d;
  while (true) {
    if (abort()) return false;
    const auto now = clock.Now();
    if (now >= until) return true;
    clock.SleepFor(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(until - now),
                            std::chrono::milliseconds(250)));
  }
}

namespace {

GraphError Throttled(const std::string& method, const std::string& url,
                     std::chrono::milliseconds wait) {
  GraphError e;
  e.kind = Status::Code::kResourceExhausted;
  e.http_status = 429;
  e.code = "TooManyRequests";
  e.retry_after = wait;
  e.message = method + " " + url + ": throttled by Graph for " +
              std::to_string((wait.count() + 999) / 1000) + " s";
  return e;
}

GraphError Cancelled(const std::string& method, const std::string& url) {
  GraphError e;
  e.kind = Status::Code::kUnavailable;
  e.transport = TransportFailure::Kind::kCancelled;
  e.message = method + " " + url + ": cancelled";
  return e;
}

}  // namespace

GraphStats GraphClient::stats() const { return {requests_, throttled_, transient_, auth_retries_}; }

std::string GraphClient::Url(const std::string& path) const {
  // Absolute URLs are nextLinks: Graph built and encoded them already.
  if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) return path;
  const std::string rel = path.rfind('/', 0) == 0 ? path.substr(1) : path;
  const size_t q = rel.find('?');
  std::string url = config_.graph_base + "/" + config_.api_version + "/" + rel.substr(0, q);
  if (q == std::string::npos) return url;
  // Query values are given unencoded ("displayName eq 'A B'", nested
  // "$expand=x($expand=y)"); encode each value so spaces, quotes and inner
  // '=' or '&' survive.
  url += '?';
  size_t start = q + 1;
  while (start <= rel.size()) {
    size_t amp = rel.find('&', start);
    if (amp == std::string::npos) amp = rel.size();
    const std::string param = rel.substr(start, amp - start);
    const size_t eq = param.find('=');
    if (url.back() != '?') url += '&';
    if (eq == std::string::npos) {
      url += param;
    } else {
      const std::string value = param.substr(eq + 1);
      char* escaped = curl_easy_escape(nullptr, value.c_str(), static_cast<int>(value.size()));
      url += param.substr(0, eq + 1) + (escaped ? escaped : "");
      curl_free(escaped);
    }
    start = amp + 1;
  }
  return url;
}

std::chrono::milliseconds GraphClient::Backoff(int attempt) {
  const double ceiling = std::min<double>(
      static_cast<double>(config_.backoff_cap.count()),
      static_cast<double>(config_.backoff_base.count()) * (1ULL << std::min(attempt, 20)));
  std::lock_guard<std::mutex> lock(rng_mu_);
  return std::chrono::milliseconds(
      std::uniform_int_distribution<int64_t>(0, static_cast<int64_t>(ceiling))(rng_));
}

GraphError GraphClient::ErrorFrom(const HttpResponse& r) const {
  GraphError e;
  e.http_status = static_cast<int>(r.status);
  e.kind = KindForHttpStatus(e.http_status);
  e.request_id = r.Header("request-id");
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const json& err = body["error"];
    e.code = err.value("code", "");
    e.message = err.value("message", "");
    if (e.request_id.empty() && err.contains("innerError") && err["innerError"].is_object()) {
      e.request_id = err["innerError"].value("request-id", "");
    }
  } else {
    e.message = r.body.substr(0, 500);
  }
  if (e.message.empty()) e.message = "HTTP " + std::to_string(r.status);
  e.message = redactor_.Redact(e.message);
  return e;
}

GraphResult<json> GraphClient::Send(const std::string& method, const std::string& path,
                                    const json* body, const AbortCheck& abort) {
  HttpRequest req;
  req.method = method;
  req.url = Url(path);
  req.connect_timeout = config_.connect_timeout;
  req.timeout = config_.timeout;
  req.abort = abort;
  if (body) req.body = body->dump();
  // See the class comment: only a POST is a write that is unsafe to resend.
  const bool resend_safe = method != "POST";
  int throttles = 0, transients = 0;
  bool auth_retried = false;
  while (true) {
    if (abort && abort()) return GraphFailure(Cancelled(method, req.url));
    auto token = tokens_.Token(app_);
    if (!token) return GraphFailure(token.error());
    req.headers = {{"Authorization", "Bearer " + *token}, {"Accept", "application/json"}};
    if (body) req.headers.push_back({"Content-Type", "application/json"});

    // A long throttle is not waited out on this thread (see GraphConfig).
    if (auto gate = limiter_.GateRemaining(app_.tenant); gate > config_.max_inline_throttle_wait)
      return GraphFailure(Throttled(method, req.url, gate));
    TransportResult<HttpResponse> res;
    {
      auto slot = limiter_.Enter(app_.tenant, abort);
      if (!slot) return GraphFailure(Cancelled(method, req.url));
      ++requests_;
      res = transport_.Send(req);
    }

    if (!res) {
      const TransportFailure& f = res.error();
      GraphError e;
      e.kind = Status::Code::kUnavailable;
      e.transport = f.kind;
      e.ambiguous = f.request_sent && !resend_safe;
      e.message = redactor_.Redact(f.message);
      if (f.kind == TransportFailure::Kind::kCancelled || e.ambiguous) return GraphFailure(e);
      if (++transients > config_.max_transient_retries) {
        e.message +=
            " (gave up after " + std::to_string(config_.max_transient_retries) + " retries)";
        return GraphFailure(e);
      }
      ++transient_;
      if (!Wait(Backoff(transients), abort)) return GraphFailure(Cancelled(method, req.url));
      continue;
    }
    const long status = res->status;
    if (config_.metrics) {
      config_.metrics->Add("ta_graph_requests_total", {{"status", std::to_string(status)}});
      if (status == 429) config_.metrics->Add("ta_graph_throttled_total", {});
    }
    if (status >= 200 && status < 300) {
      limiter_.OnSuccess(app_.tenant);
      if (res->body.empty()) return json::object();
      auto parsed = json::parse(res->body, nullptr, false);
      if (parsed.is_discarded()) {
        GraphError e;
        e.kind = Status::Code::kUnavailable;
        e.http_status = static_cast<int>(status);
        e.code = "graph_malformed_response";
        e.message = "Graph answered " + std::to_string(status) + " with a body that is not JSON";
        e.request_id = res->Header("request-id");
        e.ambiguous = !resend_safe;  // the write happened; its answer is unreadable
        return GraphFailure(e);
      }
      return parsed;
    }
    if (status == 401 && !auth_retried) {  // expired or revoked token: refresh once
      auth_retried = true;
      ++auth_retries_;
      tokens_.Invalidate(app_, *token);
      continue;
    }
    if (status == 429) {
      ++throttled_;
      if (++throttles > config_.max_throttle_retries) {
        GraphError e = ErrorFrom(*res);
        e.message +=
            " (still throttled after " + std::to_string(config_.max_throttle_retries) + " retries)";
        return GraphFailure(e);
      }
      std::chrono::milliseconds wait = Backoff(throttles);
      const std::string retry_after = res->Header("retry-after");
      if (!retry_after.empty() && retry_after.size() < 7 &&
          std::all_of(retry_after.begin(), retry_after.end(), ::isdigit)) {
        wait = std::chrono::seconds(std::stoll(retry_after));
      }
      limiter_.OnThrottle(app_.tenant, wait);  // the next Enter waits at the gate
      if (wait > config_.max_inline_throttle_wait)
        return GraphFailure(Throttled(method, req.url, wait));
      continue;
    }
    if (status == 502 || status == 503 || status == 504) {
      if (!resend_safe) {  // the create may have happened behind the gateway
        GraphError e = ErrorFrom(*res);
        e.ambiguous = true;
        return GraphFailure(e);
      }
      if (transients < config_.max_transient_retries) {
        ++transients;
        ++transient_;
        if (!Wait(Backoff(transients), abort)) return GraphFailure(Cancelled(method, req.url));
        continue;
      }
    }
    return GraphFailure(ErrorFrom(*res));
  }
}

}  // namespace ta::graph
