#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace ta::jobs {

struct RetryPolicy {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{10 * 60 * 1000};
};

// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): uniform in [0, min(cap, base * 2^(attempt-1))].
// attempt is 1-based (the attempt that just failed). `rng` is injected so tests
// can pin the draw.
std::chrono::milliseconds FullJitterBackoff(const RetryPolicy& policy, int attempt,
                                            std::mt19937_64& rng);

// The upper bound of the draw above (for tests and docs).
std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, int attempt);

}  // namespace ta::jobs
