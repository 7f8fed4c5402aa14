#include "ops/ops_common.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "catalog/catalog.h"

namespace ta::ops {

store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const graph::GraphError& e) {
  return FailedItem(ref, action, e.ErrorCode(), e.ToString());
}

Next GraphFailed(jobs::JobContext& ctx, const std::vector<std::string>& refs,
                 const std::string& ref, const std::string& action, const graph::GraphError& e) {
  // A long throttle: the job waits in the queue, not on a worker thread, and
  // the item is redone when it wakes (no attempt is used).
  if (e.retry_after) return jobs::JobResult::Snooze(ctx.clock().Now() + *e.retry_after);
  if (!e.cancelled()) return Record(ctx, FailedItem(ref, action, e));
  if (ctx.ShuttingDown() && !ctx.CancelRequested()) return jobs::JobResult::Release();
  store::RunItem item;
  item.item_ref = ref;
  item.action = action;
  if (e.ambiguous) {
    // A write was sent and its answer cut off by the cancel: Graph may have
    // carried it out, so "skipped" would be a lie.
    item.status = "failed";
    item.error_code = "cancelled_mid_write";
    item.error_message = "cancelled while its " + action +
                         " was on its way to Graph: it may have been carried out in the target; "
                         "run a restore preview to see the target's state (" +
                         e.message + ")";
  } else {
    item.status = "skipped";
    item.error_code = "cancelled";
    item.error_message = "cancelled while its Graph call was in progress (" + e.message + ")";
  }
  if (auto stop = Record(ctx, item)) return stop;
  return CancelRemaining(ctx, refs);
}

std::optional<std::string> MissingReadPermission(
    const std::optional<std::vector<std::string>>& roles, std::string_view collection) {
  const std::string_view permission = catalog::ReadPermission(collection);
  if (!roles || catalog::PermissionGranted(*roles, permission)) return std::nullopt;
  return std::string(permission);
}

store::RunItem MissingPermissionItem(const std::string& ref, const std::string& action,
                                     const std::string& what, const std::string& permission) {
  store::RunItem item;
  item.item_ref = ref;
  item.action = action;
  item.status = "skipped";
  item.error_code = "missing_permission";
  item.error_message = "skipped: the tenant's app lacks the application permission " +
                       permission + ", which Graph needs to read " + what +
                       ". Grant it to the app in Entra (API permissions, then admin consent) "
                       "and run again.";
  item.details = nlohmann::json{{"permission", permission}, {"name", what}}.dump();
  return item;
}

std::optional<std::vector<std::string>> GrantedRoles(graph::GraphReader& reader) {
  auto roles = reader.Roles();
  if (!roles) return std::nullopt;
  return *roles;
}

Next ForEachConcurrently(jobs::JobContext& ctx, const std::vector<std::string>& refs,
                         size_t count, size_t concurrency, const std::function<Next(size_t)>& one) {
  std::atomic<size_t> next{0};
  std::mutex stop_mu;
  Next stop;  // GUARDED_BY(stop_mu)
  auto stopped = [&] {
    std::lock_guard<std::mutex> lock(stop_mu);
    return stop.has_value();
  };
  auto worker = [&] {
    for (size_t i; (i = next++) < count;) {
      if (stopped()) return;
      Next result;
      if (ctx.CancelRequested())
        result = CancelRemaining(ctx, refs);
      else if (ctx.ShuttingDown())
        result = jobs::JobResult::Release();
      else
        result = one(i);
      if (result) {
        std::lock_guard<std::mutex> lock(stop_mu);
        if (!stop) stop = std::move(result);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t n = std::min(concurrency, count);
  for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (stop) {
    // A cancel that raced another thread's store fault still ends cancelled
    // once the rest are recorded as skipped.
    if (stop->kind == jobs::JobResult::Kind::kCancelled) return CancelRemaining(ctx, refs);
    return stop;
  }
  return std::nullopt;
}

graph::AbortCheck AbortFor(jobs::JobContext& ctx) {
  return [&ctx] { return ctx.AbortRequested(); };
}

}  // namespace ta::ops
