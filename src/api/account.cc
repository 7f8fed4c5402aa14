// Sign-in, API tokens, tenants and memberships.
#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "api/input.h"
#include "api/problem.h"
#include "api/routes.h"
#include "api/views.h"
#include "core/certificate.h"
#include "core/credentials.h"
#include "runs/operations.h"
#include "schedule/retention.h"
#include "store/audit_log.h"
#include "store/onboarding.h"
#include "tenancy/onboarding.h"
#include "tenancy/tenancy.h"
#include "tenancy/tenant_import.h"

namespace ta::api::handlers {
namespace {

using nlohmann::json;
using store::Accounts;

int64_t Now(ApiContext& ctx) { return ToUnixMillis(ctx.clock.Now()); }

// "45 seconds", "1 minute", "15 minutes" (rounded up).
std::string HumanDuration(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + (seconds == 1 ? " second" : " seconds");
  const int64_t minutes = (seconds + 59) / 60;
  return std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
}

tenancy::Actor ActorOf(ApiContext& ctx, const Request& req) {
  return {req.principal ? std::optional(req.principal->user.id) : std::nullopt, "api", Now(ctx)};
}

Status Audit(store::Tx& tx, ApiContext& ctx, int64_t tenant, const Request& req, std::string action,
             std::string target_type, std::string target_id, json details = json::object()) {
  return store::AuditLog::Record(
      tx, tenant, req.principal ? std::optional(req.principal->user.id) : std::nullopt,
      std::move(action), std::move(target_type), std::move(target_id), details.dump(), Now(ctx));
}

std::string SessionCookie(ApiContext& ctx, const std::string& value, int64_t max_age_s) {
  return "ta_session=" + value +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s) +
         (ctx.options.secure_cookies ? "; Secure" : "");
}

json TokenJson(const store::ApiToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"expires_at", Time(t.expires_at)},
          {"revoked_at", Time(t.revoked_at)},
          {"last_used_at", Time(t.last_used_at)},
          {"created_at", Time(t.created_at)}};
}

json MemberJson(const store::Membership& m) {
  return {{"tenant_id", m.tenant_id}, {"tenant_name", m.tenant_name},
          {"user_id", m.user_id},     {"email", m.email},
          {"role", m.role},           {"created_at", Time(m.created_at)}};
}

// A hash to verify against when the email is unknown, so a wrong email and a
// wrong password take the same time.
const std::string& DummyHash() {
  static const std::string hash = HashPassword(NewSecret("dummy-")).value_or("");
  return hash;
}

}  // namespace

Result<Response> Login(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"email", "password"});
  if (!body) return Unexpected(body.error());
  auto email = body->String("email", 254);
  if (!email) return Unexpected(email.error());
  auto password = body->String("password", 1024);
  if (!password) return Unexpected(password.error());

  const auto wait = ctx.login_limiter.RetryAfter(req.remote_addr, *email);
  if (wait.count() > 0) {
    Response r = Problem(
        429, "Too many failed sign-ins from here. Wait " + HumanDuration(wait.count()) +
                 ", then sign in again (or ask an administrator to reset your password).");
    r.headers.emplace_back("Retry-After", std::to_string(wait.count()));
    return r;
  }
  auto user = store::ReadResult<std::optional<std::pair<store::User, std::string>>>(
      ctx.db, [&](store::Tx& tx) { return Accounts::UserByEmail(tx, *email); });
  if (!user) return Unexpected(user.error());
  const bool ok = *user ? VerifyPassword(*password, (*user)->second)
                        : (VerifyPassword(*password, DummyHash()), false);
  if (!ok) {
    ctx.login_limiter.RecordFailure(req.remote_addr, *email);
    Status s = ctx.db.Write([&](store::Tx& tx) {
      return Audit(tx, ctx, 0, req, "auth.login_failed", "user",
                   *user ? std::to_string((*user)->first.id) : "",
                   {{"email", *email}, {"address", req.remote_addr}});
    });
    if (!s.ok()) return Unexpected(s);
    return Unexpected(Status::Unauthenticated("email or password is wrong"));
  }
  ctx.login_limiter.RecordSuccess(req.remote_addr, *email);
  const store::User& u = (*user)->first;
  const std::string secret = NewSecret("tas_");
  const std::string csrf = NewSecret("");
  const int64_t now = Now(ctx);
  const int64_t ttl_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.options.session_ttl).count();
  Status s = ctx.db.Write([&](store::Tx& tx) -> Status {
    // Session rotation: a session cookie sent with the sign-in (a planted one,
    // or an earlier sign-in's) is revoked, never carried over.
    if (const std::string old = req.Cookie("ta_session"); !old.empty()) {
      auto prior = Accounts::PrincipalForSession(tx, SecretHash(old), now);
      if (!prior) return prior.error();
      if (*prior) TA_RETURN_IF_ERROR(Accounts::RevokeSession(tx, (*prior)->credential_id, now));
    }
    auto id = Accounts::CreateSession(tx, u.id, SecretHash(secret), csrf, now + ttl_ms, now);
    if (!id) return id.error();
    req.principal = store::Principal{u, store::Principal::Via::kSession, *id, csrf, std::nullopt};
    return Audit(tx, ctx, 0, req, "auth.login", "user", std::to_string(u.id),
                 {{"address", req.remote_addr}});
  });
  if (!s.ok()) return Unexpected(s);
  Response r = Response::Json(
      200, {{"user", UserJson(u)}, {"csrf_token", csrf}, {"expires_at", Time(now + ttl_ms)}});
  r.headers.emplace_back("Set-Cookie", SessionCookie(ctx, secret, ttl_ms / 1000));
  return r;
}

