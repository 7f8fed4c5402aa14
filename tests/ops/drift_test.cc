// Drift detection end to end on both backends: changes made in the simulator
// (by an admin, recorded in Intune's audit log, and one the log does not
// cover) are found with their field diffs and actors; accepting a finding
// moves the baseline; reverting one restores the object through the normal
// restore preview and execute; a scheduled backup can detect drift too.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "ops_env.h"
#include "runs/drift.h"
#include "store/backup_sets.h"
#include "store/drift.h"

namespace ta::ops {
namespace {

using nlohmann::json;
using ::ta::testing::TestBackend;

class DriftTest : public ::testing::TestWithParam<TestBackend> {};

std::vector<store::DriftFinding> Findings(OpsEnv& env, const std::string& status = "") {
  return *store::ReadResult<std::vector<store::DriftFinding>>(env.db(), [&](store::Tx& tx) {
    return store::Drift::List(tx, env.tenant_a, status, std::nullopt, 100);
  });
}

const store::DriftFinding* Find(const std::vector<store::DriftFinding>& all,
                                const std::string& graph_id) {
  for (const auto& f : all)
    if (f.graph_id == graph_id) return &f;
  return nullptr;
}

// Runs drift detection in tenant A; returns the run.
store::RunRecord Detect(OpsEnv& env) {
  auto run = runs::StartDriftDetection(*env.runs, env.tenant_a, env.operator_both);
  EXPECT_TRUE(run.has_value()) << (run ? "" : run.error().ToString());
  env.Drain();
  return env.Run(env.tenant_a, run->run.id);
}

// A Wi-Fi policy backed up as "v1", then edited to "v2" by an admin in the portal.
void BackUpThenEditWifi(OpsEnv& env) {
  env.sim.Seed("ms-a", "deviceConfigurations",
               {{{"id", "wifi-1"}, {"displayName", "Wi-Fi"}, {"description", "v1"}}});
  env.SyncAndBackUpA();
  ASSERT_TRUE(env.sim.AdminChange("ms-a", "deviceConfigurations", "wifi-1",
                                  {{"description", "v2"}}, "alex@contoso.example"));
}

json ItemDetails(OpsEnv& env, int64_t run, const std::string& ref) {
  for (const auto& i : env.Items(env.tenant_a, run))
    if (i.item_ref == ref) return json::parse(i.details.value_or("{}"));
  return json();
}

TEST_P(DriftTest, FindsChangesWithActorsThenAcceptMovesTheBaselineAndRevertRestores) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 6, "deviceConfigurations");
  env.sim.Seed("ms-a", "deviceConfigurations",
               {{{"id", "wifi-1"}, {"displayName", "Wi-Fi"}, {"description", "v1"}},
                {{"id", "vpn-1"}, {"displayName", "VPN"}, {"description", "corp"}}});
  const int64_t first_set = env.SyncAndBackUpA();
  ASSERT_GT(first_set, 0);

  // Nothing changed: in sync, no findings.
  auto quiet = Detect(env);
  EXPECT_EQ(quiet.status, store::RunStatus::kSucceeded) << env.JobErrors(quiet.id);
  // Each catalog type's and 4 directory lists, 8 policies, the comparison.
  EXPECT_EQ(quiet.total, static_cast<int64_t>(catalog::Catalog().size()) + 4 + 8 + 1);
  EXPECT_EQ(ItemDetails(env, quiet.id, kDriftFindingsRef)["baseline_set_id"], first_set);
  EXPECT_TRUE(Findings(env).empty());

  // An admin edits the Wi-Fi policy and deletes the VPN one in the portal;
  // a policy appears that the audit log does not cover.
  ASSERT_TRUE(env.sim.AdminChange("ms-a", "deviceConfigurations", "wifi-1",
                                  {{"description", "v2"}}, "alex@contoso.example"));
  ASSERT_TRUE(env.sim.Remove("ms-a", "deviceConfigurations", "vpn-1", "sam@contoso.example"));
  env.sim.Seed("ms-a", "deviceConfigurations",
               {{{"id", "kiosk-1"}, {"displayName", "Kiosk"}, {"description", "new"}}});

