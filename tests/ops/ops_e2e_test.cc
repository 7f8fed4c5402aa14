// Backup and restore operations end to end, on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <csignal>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "core/log.h"
#include "ops_env.h"
#include "store/accounts.h"

namespace ta::ops {
namespace {

using nlohmann::json;
using store::RunStatus;
using ::ta::testing::TestBackend;
using ::ta::testing::TestDatabase;

class OpsTest : public ::testing::TestWithParam<TestBackend> {};

int64_t NonGetRequests(const sim::GraphSim& sim) {
  int64_t n = 0;
  for (const auto& r : sim.Requests())
    if (r["method"] != "GET" && r["path"].get<std::string>().find("/oauth2/") == std::string::npos)
      ++n;
  return n;
}

std::map<std::string, int> StatusCounts(const std::vector<store::RunItem>& items) {
  std::map<std::string, int> out;
  for (const auto& i : items) out[i.status]++;
  return out;
}

TEST_P(OpsTest, SyncBackupAndSnapshotCaptureEverythingOnce) {
  TA_OPS_ENV(env);
  env.sim.Seed("ms-a", "groups", {{{"id", "ga-1"}, {"displayName", "Finance"}}});
  // Two objects of every type.
  const int64_t objects = 2 * static_cast<int64_t>(catalog::Catalog().size());
  env.sim.GeneratePolicies("ms-a", static_cast<int>(objects));
  const int64_t set_id = env.SyncAndBackUpA();
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies WHERE tenant_id = $1", {env.tenant_a}),
            objects);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM tenant_groups WHERE tenant_id = $1", {env.tenant_a}),
            1);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1", {set_id}),
            objects);
  // Every type was captured.
  EXPECT_EQ(env.Count("SELECT COUNT(DISTINCT policy_type) FROM backup_items WHERE "
                      "backup_set_id = $1",
                      {set_id}),
            static_cast<int64_t>(catalog::Catalog().size()));
  // Complete capture: settings catalog settings (some > 1 page), compliance actions, GP definition
  // values.
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items i JOIN policy_versions v ON v.id = "
                      "i.policy_version_id WHERE i.policy_type = 'settingsCatalog' AND "
                      "v.payload LIKE '%settingInstance%'"),
            2);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items i JOIN policy_versions v ON v.id = "
                      "i.policy_version_id WHERE i.policy_type = 'compliancePolicy' AND "
                      "v.payload LIKE '%scheduledActionConfigurations%'"),
            2);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items i JOIN policy_versions v ON v.id = "
                      "i.policy_version_id WHERE i.policy_type = 'groupPolicyConfiguration' AND "
                      "v.payload LIKE '%presentationValues%'"),
            2);
  // Capturing unchanged content again makes no new version.
  const int64_t policy =
      env.Count("SELECT MIN(id) FROM policies WHERE tenant_id = $1", {env.tenant_a});
  auto snap = StartCaptureSnapshot(*env.runs, env.tenant_a, policy, env.operator_both);
  ASSERT_TRUE(snap.has_value());
  env.Drain();
  auto items = env.Items(env.tenant_a, snap->run.id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].status, "unchanged");
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policy_versions WHERE policy_id = $1", {policy}), 1);
  // Notifications: one per run (the queued one is replaced when the run ends).
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM notifications WHERE user_id = $1", {env.operator_both}),
            3);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND title LIKE "
                      "'Snapshot of %' AND title LIKE '% succeeded.'",
                      {env.operator_both}),
            1);
}

TEST_P(OpsTest, BackupSetKeepsTheItemsThatSucceededWhenSomeCapturesFail) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 10, "deviceConfigurations");
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_a, std::nullopt));
  env.Drain();
  auto set =
      StartBackupSet(*env.runs, env.db(), env.tenant_a, "Nightly", std::nullopt, env.operator_both);
  ASSERT_TRUE(set.has_value());
  env.sim.FailNext(2, 400);  // two captures get a non-retryable error from Graph
  env.Drain();
  const auto r = env.Run(env.tenant_a, set->run.id);
  EXPECT_EQ(r.status, RunStatus::kPartiallySucceeded);
  EXPECT_EQ(r.failed, 2);
  EXPECT_EQ(r.succeeded, 8);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items"), 8);
  for (const auto& i : env.Items(env.tenant_a, set->run.id)) {
    if (i.status == "failed") {
      EXPECT_NE(i.error_message->find("Graph 400"), std::string::npos) << *i.error_message;
    }
  }
}

