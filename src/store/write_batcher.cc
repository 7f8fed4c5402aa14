#include "store/write_batcher.h"

namespace ta::store {

Status WriteBatcher::Write(const std::function<Status(Tx&)>& fn) {
  Request me;
  me.fn = &fn;
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&me);
  cv_.wait(lock, [&] { return me.done || !writing_; });
  if (me.done) return me.status;
  // This thread writes the next batch: the oldest queued requests (its own
  // among them unless more than max_batch_ are waiting, then it loops).
  while (!me.done) {
    writing_ = true;
    const size_t n = std::min(queue_.size(), max_batch_);
    std::vector<Request*> batch(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    lock.unlock();
    Status s = db_.Write([&](Tx& tx) -> Status {
      for (Request* r : batch) {
        if (Status one = (*r->fn)(tx); !one.ok()) return one;
      }
      return Status::Ok();
    });
    int64_t commits = s.ok() ? 1 : 0;
    if (!s.ok() && batch.size() > 1) {
      // Which request failed, and whether the others would have committed, is
      // unknown: each gets its own transaction and its own outcome.
      for (Request* r : batch) {
        r->status = db_.Write(*r->fn);
        if (r->status.ok()) ++commits;
      }
    } else {
      for (Request* r : batch) r->status = s;
    }
    lock.lock();
    transactions_ += commits;
    for (Request* r : batch) r->done = true;
    writing_ = false;
    cv_.notify_all();
  }
  return me.status;
}

int64_t WriteBatcher::transactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return transactions_;
}

size_t WriteBatcher::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

}  // namespace ta::store
