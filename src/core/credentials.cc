#include "core/credentials.h"

#include <sodium.h>

#include <stdexcept>

#include "core/sha256.h"

namespace ta {
namespace {

void Init() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  Init();
  if (password.size() < 12)
    return Unexpected(Status::InvalidArgument("password: use at least 12 characters"));
  if (password.size() > 1024)
    return Unexpected(Status::InvalidArgument("password: use at most 1024 characters"));
  std::string out(crypto_pwhash_STRBYTES, '\0');
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Unexpected(Status::ResourceExhausted("password hashing ran out of memory"));
  }
  out.resize(out.find('\0'));
  return out;
}

bool VerifyPassword(std::string_view password, const std::string& hash) {
  Init();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string NewSecret(std::string_view prefix) {
  Init();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  std::string b64(sodium_base64_encoded_len(sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(b64.data(), b64.size(), bytes, sizeof bytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(b64.size() - 1);
  sodium_memzero(bytes, sizeof bytes);
  return std::string(prefix) + b64;
}

std::string SecretHash(std::string_view secret) { return Sha256Hex(secret); }

bool SecretEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ta