Result<Response> Logout(ApiContext& ctx, Request& req) {
  if (req.principal->via == store::Principal::Via::kSession) {
    Status s = ctx.db.Write([&](store::Tx& tx) {
      return Accounts::RevokeSession(tx, req.principal->credential_id, Now(ctx));
    });
    if (!s.ok()) return Unexpected(s);
  }
  Response r = Response::NoContent();
  r.headers.emplace_back("Set-Cookie", SessionCookie(ctx, "", 0));
  return r;
}

Result<Response> Me(ApiContext& ctx, Request& req) {
  auto m = store::ReadResult<std::vector<store::Membership>>(
      ctx.db, [&](store::Tx& tx) { return Accounts::MembershipsOf(tx, req.user_id()); });
  if (!m) return Unexpected(m.error());
  json tenants = json::array();
  for (const auto& x : *m)
    tenants.push_back({{"tenant_id", x.tenant_id},
                       {"tenant_name", x.tenant_name},
                       {"role", x.role},
                       {"entra_tenant_id", x.entra_tenant_id ? json(*x.entra_tenant_id) : json()},
                       {"tags", JsonColumn(x.tags)}});
  json out = {
      {"user", UserJson(req.principal->user)},
      {"preferences", {{"notify", req.principal->user.notify}}},
      {"memberships", tenants},
      {"auth", req.principal->via == store::Principal::Via::kSession ? "session" : "token"}};
  if (req.principal->via == store::Principal::Via::kSession)
    out["csrf_token"] = req.principal->csrf_token;
  return Response::Json(200, out);
}

Result<Response> SetPreferences(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"notify"});
  if (!body) return Unexpected(body.error());
  auto notify = body->String("notify", 20);
  if (!notify) return Unexpected(notify.error());
  if (!store::IsNotifyPreference(*notify))
    return Unexpected(Status::InvalidArgument(
        "notify: one of all (queued and finished), finished, failures (failed or partially "
        "succeeded only)"));
  Status s = ctx.db.Write([&](store::Tx& tx) {
    return Accounts::SetNotifyPreference(tx, req.user_id(), *notify);
  });
  if (!s.ok()) return Unexpected(s);
  return Response::Json(200, {{"notify", *notify}});
}

Result<Response> ListTokens(ApiContext& ctx, Request& req) {
  auto tokens = store::ReadResult<std::vector<store::ApiToken>>(
      ctx.db, [&](store::Tx& tx) { return Accounts::TokensOf(tx, req.user_id()); });
  if (!tokens) return Unexpected(tokens.error());
  json items = json::array();
  for (const auto& t : *tokens) items.push_back(TokenJson(t));
  return Response::Json(200, {{"items", items}});
}

