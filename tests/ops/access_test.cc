// How TenantAtlas reaches a tenant: the permissions its token grants (a
// backup skips, by name, what it may not read), the tenant's cloud (every
// request and every URL in a body names that cloud's hosts only), and
// credentials changed while a job runs (used from the next Graph call).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "core/certificate.h"
#include "core/cloud.h"
#include "tenancy/tenancy.h"
#include "ops_env.h"

namespace ta::ops {
namespace {

using nlohmann::json;
using store::RunStatus;
using ::ta::testing::TestBackend;

class AccessTest : public ::testing::TestWithParam<TestBackend> {};

// Every permission TenantAtlas uses but the apps one (see DefaultRoles in the simulator).
const std::vector<std::string> kAllButApps = {
    "DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementRBAC.ReadWrite.All",          "CloudPC.ReadWrite.All",
    "Policy.Read.All",                             "Policy.ReadWrite.ConditionalAccess",
    "Group.Read.All",                              "User.Read.All",
    "Application.Read.All",                        "RoleManagement.Read.Directory"};

bool IsAppsType(const catalog::PolicyType& t) {
  return catalog::ReadPermission(t.collection) == "DeviceManagementApps.Read.All";
}

// A tenant whose app lacks DeviceManagementApps.Read.All: its sync skips
// exactly the app types, its backup skips exactly the app policies it had
// synced before, each naming the permission; the runs succeed with the rest;
// the connection check lists the permission with the types it opens.
TEST_P(AccessTest, ABackupWithoutTheAppsPermissionSkipsExactlyTheAppTypes) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 120);
  std::set<std::string> app_types;
  for (const auto& t : catalog::Catalog())
    if (IsAppsType(t)) app_types.insert(std::string(t.name));
  ASSERT_GE(app_types.size(), 4u);
  // Synced while the app had every permission: app policies are in the inventory.
  auto first = runs::StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(first.has_value());
  env.Drain();
  ASSERT_EQ(env.Run(env.tenant_a, first->run.id).status, RunStatus::kSucceeded)
      << env.JobErrors(first->run.id);
  int64_t app_policies = 0;
  for (const auto& type : app_types)
    app_policies += env.Count("SELECT COUNT(*) FROM policies WHERE tenant_id = $1 AND policy_type = $2",
                              {env.tenant_a, type});
  ASSERT_GT(app_policies, 0);
  const int64_t all_policies =
      env.Count("SELECT COUNT(*) FROM policies WHERE tenant_id = $1", {env.tenant_a});

  // An admin removes the permission; new tokens carry the rest.
  env.sim.Configure({{"set_roles", {{"tenant", "ms-a"}, {"client_id", "app-a"}, {"roles", kAllButApps}}},
                     {"revoke_tokens", true}});
  auto set = runs::StartBackupSet(*env.runs, env.db(), env.tenant_a, "Nightly", std::nullopt,
                                  env.operator_both);
  ASSERT_TRUE(set.has_value());
  env.Drain();
  const auto run = env.Run(env.tenant_a, set->run.id);
  EXPECT_EQ(run.status, RunStatus::kSucceeded) << env.JobErrors(set->run.id);
  int64_t captured = 0, skipped = 0;
  std::set<std::string> skipped_types;
  for (const auto& i : env.Items(env.tenant_a, set->run.id)) {
    const std::string type = env.Text("SELECT policy_type FROM policies WHERE id = $1",
                                      {std::stoll(i.item_ref.substr(7))});
    if (i.status == "skipped") {
      ++skipped;
      skipped_types.insert(type);
      EXPECT_EQ(i.error_code, "missing_permission");
      EXPECT_NE(i.error_message->find("DeviceManagementApps.Read.All"), std::string::npos)
          << *i.error_message;
      EXPECT_TRUE(app_types.count(type)) << type << " skipped, but it is not an app type";
    } else {
      EXPECT_TRUE(i.status == "captured" || i.status == "unchanged") << i.item_ref << i.status;
      EXPECT_FALSE(app_types.count(type)) << type << " captured without the permission";
      ++captured;
    }
  }
  EXPECT_EQ(skipped, app_policies);
  EXPECT_EQ(captured, all_policies - app_policies);
  EXPECT_GT(captured, 0);
  EXPECT_EQ(run.skipped, skipped);
  std::printf("PERMISSIONS|%s|without DeviceManagementApps|%zu app types|%lld of %lld policies "
              "skipped|%lld captured\n",
              env.db().backend() == store::Backend::kSqlite ? "sqlite" : "postgres",
              app_types.size(), static_cast<long long>(skipped),
              static_cast<long long>(all_policies), static_cast<long long>(captured));

