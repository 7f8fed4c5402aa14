#pragma once

// Credentials for people and programs: argon2id password hashes and random
// bearer secrets (API tokens, session ids, CSRF tokens), via libsodium.

#include <string>
#include <string_view>

#include "core/result.h"

namespace ta {

// An argon2id hash in libsodium's self-describing string form. Errors name
// the field ("password: at least 12 characters").
Result<std::string> HashPassword(std::string_view password);
// Constant-time check of `password` against a HashPassword string.
bool VerifyPassword(std::string_view password, const std::string& hash);

// A fresh random secret: `prefix` + 43 characters of URL-safe base64 (256 bits).
// Prefixes ("tat_" for API tokens) let secret scanners recognise leaked ones.
std::string NewSecret(std::string_view prefix);
// What is stored for a secret: its SHA-256 (hex). A 256-bit random secret
// needs no salt or stretching; the hash only keeps a stolen database from
// yielding usable tokens.
std::string SecretHash(std::string_view secret);

// Constant-time comparison of two strings of equal length.
bool SecretEquals(std::string_view a, std::string_view b);

}  // namespace ta