// One notification per run, rewritten in place as the run moves on, in words
// that name the tenant and the object; "failures only" keeps successes quiet.
TEST_P(OpsTest, NotificationsAreOnePerRunInWordsAndFollowThePreference) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 10, "deviceConfigurations");
  auto titles = [&] {
    std::vector<std::string> out;
    Status s = env.db().Read([&](store::Tx& tx) -> Status {
      auto rows =
          tx.Query("SELECT title, level, read_at FROM notifications WHERE user_id = $1 ORDER BY id",
                   {env.operator_both});
      if (!rows) return rows.error();
      for (const auto& r : *rows) out.push_back(r.Text(0) + " [" + r.Text(1) + "]");
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  };
  auto sync = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(sync.has_value());
  EXPECT_EQ(titles(), std::vector<std::string>{"Inventory sync of Contoso is queued. [info]"});
  env.Drain();
  EXPECT_EQ(titles(), std::vector<std::string>{"Inventory sync of Contoso succeeded. [success]"});
  auto set =
      StartBackupSet(*env.runs, env.db(), env.tenant_a, "Nightly", std::nullopt, env.operator_both);
  ASSERT_TRUE(set.has_value());
  env.sim.FailNext(2, 400);
  env.Drain();
  EXPECT_EQ(titles(),
            (std::vector<std::string>{
                "Inventory sync of Contoso succeeded. [success]",
                "Backup set \u201cNightly\u201d of 10 items in Contoso partially succeeded: "
                "2 failed. [warning]"}));
  // Failures only: ten successful runs add nothing; a failing one does.
  Status pref = env.db().Write([&](store::Tx& tx) {
    return store::Accounts::SetNotifyPreference(tx, env.operator_both, "failures");
  });
  ASSERT_TRUE(pref.ok()) << pref.ToString();
  const int64_t before = env.Count("SELECT COUNT(*) FROM notifications");
  for (int i = 0; i < 10; ++i) {
    auto again = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
    ASSERT_TRUE(again.has_value());
    env.Drain();
  }
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM notifications"), before);
  env.sim.FailNext(10, 400);
  auto bad =
      StartBackupSet(*env.runs, env.db(), env.tenant_a, "Broken", std::nullopt, env.operator_both);
  ASSERT_TRUE(bad.has_value());
  env.Drain();
  const auto t = titles();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[2],
            "Backup set \u201cBroken\u201d of 10 items in Contoso failed: 10 failed. [error]");
}