  auto found = Detect(env);
  EXPECT_EQ(found.status, store::RunStatus::kSucceeded) << env.JobErrors(found.id);
  const json counts = ItemDetails(env, found.id, kDriftFindingsRef);
  EXPECT_EQ(counts["changed"], 1);
  EXPECT_EQ(counts["removed"], 1);
  EXPECT_EQ(counts["added"], 1);
  EXPECT_EQ(counts["newly_opened"], 3);
  auto open = Findings(env, "open");
  ASSERT_EQ(open.size(), 3u);
  const auto* wifi = Find(open, "wifi-1");
  const auto* vpn = Find(open, "vpn-1");
  const auto* kiosk = Find(open, "kiosk-1");
  ASSERT_TRUE(wifi && vpn && kiosk);
  EXPECT_EQ(wifi->kind, "changed");
  EXPECT_EQ(wifi->actor, "alex@contoso.example") << wifi->actor_detail;
  EXPECT_NE(wifi->actor_detail.find("Patch deviceConfigurations"), std::string::npos);
  EXPECT_TRUE(wifi->changed_at.has_value());
  const json diff = json::parse(wifi->diff);
  ASSERT_EQ(diff.size(), 1u) << diff.dump();
  EXPECT_EQ(diff[0]["path"], "description");
  EXPECT_EQ(diff[0]["before"], "v1");  // the baseline
  EXPECT_EQ(diff[0]["after"], "v2");   // live
  EXPECT_EQ(vpn->kind, "removed");
  EXPECT_EQ(vpn->actor, "sam@contoso.example");
  EXPECT_EQ(kiosk->kind, "added");
  EXPECT_EQ(kiosk->actor, "unknown");
  EXPECT_NE(kiosk->actor_detail.find("no change to this object"), std::string::npos);
  // The lookup asked Graph for exactly the object's events in the window.
  bool filtered = false;
  for (const auto& r : env.sim.Requests())
    if (r["path"].get<std::string>().find("auditEvents?$filter=activityDateTime ge ") !=
            std::string::npos &&
        r["path"].get<std::string>().find("resourceId eq 'wifi-1'") != std::string::npos)
      filtered = true;
  EXPECT_TRUE(filtered) << env.sim.Requests().dump();

  // Seen again: the same three findings, no duplicates.
  auto again = Detect(env);
  EXPECT_EQ(ItemDetails(env, again.id, kDriftFindingsRef)["newly_opened"], 0);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM drift_findings WHERE tenant_id = $1", {env.tenant_a}),
            3);
  EXPECT_EQ(Findings(env, "open")[0].last_run_id, again.id);

  // Accept the new kiosk policy: the baseline moves (a copy with it in).
  auto accepted = runs::AcceptDrift(env.db(), env.tenant_a, kiosk->id, env.operator_both,
                                    ToUnixMillis(SystemClock::Instance().Now()));
  ASSERT_TRUE(accepted.has_value()) << accepted.error().ToString();
  EXPECT_EQ(accepted->status, "accepted");
  ASSERT_TRUE(accepted->accepted_set_id.has_value());
  auto base = store::ReadResult<std::optional<int64_t>>(env.db(), [&](store::Tx& tx) {
    return store::Drift::BaselineSet(tx, env.tenant_a, std::nullopt, std::nullopt);
  });
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(*base, accepted->accepted_set_id);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1 AND graph_id = "
                      "'kiosk-1'",
                      {*accepted->accepted_set_id}),
            1);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1",
                      {*accepted->accepted_set_id}),
            9);  // the 8 of the first backup and the kiosk
  // Accepting twice is refused and changes nothing.
  auto twice = runs::AcceptDrift(env.db(), env.tenant_a, kiosk->id, env.operator_both, 0);
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), Status::Code::kFailedPrecondition);
  // An added object has no backup to revert to.
  auto no_revert = runs::RevertDrift(*env.runs, env.db(), env.tenant_a, kiosk->id,
                                     env.operator_both, 0);
  ASSERT_FALSE(no_revert.has_value());

  // Revert the Wi-Fi edit and the VPN deletion: the normal restore preview,
  // then the restore itself.
  for (const auto* f : {wifi, vpn}) {
    auto preview = runs::RevertDrift(*env.runs, env.db(), env.tenant_a, f->id, env.operator_both,
                                     ToUnixMillis(SystemClock::Instance().Now()));
    ASSERT_TRUE(preview.has_value()) << preview.error().ToString();
    EXPECT_EQ(preview->run.type, runs::kRestorePreview);
    env.Drain();
    EXPECT_EQ(env.Run(env.tenant_a, preview->run.id).status, store::RunStatus::kSucceeded);
    auto items = env.Items(env.tenant_a, preview->run.id);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].status, f->kind == "changed" ? "would_update" : "would_create");
    runs::RestoreRequest req{env.operator_both, env.tenant_a,   env.tenant_a,
                             *f->baseline_set_id, std::vector<int64_t>{*f->baseline_item_id}, {}};
    auto restore = runs::StartRestore(*env.runs, env.db(), req, true);
    ASSERT_TRUE(restore.has_value()) << restore.error().ToString();
    env.Drain();
    EXPECT_EQ(env.Run(env.tenant_a, restore->run.id).status, store::RunStatus::kSucceeded)
        << env.JobErrors(restore->run.id);
  }
  auto live = (*env.access->Reader(env.tenant_a))
                  ->Get("deviceManagement/deviceConfigurations/wifi-1");
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ((*live)["description"], "v1");

  // The next drift run sees the tenant match its baseline: nothing open, the
  // reverted findings closed as reverted, the accepted one as accepted.
  auto after = Detect(env);
  EXPECT_EQ(after.status, store::RunStatus::kSucceeded) << env.JobErrors(after.id);
  EXPECT_EQ(ItemDetails(env, after.id, kDriftFindingsRef)["baseline_set_id"],
            *accepted->accepted_set_id);
  EXPECT_TRUE(Findings(env, "open").empty()) << runs::DriftFindingJson(Findings(env)[0]).dump();
  auto all = Findings(env);
  EXPECT_EQ(Find(all, "wifi-1")->status, "reverted");
  EXPECT_EQ(Find(all, "vpn-1")->status, "reverted");
  EXPECT_EQ(Find(all, "kiosk-1")->status, "accepted");
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE action = 'drift.accepted'"), 1);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM audit_log WHERE action = 'drift.revert_started'"), 2);
}

