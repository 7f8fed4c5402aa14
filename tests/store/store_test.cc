// Storage behaviour, identical on SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "store/audit_log.h"
#include "store/migrations.h"
#include "store/notifications.h"
#include "store/runs_repository.h"
#include "store/sql_text.h"
#include "store/write_batcher.h"
#include "support/test_database.h"

namespace ta::store {
namespace {

using ::ta::testing::MakeTenant;
using ::ta::testing::MustExec;
using ::ta::testing::QueryInt;
using ::ta::testing::TestBackend;

class StoreTest : public ::testing::TestWithParam<TestBackend> {};

NewRun SnapshotRun(int64_t tenant, const std::string& key) {
  NewRun r;
  r.tenant_id = tenant;
  r.type = "policy.capture_snapshot";
  r.idempotency_key = key;
  r.target_id = "42";
  return r;
}

Result<CreateOrReuseResult> CreateOrReuse(Database& db, const NewRun& run) {
  return WriteResult<CreateOrReuseResult>(
      db, [&](Tx& tx) { return RunsRepository::CreateOrReuse(tx, run, 1000); });
}

Status Move(Database& db, int64_t tenant, int64_t run, RunStatus to) {
  return db.Write([&](Tx& tx) { return RunsRepository::Transition(tx, tenant, run, to, 2000); });
}

TEST_P(StoreTest, MigrationsApplyOnceAndReopenIsANoOp) {
  TA_OPEN_DB(t);
  auto v = AppliedMigrations(t->db());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
  ASSERT_TRUE(Migrate(t->db()).ok());
  EXPECT_EQ(*AppliedMigrations(t->db()),
            (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
  for (const char* table :
       {"tenants", "users", "api_tokens", "memberships", "policies", "policy_versions",
        "backup_sets", "backup_items", "runs", "run_items", "jobs", "notifications", "audit_log"}) {
    EXPECT_EQ(QueryInt(t->db(), std::string("SELECT COUNT(*) FROM ") + table), 0) << table;
  }
}

TEST_P(StoreTest, FailedWriteRollsBackItsOwnChangesOnly) {
  TA_OPEN_DB(t);
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      Status s = t->db().Write([&](Tx& tx) -> Status {
        auto r = tx.Exec("INSERT INTO tenants (name, created_at) VALUES ($1, 0)",
                         {"t" + std::to_string(i)});
        if (!r) return r.error();
        return i % 2 ? Status::InvalidArgument("boom") : Status::Ok();
      });
      (s.ok() ? ok : failed)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(failed, 8);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM tenants"), 8);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM tenants WHERE name IN ('t1','t3','t5')"), 0);
}

// Tx::Defer: on PostgreSQL the write travels with the next statement or the
// COMMIT (a pipeline), so its error surfaces late. One connection (pool of 1)
// so that each transaction meets whatever the one before left on it.
TEST_P(StoreTest, DeferredWritesAreSeenLaterAndTheirErrorsFailTheWholeTransaction) {
  store::DatabaseOptions one_connection;
  one_connection.pg_pool_size = 1;
  TA_OPEN_DB(t, one_connection);
  auto& db = t->db();
  const char* insert = "INSERT INTO tenants (name, created_at) VALUES ($1, 0)";
  // Seen by a later statement of the same transaction, and committed.
  auto seen = store::WriteResult<int64_t>(db, [&](Tx& tx) -> Result<int64_t> {
    TA_RETURN_IF_ERROR(tx.Defer(insert, {std::string("a")}));
    TA_RETURN_IF_ERROR(tx.Defer(insert, {std::string("b")}));
    auto n = tx.Query("SELECT COUNT(*) FROM tenants WHERE name IN ('a', 'b')");
    if (!n) return Unexpected(n.error());
    return n->front().Int(0);
  });
  ASSERT_TRUE(seen.has_value()) << seen.error().ToString();
  EXPECT_EQ(*seen, 2);
  // Deferred as the last writes: they commit with the COMMIT.
  ASSERT_TRUE(db.Write([&](Tx& tx) { return tx.Defer(insert, {std::string("c")}); }).ok());
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants"), 3);

  // A deferred write that fails (a duplicate name) fails the commit, and the
  // transaction's other writes, deferred or not, are rolled back with it.
  Status dup = db.Write([&](Tx& tx) -> Status {
    auto n = tx.Exec(insert, {std::string("d")});
    if (!n) return n.error();
    TA_RETURN_IF_ERROR(tx.Defer(insert, {std::string("e")}));
    return tx.Defer(insert, {std::string("a")});
  });
  EXPECT_EQ(dup.code(), Status::Code::kAlreadyExists) << dup.ToString();
  // ...or fails the next statement that needs an answer.
  Status at_query = db.Write([&](Tx& tx) -> Status {
    TA_RETURN_IF_ERROR(tx.Defer(insert, {std::string("b")}));
    auto n = tx.Query("SELECT COUNT(*) FROM tenants");
    return n ? Status::Ok() : n.error();
  });
  EXPECT_EQ(at_query.code(), Status::Code::kAlreadyExists) << at_query.ToString();
  // A deferred statement that cannot even be prepared fails the same way, and
  // leaves the connection's statement cache sound for the next use.
  Status bad = db.Write([&](Tx& tx) -> Status {
    TA_RETURN_IF_ERROR(tx.Defer("INSERT INTO no_such_table VALUES ($1)", {int64_t{1}}));
    return tx.Defer(insert, {std::string("f")});
  });
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("no_such_table"), std::string::npos) << bad.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants WHERE name IN ('d', 'e', 'f')"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants"), 3);

  // Reads end without waiting for their COMMIT; the next use of the
  // connection reads that answer first. Alternate reads and writes on the one
  // connection: each read sees every write before it.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(db.Write([&](Tx& tx) { return tx.Defer(insert, {"r" + std::to_string(i)}); }).ok());
    EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants WHERE name LIKE 'r%'"), i + 1);
  }
  // A read that fails rolls back, and the connection stays usable.
  Status failed_read = db.Read([](Tx& tx) -> Status {
    auto r = tx.Query("SELECT * FROM no_such_table");
    return r ? Status::Ok() : r.error();
  });
  EXPECT_FALSE(failed_read.ok());
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants"), 53);
}

