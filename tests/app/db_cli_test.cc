// End-to-end: `tenantatlas migrate` and `tenantatlas audit verify` as an
// operator runs them, on a SQLite file.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "catalog/catalog.h"
#include "store/audit_log.h"
#include "store/database.h"
#include "support/child.h"

namespace ta {
namespace {

struct CliResult {
  int exit_code = 0;
  std::string out;
};

CliResult Cli(const std::string& args) {
  CliResult r;
  r.exit_code = ::ta::testing::Shell(std::string(TA_BINARY) + " " + args, &r.out);
  return r;
}

class DbCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ta-cli-db-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/nested/ta.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(DbCli, MigrateCreatesTheDatabaseAndIsRepeatable) {
  auto r = Cli("migrate --db " + path_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "schema is at version 14 (14 migrations applied)\n");
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_EQ(Cli("migrate --db " + path_).exit_code, 0);
}

// `tenant import`: one line per row (created, or failed with the column),
// a summary, exit 1 when a row failed; a second run creates nothing.
TEST_F(DbCli, TenantImportReportsEachRowAndIsRepeatable) {
  ASSERT_EQ(Cli("migrate --db " + path_).exit_code, 0);
  const std::string csv = dir_ + "/tenants.csv";
  std::ofstream(csv) << "name,cloud,tags\nAlpha,usgov,gov\nBeta,moon,\n\"Gamma, Inc\",,a;b\n";
  auto r = Cli("tenant import --db " + path_ + " --file " + csv);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("line 2: created tenant 1 Alpha\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 3: failed (cloud): cloud: must be global, usgov, usgovdod or china"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("line 4: created tenant 2 Gamma, Inc\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 created, 0 already there, 1 failed\n"), std::string::npos) << r.out;
  std::ofstream(csv) << "name,cloud,tags\nAlpha,usgov,gov\n";
  r = Cli("tenant import --db " + path_ + " --file " + csv);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("line 2: exists tenant 1 Alpha\n"), std::string::npos) << r.out;
  EXPECT_EQ(Cli("tenant import --db " + path_ + " --file " + dir_ + "/missing.csv").exit_code, 2);
}

TEST_F(DbCli, DatabaseComesFromTheEnvironmentWhenNoFlag) {
  const std::string cmd =
      "TA_DATABASE_URL=" + path_ + " " + std::string(TA_BINARY) + " migrate > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_F(DbCli, AuditVerifyPassesThenFlagsTampering) {
  ASSERT_EQ(Cli("migrate --db " + path_).exit_code, 0);
  {
    auto db = store::OpenDatabase(path_);
    ASSERT_TRUE(db.has_value());
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE((*db)
                      ->Write([&](store::Tx& tx) -> Status {
                        auto r = store::AuditLog::Append(
                            tx, store::AuditEntry{3, 1, "run.queued", "run", "7", 7, "{}"}, 10 + i);
                        return r ? Status::Ok() : r.error();
                      })
                      .ok());
    }
  }
  auto ok = Cli("audit verify --db " + path_);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_EQ(ok.out, "audit log intact: 4 entries in 1 tenant chains\n");
  {
    auto db = store::OpenDatabase(path_);
    ASSERT_TRUE((*db)
                    ->Write([](store::Tx& tx) -> Status {
                      auto r =
                          tx.Exec("UPDATE audit_log SET action = 'run.cancelled' WHERE seq = 2");
                      return r ? Status::Ok() : r.error();
                    })
                    .ok());
  }
  auto bad = Cli("audit verify --db " + path_);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("TAMPERED tenant 3 seq 2: row content does not match its hash (edited)"),
            std::string::npos)
      << bad.out;
}

// The demo tenant holds one object of every catalog type; all of them are
// backed up and restored into the other tenant, each read back equal (the
// run succeeds only then), references mapped by name.
TEST_F(DbCli, DemoRunsTheWholeFlowOnTheSimulator) {
  auto r = Cli("demo --db " + dir_ + "/demo.db");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Graph writes made by the preview: 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the same request again reused run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("succeeded: 37 created, 1 unchanged, 2 updated"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("scopeTag Europe (c-tag-eu) -> f-tag-eu  [suggested]"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("user Break Glass 1 (c-user-bg) -> f-user-bg  [suggested]"),
            std::string::npos)
      << r.out;
  // Every type is in the restore's item list, restored (not failed or skipped).
  for (const auto& type : catalog::Catalog()) {
    bool restored = false;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string ref, t, outcome;
      words >> ref >> t >> outcome;
      restored |= ref.rfind("item:", 0) == 0 && t == type.name &&
                  (outcome == "created" || outcome == "updated" || outcome == "unchanged");
    }
    EXPECT_TRUE(restored) << type.name << " is not in the demo's restore: " << r.out;
  }
  // The backup set's documentation from the command line: every type, as CSV.
  const std::string csv = dir_ + "/doc.csv";
  auto doc = Cli("document --db " + dir_ +
                 "/demo.db --tenant Contoso --backup-set 1 --format csv --out " + csv);
  EXPECT_EQ(doc.exit_code, 0) << doc.out;
  std::ifstream in(csv);
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& type : catalog::Catalog())
    EXPECT_NE(text.str().find(",\"" + std::string(catalog::TypeTitle(type.name)) + "\","), std::string::npos)
        << type.name;
  auto bad = Cli("document --db " + dir_ + "/demo.db --tenant Contoso --backup-set 1 --format pdf");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("format: must be md, html or csv"), std::string::npos) << bad.out;
  EXPECT_NE(r.out.find("audit chain: intact"), std::string::npos) << r.out;
}

TEST_F(DbCli, UnreachablePostgresIsAClearErrorWithoutThePassword) {
  auto r = Cli("migrate --db postgresql://admin:hunter2secret@127.0.0.1:1/x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("connect to PostgreSQL"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("hunter2secret"), std::string::npos) << r.out;
}

// `tenantatlas schedule`: add (by tenant name), list, next, remove; errors
// name the flag or field and exit non-zero.
TEST_F(DbCli, ScheduleCommands) {
  ASSERT_EQ(Cli("migrate --db " + path_).exit_code, 0);
  ASSERT_EQ(Cli("tenant add --db " + path_ + " --name Contoso").exit_code, 0);
  auto add = Cli("schedule add --db " + path_ +
                 " --name Nightly --cron '30 2 * * *' --time-zone Europe/Berlin --tenant Contoso");
  ASSERT_EQ(add.exit_code, 0) << add.out;
  EXPECT_NE(add.out.find("schedule 1 Nightly: 1 tenant now; next fire times:"), std::string::npos)
      << add.out;
  EXPECT_NE(add.out.find(" 02:30 CE"), std::string::npos) << add.out;
  auto list = Cli("schedule list --db " + path_);
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("1  Nightly  \"30 2 * * *\" Europe/Berlin  1 tenant  next "),
            std::string::npos)
      << list.out;
  auto next = Cli("schedule next --cron '30 2 28 3 *' --time-zone Europe/Berlin --count 1");
  EXPECT_EQ(next.exit_code, 0);
  EXPECT_NE(next.out.find("-03-28 03:00 CEST"), std::string::npos) << next.out;  // the gap
  auto bad = Cli("schedule add --db " + path_ + " --name X --cron '61 * * * *'");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("cron: field 1 (minute) \"61\": must be 0 to 59"), std::string::npos)
      << bad.out;
  auto unknown = Cli("schedule add --db " + path_ + " --name X --cron @daily --tenant Nope");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("--tenant: no tenant named \"Nope\""), std::string::npos);
  EXPECT_EQ(Cli("schedule remove --db " + path_ + " --id 1").exit_code, 0);
  auto gone = Cli("schedule remove --db " + path_ + " --id 1");
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.out.find("schedule: does not exist"), std::string::npos);
}

}  // namespace
}  // namespace ta
