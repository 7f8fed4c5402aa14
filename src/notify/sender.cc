// alert.deliver: sends one delivery over its channel with libcurl (HTTP
// POST for webhooks and chat, SMTP with STARTTLS for email), records the
// attempt, and retries with the queue's backoff; the last failed attempt
// counts against the channel.
#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "notify/alerts.h"
#include "runs/item_progress.h"

namespace ta::notify {

using nlohmann::json;

namespace {

struct Curl {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  curl_slist* rcpt = nullptr;
  ~Curl() {
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpt);
    if (h) curl_easy_cleanup(h);
  }
};

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

struct Reader {
  const std::string& text;
  size_t pos = 0;
};

size_t Read(char* buf, size_t size, size_t n, void* user) {
  auto* r = static_cast<Reader*>(user);
  const size_t len = std::min(size * n, r->text.size() - r->pos);
  std::memcpy(buf, r->text.data() + r->pos, len);
  r->pos += len;
  return len;
}

// nullopt: delivered; else what went wrong (never a secret: URLs are
// reported by host only).
std::optional<std::string> Post(const std::string& url, const std::string& body,
                                const std::vector<std::string>& headers, int timeout_ms) {
  Curl c;
  if (!c.h) return "could not start an HTTP request";
  for (const auto& h : headers) c.headers = curl_slist_append(c.headers, h.c_str());
  c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
  curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
  curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode rc = curl_easy_perform(c.h);
  std::string host = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  host = host.substr(0, host.find('/'));
  if (rc != CURLE_OK)
    return "the receiver at " + host + " could not be reached: " + curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299)
    return "the receiver at " + host + " answered HTTP " + std::to_string(status);
  return std::nullopt;
}