// The connection check: a token, then one read per object type and directory
// list; a read Graph refuses (403) fails with the permission to grant; a tenant
// without credentials fails the token check and skips the reads.
TEST_P(OpsTest, ConnectionCheckNamesEachMissingPermission) {
  TA_OPS_ENV(env);
  // + groups, users, apps, roles, Intune's audit log, and the secret's expiry
  const size_t reads = catalog::Catalog().size() + 4 + 1 + 1;
  auto ok = runs::StartConnectionCheck(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(ok.has_value());
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, ok->run.id).status, RunStatus::kSucceeded);
  auto items = env.Items(env.tenant_a, ok->run.id);
  ASSERT_EQ(items.size(), reads + 2);  // + the token and its permissions
  for (const auto& i : items) EXPECT_TRUE(i.status == "ok" || i.status == "readable") << i.item_ref;
  // The token's roles grant every type's read and write: nothing to grant.
  for (const auto& i : items)
    if (i.item_ref == "permissions") {
      const json d = json::parse(*i.details);
      EXPECT_EQ(d["types"].size(), catalog::Catalog().size());
      for (const auto& t : d["types"]) EXPECT_TRUE(t["read"] && t["write"]) << t.dump();
      EXPECT_TRUE(d["grant"].empty()) << d["grant"].dump();
    }
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies"), 0) << "a check writes no inventory";

  env.sim.Configure({{"deny_paths",
                      {"identity/conditionalAccess", "deviceAppManagement/mobileApps",
                       "deviceManagement/auditEvents"}}});
  auto denied = runs::StartConnectionCheck(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(denied.has_value());
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, denied->run.id).status, RunStatus::kPartiallySucceeded);
  std::map<std::string, std::string> failed;
  for (const auto& i : env.Items(env.tenant_a, denied->run.id))
    if (i.status == "failed") {
      EXPECT_EQ(i.error_code, "missing_permission") << i.item_ref;
      failed[i.item_ref] = *i.error_message;
    }
  ASSERT_EQ(failed.size(), 4u);
  EXPECT_NE(failed["read:auditEvents"].find("DeviceManagementApps.Read.All"), std::string::npos);
  EXPECT_NE(failed["read:conditionalAccessPolicy"].find("Policy.Read.All"), std::string::npos);
  EXPECT_NE(failed["read:namedLocation"].find("Policy.Read.All"), std::string::npos);
  EXPECT_NE(failed["read:mobileApp"].find("DeviceManagementApps.Read.All"), std::string::npos);
  env.sim.Configure({{"deny_paths", json::array()}});

  const int64_t bare = ::ta::testing::MakeTenant(env.db(), "No credentials yet");
  env.Member(env.operator_both, bare, "owner");
  auto none = runs::StartConnectionCheck(*env.runs, bare, env.operator_both);
  ASSERT_TRUE(none.has_value());
  env.Drain();
  EXPECT_EQ(env.Run(bare, none->run.id).status, RunStatus::kFailed);
  auto bare_items = env.Items(bare, none->run.id);
  ASSERT_EQ(bare_items.size(), reads + 2);
  for (const auto& i : bare_items) {
    if (i.item_ref == "token") {
      EXPECT_EQ(i.status, "failed");
      EXPECT_NE(i.error_message->find("Tenant page"), std::string::npos) << *i.error_message;
    } else {
      EXPECT_EQ(i.status, "skipped") << i.item_ref;
    }
  }
}

// The connection check reads when the client secret ends from the app's own
// registration (the secret whose hint matches), stores it, and without
// Application.Read.All keeps the entered date and says what to grant; the
// check still succeeds.
TEST_P(OpsTest, ConnectionCheckReadsTheSecretsExpiryFromTheAppRegistration) {
  TA_OPS_ENV(env);
  env.sim.AddTenant("ms-e", {{"app-e", "Qx8-secret-e", "2027-01-15T08:00:00.1234567Z"},
                             {"app-other", "Zz9-other", "2026-12-03T00:00:00Z"}});
  const int64_t tenant = ::ta::testing::MakeTenant(env.db(), "Expiring");
  env.Member(env.operator_both, tenant, "owner");
  ASSERT_TRUE(
      SetTenantCredentials(env.db(), env.box, tenant, "ms-e", "app-e", "Qx8-secret-e").ok());
  auto check = [&] {
    auto run = runs::StartConnectionCheck(*env.runs, tenant, env.operator_both);
    EXPECT_TRUE(run.has_value());
    env.Drain();
    EXPECT_EQ(env.Run(tenant, run->run.id).status, RunStatus::kSucceeded);
    for (const auto& i : env.Items(tenant, run->run.id))
      if (i.item_ref == "credential:expiry") return i;
    ADD_FAILURE() << "no credential:expiry item";
    return store::RunItem{};
  };
  auto expiry = check();
  EXPECT_EQ(expiry.status, "ok");
  EXPECT_NE(expiry.details->find("2027-01-15T08:00:00.123Z"), std::string::npos) << *expiry.details;
  EXPECT_EQ(env.Count("SELECT credential_expires_at FROM tenants WHERE id = $1", {tenant}),
            *ParseIso8601("2027-01-15T08:00:00.123Z"));
  EXPECT_EQ(::ta::testing::QueryText(
                env.db(), "SELECT credential_expiry_source FROM tenants WHERE id = $1", {tenant}),
            "graph");
  // The app may not read its registration: the date stays, the item says why.
  ASSERT_TRUE(store::WriteResult<bool>(env.db(), [&](store::Tx& tx) {
                return store::Accounts::SetCredentialExpiry(tx, tenant, *ParseIso8601("2027-03-01"),
                                                            "entered");
              }).value_or(false));
  env.sim.Configure({{"deny_paths", {"applications"}}});
  expiry = check();
  env.sim.Configure({{"deny_paths", json::array()}});
  EXPECT_EQ(expiry.status, "skipped");
  EXPECT_EQ(expiry.error_code, "missing_permission");
  EXPECT_NE(expiry.error_message->find("Application.Read.All"), std::string::npos)
      << *expiry.error_message;
  EXPECT_EQ(env.Count("SELECT credential_expires_at FROM tenants WHERE id = $1", {tenant}),
            *ParseIso8601("2027-03-01"));
  // A date read for a secret that has since been replaced is not stored.
  auto stale = store::WriteResult<bool>(env.db(), [&](store::Tx& tx) {
    return store::Accounts::SetCredentialExpiry(tx, tenant, *ParseIso8601("2030-01-01"), "graph",
                                                env.box.Seal("an-older-secret"));
  });
  ASSERT_TRUE(stale.has_value()) << stale.error().ToString();
  EXPECT_FALSE(*stale);
  EXPECT_EQ(env.Count("SELECT credential_expires_at FROM tenants WHERE id = $1", {tenant}),
            *ParseIso8601("2027-03-01"));
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM run_items WHERE details LIKE '%Qx8%' OR "
                      "error_message LIKE '%Qx8%'"),
            0)
      << "the secret (even its hint) is in no item";
}

