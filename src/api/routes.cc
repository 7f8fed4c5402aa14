#include "api/routes.h"

#include <chrono>
#include <exception>

#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/problem.h"
#include "api/static_files.h"
#include "core/credentials.h"
#include "core/sha256.h"
#include "store/idempotent_requests.h"

namespace ta::api {

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kUser:
      return "user";
    case Access::kPlatformAdmin:
      return "platform_admin";
    case Access::kTenantRead:
      return "readonly";
    case Access::kTenantOperate:
      return "operator";
    case Access::kTenantOwner:
      return "owner";
  }
  return "?";
}

const std::vector<Route>& RouteTable() {
  using namespace handlers;
  using A = Access;
  constexpr BodyKind kNone = BodyKind::kNone, kJson = BodyKind::kJson;
  static const std::vector<Route> kRoutes = {
      {"GET", "/healthz", A::kPublic, kNone, "", Healthz},
      {"GET", "/readyz", A::kPublic, kNone, "", Readyz},
      {"GET", "/metrics", A::kPlatformAdmin, kNone, "", MetricsText},
      {"POST", "/api/v1/auth/login", A::kPublic, kJson, "", Login},
      {"POST", "/api/v1/auth/logout", A::kUser, kNone, "", Logout},
      {"GET", "/api/v1/me", A::kUser, kNone, "", Me},
      {"GET", "/api/v1/tokens", A::kUser, kNone, "", ListTokens},
      {"POST", "/api/v1/tokens", A::kUser, kJson, "", CreateToken},
      {"DELETE", "/api/v1/tokens/{token}", A::kUser, kNone, "", RevokeToken},
      {"PUT", "/api/v1/me/preferences", A::kUser, kJson, "", SetPreferences},
      {"GET", "/api/v1/runs", A::kUser, kNone, "tenant,status,type,since,until,cursor,limit",
       ListAllRuns},
      {"GET", "/api/v1/runs/active", A::kUser, kNone, "", ActiveRuns},
      {"GET", "/api/v1/catalog", A::kUser, kNone, "", CatalogTypes},
      {"GET", "/api/v1/runs/active/stream", A::kUser, kNone, "", ActiveRunsStream},
      {"GET", "/api/v1/notifications", A::kUser, kNone, "unread,cursor,limit", ListNotifications},
      {"POST", "/api/v1/notifications/read-all", A::kUser, kNone, "", MarkAllNotificationsRead},
      {"POST", "/api/v1/notifications/{notification}/read", A::kUser, kNone, "",
       MarkNotificationRead},
      {"GET", "/api/v1/notifications/stream", A::kUser, kNone, "", NotificationStream},
      {"GET", "/api/v1/alert-channels", A::kUser, kNone, "", ListAlertChannels},
      {"POST", "/api/v1/alert-channels", A::kUser, kJson, "", CreateAlertChannel},
      {"PUT", "/api/v1/alert-channels/{channel}", A::kUser, kJson, "", UpdateAlertChannel},
      {"DELETE", "/api/v1/alert-channels/{channel}", A::kUser, kNone, "", DeleteAlertChannel},
      {"POST", "/api/v1/alert-channels/{channel}/test", A::kUser, kNone, "", TestAlertChannel},
      {"GET", "/api/v1/alert-channels/{channel}/deliveries", A::kUser, kNone, "limit",
       ListAlertDeliveries},
      {"GET", "/api/v1/schedules", A::kUser, kNone, "", ListSchedules},
      {"POST", "/api/v1/schedules", A::kUser, kJson, "", CreateSchedule},
      {"GET", "/api/v1/schedules/{schedule}", A::kUser, kNone, "", GetSchedule},
      {"PUT", "/api/v1/schedules/{schedule}", A::kUser, kJson, "", UpdateSchedule},
      {"DELETE", "/api/v1/schedules/{schedule}", A::kUser, kNone, "", DeleteSchedule},
      {"GET", "/api/v1/schedules/{schedule}/slots", A::kUser, kNone, "limit", ListScheduleSlots},
      {"GET", "/api/v1/schedule-preview", A::kUser, kNone, "cron,time_zone", PreviewSchedule},
      {"GET", "/api/v1/portfolio", A::kUser, kNone, "q,attention,sort,order,cursor,limit",
       Portfolio},
      {"GET", "/api/v1/tenants", A::kUser, kNone, "", ListTenants},
      {"POST", "/api/v1/tenants", A::kPlatformAdmin, kJson, "", CreateTenant},
      {"POST", "/api/v1/tenants/import", A::kPlatformAdmin, kJson, "", ImportTenants},
      {"GET", "/api/v1/platform/app", A::kPlatformAdmin, kNone, "", GetPlatformApp},
      {"PUT", "/api/v1/platform/app", A::kPlatformAdmin, kJson, "", SetPlatformApp},
      {"POST", "/api/v1/onboarding", A::kPlatformAdmin, kJson, "", StartOnboarding},
      {"GET", "/api/v1/onboarding/callback", A::kPublic, kNone,
       "tenant,state,admin_consent,scope,error,error_description,error_uri", OnboardingCallback},
      {"GET", "/api/v1/tenants/{tenant}", A::kTenantRead, kNone, "", GetTenant},
      {"PUT", "/api/v1/tenants/{tenant}/credentials", A::kTenantOwner, kJson, "", SetCredentials},
      {"POST", "/api/v1/tenants/{tenant}/credentials/certificate", A::kTenantOwner, kJson, "",
       CreateCertificateCredentials},
      {"GET", "/api/v1/tenants/{tenant}/credentials/certificate", A::kTenantRead, kNone, "",
       GetCertificate},
      {"PUT", "/api/v1/tenants/{tenant}/tags", A::kTenantOwner, kJson, "", SetTenantTags},
      {"PUT", "/api/v1/tenants/{tenant}/retention", A::kTenantOwner, kJson, "",
       SetTenantRetention},
      {"POST", "/api/v1/tenants/{tenant}/retention/apply", A::kTenantOperate, kNone, "",
       ApplyTenantRetention},
      {"POST", "/api/v1/tenants/{tenant}/connection-check", A::kTenantOperate, kNone, "",
       CheckConnection},
      {"GET", "/api/v1/tenants/{tenant}/members", A::kTenantRead, kNone, "", ListMembers},
      {"POST", "/api/v1/tenants/{tenant}/members", A::kTenantOwner, kJson, "", AddMember},
      {"DELETE", "/api/v1/tenants/{tenant}/members/{user}", A::kTenantOwner, kNone, "",
       RemoveMember},
      {"GET", "/api/v1/tenants/{tenant}/policies", A::kTenantRead, kNone,
       "type,platform,q,include_gone,cursor,limit", ListPolicies},
      {"POST", "/api/v1/tenants/{tenant}/policies/sync", A::kTenantOperate, kNone, "",
       SyncPolicies},
      {"GET", "/api/v1/tenants/{tenant}/policies/{policy}", A::kTenantRead, kNone, "", GetPolicy},
      {"POST", "/api/v1/tenants/{tenant}/policies/{policy}/capture", A::kTenantOperate, kNone, "",
       CapturePolicy},
      {"GET", "/api/v1/tenants/{tenant}/policies/{policy}/versions", A::kTenantRead, kNone,
       "cursor,limit", ListVersions},
      {"GET", "/api/v1/tenants/{tenant}/policies/{policy}/versions/{version}", A::kTenantRead,
       kNone, "", GetVersion},
      {"GET", "/api/v1/tenants/{tenant}/groups", A::kTenantRead, kNone, "cursor,limit", ListGroups},
      {"GET", "/api/v1/tenants/{tenant}/backup-sets", A::kTenantRead, kNone, "cursor,limit",
       ListBackupSets},
      {"POST", "/api/v1/tenants/{tenant}/backup-sets", A::kTenantOperate, kJson, "",
       CreateBackupSet},
      {"GET", "/api/v1/tenants/{tenant}/backup-sets/{backup_set}", A::kTenantRead, kNone, "",
       GetBackupSet},
      {"PUT", "/api/v1/tenants/{tenant}/backup-sets/{backup_set}/pin", A::kTenantOwner, kJson, "",
       PinBackupSet},
      {"PUT", "/api/v1/tenants/{tenant}/backup-sets/{backup_set}/baseline", A::kTenantOperate,
       kJson, "", SetBaselineSet},
      {"POST", "/api/v1/tenants/{tenant}/drift/detect", A::kTenantOperate, kNone, "", DetectDrift},
      {"GET", "/api/v1/tenants/{tenant}/drift-findings", A::kTenantRead, kNone,
       "status,cursor,limit", ListDriftFindings},
      {"GET", "/api/v1/tenants/{tenant}/drift-findings/{finding}", A::kTenantRead, kNone, "",
       GetDriftFinding},
      {"POST", "/api/v1/tenants/{tenant}/drift-findings/{finding}/accept", A::kTenantOperate, kNone,
       "", AcceptDriftFinding},
      {"POST", "/api/v1/tenants/{tenant}/drift-findings/{finding}/revert", A::kTenantOperate, kNone,
       "", RevertDriftFinding},
      {"GET", "/api/v1/tenants/{tenant}/backup-sets/{backup_set}/document", A::kTenantRead, kNone,
       "format", BackupSetDocument},
      {"GET", "/api/v1/tenants/{tenant}/backup-sets/{backup_set}/items", A::kTenantRead, kNone,
       "cursor,limit", ListBackupItems},
      {"GET", "/api/v1/tenants/{tenant}/restores/group-mapping", A::kTenantOperate, kNone,
       "source_tenant,backup_set", SuggestMapping},
      {"POST", "/api/v1/tenants/{tenant}/restores/preview", A::kTenantOperate, kJson, "",
       PreviewRestore},
      {"POST", "/api/v1/tenants/{tenant}/restores/execute", A::kTenantOperate, kJson, "",
       ExecuteRestore},
      {"GET", "/api/v1/tenants/{tenant}/runs", A::kTenantRead, kNone, "status,type,since,until,cursor,limit",
       ListRuns},
      {"GET", "/api/v1/tenants/{tenant}/runs/{run}", A::kTenantRead, kNone, "", GetRun},
      {"GET", "/api/v1/tenants/{tenant}/runs/{run}/items", A::kTenantRead, kNone,
       "status,cursor,limit", ListRunItems},
      {"POST", "/api/v1/tenants/{tenant}/runs/{run}/cancel", A::kTenantOperate, kNone, "",
       CancelRun},
      {"GET", "/api/v1/tenants/{tenant}/runs/{run}/events", A::kTenantRead, kNone, "", RunEvents},
      {"GET", "/api/v1/tenants/{tenant}/audit", A::kTenantRead, kNone, "action,run_id,cursor,limit",
       ListAudit},
  };
  return kRoutes;
}

