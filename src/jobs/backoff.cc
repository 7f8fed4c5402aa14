#include "jobs/backoff.h"

#include <algorithm>

namespace ta::jobs {

std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, int attempt) {
  const int shift = std::clamp(attempt - 1, 0, 40);
  const double ceiling =
      static_cast<double>(policy.base.count()) * static_cast<double>(1ULL << shift);
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::min(ceiling, static_cast<double>(policy.cap.count()))));
}

std::chrono::milliseconds FullJitterBackoff(const RetryPolicy& policy, int attempt,
                                            std::mt19937_64& rng) {
  const int64_t ceiling = BackoffCeiling(policy, attempt).count();
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(0, ceiling));
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace ta::jobs