// A credential changed while the workers run is used by the next job: no
// restart, no client built from the old secret.
TEST_P(OpsTest, ChangedCredentialsTakeEffectOnTheNextJobWithoutARestart) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 3, "deviceConfigurations");
  // Stores the credentials while the workers run, then syncs: the run's status.
  auto sync_with = [&](const char* client_id, const char* secret) {
    EXPECT_TRUE(
        SetTenantCredentials(env.db(), env.box, env.tenant_a, "ms-a", client_id, secret).ok());
    auto run = StartInventorySync(*env.runs, env.tenant_a, env.operator_both);
    EXPECT_TRUE(run.has_value());
    env.Drain();
    return run ? env.Run(env.tenant_a, run->run.id).status : RunStatus::kCancelled;
  };
  EXPECT_EQ(sync_with("app-a", "a-wrong-secret-Qx8~"), RunStatus::kFailed);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies"), 0);
  EXPECT_EQ(sync_with("app-a", "secret-a-Qx8~"), RunStatus::kSucceeded);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies"), 3);
  // And back to a wrong one: the next job fails again instead of using the old client.
  EXPECT_EQ(sync_with("app-other", "secret-a-Qx8~"), RunStatus::kFailed);
}

TEST_P(OpsTest, PolicyDeletedInIntuneIsMarkedGoneNotDeleted) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 8);
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_a, std::nullopt));
  env.Drain();
  // A new simulator tenant state without one policy: re-seed by replacing the tenant.
  env.sim.Configure({{"reset_throttle", true}});
  ::ta::testing::MustExec(env.db(),
                          "UPDATE policies SET graph_id = 'deleted-in-intune' WHERE id = (SELECT "
                          "MIN(id) FROM policies)");
  auto again = StartInventorySync(*env.runs, env.tenant_a, std::nullopt);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->reused);
  env.Drain();
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies WHERE gone_at IS NOT NULL AND graph_id = "
                      "'deleted-in-intune'"),
            1);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM policies WHERE gone_at IS NULL"), 8);
}

TEST_P(OpsTest, PreviewIsReadOnlyAndShowsAFieldDiff) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 8);
  const int64_t set_id = env.SyncAndBackUpA();
  // Someone changes one policy in Intune after the backup.
  auto writer = env.access->Writer(env.tenant_a);
  auto live =
      graph::ListAll(**env.access->Reader(env.tenant_a), "deviceManagement/deviceConfigurations");
  ASSERT_TRUE(live.has_value());
  const std::string id = (*live)[0]["id"];
  ASSERT_TRUE((*writer)->Patch("deviceManagement/deviceConfigurations/" + id,
                               {{"passwordMinimumLength", 4}}));
  env.sim.ClearRequests();

  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_a, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, /*execute=*/false);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  env.Drain();
  EXPECT_EQ(NonGetRequests(env.sim), 0) << env.sim.Requests().dump();
  auto items = env.Items(env.tenant_a, run->run.id);
  const auto counts = StatusCounts(items);
  EXPECT_EQ(counts.at("would_update"), 1);
  EXPECT_EQ(counts.at("unchanged"), 7);
  for (const auto& i : items) {
    if (i.status != "would_update") continue;
    const json diff = json::parse(*i.details)["diff"];
    ASSERT_EQ(diff.size(), 1u) << diff.dump();
    EXPECT_EQ(diff[0]["path"], "passwordMinimumLength");
    EXPECT_EQ(diff[0]["before"], 4);
  }
  EXPECT_EQ(env.Run(env.tenant_a, run->run.id).status, RunStatus::kSucceeded);
  // Preview wrote nothing to the domain tables.
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_sets"), 1);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE action = 'restore.write'"), 0);
}

