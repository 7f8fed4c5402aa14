#pragma once

// Coalesces concurrent writes of one unit of work (a run's item outcomes) into
// one transaction: group commit above the backend. The thread that finds no
// batch in flight writes every queued request in one Database::Write; the
// others wait for that commit. Each Write still returns only after its own
// writes are durable, so "an item is recorded" means what it meant before.
//
// Why: every item outcome updates its run's counters, so concurrent item
// commits of one run queue on that row's lock, each holding it across its
// commit's WAL flush (PostgreSQL). One transaction per batch takes the lock
// once. A batch that fails is retried request by request, so one bad request
// fails only itself. Requests must be safe to run again (Database::Write may
// already rerun them after a deadlock).

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "store/database.h"

namespace ta::store {

class WriteBatcher {
 public:
  explicit WriteBatcher(Database& db, size_t max_batch = 64) : db_(db), max_batch_(max_batch) {}
  WriteBatcher(const WriteBatcher&) = delete;
  WriteBatcher& operator=(const WriteBatcher&) = delete;

  // Runs fn in a transaction shared with concurrent callers; returns fn's
  // status or the commit error, after the commit. Thread-safe.
  Status Write(const std::function<Status(Tx&)>& fn);

  // Transactions committed so far, and requests waiting for the next batch
  // (tests and benchmarks).
  int64_t transactions() const;
  size_t waiting() const;

 private:
  struct Request {
    const std::function<Status(Tx&)>* fn = nullptr;
    Status status;
    bool done = false;
  };

  Database& db_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request*> queue_;  // GUARDED_BY(mu_)
  bool writing_ = false;         // GUARDED_BY(mu_): a batch is in flight
  int64_t transactions_ = 0;     // GUARDED_BY(mu_)
};

}  // namespace ta::store
