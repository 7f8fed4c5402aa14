#include "api/auth_cache.h"

namespace ta::api {

std::optional<AuthResult> AuthCache::Find(const std::string& key) {
  if (ttl_.count() == 0) return std::nullopt;
  const uint64_t generation = store::Accounts::AccessGeneration();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.generation != generation ||
      it->second.expires <= std::chrono::steady_clock::now()) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.result;
}

void AuthCache::Put(const std::string& key, const AuthResult& result, uint64_t generation) {
  if (ttl_.count() == 0 || !result.principal) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= capacity_) entries_.clear();  // bounded memory; refilled on demand
  entries_[key] = Entry{result, std::chrono::steady_clock::now() + ttl_, generation};
}

void AuthCache::Touched(const std::string& key, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.result.principal)
    it->second.result.principal->last_used_at = now_ms;
}

}  // namespace ta::api