// PostgreSQL: the server ends a connection in the middle of a transaction,
// after one deferred write was sent and with another still queued. The
// transaction is all or nothing (its COMMIT fails, or Write retries it whole
// on a new connection), and the dead connection is never handed out again.
TEST_P(StoreTest, AConnectionKilledWithDeferredWritesQueuedLosesThemWhole) {
  if (GetParam() != TestBackend::kPostgres) GTEST_SKIP() << "a PostgreSQL connection's death";
  store::DatabaseOptions two;
  two.pg_pool_size = 2;
  TA_OPEN_DB(t, two);
  auto& db = t->db();
  const char* insert = "INSERT INTO tenants (name, created_at) VALUES ($1, 0)";
  int attempts = 0;
  int64_t victim = 0;
  Status s = db.Write([&](Tx& tx) -> Status {
    TA_RETURN_IF_ERROR(tx.Defer(insert, {std::string("x")}));
    if (++attempts > 1) return Status::Ok();
    auto pid = tx.Query("SELECT pg_backend_pid()");  // sends the deferred "x" with it
    if (!pid) return pid.error();
    victim = pid->front().Int(0);
    TA_RETURN_IF_ERROR(tx.Defer(insert, {std::string("y")}));  // queued, not sent
    // From the pool's other connection; waits (5 s at most) until it is gone.
    return db.Read([&](Tx& other) -> Status {
      auto r = other.Query("SELECT pg_terminate_backend(CAST($1 AS INTEGER), 5000)", {victim});
      if (!r) return r.error();
      return r->front().Text(0) == "t" ? Status::Ok() : Status::Internal("not terminated");
    });
  });
  ASSERT_GT(victim, 0);
  std::cout << "killed backend " << victim << ": " << (s.ok() ? "OK" : s.ToString()) << " after "
            << attempts << " attempt(s)\n";
  // Either the commit failed (nothing written) or Write ran the whole
  // transaction again on another connection (only "x": "y" was the first
  // attempt's alone).
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants WHERE name = 'x'"), s.ok() ? 1 : 0)
      << s.ToString() << ", attempts " << attempts;
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants WHERE name = 'y'"), 0);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), Status::Code::kStorageUnavailable) << s.ToString();
  }
  // The pool goes on with live connections only: every write and read works,
  // and none of them runs on the killed backend.
  for (int i = 0; i < 10; ++i) {
    auto pid = store::WriteResult<int64_t>(db, [&](Tx& tx) -> Result<int64_t> {
      TA_RETURN_IF_ERROR(tx.Defer(insert, {"after" + std::to_string(i)}));
      auto r = tx.Query("SELECT pg_backend_pid()");
      if (!r) return Unexpected(r.error());
      return r->front().Int(0);
    });
    ASSERT_TRUE(pid.has_value()) << i << ": " << pid.error().ToString();
    EXPECT_NE(*pid, victim);
  }
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM tenants WHERE name LIKE 'after%'"), 10);
}