TEST_P(OpsTest, FiftyItemRestoreWithThreeFailuresIsPartiallySucceeded) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 47, "deviceConfigurations");
  // Three scripts Intune will refuse on create (the content is not base64).
  env.sim.Seed("ms-a", "deviceManagementScripts",
               {{{"displayName", "Bad 1"}, {"scriptContent", "%%%"}},
                {{"displayName", "Bad 2"}, {"scriptContent", "%%%"}},
                {{"displayName", "Bad 3"}, {"scriptContent", "%%%"}}});
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  env.Drain();
  const auto r = env.Run(env.tenant_b, run->run.id);
  EXPECT_EQ(r.status, RunStatus::kPartiallySucceeded);
  EXPECT_EQ(r.succeeded, 47);
  EXPECT_EQ(r.failed, 3);
  auto items = env.Items(env.tenant_b, run->run.id);
  EXPECT_EQ(items.size(), 50u);
  const auto counts = StatusCounts(items);
  EXPECT_EQ(counts.at("created"), 47);
  EXPECT_EQ(counts.at("failed"), 3);
  for (const auto& i : items) {
    if (i.status == "failed") {
      EXPECT_EQ(i.error_code, "ModelValidationFailure");
      EXPECT_NE(i.error_message->find("base64"), std::string::npos);
    } else {
      EXPECT_TRUE(i.graph_id.has_value());
    }
  }
  EXPECT_EQ(
      env.Count("SELECT COUNT(*) FROM audit_log WHERE action = 'restore.write' AND tenant_id = $1",
                {env.tenant_b}),
      47);
}

TEST_P(OpsTest, SelectionOfFiveTouchesExactlyFivePolicies) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 50, "deviceConfigurations");
  const int64_t set_id = env.SyncAndBackUpA();
  std::vector<int64_t> chosen;
  for (int64_t k = 0; k < 5; ++k)
    chosen.push_back(env.Count(
        "SELECT id FROM backup_items WHERE backup_set_id = $1 ORDER BY id LIMIT 1 OFFSET " +
            std::to_string(k * 9),
        {set_id}));
  env.sim.ClearRequests();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, chosen, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value());
  env.Drain();
  EXPECT_EQ(env.sim.CountRequests("POST", 201), 5);
  auto target =
      graph::ListAll(**env.access->Reader(env.tenant_b), "deviceManagement/deviceConfigurations");
  EXPECT_EQ(target->size(), 5u);
  EXPECT_EQ(env.Items(env.tenant_b, run->run.id).size(), 5u);
  EXPECT_EQ(env.Run(env.tenant_b, run->run.id).status, RunStatus::kSucceeded);
}

TEST_P(OpsTest, RestoreIntoTheSameTenantUpdatesInsteadOfDuplicating) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 16);
  const int64_t set_id = env.SyncAndBackUpA();
  auto live =
      graph::ListAll(**env.access->Reader(env.tenant_a), "deviceManagement/configurationPolicies");
  const std::string id = (*live)[0]["id"];
  ASSERT_TRUE((*env.access->Writer(env.tenant_a))
                  ->Put("deviceManagement/configurationPolicies/" + id,
                        {{"name", (*live)[0]["name"]}, {"settings", json::array()}}));
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_a, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  env.Drain();
  const auto counts = StatusCounts(env.Items(env.tenant_a, run->run.id));
  EXPECT_EQ(counts.at("updated"), 1) << "the settings catalog policy is replaced with PUT";
  EXPECT_EQ(counts.at("unchanged"), 15);
  EXPECT_EQ(counts.count("created"), 0u);
  EXPECT_EQ(env.sim.CountRequests("PUT", 204), 2);  // ours above + the restore's
  auto settings = graph::ListAll(**env.access->Reader(env.tenant_a),
                                 "deviceManagement/configurationPolicies/" + id + "/settings");
  EXPECT_GT(settings->size(), 0u);
}

