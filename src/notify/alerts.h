#pragma once

// Alerts: channels (Standard Webhooks-signed webhooks, Teams/Slack-compatible
// chat webhooks, email over SMTP) that are told about events, per tenant or
// for every tenant. An event writes one delivery per subscribed channel and
// a durable job per delivery, in the transaction of what caused it; the job
// sends it with retries and backoff and keeps a delivery log. A channel
// whose deliveries fail kDisableAfter times in a row is switched off and
// says why. Secrets (the webhook signing secret, the SMTP password) never
// appear in a payload, a log or a response.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "core/secret_box.h"
#include "jobs/worker_pool.h"
#include "store/accounts.h"
#include "store/alerts.h"
#include "store/runs_repository.h"

namespace ta::notify {

// Events a channel can take.
inline constexpr const char* kRunFailed = "run.failed";
inline constexpr const char* kRunPartial = "run.partially_succeeded";
inline constexpr const char* kRetentionDeleted = "retention.deleted";
inline constexpr const char* kBackupMissed = "backup.missed";
// A scheduled backup that fired did not succeed, and nothing has since.
inline constexpr const char* kBackupOverdue = "backup.overdue";
inline constexpr const char* kDriftDetected = "drift.detected";
// A connection check whose token Microsoft refused (a wrong or expired secret).
inline constexpr const char* kCredentialsInvalid = "credentials.invalid";
// A tenant's client secret is within 30 days of its end, within 7, or past it
// (once per stage; the scheduler raises it).
inline constexpr const char* kCredentialsExpiring = "credentials.expiring";
const std::vector<std::string>& AlertEvents();

inline constexpr const char* kDeliverKind = "alert.deliver";
inline constexpr int64_t kDisableAfter = 5;  // failed deliveries in a row
inline constexpr int kDeliveryAttempts = 4;  // per delivery, with backoff

// Writes a delivery and its job for each enabled channel of `tenant` (and
// each global one) subscribed to `event`, inside `tx`.
Status Raise(store::Database& db, store::Tx& tx, int64_t tenant, const std::string& event,
             const nlohmann::json& data, int64_t now_ms);

// For RunService's finished hook: a failed or partially succeeded run, a
// retention run that deleted sets, and a connection check whose token was
// refused (also credentials.invalid) raise their events.
Status OnRunFinished(store::Database& db, store::Tx& tx, const store::RunRecord& run,
                     int64_t now_ms);

struct SmtpConfig {
  std::string url;   // smtp://host:587 (STARTTLS) or smtps://host:465; empty: no email
  std::string from;  // the sender address
  std::string username, password;  // optional AUTH
  std::string ca_file;             // trust this CA (a private relay)
  bool require_tls = true;         // refuse to send without STARTTLS
};

struct SenderConfig {
  SmtpConfig smtp;
  std::string public_url;  // https://atlas.example.com: absolute "View run" links
  int timeout_ms = 10'000;
};

// Registers the alert.deliver handler.
void RegisterDeliveryHandler(jobs::WorkerPool& pool, const SecretBox& box, SenderConfig config);

// Standard Webhooks signature of `body`: "v1,<base64 HMAC-SHA256>" over
// "<id>.<timestamp>.<body>" with the secret's key ("whsec_<base64>").
Result<std::string> SignWebhook(const std::string& secret, const std::string& id,
                                int64_t timestamp_s, const std::string& body);
// A new "whsec_..." secret (24 random bytes).
std::string NewWebhookSecret();

// Channels as users manage them. A tenant's channel needs its owner role; a
// global one a platform admin.
struct ChannelInput {
  std::optional<int64_t> tenant_id;
  std::string name;
  std::string kind;    // webhook | chat | email
  std::string target;  // https URL, or comma-separated email addresses
  std::vector<std::string> events;
  bool enabled = true;
};

class ChannelService {
 public:
  ChannelService(store::Database& db, Clock& clock, const SecretBox* box)
      : db_(db), clock_(clock), box_(box) {}
  // A webhook channel's signing secret is returned here, once.
  struct Created {
    store::AlertChannel channel;
    std::optional<std::string> secret;
  };
  Result<Created> Create(const store::User& actor, const ChannelInput& in);
  Result<store::AlertChannel> Update(const store::User& actor, int64_t id, const ChannelInput& in);
  Status Delete(const store::User& actor, int64_t id);
  Result<std::vector<store::AlertChannel>> List(const store::User& actor);
  Result<std::vector<store::AlertDelivery>> Deliveries(const store::User& actor, int64_t id,
                                                       int64_t limit);
  // Sends a test event to one channel (a delivery like any other).
  Result<int64_t> Test(const store::User& actor, int64_t id);

 private:
  Status Check(store::Tx& tx, const store::User& actor, std::optional<int64_t> tenant);
  Result<store::AlertChannel> Visible(store::Tx& tx, const store::User& actor, int64_t id);
  store::Database& db_;
  Clock& clock_;
  const SecretBox* box_;
};

nlohmann::json ChannelJson(const store::AlertChannel& c);
nlohmann::json DeliveryJson(const store::AlertDelivery& d);

}  // namespace ta::notify
