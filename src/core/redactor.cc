#include "core/redactor.h"

#include <re2/re2.h>

#include <algorithm>

namespace ta {
namespace {

RE2::Options Latin1Options() {
  // Latin-1 mode: every byte is one character, so invalid UTF-8 in the input
  // can never make a pattern skip over a secret.
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_case_sensitive(false);
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

// Keys whose values are credentials. `(?:^|[^a-z0-9_])` before the key keeps
// "zipcode=" or "barcode" from matching "code".
constexpr const char* kKeys =
    "(client_secret|client_assertion|access_token|refresh_token|id_token|password|assertion|"
    "code|sig|api_key|token)";
constexpr const char* kLead = "(^|[^a-z0-9_])";

std::string JsonEscaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '/') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string PercentEncoded(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

}  // namespace

struct Redactor::Patterns {
  struct Rule {
    std::unique_ptr<RE2> re;
    std::string rewrite;
  };
  std::vector<Rule> rules;

  void Add(const std::string& pattern, std::string rewrite) {
    auto re = std::make_unique<RE2>(pattern, Latin1Options());
    if (!re->ok()) throw std::logic_error("bad redaction pattern: " + re->error());
    rules.push_back({std::move(re), std::move(rewrite)});
  }

  Patterns() {
    const std::string m(kMarker);
    // Header values: everything up to the end of the line (or of the quoted value).
    Add(R"(((?:proxy-)?authorization|set-cookie|cookie)(\\?"?\s*[:=]\s*\\?"?)[^\r\n"\\]+)",
        "\\1\\2" + m);
    Add(R"((bearer\s+)[a-z0-9\-._~+/]+=*)", "\\1" + m);
    Add(R"((?-i:eyJ)[a-z0-9_\-]+\.[a-z0-9_\-]+(?:\.[a-z0-9_\-]*)*)", m);
    const std::string keys(kKeys), lead(kLead);
    // JSON: "key": "value" and "key": bare. The opening quote delimits the key.
    Add("\"" + keys + R"x(("\s*:\s*)"(?:[^"\\]|\\.)*")x", "\"\\1\\2\"" + m + "\"");
    Add("\"" + keys + R"x(("\s*:\s*)[^\s,}\]"]+)x", "\"\\1\\2" + m);
    // JSON inside a JSON string: \"key\":\"value\".
    Add(R"x(\\")x" + keys + R"x((\\"\s*:\s*)\\"(?:[^\\]|\\[^"])*\\")x",
        "\\\\\"\\1\\2\\\\\"" + m + "\\\\\"");
    // Form encoding and query strings: key=value.
    Add(lead + keys + R"x((=)[^\s&"'\\#<>]+)x", "\\1\\2\\3" + m);
  }
};

Redactor::Redactor() : patterns_(std::make_unique<Patterns>()) {}
Redactor::~Redactor() = default;

void Redactor::RegisterSecret(std::string_view secret) {
  if (secret.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string v : {std::string(secret), JsonEscaped(secret), PercentEncoded(secret)}) {
    if (std::find(secrets_.begin(), secrets_.end(), v) == secrets_.end()) {
      secrets_.push_back(std::move(v));
    }
  }
  // Longest first: in a leftmost-first alternation, a secret that contains
  // another must win, or its tail would survive.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string pattern;
  for (const auto& s : secrets_) {
    if (!pattern.empty()) pattern += '|';
    pattern += RE2::QuoteMeta(s);
  }
  RE2::Options o = Latin1Options();
  o.set_case_sensitive(true);
  o.set_max_mem(256 << 20);
  auto re = std::make_shared<const RE2>(pattern, o);
  if (!re->ok()) throw std::logic_error("secret pattern failed to compile: " + re->error());
  secret_re_ = std::move(re);
}

std::string Redactor::Redact(std::string_view text) const {
  std::string out(text);
  std::shared_ptr<const RE2> secrets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    secrets = secret_re_;
  }
  if (secrets) RE2::GlobalReplace(&out, *secrets, std::string(kMarker));
  for (const auto& rule : patterns_->rules) RE2::GlobalReplace(&out, *rule.re, rule.rewrite);
  return out;
}

}  // namespace ta