  // A sync now skips exactly the app types' lists, and marks nothing gone.
  auto sync = runs::StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(sync.has_value());
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, sync->run.id).status, RunStatus::kSucceeded);
  std::set<std::string> skipped_lists;
  for (const auto& i : env.Items(env.tenant_a, sync->run.id)) {
    if (i.status != "skipped") continue;
    EXPECT_EQ(i.error_code, "missing_permission");
    EXPECT_EQ(json::parse(*i.details)["permission"], "DeviceManagementApps.Read.All");
    skipped_lists.insert(i.item_ref.substr(5));
  }
  EXPECT_EQ(skipped_lists, app_types);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies WHERE tenant_id = $1 AND gone_at IS NOT NULL",
                      {env.tenant_a}),
            0);

  // The check lists what to grant: DeviceManagementApps.Read.All for the app types.
  auto check = runs::StartConnectionCheck(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(check.has_value());
  env.Drain();
  json grant;
  for (const auto& i : env.Items(env.tenant_a, check->run.id)) {
    if (i.item_ref == "permissions") grant = json::parse(*i.details)["grant"];
  }
  std::set<std::string> to_grant;
  for (const auto& g : grant) {
    to_grant.insert(g["permission"].get<std::string>() + "/" + g["for"].get<std::string>());
    if (g["permission"] == "DeviceManagementApps.Read.All") {
      EXPECT_EQ(g["types"].size(), app_types.size());
    }
  }
  EXPECT_EQ(to_grant, (std::set<std::string>{"DeviceManagementApps.Read.All/read",
                                             "DeviceManagementApps.ReadWrite.All/write"}));
}

// Sends a request for a Microsoft cloud host to the simulator on loopback (in
// plain HTTP, naming the host and the scheme it was for), and records every
// request TenantAtlas made. Any other host is refused.
class LoopbackClouds final : public graph::HttpTransport {
 public:
  LoopbackClouds(graph::HttpTransport& inner, int port) : inner_(inner), port_(port) {}
  graph::TransportResult<graph::HttpResponse> Send(const graph::HttpRequest& request) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(request);
    }
    const std::string url = request.url;
    const size_t scheme_end = url.find("://");
    const size_t host_end = url.find('/', scheme_end + 3);
    const std::string host = url.substr(scheme_end + 3, host_end - scheme_end - 3);
    bool known = false;
    for (const auto& c : Clouds())
      for (std::string_view base : {c.authority, c.graph})
        if (base.substr(8) == host) known = true;
    if (!known || url.rfind("https://", 0) != 0)
      return tl::unexpected(graph::TransportFailure{graph::TransportFailure::Kind::kUnreachable,
                                                    false, "not a cloud host: " + url});
    graph::HttpRequest local = request;
    local.url = "http://127.0.0.1:" + std::to_string(port_) + url.substr(host_end);
    local.headers.push_back({"Host", host});
    local.headers.push_back({"X-Forwarded-Proto", "https"});
    return inner_.Send(local);
  }
  std::vector<graph::HttpRequest> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(seen_, {});
  }

 private:
  graph::HttpTransport& inner_;
  const int port_;
  std::mutex mu_;
  std::vector<graph::HttpRequest> seen_;
};

std::string HostOf(std::string_view base) { return std::string(base.substr(8)); }

