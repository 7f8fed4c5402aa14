// Alerts end to end on both backends, with real receivers on loopback: a
// failed backup gives one signed webhook (the signature checked by a Python
// receiver with its own HMAC) and one email received by an SMTP server
// (Debian's python3-aiosmtpd, STARTTLS with a throwaway certificate). A
// receiver that is down gets every retry, then the channel switches itself
// off and says why. The signing secret is nowhere in the database but sealed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "notify/alerts.h"
#include "ops_env.h"
#include "support/child.h"

namespace ta::ops {
namespace {

using ::ta::testing::Child;
using ::ta::testing::TestBackend;
using ::ta::testing::TestDatabase;

class AlertsTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ta-alerts-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    for (auto* c : {&receiver_, &smtp_})
      if (c->pid > 0) c->Stop(SIGKILL);
    std::filesystem::remove_all(dir_);
  }
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Waits (bounded) until `path` exists.
  static bool AwaitFile(const std::string& path) {
    for (int i = 0; i < 200 && !std::filesystem::exists(path); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling with a deadline
    return std::filesystem::exists(path);
  }
  std::string dir_;
  Child receiver_, smtp_;
};

TEST_P(AlertsTest, AFailedRunSendsOneSignedWebhookAndOneEmailAndADeadReceiverIsSwitchedOff) {
  auto t = TestDatabase::Create(GetParam());
  if (!t) return;
  // The SMTP server: STARTTLS with a certificate for 127.0.0.1, made here.
  const std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem", maildir = dir_ + "/mail";
  std::string out;
  ASSERT_EQ(::ta::testing::Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                                 "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
                                     key + " -out " + cert,
                                 &out),
            0)
      << out;
  const int smtp_port = FreePort();
  smtp_ = Child::Start(
      {"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + std::to_string(smtp_port),
       "--tlscert", cert, "--tlskey", key, "-c", "aiosmtpd.handlers.Mailbox", maildir},
      dir_ + "/smtp.log");
  jobs::QueueOptions qo;
  qo.retry.base = std::chrono::milliseconds(10);  // retries in ms, not seconds
  OpsEnv env(std::move(t), {}, qo, [&](OpsStackOptions& o) {
    o.alerts.smtp.url = "smtp://127.0.0.1:" + std::to_string(smtp_port);
    o.alerts.smtp.from = "atlas@msp.example";
    o.alerts.smtp.ca_file = cert;
    o.alerts.smtp.require_tls = true;
    o.alerts.public_url = "https://atlas.msp.example";
  });

  store::User admin;
  admin.id = ::ta::testing::MakeUser(env.db(), "admin@msp.example");
  admin.is_platform_admin = true;
  notify::ChannelService channels(env.db(), SystemClock::Instance(), &env.box);
  auto webhook = channels.Create(admin, {env.tenant_a,
                                         "SIEM",
                                         "webhook",
                                         "http://127.0.0.1:1/",
                                         {"run.failed", "run.partially_succeeded"}});
  ASSERT_TRUE(webhook.has_value()) << webhook.error().message();
  ASSERT_TRUE(webhook->secret.has_value());
  // The receiver verifies with the secret shown once at creation.
  receiver_ = Child::Start({"/usr/bin/python3", TA_SOURCE_DIR "/tests/notify/webhook_receiver.py",
                            dir_ + "/port", *webhook->secret, dir_ + "/received.jsonl"},
                           dir_ + "/receiver.log");
  ASSERT_TRUE(AwaitFile(dir_ + "/port"));
  const std::string url = "http://127.0.0.1:" + Slurp(dir_ + "/port") + "/hooks/atlas";
  ASSERT_TRUE(
      channels.Update(admin, webhook->channel.id, {std::nullopt, "SIEM", "", url, {"run.failed"}})
          .has_value());
  auto email = channels.Create(admin, {std::nullopt,
                                       "Night desk",
                                       "email",
                                       "desk@msp.example, oncall@msp.example",
                                       {"run.failed"}});
  ASSERT_TRUE(email.has_value()) << email.error().message();

