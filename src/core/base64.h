#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ta {

// Base64 via libsodium. `url`: the URL-safe alphabet without padding (JWTs,
// certificate thumbprints); otherwise the original alphabet with padding.
std::string Base64Encode(std::string_view bytes, bool url = false);
// nullopt when `text` is not valid base64 of that variant.
std::optional<std::string> Base64Decode(std::string_view text, bool url = false);

}  // namespace ta