TEST_P(OpsTest, GroupMappingIsAppliedAndUnmappedGroupsFailTheItemWithoutWrites) {
  TA_OPS_ENV(env);
  env.sim.Seed(
      "ms-a", "groups",
      {{{"id", "ga-fin"}, {"displayName", "Finance"}}, {{"id", "ga-hr"}, {"displayName", "HR"}}});
  env.sim.Seed("ms-b", "groups", {{{"id", "gb-fin"}, {"displayName", "Finance"}}});
  auto target = [](const std::string& g) {
    return json::array(
        {{{"target",
           {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"}, {"groupId", g}}}}});
  };
  env.sim.Seed("ms-a", "deviceConfigurations",
               {{{"displayName", "To Finance"}, {"assignments", target("ga-fin")}},
                {{"displayName", "To HR"}, {"assignments", target("ga-hr")}}});
  const int64_t set_id = env.SyncAndBackUpA();
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  auto suggestions = SuggestMapping(env.db(), env.tenant_a, env.tenant_b, set_id);
  ASSERT_TRUE(suggestions.has_value());
  ASSERT_EQ(suggestions->size(), 2u);
  EXPECT_EQ((*suggestions)[0]["kind"], "group");
  EXPECT_EQ((*suggestions)[0]["source_id"], "ga-fin");
  EXPECT_EQ((*suggestions)[0]["target_id"], "gb-fin");
  EXPECT_TRUE((*suggestions)[0]["suggested"].get<bool>());
  EXPECT_TRUE((*suggestions)[1]["target_id"].is_null());  // no "HR" in B

  RestoreRequest req{env.operator_both, env.tenant_a,          env.tenant_b, set_id,
                     std::nullopt,      {{"ga-fin", "gb-fin"}}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  env.Drain();
  auto items = env.Items(env.tenant_b, run->run.id);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(env.Run(env.tenant_b, run->run.id).status, RunStatus::kPartiallySucceeded);
  for (const auto& i : items) {
    if (i.status == "failed") {
      EXPECT_EQ(i.error_code, "unmapped_reference");
      EXPECT_NE(i.error_message->find("ga-hr"), std::string::npos);
    } else {
      EXPECT_EQ(i.status, "created");
      auto assigned =
          (*env.access->Reader(env.tenant_b))
              ->Get("deviceManagement/deviceConfigurations/" + *i.graph_id + "/assignments");
      ASSERT_EQ((*assigned)["value"].size(), 1u);
      EXPECT_EQ((*assigned)["value"][0]["target"]["groupId"], "gb-fin");
    }
  }
  auto in_b =
      graph::ListAll(**env.access->Reader(env.tenant_b), "deviceManagement/deviceConfigurations");
  EXPECT_EQ(in_b->size(), 1u) << "nothing is written for the item with an unmapped group";
}

TEST_P(OpsTest, IdenticalExecuteWhileQueuedOrRunningReusesTheRun) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 4);
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_both, env.tenant_a,  env.tenant_b, set_id,
                     std::nullopt,      {{"g1", "g2"}}};
  auto first = StartRestore(*env.runs, env.db(), req, true);
  auto queued_again = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(first && queued_again);
  EXPECT_FALSE(first->reused);
  EXPECT_TRUE(queued_again->reused);
  EXPECT_EQ(first->run.id, queued_again->run.id);
  // A worker picks it up: the run is now running, and a double click still reuses it.
  auto claimed = env.queue->Claim("busy-worker", 1);
  ASSERT_EQ(claimed->size(), 1u);
  ASSERT_EQ(env.Run(env.tenant_b, first->run.id).status, RunStatus::kRunning);
  auto running_again = StartRestore(*env.runs, env.db(), req, true);
  EXPECT_TRUE(running_again->reused);
  EXPECT_EQ(running_again->run.id, first->run.id);
  // A different selection or mapping is a different restore.
  RestoreRequest other = req;
  other.group_mapping = {{"g1", "g3"}};
  EXPECT_FALSE(StartRestore(*env.runs, env.db(), other, true)->reused);
  // After it ends, the same request starts a new run.
  ASSERT_TRUE(env.queue->Complete("busy-worker", *claimed).ok());
  auto after = StartRestore(*env.runs, env.db(), req, true);
  EXPECT_FALSE(after->reused);
  EXPECT_NE(after->run.id, first->run.id);
}

TEST_P(OpsTest, CrossTenantRestoreNeedsOperatorRightsInBothTenants) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 2);
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_a, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto denied = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("both the source and the target"), std::string::npos);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM runs WHERE type = 'restore.execute'"), 0);
  req.actor_user_id = env.operator_both;
  auto allowed = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(allowed.has_value());
  EXPECT_EQ(allowed->run.tenant_id, env.tenant_b);  // the run belongs to the target
}