TEST_P(DriftTest, WithoutABaselineTheRunFailsSayingWhatToDo) {
  TA_OPS_ENV(env);
  env.sim.GeneratePolicies("ms-a", 3, "deviceConfigurations");
  env.sim.ClearRequests();
  auto run = Detect(env);
  EXPECT_EQ(run.status, store::RunStatus::kFailed);
  ASSERT_TRUE(run.error_message.has_value());
  EXPECT_NE(run.error_message->find("take a backup"), std::string::npos) << *run.error_message;
  EXPECT_EQ(env.sim.CountRequests(""), 0);  // it failed before any Graph call
}

TEST_P(DriftTest, AnAuditLogTheAppCannotReadLeavesTheActorUnknownAndSaysWhy) {
  TA_OPS_ENV(env);
  BackUpThenEditWifi(env);
  env.sim.Configure({{"deny_paths", {"deviceManagement/auditEvents"}}});
  auto run = Detect(env);
  EXPECT_EQ(run.status, store::RunStatus::kSucceeded) << env.JobErrors(run.id);
  auto open = Findings(env, "open");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].actor, "unknown");
  EXPECT_NE(open[0].actor_detail.find("DeviceManagementApps.Read.All"), std::string::npos);
}

TEST_P(DriftTest, AScheduledBackupThatDetectsDriftComparesWithThePreviousBaseline) {
  TA_OPS_ENV(env);
  BackUpThenEditWifi(env);
  runs::ScheduledBackup b;
  b.tenant_id = env.tenant_a;
  b.schedule_id = 7;
  b.slot_at = 1;
  b.set_name = "Nightly";
  b.detect_drift = true;
  auto run = runs::StartScheduledBackup(*env.runs, b);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, run->run.id).status, store::RunStatus::kSucceeded)
      << env.JobErrors(run->run.id);
  auto open = Findings(env, "open");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].actor, "alex@contoso.example");
  // The new set is the baseline from now on: the next drift run is quiet.
  auto next = Detect(env);
  EXPECT_TRUE(Findings(env, "open").empty());
  EXPECT_EQ(Findings(env)[0].status, "resolved");
  EXPECT_EQ(ItemDetails(env, next.id, kDriftFindingsRef)["closed"], 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, DriftTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
