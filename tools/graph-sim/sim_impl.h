#pragma once

// graph-sim internals: the state of a simulated Microsoft cloud and the
// server that answers for it. Each area lives in its own file:
//   sim.cc           the GraphSim API (start, seed, fixtures, request log)
//   sim_auth.cc      the Entra token endpoint
//   sim_faults.cc    the gate every Graph request passes (token check,
//                    throttling, injected faults and waits) and /_sim control
//   sim_objects.cc   the Intune collections and their sub-resources, groups
//   sim_generate.cc  synthetic policies
#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "core/clock.h"
#include "http/event_server.h"
#include "sim.h"

namespace ta::sim {

using nlohmann::json;

// Properties Graph computes itself; a client that sends them gets 400.
inline const std::set<std::string> kReadOnly = {
    "id",           "createdDateTime", "lastModifiedDateTime", "version",
    "settingCount", "isAssigned",      "supportsScopeTags",    "modifiedDateTime"};

// The body key of the /assign action, per collection.
inline std::string AssignKey(const std::string& collection) {
  if (collection == "deviceManagementScripts" || collection == "deviceShellScripts" ||
      collection == "deviceCustomAttributeShellScripts")
    return "deviceManagementScriptAssignments";
  if (collection == "deviceHealthScripts" || collection == "deviceComplianceScripts")
    return "deviceHealthScriptAssignments";
  if (collection == "deviceEnrollmentConfigurations") return "enrollmentConfigurationAssignments";
  if (collection == "mobileApps") return "mobileAppAssignments";
  return "assignments";
}

// Where each collection lives under the Graph version: "deviceManagement",
// "deviceAppManagement", "identity/conditionalAccess" or
// "deviceManagement/virtualEndpoint".
std::string HomeOf(const std::string& collection);
// A path naming a known collection under another home ("" when fine).
std::string WrongHome(const std::string& path);
// Entra directory objects (groups, users, service principals, directory
// role definitions): stored as given, listed by their own routes.
bool IsDirectory(const std::string& collection);

inline std::string NameField(const std::string& collection) {
  return collection == "configurationPolicies" ? "name" : "displayName";
}

std::string NewGuid(std::mt19937_64& rng);
std::string Iso8601(Clock::TimePoint t);
std::string Base64Url(const std::string& in);
bool ValidBase64(const std::string& s);

struct Policy {
  json body;  // what GET returns (before expansions)
  json assignments = json::array();
  json settings = json::array();            // configurationPolicies
  json definition_values = json::array();   // groupPolicyConfigurations
  json scheduled_actions = json::array();   // deviceCompliancePolicies
  json localized_messages = json::array();  // notificationMessageTemplates
  json apps = json::array();                // app protection / app configuration
  json items = json::array();               // policy sets
};

struct Collection {
  std::vector<std::string> order;
  std::map<std::string, Policy> items;
};

struct Tenant {
  std::string id;        // the directory id
  std::string org_name;  // the organization's display name (Graph /organization)
  std::map<std::string, std::string> apps;  // client_id -> secret
  std::map<std::string, std::string> secret_ends;  // client_id -> endDateTime
  std::map<std::string, std::optional<std::vector<std::string>>> roles;  // client_id -> roles
  std::map<std::string, std::vector<std::string>> certificates;  // client_id -> PEMs
  std::set<std::string> used_assertions;  // jti of every client assertion accepted
  std::map<std::string, Collection> collections;
  Collection groups;
  // Encrypted OMA-URI values: secretReferenceValueId -> plaintext.
  std::map<std::string, std::string> secrets;
  // Intune's audit log (deviceManagement/auditEvents), oldest first: one
  // event per write that changed an object, by the app or by an admin.
  std::vector<json> audit;
};
// Who made a change, as an auditActor names them.
struct AuditActor {
  std::string user_principal_name;  // "" for an app acting alone
  std::string application_id;
  std::string application_name;
};

struct TokenInfo {
  std::string tenant, client_id;
  Clock::TimePoint expires;
  std::optional<std::vector<std::string>> roles;  // set: enforced (see SimApp::roles)
};

// The roles an app has when none were given: every permission TenantAtlas uses.
const std::vector<std::string>& DefaultRoles();
// "https://graph.microsoft.us/" for a request that came to that host (the
// scheme from X-Forwarded-Proto when a proxy or test sets it, else http).
std::string SelfBase(const httplib::Request& req);

struct Window {
  std::deque<Clock::TimePoint> all, writes;
};

struct GraphSim::Impl {
  GraphSim* owner = nullptr;
  SimConfig cfg;
  Clock& clock;                  // cfg.clock, or the system clock
  ta::http::EventServer server;  // stops without waiting for idle keep-alive clients
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
  // Admin consent (GET {authority}/organizations/v2.0/adminconsent): the
  // directory whose admin consents (`consent_as`), or a refusal
  // (`consent_error`, e.g. "access_denied"), sent back to the redirect_uri.
  std::string consent_as, consent_error;
  int hang_next = 0;
  int64_t hang_ms = 0;
  // Broken answers: the next `misbehave_next` Graph requests are answered with
  // `misbehave`: "malformed_json" (200, a body that is not JSON),
  // "wrong_content_type" (200, an HTML page), "truncated" (200, the connection
  // closes after part of the declared body) or "dropped" (the connection closes
  // right after the headers). Nothing is carried out.
  int misbehave_next = 0;
  std::string misbehave;
  // Ignored writes: the next `ignore_next_writes` writes whose path contains
  // `ignore_path` are answered 204 and change nothing (a Graph that accepts a
  // write and does not apply it).
  int ignore_next_writes = 0;
  std::string ignore_path;
  // The token endpoint's answer while it is "down" (0: up).
  int token_down_status = 0;
  // Path prefixes (after /v1.0/ or /beta/) the app has no permission for: 403.
  std::vector<std::string> denied_paths;
  int hold_next_writes = 0;
  int64_t hold_ms = 0;
  std::string hold_path;     // only writes whose path contains this are held ("": any)
  int waiting = 0;           // requests inside either wait now
  uint64_t release_gen = 0;  // bumped to end every wait
  std::condition_variable wait_cv;
  json log = json::array();
  int64_t seq = 0;
  // Off for fleet-scale benchmarks (a log entry per request would hold
  // hundreds of MB); the per-tenant counts below are kept either way.
  bool log_requests = true;
  struct Counts {
    int64_t requests = 0, throttled = 0, writes = 0;
  };
  std::map<std::string, Counts> counts;  // Graph requests (not token requests) per tenant