namespace {

// Status -> problem+json for a route, logging what the client is not shown:
// internal errors and database faults (whose text names hosts and ports).
Response Failed(ApiContext& ctx, std::string_view where, const Status& s) {
  const auto code = s.code();
  if (code == Status::Code::kInternal || code == Status::Code::kStorageFull ||
      code == Status::Code::kStorageUnavailable) {
    ctx.log.Error(code == Status::Code::kInternal ? "handler failed" : "database fault",
                  {{"route", where}, {"error", s.ToString()}});
  }
  return Problem(s);
}

using nlohmann::json;

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = std::min(path.find('/', i), path.size());
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Literal segments must match; {name} segments capture. Returns the number of
// captures, or -1 when the path does not fit.
int Match(const std::vector<std::string_view>& segs, const std::vector<std::string_view>& parts,
          std::map<std::string, std::string>* params) {
  if (segs.size() != parts.size()) return -1;
  int captures = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].front() == '{') {
      if (params) (*params)[std::string(segs[i].substr(1, segs[i].size() - 2))] = parts[i];
      ++captures;
    } else if (segs[i] != parts[i]) {
      return -1;
    }
  }
  return captures;
}

bool IsJsonContentType(const std::string& ct) {
  const auto semi = ct.find(';');
  std::string base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.pop_back();
  for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return base == "application/json" || base == "application/problem+json";
}

