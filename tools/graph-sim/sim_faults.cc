// graph-sim: the gate every Graph request passes (token check, Intune-style
// throttling, injected faults, hung and late answers, broken answers), the
// knobs that drive it, and the /_sim control routes.
#include <algorithm>

#include "catalog/catalog.h"
#include "sim_impl.h"

namespace ta::sim {

namespace {

// The permission a request needs that the token's roles do not grant ("" when
// they grant it, or when the app's roles are not restricted).
std::string MissingRole(const TokenInfo& tok, const std::string& path, bool write) {
  if (!tok.roles) return "";
  std::string rel = path;
  for (const char* v : {"/beta/", "/v1.0/"})
    if (rel.rfind(v, 0) == 0) rel = rel.substr(std::string(v).size());
  const std::string needed =
      write ? catalog::WritePermission(rel) : std::string(catalog::ReadPermission(rel));
  return catalog::PermissionGranted(*tok.roles, needed) ? "" : needed;
}

}  // namespace

void GraphSim::Impl::Graph(const httplib::Request& req, httplib::Response& res, bool write,
                           const GraphFn& fn) {
  const std::string request_id = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return NewGuid(rng);
  }();
  res.set_header("request-id", request_id);
  res.set_header("client-request-id", request_id);
  if (cfg.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg.latency_ms));
  {
    std::unique_lock<std::mutex> lock(mu);
    if (hang_next > 0) {
      --hang_next;
      WaitLocked(lock, hang_ms);
    }
  }
  std::string tenant_id, client_id;
  bool hold = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    const std::string auth = req.get_header_value("Authorization");
    auto tok = auth.rfind("Bearer ", 0) == 0 ? tokens.find(auth.substr(7)) : tokens.end();
    if (tok == tokens.end()) {
      Error(res, 401, "InvalidAuthenticationToken", "Access token is empty or invalid.",
            request_id);
    } else if (tok->second.expires <= clock.Now()) {
      tenant_id = tok->second.tenant;
      Error(res, 401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.",
            request_id);
    } else {
      tenant_id = tok->second.tenant;
      client_id = tok->second.client_id;
      if (Throttled(tok->second, write, res, request_id)) {
        // res filled in
      } else if (misbehave_next > 0) {
        --misbehave_next;
        Misbehave(res, misbehave);
      } else if (fail_next > 0) {
        --fail_next;
        Error(res, fail_status, fail_status == 503 ? "ServiceUnavailable" : "InternalServerError",
              "Injected fault.", request_id);
      } else if (cfg.fault_rate > 0 &&
                 std::uniform_real_distribution<double>(0, 1)(rng) < cfg.fault_rate) {
        Error(res, 503, "ServiceUnavailable", "Injected random fault.", request_id);
      } else if (const std::string needed = MissingRole(tok->second, req.path, write);
                 !needed.empty()) {
        Error(res, 403, "Forbidden",
              "Application is not authorized to perform this operation. Application must have "
              "one of the following scopes: " + needed + ".",
              request_id);
      } else if (std::any_of(denied_paths.begin(), denied_paths.end(), [&](const std::string& p) {
                   return req.path.find("/" + p) != std::string::npos;
                 })) {
        Error(res, 403, "Forbidden",
              "Application is not authorized to perform this operation. Application must have "
              "one of the following scopes: the read permission of this resource.",
              request_id);
      } else if (const std::string wrong = WrongHome(req.path); !wrong.empty()) {
        Error(res, 400, "BadRequest",
              "Resource not found for the segment '" + wrong + "' (it lives under " +
                  HomeOf(wrong) + ").",
              request_id);
      } else if (write && ignore_next_writes > 0 &&
                 req.path.find(ignore_path) != std::string::npos) {
        --ignore_next_writes;  // accepted, and silently not carried out
        res.status = 204;
      } else {
        Tenant& t = tenants[tenant_id];
        fn(t, request_id);
        if (write && (res.status == -1 || (res.status >= 200 && res.status < 300)))
          RecordWrite(t, req, res, tok->second.client_id, request_id);
        if (write && hold_next_writes > 0 && req.path.find(hold_path) != std::string::npos) {
          --hold_next_writes;
          hold = true;
        }
      }
    }
    if (hold) WaitLocked(lock, hold_ms);
  }
  std::string path = req.path;
  if (!req.params.empty()) {
    path += "?";
    bool first = true;
    for (const auto& [k, v] : req.params) {
      path += (first ? "" : "&") + k + "=" + v;
      first = false;
    }
  }
  if (res.status == -1) res.status = 200;  // httplib's default, applied after the handler
  Log(req.method, path, tenant_id, res.status, write, write ? req.body : std::string(),
      req.get_header_value("Host"), client_id);
}

