#include "core/base64.h"

#include <sodium.h>

namespace ta {

namespace {
int Variant(bool url) {
  return url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;
}
}  // namespace

std::string Base64Encode(std::string_view bytes, bool url) {
  std::string out(sodium_base64_encoded_len(bytes.size(), Variant(url)), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), Variant(url));
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text, bool url) {
  std::string out(text.size() * 3 / 4 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, Variant(url)) != 0 ||
      end != text.data() + text.size())
    return std::nullopt;
  out.resize(len);
  return out;
}

}  // namespace ta
