#include "sim.h"

#include "http/connection_server.h"

#include <httplib.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

namespace ta::sim {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

const std::vector<std::string>& SimCollections() {
  static const std::vector<std::string> kCollections = {
      "deviceConfigurations",           "deviceCompliancePolicies",
      "configurationPolicies",          "groupPolicyConfigurations",
      "deviceManagementScripts",        "windowsAutopilotDeploymentProfiles",
      "deviceEnrollmentConfigurations", "assignmentFilters"};
  return kCollections;
}

namespace {

// Properties Graph computes itself; a client that sends them gets 400.
const std::set<std::string> kReadOnly = {
    "id",           "createdDateTime", "lastModifiedDateTime", "version",
    "settingCount", "isAssigned",      "supportsScopeTags"};

// The body key of the /assign action, per collection.
std::string AssignKey(const std::string& collection) {
  if (collection == "deviceManagementScripts") return "deviceManagementScriptAssignments";
  if (collection == "deviceEnrollmentConfigurations") return "enrollmentConfigurationAssignments";
  return "assignments";
}

std::string NameField(const std::string& collection) {
  return collection == "configurationPolicies" ? "name" : "displayName";
}

std::string NewGuid(std::mt19937_64& rng) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
    s += hex[rng() % 16];
  }
  return s;
}