Result<Response> CreateToken(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"name", "expires_in_days"});
  if (!body) return Unexpected(body.error());
  auto name = body->String("name", 100);
  if (!name) return Unexpected(name.error());
  auto days = body->OptInt("expires_in_days", 1, 3650);
  if (!days) return Unexpected(days.error());
  const int64_t now = Now(ctx);
  std::optional<int64_t> expires;
  if (*days) expires = now + **days * 86'400'000;
  const std::string secret = NewSecret("tat_");
  auto token =
      store::WriteResult<store::ApiToken>(ctx.db, [&](store::Tx& tx) -> Result<store::ApiToken> {
        auto id = tenancy::CreateToken(tx, ActorOf(ctx, req), req.user_id(), *name,
                                       SecretHash(secret), expires);
        if (!id) return Unexpected(id.error());
        return store::ApiToken{*id, req.user_id(), *name, expires, std::nullopt, std::nullopt, now};
      });
  if (!token) return Unexpected(token.error());
  // The only time the secret is shown; only its hash is stored.
  return Response::Json(201, {{"token", TokenJson(*token)}, {"secret", secret}});
}

Result<Response> RevokeToken(ApiContext& ctx, Request& req) {
  auto id = PathId(req, "token");
  if (!id) return Unexpected(id.error());
  Status s = ctx.db.Write([&](store::Tx& tx) {
    return tenancy::RevokeToken(tx, ActorOf(ctx, req), *id, req.user_id());
  });
  if (!s.ok()) return Unexpected(s);
  return Response::NoContent();
}

Result<Response> ListTenants(ApiContext& ctx, Request& req) {
  auto m = store::ReadResult<std::vector<store::Membership>>(
      ctx.db, [&](store::Tx& tx) { return Accounts::MembershipsOf(tx, req.user_id()); });
  if (!m) return Unexpected(m.error());
  json items = json::array();
  for (const auto& x : *m)
    items.push_back({{"id", x.tenant_id}, {"name", x.tenant_name}, {"role", x.role}});
  return Response::Json(200, {{"items", items}});
}

namespace {

// Credentials in a body: all three fields, or (when not required) none.
Result<std::optional<tenancy::AppCredentials>> ParseCredentials(const JsonBody& body,
                                                                bool required) {
  auto entra = body.OptString("entra_tenant_id", 200);
  if (!entra) return Unexpected(entra.error());
  auto client = body.OptString("client_id", 200);
  if (!client) return Unexpected(client.error());
  auto secret = body.OptString("client_secret", 1024);
  if (!secret) return Unexpected(secret.error());
  auto expires = body.OptString("client_secret_expires_at", 40);
  if (!expires) return Unexpected(expires.error());
  auto cloud = body.OptString("cloud", 20);
  if (!cloud) return Unexpected(cloud.error());
  if (!required && !*entra && !*client && !*secret && !*expires && !*cloud)
    return std::optional<tenancy::AppCredentials>();
  tenancy::AppCredentials c{entra->value_or(""), client->value_or(""), secret->value_or(""),
                            std::nullopt, cloud->value_or("global")};
  if (*expires) {
    c.secret_expires_at = ParseIso8601(**expires);
    if (!c.secret_expires_at)
      return Unexpected(Status::InvalidArgument(
          "client_secret_expires_at: not a date; give the secret's \"Expires\" date from Entra "
          "(Certificates & secrets), such as \"2027-06-30\" or \"2027-06-30T10:20:30Z\""));
  }
  if (Status s = tenancy::ValidateCredentials(c); !s.ok()) return Unexpected(s);
  return std::optional<tenancy::AppCredentials>(std::move(c));
}

Status StoreCredentials(store::Tx& tx, ApiContext& ctx, const Request& req, int64_t tenant,
                        const tenancy::AppCredentials& c) {
  if (!ctx.box)
    return Status::FailedPrecondition(
        "client_secret: the server has no master key to encrypt it; start serve with "
        "TA_MASTER_KEY or --master-key-file");
  ctx.redactor.RegisterSecret(c.client_secret);
  return tenancy::SetCredentials(tx, ActorOf(ctx, req), tenant, c, *ctx.box);
}

Result<json> TenantJson(store::Tx& tx, int64_t tenant, const std::string& role, int64_t now_ms) {
  auto t = Accounts::TenantById(tx, tenant);
  if (!t) return Unexpected(t.error());
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(); };
  json thumbprint;  // what Entra lists for the uploaded certificate
  if (t->certificate)
    if (auto info = ReadCertificate(*t->certificate)) thumbprint = info->thumbprint;
  auto stored = Accounts::TenantRetention(tx, tenant);
  if (!stored) return Unexpected(stored.error());
  auto retention = schedule::LoadTenantRetention(*stored);
  if (!retention) return Unexpected(retention.error());
  return json{{"id", t->id},
              {"name", t->name},
              {"entra_tenant_id", opt(t->entra_tenant_id)},
              {"client_id", opt(t->client_id)},
              {"has_credentials", t->has_credentials},
              {"credential_expires_at", TimeJson(t->credential_expires_at)},
              {"credential_expiry_source", opt(t->credential_expiry_source)},
              {"cloud", t->cloud},
              {"credential_kind", t->has_credentials ? json(t->credential_kind) : json()},
              {"certificate_thumbprint", thumbprint},
              {"credential_expiry", t->has_credentials
                                        ? json(tenancy::CredentialExpiry(t->credential_expires_at,
                                                                         now_ms))
                                        : json()},
              {"settings", JsonColumn(t->settings)},
              {"tags", JsonColumn(t->tags)},
              {"retention", *retention ? schedule::TenantRetentionJson(**retention) : json()},
              {"created_at", Time(t->created_at)},
              {"role", role.empty() ? json() : json(role)}};
}

}  // namespace