std::optional<std::string> Mail(const SmtpConfig& smtp, const std::string& to_list,
                                const std::string& subject, const std::string& text, int timeout_ms,
                                const std::string& message_id) {
  if (smtp.url.empty() || smtp.from.empty())
    return "email is not set up on this server (--smtp-url and --smtp-from)";
  Curl c;
  if (!c.h) return "could not start an SMTP session";
  std::string to_header;
  size_t start = 0;
  while (start <= to_list.size()) {
    size_t comma = to_list.find(',', start);
    if (comma == std::string::npos) comma = to_list.size();
    std::string addr = to_list.substr(start, comma - start);
    addr.erase(0, addr.find_first_not_of(" \t"));
    addr.erase(addr.find_last_not_of(" \t") + 1);
    if (!addr.empty()) {
      c.rcpt = curl_slist_append(c.rcpt, ("<" + addr + ">").c_str());
      to_header += (to_header.empty() ? "" : ", ") + addr;
    }
    start = comma + 1;
  }
  const std::string message = "From: " + smtp.from + "\r\nTo: " + to_header +
                              "\r\nSubject: " + subject + "\r\nMessage-ID: <" + message_id +
                              "@tenantatlas>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
                              "charset=utf-8\r\n\r\n" +
                              text + "\r\n";
  Reader reader{message};
  curl_easy_setopt(c.h, CURLOPT_URL, smtp.url.c_str());
  curl_easy_setopt(c.h, CURLOPT_MAIL_FROM, ("<" + smtp.from + ">").c_str());
  curl_easy_setopt(c.h, CURLOPT_MAIL_RCPT, c.rcpt);
  curl_easy_setopt(c.h, CURLOPT_READFUNCTION, Read);
  curl_easy_setopt(c.h, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c.h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c.h, CURLOPT_USE_SSL, smtp.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
  if (!smtp.ca_file.empty()) curl_easy_setopt(c.h, CURLOPT_CAINFO, smtp.ca_file.c_str());
  if (!smtp.username.empty()) {
    curl_easy_setopt(c.h, CURLOPT_USERNAME, smtp.username.c_str());
    curl_easy_setopt(c.h, CURLOPT_PASSWORD, smtp.password.c_str());
  }
  curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  const CURLcode rc = curl_easy_perform(c.h);
  if (rc != CURLE_OK)
    return std::string("the mail server refused or could not be reached: ") +
           curl_easy_strerror(rc);
  return std::nullopt;
}

std::string Summary(const json& event) {
  const json& data = event.value("data", json::object());
  return data.value("summary", event.value("type", std::string("TenantAtlas alert")));
}

std::string Link(const SenderConfig& config, const json& event) {
  const std::string url = event.value("data", json::object()).value("url", std::string());
  if (url.empty()) return "";
  return config.public_url.empty() ? url : config.public_url + url;
}

jobs::JobResult Deliver(jobs::JobContext& ctx, const SecretBox& box, const SenderConfig& config) {
  const auto p = json::parse(ctx.job().payload, nullptr, false);
  if (!p.is_object() || !p.contains("delivery_id") || !p["delivery_id"].is_number_integer())
    return jobs::JobResult::Fail(Status::InvalidArgument("payload.delivery_id: missing"));
  const int64_t id = p["delivery_id"].get<int64_t>();
  struct Loaded {
    store::AlertDelivery delivery;
    store::AlertChannel channel;
  };
  auto loaded = store::ReadResult<std::optional<Loaded>>(
      ctx.db(), [&](store::Tx& tx) -> Result<std::optional<Loaded>> {
        auto d = store::Alerts::Delivery(tx, id);
        if (!d) return Unexpected(d.error());
        if (!*d) return std::optional<Loaded>();
        auto c = store::Alerts::Channel(tx, (*d)->channel_id);
        if (!c) {
          if (c.error().code() == Status::Code::kNotFound) return std::optional<Loaded>();
          return Unexpected(c.error());
        }
        return std::optional<Loaded>(Loaded{**d, *c});
      });
  if (!loaded) return runs::JobFailure(loaded.error());
  if (!*loaded) return jobs::JobResult::Success();  // the channel was deleted
  const store::AlertDelivery& d = (*loaded)->delivery;
  const store::AlertChannel& c = (*loaded)->channel;
  if (d.status != "pending") return jobs::JobResult::Success();  // already done

  std::optional<std::string> error;
  if (!c.enabled && d.event != "test") {
    error = "the channel is switched off" +
            (c.disabled_reason ? " (" + *c.disabled_reason + ")" : std::string());
  } else {
    const json event = json::parse(d.payload, nullptr, false);
    const std::string msg_id = "msg_" + std::to_string(d.id);
    if (c.kind == "webhook") {
      auto secret = c.secret_enc
                        ? box.Open(*c.secret_enc)
                        : Result<std::string>(Unexpected(Status::Internal("no signing secret")));
      if (!secret) {
        error = "the signing secret cannot be opened with this master key";
      } else {
        const int64_t ts = runs::NowMs(ctx) / 1000;
        auto sig = SignWebhook(*secret, msg_id, ts, d.payload);
        if (!sig)
          error = sig.error().message();
        else
          error = Post(c.target, d.payload,
                       {"webhook-id: " + msg_id, "webhook-timestamp: " + std::to_string(ts),
                        "webhook-signature: " + *sig},
                       config.timeout_ms);
      }
    } else if (c.kind == "chat") {
      std::string text = Summary(event);
      if (const std::string link = Link(config, event); !link.empty())
        text += " [View run](" + link + ")";
      error = Post(c.target, json{{"text", text}}.dump(), {}, config.timeout_ms);
    } else {
      std::string text = Summary(event);
      if (const std::string link = Link(config, event); !link.empty())
        text += "\r\n\r\nView run: " + link;
      error = Mail(config.smtp, c.target, "[TenantAtlas] " + Summary(event), text,
                   config.timeout_ms, msg_id);
    }
  }
  const bool last = ctx.job().attempts >= ctx.job().max_attempts;
  const std::string status = !error ? "delivered" : last ? "failed" : "pending";
  Status s = ctx.db().Write([&](store::Tx& tx) {
    return store::Alerts::RecordAttempt(tx, id, status, error, runs::NowMs(ctx), kDisableAfter);
  });
  if (!s.ok()) return jobs::JobResult::Retry(s);
  if (!error) return jobs::JobResult::Success();
  if (last) return jobs::JobResult::Fail(Status::Unavailable(*error));
  return jobs::JobResult::Retry(Status::Unavailable(*error));
}

}  // namespace

void RegisterDeliveryHandler(jobs::WorkerPool& pool, const SecretBox& box, SenderConfig config) {
  pool.Register(kDeliverKind,
                [&box, config](jobs::JobContext& ctx) { return Deliver(ctx, box, config); });
}

}  // namespace ta::notify
