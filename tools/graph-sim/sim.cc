#include "sim.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "sim_impl.h"

namespace ta::sim {

const std::vector<std::string>& SimCollections() {
  static const std::vector<std::string> kCollections = {"deviceConfigurations",
                                                        "deviceCompliancePolicies",
                                                        "configurationPolicies",
                                                        "groupPolicyConfigurations",
                                                        "deviceManagementScripts",
                                                        "windowsAutopilotDeploymentProfiles",
                                                        "deviceEnrollmentConfigurations",
                                                        "assignmentFilters",
                                                        "roleScopeTags",
                                                        "notificationMessageTemplates",
                                                        "deviceHealthScripts",
                                                        "deviceComplianceScripts",
                                                        "deviceShellScripts",
                                                        "deviceCustomAttributeShellScripts",
                                                        "windowsFeatureUpdateProfiles",
                                                        "windowsQualityUpdateProfiles",
                                                        "windowsDriverUpdateProfiles",
                                                        "deviceCategories",
                                                        "iosManagedAppProtections",
                                                        "androidManagedAppProtections",
                                                        "targetedManagedAppConfigurations",
                                                        "windowsManagedAppProtections",
                                                        "reusablePolicySettings",
                                                        "androidDeviceOwnerEnrollmentProfiles",
                                                        "roleDefinitions",
                                                        "termsAndConditions",
                                                        "namedLocations",
                                                        "policies",
                                                        "mobileApps",
                                                        "mobileAppConfigurations",
                                                        "intents",
                                                        "policySets",
                                                        "provisioningPolicies",
                                                        "userSettings",
                                                        "appleUserInitiatedEnrollmentProfiles"};
  return kCollections;
}

const std::vector<std::string>& GeneratedCollections() { return SimCollections(); }

std::string NewGuid(std::mt19937_64& rng) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
    s += hex[rng() % 16];
  }
  return s;
}

std::string Iso8601(Clock::TimePoint t) {
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

void GraphSim::Impl::Error(httplib::Response& res, int status, const std::string& code,
                           const std::string& message, const std::string& request_id) {
  res.status = status;
  json e = {{"error",
             {{"code", code},
              {"message", message},
              {"innerError", {{"request-id", request_id}, {"date", Iso8601(clock.Now())}}}}}};
  res.set_header("request-id", request_id);
  res.set_content(e.dump(), "application/json");
}

void GraphSim::Impl::Log(const std::string& method, const std::string& path,
                         const std::string& tenant, int status, bool write,
                         const std::string& body, const std::string& host,
                         const std::string& client) {
  std::lock_guard<std::mutex> lock(mu);
  if (path.find("/oauth2/") == std::string::npos) {
    Counts& c = counts[tenant];
    ++c.requests;
    if (status == 429) ++c.throttled;
    if (write) ++c.writes;
  }
  if (!log_requests) return;
  log.push_back({{"seq", ++seq},
                 {"body", body},
                 {"host", host},
                 {"client", client},
                 {"method", method},
                 {"path", path},
                 {"tenant", tenant},
                 {"status", status},
                 {"write", write},
                 {"ts_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                               clock.Now().time_since_epoch())
                               .count()}});
}

GraphSim::GraphSim(SimConfig config) : impl_(std::make_unique<Impl>(config)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  impl_->owner = this;
  impl_->AuthRoutes();
  impl_->ObjectRoutes();
  impl_->ControlRoutes();
}

GraphSim::~GraphSim() { Stop(); }

int GraphSim::Start(const std::string& host, int port) {
  impl_->port = port == 0 ? impl_->server.bind_to_any_port(host)
                          : (impl_->server.bind_to_port(host, port) ? port : -1);
  if (impl_->port < 0) return -1;
  impl_->thread = std::thread([this] { impl_->server.Serve(); });
  while (!impl_->server.serving()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return impl_->port;
}

void GraphSim::Stop() {
  impl_->ReleaseWaits();
  if (impl_->thread.joinable()) {
    impl_->server.Stop();
    impl_->thread.join();
  }
}

int GraphSim::port() const { return impl_->port; }
std::string GraphSim::base_url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void GraphSim::AddTenant(const std::string& tenant_id, const std::vector<SimApp>& apps) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  t.id = tenant_id;
  if (t.org_name.empty()) t.org_name = "Organization " + tenant_id;
  for (const auto& a : apps) {
    t.apps[a.client_id] = a.client_secret;
    std::string end = a.secret_end;
    if (end.empty()) {
      const std::time_t in_two_years =
          std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) + 730 * 86400;
      std::tm tm{};
      gmtime_r(&in_two_years, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
      end = buf;
    }
    t.secret_ends[a.client_id] = end;
    t.roles[a.client_id] = a.roles;
  }
}

void GraphSim::AddCertificate(const std::string& tenant_id, const std::string& client_id,
                              const std::string& certificate_pem) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->tenants[tenant_id].certificates[client_id].push_back(certificate_pem);
}

