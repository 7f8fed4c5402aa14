#pragma once

// Idempotency keys for runs, byte-compatible with the PHP system's
// RunIdempotency helper (see tests/data/idempotency-vectors.json).
//
//   key = sha256(json_encode({tenant_id, operation_type: trim(op),
//                             target_id: string|null, context: ksort-recursive}))

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/php_json.h"
#include "core/result.h"

namespace ta {

struct IdempotencyKey {
  std::string canonical_json;  // the exact bytes that were hashed
  std::string key;             // 64 lower-case hex characters
};

// PHP trim() with its default character set: " \t\n\r\0\x0B".
std::string_view PhpTrim(std::string_view s);

// buildKey(tenant, operation, target, context). `context` must be an array (or
// null, meaning []). Fails on invalid UTF-8 or nesting deeper than PHP allows.
Result<IdempotencyKey> BuildKey(int64_t tenant_id, std::string_view operation_type,
                                std::optional<std::string> target_id,
                                const php::Value& context = php::Value(php::Array{}));

// restoreExecuteKey(tenant, backup set, selected item ids, group mapping).
// nullopt ids means "the whole set" and is distinct from an empty selection.
// Ids are deduplicated and sorted, so selection order never changes the key.
Result<IdempotencyKey> RestoreExecuteKey(
    int64_t tenant_id, int64_t backup_set_id, std::optional<std::vector<int64_t>> selected_item_ids,
    const php::Value& group_mapping = php::Value(php::Array{}),
    // Appended to the context when not empty: options that are not the
    // default (so the PHP system's keys stay as they were).
    php::Array options = {});

// Computes a key from a JSON object shaped like a conformance vector's "input":
//   {"tenant_id", "operation_type", "target_id"?, "context"?}            or
//   {"fn":"restore_execute", "tenant_id", "backup_set_id",
//    "selected_item_ids": null|[...], "group_mapping"?}
// Errors name the offending field and say what is expected.
Result<IdempotencyKey> KeyFromJsonInput(const nlohmann::ordered_json& input);

}  // namespace ta