TEST_P(StoreTest, ConstraintViolationBecomesAlreadyExists) {
  TA_OPEN_DB(t);
  MakeTenant(t->db(), "dup");
  Status s = t->db().Write([](Tx& tx) -> Status {
    auto r = tx.Exec("INSERT INTO tenants (name, created_at) VALUES ('dup', 0)");
    return r ? Status::Ok() : r.error();
  });
  EXPECT_EQ(s.code(), Status::Code::kAlreadyExists) << s.ToString();
}

TEST_P(StoreTest, CreateOrReuseReusesOnlyWhileActive) {
  TA_OPEN_DB(t);
  const int64_t tenant = MakeTenant(t->db(), "a");
  auto first = CreateOrReuse(t->db(), SnapshotRun(tenant, "k1"));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(first->run.status, RunStatus::kQueued);
  auto again = CreateOrReuse(t->db(), SnapshotRun(tenant, "k1"));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->run.id, first->run.id);

  ASSERT_TRUE(Move(t->db(), tenant, first->run.id, RunStatus::kRunning).ok());
  EXPECT_TRUE(CreateOrReuse(t->db(), SnapshotRun(tenant, "k1"))->reused);
  ASSERT_TRUE(Move(t->db(), tenant, first->run.id, RunStatus::kSucceeded).ok());
  auto after = CreateOrReuse(t->db(), SnapshotRun(tenant, "k1"));
  EXPECT_FALSE(after->reused);
  EXPECT_NE(after->run.id, first->run.id);
}

// The set-based pair of CreateOrReuse: ActiveByKeys finds exactly the asked
// (tenant, key) pairs that are active, and CreateMany inserts the runs whose
// key has no active run, skipping (not failing on) the others.
TEST_P(StoreTest, ActiveByKeysAndCreateManyWorkOnExactPairs) {
  TA_OPEN_DB(t);
  const int64_t a = MakeTenant(t->db(), "a"), b = MakeTenant(t->db(), "b");
  auto active_a = CreateOrReuse(t->db(), SnapshotRun(a, "k1"));
  auto ended_a = CreateOrReuse(t->db(), SnapshotRun(a, "k2"));
  ASSERT_TRUE(active_a && ended_a);
  ASSERT_TRUE(Move(t->db(), a, ended_a->run.id, RunStatus::kCancelled).ok());
  auto active_b = CreateOrReuse(t->db(), SnapshotRun(b, "k2"));
  ASSERT_TRUE(active_b.has_value());

  using Pairs = std::vector<std::pair<int64_t, std::string>>;
  auto found = store::ReadResult<std::vector<store::RunRecord>>(t->db(), [&](Tx& tx) {
    // (a, k2) ended and (b, k1) does not exist: neither is found, although
    // a, b, k1 and k2 each occur in some pair.
    return RunsRepository::ActiveByKeys(tx, Pairs{{a, "k1"}, {a, "k2"}, {b, "k1"}});
  });
  ASSERT_TRUE(found.has_value()) << found.error().ToString();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, active_a->run.id);

  auto made = store::WriteResult<std::vector<store::RunRecord>>(t->db(), [&](Tx& tx) {
    return RunsRepository::CreateMany(
        tx,
        {SnapshotRun(a, "k1"), SnapshotRun(a, "k2"), SnapshotRun(b, "k2"), SnapshotRun(b, "k3")},
        1234);
  });
  ASSERT_TRUE(made.has_value()) << made.error().ToString();
  std::set<std::pair<int64_t, std::string>> keys;
  for (const auto& r : *made) {
    keys.emplace(r.tenant_id, r.idempotency_key);
    EXPECT_EQ(r.status, RunStatus::kQueued);
    EXPECT_EQ(r.created_at, 1234);
  }
  // (a, k1) and (b, k2) are active: skipped. (a, k2) ended: a new run.
  EXPECT_EQ(keys, (std::set<std::pair<int64_t, std::string>>{{a, "k2"}, {b, "k3"}}));
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 5);
}

