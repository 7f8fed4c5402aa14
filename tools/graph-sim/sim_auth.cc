// graph-sim: the Entra token endpoint (client credentials, with a client
// secret or a certificate's signed client assertion), with Entra's AADSTS
// errors for an unknown tenant, app, secret or a bad assertion.
#include "core/base64.h"
#include "core/certificate.h"
#include "sim_impl.h"

namespace ta::sim {

namespace {

struct AssertionError {
  int code;
  std::string text;
};

// Checks a client assertion as Entra does: an RS256 JWT whose x5t#S256 names
// a certificate uploaded to the app, signed by that certificate's key, for
// this token endpoint (aud), issued by and about the app (iss, sub), within
// its lifetime, and never presented before (jti). `used` holds the jtis seen.
std::optional<AssertionError> CheckAssertion(const std::string& jwt, const std::string& client,
                                             const std::string& audience,
                                             const std::vector<std::string>& certificates,
                                             std::set<std::string>& used, int64_t now_s) {
  const size_t a = jwt.find('.'), b = a == std::string::npos ? a : jwt.find('.', a + 1);
  if (b == std::string::npos)
    return AssertionError{50027, "JWT token is invalid or malformed."};
  auto header = json::parse(Base64Decode(jwt.substr(0, a), true).value_or(""), nullptr, false);
  auto claims =
      json::parse(Base64Decode(jwt.substr(a + 1, b - a - 1), true).value_or(""), nullptr, false);
  if (!header.is_object() || !claims.is_object() || header.value("alg", "") != "RS256")
    return AssertionError{50027, "JWT token is invalid or malformed."};
  const std::string x5t = header.value("x5t#S256", "");
  const std::string* cert = nullptr;
  for (const auto& pem : certificates) {
    auto info = ReadCertificate(pem);
    if (info && info->thumbprint_sha256 == x5t) cert = &pem;
  }
  if (!cert)
    return AssertionError{700027, "Client assertion contains an invalid signature. [Reason - The "
                                  "key was not found., Thumbprint of key used by client: '" +
                                      x5t + "']"};
  if (!VerifyRs256(*cert, jwt.substr(0, b), jwt.substr(b + 1)))
    return AssertionError{700027, "Client assertion failed signature validation."};
  if (claims.value("aud", "") != audience)
    return AssertionError{700212, "The audience claim '" + claims.value("aud", "") +
                                      "' of the client assertion does not match the token "
                                      "endpoint '" + audience + "'."};
  if (claims.value("iss", "") != client || claims.value("sub", "") != client)
    return AssertionError{700021, "Client assertion application identifier doesn't match "
                                  "'client_id' parameter."};
  const int64_t exp = claims.value("exp", int64_t{0}), nbf = claims.value("nbf", int64_t{0});
  if (exp <= now_s || nbf > now_s + 300 || exp - now_s > 86'400)
    return AssertionError{700024, "Client assertion is not within its valid time range."};
  const std::string jti = claims.value("jti", "");
  if (jti.empty() || !used.insert(jti).second)
    return AssertionError{700025, "Client assertion has been replayed (its jti was used before)."};
  return std::nullopt;
}

}  // namespace

void GraphSim::Impl::Token(const httplib::Request& req, httplib::Response& res) {
  const std::string tenant = req.matches[1];
  auto aad_error = [&](int status, const std::string& error, int code, const std::string& text) {
    res.status = status;
    json e = {{"error", error},
              {"error_description", "AADSTS" + std::to_string(code) + ": " + text},
              {"error_codes", {code}},
              {"timestamp", Iso8601(clock.Now())}};
    res.set_content(e.dump(), "application/json");
  };
  const std::string grant = req.get_param_value("grant_type");
  const std::string client = req.get_param_value("client_id");
  const std::string secret = req.get_param_value("client_secret");
  const std::string assertion = req.get_param_value("client_assertion");
  const bool with_assertion = req.has_param("client_assertion");
  const std::string scope = req.get_param_value("scope");
  std::unique_lock<std::mutex> lock(mu);
  auto t = tenants.find(tenant);
  if (token_down_status) {
    res.status = token_down_status;
    res.set_content("<html><body>Service Unavailable</body></html>", "text/html");
  } else if (grant != "client_credentials") {
    aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
  } else if (t == tenants.end()) {
    aad_error(400, "invalid_request", 90002, "Tenant '" + tenant + "' not found.");
  } else if (!t->second.apps.count(client)) {
    aad_error(401, "unauthorized_client", 700016,
              "Application with identifier '" + client + "' was not found in the directory '" +
                  tenant + "'.");
  } else if (with_assertion &&
             req.get_param_value("client_assertion_type") !=
                 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
    aad_error(400, "invalid_request", 50027, "Invalid client_assertion_type.");
  } else if (auto bad = with_assertion
                            ? CheckAssertion(assertion, client,
                                             SelfBase(req) + tenant + "/oauth2/v2.0/token",
                                             t->second.certificates[client],
                                             t->second.used_assertions,
                                             std::chrono::duration_cast<std::chrono::seconds>(
                                                 clock.Now().time_since_epoch())
                                                 .count())
                            : std::nullopt) {
    aad_error(401, "invalid_client", bad->code, bad->text);
  } else if (!with_assertion && t->second.apps[client] != secret) {
    aad_error(401, "invalid_client", 7000215,
              "Invalid client secret provided. Ensure the secret being sent in the request is "
              "the client secret "
              "value, not the client secret ID, for a secret added to app '" +
                  client + "'.");
  } else {
    const auto exp = clock.Now() + std::chrono::seconds(cfg.token_lifetime_s);
    const std::optional<std::vector<std::string>> roles = t->second.roles[client];
    json claims = {
        // The resource the scope asked for ("https://graph.microsoft.us").
        {"aud", scope.substr(0, scope.rfind("/.default"))},
        {"tid", tenant},
        {"appid", client},
        {"roles", roles ? *roles : DefaultRoles()},
        {"exp", std::chrono::duration_cast<std::chrono::seconds>(exp.time_since_epoch()).count()},
        {"jti", NewGuid(rng)}};
    const std::string token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + Base64Url(claims.dump()) +
                              "." + Base64Url(NewGuid(rng));
    tokens[token] = {tenant, client, clock.Now() + std::chrono::seconds(cfg.token_lifetime_s),
                     roles};
    res.set_content(json{{"token_type", "Bearer"},
                         {"expires_in", cfg.token_lifetime_s},
                         {"ext_expires_in", cfg.token_lifetime_s},
                         {"access_token", token}}
                        .dump(),
                    "application/json");
  }
  lock.unlock();
  if (res.status == -1) res.status = 200;
  Log("POST", "/" + tenant + "/oauth2/v2.0/token", tenant, res.status, false,
      "", req.get_header_value("Host"), client);  // never the secret
}

// Admin consent: the configured directory's admin consents to the app (a
// multi-tenant app registered in another directory): the app may then sign
// in to that directory with its own secret or certificate and roles. The
// browser goes back to redirect_uri with the directory and the state, or with
// Entra's error for a refusal.
void GraphSim::Impl::AdminConsent(const httplib::Request& req, httplib::Response& res) {
  const std::string client = req.get_param_value("client_id");
  const std::string redirect = req.get_param_value("redirect_uri");
  const std::string state = req.get_param_value("state");
  auto enc = [](const std::string& v) { return httplib::detail::encode_query_param(v); };
  std::lock_guard<std::mutex> lock(mu);
  const Tenant* home = nullptr;
  for (const auto& [_, t] : tenants)
    if (t.apps.count(client) && t.id != consent_as) home = &t;
  if (redirect.empty() || !home) {
    res.status = 400;
    res.set_content("<html><body>AADSTS700016: Application with identifier '" + client +
                        "' was not found, or no redirect_uri was given.</body></html>",
                    "text/html");
    return;
  }
  std::string location = redirect + (redirect.find('?') == std::string::npos ? "?" : "&");
  if (!consent_error.empty()) {
    location += "error=" + enc(consent_error) +
                "&error_description=" + enc("AADSTS65004: User declined to consent to access the app.") +
                "&state=" + enc(state);
  } else if (consent_as.empty() || !tenants.count(consent_as)) {
    res.status = 400;
    res.set_content("<html><body>No directory to consent as (the consent_as knob).</body></html>",
                    "text/html");
    return;
  } else {
    Tenant& t = tenants[consent_as];
    t.apps[client] = home->apps.at(client);
    auto certs = home->certificates.find(client);
    if (certs != home->certificates.end()) t.certificates[client] = certs->second;
    auto roles = home->roles.find(client);
    if (roles != home->roles.end()) t.roles[client] = roles->second;
    location += "admin_consent=True&tenant=" + enc(consent_as) + "&state=" + enc(state) +
                "&scope=" + enc(req.get_param_value("scope"));
  }
  res.status = 302;
  res.set_header("Location", location);
}

void GraphSim::Impl::AuthRoutes() {
  server.Get(R"(/([^/]+)/v2\.0/adminconsent)",
             [this](const httplib::Request& req, httplib::Response& res) { AdminConsent(req, res); });
  server.Post(R"(/([^/]+)/oauth2/v2\.0/token)",
              [this](const httplib::Request& req, httplib::Response& res) { Token(req, res); });
}

}  // namespace ta::sim
