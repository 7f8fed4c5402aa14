// The database tools an operator runs as real processes: `db backup` while
// serve is under load, `db restore`, the pg_dump recipe of docs/DEPLOYMENT.md,
// and `db migrate` from SQLite to PostgreSQL (including a SIGKILL mid-copy).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "store/audit_log.h"
#include "store/runs_repository.h"
#include "support/installation.h"
#include "support/test_database.h"

namespace ta::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Cli() { return "TA_MASTER_KEY=" + std::string(kKey) + " " + Bin() + " "; }

// Every row of every installation table, as sorted text rows per table: two
// databases hold the same data exactly when these are equal.
using Snapshot = std::map<std::string, std::vector<std::vector<std::string>>>;
Snapshot Everything(store::Database& db, const std::vector<std::string>& tables) {
  Snapshot out;
  for (const auto& t : tables) {
    auto rows = store::ReadResult<store::Rows>(
        db, [&](store::Tx& tx) { return tx.Query("SELECT * FROM \"" + t + "\""); });
    EXPECT_TRUE(rows.has_value()) << t << ": " << rows.error().ToString();
    if (!rows) continue;
    auto& into = out[t];
    for (const auto& r : *rows) {
      std::vector<std::string> cells;
      for (size_t i = 0; i < r.size(); ++i) cells.push_back(r.IsNull(i) ? "\x01NULL" : r.Text(i));
      into.push_back(std::move(cells));
    }
    std::sort(into.begin(), into.end());
  }
  return out;
}

std::vector<std::string> InstallationTables(store::Database& sqlite) {
  auto rows = store::ReadResult<store::Rows>(sqlite, [](store::Tx& tx) {
    return tx.Query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND "
        "name NOT IN ('schema_migrations', 'db_copy', 'db_copy_tables') ORDER BY name");
  });
  std::vector<std::string> names;
  for (const auto& r : rows.value()) names.push_back(r.Text(0));
  return names;
}

// Runs [from, to) of tenant 1: each captured two items, succeeded, audited.
Status AddEndedRuns(store::Tx& tx, int from, int to) {
  const int64_t now = 1'790'000'000'000;
  for (int i = from; i < to; ++i) {
    store::NewRun run;
    run.tenant_id = 1;
    run.type = "policy.capture_snapshot";
    run.idempotency_key = "history-" + std::to_string(i);
    run.target_id = std::to_string(i % 40 + 1);
    run.total = 2;
    auto made = store::RunsRepository::CreateOrReuse(tx, run, now + i);
    if (!made) return made.error();
    const int64_t id = made->run.id;
    for (const char* ref : {"policy:a", "policy:b"}) {
      store::RunItem item;
      item.item_ref = ref;
      item.status = "captured";
      if (Status s = store::RunsRepository::UpsertItem(tx, 1, id, item, now + i); !s.ok()) return s;
    }
    for (auto to_status : {store::RunStatus::kRunning, store::RunStatus::kSucceeded}) {
      if (Status s = store::RunsRepository::Transition(tx, 1, id, to_status, now + i); !s.ok())
        return s;
    }
    if (Status s = store::AuditLog::Record(tx, 1, std::nullopt, "run.succeeded", "run",
                                           std::to_string(id), "{}", now + i);
        !s.ok())
      return s;
  }
  return Status::Ok();
}