TEST(SqlText, ValuesRowsShiftsEachRowsPlaceholders) {
  EXPECT_EQ(store::ValuesRows(1, "($1, 'x', $2)", 2), "($1, 'x', $2)");
  EXPECT_EQ(store::ValuesRows(3, "($1, $2, $2)", 2), "($1, $2, $2), ($3, $4, $4), ($5, $6, $6)");
  EXPECT_EQ(store::ValuesRows(2, "($1, $10)", 10), "($1, $10), ($11, $20)");
  EXPECT_EQ(store::ValuesRows(0, "($1)", 1), "");
}

TEST_P(StoreTest, SameKeyInAnotherTenantIsADifferentRun) {
  TA_OPEN_DB(t);
  const int64_t a = MakeTenant(t->db(), "a"), b = MakeTenant(t->db(), "b");
  EXPECT_NE(CreateOrReuse(t->db(), SnapshotRun(a, "k"))->run.id,
            CreateOrReuse(t->db(), SnapshotRun(b, "k"))->run.id);
}

TEST_P(StoreTest, CrossTenantGetIsPermissionDeniedAndMissingIsNotFound) {
  TA_OPEN_DB(t);
  const int64_t a = MakeTenant(t->db(), "a"), b = MakeTenant(t->db(), "b");
  const int64_t id = CreateOrReuse(t->db(), SnapshotRun(a, "k"))->run.id;
  auto get = [&](int64_t tenant, int64_t run) {
    return ReadResult<RunRecord>(t->db(),
                                 [&](Tx& tx) { return RunsRepository::Get(tx, tenant, run); });
  };
  EXPECT_TRUE(get(a, id).has_value());
  EXPECT_EQ(get(b, id).error().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(get(a, id + 1000).error().code(), Status::Code::kNotFound);
}

TEST_P(StoreTest, IllegalTransitionsAreRejectedWithBothStatesNamed) {
  TA_OPEN_DB(t);
  const int64_t a = MakeTenant(t->db(), "a");
  const int64_t id = CreateOrReuse(t->db(), SnapshotRun(a, "k"))->run.id;
  Status s = Move(t->db(), a, id, RunStatus::kSucceeded);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("from queued to succeeded"), std::string::npos) << s.message();
  ASSERT_TRUE(Move(t->db(), a, id, RunStatus::kRunning).ok());
  ASSERT_TRUE(Move(t->db(), a, id, RunStatus::kFailed).ok());
  for (RunStatus to :
       {RunStatus::kRunning, RunStatus::kSucceeded, RunStatus::kQueued, RunStatus::kCancelled}) {
    Status st = Move(t->db(), a, id, to);
    EXPECT_EQ(st.code(), Status::Code::kConflict);
    EXPECT_NE(st.message().find("already ended"), std::string::npos) << st.message();
  }
}

