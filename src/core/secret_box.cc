#include "core/secret_box.h"

#include <sodium.h>

#include <optional>

#include <vector>

namespace ta {
namespace {

bool Init() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string ToBase64(const unsigned char* data, size_t len) {
  std::string out(sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

std::optional<std::vector<unsigned char>> FromBase64(std::string_view b64) {
  std::vector<unsigned char> out(b64.size());
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string Hex(const unsigned char* data, size_t len) {
  std::string s(len * 2 + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), data, len);
  s.pop_back();
  return s;
}

}  // namespace

Result<SecretBox> SecretBox::FromBase64Key(std::string_view keys_b64) {
  if (!Init()) return Unexpected(Status::Internal("libsodium failed to initialise"));
  std::vector<std::string> keys;
  while (true) {
    const size_t comma = keys_b64.find(',');
    std::string_view one = keys_b64.substr(0, comma);
    while (!one.empty() && (one.front() == ' ' || one.front() == '\n')) one.remove_prefix(1);
    while (!one.empty() && (one.back() == ' ' || one.back() == '\n' || one.back() == '\r'))
      one.remove_suffix(1);
    auto key = FromBase64(one);
    if (!key || key->size() != crypto_secretbox_KEYBYTES) {
      return Unexpected(Status::InvalidArgument(
          "master key: must be 32 random bytes in base64 (TA_MASTER_KEY or --master-key-file; "
          "during a key rotation \"NEW,OLD\"); generate one with "
          "`head -c32 /dev/urandom | base64`"));
    }
    keys.emplace_back(key->begin(), key->end());
    if (comma == std::string_view::npos) break;
    keys_b64.remove_prefix(comma + 1);
  }
  return SecretBox(std::move(keys));
}

SecretBox SecretBox::WithFirstKey(const SecretBox& first) const {
  std::vector<std::string> keys{first.keys_[0]};
  for (const auto& k : keys_)
    if (k != first.keys_[0]) keys.push_back(k);
  return SecretBox(std::move(keys));
}

std::string SecretBox::KeyId() const {
  static constexpr std::string_view kContext = "tenantatlas key id v1";
  unsigned char out[8];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(kContext.data()),
                     kContext.size(), reinterpret_cast<const unsigned char*>(keys_[0].data()),
                     keys_[0].size());
  return Hex(out, sizeof out);
}

std::string SecretBox::GenerateKeyBase64() {
  Init();
  unsigned char key[crypto_secretbox_KEYBYTES];
  crypto_secretbox_keygen(key);
  return ToBase64(key, sizeof key);
}

std::string SecretBox::Digest(std::string_view plaintext) const {
  static constexpr std::string_view kContext = "tenantatlas secret digest v1";
  unsigned char subkey[crypto_generichash_KEYBYTES];
  crypto_generichash(subkey, sizeof subkey, reinterpret_cast<const unsigned char*>(kContext.data()),
                     kContext.size(), reinterpret_cast<const unsigned char*>(keys_[0].data()),
                     keys_[0].size());
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(plaintext.data()),
                     plaintext.size(), subkey, sizeof subkey);
  sodium_memzero(subkey, sizeof subkey);
  return Hex(out, sizeof out);
}

std::string SecretBox::Seal(std::string_view plaintext) const {
  std::vector<unsigned char> out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plaintext.size());
  randombytes_buf(out.data(), crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(out.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        out.data(), reinterpret_cast<const unsigned char*>(keys_[0].data()));
  return ToBase64(out.data(), out.size());
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  Result<std::string> opened = OpenWith(sealed, keys_[0]);
  for (size_t i = 1; !opened && opened.error().code() == Status::Code::kPermissionDenied &&
                     i < keys_.size();
       ++i)
    opened = OpenWith(sealed, keys_[i]);
  return opened;
}

bool SecretBox::SealedByFirstKey(std::string_view sealed) const {
  return OpenWith(sealed, keys_[0]).has_value();
}

Result<std::string> SecretBox::OpenWith(std::string_view sealed, const std::string& key) const {
  auto bin = FromBase64(sealed);
  if (!bin || bin->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return Unexpected(Status::InvalidArgument("sealed secret is malformed"));
  }
  std::string plain(bin->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 bin->data() + crypto_secretbox_NONCEBYTES,
                                 bin->size() - crypto_secretbox_NONCEBYTES, bin->data(),
                                 reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return Unexpected(Status::PermissionDenied(
        "sealed secret cannot be opened: wrong master key or tampered data"));
  }
  return plain;
}

}  // namespace ta