bool IsUnsafe(std::string_view method) { return method != "GET" && method != "HEAD"; }

// Authenticates and, for tenant routes, looks up the tenant and the role, in
// one read transaction, or from the authorization cache (api/auth_cache.h)
// when the same credential was granted the same route's access moments ago.
Result<Response> Authorize(ApiContext& ctx, const Route& route, Request& req) {
  if (route.access == Access::kPublic) return Response{};
  const std::string auth = req.Header("authorization");
  const std::string cookie = req.Cookie("ta_session");
  std::string secret;
  bool bearer = false;
  if (auth.size() > 7 &&
      (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) {
    secret = auth.substr(7);
    bearer = true;
  } else if (!auth.empty()) {
    return Unexpected(Status::Unauthenticated(
        "Authorization: use \"Bearer <api token>\" (create one with `tenantatlas token create`)"));
  } else {
    secret = cookie;
  }
  if (secret.empty())
    return Unexpected(Status::Unauthenticated(
        "Authorization: sign in, or send \"Authorization: Bearer <api token>\""));

  int64_t tenant = 0;
  const bool tenant_route = route.access == Access::kTenantRead ||
                            route.access == Access::kTenantOperate ||
                            route.access == Access::kTenantOwner;
  if (tenant_route) {
    auto id = PathId(req, "tenant");
    if (!id) return Unexpected(id.error());
    tenant = *id;
  }
  const int64_t now = ToUnixMillis(ctx.clock.Now());
  const std::string hash = SecretHash(secret);
  const std::string cache_key =
      (bearer ? "t:" : "s:") + hash + ":" + std::to_string(tenant_route ? tenant : -1);
  const uint64_t generation = store::Accounts::AccessGeneration();
  std::optional<AuthResult> cached = ctx.auth_cache.Find(cache_key);
  auto found = cached ? Result<AuthResult>(std::move(*cached))
                      : store::ReadResult<AuthResult>(ctx.db, [&](store::Tx& tx) -> Result<AuthResult> {
    AuthResult out;
    auto p = bearer ? store::Accounts::PrincipalForToken(tx, hash, now)
                    : store::Accounts::PrincipalForSession(tx, hash, now);
    if (!p) return Unexpected(p.error());
    out.principal = std::move(*p);
    if (!out.principal || !tenant_route) return out;
    auto access = store::Accounts::AccessTo(tx, out.principal->user.id, tenant);
    if (!access) return Unexpected(access.error());
    out.tenant_exists = access->tenant_exists;
    out.role = std::move(access->role);
    return out;
  });
  if (!found) return Unexpected(found.error());
  // Only grants are kept (a refusal is looked up again next time).
  if (!cached && found->principal && (!tenant_route || found->role))
    ctx.auth_cache.Put(cache_key, *found, generation);
  if (!found->principal) {
    return Unexpected(Status::Unauthenticated(
        bearer ? "Authorization: the API token is unknown, expired or revoked"
               : "session: expired or signed out; sign in again"));
  }
  req.principal = std::move(found->principal);
  const auto& p = *req.principal;
  if (p.via == store::Principal::Via::kSession && IsUnsafe(req.method) &&
      !SecretEquals(req.Header("x-csrf-token"), p.csrf_token)) {
    return Unexpected(Status::PermissionDenied(
        "X-CSRF-Token: missing or wrong; send the csrf_token from the login response"));
  }
  if (p.via == store::Principal::Via::kToken &&
      (!p.last_used_at || *p.last_used_at < now - 60'000)) {
    // At most one write per token per minute keeps "last used" useful without
    // turning every read into a write.
    if (ctx.db.Write([&](store::Tx& tx) {
                return store::Accounts::TouchToken(tx, p.credential_id, now);
              }).ok())
      ctx.auth_cache.Touched(cache_key, now);
  }
  if (route.access == Access::kPlatformAdmin && !p.user.is_platform_admin)
    return Unexpected(Status::PermissionDenied("this needs a platform administrator"));
  if (tenant_route) {
    if (!found->tenant_exists)
      return Unexpected(Status::NotFound("tenant: " + std::to_string(tenant) + " does not exist"));
    if (!found->role)
      return Unexpected(Status::PermissionDenied("tenant: you are not a member of tenant " +
                                                 std::to_string(tenant)));
    const int need = store::RoleRank(AccessName(route.access));
    if (store::RoleRank(*found->role) < need)
      return Unexpected(Status::PermissionDenied(
          "role: this needs the " + std::string(AccessName(route.access)) + " role in tenant " +
          std::to_string(tenant) + "; you have " + *found->role));
    req.tenant_id = tenant;
    req.role = *found->role;
  }
  return Response{};
}

using Stored = store::StoredResponse;

Response Replay(const Stored& s) {
  Response r;
  r.status = s.status;
  r.body = s.body;
  r.content_type = s.status >= 400 ? "application/problem+json" : "application/json";
  if (s.location) r.headers.emplace_back("Location", *s.location);
  r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

// Idempotency-Key: the first response for (user, key) is kept and replayed;
// the same key with a different request is refused.
Response WithIdempotencyKey(ApiContext& ctx, Request& req, const std::function<Response()>& run) {
  const std::string key = req.Header("idempotency-key");
  if (key.empty() || !req.principal || !IsUnsafe(req.method)) return run();
  if (key.size() > 255 || key.find_first_of("\r\n") != std::string::npos)
    return Problem(400, "Idempotency-Key: 1 to 255 characters", "Idempotency-Key");
  const int64_t user = req.principal->user.id;
  const std::string hash = Sha256Hex(req.method + " " + req.path + "\n" + req.body);
  const int64_t now = ToUnixMillis(ctx.clock.Now());
  const int64_t fresh_after =
      now -
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.options.idempotency_ttl).count();
  auto check = [&](const Stored& s) {
    return s.request_hash == hash
               ? Replay(s)
               : Problem(422,
                         "Idempotency-Key: this key was already used for a different request; "
                         "use a new key",
                         "Idempotency-Key");
  };
  auto prior = store::ReadResult<std::optional<Stored>>(ctx.db, [&](store::Tx& tx) {
    return store::IdempotentRequests::Find(tx, user, key, fresh_after);
  });
  if (!prior) return Failed(ctx, "Idempotency-Key", prior.error());
  if (*prior) return check(**prior);

  Response r = run();
  if (r.status >= 500 || r.feed) return r;  // a failure may be retried with the same key
  std::optional<std::string> location;
  for (const auto& [k, v] : r.headers)
    if (k == "Location") location = v;
  const Stored response{hash, r.status, location, r.body};
  auto kept = store::WriteResult<std::optional<Stored>>(ctx.db, [&](store::Tx& tx) {
    return store::IdempotentRequests::Keep(tx, user, key, response, fresh_after, now);
  });
  if (!kept) {
    ctx.log.Warn("idempotency key not stored", {{"error", kept.error().ToString()}});
    return r;
  }
  if (*kept) return check(**kept);
  return r;
}

void Record(ApiContext& ctx, std::string_view route, const Request& req, const Response& r,
            std::chrono::steady_clock::time_point started) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string status = std::to_string(r.status);
  ctx.metrics.Add("ta_http_requests_total",
                  {{"method", req.method}, {"route", std::string(route)}, {"status", status}});
  ctx.metrics.Observe("ta_http_request_duration_seconds", {{"route", std::string(route)}}, secs);
  if (r.status >= 500 || ctx.log.Enabled(Logger::Level::kDebug)) {
    ctx.log.Log(r.status >= 500 ? Logger::Level::kError : Logger::Level::kDebug, "request",
                {{"method", req.method},
                 {"path", req.path},
                 {"route", route},
                 {"status", r.status},
                 {"ms", secs * 1000},
                 {"user", req.user_id()}});
  }
}

}  // namespace