TEST(RunStatus, TransitionTable) {
  EXPECT_TRUE(IsLegalTransition(RunStatus::kQueued, RunStatus::kRunning));
  EXPECT_TRUE(IsLegalTransition(RunStatus::kQueued, RunStatus::kCancelled));
  EXPECT_FALSE(IsLegalTransition(RunStatus::kQueued, RunStatus::kSucceeded));
  EXPECT_TRUE(IsLegalTransition(RunStatus::kRunning, RunStatus::kPartiallySucceeded));
  EXPECT_FALSE(IsLegalTransition(RunStatus::kRunning, RunStatus::kQueued));
  EXPECT_FALSE(IsLegalTransition(RunStatus::kCancelled, RunStatus::kRunning));
}

TEST_P(StoreTest, RetriedItemUpdatesItsRowAndCountsOnce) {
  TA_OPEN_DB(t);
  const int64_t a = MakeTenant(t->db(), "a");
  const int64_t id = CreateOrReuse(t->db(), SnapshotRun(a, "k"))->run.id;
  auto upsert = [&](const std::string& ref, const std::string& status) {
    RunItem item{ref, status, "update", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    if (status == "failed") {
      item.error_code = "BadRequest";
      item.error_message = "nope";
    }
    ASSERT_TRUE(
        t->db().Write([&](Tx& tx) { return RunsRepository::UpsertItem(tx, a, id, item, 5); }).ok());
  };
  upsert("p1", "failed");
  upsert("p2", "created");
  upsert("p1", "updated");  // the retry succeeded
  upsert("p3", "skipped");
  auto run = ReadResult<RunRecord>(t->db(), [&](Tx& tx) { return RunsRepository::Get(tx, a, id); });
  EXPECT_EQ(run->processed, 3);
  EXPECT_EQ(run->succeeded, 2);
  EXPECT_EQ(run->failed, 0);
  EXPECT_EQ(run->skipped, 1);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM run_items WHERE run_id = $1", {id}), 3);
  EXPECT_EQ(QueryInt(t->db(), "SELECT attempts FROM run_items WHERE item_ref = 'p1'"), 2);
}

// The headline race: many callers start the identical operation at once.
TEST_P(StoreTest, DedupeStormYieldsExactlyOneActiveRun) {
  TA_OPEN_DB(t);
  const int64_t a = MakeTenant(t->db(), "a");
  constexpr int kThreads = 64;
  std::vector<int64_t> ids(kThreads, -1);
  std::atomic<int> reused{0}, go{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go++;
      while (go.load() < kThreads) std::this_thread::yield();  // start together
      auto r = CreateOrReuse(t->db(), SnapshotRun(a, "storm"));
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      ids[i] = r->run.id;
      if (r->reused) reused++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(reused, kThreads - 1);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM runs"), 1);
  ASSERT_TRUE(Move(t->db(), a, ids[0], RunStatus::kRunning).ok());
  ASSERT_TRUE(Move(t->db(), a, ids[0], RunStatus::kSucceeded).ok());
  auto next = CreateOrReuse(t->db(), SnapshotRun(a, "storm"));
  EXPECT_FALSE(next->reused);
  EXPECT_NE(next->run.id, ids[0]);
}

TEST_P(StoreTest, NotificationsListNewestFirstForTheirUserOnly) {
  TA_OPEN_DB(t);
  for (int i = 0; i < 3; ++i) {
    Notification n;
    n.user_id = i == 2 ? 8 : 7;
    n.tenant_id = 1;
    n.level = "info";
    n.title = "t" + std::to_string(i);
    n.body = "b";
    n.created_at = i;
    ASSERT_TRUE(t->db()
                    .Write([&](Tx& tx) -> Status {
                      auto r = NotificationsRepository::Insert(tx, n);
                      return r ? Status::Ok() : r.error();
                    })
                    .ok());
  }
  auto list = ReadResult<std::vector<Notification>>(
      t->db(), [](Tx& tx) { return NotificationsRepository::ForUser(tx, 7); });
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].title, "t1");
  EXPECT_EQ((*list)[1].title, "t0");
}

