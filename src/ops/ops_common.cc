#include "ops/ops_common.h"

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

graph::AbortCheck AbortFor(jobs::JobContext& ctx) {
  return [&ctx] { return ctx.AbortRequested(); };
}

}  // namespace ta::ops
