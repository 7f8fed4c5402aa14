#include "graph/token_provider.h"

#include "core/base64.h"
#include "core/certificate.h"
#include "core/credentials.h"
#include "core/sha256.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

namespace ta::graph {
namespace {

std::string FormEncode(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out(e ? e : "");
  curl_free(e);
  return out;
}

}  // namespace

TokenProvider::TokenProvider(HttpTransport& transport, std::string authority_base,
                             std::string scope, Clock& clock, Redactor& redactor,
                             std::chrono::seconds refresh_skew)
    : transport_(transport),
      authority_base_(std::move(authority_base)),
      scope_(std::move(scope)),
      clock_(clock),
      redactor_(redactor),
      skew_(refresh_skew) {}

namespace {

// The cache key: tenant, app and a hash of the secret, so a token fetched
// with one secret is never handed to a caller holding another (two of our
// tenants pointing at one app, or a secret changed while cached).
std::string CacheKey(const AppCredentials& app) {
  return app.authority_base + "|" + app.scope + "|" + app.tenant + "|" + app.client_id + "|" +
         Sha256Hex(app.client_secret + app.private_key_pem);
}

}  // namespace

std::optional<std::vector<std::string>> TokenRoles(const std::string& access_token) {
  const size_t a = access_token.find('.');
  const size_t b = a == std::string::npos ? a : access_token.find('.', a + 1);
  if (b == std::string::npos) return std::nullopt;
  auto payload = Base64Decode(std::string_view(access_token).substr(a + 1, b - a - 1), true);
  if (!payload) return std::nullopt;
  auto claims = nlohmann::json::parse(*payload, nullptr, false);
  if (!claims.is_object()) return std::nullopt;
  std::vector<std::string> roles;
  if (claims.contains("roles") && claims["roles"].is_array())
    for (const auto& r : claims["roles"])
      if (r.is_string()) roles.push_back(r.get<std::string>());
  return roles;
}

Result<std::string> ClientAssertion(const AppCredentials& app, const std::string& audience,
                                    int64_t now_s) {
  const nlohmann::json header = {
      {"alg", "RS256"}, {"typ", "JWT"}, {"x5t#S256", app.certificate_sha256}};
  const nlohmann::json claims = {{"aud", audience},
                                 {"iss", app.client_id},
                                 {"sub", app.client_id},
                                 {"jti", NewSecret("")},
                                 {"nbf", now_s},
                                 {"iat", now_s},
                                 {"exp", now_s + 600}};
  const std::string signing_input =
      Base64Encode(header.dump(), true) + "." + Base64Encode(claims.dump(), true);
  auto signature = SignRs256(app.private_key_pem, signing_input);
  if (!signature) return Unexpected(signature.error());
  return signing_input + "." + *signature;
}

GraphResult<std::string> TokenProvider::Token(const AppCredentials& app) {
  const std::string key = CacheKey(app);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    Entry& e = cache_[key];
    if (!e.token.empty() && clock_.Now() + skew_ < e.expires) return e.token;
    if (!e.refreshing) break;
    cv_.wait(lock);  // another caller is fetching; use its result
  }
  cache_[key].refreshing = true;
  ++fetches_;
  lock.unlock();
  auto fetched = Fetch(app);
  lock.lock();
  Entry& e = cache_[key];
  e.refreshing = false;
  if (fetched) {
    e.token = fetched->first;
    e.expires = fetched->second;
  }
  cv_.notify_all();
  if (!fetched) return GraphFailure(fetched.error());
  return fetched->first;
}

void TokenProvider::Invalidate(const AppCredentials& app, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = cache_[CacheKey(app)];
  if (e.token == token) e.token.clear();
}

int64_t TokenProvider::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

GraphResult<std::pair<std::string, Clock::TimePoint>> TokenProvider::Fetch(
    const AppCredentials& app) {
  if (!app.client_secret.empty()) redactor_.RegisterSecret(app.client_secret);
  HttpRequest req;
  req.method = "POST";
  const std::string& authority = app.authority_base.empty() ? authority_base_ : app.authority_base;
  const std::string& scope = app.scope.empty() ? scope_ : app.scope;
  req.url = authority + "/" + FormEncode(app.tenant) + "/oauth2/v2.0/token";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "grant_type=client_credentials&client_id=" + FormEncode(app.client_id) +
             "&scope=" + FormEncode(scope);
  if (app.private_key_pem.empty()) {
    req.body += "&client_secret=" + FormEncode(app.client_secret);
  } else {
    auto assertion = ClientAssertion(app, req.url, ToUnixMillis(clock_.Now()) / 1000);
    if (!assertion) {
      GraphError err;
      err.kind = Status::Code::kFailedPrecondition;
      err.code = "client_assertion_failed";
      err.message = "could not sign a client assertion for app " + app.client_id + " in tenant " +
                    app.tenant + ": " + assertion.error().message();
      return GraphFailure(err);
    }
    // Not registered with the redactor (one per token, single-use and short
    // lived); it is never logged, and client_assertion=... is redacted by name.
    req.body += "&client_assertion_type=" +
                FormEncode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
                "&client_assertion=" + FormEncode(*assertion);
  }
  req.timeout = std::chrono::seconds(30);
  const auto sent_at = clock_.Now();
  auto res = transport_.Send(req);
  GraphError err;
  if (!res) {
    err.kind = Status::Code::kUnavailable;
    err.transport = res.error().kind;
    err.code = "token_endpoint_unreachable";
    err.message = redactor_.Redact("token request for tenant " + app.tenant +
                                   " failed: " + res.error().message);
    return GraphFailure(err);
  }
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status == 200 && body.is_object() && body.contains("access_token") &&
      body["access_token"].is_string()) {
    const int64_t expires_in = body.value("expires_in", 3599);
    redactor_.RegisterSecret(body["access_token"].get<std::string>());
    return std::make_pair(body["access_token"].get<std::string>(),
                          sent_at + std::chrono::seconds(expires_in));
  }
  err.http_status = static_cast<int>(res->status);
  err.kind = res->status >= 500 ? Status::Code::kUnavailable : Status::Code::kUnauthenticated;
  err.code = body.is_object() ? body.value("error", "") : "";
  if (err.code.empty())
    err.code = res->status >= 500 ? "token_endpoint_unavailable" : "token_refused";
  const std::string description =
      body.is_object() ? body.value("error_description", "") : res->body.substr(0, 300);
  err.message = redactor_.Redact("could not get a token for app " + app.client_id + " in tenant " +
                                 app.tenant + ": " + description +
                                 (app.private_key_pem.empty()
                                      ? " Check the tenant's app credentials (client id and secret)."
                                      : " Check the tenant's app credentials (client id, and that "
                                        "the certificate is uploaded to the app in Entra)."));
  return GraphFailure(err);
}

}  // namespace ta::graph