void GraphSim::Impl::Misbehave(httplib::Response& res, const std::string& how) {
  res.status = 200;
  if (how == "wrong_content_type") {
    res.set_content("<html><body>Sign in to continue</body></html>", "text/html");
  } else if (how == "truncated" || how == "dropped") {
    // Declares 4 KiB and sends less (or nothing): the connection closes mid-answer.
    const size_t sent = how == "truncated" ? 20 : 0;
    res.set_content_provider(4096, "application/json",
                             [sent](size_t offset, size_t, httplib::DataSink& sink) {
                               if (offset == 0 && sent > 0)
                                 sink.write("{\"value\":[{\"id\":\"tr", sent);
                               return false;  // abort: the library closes the connection
                             });
  } else {  // malformed_json
    res.set_content("{\"value\": [ {\"id\": \"a\", ", "application/json");
  }
}

// Waits up to `ms` (mu held by `lock`; released while waiting).
void GraphSim::Impl::WaitLocked(std::unique_lock<std::mutex>& lock, int64_t ms) {
  const uint64_t gen = release_gen;
  ++waiting;
  wait_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return release_gen != gen; });
  --waiting;
}

void GraphSim::Impl::ReleaseWaits() {
  {
    std::lock_guard<std::mutex> lock(mu);
    ++release_gen;
  }
  wait_cv.notify_all();
}

bool GraphSim::Impl::Throttled(const TokenInfo& tok, bool write, httplib::Response& res,
                               const std::string& request_id) {
  if (!cfg.throttle_enabled) return false;
  Window& w = windows[tok.tenant + "|" + tok.client_id];
  const auto now = clock.Now();
  const auto window = std::chrono::milliseconds(cfg.throttle_window_ms);
  while (!w.all.empty() && w.all.front() <= now - window) w.all.pop_front();
  while (!w.writes.empty() && w.writes.front() <= now - window) w.writes.pop_front();
  const bool over_all = static_cast<int>(w.all.size()) >= cfg.throttle_max_requests;
  const bool over_writes = write && static_cast<int>(w.writes.size()) >= cfg.throttle_max_writes;
  if (over_all || over_writes) {
    const auto oldest = over_writes ? w.writes.front() : w.all.front();
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(oldest + window - now).count();
    const int64_t retry_after = std::max<int64_t>(1, (wait + 999) / 1000);
    Error(res, 429, "TooManyRequests",
          std::string("Too many requests: the ") + (over_writes ? "write" : "request") +
              " limit for this tenant and application was reached.",
          request_id);
    if (!cfg.omit_retry_after) res.set_header("Retry-After", std::to_string(retry_after));
    return true;
  }
  w.all.push_back(now);
  if (write) w.writes.push_back(now);
  return false;
}