void AppendAudit(Database& db, int64_t tenant, int n) {
  for (int i = 0; i < n; ++i) {
    AuditEntry e{
        tenant, 1, "run.queued", "run", std::to_string(i), i, "{\"i\":" + std::to_string(i) + "}"};
    ASSERT_TRUE(db.Write([&](Tx& tx) -> Status {
                    auto r = AuditLog::Append(tx, e, 100 + i);
                    return r ? Status::Ok() : r.error();
                  }).ok());
  }
}

TEST_P(StoreTest, AuditChainVerifiesWhenUntouched) {
  TA_OPEN_DB(t);
  AppendAudit(t->db(), 1, 5);
  AppendAudit(t->db(), 2, 3);
  auto problems = AuditLog::Verify(t->db());
  ASSERT_TRUE(problems.has_value()) << problems.error().ToString();
  EXPECT_TRUE(problems->empty());
  EXPECT_EQ(QueryInt(t->db(), "SELECT MAX(seq) FROM audit_log WHERE tenant_id = 1"), 5);
}

TEST_P(StoreTest, AuditVerifyFlagsAnEditedRow) {
  TA_OPEN_DB(t);
  AppendAudit(t->db(), 1, 5);
  MustExec(t->db(), "UPDATE audit_log SET details = '{\"i\":99}' WHERE tenant_id = 1 AND seq = 3");
  auto problems = AuditLog::Verify(t->db());
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ((*problems)[0].seq, 3);
  EXPECT_NE((*problems)[0].problem.find("edited"), std::string::npos);
}

TEST_P(StoreTest, AuditVerifyFlagsADeletedRow) {
  TA_OPEN_DB(t);
  AppendAudit(t->db(), 1, 5);
  MustExec(t->db(), "DELETE FROM audit_log WHERE tenant_id = 1 AND seq = 2");
  auto problems = AuditLog::Verify(t->db());
  ASSERT_FALSE(problems->empty());
  EXPECT_EQ((*problems)[0].seq, 2);
  EXPECT_NE((*problems)[0].problem.find("deleted"), std::string::npos);
}

TEST_P(StoreTest, AuditVerifyFlagsATruncatedTail) {
  TA_OPEN_DB(t);
  AppendAudit(t->db(), 1, 5);
  MustExec(t->db(), "DELETE FROM audit_log WHERE tenant_id = 1 AND seq = 5");
  auto problems = AuditLog::Verify(t->db());
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_NE((*problems)[0].problem.find("head says 5"), std::string::npos);
}

TEST_P(StoreTest, ConcurrentAuditAppendsKeepOneUnbrokenChain) {
  TA_OPEN_DB(t);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { AppendAudit(t->db(), 1, 10); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log"), 80);
  EXPECT_TRUE(AuditLog::Verify(t->db())->empty());
}

// Unsealed appends (what run starts write) from 8 threads into 3 tenants,
// mixed with sealed appends, while two sealers on separate database handles
// (two "processes") seal concurrently: every entry ends sealed exactly once,
// each tenant's chain is 1..n without gaps and verifies, and an edit of a
// sealed entry is still caught.
TEST_P(StoreTest, UnsealedAppendsAreSealedOnceInOneUnbrokenChainPerTenant) {
  TA_OPEN_DB(t);
  auto other = t->OpenAnother();
  ASSERT_TRUE(other);
  {
    AuditSealer a(t->db(), std::chrono::milliseconds(20), std::chrono::milliseconds(5));
    AuditSealer b(*other, std::chrono::milliseconds(20), std::chrono::milliseconds(5));
    std::vector<std::thread> threads;
    for (int w = 0; w < 8; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < 50; ++i) {
          AuditEntry e{1 + (w + i) % 3, w, "run.queued", "run", std::to_string(i), i, "{}"};
          const Status s = t->db().Write([&](Tx& tx) -> Status {
            if (i % 10 == 0) {
              auto seq = AuditLog::Append(tx, e, 1'000 + i);
              return seq ? Status::Ok() : seq.error();
            }
            return AuditLog::AppendUnsealed(tx, e, 1'000 + i);
          });
          EXPECT_TRUE(s.ok()) << s.ToString();
        }
      });
    }
    for (auto& th : threads) th.join();
    // The sealers finish on their own (woken by the commits, or by their poll).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log WHERE seq IS NULL") > 0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling with a deadline
    if (GetParam() == TestBackend::kPostgres) {
      EXPECT_GT(a.sealed() + b.sealed(), 0);
    }
  }
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log"), 400);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log WHERE seq IS NULL OR hash IS NULL"),
            0);
  for (int64_t tenant = 1; tenant <= 3; ++tenant) {
    const int64_t n =
        QueryInt(t->db(), "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1", {tenant});
    EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(DISTINCT seq) FROM audit_log WHERE tenant_id = $1",
                       {tenant}),
              n);
    EXPECT_EQ(QueryInt(t->db(), "SELECT MAX(seq) FROM audit_log WHERE tenant_id = $1", {tenant}),
              n);
    EXPECT_EQ(QueryInt(t->db(), "SELECT seq FROM audit_heads WHERE tenant_id = $1", {tenant}), n);
  }
  auto problems = AuditLog::Verify(t->db());
  ASSERT_TRUE(problems.has_value());
  EXPECT_TRUE(problems->empty()) << problems->front().problem;
  MustExec(t->db(), "UPDATE audit_log SET details = '{\"x\":1}' WHERE tenant_id = 2 AND seq = 7");
  problems = AuditLog::Verify(t->db());
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ((*problems)[0].tenant_id, 2);
  EXPECT_EQ((*problems)[0].seq, 7);
}

