#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ta::jobs {

enum class JobState { kQueued, kRunning, kCompleted, kFailed, kCancelled };
std::string_view ToString(JobState s);

// What to enqueue. A job belongs to one tenant and usually to one run.
struct JobSpec {
  int64_t tenant_id = 0;
  std::string kind;
  std::optional<int64_t> run_id;
  std::string payload = "{}";
  int priority = 100;  // lower runs first
  int max_attempts = 5;
  // Optional: at most one queued-or-running job per (tenant, dedupe_key).
  std::optional<std::string> dedupe_key;
  std::optional<int64_t> run_at_ms;  // default: now
};

// A claimed job, as a worker sees it.
struct Job {
  int64_t id = 0;
  int64_t tenant_id = 0;
  std::string kind;
  std::optional<int64_t> run_id;
  std::string payload;
  int attempts = 0;  // including the current one
  int max_attempts = 0;
  bool cancel_requested = false;
};

}  // namespace ta::jobs
