// The idempotency-key input (`tenantatlas idempotency-key` reads it as JSON)
// and the PHP-compatible canonical JSON behind it: any input either fails
// cleanly or yields a 64-hex key; nothing throws or crashes.
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/idempotency.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::ordered_json input;
  try {
    input = nlohmann::ordered_json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON: the command reports it before computing a key
  }
  auto key = ta::KeyFromJsonInput(input);
  if (key && key->key.size() != 64) std::abort();
  return 0;
}
