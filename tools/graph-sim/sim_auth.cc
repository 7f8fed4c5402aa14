// graph-sim: the Entra token endpoint (client credentials), with Entra's
// AADSTS errors for an unknown tenant, app or secret.
#include "sim_impl.h"

namespace ta::sim {

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
  } else if (t->second.apps[client] != secret) {
    aad_error(401, "invalid_client", 7000215,
              "Invalid client secret provided. Ensure the secret being sent in the request is "
              "the client secret "
              "value, not the client secret ID, for a secret added to app '" +
                  client + "'.");
  } else {
    const auto exp = clock.Now() + std::chrono::seconds(cfg.token_lifetime_s);
    json claims = {
        {"tid", tenant},
        {"appid", client},
        {"exp", std::chrono::duration_cast<std::chrono::seconds>(exp.time_since_epoch()).count()},
        {"jti", NewGuid(rng)}};
    const std::string token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + Base64Url(claims.dump()) +
                              "." + Base64Url(NewGuid(rng));
    tokens[token] = {tenant, client, clock.Now() + std::chrono::seconds(cfg.token_lifetime_s)};
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
      "");  // never the secret
}

void GraphSim::Impl::AuthRoutes() {
  server.Post(R"(/([^/]+)/oauth2/v2\.0/token)",
              [this](const httplib::Request& req, httplib::Response& res) { Token(req, res); });
}

}  // namespace ta::sim