const std::vector<std::string>& DefaultRoles() {
  static const std::vector<std::string> kRoles = {
      "DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementApps.ReadWrite.All",
      "DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementRBAC.ReadWrite.All",
      "CloudPC.ReadWrite.All",                       "Policy.Read.All",
      "Policy.ReadWrite.ConditionalAccess",          "Group.Read.All",
      "User.Read.All",                               "Application.Read.All",
      "RoleManagement.Read.Directory",               "Organization.Read.All"};
  return kRoles;
}

std::string SelfBase(const httplib::Request& req) {
  std::string proto = req.get_header_value("X-Forwarded-Proto");
  if (proto != "https") proto = "http";
  return proto + "://" + req.get_header_value("Host") + "/";
}

std::vector<std::string> GraphSim::Seed(const std::string& tenant_id, const std::string& collection,
                                        const std::vector<json>& objects) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  std::vector<std::string> ids;
  for (const auto& o : objects) {
    json body = IsDirectory(collection) ? o : impl_->NewPolicy(collection, o);
    if (!body.contains("id")) body["id"] = NewGuid(impl_->rng);
    ids.push_back(body["id"]);
    impl_->Store(t, collection, body);
  }
  return ids;
}

bool GraphSim::Remove(const std::string& tenant_id, const std::string& collection,
                      const std::string& id, const std::string& user_principal_name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Tenant& t = impl_->tenants[tenant_id];
  Collection& c = collection == "groups" ? t.groups : t.collections[collection];
  if (!c.items.count(id)) return false;
  if (!user_principal_name.empty())
    impl_->RecordAudit(t, collection, id, "Delete",
                       {user_principal_name, "0000000a-0000-0000-c000-000000000000",
                        "Microsoft Intune portal"},
                       NewGuid(impl_->rng));
  c.items.erase(id);
  c.order.erase(std::remove(c.order.begin(), c.order.end(), id), c.order.end());
  return true;
}

bool GraphSim::LoadFixture(const json& fixture, std::string* error) {
  if (!fixture.is_object() || !fixture.contains("tenants") || !fixture["tenants"].is_array()) {
    if (error) *error = "fixture: 'tenants' must be an array";
    return false;
  }
  for (const auto& t : fixture["tenants"]) {
    if (!t.contains("id") || !t["id"].is_string()) {
      if (error) *error = "fixture: every tenant needs a string 'id'";
      return false;
    }
    std::vector<SimApp> apps;
    for (const auto& a : t.value("apps", json::array())) {
      SimApp app{a.value("client_id", ""), a.value("client_secret", ""),
                 a.value("secret_end", "")};
      if (a.contains("roles") && a["roles"].is_array())
        app.roles = a["roles"].get<std::vector<std::string>>();
      apps.push_back(std::move(app));
    }
    AddTenant(t["id"], apps);
    if (t.contains("display_name") && t["display_name"].is_string()) {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->tenants[t["id"]].org_name = t["display_name"];
    }
    if (t.contains("groups")) {
      if (!t["groups"].is_array() || !std::all_of(t["groups"].begin(), t["groups"].end(),
                                                  [](const json& g) { return g.is_object(); })) {
        if (error) *error = "fixture: 'groups' must be an array of objects";
        return false;
      }
      Seed(t["id"], "groups", t["groups"].get<std::vector<json>>());
    }
    const json policies = t.contains("policies") ? t["policies"] : json::object();
    if (!policies.is_object()) {
      if (error) *error = "fixture: 'policies' must be an object of collections";
      return false;
    }
    for (const auto& [coll, items] : policies.items()) {
      if (!Impl::IsCollection(coll)) {
        if (error) *error = "fixture: unknown collection '" + coll + "'";
        return false;
      }
      if (!items.is_array() ||
          !std::all_of(items.begin(), items.end(), [](const json& i) { return i.is_object(); })) {
        if (error) *error = "fixture: policies." + coll + " must be an array of objects";
        return false;
      }
      Seed(t["id"], coll, items.get<std::vector<json>>());
    }
    if (t.contains("generate")) {
      if (!t["generate"].is_number_integer()) {
        if (error) *error = "fixture: 'generate' must be a number";
        return false;
      }
      GeneratePolicies(t["id"], t["generate"].get<int>());
    }
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
