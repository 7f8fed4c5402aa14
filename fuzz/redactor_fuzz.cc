// The Redactor's promise: a registered secret never survives, whatever text
// surrounds it. The first byte picks the secret's length (8..39), the next
// bytes spell it in [a-z0-9] (so it cannot be made of the marker's
// characters), and the rest is the text it is planted in.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/redactor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t len = 8 + data[0] % 32;
  if (size < 1 + len) return 0;
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string secret;
  for (size_t i = 0; i < len; ++i) secret += kAlphabet[data[1 + i] % 36];
  const std::string rest(reinterpret_cast<const char*>(data) + 1 + len, size - 1 - len);
  const std::string text = rest.substr(0, rest.size() / 2) + secret + rest.substr(rest.size() / 2);
  ta::Redactor redactor;
  redactor.RegisterSecret(secret);
  if (redactor.Redact(text).find(secret) != std::string::npos) std::abort();
  return 0;
}
