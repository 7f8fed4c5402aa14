#include "graph/token_provider.h"

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
  return app.tenant + "|" + app.client_id + "|" + Sha256Hex(app.client_secret);
}

}  // namespace

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
  redactor_.RegisterSecret(app.client_secret);
  HttpRequest req;
  req.method = "POST";
  req.url = authority_base_ + "/" + FormEncode(app.tenant) + "/oauth2/v2.0/token";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "grant_type=client_credentials&client_id=" + FormEncode(app.client_id) +
             "&client_secret=" + FormEncode(app.client_secret) + "&scope=" + FormEncode(scope_);
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
                                 " Check the tenant's app credentials (client id and secret).");
  return GraphFailure(err);
}

}  // namespace ta::graph
