#pragma once

// Responses kept for the Idempotency-Key header: the first response for
// (user, key) is replayed for as long as it is fresh. Runs inside the
// caller's Tx.

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct StoredResponse {
  std::string
      request_hash;  // of method, path and body: the same key with another request is refused
  int status = 0;
  std::optional<std::string> location;
  std::string body;
};

class IdempotentRequests {
 public:
  // The response kept for (user, key), if it was stored after `fresh_after`.
  static Result<std::optional<StoredResponse>> Find(Tx& tx, int64_t user_id, const std::string& key,
                                                    int64_t fresh_after_ms);
  // Keeps `response` unless a fresh one exists (a concurrent request won):
  // returns nullopt when this one was kept, else the one that was. Expired
  // entries for the key are replaced.
  static Result<std::optional<StoredResponse>> Keep(Tx& tx, int64_t user_id, const std::string& key,
                                                    const StoredResponse& response,
                                                    int64_t fresh_after_ms, int64_t now_ms);
};

}  // namespace ta::store