  // A backup whose every capture Graph refuses: the run fails.
  env.sim.GeneratePolicies("ms-a", 3, "deviceConfigurations");
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_a, std::nullopt));
  env.Drain();
  auto set =
      StartBackupSet(*env.runs, env.db(), env.tenant_a, "Nightly", std::nullopt, env.operator_both);
  ASSERT_TRUE(set.has_value());
  env.sim.FailNext(3, 400);
  env.Drain();
  ASSERT_EQ(env.Run(env.tenant_a, set->run.id).status, store::RunStatus::kFailed);

  // One signed webhook, verified by the receiver.
  const std::string received = Slurp(dir_ + "/received.jsonl");
  ASSERT_EQ(std::count(received.begin(), received.end(), '\n'), 1) << received;
  const auto line = nlohmann::json::parse(received.substr(0, received.find('\n')));
  EXPECT_TRUE(line["verified"].get<bool>()) << received;
  EXPECT_EQ(line["type"], "run.failed");
  // One email, over STARTTLS, to both recipients.
  std::vector<std::string> mails;
  if (std::filesystem::exists(maildir + "/new"))
    for (const auto& f : std::filesystem::directory_iterator(maildir + "/new"))
      mails.push_back(Slurp(f.path()));
  ASSERT_EQ(mails.size(), 1u) << Slurp(dir_ + "/smtp.log");
  EXPECT_NE(mails[0].find("Subject: [TenantAtlas] Backup set"), std::string::npos) << mails[0];
  EXPECT_NE(mails[0].find("failed"), std::string::npos);
  EXPECT_NE(mails[0].find("To: desk@msp.example, oncall@msp.example"), std::string::npos);
  EXPECT_NE(mails[0].find("View run: https://atlas.msp.example/runs/"), std::string::npos);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM alert_deliveries WHERE status = 'delivered'"), 2);

  // A receiver that is down: every delivery is tried 4 times; after 5 failed
  // deliveries in a row the channel is off, and says why.
  auto dead = channels.Create(admin, {env.tenant_b,
                                      "Old PSA",
                                      "chat",
                                      "http://127.0.0.1:" + std::to_string(FreePort()) + "/x",
                                      {"run.failed"}});
  ASSERT_TRUE(dead.has_value());
  env.sim.GeneratePolicies("ms-b", 1, "deviceConfigurations");
  ASSERT_TRUE(StartInventorySync(*env.runs, env.tenant_b, std::nullopt));
  env.Drain();
  const int64_t policy =
      env.Count("SELECT MIN(id) FROM policies WHERE tenant_id = $1", {env.tenant_b});
  for (int i = 0; i < 6; ++i) {
    env.sim.FailNext(1, 400);
    ASSERT_TRUE(StartCaptureSnapshot(*env.runs, env.tenant_b, policy, env.operator_both));
    env.Drain();
  }
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM runs WHERE tenant_id = $1 AND type = "
                      "'policy.capture_snapshot' AND status = 'failed'",
                      {env.tenant_b}),
            6);
  // Five deliveries, four attempts each; the sixth failure found the channel off.
  EXPECT_EQ(
      env.Count("SELECT COUNT(*) FROM alert_deliveries WHERE channel_id = $1", {dead->channel.id}),
      5);
  EXPECT_EQ(env.Count("SELECT COUNT(*) FROM alert_deliveries WHERE channel_id = $1 AND status = "
                      "'failed' AND attempts = 4",
                      {dead->channel.id}),
            5);
  // Answers show a URL's host only: a chat webhook's path is its credential.
  EXPECT_EQ(notify::ChannelJson(dead->channel)["target"].get<std::string>().find("/x"),
            std::string::npos);
  EXPECT_EQ(notify::ChannelJson(dead->channel)["target"].get<std::string>().rfind("…"),
            notify::ChannelJson(dead->channel)["target"].get<std::string>().size() - 3);
  auto off = store::ReadResult<store::AlertChannel>(
      env.db(), [&](store::Tx& tx) { return store::Alerts::Channel(tx, dead->channel.id); });
  ASSERT_TRUE(off.has_value());
  EXPECT_FALSE(off->enabled);
  ASSERT_TRUE(off->disabled_reason.has_value());
  EXPECT_NE(off->disabled_reason->find("switched off after 5 failed deliveries in a row"),
            std::string::npos)
      << *off->disabled_reason;
  EXPECT_NE(off->disabled_reason->find("could not be reached"), std::string::npos);

  // The signing secret is stored sealed only: not in a delivery, the audit
  // log or the channel's JSON.
  const std::string secret = *webhook->secret;
  for (const char* sql : {"SELECT COUNT(*) FROM alert_deliveries WHERE payload LIKE $1",
                          "SELECT COUNT(*) FROM audit_log WHERE details LIKE $1",
                          "SELECT COUNT(*) FROM alert_channels WHERE secret_enc LIKE $1"})
    EXPECT_EQ(env.Count(sql, {"%" + secret.substr(6) + "%"}), 0) << sql;
  EXPECT_EQ(notify::ChannelJson(webhook->channel).dump().find(secret.substr(6)), std::string::npos);
}

