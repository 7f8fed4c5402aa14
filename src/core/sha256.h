#pragma once

#include <string>
#include <string_view>

namespace ta {

// Lower-case hex SHA-256 of the bytes, via libsodium.
std::string Sha256Hex(std::string_view bytes);

}  // namespace ta