// Each cloud's tenants: sync, back up, and restore into a second tenant of
// that cloud (administrative templates, whose values bind their definitions
// by absolute URL). Every request, token requests included, goes to that
// cloud's authority or Graph; no body names another cloud's host; the token
// scope is that Graph's; the simulator saw that cloud's Host on every call
// and accepted the binds (it refuses a bind to another host).
TEST_P(AccessTest, EachCloudsTenantTalksOnlyToItsOwnCloud) {
  TA_OPS_ENV(env);
  LoopbackClouds clouds(*env.transport, env.sim.port());
  OpsStackOptions options;  // the public endpoints: each tenant's cloud decides
  options.graph.backoff_base = std::chrono::milliseconds(20);
  options.queue.tenant_running_cap = 0;
  options.workers.worker_id = "cloud-worker";
  OpsStack stack(env.db(), env.box, clouds, env.redactor, SystemClock::Instance(), options);
  auto drain = [&] {
    for (int i = 0; i < 200; ++i) {
      auto n = stack.pool().RunOnce();
      ASSERT_TRUE(n.has_value());
      if (*n == 0 && env.Count("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')") == 0)
        return;
      if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "jobs still active";
  };
  for (const auto& cloud : Clouds()) {
    SCOPED_TRACE(std::string(cloud.name));
    const std::string c(cloud.name);
    env.sim.AddTenant("src-" + c, {{"app-" + c, "secret-" + c + "-Qx8~"}});
    env.sim.AddTenant("dst-" + c, {{"app-" + c, "secret-" + c + "-Qx8~"}});
    env.sim.GeneratePolicies("src-" + c, 4, "groupPolicyConfigurations");
    env.sim.GeneratePolicies("src-" + c, 3, "deviceConfigurations");
    const int64_t src = ::ta::testing::MakeTenant(env.db(), "Source " + c);
    const int64_t dst = ::ta::testing::MakeTenant(env.db(), "Target " + c);
    for (int64_t t : {src, dst}) env.Member(env.operator_both, t, "owner");
    ASSERT_TRUE(SetTenantCredentials(env.db(), env.box, src, "src-" + c, "app-" + c,
                                     "secret-" + c + "-Qx8~", c)
                    .ok());
    ASSERT_TRUE(SetTenantCredentials(env.db(), env.box, dst, "dst-" + c, "app-" + c,
                                     "secret-" + c + "-Qx8~", c)
                    .ok());
    env.sim.ClearRequests();
    (void)clouds.Take();

    ASSERT_TRUE(runs::StartInventorySync(stack.runs(), src, env.operator_both).has_value());
    drain();
    auto set = runs::StartBackupSet(stack.runs(), env.db(), src, "Cloud", std::nullopt,
                                    env.operator_both);
    ASSERT_TRUE(set.has_value());
    drain();
    ASSERT_EQ(env.Run(src, set->run.id).status, RunStatus::kSucceeded) << env.JobErrors(set->run.id);
    const int64_t set_id = env.Count("SELECT id FROM backup_sets WHERE run_id = $1", {set->run.id});
    runs::RestoreRequest req{env.operator_both, src, dst, set_id, std::nullopt, {}};
    auto restore = runs::StartRestore(stack.runs(), env.db(), req, true);
    ASSERT_TRUE(restore.has_value()) << restore.error().ToString();
    drain();
    const auto r = env.Run(dst, restore->run.id);
    EXPECT_EQ(r.status, RunStatus::kSucceeded) << env.JobErrors(restore->run.id);
    EXPECT_EQ(r.succeeded, 7);

    // What TenantAtlas sent.
    const std::set<std::string> own = {HostOf(cloud.authority), HostOf(cloud.graph)};
    std::set<std::string> foreign;
    for (const auto& other : Clouds())
      for (std::string_view base : {other.authority, other.graph})
        if (!own.count(HostOf(base))) foreign.insert(HostOf(base));
    const auto sent = clouds.Take();
    int tokens = 0, binds = 0;
    for (const auto& q : sent) {
      const std::string host = q.url.substr(8, q.url.find('/', 8) - 8);
      EXPECT_TRUE(own.count(host)) << q.method << " " << q.url;
      // As a URL's host ("dod-graph.microsoft.us" contains "graph.microsoft.us").
      for (const auto& f : foreign)
        for (const std::string& named : {"//" + f, "%2F%2F" + f})
          EXPECT_EQ(q.body.find(named), std::string::npos) << q.url << " body names " << f;
      if (q.url.find("/oauth2/v2.0/token") != std::string::npos) {
        ++tokens;
        EXPECT_EQ(host, HostOf(cloud.authority));
        EXPECT_NE(q.body.find("scope=" + std::string("https%3A%2F%2F") + HostOf(cloud.graph) +
                              "%2F.default"),
                  std::string::npos)
            << "token scope for " << c;
      } else {
        EXPECT_EQ(host, HostOf(cloud.graph)) << q.url;
      }
      if (q.body.find("@odata.bind") != std::string::npos) {
        ++binds;
        EXPECT_NE(q.body.find(std::string(cloud.graph) + "/beta/deviceManagement/"),
                  std::string::npos)
            << q.body;
      }
    }
    EXPECT_GE(tokens, 2) << "a token for each tenant";
    EXPECT_EQ(binds, 4) << "one updateDefinitionValues per administrative template";
    // What the simulator saw: the cloud's names on every request, all answered.
    const json log = env.sim.Requests();
    ASSERT_FALSE(log.empty());
    for (const auto& e : log) {
      EXPECT_TRUE(own.count(e["host"].get<std::string>())) << e.dump();
      EXPECT_LT(e["status"].get<int>(), 400) << e.dump();
    }
  }
}

// A credential changed while a job runs is used by that job's next Graph
// call: the connection check's first read hangs, the credentials change to a
// second app meanwhile, and every later read carries the second app's token.
TEST_P(AccessTest, ACredentialChangedMidJobIsUsedByTheNextGraphCall) {
  TA_OPS_ENV(env);
  env.sim.AddTenant("ms-a", {{"app-a2", "Zq1-second-secret"}});
  env.sim.Configure({{"hang_next", 1}, {"hang_ms", 30'000}});
  auto check = runs::StartConnectionCheck(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(check.has_value());
  std::thread worker([&] { env.Drain(); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env.sim.Waiting() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(env.sim.Waiting(), 1);
  ASSERT_TRUE(
      SetTenantCredentials(env.db(), env.box, env.tenant_a, "ms-a", "app-a2", "Zq1-second-secret")
          .ok());
  env.sim.Configure({{"release", true}});
  worker.join();
  EXPECT_EQ(env.Run(env.tenant_a, check->run.id).status, RunStatus::kSucceeded)
      << env.JobErrors(check->run.id);
  // The hung read finishes with the first app's token; every read after it
  // (about 40, one after another) carries the second app's.
  const json log = env.sim.Requests();
  int first_app = 0, second_app = 0;
  bool released = false;
  for (const auto& e : log) {
    if (e["path"].get<std::string>().find("/oauth2/") != std::string::npos) continue;
    if (!released) {
      EXPECT_EQ(e["client"], "app-a") << e.dump();
      released = true;
      ++first_app;
      continue;
    }
    EXPECT_EQ(e["client"], "app-a2") << e.dump();
    ++(e["client"] == "app-a2" ? second_app : first_app);
  }
  EXPECT_EQ(first_app, 1);
  EXPECT_GE(second_app, static_cast<int>(catalog::Catalog().size()));
}

// POSTs a token request with a client assertion to the simulator's token
// endpoint; returns the AADSTS code (0: a token).
int TokenWithAssertion(OpsEnv& env, const std::string& tenant, const std::string& client,
                       const std::string& assertion) {
  graph::HttpRequest req;
  req.method = "POST";
  req.url = env.sim.base_url() + "/" + tenant + "/oauth2/v2.0/token";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "grant_type=client_credentials&client_id=" + client +
             "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
             "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
             "bearer&client_assertion=" + assertion;
  auto res = env.transport->Send(req);
  if (!res) return -1;
  if (res->status == 200) return 0;
  const json body = json::parse(res->body, nullptr, false);
  EXPECT_EQ(body.value("error", ""), "invalid_client") << res->body;
  return body.contains("error_codes") ? body["error_codes"][0].get<int>() : -2;
}

// Certificate credentials: TenantAtlas makes the key pair, the token request
// carries an RS256 assertion; until the certificate is uploaded Entra (the
// simulator) refuses it, then the connection check is green and the
// credential's expiry is the certificate's. The simulator refuses a wrong key,
// a wrong audience, a replayed jti and an expired assertion, each with its
// AADSTS code. The private key is nowhere in the database, run records, the
// audit log or what the simulator received.
TEST_P(AccessTest, CertificateCredentialsAuthenticateAndBadAssertionsAreRefused) {
  TA_OPS_ENV(env);
  const int64_t now = ToUnixMillis(SystemClock::Instance().Now());
  auto issued = store::WriteResult<tenancy::IssuedCertificate>(env.db(), [&](store::Tx& tx) {
    return tenancy::SetCertificateCredentials(tx, {std::nullopt, "cli", now}, env.tenant_a,
                                              {"ms-a", "app-a", "", std::nullopt, "global"}, 365,
                                              env.box);
  });
  ASSERT_TRUE(issued.has_value()) << issued.error().ToString();
  EXPECT_NEAR(static_cast<double>(issued->info.not_after_ms - now), 365.0 * 86'400'000, 2000.0);
  auto check = [&] {
    auto run = runs::StartConnectionCheck(*env.runs, env.tenant_a, env.operator_both);
    EXPECT_TRUE(run.has_value());
    env.Drain();
    return run->run.id;
  };
  // Not uploaded to the app yet: the token is refused, saying so.
  const int64_t refused = check();
  EXPECT_EQ(env.Run(env.tenant_a, refused).status, RunStatus::kFailed);
  for (const auto& i : env.Items(env.tenant_a, refused))
    if (i.item_ref == "token") {
      EXPECT_EQ(i.status, "failed");
      EXPECT_NE(i.error_message->find("AADSTS700027"), std::string::npos) << *i.error_message;
      EXPECT_NE(i.error_message->find("certificate is uploaded"), std::string::npos);
    }
  env.sim.AddCertificate("ms-a", "app-a", issued->certificate_pem);
  const int64_t green = check();
  EXPECT_EQ(env.Run(env.tenant_a, green).status, RunStatus::kSucceeded) << env.JobErrors(green);
  for (const auto& i : env.Items(env.tenant_a, green))
    if (i.item_ref == "credential:expiry") {
      EXPECT_EQ(i.status, "ok");
      EXPECT_EQ(json::parse(*i.details)["source"], "certificate");
    }
  EXPECT_EQ(env.Text("SELECT credential_expiry_source FROM tenants WHERE id = $1", {env.tenant_a}),
            "certificate");

  // The simulator's checks, with assertions made here.
  auto mine = GenerateCertificate("test", 30, now);
  auto other = GenerateCertificate("other", 30, now);
  ASSERT_TRUE(mine && other);
  env.sim.AddCertificate("ms-b", "app-b", mine->certificate_pem);
  graph::AppCredentials app{"ms-b", "app-b", "", "", "", mine->private_key_pem,
                            ReadCertificate(mine->certificate_pem)->thumbprint_sha256};
  const std::string aud = env.sim.base_url() + "/ms-b/oauth2/v2.0/token";
  const int64_t now_s = now / 1000;
  const std::string good = *graph::ClientAssertion(app, aud, now_s);
  EXPECT_EQ(TokenWithAssertion(env, "ms-b", "app-b", good), 0);
  EXPECT_EQ(TokenWithAssertion(env, "ms-b", "app-b", good), 700025) << "a replayed jti";
  EXPECT_EQ(TokenWithAssertion(env, "ms-b", "app-b",
                               *graph::ClientAssertion(app, aud + "x", now_s)),
            700212)
      << "a wrong audience";
  graph::AppCredentials wrong_key = app;
  wrong_key.private_key_pem = other->private_key_pem;
  EXPECT_EQ(TokenWithAssertion(env, "ms-b", "app-b",
                               *graph::ClientAssertion(wrong_key, aud, now_s)),
            700027)
      << "signed by another key";
  EXPECT_EQ(TokenWithAssertion(env, "ms-b", "app-b",
                               *graph::ClientAssertion(app, aud, now_s - 3600)),
            700024)
      << "expired";
  env.sim.AddTenant("ms-b", {{"app-b2", "Zq1-other-app"}});
  graph::AppCredentials other_app = app;
  other_app.client_id = "app-b2";
  EXPECT_EQ(TokenWithAssertion(env, "ms-b", "app-b2",
                               *graph::ClientAssertion(other_app, aud, now_s)),
            700027)
      << "a certificate uploaded to another app";

  // The private key's bytes: nowhere but sealed.
  const std::string sealed =
      env.Text("SELECT client_secret_enc FROM tenants WHERE id = $1", {env.tenant_a});
  auto key = env.box.Open(sealed);
  ASSERT_TRUE(key.has_value());
  ASSERT_NE(key->find("PRIVATE KEY"), std::string::npos);
  const std::string body_line = key->substr(key->find('\n') + 1, 60);
  for (const char* sql :
       {"SELECT COALESCE(error_message, '') || COALESCE(details, '') FROM run_items",
        "SELECT details FROM audit_log", "SELECT payload || COALESCE(last_error, '') FROM jobs",
        "SELECT COALESCE(client_certificate, '') FROM tenants"}) {
    auto rows = store::ReadResult<std::vector<std::string>>(env.db(), [&](store::Tx& tx)
                                                                -> Result<std::vector<std::string>> {
      auto r = tx.Query(sql);
      if (!r) return Unexpected(r.error());
      std::vector<std::string> out;
      for (const auto& row : *r) out.push_back(row.Text(0));
      return out;
    });
    ASSERT_TRUE(rows.has_value()) << sql;
    for (const auto& v : *rows) EXPECT_EQ(v.find(body_line), std::string::npos) << sql;
  }
  EXPECT_EQ(env.sim.Requests().dump().find(body_line), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, AccessTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