TEST(Alerts, SignaturesFollowStandardWebhooks) {
  // The example of the Standard Webhooks specification.
  auto sig =
      notify::SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                          1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_FALSE(notify::SignWebhook("whsec_***", "id", 1, "{}").has_value());
  EXPECT_EQ(notify::NewWebhookSecret().rfind("whsec_", 0), 0u);
}

// A connection check whose token Microsoft refuses raises credentials.invalid
// (besides run.failed) for a channel that takes it; drift.detected is raised
// only for newly opened findings.
TEST_P(AlertsTest, RefusedCredentialsAndNewDriftRaiseTheirAlerts) {
  jobs::QueueOptions qo;
  qo.retry.base = std::chrono::milliseconds(20);  // the unreachable chat host's retries
  TA_OPS_ENV(env, {}, qo);
  store::User owner;
  owner.id = env.operator_both;
  owner.is_platform_admin = true;
  notify::ChannelService channels(env.db(), SystemClock::Instance(), &env.box);
  notify::ChannelInput in;
  in.tenant_id = env.tenant_a;
  in.name = "ops chat";
  in.kind = "chat";
  in.target = "https://chat.example.com/hook";
  in.events = {notify::kCredentialsInvalid, notify::kDriftDetected};
  auto made = channels.Create(owner, in);
  ASSERT_TRUE(made.has_value()) << made.error().ToString();
  auto deliveries = [&](const std::string& event) {
    return env.Count("SELECT COUNT(*) FROM alert_deliveries WHERE event = $1", {event});
  };

  ASSERT_TRUE(SetTenantCredentials(env.db(), env.box, env.tenant_a, "ms-a", "app-a", "wrong").ok());
  auto check = runs::StartConnectionCheck(*env.runs, env.tenant_a, env.operator_both);
  ASSERT_TRUE(check.has_value());
  env.Drain();
  EXPECT_EQ(env.Run(env.tenant_a, check->run.id).status, store::RunStatus::kFailed);
  EXPECT_EQ(deliveries(notify::kCredentialsInvalid), 1);
  const std::string payload =
      env.Text("SELECT payload FROM alert_deliveries WHERE event = 'credentials.invalid'", {});
  EXPECT_NE(payload.find("refused TenantAtlas's credentials for Contoso"), std::string::npos)
      << payload;
  EXPECT_EQ(payload.find("wrong"), std::string::npos) << "no secret in an alert";

  ASSERT_TRUE(
      SetTenantCredentials(env.db(), env.box, env.tenant_a, "ms-a", "app-a", "secret-a-Qx8~").ok());
  env.sim.Seed("ms-a", "deviceConfigurations",
               {{{"id", "wifi-1"}, {"displayName", "Wi-Fi"}, {"description", "v1"}}});
  env.SyncAndBackUpA();
  ASSERT_TRUE(env.sim.AdminChange("ms-a", "deviceConfigurations", "wifi-1", {{"description", "v2"}},
                                  "alex@contoso.example"));
  for (int i = 0; i < 2; ++i) {  // seen twice: one alert
    ASSERT_TRUE(runs::StartDriftDetection(*env.runs, env.tenant_a, env.operator_both).has_value());
    env.Drain();
  }
  EXPECT_EQ(deliveries(notify::kDriftDetected), 1);
  const std::string drift =
      env.Text("SELECT payload FROM alert_deliveries WHERE event = 'drift.detected'", {});
  EXPECT_NE(drift.find("Drift in Contoso: 1 new finding (1 changed"), std::string::npos) << drift;
}

INSTANTIATE_TEST_SUITE_P(Backends, AlertsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::ops
