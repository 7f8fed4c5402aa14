#pragma once

// Master key rotation's store side: where sealed values live, reading them a
// batch at a time, replacing one only if it is still the value read, and the
// rotation's progress (committed with each batch, so a killed rotation
// resumes where it stopped).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/database.h"

namespace ta::store {

// A column holding sealed values: the value itself, or (json) a JSON document
// with {"secretValue": {"sealed": ...}} objects inside (captured payloads).
struct SealedPlace {
  std::string_view table, column;
  bool json = false;
  std::string Name() const { return std::string(table) + "." + std::string(column); }
};
// Every place, in the order a rotation walks them.
const std::vector<SealedPlace>& SealedPlaces();

struct KeyRotation {
  int64_t id = 0;
  std::string to_key;  // SecretBox::KeyId of the new key
  int64_t started_at = 0;
  std::optional<int64_t> finished_at;
  std::string progress = "{}";  // JSON, see the migration
};

class KeyRotations {
 public:
  // The newest rotation, if any.
  static Result<std::optional<KeyRotation>> Latest(Tx& tx);
  // The unfinished rotation to `to_key` (resumed), or a new one.
  // FailedPrecondition while a rotation to another key is unfinished.
  static Result<KeyRotation> Start(Tx& tx, const std::string& to_key, int64_t now_ms);
  // Up to `limit` (id, value) rows after `after_id` whose value is not NULL.
  static Result<std::vector<std::pair<int64_t, std::string>>> Batch(Tx& tx, const SealedPlace& p,
                                                                   int64_t after_id, int limit);
  // Replaces row `id`'s value if it is still `expected` (a value changed
  // meanwhile, say a new secret, is left: it is sealed under the new key).
  static Result<bool> Replace(Tx& tx, const SealedPlace& p, int64_t id,
                              const std::string& expected, const std::string& value);
  static Result<int64_t> Count(Tx& tx, const SealedPlace& p);
  static Status SaveProgress(Tx& tx, int64_t rotation_id, const std::string& progress);
  static Status Finish(Tx& tx, int64_t rotation_id, int64_t now_ms);
};

}  // namespace ta::store