Result<Response> CreateTenant(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"name", "entra_tenant_id", "client_id", "client_secret",
                                         "client_secret_expires_at", "cloud"});
  if (!body) return Unexpected(body.error());
  auto name = body->String("name", 200);
  if (!name) return Unexpected(name.error());
  auto creds = ParseCredentials(*body, false);
  if (!creds) return Unexpected(creds.error());
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    // The creator owns the new tenant, so someone can manage it.
    auto id = tenancy::CreateTenant(tx, ActorOf(ctx, req), *name, req.user_id());
    if (!id) return Unexpected(id.error());
    if (*creds)
      if (Status s = StoreCredentials(tx, ctx, req, *id, **creds); !s.ok()) return Unexpected(s);
    return TenantJson(tx, *id, "owner", Now(ctx));
  });
  if (!out) return Unexpected(out.error());
  Response r = Response::Json(201, *out);
  r.headers.emplace_back("Location",
                         "/api/v1/tenants/" + std::to_string((*out)["id"].get<int64_t>()));
  return r;
}

// Many tenants from a CSV file (name, entra_tenant_id, cloud, tags): one
// result per row; a bad row is reported with its field and never blocks the
// others; a name that exists is reported, not changed.
Result<Response> ImportTenants(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"csv"});
  if (!body) return Unexpected(body.error());
  auto csv = body->String("csv", 1 << 20);
  if (!csv) return Unexpected(csv.error());
  auto rows = tenancy::ImportTenants(ctx.db, ActorOf(ctx, req), *csv, req.user_id());
  if (!rows) return Unexpected(rows.error());
  json items = json::array();
  std::map<std::string, int> counts = {{"created", 0}, {"exists", 0}, {"failed", 0}};
  for (const auto& r : *rows) {
    ++counts[r.status];
    json row = {{"line", r.line}, {"name", r.name}, {"status", r.status},
                {"tenant_id", r.tenant_id ? json(*r.tenant_id) : json()}};
    if (r.status == "failed") row["error"] = {{"field", r.field}, {"message", r.error}};
    items.push_back(std::move(row));
  }
  return Response::Json(200, {{"created", counts["created"]},
                              {"exists", counts["exists"]},
                              {"failed", counts["failed"]},
                              {"rows", items}});
}