  explicit Impl(SimConfig c)
      : cfg(c),
        clock(c.clock ? *c.clock : SystemClock::Instance()),
        server(SimLimits(c.threads)),
        rng(c.seed) {}

  static ta::http::Limits SimLimits(int threads) {
    ta::http::Limits l;
    l.threads = threads;
    l.max_connections_per_ip = 0;  // every client of the simulator is on loopback
    return l;
  }

  // sim.cc
  void Error(httplib::Response& res, int status, const std::string& code,
             const std::string& message, const std::string& request_id);
  // `host`: the Host the request named (which cloud's name it used);
  // `client`: the app whose token (or token request) it carried.
  void Log(const std::string& method, const std::string& path, const std::string& tenant,
           int status, bool write, const std::string& body, const std::string& host = "",
           const std::string& client = "");

  // sim_auth.cc
  void AuthRoutes();
  void Token(const httplib::Request& req, httplib::Response& res);
  void AdminConsent(const httplib::Request& req, httplib::Response& res);

  // sim_faults.cc
  // Authenticates, throttles and injects faults; on success calls fn with the
  // tenant (mu held). Logs every request.
  using GraphFn = std::function<void(Tenant&, const std::string& request_id)>;
  void Graph(const httplib::Request& req, httplib::Response& res, bool write, const GraphFn& fn);
  static void Misbehave(httplib::Response& res, const std::string& how);
  void WaitLocked(std::unique_lock<std::mutex>& lock, int64_t ms);
  void ReleaseWaits();
  bool Throttled(const TokenInfo& tok, bool write, httplib::Response& res,
                 const std::string& request_id);
  void ApplyKnobs(const json& k);
  void ControlRoutes();

  // sim_audit.cc
  // GET deviceManagement/auditEvents, with Graph's $filter on activityDateTime
  // and resources/any(r:r/resourceId eq '...').
  void AuditRoutes();
  // Appends an event for a change to `collection`/`id` ("Create", "Patch",
  // "Delete" or "Action") at the sim clock's now.
  void RecordAudit(Tenant& t, const std::string& collection, const std::string& id,
                   const std::string& operation, const AuditActor& actor,
                   const std::string& request_id);
  // The event for a successful Graph write by an app (from its path and answer).
  void RecordWrite(Tenant& t, const httplib::Request& req, const httplib::Response& res,
                   const std::string& client_id, const std::string& request_id);
  // sim_objects.cc
  void ObjectRoutes();
  void CollectionRoutes();
  void SubResourceRoutes();
  void ActionRoutes();
  // The sub-resource `property` of a policy in `collection` (nullptr: none).
  static json* SubOf(Policy& p, const std::string& collection, const std::string& property);
  // Rejects a body whose references (scope tags, groups, filters,
  // notification templates) name nothing in the tenant, as Graph does.
  // Returns false (res set).
  bool CheckReferences(Tenant& t, const json& body, httplib::Response& res, const std::string& rid);
  // Script contents must be base64 (and present on create). Returns false (res set).
  bool CheckScripts(const std::string& collection, const json& body, bool create,
                    httplib::Response& res, const std::string& rid);
  bool CheckAssignmentReferences(Tenant& t, const json& assignments, httplib::Response& res,
                                 const std::string& rid);
  // Encrypts every OMA-URI string value (Graph keeps them encrypted and
  // answers with a masked value and a secretReferenceValueId).
  void EncryptOmaSettings(Tenant& t, json& body);
  void GroupRoutes();
  // Users, service principals and directory role definitions (read only),
  // and settings catalog setting definitions (Microsoft's, the same in every
  // tenant).
  void DirectoryRoutes();
  // Endpoint security intents (created from a template, settings written
  // with updateSettings) and policy sets (items and assignments written with
  // update).
  void IntentAndPolicySetRoutes();
  // Whether `id` names an object in any collection of the tenant.
  static bool AnyObject(Tenant& t, const std::string& id);
  json Page(const httplib::Request& req, const std::vector<json>& all);
  json Render(const std::string& collection, const Policy& p, const std::string& expand,
              bool single);
  // Also the properties `collection` computes itself (an app's publishing
  // state, a remediation's global flag, ...), when given.
  bool CheckWritable(const json& body, httplib::Response& res, const std::string& rid,
                     const std::string& collection = "");
  // The request's body as a JSON object (with an array under `array_key`,
  // when given). Returns false with a 400 in Graph's shape.
  bool ReadBody(const httplib::Request& req, httplib::Response& res, const std::string& rid,
                json& body, const std::string& array_key = "");
  json NewPolicy(const std::string& collection, json body);
  void Store(Tenant& t, const std::string& collection, json body, Policy* out_policy = nullptr);
  static bool IsCollection(const std::string& c);
  Policy* Find(Tenant& t, const std::string& coll, const std::string& id, httplib::Response& res,
               const std::string& rid);
};

}  // namespace ta::sim
