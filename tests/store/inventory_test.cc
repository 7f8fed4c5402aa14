// The inventory and backup-set repositories on both backends.
#include <gtest/gtest.h>

#include "store/backup_sets.h"
#include "store/inventory.h"
#include "store/row_reader.h"
#include "support/test_database.h"

namespace ta::store {
namespace {

using ::ta::testing::MakeTenant;
using ::ta::testing::TestBackend;

class InventoryTest : public ::testing::TestWithParam<TestBackend> {};

template <typename T, typename F>
T Must(Database& db, F&& fn) {
  auto r = WriteResult<T>(db, fn);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return r ? *r : T{};
}

TEST_P(InventoryTest, SyncCaptureAndBackUpRoundTripAsTypedRecords) {
  TA_OPEN_DB(t);
  Database& db = t->db();
  const int64_t a = MakeTenant(db, "A"), b = MakeTenant(db, "B");
  const int64_t gone = Must<int64_t>(db, [&](Tx& tx) {
    return Inventory::ApplySync(
        tx, a, "deviceConfiguration",
        {{"g1", "One", "windows10", "#t", "2026-01-01"}, {"g2", "Two", "", "#t", ""}}, 1000);
  });
  EXPECT_EQ(gone, 0);
  // A later sync that no longer lists g2 marks it gone, and keeps its row.
  EXPECT_EQ(Must<int64_t>(db,
                          [&](Tx& tx) {
                            return Inventory::ApplySync(tx, a, "deviceConfiguration",
                                                        {{"g1", "One", "windows10", "#t", ""}},
                                                        2000);
                          }),
            1);
  PolicyFilter with_gone;
  with_gone.include_gone = true;
  auto all = Must<std::vector<PolicyRecord>>(
      db, [&](Tx& tx) { return Inventory::ListPolicies(tx, a, with_gone); });
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].display_name, "One");
  EXPECT_EQ(all[0].platform, std::optional<std::string>("windows10"));
  EXPECT_FALSE(all[0].gone_at);
  EXPECT_EQ(all[1].gone_at, std::optional<int64_t>(2000));
  const int64_t p = all[0].id;
  // Another tenant's policy is 403, a missing one 404.
  auto foreign = ReadResult<PolicyRecord>(db, [&](Tx& tx) { return Inventory::Policy(tx, b, p); });
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code(), Status::Code::kPermissionDenied);
  auto missing =
      ReadResult<PolicyRecord>(db, [&](Tx& tx) { return Inventory::Policy(tx, a, 999999); });
  EXPECT_EQ(missing.error().code(), Status::Code::kNotFound);

  // Identical content keeps the version; a change adds one.
  auto v1 = Must<Inventory::Stored>(
      db, [&](Tx& tx) { return Inventory::StoreVersion(tx, a, p, "{}", "[]", "h1", 0, 10); });
  auto same = Must<Inventory::Stored>(
      db, [&](Tx& tx) { return Inventory::StoreVersion(tx, a, p, "{}", "[]", "h1", 0, 11); });
  auto v2 = Must<Inventory::Stored>(db, [&](Tx& tx) {
    return Inventory::StoreVersion(tx, a, p, "{\"x\":1}", "[]", "h2", 0, 12);
  });
  EXPECT_EQ(v1.version, 1);
  EXPECT_TRUE(same.unchanged);
  EXPECT_EQ(same.version_id, v1.version_id);
  EXPECT_EQ(v2.version, 2);
  auto versions = Must<std::vector<VersionRecord>>(
      db, [&](Tx& tx) { return Inventory::Versions(tx, a, p, std::nullopt, 10); });
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version, 2);  // newest first
  auto v = Must<std::optional<VersionRecord>>(
      db, [&](Tx& tx) { return Inventory::Version(tx, a, p, 2); });
  ASSERT_TRUE(v);
  EXPECT_EQ(v->payload, "{\"x\":1}");

  // A backup set for a run, found again on retry; items added once.
  const int64_t set = Must<int64_t>(
      db, [&](Tx& tx) { return BackupSets::ForRun(tx, a, 77, "Nightly", "", std::nullopt, 5); });
  EXPECT_EQ(Must<int64_t>(db,
                          [&](Tx& tx) {
                            return BackupSets::ForRun(tx, a, 77, "Nightly", "", std::nullopt, 6);
                          }),
            set);
  BackupItemRecord item{0,    a,     set,  p,    v2.version_id, "deviceConfiguration",
                        "g1", "One", "{}", "[]", "h2",          7};
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(db.Write([&](Tx& tx) { return BackupSets::AddItem(tx, item); }).ok());
  auto items = Must<std::vector<BackupItemRecord>>(
      db, [&](Tx& tx) { return BackupSets::Items(tx, a, set, std::nullopt); });
  ASSERT_EQ(items.size(), 1u) << "the second add is a no-op";
  EXPECT_EQ(items[0].policy_version_id, v2.version_id);
  auto none = Must<std::vector<BackupItemRecord>>(
      db, [&](Tx& tx) { return BackupSets::Items(tx, b, set, std::nullopt); });
  EXPECT_TRUE(none.empty()) << "scoped by tenant";
  auto record = Must<BackupSetRecord>(db, [&](Tx& tx) { return BackupSets::Get(tx, a, set); });
  EXPECT_EQ(record.item_count, 1);
  EXPECT_EQ(record.Status(), "incomplete") << "its run (77) does not exist, so it never succeeded";
}

TEST(RowReader, ASelectListAndItsReaderThatDisagreeFailLoudly) {
  const Row row({std::string("1"), std::string("a")});
  EXPECT_THROW(
      {
        RowReader r(row);
        (void)r.Int();
      },
      std::logic_error);
  EXPECT_NO_THROW({
    RowReader r(row);
    (void)r.Int();
    (void)r.Text();
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, InventoryTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::store