Result<Response> GetTenant(ApiContext& ctx, Request& req) {
  auto out = store::ReadResult<json>(
      ctx.db, [&](store::Tx& tx) { return TenantJson(tx, req.tenant_id, req.role, Now(ctx)); });
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

Result<Response> SetTenantTags(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"tags"});
  if (!body) return Unexpected(body.error());
  const json& v = body->value();
  if (!v.contains("tags") || !v["tags"].is_array())
    return Unexpected(Status::InvalidArgument("tags: a list of words, such as [\"dental\", \"eu\"]"));
  std::vector<std::string> list;
  for (size_t i = 0; i < v["tags"].size(); ++i) {
    if (!v["tags"][i].is_string())
      return Unexpected(Status::InvalidArgument("tags[" + std::to_string(i) + "]: must be a string"));
    list.push_back(v["tags"][i].get<std::string>());
  }
  auto normalized = tenancy::NormalizeTags(list, "tags");
  if (!normalized) return Unexpected(normalized.error());
  const json tags = json::parse(*normalized);
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    if (Status s = Accounts::SetTenantTags(tx, req.tenant_id, tags.dump()); !s.ok())
      return Unexpected(s);
    if (Status s = Audit(tx, ctx, req.tenant_id, req, "tenant.tags_set", "tenant",
                         std::to_string(req.tenant_id), {{"tags", tags}});
        !s.ok())
      return Unexpected(s);
    return TenantJson(tx, req.tenant_id, req.role, Now(ctx));
  });
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

// The tenant's own retention rule over all its backup sets; null removes it.
Result<Response> SetTenantRetention(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"retention"});
  if (!body) return Unexpected(body.error());
  const json& v = body->value();
  if (!v.contains("retention"))
    return Unexpected(Status::InvalidArgument(
        "retention: is required ({\"keep_last\": 30, \"time_zone\": \"Europe/Berlin\"}, or null "
        "to remove the tenant's rule)"));
  std::optional<std::string> stored;
  if (!v["retention"].is_null()) {
    auto r = schedule::ParseTenantRetention(v["retention"]);
    if (!r) return Unexpected(r.error());
    stored = schedule::TenantRetentionJson(*r).dump();
  }
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    if (Status s = Accounts::SetTenantRetention(tx, req.tenant_id, stored); !s.ok())
      return Unexpected(s);
    if (Status s = Audit(tx, ctx, req.tenant_id, req, "tenant.retention_set", "tenant",
                         std::to_string(req.tenant_id),
                         {{"retention", stored ? json::parse(*stored) : json()}});
        !s.ok())
      return Unexpected(s);
    return TenantJson(tx, req.tenant_id, req.role, Now(ctx));
  });
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

// Applies the retention rules to every set of the tenant now (a run).
Result<Response> ApplyTenantRetention(ApiContext& ctx, Request& req) {
  auto started = runs::StartTenantRetention(ctx.runs, req.tenant_id, req.user_id());
  if (!started) return Unexpected(started.error());
  return StartResponse(*started);
}

Result<Response> SetCredentials(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(
      req.body,
      {"entra_tenant_id", "client_id", "client_secret", "client_secret_expires_at", "cloud"});
  if (!body) return Unexpected(body.error());
  auto creds = ParseCredentials(*body, true);
  if (!creds) return Unexpected(creds.error());
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    if (Status s = StoreCredentials(tx, ctx, req, req.tenant_id, **creds); !s.ok())
      return Unexpected(s);
    return TenantJson(tx, req.tenant_id, req.role, Now(ctx));
  });
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

// The MSP's own multi-tenant app, which tenants onboarded by admin consent
// sign in with. The secret or private key is never returned.
Result<Response> GetPlatformApp(ApiContext& ctx, Request&) {
  auto app = store::ReadResult<std::optional<store::PlatformApp>>(ctx.db, store::Onboarding::App);
  if (!app) return Unexpected(app.error());
  if (!*app)
    return Unexpected(Status::NotFound(
        "platform app: not configured; PUT /api/v1/platform/app with its client id and a "
        "client_secret (or without one, to have a certificate made)"));
  json thumbprint;
  if ((*app)->certificate)
    if (auto info = ReadCertificate(*(*app)->certificate)) thumbprint = info->thumbprint;
  return Response::Json(200, {{"client_id", (*app)->client_id},
                              {"credential_kind", (*app)->kind},
                              {"certificate_thumbprint", thumbprint},
                              {"updated_at", Time((*app)->updated_at)}});
}