Response Dispatch(ApiContext& ctx, Request& req) {
  const auto started = std::chrono::steady_clock::now();
  const auto parts = Split(req.path);
  // The patterns' segments, split once (the table never changes).
  static const std::vector<std::vector<std::string_view>> kSegments = [] {
    std::vector<std::vector<std::string_view>> out;
    for (const auto& r : RouteTable()) out.push_back(Split(r.pattern));
    return out;
  }();
  const Route* route = nullptr;
  size_t route_index = 0;
  int best = 1 << 20;
  std::string allow;
  for (size_t i = 0; i < RouteTable().size(); ++i) {
    const Route& r = RouteTable()[i];
    const int captures = Match(kSegments[i], parts, nullptr);
    if (captures < 0) continue;
    if (r.method != req.method) {
      allow += (allow.empty() ? "" : ", ") + std::string(r.method);
      continue;
    }
    if (captures < best) {  // literal segments win over {params}
      best = captures;
      route = &r;
      route_index = i;
    }
  }
  if (!route && allow.empty()) {
    if (auto file = ServeStatic(ctx.options.web_root, req)) {
      Record(ctx, "static", req, *file, started);
      return std::move(*file);
    }
  }
  if (!route) {
    Response r = allow.empty() ? Problem(404, "no route for " + req.path)
                               : Problem(405, req.method + " is not allowed on " + req.path);
    if (!allow.empty()) r.headers.emplace_back("Allow", allow);
    Record(ctx, allow.empty() ? "unmatched" : "method_not_allowed", req, r, started);
    return r;
  }
  Match(kSegments[route_index], parts, &req.path_params);

  Response response = [&]() -> Response {
    try {
      if (req.body.size() > ctx.options.max_body_bytes)
        return Problem(
            413, "body: at most " + std::to_string(ctx.options.max_body_bytes) + " bytes", "body");
      const bool has_body = req.body.find_first_not_of(" \t\r\n") != std::string::npos;
      if (has_body && !IsJsonContentType(req.Header("content-type")))
        return Problem(415, "Content-Type: send application/json", "Content-Type");
      if (has_body && route->body == BodyKind::kNone) {
        auto empty = JsonBody::Parse(req.body, {});
        if (!empty) return Problem(empty.error());
      }
      // After the body checks: the HTTP library adds form-encoded body fields to
      // the query parameters, and such a body is a 415, not an unknown parameter.
      for (const auto& [name, value] : req.query) {
        const std::string_view allowed = route->query;
        bool ok = false;
        size_t i = 0;
        while (i <= allowed.size() && !ok) {
          const size_t j = std::min(allowed.find(',', i), allowed.size());
          ok = allowed.substr(i, j - i) == name;
          i = j + 1;
        }
        if (!ok)
          return Problem(400,
                         name + ": unknown query parameter" +
                             (allowed.empty() ? "" : "; allowed: " + std::string(allowed)),
                         name);
      }
      if (auto a = Authorize(ctx, *route, req); !a) {
        Response r = Failed(ctx, route->pattern, a.error());
        if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      }
      return WithIdempotencyKey(ctx, req, [&]() -> Response {
        auto r = route->handler(ctx, req);
        if (!r) return Failed(ctx, route->pattern, r.error());
        return std::move(*r);
      });
    } catch (const std::exception& e) {
      ctx.log.Error("handler threw", {{"route", route->pattern}, {"error", e.what()}});
      return Problem(500, "internal error; see the server log");
    }
  }();
  Record(ctx, route->pattern, req, response, started);
  return response;
}

}  // namespace ta::api