std::string Iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Base64Url(const std::string& in) {
  std::string out(sodium_base64_encoded_len(in.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                    in.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool ValidBase64(const std::string& s) {
  std::string bin(s.size(), '\0');
  size_t len = 0;
  return sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), s.c_str(),
                           s.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0;
}

struct Policy {
  json body;  // what GET returns (before expansions)
  json assignments = json::array();
  json settings = json::array();           // configurationPolicies
  json definition_values = json::array();  // groupPolicyConfigurations
  json scheduled_actions = json::array();  // deviceCompliancePolicies
};

struct Collection {
  std::vector<std::string> order;
  std::map<std::string, Policy> items;
};

struct Tenant {
  std::map<std::string, std::string> apps;  // client_id -> secret
  std::map<std::string, Collection> collections;
  Collection groups;
};

struct TokenInfo {
  std::string tenant, client_id;
  SteadyClock::time_point expires;
};

struct Window {
  std::deque<SteadyClock::time_point> all, writes;
};

}  // namespace

struct GraphSim::Impl {
  SimConfig cfg;
  ta::http::ConnectionServer server;  // stops without waiting for idle keep-alive clients
  std::thread thread;
  int port = -1;
  mutable std::mutex mu;
  std::mt19937_64 rng;
  std::map<std::string, Tenant> tenants;
  std::map<std::string, TokenInfo> tokens;
  std::map<std::string, Window> windows;  // tenant|client
  int fail_next = 0;
  int fail_status = 503;
  // Hung calls: the next `hang_next` Graph requests wait `hang_ms` before
  // anything happens (nothing is carried out while they hang). Late answers:
  // the next `hold_next_writes` writes are carried out, then answered only
  // after `hold_ms` (a client that times out never sees the 201). Both waits
  // end early on Stop() or {"release": true}.
  int hang_next = 0;
  int64_t hang_ms = 0;
  // Broken answers: the next `misbehave_next` Graph requests are answered with
  // `misbehave`: "malformed_json" (200, a body that is not JSON),
  // "wrong_content_type" (200, an HTML page), "truncated" (200, the connection
  // closes after part of the declared body) or "dropped" (the connection closes
  // right after the headers). Nothing is carried out.
  int misbehave_next = 0;
  std::string misbehave;
  // The token endpoint's answer while it is "down" (0: up).
  int token_down_status = 0;
  int hold_next_writes = 0;
  int64_t hold_ms = 0;
  int waiting = 0;           // requests inside either wait now
  uint64_t release_gen = 0;  // bumped to end every wait
  std::condition_variable wait_cv;
  json log = json::array();
  int64_t seq = 0;

  explicit Impl(SimConfig c) : cfg(c), rng(c.seed) {}

  static void Error(httplib::Response& res, int status, const std::string& code,
                    const std::string& message, const std::string& request_id) {
    res.status = status;
    json e = {
        {"error",
         {{"code", code},
          {"message", message},
          {"innerError",
           {{"request-id", request_id}, {"date", Iso8601(std::chrono::system_clock::now())}}}}}};
    res.set_header("request-id", request_id);
    res.set_content(e.dump(), "application/json");
  }

  void Log(const std::string& method, const std::string& path, const std::string& tenant,
           int status, bool write) {
    std::lock_guard<std::mutex> lock(mu);
    log.push_back({{"seq", ++seq},
                   {"method", method},
                   {"path", path},
                   {"tenant", tenant},
                   {"status", status},
                   {"write", write},
                   {"ts_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()}});
  }

  // --- token endpoint --------------------------------------------------------
  void Token(const httplib::Request& req, httplib::Response& res) {
    const std::string tenant = req.matches[1];
    auto aad_error = [&](int status, const std::string& error, int code, const std::string& text) {
      res.status = status;
      json e = {{"error", error},
                {"error_description", "AADSTS" + std::to_string(code) + ": " + text},
                {"error_codes", {code}},
                {"timestamp", Iso8601(std::chrono::system_clock::now())}};
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
      aad_error(400, "unsupported_grant_type", 70003,
                "The app requested an unsupported grant type.");
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
      const auto exp =
          std::chrono::system_clock::now() + std::chrono::seconds(cfg.token_lifetime_s);
      json claims = {
          {"tid", tenant},
          {"appid", client},
          {"exp", std::chrono::duration_cast<std::chrono::seconds>(exp.time_since_epoch()).count()},
          {"jti", NewGuid(rng)}};
      const std::string token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + Base64Url(claims.dump()) +
                                "." + Base64Url(NewGuid(rng));
      tokens[token] = {tenant, client,
                       SteadyClock::now() + std::chrono::seconds(cfg.token_lifetime_s)};
      res.set_content(json{{"token_type", "Bearer"},
                           {"expires_in", cfg.token_lifetime_s},
                           {"ext_expires_in", cfg.token_lifetime_s},
                           {"access_token", token}}
                          .dump(),
                      "application/json");
    }
    lock.unlock();
    if (res.status == -1) res.status = 200;
    Log("POST", "/" + tenant + "/oauth2/v2.0/token", tenant, res.status, false);
  }

  // --- Graph ------------------------------------------------------------------
  // Authenticates, throttles and injects faults; on success calls fn with the
  // tenant (mu held). Logs every request.
  template <typename F>
  void Graph(const httplib::Request& req, httplib::Response& res, bool write, F&& fn) {
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
    std::string tenant_id;
    bool hold = false;
    {
      std::unique_lock<std::mutex> lock(mu);
      const std::string auth = req.get_header_value("Authorization");
      auto tok = auth.rfind("Bearer ", 0) == 0 ? tokens.find(auth.substr(7)) : tokens.end();
      if (tok == tokens.end()) {
        Error(res, 401, "InvalidAuthenticationToken", "Access token is empty or invalid.",
              request_id);
      } else if (tok->second.expires <= SteadyClock::now()) {
        tenant_id = tok->second.tenant;
        Error(res, 401, "InvalidAuthenticationToken",
              "Access token has expired or is not yet valid.", request_id);
      } else {
        tenant_id = tok->second.tenant;
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
        } else {
          fn(tenants[tenant_id], request_id);
          if (write && hold_next_writes > 0) {
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
    Log(req.method, path, tenant_id, res.status, write);
  }

  static void Misbehave(httplib::Response& res, const std::string& how) {
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
  void WaitLocked(std::unique_lock<std::mutex>& lock, int64_t ms) {
    const uint64_t gen = release_gen;
    ++waiting;
    wait_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return release_gen != gen; });
    --waiting;
  }

  void ReleaseWaits() {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++release_gen;
    }
    wait_cv.notify_all();
  }

  bool Throttled(const TokenInfo& tok, bool write, httplib::Response& res,
                 const std::string& request_id) {
    if (!cfg.throttle_enabled) return false;
    Window& w = windows[tok.tenant + "|" + tok.client_id];
    const auto now = SteadyClock::now();
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

  json Page(const httplib::Request& req, const std::vector<json>& all) {
    int top = cfg.page_size;
    if (req.has_param("$top"))
      top = std::clamp(std::atoi(req.get_param_value("$top").c_str()), 1, 999);
    const size_t skip =
        req.has_param("$skiptoken") ? std::stoul(req.get_param_value("$skiptoken")) : 0;
    json page = {{"value", json::array()}};
    for (size_t i = skip; i < all.size() && i < skip + top; ++i) page["value"].push_back(all[i]);
    if (skip + top < all.size()) {
      std::string next = "http://" + req.get_header_value("Host") + req.path +
                         "?$top=" + std::to_string(top) +
                         "&$skiptoken=" + std::to_string(skip + top);
      if (req.has_param("$expand")) {
        next += "&$expand=" + httplib::detail::encode_query_param(req.get_param_value("$expand"));
      }
      page["@odata.nextLink"] = next;
    }
    return page;
  }

  json Render(const std::string& collection, const Policy& p, const std::string& expand,
              bool single) {
    json out = p.body;
    if (collection == "deviceManagementScripts" && !single) out.erase("scriptContent");
    if (expand.find("scheduledActionsForRule") != std::string::npos &&
        collection == "deviceCompliancePolicies") {
      out["scheduledActionsForRule"] = p.scheduled_actions;
    }
    if (expand.find("settings") != std::string::npos && collection == "configurationPolicies") {
      out["settings"] = p.settings;
    }
    if (expand.find("assignments") != std::string::npos) out["assignments"] = p.assignments;
    return out;
  }

  // Rejects read-only properties the way Graph does. Returns false (res set).
  static bool CheckWritable(const json& body, httplib::Response& res, const std::string& rid) {
    if (!body.is_object()) {
      Error(res, 400, "BadRequest", "The request body must be a JSON object.", rid);
      return false;
    }
    for (const auto& [k, v] : body.items()) {
      if (kReadOnly.count(k)) {
        Error(res, 400, "ModelValidationFailure",
              "Property '" + k + "' is read-only and cannot be set on create or update.", rid);
        return false;
      }
    }
    return true;
  }

  json NewPolicy(const std::string& collection, json body) {
    const auto now = Iso8601(std::chrono::system_clock::now());
    if (!body.contains("id")) body["id"] = NewGuid(rng);
    if (!body.contains("createdDateTime")) body["createdDateTime"] = now;
    body["lastModifiedDateTime"] = now;
    if (collection != "configurationPolicies" && collection != "assignmentFilters" &&
        !body.contains("version"))
      body["version"] = 1;
    if (!body.contains("@odata.type")) {
      static const std::map<std::string, std::string> kTypes = {
          {"deviceConfigurations", "#microsoft.graph.windows10GeneralConfiguration"},
          {"deviceCompliancePolicies", "#microsoft.graph.windows10CompliancePolicy"},
          {"configurationPolicies", "#microsoft.graph.deviceManagementConfigurationPolicy"},
          {"groupPolicyConfigurations", "#microsoft.graph.groupPolicyConfiguration"},
          {"deviceManagementScripts", "#microsoft.graph.deviceManagementScript"},
          {"windowsAutopilotDeploymentProfiles",
           "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"},
          {"deviceEnrollmentConfigurations", "#microsoft.graph.deviceEnrollmentLimitConfiguration"},
          {"assignmentFilters", "#microsoft.graph.deviceAndAppManagementAssignmentFilter"}};
      auto it = kTypes.find(collection);
      if (it != kTypes.end()) body["@odata.type"] = it->second;
    }
    return body;
  }

  void Store(Tenant& t, const std::string& collection, json body, Policy* out_policy = nullptr) {
    Policy p;
    if (body.contains("scheduledActionsForRule")) {
      p.scheduled_actions = body["scheduledActionsForRule"];
      body.erase("scheduledActionsForRule");
    }
    if (body.contains("settings")) {
      p.settings = body["settings"];
      body.erase("settings");
    }
    if (body.contains("definitionValues")) {
      p.definition_values = body["definitionValues"];
      body.erase("definitionValues");
    }
    if (body.contains("assignments")) {
      p.assignments = body["assignments"];
      body.erase("assignments");
    }
    if (collection == "configurationPolicies") body["settingCount"] = p.settings.size();
    const std::string id = body["id"];
    p.body = std::move(body);
    Collection& c = collection == "groups" ? t.groups : t.collections[collection];
    if (!c.items.count(id)) c.order.push_back(id);
    c.items[id] = p;
    if (out_policy) *out_policy = c.items[id];
  }

  void Routes() {
    using httplib::Request;
    using httplib::Response;
    server.Post(R"(/([^/]+)/oauth2/v2\.0/token)",
                [this](const Request& req, Response& res) { Token(req, res); });

    const std::string dm = R"(/(?:beta|v1\.0)/deviceManagement/(\w+))";
    // List and create.
    server.Get(dm, [this](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
        const std::string coll = req.matches[1];
        if (!IsCollection(coll))
          return Error(res, 404, "ResourceNotFound", "Unknown segment '" + coll + "'.", rid);
        std::vector<json> all;
        const Collection& c = t.collections[coll];
        const std::string expand = req.get_param_value("$expand");
        for (const auto& id : c.order) all.push_back(Render(coll, c.items.at(id), expand, false));
        res.set_content(Page(req, all).dump(), "application/json");
      });
    });
    server.Post(dm, [this](const Request& req, Response& res) {
      Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
        const std::string coll = req.matches[1];
        if (!IsCollection(coll))
          return Error(res, 404, "ResourceNotFound", "Unknown segment '" + coll + "'.", rid);
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) return Error(res, 400, "BadRequest", "Malformed JSON body.", rid);
        if (!CheckWritable(body, res, rid)) return;
        if (const std::string nf = NameField(coll); !body.contains(nf) || !body[nf].is_string()) {
          return Error(res, 400, "ModelValidationFailure", "Property '" + nf + "' is required.",
                       rid);
        }
        if (coll == "deviceCompliancePolicies" && !body.contains("scheduledActionsForRule")) {
          return Error(res, 400, "ModelValidationFailure",
                       "scheduledActionsForRule is required when creating a compliance policy (it "
                       "needs at least a "
                       "'block' action).",
                       rid);
        }
        if (coll == "deviceManagementScripts" &&
            (!body.contains("scriptContent") || !body["scriptContent"].is_string() ||
             !ValidBase64(body["scriptContent"]))) {
          return Error(res, 400, "ModelValidationFailure", "scriptContent must be base64-encoded.",
                       rid);
        }
        Policy stored;
        Store(t, coll, NewPolicy(coll, body), &stored);
        res.status = 201;
        res.set_content(Render(coll, stored, "", true).dump(), "application/json");
      });
    });
    // Get, update, replace.
    const std::string item = dm + R"(/([^/]+))";
    server.Get(item, [this](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
        Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
        if (!p) return;
        res.set_content(Render(req.matches[1], *p, req.get_param_value("$expand"), true).dump(),
                        "application/json");
      });
    });
    auto update = [this](bool put) {
      return [this, put](const Request& req, Response& res) {
        Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
          const std::string coll = req.matches[1];
          Policy* p = Find(t, coll, req.matches[2], res, rid);
          if (!p) return;
          json body = json::parse(req.body, nullptr, false);
          if (body.is_discarded())
            return Error(res, 400, "BadRequest", "Malformed JSON body.", rid);
          if (!CheckWritable(body, res, rid)) return;
          if (coll == "configurationPolicies" && !put && body.contains("settings")) {
            return Error(res, 400, "BadRequest",
                         "Settings of a settings catalog policy cannot be changed with PATCH; "
                         "replace the policy "
                         "with PUT.",
                         rid);
          }
          if (put && coll != "configurationPolicies") {
            return Error(res, 405, "MethodNotAllowed",
                         "PUT is not supported on " + coll + "; use PATCH.", rid);
          }
          json merged = put ? json::object() : p->body;
          if (put) {
            for (const char* k : {"id", "createdDateTime", "@odata.type"}) merged[k] = p->body[k];
          }
          for (const auto& [k, v] : body.items()) {
            if (k != "settings") merged[k] = v;
          }
          merged["lastModifiedDateTime"] = Iso8601(std::chrono::system_clock::now());
          if (merged.contains("version") && merged["version"].is_number())
            merged["version"] = merged["version"].get<int>() + 1;
          p->body = merged;
          if (put) {
            p->settings = body.value("settings", json::array());
            p->body["settingCount"] = p->settings.size();
          }
          res.status = 204;
        });
      };
    };
    server.Patch(item, update(false));
    server.Put(item, update(true));

    // Sub-resources.
    server.Get(item + "/assignments", [this](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
        Policy* p = Find(t, req.matches[1], req.matches[2], res, rid);
        if (p) res.set_content(json{{"value", p->assignments}}.dump(), "application/json");
      });
    });
    server.Post(item + "/assign", [this](const Request& req, Response& res) {
      Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
        const std::string coll = req.matches[1];
        Policy* p = Find(t, coll, req.matches[2], res, rid);
        if (!p) return;
        json body = json::parse(req.body, nullptr, false);
        const std::string key = AssignKey(coll);
        if (body.is_discarded() || !body.contains(key) || !body[key].is_array()) {
          return Error(res, 400, "BadRequest", "The body must contain '" + key + "' (an array).",
                       rid);
        }
        json out = json::array();
        for (auto a : body[key]) {
          const json target = a.value("target", json::object());
          if (target.contains("groupId")) {
            const std::string gid = target["groupId"];
            if (!t.groups.items.count(gid)) {
              return Error(res, 400, "BadRequest",
                           "Group '" + gid + "' does not exist in this tenant.", rid);
            }
          } else if (target.value("@odata.type", "").find("allDevices") == std::string::npos &&
                     target.value("@odata.type", "").find("allLicensedUsers") ==
                         std::string::npos) {
            return Error(res, 400, "BadRequest", "Each assignment needs a target with a groupId.",
                         rid);
          }
          a["id"] = std::string(req.matches[2]) + "_" + target.value("groupId", "all");
          out.push_back(a);
        }
        p->assignments = out;
        res.set_content(json{{"value", out}}.dump(), "application/json");
      });
    });
    server.Get(R"(/(?:beta|v1\.0)/deviceManagement/configurationPolicies/([^/]+)/settings)",
               [this](const Request& req, Response& res) {
                 Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
                   Policy* p = Find(t, "configurationPolicies", req.matches[1], res, rid);
                   if (!p) return;
                   std::vector<json> all(p->settings.begin(), p->settings.end());
                   res.set_content(Page(req, all).dump(), "application/json");
                 });
               });
    const std::string dv =
        R"(/(?:beta|v1\.0)/deviceManagement/groupPolicyConfigurations/([^/]+)/definitionValues)";
    server.Get(dv, [this](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
        Policy* p = Find(t, "groupPolicyConfigurations", req.matches[1], res, rid);
        if (!p) return;
        const std::string expand = req.get_param_value("$expand");
        std::vector<json> all;
        for (json v : p->definition_values) {
          if (expand.find("definition") == std::string::npos) v.erase("definition");
          if (expand.find("presentationValues") == std::string::npos) v.erase("presentationValues");
          all.push_back(v);
        }
        res.set_content(Page(req, all).dump(), "application/json");
      });
    });
    server.Post(dv, [this](const Request& req, Response& res) {
      Graph(req, res, true, [&](Tenant& t, const std::string& rid) {
        Policy* p = Find(t, "groupPolicyConfigurations", req.matches[1], res, rid);
        if (!p) return;
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
          return Error(res, 400, "BadRequest", "Malformed body.", rid);
        if (!CheckWritable(body, res, rid)) return;
        body["id"] = NewGuid(rng);
        p->definition_values.push_back(body);
        res.status = 201;
        res.set_content(body.dump(), "application/json");
      });
    });
    // Groups.
    server.Get(R"(/(?:beta|v1\.0)/groups)", [this](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
        std::string want;
        if (req.has_param("$filter")) {
          const std::string f = req.get_param_value("$filter");
          const std::string prefix = "displayName eq '";
          if (f.rfind(prefix, 0) != 0 || f.back() != '\'') {
            return Error(res, 400, "Request_UnsupportedQuery",
                         "Only $filter=displayName eq '...' is supported.", rid);
          }
          want = f.substr(prefix.size(), f.size() - prefix.size() - 1);
        }
        std::vector<json> all;
        for (const auto& id : t.groups.order) {
          const json& g = t.groups.items.at(id).body;
          if (want.empty() || g.value("displayName", "") == want) all.push_back(g);
        }
        res.set_content(Page(req, all).dump(), "application/json");
      });
    });
    server.Get(R"(/(?:beta|v1\.0)/groups/([^/]+))", [this](const Request& req, Response& res) {
      Graph(req, res, false, [&](Tenant& t, const std::string& rid) {
        auto it = t.groups.items.find(req.matches[1]);
        if (it == t.groups.items.end()) {
          return Error(res, 404, "Request_ResourceNotFound",
                       "Resource '" + std::string(req.matches[1]) + "' does not exist.", rid);
        }
        res.set_content(it->second.body.dump(), "application/json");
      });
    });

    // Simulator control.
    server.Get("/_sim/requests", [this](const Request&, Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      res.set_content(log.dump(), "application/json");
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
      if (fixture.is_discarded() || !LoadFixture(fixture, &error)) {
        res.status = 400;
        res.set_content(json{{"error", error.empty() ? "malformed JSON" : error}}.dump(),
                        "application/json");
        return;
      }
      res.status = 204;
    });
    server.Get("/_sim/health",
               [](const Request&, Response& res) { res.set_content("ok", "text/plain"); });
  }

  static bool IsCollection(const std::string& c) {
    const auto& all = SimCollections();
    return std::find(all.begin(), all.end(), c) != all.end();
  }

  Policy* Find(Tenant& t, const std::string& coll, const std::string& id, httplib::Response& res,
               const std::string& rid) {
    if (!IsCollection(coll)) {
      Error(res, 404, "ResourceNotFound", "Unknown segment '" + coll + "'.", rid);
      return nullptr;
    }
    auto& items = t.collections[coll].items;
    auto it = items.find(id);
    if (it == items.end()) {
      Error(res, 404, "ResourceNotFound", "No " + coll + " object with id '" + id + "'.", rid);
      return nullptr;
    }
    return &it->second;
  }

  void ApplyKnobs(const json& k) {
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
    if (k.contains("hold_next_writes")) {
      hold_next_writes = k["hold_next_writes"];
      hold_ms = k.value("hold_ms", int64_t{60'000});
    }
    if (k.value("release", false)) {
      ++release_gen;
      wait_cv.notify_all();
    }
    if (k.value("reset_throttle", false)) windows.clear();
    if (k.value("revoke_tokens", false)) {
      for (auto& [_, t] : tokens) t.expires = SteadyClock::now();  // Graph now answers 401
    }
  }

  bool LoadFixture(const json& fixture, std::string* error);
};

GraphSim::GraphSim(SimConfig config) : impl_(std::make_unique<Impl>(config)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  impl_->Routes();
  const int threads = config.threads;
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

GraphSim::~GraphSim() { Stop(); }

int GraphSim::Start(const std::string& host, int port) {
  impl_->port = port == 0 ? impl_->server.bind_to_any_port(host)
                          : (impl_->server.bind_to_port(host, port) ? port : -1);
  if (impl_->port < 0) return -1;
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return impl_->port;
}

void GraphSim::Stop() {
  impl_->ReleaseWaits();
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

int GraphSim::port() const { return impl_->port; }
std::string GraphSim::base_url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void GraphSim::AddTenant(const std::string& tenant_id, const std::vector<SimApp>& apps) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  for (const auto& a : apps) t.apps[a.client_id] = a.client_secret;
}

std::vector<std::string> GraphSim::Seed(const std::string& tenant_id, const std::string& collection,
                                        const std::vector<json>& objects) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  std::vector<std::string> ids;
  for (const auto& o : objects) {
    json body = collection == "groups" ? o : impl_->NewPolicy(collection, o);
    if (!body.contains("id")) body["id"] = NewGuid(impl_->rng);
    ids.push_back(body["id"]);
    impl_->Store(t, collection, body);
  }
  return ids;
}

bool GraphSim::Remove(const std::string& tenant_id, const std::string& collection,
                      const std::string& id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  Collection& c = collection == "groups" ? t.groups : t.collections[collection];
  if (!c.items.erase(id)) return false;
  c.order.erase(std::remove(c.order.begin(), c.order.end(), id), c.order.end());
  return true;
}

void GraphSim::GeneratePolicies(const std::string& tenant_id, int count, const std::string& only) {
  const auto& colls = SimCollections();
  std::map<std::string, std::vector<json>> by;
  for (int i = 0; i < count; ++i) {
    const std::string coll = only.empty() ? colls[i % colls.size()] : only;
    const std::string name = "Synthetic " + coll + " " + std::to_string(i);
    json p = {{NameField(coll), name}, {"description", "Generated by graph-sim"}};
    if (coll == "deviceConfigurations") {
      p["passwordRequired"] = i % 2 == 0;
      p["passwordMinimumLength"] = 8 + i % 8;
      p["defenderRequireRealTimeMonitoring"] = true;
    } else if (coll == "deviceCompliancePolicies") {
      p["osMinimumVersion"] = "10.0.19045";
      p["scheduledActionsForRule"] =
          json::array({{{"ruleName", "PasswordRequired"},
                        {"scheduledActionConfigurations",
                         json::array({{{"actionType", "block"}, {"gracePeriodHours", 0}}})}}});
    } else if (coll == "configurationPolicies") {
      p["platforms"] = "windows10";
      p["technologies"] = "mdm";
      json settings = json::array();
      for (int s = 0; s < 3 + i % 40; ++s) {  // some exceed the default page of 25
        settings.push_back(
            {{"id", std::to_string(s)},
             {"settingInstance",
              {{"@odata.type",
                "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"},
               {"settingDefinitionId",
                "device_vendor_msft_policy_config_setting_" + std::to_string(s)},
               {"choiceSettingValue", {{"value", "enabled_" + std::to_string(s)}}}}}});
      }
      p["settings"] = settings;
    } else if (coll == "groupPolicyConfigurations") {
      p["definitionValues"] = json::array(
          {{{"id", "dv-" + std::to_string(i)},
            {"enabled", true},
            {"definition",
             {{"id", "def-" + std::to_string(i % 7)}, {"displayName", "Allow telemetry"}}},
            {"presentationValues",
             json::array({{{"@odata.type", "#microsoft.graph.groupPolicyPresentationValueText"},
                           {"value", "3"}}})}}});
    } else if (coll == "deviceManagementScripts") {
      p["fileName"] = "script" + std::to_string(i) + ".ps1";
      p["scriptContent"] = "V3JpdGUtSG9zdCAiaGVsbG8i";  // Write-Host "hello"
      p["runAsAccount"] = "system";
    } else if (coll == "windowsAutopilotDeploymentProfiles") {
      p["deviceNameTemplate"] = "MSP-%SERIAL%";
      p["outOfBoxExperienceSettings"] = {{"hidePrivacySettings", true}, {"userType", "standard"}};
    } else if (coll == "deviceEnrollmentConfigurations") {
      p["limit"] = 5 + i % 10;
      p["priority"] = i + 1;
    } else if (coll == "assignmentFilters") {
      p["platform"] = "windows10AndLater";
      p["rule"] = "(device.manufacturer -eq \"Contoso\")";
    }
    by[coll].push_back(p);
  }
  for (const auto& [coll, items] : by) Seed(tenant_id, coll, items);
}

bool GraphSim::Impl::LoadFixture(const json& fixture, std::string* error) {
  if (!fixture.contains("tenants") || !fixture["tenants"].is_array()) {
    *error = "fixture: 'tenants' must be an array";
    return false;
  }
  return true;
}

bool GraphSim::LoadFixture(const json& fixture, std::string* error) {
  std::string err;
  if (!impl_->LoadFixture(fixture, &err)) {
    if (error) *error = err;
    return false;
  }
  for (const auto& t : fixture["tenants"]) {
    if (!t.contains("id") || !t["id"].is_string()) {
      if (error) *error = "fixture: every tenant needs a string 'id'";
      return false;
    }
    std::vector<SimApp> apps;
    for (const auto& a : t.value("apps", json::array()))
      apps.push_back({a.value("client_id", ""), a.value("client_secret", "")});
    AddTenant(t["id"], apps);
    if (t.contains("groups")) Seed(t["id"], "groups", t["groups"].get<std::vector<json>>());
    const json policies = t.contains("policies") ? t["policies"] : json::object();
    for (const auto& [coll, items] : policies.items()) {
      if (!Impl::IsCollection(coll)) {
        if (error) *error = "fixture: unknown collection '" + coll + "'";
        return false;
      }
      Seed(t["id"], coll, items.get<std::vector<json>>());
    }
    if (t.contains("generate")) GeneratePolicies(t["id"], t["generate"].get<int>());
  }
  return true;
}

void GraphSim::Configure(const json& knobs) { impl_->ApplyKnobs(knobs); }

int GraphSim::Waiting() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->waiting;
}

void GraphSim::FailNext(int count, int status) {
  impl_->ApplyKnobs({{"fail_next", count}, {"fail_status", status}});
}

json GraphSim::Requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log;
}

void GraphSim::ClearRequests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->log = json::array();
}

int64_t GraphSim::CountRequests(const std::string& method, int status) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  int64_t n = 0;
  for (const auto& r : impl_->log) {
    if (!method.empty() && r["method"] != method) continue;
    if (status != 0 && r["status"] != status) continue;
    ++n;
  }
  return n;
}

}  // namespace ta::sim