Result<Response> SetPlatformApp(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"client_id", "client_secret", "valid_days"});
  if (!body) return Unexpected(body.error());
  auto client = body->String("client_id", 200);
  if (!client) return Unexpected(client.error());
  auto secret = body->OptString("client_secret", 1024);
  if (!secret) return Unexpected(secret.error());
  auto days = body->OptInt("valid_days", 1, 730);
  if (!days) return Unexpected(days.error());
  if (!ctx.box)
    return Unexpected(Status::FailedPrecondition(
        "client_secret: the server has no master key to seal it; start serve with "
        "TA_MASTER_KEY or --master-key-file"));
  if (*secret) ctx.redactor.RegisterSecret(**secret);
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    auto info = tenancy::SetPlatformApp(tx, ActorOf(ctx, req), *client, *secret,
                                        static_cast<int>(days->value_or(365)), *ctx.box);
    if (!info) return Unexpected(info.error());
    json out = {{"client_id", info->client_id}, {"credential_kind", info->kind}};
    if (info->certificate)
      out["certificate"] = {{"pem", info->certificate->certificate_pem},
                            {"thumbprint", info->certificate->info.thumbprint},
                            {"not_after", Time(info->certificate->info.not_after_ms)}};
    return out;
  });
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

// An admin-consent link for a new customer tenant.
Result<Response> StartOnboarding(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body.empty() ? "{}" : req.body, {"name", "cloud"});
  if (!body) return Unexpected(body.error());
  auto name = body->OptString("name", 200);
  if (!name) return Unexpected(name.error());
  auto cloud = body->OptString("cloud", 20);
  if (!cloud) return Unexpected(cloud.error());
  if (!ctx.box)
    return Unexpected(Status::FailedPrecondition(
        "onboarding: the server has no master key to sign the consent link's state"));
  const std::string base = !ctx.options.public_url.empty()
                               ? ctx.options.public_url
                               : (ctx.options.secure_cookies ? "https://" : "http://") +
                                     req.Header("host");
  auto link = store::WriteResult<tenancy::ConsentLink>(ctx.db, [&](store::Tx& tx) {
    return tenancy::StartOnboarding(tx, ActorOf(ctx, req), *name, cloud->value_or("global"),
                                    ctx.options.consent_authority,
                                    base + "/api/v1/onboarding/callback", *ctx.box);
  });
  if (!link) return Unexpected(link.error());
  return Response::Json(201, {{"consent_url", link->url},
                              {"state", link->state},
                              {"expires_at", Time(link->expires_at)}});
}

// Where Entra sends the customer's admin after consent (or refusal). The
// state proves the link was ours; the tenant is created, a connection check
// started (it names the tenant after its directory), and the browser goes to
// the new tenant's page.
Result<Response> OnboardingCallback(ApiContext& ctx, Request& req) {
  if (auto error = req.QueryParam("error"))
    return Unexpected(Status::InvalidArgument(
        "admin_consent: consent was not given (" + *error + ": " +
        req.QueryParam("error_description").value_or("no description") +
        "); ask the customer's Global Administrator to open the link again"));
  const std::string state = req.QueryParam("state").value_or("");
  const std::string directory = req.QueryParam("tenant").value_or("");
  if (state.empty()) return Unexpected(Status::InvalidArgument("state: missing"));
  if (!ctx.box)
    return Unexpected(Status::FailedPrecondition("onboarding: the server has no master key"));
  tenancy::Actor actor = ActorOf(ctx, req);
  actor.via = "consent";
  auto done = store::WriteResult<tenancy::Onboarded>(ctx.db, [&](store::Tx& tx) {
    return tenancy::CompleteOnboarding(tx, actor, state, directory, *ctx.box);
  });
  if (!done) return Unexpected(done.error());
  const int64_t tenant = done->tenant_id;
  // The check runs as the admin who asked for the link (the callback has no
  // user). The tenant exists either way: if the start fails, its page offers
  // "Check the connection" (and it stays named after its id until then).
  if (done->owner) (void)runs::StartConnectionCheck(ctx.runs, tenant, *done->owner);
  Response r;
  r.status = 302;
  r.headers.emplace_back("Location", "/tenant?tenant=" + std::to_string(tenant) + "&onboarded=1");
  return r;
}

