#include "notify/alerts.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "jobs/job_queue.h"
#include "runs/operations.h"
#include "runs/run_service.h"
#include "runs/run_words.h"
#include "store/audit_log.h"

namespace ta::notify {

using nlohmann::json;

const std::vector<std::string>& AlertEvents() {
  static const std::vector<std::string> kEvents = {kRunFailed, kRunPartial, kRetentionDeleted,
                                                   kBackupMissed, kBackupOverdue, kDriftDetected,
                                                   kCredentialsInvalid, kCredentialsExpiring};
  return kEvents;
}

namespace {}  // namespace

Status Raise(store::Database& db, store::Tx& tx, int64_t tenant, const std::string& event,
             const json& data, int64_t now_ms) {
  auto channels = store::Alerts::Subscribed(tx, tenant, event);
  if (!channels) return channels.error();
  for (const auto& c : *channels) {
    store::AlertDelivery d;
    d.channel_id = c.id;
    d.tenant_id = tenant;
    d.event = event;
    d.created_at = now_ms;
    d.payload = json{{"type", event}, {"timestamp", FormatIso8601(now_ms)}, {"data", data}}.dump();
    auto id = store::Alerts::AddDelivery(tx, d);
    if (!id) return id.error();
    jobs::JobSpec spec;
    spec.tenant_id = tenant;
    spec.kind = kDeliverKind;
    spec.payload = json{{"delivery_id", *id}}.dump();
    spec.max_attempts = kDeliveryAttempts;
    spec.priority = 50;  // ahead of backups: an alert is small and late is useless
    auto job = jobs::JobQueue::Enqueue(db, tx, spec, now_ms);
    if (!job) return job.error();
  }
  return Status::Ok();
}

Status OnRunFinished(store::Database& db, store::Tx& tx, const store::RunRecord& run,
                     int64_t now_ms) {
  std::string event;
  if (run.status == store::RunStatus::kFailed) event = kRunFailed;
  if (run.status == store::RunStatus::kPartiallySucceeded) event = kRunPartial;
  int64_t deleted = 0;
  if (run.type == runs::kScheduleRetention && run.status == store::RunStatus::kSucceeded) {
    auto items = store::RunsRepository::Items(tx, run.tenant_id, run.id);
    if (!items) return items.error();
    deleted = std::count_if(items->begin(), items->end(),
                            [](const store::RunItem& i) { return i.status == "deleted"; });
    if (deleted > 0) event = kRetentionDeleted;
  }
  std::optional<std::string> refused;  // a connection check's refused token
  if (run.type == runs::kConnectionCheck && run.status == store::RunStatus::kFailed) {
    auto items = store::RunsRepository::Items(tx, run.tenant_id, run.id);
    if (!items) return items.error();
    for (const auto& i : *items)
      if (i.item_ref == "token" && i.status == "failed") refused = i.error_message.value_or("");
  }
  if (event.empty()) return Status::Ok();
  auto words = runs::DescribeRun(tx, run);
  if (!words) return words.error();
  json data = {{"tenant_id", run.tenant_id},
               {"tenant_name", words->tenant},
               {"run_id", run.id},
               {"run_type", run.type},
               {"status", store::ToString(run.status)},
               {"summary", runs::RunSentence(run, *words) + "."},
               {"url", runs::RunUrl(run.id) + "?tenant=" + std::to_string(run.tenant_id)},
               {"counts",
                {{"total", run.total},
                 {"succeeded", run.succeeded},
                 {"failed", run.failed},
                 {"skipped", run.skipped}}}};
  if (run.error_message) data["error"] = *run.error_message;
  if (deleted > 0) data["deleted_sets"] = deleted;
  if (refused) {
    json invalid = data;
    invalid["summary"] = "Microsoft refused TenantAtlas's credentials for " + words->tenant +
                         ": " + *refused;
    TA_RETURN_IF_ERROR(Raise(db, tx, run.tenant_id, kCredentialsInvalid, invalid, now_ms));
  }
  return Raise(db, tx, run.tenant_id, event, data, now_ms);
}

std::string NewWebhookSecret() {
  unsigned char key[24];
  randombytes_buf(key, sizeof key);
  std::string b64(sodium_base64_ENCODED_LEN(sizeof key, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return "whsec_" + b64;
}

Result<std::string> SignWebhook(const std::string& secret, const std::string& id,
                                int64_t timestamp_s, const std::string& body) {
  std::string_view b64 = secret;
  if (b64.rfind("whsec_", 0) == 0) b64.remove_prefix(6);
  std::string key(b64.size(), '\0');
  size_t key_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(key.data()), key.size(), b64.data(),
                        b64.size(), nullptr, &key_len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      key_len == 0)
    return Unexpected(Status::InvalidArgument("webhook secret: not whsec_<base64>"));
  const std::string content = id + "." + std::to_string(timestamp_s) + "." + body;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key_len);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(content.data()),
                                content.size());
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(key.data(), key.size());
  std::string sig(sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(sig.data(), sig.size(), mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
  sig.resize(std::strlen(sig.c_str()));
  return "v1," + sig;
}

// ---- channels ----

namespace {

// "https://host/…": a webhook URL's path and query often are its credential
// (Teams and Slack put the token there), so answers show only the host.
std::string Host(const std::string& url) {
  std::string host = url;
  if (auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
  return host.substr(0, host.find_first_of("/?#"));
}

std::string MaskedTarget(const store::AlertChannel& c) {
  if (c.kind == "email") return c.target;
  const std::string scheme = c.target.substr(0, c.target.find("://") + 3);
  return scheme + Host(c.target) + "/…";
}

}  // namespace

json ChannelJson(const store::AlertChannel& c) {
  return {{"id", c.id},
          {"tenant_id", c.tenant_id ? json(*c.tenant_id) : json()},
          {"name", c.name},
          {"kind", c.kind},
          {"target", MaskedTarget(c)},
          {"has_secret", c.secret_enc.has_value()},
          {"events", c.events},
          {"enabled", c.enabled},
          {"disabled_reason", c.disabled_reason ? json(*c.disabled_reason) : json()},
          {"consecutive_failures", c.consecutive_failures},
          {"created_at", TimeJson(c.created_at)},
          {"updated_at", TimeJson(c.updated_at)}};
}

json DeliveryJson(const store::AlertDelivery& d) {
  return {{"id", d.id},
          {"event", d.event},
          {"status", d.status},
          {"attempts", d.attempts},
          {"last_error", d.last_error ? json(*d.last_error) : json()},
          {"created_at", TimeJson(d.created_at)},
          {"finished_at", TimeJson(d.finished_at)},
          {"payload", json::parse(d.payload, nullptr, false)}};
}

namespace {

Status Validate(const ChannelInput& in) {
  if (in.name.empty() || in.name.size() > 100)
    return Status::InvalidArgument("name: 1 to 100 characters");
  if (in.kind != "webhook" && in.kind != "chat" && in.kind != "email")
    return Status::InvalidArgument(
        "kind: webhook (signed, Standard Webhooks), chat (a Teams or Slack incoming webhook) or "
        "email");
  if (in.kind == "email") {
    if (in.target.empty() || in.target.size() > 1000 || in.target.find('@') == std::string::npos ||
        in.target.find_first_of("\r\n<>") != std::string::npos)
      return Status::InvalidArgument(
          "target: one or more email addresses, separated by commas (ops@msp.example)");
  } else if (in.target.rfind("https://", 0) != 0 && in.target.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("target: the receiver's URL, https://...");
  } else if (in.target.size() > 2000) {
    return Status::InvalidArgument("target: at most 2000 characters");
  }
  if (in.events.empty())
    return Status::InvalidArgument(
        "events: choose at least one of run.failed, "
        "run.partially_succeeded, retention.deleted, backup.missed");
  for (size_t i = 0; i < in.events.size(); ++i) {
    const auto& all = AlertEvents();
    if (std::find(all.begin(), all.end(), in.events[i]) == all.end())
      return Status::InvalidArgument("events[" + std::to_string(i) + "]: \"" + in.events[i] +
                                     "\" is not an event; use run.failed, run.partially_succeeded, "
                                     "retention.deleted or backup.missed");
  }
  return Status::Ok();
}

Status Audit(store::Tx& tx, const store::User& actor, const std::string& action,
             const store::AlertChannel& c, int64_t now) {
  // The target URL may carry a token (chat webhooks do): only its host is recorded.
  return store::AuditLog::Record(
      tx, c.tenant_id.value_or(0), store::ActorIdOf(actor), action, "alert_channel",
      std::to_string(c.id),
      json{{"name", c.name}, {"kind", c.kind}, {"target", MaskedTarget(c)}, {"events", c.events}}
          .dump(),
      now);
}

}  // namespace

Status ChannelService::Check(store::Tx& tx, const store::User& actor,
                             std::optional<int64_t> tenant) {
  if (actor.is_platform_admin) return Status::Ok();
  if (!tenant)
    return Status::PermissionDenied(
        "a channel for every tenant needs a platform admin; give tenant_id for one tenant");
  auto role = store::Accounts::RoleOf(tx, actor.id, *tenant);
  if (!role) return role.error();
  if (!*role || **role != "owner")
    return Status::PermissionDenied("alert channels of tenant " + std::to_string(*tenant) +
                                    " are managed by its owners");
  return Status::Ok();
}

Result<store::AlertChannel> ChannelService::Visible(store::Tx& tx, const store::User& actor,
                                                    int64_t id) {
  auto c = store::Alerts::Channel(tx, id);
  if (!c) return Unexpected(c.error());
  TA_RETURN_IF_ERROR(Check(tx, actor, c->tenant_id));
  return *c;
}

Result<ChannelService::Created> ChannelService::Create(const store::User& actor,
                                                       const ChannelInput& in) {
  TA_RETURN_IF_ERROR(Validate(in));
  std::optional<std::string> secret;
  store::AlertChannel c;
  c.tenant_id = in.tenant_id;
  c.name = in.name;
  c.kind = in.kind;
  c.target = in.target;
  c.events = in.events;
  c.enabled = in.enabled;
  c.created_by = store::ActorIdOf(actor);
  if (in.kind == "webhook") {
    if (!box_)
      return Unexpected(Status::FailedPrecondition(
          "a webhook channel needs the master key (to seal its signing secret)"));
    secret = NewWebhookSecret();
    c.secret_enc = box_->Seal(*secret);
  }
  auto out = store::WriteResult<store::AlertChannel>(
      db_, [&](store::Tx& tx) -> Result<store::AlertChannel> {
        TA_RETURN_IF_ERROR(Check(tx, actor, c.tenant_id));
        if (c.tenant_id) {
          auto t = store::Accounts::TenantById(tx, *c.tenant_id);
          if (!t) return Unexpected(Status::InvalidArgument("tenant_id: no such tenant"));
        }
        const int64_t now = ToUnixMillis(clock_.Now());
        c.created_at = c.updated_at = now;
        auto id = store::Alerts::CreateChannel(tx, c);
        if (!id) return Unexpected(id.error());
        c.id = *id;
        TA_RETURN_IF_ERROR(Audit(tx, actor, "alert_channel.created", c, now));
        return c;
      });
  if (!out) return Unexpected(out.error());
  return Created{*out, secret};
}

Result<store::AlertChannel> ChannelService::Update(const store::User& actor, int64_t id,
                                                   const ChannelInput& in) {
  return store::WriteResult<store::AlertChannel>(
      db_, [&](store::Tx& tx) -> Result<store::AlertChannel> {
        auto c = Visible(tx, actor, id);
        if (!c) return Unexpected(c.error());
        ChannelInput merged = in;
        merged.kind = c->kind;  // the kind (and a webhook's secret) stay
        merged.tenant_id = c->tenant_id;
        if (merged.target.empty()) merged.target = c->target;  // not shown back; kept
        TA_RETURN_IF_ERROR(Validate(merged));
        c->name = in.name;
        c->target = merged.target;
        c->events = in.events;
        c->enabled = in.enabled;
        c->updated_at = ToUnixMillis(clock_.Now());
        TA_RETURN_IF_ERROR(store::Alerts::UpdateChannel(tx, *c));
        TA_RETURN_IF_ERROR(Audit(tx, actor, "alert_channel.updated", *c, c->updated_at));
        return store::Alerts::Channel(tx, id);
      });
}

Status ChannelService::Delete(const store::User& actor, int64_t id) {
  return db_.Write([&](store::Tx& tx) -> Status {
    auto c = Visible(tx, actor, id);
    if (!c) return c.error();
    TA_RETURN_IF_ERROR(store::Alerts::DeleteChannel(tx, id));
    return Audit(tx, actor, "alert_channel.deleted", *c, ToUnixMillis(clock_.Now()));
  });
}

Result<std::vector<store::AlertChannel>> ChannelService::List(const store::User& actor) {
  return store::ReadResult<std::vector<store::AlertChannel>>(
      db_, [&](store::Tx& tx) -> Result<std::vector<store::AlertChannel>> {
        std::vector<int64_t> owned;
        auto ms = store::Accounts::MembershipsOf(tx, actor.id);
        if (!ms) return Unexpected(ms.error());
        for (const auto& m : *ms)
          if (actor.is_platform_admin || m.role == "owner") owned.push_back(m.tenant_id);
        return store::Alerts::Channels(tx, owned, actor.is_platform_admin, actor.is_platform_admin);
      });
}

Result<std::vector<store::AlertDelivery>> ChannelService::Deliveries(const store::User& actor,
                                                                     int64_t id, int64_t limit) {
  return store::ReadResult<std::vector<store::AlertDelivery>>(
      db_, [&](store::Tx& tx) -> Result<std::vector<store::AlertDelivery>> {
        auto c = Visible(tx, actor, id);
        if (!c) return Unexpected(c.error());
        return store::Alerts::Deliveries(tx, id, limit);
      });
}

Result<int64_t> ChannelService::Test(const store::User& actor, int64_t id) {
  return store::WriteResult<int64_t>(db_, [&](store::Tx& tx) -> Result<int64_t> {
    auto c = Visible(tx, actor, id);
    if (!c) return Unexpected(c.error());
    const int64_t now = ToUnixMillis(clock_.Now());
    store::AlertDelivery d;
    d.channel_id = c->id;
    d.tenant_id = c->tenant_id;
    d.event = "test";
    d.created_at = now;
    d.payload = json{{"type", "test"},
                     {"timestamp", FormatIso8601(now)},
                     {"data", {{"summary", "A test alert from TenantAtlas to “" + c->name + "”."}}}}
                    .dump();
    auto delivery = store::Alerts::AddDelivery(tx, d);
    if (!delivery) return Unexpected(delivery.error());
    jobs::JobSpec spec;
    // A job belongs to a tenant: a global channel's test runs under the
    // first tenant (there is always one when there is anything to alert on).
    int64_t tenant = c->tenant_id.value_or(0);
    if (!tenant) {
      auto all = store::Accounts::FirstTenantId(tx);
      if (!all) return Unexpected(all.error());
      if (!*all)
        return Unexpected(Status::FailedPrecondition("there is no tenant yet to send a test for"));
      tenant = **all;
    }
    spec.tenant_id = tenant;
    spec.kind = kDeliverKind;
    spec.payload = json{{"delivery_id", *delivery}}.dump();
    spec.max_attempts = kDeliveryAttempts;
    spec.priority = 50;
    auto job = jobs::JobQueue::Enqueue(db_, tx, spec, now);
    if (!job) return Unexpected(job.error());
    return *delivery;
  });
}

}  // namespace ta::notify
