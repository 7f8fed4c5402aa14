// The typed job payloads: what a start function writes, its handler reads.
#include <gtest/gtest.h>

#include "runs/run_params.h"

namespace ta::runs {
namespace {

TEST(RunParams, EveryOperationRoundTrips) {
  auto c = CaptureParams::Parse(CaptureParams{42}.ToJson());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->policy_id, 42);

  BackupSetParams nightly;
  nightly.name = "Nightly";
  nightly.policy_ids = std::vector<int64_t>{3, 1};
  nightly.user_id = 7;
  auto b = BackupSetParams::Parse(nightly.ToJson());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->name, "Nightly");
  EXPECT_EQ(b->policy_ids, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(b->user_id, std::optional<int64_t>(7));
  EXPECT_FALSE(b->sync_first);
  EXPECT_FALSE(b->schedule_id);
  BackupSetParams all_params;
  all_params.name = "All";
  all_params.sync_first = true;
  all_params.schedule_id = 4;
  all_params.slot_at = 1'790'000'000'000;
  auto all = BackupSetParams::Parse(all_params.ToJson());
  ASSERT_TRUE(all.has_value());
  EXPECT_FALSE(all->policy_ids);
  EXPECT_TRUE(all->sync_first);
  EXPECT_EQ(all->schedule_id, std::optional<int64_t>(4));
  EXPECT_EQ(all->slot_at, std::optional<int64_t>(1'790'000'000'000));
  auto bad = BackupSetParams::Parse(R"({"name": "x", "policy_ids": null, "sync_first": 1})");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("sync_first"), std::string::npos);

  RestoreParams r{5, 9, std::vector<int64_t>{2}, {{"src-group", "dst-group"}}, 11};
  auto back = RestoreParams::Parse(r.ToJson());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->source_tenant_id, 5);
  EXPECT_EQ(back->backup_set_id, 9);
  EXPECT_EQ(back->item_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(back->group_mapping.at("src-group"), "dst-group");
  EXPECT_EQ(back->user_id, 11);
}

// Before: a handler read `params.value("policy_id", 0)`, so a key renamed on
// the start side read as policy 0 and failed far away, or not at all.
TEST(RunParams, ARenamedOrMistypedKeyFailsNamingTheField) {
  auto renamed = CaptureParams::Parse(R"({"policyId": 42})");
  ASSERT_FALSE(renamed.has_value());
  EXPECT_NE(renamed.error().message().find("payload.policy_id"), std::string::npos);
  auto mistyped =
      RestoreParams::Parse(R"({"source_tenant_id": 1, "backup_set_id": "9", "user_id": 1})");
  ASSERT_FALSE(mistyped.has_value());
  EXPECT_NE(mistyped.error().message().find("payload.backup_set_id"), std::string::npos);
  auto mapping = RestoreParams::Parse(
      R"({"source_tenant_id": 1, "backup_set_id": 9, "user_id": 1, "group_mapping": {"a": 1}})");
  ASSERT_FALSE(mapping.has_value());
  EXPECT_NE(mapping.error().message().find("payload.group_mapping.a"), std::string::npos);
  EXPECT_FALSE(BackupSetParams::Parse("not json").has_value());
  EXPECT_FALSE(BackupSetParams::Parse(R"({"policy_ids": [1]})").has_value()) << "name missing";
}

}  // namespace
}  // namespace ta::runs
