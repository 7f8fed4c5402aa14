#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/redactor.h"
#include "core/result.h"
#include "core/thread_annotations.h"
#include "graph/graph_error.h"
#include "graph/http_transport.h"

namespace ta::graph {

// An Entra app registration in a customer tenant.
struct AppCredentials {
  std::string tenant;  // Entra tenant id or domain
  std::string client_id;
  std::string client_secret;  // registered with the Redactor; never logged
  // The tenant's cloud (core/cloud.h): its token service root and the scope
  // to ask for ("https://graph.microsoft.us/.default"). Empty: the provider's.
  std::string authority_base = {};
  std::string scope = {};
  // Certificate credentials instead of a secret: the PEM private key (never
  // logged or sent: it signs an RS256 client assertion per token request) and
  // the certificate's SHA-256 thumbprint (base64url), the assertion's x5t#S256.
  std::string private_key_pem = {};
  std::string certificate_sha256 = {};
};

// The application permissions a Graph access token grants: its `roles` claim
// (["DeviceManagementConfiguration.Read.All", ...]; empty when it has none).
// nullopt when the token is not a JWT whose claims can be read.
std::optional<std::vector<std::string>> TokenRoles(const std::string& access_token);

// A client assertion for `app` (certificate credentials): an RS256 JWT with
// the x5t#S256 header, `audience` (the token endpoint) as aud, the client id
// as iss and sub, a unique jti and a 10-minute lifetime from `now_s`.
Result<std::string> ClientAssertion(const AppCredentials& app, const std::string& audience,
                                    int64_t now_s);

// OAuth2 client-credentials tokens, cached per (tenant, client) until they near
// expiry. Concurrent callers share one refresh (single flight). Thread-safe.
class TokenProvider {
 public:
  // authority_base: "https://login.microsoftonline.com" (or a national cloud,
  // or the simulator); scope: "https://graph.microsoft.com/.default".
  TokenProvider(HttpTransport& transport, std::string authority_base, std::string scope,
                Clock& clock, Redactor& redactor,
                std::chrono::seconds refresh_skew = std::chrono::seconds(300));

  GraphResult<std::string> Token(const AppCredentials& app);
  // Drops `token` from the cache (Graph rejected it); the next Token() refreshes.
  void Invalidate(const AppCredentials& app, const std::string& token);
  int64_t fetches() const;

 private:
  struct Entry {
    std::string token;
    Clock::TimePoint expires{};
    bool refreshing = false;
  };
  GraphResult<std::pair<std::string, Clock::TimePoint>> Fetch(const AppCredentials& app);

  HttpTransport& transport_;
  const std::string authority_base_;
  const std::string scope_;
  Clock& clock_;
  Redactor& redactor_;
  const std::chrono::seconds skew_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> cache_ GUARDED_BY(mu_);
  int64_t fetches_ GUARDED_BY(mu_) = 0;
};

}  // namespace ta::graph