// Concurrent writers through one WriteBatcher: while one batch commits, the
// others queue and commit together; every write lands, counted once, and a
// request that fails inside a batch fails alone.
TEST_P(StoreTest, WriteBatcherCommitsQueuedWritesTogetherAndIsolatesAFailure) {
  TA_OPEN_DB(t);
  MustExec(t->db(), "INSERT INTO tenants (name, created_at) VALUES ('counter', 0)");
  // A first write that holds its transaction open until `queued` more writers
  // wait behind it, then `queued` writers; returns each writer's status.
  auto storm = [&](WriteBatcher& batcher, const std::string& prefix, int queued, int failing) {
    std::atomic<bool> inside{false};
    std::thread first([&] {
      EXPECT_TRUE(batcher
                      .Write([&](Tx&) -> Status {
                        inside = true;
                        for (int w = 0; w < 1000 && batcher.waiting() < size_t(queued); ++w)
                          std::this_thread::sleep_for(std::chrono::milliseconds(10));
                        return Status::Ok();
                      })
                      .ok());
    });
    while (!inside) std::this_thread::yield();
    std::vector<Status> results(queued);
    std::vector<std::thread> rest;
    for (int i = 0; i < queued; ++i) {
      rest.emplace_back([&, i] {
        results[i] = batcher.Write([&, i](Tx& tx) -> Status {
          auto r = tx.Exec("INSERT INTO tenants (name, created_at) VALUES ($1, 0)",
                           {prefix + std::to_string(i)});
          if (!r) return r.error();
          auto c = tx.Exec("UPDATE tenants SET created_at = created_at + 1 WHERE name = 'counter'");
          if (!c) return c.error();
          return i == failing ? Status::InvalidArgument("request refused") : Status::Ok();
        });
      });
    }
    first.join();
    for (auto& th : rest) th.join();
    return results;
  };
  WriteBatcher clean(t->db());
  for (const Status& s : storm(clean, "x", 16, -1)) EXPECT_TRUE(s.ok()) << s.ToString();
  // The first write alone, then the 16 queued behind it in one transaction.
  EXPECT_EQ(clean.transactions(), 2);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM tenants WHERE name LIKE 'x%'"), 16);

  WriteBatcher mixed(t->db());
  auto results = storm(mixed, "y", 16, 7);
  for (int i = 0; i < 16; ++i) {
    if (i == 7)
      EXPECT_EQ(results[i].code(), Status::Code::kInvalidArgument) << results[i].ToString();
    else
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
  }
  // The batch with request 7 failed as a whole; each of its 15 good requests
  // then committed on its own, and 7's writes are nowhere.
  EXPECT_EQ(mixed.transactions(), 1 + 15);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM tenants WHERE name LIKE 'y%'"), 15);
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM tenants WHERE name = 'y7'"), 0);
  EXPECT_EQ(QueryInt(t->db(), "SELECT created_at FROM tenants WHERE name = 'counter'"), 16 + 15);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::store

namespace ta::store {
namespace {

int64_t SqliteSynchronous(bool normal) {
  DatabaseOptions o;
  o.sqlite_synchronous_normal = normal;
  auto t = ::ta::testing::TestDatabase::Create(TestBackend::kSqlite, o);
  if (!t) return -1;
  // Writes run on the writer connection, whose setting is what durability rests on.
  auto r = WriteResult<int64_t>(t->db(), [](Tx& tx) -> Result<int64_t> {
    auto rows = tx.Query("PRAGMA synchronous");
    if (!rows) return Unexpected(rows.error());
    return rows->front().Int(0);
  });
  return r.value_or(-1);
}

TEST(SqliteDurability, WriterIsSynchronousFullByDefaultAndNormalOnlyWhenAsked) {
  EXPECT_EQ(SqliteSynchronous(false), 2);  // FULL: an acknowledged commit survives power loss
  EXPECT_EQ(SqliteSynchronous(true), 1);   // NORMAL
}

// Counting every SQLite allocation takes one process-wide mutex, the most
// contended lock under load; the store turns the counting off before SQLite
// starts, so nothing is counted.
TEST(SqliteWriter, AllocationsAreNotCountedUnderAGlobalMutex) {
  auto t = ::ta::testing::TestDatabase::Create(TestBackend::kSqlite, {});
  ASSERT_TRUE(t);
  MakeTenant(t->db(), "counted?");
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(*) FROM tenants"), 1);
  EXPECT_EQ(sqlite3_memory_used(), 0);
}

// The writer keeps the statement journal of its per-request savepoints in
// memory. A failing request that rewrote far more than SQLite's 64 KiB
// spill threshold must still roll back exactly, batched with others or not.
TEST(SqliteWriter, InMemoryStatementJournalRollsBackLargeFailedRequests) {
  auto t = ::ta::testing::TestDatabase::Create(TestBackend::kSqlite, {});
  ASSERT_TRUE(t);
  auto temp_store = WriteResult<int64_t>(t->db(), [](Tx& tx) -> Result<int64_t> {
    auto rows = tx.Query("PRAGMA temp_store");
    if (!rows) return Unexpected(rows.error());
    return rows->front().Int(0);
  });
  EXPECT_EQ(temp_store.value_or(-1), 2);  // MEMORY

  constexpr int kRows = 3000;  // ~700 KB of names: every request rewrites ~170 pages
  ASSERT_TRUE(t->db()
                  .Write([&](Tx& tx) -> Status {
                    for (int i = 0; i < kRows; ++i) {
                      auto r = tx.Exec("INSERT INTO tenants (name, created_at) VALUES ($1, 0)",
                                       {"x" + std::to_string(i) + std::string(200, 's')});
                      if (!r) return r.error();
                    }
                    return Status::Ok();
                  })
                  .ok());
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      Status s = t->db().Write([&](Tx& tx) -> Status {
        auto r = tx.Exec("UPDATE tenants SET name = $1 || substr(name, 2)", {std::to_string(w)});
        if (!r) return r.error();
        if (*r != kRows) return Status::Internal("updated " + std::to_string(*r));
        return w % 2 ? Status::InvalidArgument("odd writers fail after writing") : Status::Ok();
      });
      (s.ok() ? ok : failed)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(failed, 4);
  // Every row carries the tag of one and the same successful (even) writer.
  EXPECT_EQ(QueryInt(t->db(), "SELECT COUNT(DISTINCT substr(name, 1, 1)) FROM tenants"), 1);
  EXPECT_EQ(QueryInt(t->db(),
                     "SELECT COUNT(*) FROM tenants WHERE substr(name, 1, 1) IN "
                     "('0', '2', '4', '6') AND length(name) = length(CAST(id - 1 AS TEXT)) + 201"),
            kRows);
}

}  // namespace
}  // namespace ta::store