class DbTools : public TempDirTest {
 protected:
  // The demo's installation plus `runs` more ended runs, each with two items
  // and an audit entry: what a busy installation holds.
  std::string DemoWithRuns(int runs) {
    const std::string path = dir_ + "/demo.db";
    std::string out;
    EXPECT_EQ(Shell(Cli() + "demo --db " + path, &out), 0) << out;
    auto db = store::OpenDatabase("sqlite:" + path);
    EXPECT_TRUE(db.has_value());
    for (int from = 0; from < runs; from += 500) {
      const Status s =
          (*db)->Write([&](store::Tx& tx) { return AddEndedRuns(tx, from, from + 500); });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return path;
  }
};

TEST_F(DbTools, MigrateCopiesEverythingResumesAfterSigkillAndRefusesNonEmptyTargets) {
  const std::string source = DemoWithRuns(10'000);
  auto target = TestDatabase::Create(TestBackend::kPostgres);
  if (!target) return;
  std::vector<std::string> tables;
  Snapshot before;
  {
    auto db = store::OpenDatabase("sqlite:" + source, {.run_migrations = false, .read_only = true});
    ASSERT_TRUE(db.has_value());
    tables = InstallationTables(**db);
    before = Everything(**db, tables);
  }
  ASSERT_GE(before["runs"].size(), 10'005u);
  ASSERT_GE(before["audit_log"].size(), 10'050u);
  int64_t total = 0;
  for (const auto& [_, rows] : before) total += static_cast<int64_t>(rows.size());

  // Killed mid-copy: small batches, SIGKILL once some have committed.
  const std::string migrate = Cli() + "db migrate --from sqlite:" + source + " --to '" +
                              target->url() + "' --batch-rows 100";
  Child copy = Child::Start({Bin(), "db", "migrate", "--from", "sqlite:" + source, "--to",
                             target->url(), "--batch-rows", "100"},
                            dir_ + "/migrate1.log", {std::string("TA_MASTER_KEY=") + kKey});
  auto copied = [&] {
    return QueryInt(target->db(), "SELECT COALESCE(SUM(rows_copied), 0) FROM db_copy_tables");
  };
  const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  while (copied() < total / 3 && SteadyClock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling with a deadline
  copy.Stop(SIGKILL);
  const int64_t at_kill = copied();
  ASSERT_GT(at_kill, 0) << ReadFile(dir_ + "/migrate1.log");
  std::printf("MIGRATE|SIGKILL after %lld of %lld rows\n", static_cast<long long>(at_kill),
              static_cast<long long>(total));
  ASSERT_LT(at_kill, total) << "the copy finished before the kill";

  // The half-copied target cannot be mistaken for a finished one.
  auto refused = store::OpenDatabase(target->url());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("unfinished `tenantatlas db migrate`"),
            std::string::npos)
      << refused.error().ToString();
  std::string out;
  EXPECT_EQ(Shell(Cli() + "audit verify --db '" + target->url() + "'", &out), 2) << out;
  EXPECT_NE(out.find("run that command again"), std::string::npos) << out;
  EXPECT_NE(Shell(Cli() + "serve --port 0 --db '" + target->url() + "'", &out), 0) << out;
  EXPECT_NE(out.find("unfinished"), std::string::npos) << out;

  // Run again: it resumes from the committed cursors and verifies.
  ASSERT_EQ(Shell(migrate, &out), 0) << out;
  EXPECT_NE(out.find("resumed and finished: " + std::to_string(total) + " rows"), std::string::npos)
      << out;
  EXPECT_NE(out.find("audit chain: intact"), std::string::npos) << out;
  auto finished = store::OpenDatabase(target->url());
  ASSERT_TRUE(finished.has_value()) << finished.error().ToString();
  EXPECT_EQ(Everything(**finished, tables), before) << "the copy differs from the source";
  ASSERT_EQ(Shell(Cli() + "audit verify --db '" + target->url() + "'", &out), 0) << out;
  EXPECT_NE(out.find(std::to_string(before["audit_log"].size()) + " entries"), std::string::npos)
      << out;

  // New rows continue after the largest copied id (the sequences moved).
  const int64_t max_run = QueryInt(**finished, "SELECT MAX(id) FROM runs");
  auto next = store::WriteResult<int64_t>(**finished, [](store::Tx& tx) -> Result<int64_t> {
    store::NewRun run;
    run.tenant_id = 1;
    run.type = "inventory.sync";
    run.idempotency_key = "after-migration";
    auto made = store::RunsRepository::CreateOrReuse(tx, run, 1'790'000'000'000);
    if (!made) return Unexpected(made.error());
    return made->run.id;
  });
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_EQ(*next, max_run + 1);

  // A finished copy, and any non-empty database, are refused as targets.
  EXPECT_EQ(Shell(migrate, &out), 2) << out;
  EXPECT_NE(out.find("already holds a finished copy"), std::string::npos) << out;
  auto busy = TestDatabase::Create(TestBackend::kPostgres);
  ASSERT_TRUE(busy);
  MakeTenant(busy->db(), "Existing");
  EXPECT_EQ(
      Shell(Cli() + "db migrate --from sqlite:" + source + " --to '" + busy->url() + "'", &out), 2)
      << out;
  EXPECT_NE(out.find("the target is not empty (table tenants has rows)"), std::string::npos) << out;
  EXPECT_EQ(QueryInt(busy->db(), "SELECT COUNT(*) FROM tenants"), 1);
  EXPECT_EQ(QueryInt(busy->db(), "SELECT COUNT(*) FROM db_copy"), 0);
}

TEST_F(DbTools, MigrateAndRestoreRefuseADatabaseAProcessHasOpen) {
  const std::string source = DemoWithRuns(0);
  Child serve = Child::Start({Bin(), "serve", "--db", source, "--port", "0", "--workers", "0"},
                             dir_ + "/serve.log", {std::string("TA_MASTER_KEY=") + kKey});
  ASSERT_FALSE(serve.WaitFor(std::regex("listening on"), std::chrono::seconds(30)).empty());
  auto target = TestDatabase::Create(TestBackend::kPostgres);
  if (!target) return;
  std::string out;
  EXPECT_EQ(
      Shell(Cli() + "db migrate --from sqlite:" + source + " --to '" + target->url() + "'", &out),
      2)
      << out;
  EXPECT_NE(out.find("is open in process " + std::to_string(serve.pid)), std::string::npos) << out;
  EXPECT_EQ(QueryInt(target->db(), "SELECT COUNT(*) FROM tenants"), 0);
  ASSERT_EQ(Shell(Cli() + "db backup --db " + source + " --to " + dir_ + "/b.db", &out), 0) << out;
  EXPECT_EQ(
      Shell(Cli() + "db restore --from " + dir_ + "/b.db --db " + source + " --replace", &out), 2)
      << out;
  EXPECT_NE(out.find("stop every serve and worker using it"), std::string::npos) << out;
  EXPECT_EQ(serve.Stop(SIGTERM), 0);
  EXPECT_EQ(
      Shell(Cli() + "db restore --from " + dir_ + "/b.db --db " + source + " --replace", &out), 0)
      << out;
  EXPECT_NE(out.find("kept as " + source + ".replaced-"), std::string::npos) << out;
}

// A backup taken while serve runs backups and syncs, restored into a new
// installation that then verifies and serves.
TEST_F(DbTools, BackupUnderLoadRestoresWithAnIntactAuditChain) {
  const std::string db = dir_ + "/live.db";
  Installation ta(dir_, "sqlite:" + db, /*policies=*/30, /*latency_ms=*/0);
  ta.StartServe(1);
  ASSERT_EQ(ta.AwaitEnd(ta.Start("/policies/sync"), std::chrono::seconds(60))["status"],
            "succeeded");
  std::atomic<bool> stop{false};
  std::atomic<int> started{0}, errors{0};
  std::vector<std::thread> load;
  for (int c = 0; c < 3; ++c) {
    load.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", ta.port());
      const httplib::Headers auth = {{"Authorization", "Bearer " + ta.token()}};
      for (int i = 0; !stop; ++i) {
        const std::string body =
            R"({"name":"load )" + std::to_string(c) + "-" + std::to_string(i) + "\"}";
        auto r = client.Post("/api/v1/tenants/1/backup-sets", auth, body, "application/json");
        if (r && (r->status == 202 || r->status == 200)) {
          ++started;
        } else {
          ++errors;
        }
      }
    });
  }
  auto runs_now = [&] {
    auto h = store::OpenDatabase("sqlite:" + db, {.run_migrations = false, .read_only = true});
    return h ? QueryInt(**h, "SELECT COUNT(*) FROM runs") : -1;
  };
  std::vector<std::string> backups;
  std::string out;
  for (int b = 0; b < 3; ++b) {
    while (started < 40 * (b + 1)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t runs_before = runs_now();
    const std::string file = dir_ + "/backup" + std::to_string(b) + ".db";
    ASSERT_EQ(Shell(Cli() + "db backup --db " + db + " --to " + file, &out), 0) << out;
    EXPECT_NE(out.find("integrity check ok"), std::string::npos) << out;
    EXPECT_NE(out.find("audit chain: intact"), std::string::npos) << out;
    const int64_t runs_after = runs_now();
    auto copy = store::OpenDatabase("sqlite:" + file, {.run_migrations = false, .read_only = true});
    ASSERT_TRUE(copy.has_value());
    const int64_t in_copy = QueryInt(**copy, "SELECT COUNT(*) FROM runs");
    std::printf("BACKUP|%d|runs before %lld|in the copy %lld|after %lld\n", b,
                static_cast<long long>(runs_before), static_cast<long long>(in_copy),
                static_cast<long long>(runs_after));
    EXPECT_GE(in_copy, runs_before);
    EXPECT_LE(in_copy, runs_after);
    backups.push_back(file);
  }
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(ta.AuditVerify(&out), 0) << out;

  // Restore the last backup as a new installation: verified, and it serves.
  const std::string restored = dir_ + "/restored.db";
  ASSERT_EQ(Shell(Cli() + "db restore --from " + backups.back() + " --db " + restored, &out), 0)
      << out;
  EXPECT_NE(out.find("audit chain: intact"), std::string::npos) << out;
  ASSERT_EQ(Shell(Cli() + "audit verify --db " + restored, &out), 0) << out;
  Child serve = Child::Start({Bin(), "serve", "--db", restored, "--port", "0", "--workers", "0"},
                             dir_ + "/restored-serve.log", {std::string("TA_MASTER_KEY=") + kKey});
  auto m = serve.WaitFor(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"),
                         std::chrono::seconds(30));
  ASSERT_FALSE(m.empty());
  httplib::Client client("127.0.0.1", std::stoi(m[1]));
  auto runs =
      client.Get("/api/v1/tenants/1/runs?limit=1", {{"Authorization", "Bearer " + ta.token()}});
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->status, 200) << runs->body;
  EXPECT_EQ(serve.Stop(SIGTERM), 0);
}

// The PostgreSQL recipe of docs/DEPLOYMENT.md: pg_dump -Fc, pg_restore into a
// new database, audit verify.
TEST_F(DbTools, PgDumpRecipeRestoresAVerifiedCopy) {
  const std::string source = DemoWithRuns(500);
  auto from = TestDatabase::Create(TestBackend::kPostgres);
  if (!from) return;
  std::string out;
  ASSERT_EQ(
      Shell(Cli() + "db migrate --from sqlite:" + source + " --to '" + from->url() + "'", &out), 0)
      << out;
  const char* base = std::getenv("TA_TEST_PG_URL");
  ASSERT_TRUE(base);
  const std::string server = std::string(base).substr(0, std::string(base).rfind('/'));
  const std::string schema =
      from->url().substr(from->url().find("search_path%3D") + 14,
                         from->url().find('&', from->url().find("search_path")) -
                             from->url().find("search_path%3D") - 14);
  const std::string copy_db = "restore_" + std::to_string(getpid());
  ASSERT_EQ(Shell("psql '" + std::string(base) + "' -qc 'CREATE DATABASE " + copy_db + "'", &out),
            0)
      << out;
  // The recipe (docs/DEPLOYMENT.md): a custom-format dump while serving, restored into an
  // empty database. (-n: the test database is one schema of the shared test server.)
  const std::string dump = dir_ + "/tenantatlas.dump";
  ASSERT_EQ(
      Shell("pg_dump -Fc -n " + schema + " -f " + dump + " '" + std::string(base) + "'", &out), 0)
      << out;
  ASSERT_EQ(Shell("pg_restore --no-owner -d '" + server + "/" + copy_db + "' " + dump, &out), 0)
      << out;
  const std::string restored = server + "/" + copy_db + "?options=-csearch_path%3D" + schema;
  EXPECT_EQ(Shell(Cli() + "audit verify --db '" + restored + "'", &out), 0) << out;
  auto a = store::OpenDatabase(from->url());
  auto b = store::OpenDatabase(restored);
  ASSERT_TRUE(a.has_value() && b.has_value());
  std::vector<std::string> tables;
  {
    auto s = store::OpenDatabase("sqlite:" + source, {.run_migrations = false, .read_only = true});
    tables = InstallationTables(**s);
  }
  EXPECT_EQ(Everything(**a, tables), Everything(**b, tables));
  b->reset();
  Shell("psql '" + std::string(base) + "' -qc 'DROP DATABASE " + copy_db + " WITH (FORCE)'");
}

}  // namespace
}  // namespace ta::testing
