// End-to-end: `tenantatlas serve --demo` as the README runs it (the three
// curl lines it prints finish a run), and the admin commands.
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/credentials.h"
#include "store/audit_log.h"
#include "store/database.h"
#include "support/child.h"

namespace ta {
namespace {

using nlohmann::json;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using ::ta::testing::Child;
using ::ta::testing::Shell;

class ServeCli : public ::ta::testing::TempDirTest {};

TEST_F(ServeCli, DemoPrintsCurlLinesThatFinishARun) {
  Child serve =
      Child::Start({TA_BINARY, "serve", "--demo", "--port", "0", "--db", dir_ + "/data/ta.db"},
                   dir_ + "/serve.log");
  const auto listening = serve.WaitFor(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"),
                                       std::chrono::seconds(30));
  ASSERT_FALSE(listening.empty()) << serve.buffered;
  const int port = std::stoi(listening[1]);
  const auto token =
      serve.WaitFor(std::regex(R"(export TOKEN=(tat_\S+))"), std::chrono::seconds(90));
  ASSERT_FALSE(token.empty()) << serve.buffered;
  EXPECT_NE(serve.buffered.find("inventory synced and a first backup set taken"), std::string::npos)
      << serve.buffered;
  // The printed lines, run as written (curl replaced by an HTTP client).
  std::smatch capture, preview;
  ASSERT_TRUE(std::regex_search(
      serve.buffered, capture,
      std::regex(
          R"(curl -s -X POST -H "Authorization: Bearer \$TOKEN" http://127\.0\.0\.1:\d+(\S+/capture))")));
  ASSERT_TRUE(std::regex_search(
      serve.buffered, preview,
      std::regex(R"(-d '(\{[^']*\})' http://127\.0\.0\.1:\d+(\S+/restores/preview))")));
  // On a new database they are the README's lines, ids included.
  const std::string readme = Slurp(std::string(TA_TEST_DATA_DIR) + "/../../README.md");
  EXPECT_NE(readme.find("http://127.0.0.1:8080" + capture[1].str() + "\n"), std::string::npos)
      << capture[0];
  EXPECT_NE(
      readme.find("-d '" + preview[1].str() + "' http://127.0.0.1:8080" + preview[2].str() + "\n"),
      std::string::npos)
      << preview[0];
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer " + token[1].str()}};
  auto cap = client.Post(capture[1].str().c_str(), auth, "", "application/json");
  ASSERT_TRUE(cap);
  EXPECT_TRUE(cap->status == 202 || cap->status == 200) << cap->body;
  auto pre = client.Post(preview[2].str().c_str(), auth, preview[1].str(), "application/json");
  ASSERT_TRUE(pre);
  ASSERT_EQ(pre->status, 202) << pre->body;
  const std::string events = json::parse(pre->body)["run"]["links"]["events"];
  std::string stream;
  auto watched = client.Get(events.c_str(), auth, [&](const char* d, size_t n) {
    stream.append(d, n);
    return true;
  });
  ASSERT_TRUE(watched);
  EXPECT_NE(stream.find("event: end\ndata: {\"status\":\"succeeded\"}"), std::string::npos)
      << stream;
  EXPECT_EQ(serve.Stop(SIGTERM), 0);
  const std::string log = Slurp(dir_ + "/serve.log");
  EXPECT_NE(log.find("\"msg\":\"serve stopped\""), std::string::npos) << log;
  // The demo tenants' client secrets are sealed, never logged or stored in clear.
  EXPECT_EQ(log.find("secret-Qx8~"), std::string::npos);
  EXPECT_EQ(Slurp(dir_ + "/data/ta.db").find("secret-Qx8~"), std::string::npos);
}

TEST_F(ServeCli, ConnectionSettingsAreCheckedAndNameTheFlag) {
  const std::string serve = std::string("TA_MASTER_KEY=") +
                            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= " + TA_BINARY +
                            " serve --db " + dir_ + "/ta.db --port 0 ";
  const std::pair<std::string, std::string> bad[] = {
      {"--trusted-proxy proxy.local",
       "--trusted-proxy: proxy.local is not an IP address or IPv4 CIDR"},
      {"--trusted-proxy 10.0.0.0/33", "--trusted-proxy: 10.0.0.0/33"},
      {"--header-timeout-ms 5", "--header-timeout-ms: must be 100 to 3600000 (ms)"},
      {"--http-threads 0", "--http-threads: must be 1 to 1024"},
      {"--db-connections 0", "--db-connections: must be 1 to 1000"},
      {"--max-streams-per-user 0", "--max-streams-per-user: must be at least 1"},
  };
  for (const auto& [flags, message] : bad) {
    std::string out;
    EXPECT_EQ(Shell(serve + flags + " 2>&1", &out), 2) << flags;
    EXPECT_NE(out.find(message), std::string::npos) << flags << ": " << out;
  }
}

TEST_F(ServeCli, AdminCommandsReadSecretsFromStdinAndAuditEveryChange) {
  const std::string db = dir_ + "/ta.db";
  const std::string bin = std::string(TA_BINARY) + " ";
  const std::string key = "TA_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= ";
  std::string out;
  EXPECT_EQ(Shell("echo short | " + bin + "user add --db " + db + " --email ops@example.com", &out),
            2);
  EXPECT_NE(out.find("password: use at least 12 characters"), std::string::npos) << out;
  ASSERT_EQ(Shell("echo 'a long enough passphrase' | " + bin + "user add --db " + db +
                      " --email Ops@Example.com --name Ops --platform-admin",
                  &out),
            0)
      << out;
  EXPECT_NE(out.find("ops@example.com (platform admin)"), std::string::npos) << out;
  std::string token;
  ASSERT_EQ(
      Shell(bin + "token create --db " + db + " --email ops@example.com --name ci", &token, true),
      0);
  ASSERT_EQ(token.rfind("tat_", 0), 0u) << token;
  token = token.substr(0, token.find('\n'));
  ASSERT_EQ(Shell("printf 'Cl1ent-S3cret~value' | " + key + bin + "tenant add --db " + db +
                      " --name Contoso --entra-tenant-id contoso.example --client-id app-1",
                  &out),
            0)
      << out;
  EXPECT_EQ(Shell(bin + "member add --db " + db +
                      " --tenant Contoso --email ops@example.com --role owner",
                  &out),
            0)
      << out;
  EXPECT_EQ(Shell(bin + "member add --db " + db + " --tenant 1 --email ops@example.com --role boss",
                  &out),
            2);
  EXPECT_NE(out.find("--role"), std::string::npos);

  auto opened = store::OpenDatabase(db);
  ASSERT_TRUE(opened.has_value());
  auto count = [&](const std::string& sql, const store::Params& p = {}) {
    return *store::ReadResult<int64_t>(**opened, [&](store::Tx& tx) -> Result<int64_t> {
      auto r = tx.Query(sql, p);
      if (!r) return Unexpected(r.error());
      return r->front().Int(0);
    });
  };
  EXPECT_EQ(count("SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1", {SecretHash(token)}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM memberships WHERE role = 'owner'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_log WHERE action IN ('user.created', "
                  "'token.created', 'tenant.created', 'tenant.credentials_set', 'member.set')"),
            5);
  EXPECT_TRUE(store::AuditLog::Verify(**opened)->empty());
  opened->reset();
  EXPECT_EQ(Slurp(db).find("Cl1ent-S3cret~value"), std::string::npos);
  // The last-owner rule holds in the CLI as in the API. Before: the CLI removed
  // the tenant's only owner.
  EXPECT_NE(
      Shell(bin + "member remove --db " + db + " --tenant Contoso --email ops@example.com", &out),
      0);
  EXPECT_NE(out.find("would have no owner"), std::string::npos) << out;
  EXPECT_NE(Shell(bin + "member add --db " + db +
                      " --tenant Contoso --email ops@example.com --role readonly",
                  &out),
            0);
  ASSERT_EQ(Shell("echo 'another long passphrase' | " + bin + "user add --db " + db +
                      " --email second@example.com",
                  &out),
            0)
      << out;
  ASSERT_EQ(Shell(bin + "member add --db " + db +
                      " --tenant Contoso --email second@example.com --role owner",
                  &out),
            0)
      << out;
  EXPECT_EQ(
      Shell(bin + "member remove --db " + db + " --tenant Contoso --email ops@example.com", &out),
      0)
      << out;
  EXPECT_EQ(Shell(bin + "token revoke --db " + db + " --id 1", &out), 0) << out;
  EXPECT_EQ(Shell(bin + "token revoke --db " + db + " --id 99", &out), 1);
  EXPECT_NE(out.find("token 99 does not exist"), std::string::npos) << out;
}

}  // namespace
}  // namespace ta
