// `tenantatlas keys rotate` killed with SIGKILL midway, on SQLite and on
// PostgreSQL: every sealed value (client secrets, a webhook secret, encrypted
// values inside captured payloads) still opens with the ring NEW,OLD and has
// its plaintext; `keys status` says unfinished; a second run, still given
// only the old key, finishes; afterwards everything opens with the new key
// alone.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/secret_box.h"
#include "support/child.h"
#include "support/test_database.h"

namespace ta {
namespace {

using ::ta::testing::TestBackend;
using nlohmann::json;

class KeysCli : public ::testing::TestWithParam<TestBackend> {};

struct CliRun {
  int exit_code = 0;
  std::string out;
};

CliRun Cli(const std::string& env, const std::string& args) {
  CliRun r;
  r.exit_code = ::ta::testing::Shell(env + " " + std::string(TA_BINARY) + " " + args, &r.out);
  return r;
}

std::vector<std::string> Column(store::Database& db, const std::string& sql) {
  std::vector<std::string> out;
  (void)db.Read([&](store::Tx& tx) -> Status {
    auto rows = tx.Query(sql);
    if (!rows) return rows.error();
    for (const auto& r : *rows) out.push_back(r.Text(0));
    return Status::Ok();
  });
  return out;
}

TEST_P(KeysCli, ARotationKilledMidwayLosesNothingAndTheNextRunFinishesIt) {
  TA_OPEN_DB(t);
  store::Database& db = t->db();
  const std::string old_b64 = SecretBox::GenerateKeyBase64();
  const std::string new_b64 = SecretBox::GenerateKeyBase64();
  const SecretBox old_box = *SecretBox::FromBase64Key(old_b64);
  const SecretBox new_box = *SecretBox::FromBase64Key(new_b64);
  const SecretBox ring = *SecretBox::FromBase64Key(new_b64 + "," + old_b64);
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("ta-keys-" + std::to_string(getpid()) + "-" +
                           std::to_string(static_cast<int>(GetParam())));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/new.key") << new_b64 << "\n";

  // 8,000 tenants with a client secret, a webhook secret, 1,000 captured
  // versions holding an encrypted value each: sealed under the old key.
  const int kTenants = 8000, kVersions = 1000;
  const std::string secret = "Qx8~client-secret-value";
  ::ta::testing::MustExec(
      db,
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
          std::to_string(kTenants) +
          ") INSERT INTO tenants (name, entra_tenant_id, client_id, client_secret_enc, created_at) "
          "SELECT 'Tenant ' || CAST(i AS TEXT), 'ms', 'app', CAST($1 AS TEXT), 0 FROM n",
      {old_box.Seal(secret)});
  ::ta::testing::MustExec(db,
                          "INSERT INTO alert_channels (name, kind, target, secret_enc, events, "
                          "created_at, updated_at) VALUES ('hook', 'webhook', "
                          "'https://example.com', $1, '[]', 0, 0)",
                          {old_box.Seal("webhook-signing-secret")});
  const int64_t policy = ::ta::testing::InsertReturningId(
      db,
      "INSERT INTO policies (tenant_id, policy_type, graph_id, display_name, synced_at) VALUES "
      "(1, 'deviceConfiguration', 'g', 'OMA', 0) RETURNING id");
  const json payload = {{"displayName", "OMA"},
                        {"omaSettings",
                         {{{"omaUri", "./Vendor/MSFT/A"},
                           {"secretValue", {{"sealed", old_box.Seal("oma-secret")}, {"digest", "d"}}}},
                          {{"omaUri", "./Vendor/MSFT/B"}, {"value", "plain"}}}}};
  ::ta::testing::MustExec(
      db,
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
          std::to_string(kVersions) +
          ") INSERT INTO policy_versions (tenant_id, policy_id, version, payload, assignments, "
          "content_hash, created_at) SELECT 1, $1, i, CAST($2 AS TEXT), '[]', 'h', 0 FROM n",
      {policy, payload.dump()});

  // Every sealed value and what it must open to.
  auto check_all = [&](const SecretBox& box, int* under_new, int* under_old) {
    int failures = 0;
    for (const auto& v : Column(db, "SELECT client_secret_enc FROM tenants")) {
      auto p = box.Open(v);
      failures += !p || *p != secret;
      (new_box.Open(v) ? *under_new : *under_old) += 1;
    }
    for (const auto& v : Column(db, "SELECT secret_enc FROM alert_channels")) {
      auto p = box.Open(v);
      failures += !p || *p != "webhook-signing-secret";
    }
    for (const auto& v : Column(db, "SELECT payload FROM policy_versions")) {
      json d = json::parse(v);
      auto p = box.Open(d["omaSettings"][0]["secretValue"]["sealed"].get<std::string>());
      failures += !p || *p != "oma-secret";
      failures += d["omaSettings"][1] != payload["omaSettings"][1];
    }
    return failures;
  };

  // Killed midway.
  const std::string env = "TA_MASTER_KEY=" + old_b64;
  const std::string args = "keys rotate --db '" + t->url() + "' --new-key-file " + dir +
                           "/new.key --batch 20";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("TA_MASTER_KEY", old_b64.c_str(), 1);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execl(TA_BINARY, "tenantatlas", "keys", "rotate", "--db", t->url().c_str(), "--new-key-file",
          (dir + "/new.key").c_str(), "--batch", "20", static_cast<char*>(nullptr));
    _exit(127);
  }
  int64_t done_before_kill = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    auto progress = Column(db, "SELECT progress FROM key_rotations");
    if (!progress.empty()) {
      const json p = json::parse(progress[0]);
      done_before_kill = p.value("/tenants.client_secret_enc/done"_json_pointer, int64_t{0});
      if (done_before_kill >= 200) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the rotation ended before it was killed";
  EXPECT_GE(done_before_kill, 200);
  EXPECT_EQ(::ta::testing::QueryInt(db, "SELECT COUNT(*) FROM key_rotations WHERE finished_at IS "
                                        "NULL"),
            1);
  int under_new = 0, under_old = 0;
  EXPECT_EQ(check_all(ring, &under_new, &under_old), 0) << "a value was lost or damaged";
  EXPECT_GT(under_new, 0);
  EXPECT_GT(under_old, 0) << "killed midway: some values are still under the old key";
  EXPECT_EQ(under_new + under_old, kTenants);
  std::printf("KEYS|%s|SIGKILL after %lld tenants checked|under the new key %d|under the old %d|"
              "every value opens with NEW,OLD\n",
              db.backend() == store::Backend::kSqlite ? "sqlite" : "postgres",
              static_cast<long long>(done_before_kill), under_new, under_old);
  const CliRun status_mid = Cli("", "keys status --db '" + t->url() + "'");
  EXPECT_EQ(status_mid.exit_code, 3) << status_mid.out;
  EXPECT_NE(status_mid.out.find("in progress or stopped"), std::string::npos) << status_mid.out;

  // The next run (the old key still works) finishes; then the new key alone opens everything.
  const CliRun finish = Cli(env, args);
  EXPECT_EQ(finish.exit_code, 0) << finish.out;
  EXPECT_NE(finish.out.find("complete"), std::string::npos) << finish.out;
  under_new = under_old = 0;
  EXPECT_EQ(check_all(new_box, &under_new, &under_old), 0);
  EXPECT_EQ(under_new, kTenants);
  const CliRun status_end = Cli("", "keys status --db '" + t->url() + "'");
  EXPECT_EQ(status_end.exit_code, 0) << status_end.out;
  EXPECT_NE(status_end.out.find("tenants.client_secret_enc: " + std::to_string(kTenants) + " of " +
                                std::to_string(kTenants)),
            std::string::npos)
      << status_end.out;
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeysCli,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta
