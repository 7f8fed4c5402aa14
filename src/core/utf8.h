#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ta {

// Returns the byte offset of the first invalid UTF-8 sequence, or nullopt when
// the whole input is well-formed (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
std::optional<size_t> FindInvalidUtf8(std::string_view s);

// Decodes the code point starting at s[i] (which must be valid UTF-8) and
// advances i past it.
char32_t DecodeUtf8(std::string_view s, size_t& i);

}  // namespace ta
