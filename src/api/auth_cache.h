#pragma once

// Authorization results (who a token or session is, and their role in the
// tenant of the route) kept for a moment, so that a burst of requests with one
// credential reads them once instead of once per request.
//
// What it keeps: only complete grants (a principal, and a role when the route
// is a tenant's); a refusal is never kept, so access granted takes effect at
// once. What drops an entry: its age (ttl), and any committed change in this
// process that can take access away (store::Accounts::AccessGeneration: a
// token or session revoked, a membership changed or removed), at once. A
// change made by another process or node is seen within ttl.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "store/accounts.h"

namespace ta::api {

struct AuthResult {
  std::optional<store::Principal> principal;
  bool tenant_exists = false;
  std::optional<std::string> role;
};

class AuthCache {
 public:
  // ttl 0: nothing is kept.
  explicit AuthCache(std::chrono::milliseconds ttl, size_t capacity = 50'000)
      : ttl_(ttl), capacity_(capacity) {}

  std::optional<AuthResult> Find(const std::string& key);
  // `generation`: store::Accounts::AccessGeneration() read before the result
  // was looked up, so a revocation that commits meanwhile voids the entry.
  void Put(const std::string& key, const AuthResult& result, uint64_t generation);
  // Records a token's new last-used time in the entries that hold it.
  void Touched(const std::string& key, int64_t now_ms);

 private:
  struct Entry {
    AuthResult result;
    std::chrono::steady_clock::time_point expires;
    uint64_t generation = 0;
  };
  const std::chrono::milliseconds ttl_;
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
};

}  // namespace ta::api
