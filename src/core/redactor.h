#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_annotations.h"

namespace re2 {
class RE2;
}

namespace ta {

// Scrubs credentials from text before it is logged, persisted or returned.
// Every error text and log line goes through one Redactor.
//
// Forms it removes (each replaced by kMarker; the surrounding syntax is kept so
// the text stays readable):
//  - exact secret values registered at runtime (e.g. a tenant's client secret),
//    also in their JSON-escaped and percent-encoded spellings;
//  - Authorization / Proxy-Authorization / Cookie / Set-Cookie header values;
//  - "Bearer <token>" anywhere;
//  - JWT-shaped strings (eyJ....);
//  - values of client_secret, client_assertion, access_token, refresh_token,
//    id_token, password, assertion, code, sig (SAS), api_key and token, in
//    form encoding and query strings (k=v), JSON ("k": "v" or "k": v) and
//    JSON embedded in a JSON string (\"k\":\"v\").
//
// Thread-safe: Redact() may run concurrently with RegisterSecret().
class Redactor {
 public:
  static constexpr std::string_view kMarker = "[REDACTED]";

  Redactor();
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // Adds an exact value to scrub from now on. Empty values are ignored.
  void RegisterSecret(std::string_view secret);

  std::string Redact(std::string_view text) const;

 private:
  struct Patterns;
  std::unique_ptr<const Patterns> patterns_;

  mutable std::mutex mu_;
  std::vector<std::string> secrets_ GUARDED_BY(mu_);
  // A compiled alternation of all registered spellings, longest first; swapped
  // whole on registration so Redact() holds mu_ only to copy the pointer.
  std::shared_ptr<const re2::RE2> secret_re_ GUARDED_BY(mu_);
};

}  // namespace ta
