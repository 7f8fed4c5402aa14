// The API with the real workers and the Graph simulator behind it: the
// request path never waits on Graph, and secrets never come back out.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "api_env.h"
#include "ops/ops_env.h"

namespace ta::api {
namespace {

using nlohmann::json;
using ::ta::testing::TestBackend;

class ApiOpsTest : public ::testing::TestWithParam<TestBackend> {};

std::string T(int64_t tenant) { return "/api/v1/tenants/" + std::to_string(tenant); }

// A custom profile whose Wi-Fi key Graph keeps encrypted.
json WifiProfile(const std::string& key) {
  return {{"@odata.type", "#microsoft.graph.windows10CustomConfiguration"},
          {"displayName", "Corp Wi-Fi"},
          {"omaSettings",
           {{{"@odata.type", "#microsoft.graph.omaSettingString"},
             {"displayName", "Key"},
             {"omaUri", "./Vendor/MSFT/WiFi/Profile/Corp/Key"},
             {"value", key}}}}};
}

// Everything the database holds: the SQLite file and its WAL byte for byte,
// or (PostgreSQL) every row of `tables` as text.
std::string StoredBytes(store::Database& db, const std::string& sqlite_path,
                        const std::vector<std::string>& tables) {
  std::string stored;
  if (!sqlite_path.empty()) {
    for (const std::string& f : {sqlite_path, sqlite_path + "-wal"}) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      stored += ss.str();
    }
    return stored;
  }
  for (const auto& table : tables) {
    (void)db.Read([&](store::Tx& tx) -> Status {
      auto rows = tx.Query("SELECT CAST(t AS TEXT) FROM " + table + " t");
      if (rows)
        for (const auto& r : *rows) stored += r.Text(0) + "\n";
      return Status::Ok();
    });
  }
  return stored;
}

TEST_P(ApiOpsTest, StartsAnswerAtOnceWhileGraphTakesTenSeconds) {
  TA_OPEN_DB(t);
  sim::SimConfig sc;
  sc.latency_ms = 10'000;
  ops::OpsEnv ops(std::move(t), sc);
  ApiEnv api(ops.db());
  Who op = api.AddUser("op@example.com");
  api.Member(op, ops.tenant_a, "operator");
  constexpr int kStarts = 200;
  for (int i = 0; i <= kStarts; ++i)  // one more for the warm-up
    ::ta::testing::MustExec(ops.db(),
                            "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, "
                            "synced_at) VALUES ($1, 'deviceConfiguration', $2, 'P', 0)",
                            {ops.tenant_a, "g-" + std::to_string(i)});
  ops.pool->Start();  // workers pick the jobs up and sit in 10 s Graph calls
  // Measure only once a worker holds a job (it is inside a 10 s Graph call).
  ASSERT_EQ(api.Call("POST", T(ops.tenant_a) + "/policies/1/capture", op.token).status, 202);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (ops.Count("SELECT COUNT(*) FROM jobs WHERE state = 'running'") == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling with a deadline
  ASSERT_GT(ops.Count("SELECT COUNT(*) FROM jobs WHERE state = 'running'"), 0)
      << "no worker picked up the warm-up capture";
  std::vector<double> ms;
  for (int p = 2; p <= kStarts + 1; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    const Reply r =
        api.Call("POST", T(ops.tenant_a) + "/policies/" + std::to_string(p) + "/capture", op.token);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // The workers really are inside slow Graph calls while the API answers.
  EXPECT_GT(ops.Count("SELECT COUNT(*) FROM jobs WHERE state = 'running'"), 0);
  EXPECT_EQ(ops.Count("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'"), 0);
  std::sort(ms.begin(), ms.end());
  const double p50 = ms[ms.size() / 2], p99 = ms[ms.size() * 99 / 100];
  std::printf("start with Graph latency 10 s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d starts)\n",
              p50, p99, ms.back(), kStarts);
  // A request that waited on Graph would take 10 s. The 50 ms target is
  // measured in bench/ (api_load_bench); here the bound is structural.
  EXPECT_LT(p99, 1000.0);
  ops.sim.Configure({{"latency_ms", 0}});
  ops.pool->Stop();
}

// Plants a tenant secret through the API, forces token and Graph errors, and
// then looks for the secret everywhere it could leak.
TEST_P(ApiOpsTest, PlantedSecretsAppearNowhere) {
  TA_OPEN_DB(t);
  const std::string planted = "Pl4nted-S3cret-Value-9f3e~";
  const std::string wrong = "Wr0ng-Planted-S3cret-77ab~";
  std::string db_path;
  if (GetParam() == TestBackend::kSqlite) db_path = t->url().substr(7);
  ops::OpsEnv ops(std::move(t));
  ops.sim.AddTenant("ms-planted", {{"app-planted", planted}});
  ApiEnv api(ops.db());
  Who owner = api.AddUser("owner@example.com");
  api.Member(owner, ops.tenant_a, "owner");
  api.Member(owner, ops.tenant_b, "owner");
  std::string responses;
  auto call = [&](const std::string& method, const std::string& path,
                  const std::string& body = "") {
    Reply r = api.Call(method, path, owner.token, body);
    responses += r.body + "\n";
    for (const auto& [k, v] : r.headers) responses += k + ": " + v + "\n";
    return r;
  };
  // A good secret for A, a wrong one for B (a token error: AADSTS 401).
  ASSERT_EQ(call("PUT", T(ops.tenant_a) + "/credentials",
                 json{{"entra_tenant_id", "ms-planted"},
                      {"client_id", "app-planted"},
                      {"client_secret", planted}}
                     .dump())
                .status,
            200);
  ASSERT_EQ(call("PUT", T(ops.tenant_b) + "/credentials",
                 json{{"entra_tenant_id", "ms-planted"},
                      {"client_id", "app-planted"},
                      {"client_secret", wrong}}
                     .dump())
                .status,
            200);
  // Graph errors on A: 5xx faults beyond the retry budget, then revoked tokens.
  ops.sim.FailNext(30, 500);
  const Reply sync_a = call("POST", T(ops.tenant_a) + "/policies/sync");
  const Reply sync_b = call("POST", T(ops.tenant_b) + "/policies/sync");
  ops.Drain();
  ops.sim.Configure({{"revoke_tokens", true}});
  const Reply again = call("POST", T(ops.tenant_a) + "/policies/sync");
  ops.Drain();
  for (const Reply* r : {&sync_a, &sync_b, &again}) {
    const std::string id = std::to_string(r->Json()["run"]["id"].get<int64_t>());
    const int64_t tenant = r == &sync_b ? ops.tenant_b : ops.tenant_a;
    call("GET", T(tenant) + "/runs/" + id);
    call("GET", T(tenant) + "/runs/" + id + "/items");
  }
  const Reply b_run = call("GET", T(ops.tenant_b) + "/runs/" +
                                      std::to_string(sync_b.Json()["run"]["id"].get<int64_t>()));
  EXPECT_EQ(b_run.Json()["status"], "failed") << b_run.body;  // the wrong secret did fail
  for (int64_t tenant : {ops.tenant_a, ops.tenant_b}) {
    call("GET", T(tenant));
    call("GET", T(tenant) + "/audit");
    call("GET", T(tenant) + "/runs");
  }
  call("GET", "/api/v1/notifications");
  // Certificate credentials for a third tenant (the key is made by the server
  // and signs its token requests) and the MSP's app's secret.
  const int64_t tenant_c = ::ta::testing::MakeTenant(ops.db(), "Certified");
  api.Member(owner, tenant_c, "owner");
  const Reply cert = call("POST", T(tenant_c) + "/credentials/certificate",
                          R"({"entra_tenant_id":"ms-planted","client_id":"app-planted"})");
  ASSERT_EQ(cert.status, 201) << cert.body;
  ops.sim.AddCertificate("ms-planted", "app-planted", cert.Json()["certificate"]["pem"]);
  const Reply sync_c = call("POST", T(tenant_c) + "/policies/sync");
  ops.Drain();
  const Reply c_run = call("GET", T(tenant_c) + "/runs/" +
                                      std::to_string(sync_c.Json()["run"]["id"].get<int64_t>()));
  EXPECT_EQ(c_run.Json()["status"], "succeeded") << c_run.body;
  const std::string msp_secret = "Pl4nted-MSP-App-S3cret-41c0~";
  Who admin = api.AddUser("admin@example.com", /*platform_admin=*/true);
  const Reply msp = api.Call("PUT", "/api/v1/platform/app", admin.token,
                             json{{"client_id", "msp"}, {"client_secret", msp_secret}}.dump());
  ASSERT_EQ(msp.status, 200) << msp.body;
  responses += msp.body + api.Call("GET", "/api/v1/platform/app", admin.token).body;
  ASSERT_GT(responses.size(), 1000u);
  auto key = SecretBox::FromBase64Key(kTestMasterKey)
                 ->Open(ops.Text("SELECT client_secret_enc FROM tenants WHERE id = $1", {tenant_c}));
  ASSERT_TRUE(key.has_value());
  ASSERT_NE(key->find("PRIVATE KEY"), std::string::npos);

  const std::string stored = StoredBytes(ops.db(), db_path,
                                         {"tenants", "runs", "run_items", "jobs", "audit_log",
                                          "notifications", "idempotent_requests", "api_tokens",
                                          "platform_app"});
  ASSERT_GT(stored.size(), 1000u);
  const std::string logs = api.Logs();
  // Each line of the private key's base64 (64 characters) and the MSP's secret too.
  std::vector<std::string> secrets = {planted, wrong, msp_secret};
  for (size_t at = key->find('\n') + 1; key->find('\n', at) != std::string::npos &&
                                         key->compare(at, 5, "-----") != 0;
       at = key->find('\n', at) + 1)
    secrets.push_back(key->substr(at, key->find('\n', at) - at));
  ASSERT_GT(secrets.size(), 20u);
  for (const std::string& secret : secrets) {
    EXPECT_EQ(responses.find(secret), std::string::npos) << "in an API response";
    EXPECT_EQ(stored.find(secret), std::string::npos) << "in the database";
    EXPECT_EQ(logs.find(secret), std::string::npos) << "in the log";
  }
  // The sealed secrets and key are stored, just not readable.
  EXPECT_EQ(ops.Count("SELECT COUNT(*) FROM tenants WHERE client_secret_enc IS NOT NULL"), 3);
}

// An encrypted OMA-URI value (a Wi-Fi key) is backed up sealed, changed in
// Intune, previewed as "secret value changed" and restored to the backed-up
// value; neither value appears in any API response, the database or the log.
// The policy list filters by any catalog type, by platform (one vocabulary
// over every type) and by a case-insensitive part of the name; bad filters
// are 400s naming the parameter.
TEST_P(ApiOpsTest, PoliciesFilterByTypePlatformAndNameOverEveryType) {
  TA_OPEN_DB(t);
  ops::OpsEnv ops(std::move(t));
  ops.sim.Seed("ms-a", "deviceShellScripts",
               {{{"displayName", "Dock 100% setup"}, {"scriptContent", "IyBtYWM="}}});
  ops.sim.Seed("ms-a", "deviceHealthScripts",
               {{{"displayName", "Fix DOCK icons"}, {"detectionScriptContent", "IyBj"}}});
  ops.sim.Seed("ms-a", "configurationPolicies",
               {{{"name", "Edge"}, {"platforms", "windows10"}, {"technologies", "mdm"}}});
  ops.sim.Seed("ms-a", "iosManagedAppProtections", {{{"displayName", "Outlook docked"}}});
  ops.sim.Seed("ms-a", "policies", {{{"displayName", "MFA"}, {"state", "enabled"}}});
  ApiEnv api(ops.db());
  Who owner = api.AddUser("owner@example.com");
  api.Member(owner, ops.tenant_a, "owner");
  ASSERT_EQ(api.Call("POST", T(ops.tenant_a) + "/policies/sync", owner.token).status, 202);
  ops.Drain();
  ASSERT_EQ(ops.Count("SELECT COUNT(*) FROM policies"), 5) << ops.JobErrors(1);
  auto names = [&](const std::string& query) {
    Reply r = api.Call("GET", T(ops.tenant_a) + "/policies?" + query, owner.token);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    std::vector<std::string> out;
    const json page = r.Json();
    for (const auto& p : page["items"]) out.push_back(p["display_name"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("q=dock"), (V{"Dock 100% setup", "Fix DOCK icons", "Outlook docked"}));
  EXPECT_EQ(names("q=100%25"), (V{"Dock 100% setup"})) << "% is a character, not a wildcard";
  EXPECT_EQ(names("platform=macOS"), (V{"Dock 100% setup"}));
  EXPECT_EQ(names("platform=windows"), (V{"Edge", "Fix DOCK icons"}));
  EXPECT_EQ(names("platform=iOS&q=dock"), (V{"Outlook docked"}));
  EXPECT_EQ(names("type=conditionalAccessPolicy"), (V{"MFA"}));
  Reply bad = api.Call("GET", T(ops.tenant_a) + "/policies?platform=linux", owner.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("platform"), std::string::npos) << bad.body;
  bad = api.Call("GET", T(ops.tenant_a) + "/policies?type=nope", owner.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("/api/v1/catalog"), std::string::npos) << bad.body;
  const Reply catalog = api.Call("GET", "/api/v1/catalog", owner.token);
  ASSERT_EQ(catalog.status, 200);
  EXPECT_GE(catalog.Json()["types"].size(), 35u);
  // The restore option is checked where it is given.
  bad = api.Call("POST", T(ops.tenant_a) + "/restores/preview", owner.token,
                 json{{"backup_set_id", 1}, {"conditional_access_state", "enforce"}}.dump());
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("conditional_access_state"), std::string::npos) << bad.body;
}

// A backup set's documentation in all three formats: every object by name
// with its type, platform, scope tags and assignments (group and filter by
// name), settings catalog settings by their definitions' names and option
// names; never an encrypted value (plain or sealed) or a script body.
TEST_P(ApiOpsTest, BackupSetDocumentNamesEverythingAndShowsNoSecret) {
  TA_OPEN_DB(t);
  ops::OpsEnv ops(std::move(t));
  const std::string secret = "Psk-d0c-T3st-~";
  ops.sim.Seed("ms-a", "groups", {{{"id", "g-fin"}, {"displayName", "Finance <EU>"}}});
  ops.sim.Seed("ms-a", "roleScopeTags", {{{"id", "tag-eu"}, {"displayName", "Europe"}}});
  ops.sim.Seed("ms-a", "assignmentFilters",
               {{{"id", "flt-1"},
                 {"displayName", "Contoso laptops"},
                 {"platform", "windows10AndLater"},
                 {"rule", "(device.manufacturer -eq \"Contoso\")"}}});
  const json target = {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"},
                       {"groupId", "g-fin"},
                       {"deviceAndAppManagementAssignmentFilterId", "flt-1"},
                       {"deviceAndAppManagementAssignmentFilterType", "include"}};
  ops.sim.Seed(
      "ms-a", "configurationPolicies",
      {{{"name", "Edge | hardening"},
        {"platforms", "windows10"},
        {"technologies", "mdm"},
        {"roleScopeTagIds", {"0", "tag-eu"}},
        {"assignments", {{{"target", target}}}},
        {"settings",
         {{{"settingInstance",
            {{"@odata.type", "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"},
             {"settingDefinitionId", "device_vendor_msft_policy_config_edge_smartscreen"},
             {"choiceSettingValue",
              {{"value", "device_vendor_msft_policy_config_edge_smartscreen_1"}}}}}}}}}});
  ops.sim.Seed("ms-a", "deviceConfigurations", {WifiProfile(secret)});
  ops.sim.Seed("ms-a", "deviceShellScripts",
               {{{"displayName", "Dock setup"}, {"scriptContent", "c2VjcmV0LXNjcmlwdC1ib2R5"}}});
  ApiEnv api(ops.db());
  Who owner = api.AddUser("owner@example.com");
  api.Member(owner, ops.tenant_a, "owner");
  Who other = api.AddUser("other@example.com");
  api.Member(other, ops.tenant_b, "owner");
  ASSERT_EQ(api.Call("POST", T(ops.tenant_a) + "/policies/sync", owner.token).status, 202);
  ops.Drain();
  ASSERT_EQ(api.Call("POST", T(ops.tenant_a) + "/backup-sets", owner.token,
                     json{{"name", "Quarterly"}}.dump())
                .status,
            202);
  ops.Drain();
  const int64_t set_id = ops.Count("SELECT MAX(id) FROM backup_sets");
  const std::string sealed = [&] {
    (void)set_id;
    std::string all;
    (void)ops.db().Read([&](store::Tx& tx) -> Status {
      auto r =
          tx.Query("SELECT v.payload FROM backup_items i JOIN policy_versions v ON v.id = "
                   "i.policy_version_id WHERE i.policy_type = 'deviceConfiguration'");
      if (r && !r->empty()) all = r->front().Text(0);
      return Status::Ok();
    });
    return json::parse(all)["omaSettings"][0]["secretValue"]["sealed"].get<std::string>();
  }();
  const std::string doc = T(ops.tenant_a) + "/backup-sets/" + std::to_string(set_id) + "/document";
  for (const std::string format : {"md", "html", "csv"}) {
    SCOPED_TRACE(format);
    const Reply r = api.Call("GET", doc + "?format=" + format, owner.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.headers.find("Content-Disposition")
                  ->second.find("backup-set-" + std::to_string(set_id) + "." + format),
              std::string::npos);
    for (const std::string want :
         {"Corp Wi-Fi", "Dock setup", "Settings catalog policy", "windows", "macOS", "Europe",
          "Contoso laptops", "Edge smartscreen", "Enabled", "encrypted value, not shown",
          "script, 24 bytes of base64, not shown"})
      EXPECT_NE(r.body.find(want), std::string::npos) << want << " missing:\n" << r.body;
    EXPECT_EQ(r.body.find(secret), std::string::npos) << "the secret";
    EXPECT_EQ(r.body.find(sealed), std::string::npos) << "the sealed secret";
    EXPECT_EQ(r.body.find("c2VjcmV0LXNjcmlwdC1ib2R5"), std::string::npos) << "the script";
    EXPECT_EQ(r.body.find("device_vendor_msft_policy_config_edge_smartscreen_1"), std::string::npos)
        << "the option is shown by its name";
  }
  // Each format escapes what would break it.
  EXPECT_NE(api.Call("GET", doc + "?format=md", owner.token).body.find("Edge \\| hardening"),
            std::string::npos);
  const Reply html = api.Call("GET", doc + "?format=html", owner.token);
  EXPECT_EQ(html.body.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(html.body.find("@media print"), std::string::npos);
  EXPECT_NE(html.body.find("Finance &lt;EU&gt;"), std::string::npos);
  EXPECT_EQ(html.body.find("<script"), std::string::npos) << "one file, nothing to fetch";
  const Reply csv = api.Call("GET", doc + "?format=csv", owner.token);
  EXPECT_EQ(csv.body.rfind("object,type,platform,section,name,value\r\n", 0), 0u);
  EXPECT_NE(csv.body.find("\"Edge | hardening\",\"Settings catalog policy\""), std::string::npos);
  // Bad input and another tenant's set.
  const Reply bad = api.Call("GET", doc + "?format=pdf", owner.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("md, html or csv"), std::string::npos) << bad.body;
  EXPECT_EQ(api.Call("GET", doc + "?format=md", other.token).status, 403);
  EXPECT_EQ(api.Call("GET", T(ops.tenant_a) + "/backup-sets/999/document", owner.token).status,
            404);
}

TEST_P(ApiOpsTest, EncryptedValuesAreRestoredAndAppearNowhere) {
  TA_OPEN_DB(t);
  const std::string original = "Wifi-Key-0riginal-4d7e~";
  const std::string rotated = "Wifi-Key-R0tated-91aa~";
  std::string db_path;
  if (GetParam() == TestBackend::kSqlite) db_path = t->url().substr(7);
  ops::OpsEnv ops(std::move(t));
  const std::string id =
      ops.sim.Seed("ms-a", "deviceConfigurations", {WifiProfile(original)})[0];
  ApiEnv api(ops.db());
  Who owner = api.AddUser("owner@example.com");
  api.Member(owner, ops.tenant_a, "owner");
  std::string responses;
  auto call = [&](const std::string& method, const std::string& path,
                  const std::string& body = "") {
    Reply r = api.Call(method, path, owner.token, body);
    responses += r.body + "\n";
    return r;
  };
  call("POST", T(ops.tenant_a) + "/policies/sync");
  ops.Drain();
  const Reply set =
      call("POST", T(ops.tenant_a) + "/backup-sets", json{{"name", "Nightly"}}.dump());
  ASSERT_EQ(set.status, 202) << set.body;
  ops.Drain();
  // The set's run lists its items by policy name and type title, not "policy:1".
  const Reply set_items = call("GET", T(ops.tenant_a) + "/runs/" +
                                          std::to_string(set.Json()["run"]["id"].get<int64_t>()) +
                                          "/items");
  ASSERT_EQ(set_items.status, 200) << set_items.body;
  const json listed = set_items.Json();
  ASSERT_FALSE(listed["items"].empty());
  for (const auto& it : listed["items"]) {
    EXPECT_TRUE(it["name"].is_string() && !it["name"].get<std::string>().empty()) << it.dump();
    EXPECT_EQ(it["type_title"], "Device configuration") << it.dump();
  }
  const int64_t set_id = ops.Count("SELECT MAX(id) FROM backup_sets");
  const int64_t policy = ops.Count("SELECT MIN(id) FROM policies");
  const Reply version =
      call("GET", T(ops.tenant_a) + "/policies/" + std::to_string(policy) + "/versions/1");
  ASSERT_EQ(version.status, 200) << version.body;
  EXPECT_TRUE(version.Json()["payload"]["omaSettings"][0]["secretValue"].is_string())
      << version.body;
  // Someone rotates the key in Intune.
  auto writer = ops.access->Writer(ops.tenant_a);
  ASSERT_TRUE((*writer)->Patch("deviceManagement/deviceConfigurations/" + id,
                               {{"omaSettings",
                                 {{{"@odata.type", "#microsoft.graph.omaSettingString"},
                                   {"displayName", "Key"},
                                   {"omaUri", "./Vendor/MSFT/WiFi/Profile/Corp/Key"},
                                   {"isEncrypted", false},
                                   {"value", rotated}}}}}));
  // A capture now makes version 2, whose fingerprint tells the secret changed.
  ASSERT_EQ(
      call("POST", T(ops.tenant_a) + "/policies/" + std::to_string(policy) + "/capture").status,
      202);
  ops.Drain();
  const Reply v2 =
      call("GET", T(ops.tenant_a) + "/policies/" + std::to_string(policy) + "/versions/2");
  ASSERT_EQ(v2.status, 200) << v2.body;
  const json fp1 = version.Json()["payload"]["omaSettings"][0]["secretValue"];
  const json fp2 = v2.Json()["payload"]["omaSettings"][0]["secretValue"];
  EXPECT_NE(fp1, fp2) << "a changed secret has another fingerprint";
  EXPECT_NE(fp1.get<std::string>().find("fingerprint "), std::string::npos) << fp1;
  const json body = {{"backup_set_id", set_id}, {"source_tenant_id", ops.tenant_a}};
  const Reply preview = call("POST", T(ops.tenant_a) + "/restores/preview", body.dump());
  ASSERT_EQ(preview.status, 202) << preview.body;
  ops.Drain();
  const std::string pid = std::to_string(preview.Json()["run"]["id"].get<int64_t>());
  const Reply items = call("GET", T(ops.tenant_a) + "/runs/" + pid + "/items");
  EXPECT_NE(items.body.find("secret value changed"), std::string::npos) << items.body;
  const Reply exec = call("POST", T(ops.tenant_a) + "/restores/execute", body.dump());
  ASSERT_EQ(exec.status, 202) << exec.body;
  ops.Drain();
  const std::string eid = std::to_string(exec.Json()["run"]["id"].get<int64_t>());
  const Reply done = call("GET", T(ops.tenant_a) + "/runs/" + eid + "/items");
  EXPECT_EQ(done.Json()["items"][0]["outcome"], "updated") << done.body;
  call("GET", T(ops.tenant_a) + "/audit");
  // The live value is the backed-up one again.
  auto reader = ops.access->Reader(ops.tenant_a);
  const json live = *(*reader)->Get("deviceManagement/deviceConfigurations/" + id);
  const json plain =
      *(*reader)->Get("deviceManagement/deviceConfigurations/" + id +
                      "/getOmaSettingPlainTextValue(" + "secretReferenceValueId='" +
                      live["omaSettings"][0]["secretReferenceValueId"].get<std::string>() + "')");
  EXPECT_EQ(plain["value"], original);

  const std::string stored = StoredBytes(
      ops.db(), db_path, {"policy_versions", "backup_items", "run_items", "audit_log", "jobs"});
  ASSERT_GT(stored.size(), 1000u);
  for (const std::string& secret : {original, rotated}) {
    EXPECT_EQ(responses.find(secret), std::string::npos) << "in an API response";
    EXPECT_EQ(stored.find(secret), std::string::npos) << "in the database";
    EXPECT_EQ(api.Logs().find(secret), std::string::npos) << "in the log";
  }
  EXPECT_EQ(responses.find("\"sealed\""), std::string::npos) << "the sealed box is not shown";
}

// The MSP's multi-tenant app onboards a customer by admin consent, end to end
// against the simulator: the consent URL (signed state), the admin consents
// (the simulator redirects back), the callback creates the tenant signed in
// with the MSP's app, and its connection check is green and names it after
// the directory. A reused, forged or expired state, and a refused consent,
// are each refused with a clear error and create no tenant.
TEST_P(ApiOpsTest, AdminConsentOnboardsATenantAndBadStatesAreRefused) {
  TA_OPEN_DB(t);
  ops::OpsEnv ops(std::move(t));
  ops.sim.AddTenant("msp-home", {{"msp-app", "Mz7-msp-app-secret"}});
  ops.sim.AddTenant("customer-c", {});
  ops.sim.Configure({{"consent_as", "customer-c"},
                     {"org_name", {{"tenant", "customer-c"}, {"name", "Contoso Dental"}}}});
  ApiOptions options;
  options.public_url = "http://atlas.test";
  options.consent_authority = ops.sim.base_url();
  ApiEnv api(ops.db(), options);
  const Who admin = api.AddUser("admin@msp.example", /*platform_admin=*/true);
  const Who user = api.AddUser("user@msp.example");
  const int64_t tenants_before = ops.Count("SELECT COUNT(*) FROM tenants");

  EXPECT_EQ(api.Call("POST", "/api/v1/onboarding", admin.token, "{}").status, 409)
      << "no platform app yet";
  const Reply set = api.Call("PUT", "/api/v1/platform/app", admin.token,
                             R"({"client_id":"msp-app","client_secret":"Mz7-msp-app-secret"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.body.find("Mz7-msp-app-secret"), std::string::npos);
  EXPECT_EQ(api.Call("PUT", "/api/v1/platform/app", user.token, R"({"client_id":"x"})").status, 403);
  const Reply link = api.Call("POST", "/api/v1/onboarding", admin.token, "{}");
  ASSERT_EQ(link.status, 201) << link.body;
  const std::string url = link.Json()["consent_url"];
  EXPECT_EQ(url.rfind(ops.sim.base_url() + "/organizations/v2.0/adminconsent?client_id=msp-app&", 0),
            0u)
      << url;
  EXPECT_NE(url.find("redirect_uri=http%3A%2F%2Fatlas.test%2Fapi%2Fv1%2Fonboarding%2Fcallback"),
            std::string::npos)
      << url;

  // The customer's admin consents: the simulator sends the browser back.
  httplib::Client sim("127.0.0.1", ops.sim.port());
  auto consent = sim.Get(url.substr(ops.sim.base_url().size()));
  ASSERT_TRUE(consent);
  ASSERT_EQ(consent->status, 302) << consent->body;
  const std::string back = consent->get_header_value("Location");
  ASSERT_EQ(back.rfind("http://atlas.test/api/v1/onboarding/callback?", 0), 0u) << back;
  const std::string callback = back.substr(std::string("http://atlas.test").size());
  EXPECT_NE(callback.find("tenant=customer-c"), std::string::npos);
  const Reply done = api.Call("GET", callback);
  ASSERT_EQ(done.status, 302) << done.body;
  const std::string location = done.Header("Location");
  ASSERT_EQ(location.rfind("/tenant?tenant=", 0), 0u) << location;
  const int64_t tenant = std::stoll(location.substr(15));
  ops.Drain();
  const int64_t check =
      ops.Count("SELECT id FROM runs WHERE tenant_id = $1 AND type = 'tenant.connection_check'",
                {tenant});
  ASSERT_GT(check, 0) << "the callback starts a connection check";
  EXPECT_EQ(ops.Run(tenant, check).status, store::RunStatus::kSucceeded) << ops.JobErrors(check);
  const Reply shown = api.Call("GET", "/api/v1/tenants/" + std::to_string(tenant), admin.token);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.Json()["name"], "Contoso Dental") << "named after the directory";
  EXPECT_EQ(shown.Json()["entra_tenant_id"], "customer-c");
  EXPECT_EQ(shown.Json()["credential_kind"], "platform");
  EXPECT_EQ(shown.Json()["has_credentials"], true);
  EXPECT_EQ(shown.Json()["role"], "owner") << "the admin who asked owns it";
  // A backup of the new tenant works with the MSP's app.
  ops.sim.GeneratePolicies("customer-c", 5, "deviceConfigurations");
  ASSERT_EQ(api.Call("POST", "/api/v1/tenants/" + std::to_string(tenant) + "/policies/sync",
                     admin.token)
                .status,
            202);
  ops.Drain();
  EXPECT_EQ(ops.Count("SELECT COUNT(*) FROM policies WHERE tenant_id = $1", {tenant}), 5);
  const int64_t tenants_after = ops.Count("SELECT COUNT(*) FROM tenants");
  EXPECT_EQ(tenants_after, tenants_before + 1);

  // Reused, forged, expired, refused: each says why; none adds a tenant.
  const Reply reused = api.Call("GET", callback);
  EXPECT_EQ(reused.status, 400);
  EXPECT_NE(reused.body.find("used already"), std::string::npos) << reused.body;
  const std::string state = link.Json()["state"];
  std::string forged = callback;
  const size_t sig = forged.find("."), amp = forged.find('&', sig);
  forged.replace(sig + 1, (amp == std::string::npos ? forged.size() : amp) - sig - 1,
                 std::string(32, 'a'));
  const Reply bad_sig = api.Call("GET", forged);
  EXPECT_EQ(bad_sig.status, 400);
  EXPECT_NE(bad_sig.body.find("signature does not match"), std::string::npos) << bad_sig.body;
  EXPECT_EQ(bad_sig.Json()["field"], "state");
  const SecretBox box = *SecretBox::FromBase64Key(kTestMasterKey);
  ::ta::testing::MustExec(ops.db(),
                          "INSERT INTO onboarding_states (nonce, cloud, created_at, expires_at) "
                          "VALUES ('old-nonce', 'global', 0, 1000)");
  const std::string expired_state =
      "old-nonce." + box.Digest("tenantatlas onboarding state:old-nonce").substr(0, 32);
  const Reply expired = api.Call(
      "GET", "/api/v1/onboarding/callback?admin_consent=True&tenant=customer-c&state=" +
                 expired_state);
  EXPECT_EQ(expired.status, 400);
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  ops.sim.Configure({{"consent_error", "access_denied"}});
  const Reply link2 = api.Call("POST", "/api/v1/onboarding", admin.token, R"({"name":"Fabrikam"})");
  auto refused = sim.Get(link2.Json()["consent_url"].get<std::string>().substr(
      ops.sim.base_url().size()));
  ASSERT_TRUE(refused);
  const std::string refused_back =
      refused->get_header_value("Location").substr(std::string("http://atlas.test").size());
  const Reply declined = api.Call("GET", refused_back);
  EXPECT_EQ(declined.status, 400);
  EXPECT_NE(declined.body.find("consent was not given"), std::string::npos) << declined.body;
  EXPECT_EQ(ops.Count("SELECT COUNT(*) FROM tenants"), tenants_after);
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiOpsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::api