void GraphSim::Impl::ApplyKnobs(const json& k) {
  std::lock_guard<std::mutex> lock(mu);
  cfg.throttle_window_ms = k.value("throttle_window_ms", cfg.throttle_window_ms);
  cfg.throttle_max_requests = k.value("throttle_max_requests", cfg.throttle_max_requests);
  cfg.throttle_max_writes = k.value("throttle_max_writes", cfg.throttle_max_writes);
  cfg.throttle_enabled = k.value("throttle_enabled", cfg.throttle_enabled);
  cfg.omit_retry_after = k.value("omit_retry_after", cfg.omit_retry_after);
  cfg.page_size = k.value("page_size", cfg.page_size);
  cfg.latency_ms = k.value("latency_ms", cfg.latency_ms);
  cfg.fault_rate = k.value("fault_rate", cfg.fault_rate);
  cfg.token_lifetime_s = k.value("token_lifetime_s", cfg.token_lifetime_s);
  if (k.contains("fail_next")) {
    fail_next = k["fail_next"];
    fail_status = k.value("fail_status", 503);
  }
  if (k.contains("hang_next")) {
    hang_next = k["hang_next"];
    hang_ms = k.value("hang_ms", int64_t{60'000});
  }
  if (k.contains("misbehave_next")) {
    misbehave_next = k["misbehave_next"];
    misbehave = k.value("misbehave", std::string("malformed_json"));
  }
  if (k.contains("token_down_status")) token_down_status = k["token_down_status"];
  log_requests = k.value("log_requests", log_requests);
  if (k.value("reset_stats", false)) counts.clear();
  // {"set_roles": {"tenant", "client_id", "roles": [...] | null}}: tokens
  // issued from now on carry these roles (revoke_tokens to apply them at once).
  if (k.contains("set_roles")) {
    const json& r = k["set_roles"];
    std::optional<std::vector<std::string>> roles;
    if (r.contains("roles") && r["roles"].is_array())
      roles = r["roles"].get<std::vector<std::string>>();
    tenants[r.value("tenant", "")].roles[r.value("client_id", "")] = roles;
  }
  if (k.contains("consent_as")) consent_as = k["consent_as"];
  if (k.contains("consent_error")) consent_error = k["consent_error"];
  if (k.contains("org_name")) tenants[k["org_name"].value("tenant", "")].org_name =
      k["org_name"].value("name", "");
  if (k.contains("add_certificate")) {
    const json& c = k["add_certificate"];
    tenants[c.value("tenant", "")].certificates[c.value("client_id", "")].push_back(
        c.value("pem", ""));
  }
  if (k.contains("deny_paths")) denied_paths = k["deny_paths"].get<std::vector<std::string>>();
  if (k.contains("ignore_next_writes")) {
    ignore_next_writes = k["ignore_next_writes"];
    ignore_path = k.value("ignore_path", std::string());
  }
  if (k.contains("hold_next_writes")) {
    hold_next_writes = k["hold_next_writes"];
    hold_ms = k.value("hold_ms", int64_t{60'000});
    hold_path = k.value("hold_path", std::string());
  }
  if (k.value("release", false)) {
    ++release_gen;
    wait_cv.notify_all();
  }
  if (k.value("reset_throttle", false)) windows.clear();
  if (k.value("revoke_tokens", false)) {
    for (auto& [_, t] : tokens) t.expires = clock.Now();  // Graph now answers 401
  }
}

void GraphSim::Impl::ControlRoutes() {
  using httplib::Request;
  using httplib::Response;
  server.Get("/_sim/requests", [this](const Request&, Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.set_content(log.dump(), "application/json");
  });
  // Graph requests per tenant (kept even with the request log off).
  server.Get("/_sim/stats", [this](const Request&, Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    json out = json::object();
    for (const auto& [tenant, c] : counts)
      out[tenant] = {{"requests", c.requests}, {"throttled", c.throttled}, {"writes", c.writes}};
    res.set_content(json{{"tenants", out}}.dump(), "application/json");
  });
  server.Get("/_sim/waiting", [this](const Request&, Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.set_content(json{{"waiting", waiting}}.dump(), "application/json");
  });
  server.Delete("/_sim/requests", [this](const Request&, Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    log = json::array();
    res.status = 204;
  });
  server.Post("/_sim/config", [this](const Request& req, Response& res) {
    json knobs = json::parse(req.body, nullptr, false);
    if (knobs.is_discarded()) {
      res.status = 400;
      return;
    }
    ApplyKnobs(knobs);
    res.status = 204;
  });
  server.Post("/_sim/fixture", [this](const Request& req, Response& res) {
    json fixture = json::parse(req.body, nullptr, false);
    std::string error;
    if (fixture.is_discarded() || !owner->LoadFixture(fixture, &error)) {
      res.status = 400;
      res.set_content(json{{"error", error.empty() ? "malformed JSON" : error}}.dump(),
                      "application/json");
      return;
    }
    res.status = 204;
  });
  server.Post("/_sim/admin-change", [this](const Request& req, Response& res) {
    json b = json::parse(req.body, nullptr, false);
    if (b.is_discarded() || !b.is_object() || !b.contains("patch") || !b["patch"].is_object()) {
      res.status = 400;
      res.set_content(R"({"error":"body: {tenant, collection, id, patch (object), user}"})",
                      "application/json");
      return;
    }
    const bool changed = owner->AdminChange(b.value("tenant", ""), b.value("collection", ""),
                                            b.value("id", ""), b["patch"], b.value("user", ""));
    res.status = changed ? 204 : 404;
  });
  server.Get("/_sim/health",
             [](const Request&, Response& res) { res.set_content("ok", "text/plain"); });
}

}  // namespace ta::sim
