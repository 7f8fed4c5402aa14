#pragma once

#include <iosfwd>

namespace ta::app {

// `tenantatlas idempotency-key [--explain]`: reads one JSON object shaped like a
// conformance vector's "input" from `in` and prints the 64-hex key (and, with
// explain, the canonical JSON that was hashed). Returns the process exit code:
// 0 on success, 2 on malformed input with a one-line message on `err`.
int RunIdempotencyKeyCommand(std::istream& in, std::ostream& out, std::ostream& err, bool explain);

}  // namespace ta::app
