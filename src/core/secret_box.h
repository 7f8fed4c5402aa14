#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace ta {

// Authenticated encryption of secrets at rest (tenant app client secrets),
// with libsodium's secretbox (XSalsa20-Poly1305) under a 32-byte master key.
// Sealed form: base64(nonce ‖ ciphertext). Thread-safe (immutable).
class SecretBox {
 public:
  // `master_key_b64`: 32 random bytes, base64. Errors name the setting.
  static Result<SecretBox> FromBase64Key(std::string_view master_key_b64);
  static std::string GenerateKeyBase64();

  std::string Seal(std::string_view plaintext) const;
  // Fails (without echoing the input) when the box was tampered with or
  // sealed under another key.
  Result<std::string> Open(std::string_view sealed) const;
  // A keyed digest of a secret (BLAKE2b under a subkey of the master key),
  // hex: equal secrets give equal digests, so a change can be detected and
  // hashed without keeping the plaintext in view; it cannot be reversed or
  // computed without the master key.
  std::string Digest(std::string_view plaintext) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace ta
