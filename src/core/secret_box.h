#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ta {

// Authenticated encryption of secrets at rest (tenant app client secrets),
// with libsodium's secretbox (XSalsa20-Poly1305) under a 32-byte master key.
// Sealed form: base64(nonce ‖ ciphertext). Thread-safe (immutable).
//
// A key ring during a master key rotation: "NEW,OLD" seals with the first key
// and opens with any of them (the MAC tells which one sealed a value).
class SecretBox {
 public:
  // `master_key_b64`: 32 random bytes, base64; or several, comma-separated,
  // the first sealing. Errors name the setting.
  static Result<SecretBox> FromBase64Key(std::string_view master_key_b64);
  static std::string GenerateKeyBase64();

  std::string Seal(std::string_view plaintext) const;
  // Fails (without echoing the input) when the box was tampered with or
  // sealed under none of the ring's keys.
  Result<std::string> Open(std::string_view sealed) const;
  // Whether the first key (the one Seal uses) sealed it.
  bool SealedByFirstKey(std::string_view sealed) const;
  // The first key's fingerprint: 16 hex digits of a keyed hash, safe to show
  // (it names a key without revealing it).
  std::string KeyId() const;
  // A ring whose first key is `first` (which seals) followed by this ring's keys.
  SecretBox WithFirstKey(const SecretBox& first) const;
  // A keyed digest of a secret (BLAKE2b under a subkey of the master key),
  // hex: equal secrets give equal digests, so a change can be detected and
  // hashed without keeping the plaintext in view; it cannot be reversed or
  // computed without the master key.
  std::string Digest(std::string_view plaintext) const;

 private:
  explicit SecretBox(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  Result<std::string> OpenWith(std::string_view sealed, const std::string& key) const;
  std::vector<std::string> keys_;  // never empty; keys_[0] seals and digests
};

}  // namespace ta