TEST_P(OpsTest, ThrottledTargetFinishesWithZeroFailedItems) {
  sim::SimConfig sc;
  sc.throttle_window_ms = 1000;
  sc.throttle_max_requests = 30;
  sc.throttle_max_writes = 8;
  TA_OPS_ENV(env, sc);
  env.sim.GeneratePolicies("ms-a", 24);
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  env.Drain();
  const auto r = env.Run(env.tenant_b, run->run.id);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.status, RunStatus::kSucceeded) << env.JobErrors(run->run.id);
  EXPECT_GT(env.sim.CountRequests("", 429), 0) << "the restore should have been throttled";
}

TEST_P(OpsTest, CancelStopsBetweenItemsAndSkipsTheRest) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 10, "deviceConfigurations");
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  int creates = 0;
  env.ops->fault_hook = [&](const std::string& event) {
    if (event == "after_create" && ++creates == 3) {
      EXPECT_TRUE(env.runs->Cancel(env.tenant_b, run->run.id, env.operator_both).ok());
    }
  };
  env.Drain();
  const auto r = env.Run(env.tenant_b, run->run.id);
  EXPECT_EQ(r.status, RunStatus::kCancelled);
  const auto counts = StatusCounts(env.Items(env.tenant_b, run->run.id));
  EXPECT_EQ(counts.at("created"), 3);
  EXPECT_EQ(counts.at("skipped"), 7);
}

TEST_P(OpsTest, WorkerKilledRightAfterACreateResumesWithoutADuplicate) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 6, "deviceConfigurations");
  const int64_t set_id = env.SyncAndBackUpA();
  RestoreRequest req{env.operator_both, env.tenant_a, env.tenant_b, set_id, std::nullopt, {}};
  auto run = StartRestore(*env.runs, env.db(), req, true);
  ASSERT_TRUE(run.has_value());

  const std::string cmd = std::string(TA_TEST_HELPER) + " restore-crash '" + env.t->url() + "' " +
                          env.sim.base_url() + " " + kMasterKey;
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL))
      << "the helper should have died by SIGKILL, status " << status;
  auto in_b =
      graph::ListAll(**env.access->Reader(env.tenant_b), "deviceManagement/deviceConfigurations");
  ASSERT_EQ(in_b->size(), 1u) << "one policy was created before the kill";
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM run_items WHERE run_id = $1 AND status = 'pending'",
                      {run->run.id}),
            1);

  // The lease lapses; this worker rescues the job and resumes it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env.Run(env.tenant_b, run->run.id).status == RunStatus::kRunning &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(env.pool->RunOnce().has_value());
    std::this_thread::sleep_for(
        std::chrono::milliseconds(100));  // waiting for the 1 s lease to lapse
  }
  EXPECT_EQ(env.Run(env.tenant_b, run->run.id).status, RunStatus::kSucceeded);
  in_b =
      graph::ListAll(**env.access->Reader(env.tenant_b), "deviceManagement/deviceConfigurations");
  EXPECT_EQ(in_b->size(), 6u) << "exactly one copy of each policy";
  std::set<std::string> names;
  for (const auto& p : *in_b) names.insert(p["displayName"].get<std::string>());
  EXPECT_EQ(names.size(), 6u);
  const auto counts = StatusCounts(env.Items(env.tenant_b, run->run.id));
  EXPECT_EQ(counts.at("created"), 6);
  EXPECT_EQ(env.Count("SELECT attempts FROM jobs WHERE run_id = $1", {run->run.id}), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, OpsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