// Certificate credentials: TenantAtlas makes a key pair, seals the private key
// and answers with the certificate to upload to the app registration in Entra
// (Certificates & secrets > Certificates). The private key is never returned.
Result<Response> CreateCertificateCredentials(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"entra_tenant_id", "client_id", "cloud", "valid_days"});
  if (!body) return Unexpected(body.error());
  auto entra = body->String("entra_tenant_id", 200);
  if (!entra) return Unexpected(entra.error());
  auto client = body->String("client_id", 200);
  if (!client) return Unexpected(client.error());
  auto cloud = body->OptString("cloud", 20);
  if (!cloud) return Unexpected(cloud.error());
  auto days = body->OptInt("valid_days", 1, 730);
  if (!days) return Unexpected(days.error());
  if (!ctx.box)
    return Unexpected(Status::FailedPrecondition(
        "certificate: the server has no master key to seal the private key; start serve with "
        "TA_MASTER_KEY or --master-key-file"));
  tenancy::AppCredentials app{*entra, *client, "", std::nullopt, cloud->value_or("global")};
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    auto issued = tenancy::SetCertificateCredentials(tx, ActorOf(ctx, req), req.tenant_id, app,
                                                     static_cast<int>(days->value_or(365)),
                                                     *ctx.box);
    if (!issued) return Unexpected(issued.error());
    auto tenant = TenantJson(tx, req.tenant_id, req.role, Now(ctx));
    if (!tenant) return Unexpected(tenant.error());
    return json{{"tenant", *tenant},
                {"certificate",
                 {{"pem", issued->certificate_pem},
                  {"thumbprint", issued->info.thumbprint},
                  {"not_after", Time(issued->info.not_after_ms)}}}};
  });
  if (!out) return Unexpected(out.error());
  return Response::Json(201, *out);
}

// The tenant's public certificate, to upload to Entra (a .cer file it accepts).
Result<Response> GetCertificate(ApiContext& ctx, Request& req) {
  auto t = store::ReadResult<Accounts::Tenant>(
      ctx.db, [&](store::Tx& tx) { return Accounts::TenantById(tx, req.tenant_id); });
  if (!t) return Unexpected(t.error());
  if (!t->certificate)
    return Unexpected(Status::NotFound(
        "certificate: this tenant authenticates with a client secret, not a certificate"));
  Response r;
  r.status = 200;
  r.content_type = "application/x-pem-file";
  r.body = *t->certificate;
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"tenantatlas-" + std::to_string(t->id) + ".cer\"");
  return r;
}

Result<Response> ListMembers(ApiContext& ctx, Request& req) {
  auto m = store::ReadResult<std::vector<store::Membership>>(
      ctx.db, [&](store::Tx& tx) { return Accounts::MembersOf(tx, req.tenant_id); });
  if (!m) return Unexpected(m.error());
  json items = json::array();
  for (const auto& x : *m) items.push_back(MemberJson(x));
  return Response::Json(200, {{"items", items}});
}

Result<Response> AddMember(ApiContext& ctx, Request& req) {
  auto body = JsonBody::Parse(req.body, {"email", "role"});
  if (!body) return Unexpected(body.error());
  auto email = body->String("email", 254);
  if (!email) return Unexpected(email.error());
  auto role = body->String("role", 20);
  if (!role) return Unexpected(role.error());
  auto out = store::WriteResult<json>(ctx.db, [&](store::Tx& tx) -> Result<json> {
    auto user = Accounts::UserByEmail(tx, *email);
    if (!user) return Unexpected(user.error());
    if (!*user)
      return Unexpected(Status::NotFound(
          "email: no user has this email; create the user first (tenantatlas user add)"));
    const int64_t uid = (*user)->first.id;
    if (Status s = tenancy::SetMember(tx, ActorOf(ctx, req), req.tenant_id, uid, *role); !s.ok())
      return Unexpected(s);
    auto members = Accounts::MembersOf(tx, req.tenant_id);
    if (!members) return Unexpected(members.error());
    for (const auto& m : *members)
      if (m.user_id == uid) return MemberJson(m);
    return Unexpected(Status::Internal("membership vanished"));
  });
  if (!out) return Unexpected(out.error());
  return Response::Json(200, *out);
}

Result<Response> RemoveMember(ApiContext& ctx, Request& req) {
  auto uid = PathId(req, "user");
  if (!uid) return Unexpected(uid.error());
  Status s = ctx.db.Write([&](store::Tx& tx) {
    return tenancy::RemoveMember(tx, ActorOf(ctx, req), req.tenant_id, *uid);
  });
  if (!s.ok()) return Unexpected(s);
  return Response::NoContent();
}

}  // namespace ta::api::handlers
