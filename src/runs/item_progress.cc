#include "runs/item_progress.h"

namespace ta::runs {

int64_t NowMs(jobs::JobContext& ctx) { return ToUnixMillis(ctx.clock().Now()); }

Result<ItemMap> ExistingItems(jobs::JobContext& ctx) {
  auto items = store::ReadResult<std::vector<store::RunItem>>(ctx.db(), [&](store::Tx& tx) {
    return store::RunsRepository::Items(tx, ctx.job().tenant_id, *ctx.job().run_id);
  });
  if (!items) return Unexpected(items.error().WithContext("reading the run's items"));
  ItemMap out;
  for (auto& i : *items) out[i.item_ref] = std::move(i);
  return out;
}

bool Done(const ItemMap& items, const std::string& ref) {
  auto it = items.find(ref);
  return it != items.end() && it->second.status != "pending";
}

Status RecordItem(jobs::JobContext& ctx, const store::RunItem& item,
                  const std::optional<store::AuditEntry>& audit) {
  return ctx.db().Write([&](store::Tx& tx) -> Status {
    const int64_t now = NowMs(ctx);
    TA_RETURN_IF_ERROR(
        store::RunsRepository::UpsertItem(tx, ctx.job().tenant_id, *ctx.job().run_id, item, now));
    if (audit) TA_RETURN_IF_ERROR(store::AuditLog::Append(tx, *audit, now));
    return Status::Ok();
  });
}

Status SetTotal(jobs::JobContext& ctx, int64_t total) {
  return ctx.db().Write([&](store::Tx& tx) {
    return store::RunsRepository::SetTotal(tx, ctx.job().tenant_id, *ctx.job().run_id, total,
                                           NowMs(ctx));
  });
}

store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const std::string& code, const std::string& message) {
  store::RunItem item;
  item.item_ref = ref;
  item.status = "failed";
  item.action = action;
  item.error_code = code;
  item.error_message = message;
  return item;
}

jobs::JobResult ItemNotRecorded(const std::string& ref, const Status& s) {
  // Always retryable: the Graph side of the item is idempotent on resume (reads
  // repeat; a create's intent was stored before it was sent), and the store
  // fault that stopped us is usually transient. Attempts still bound it.
  return jobs::JobResult::Retry(
      Status::Unavailable("the outcome of " + ref + " could not be stored (" + s.ToString() +
                          "); the run resumes from its last stored item"));
}

Next Record(jobs::JobContext& ctx, const store::RunItem& item,
            const std::optional<store::AuditEntry>& audit) {
  if (Status s = RecordItem(ctx, item, audit); !s.ok()) return ItemNotRecorded(item.item_ref, s);
  return std::nullopt;
}

jobs::JobResult CancelRemaining(jobs::JobContext& ctx, const std::vector<std::string>& refs) {
  auto done = ExistingItems(ctx);
  if (!done) return ItemNotRecorded("the cancelled run's remaining items", done.error());
  for (const auto& ref : refs) {
    if (Done(*done, ref)) continue;
    store::RunItem item;
    item.item_ref = ref;
    item.status = "skipped";
    item.error_code = "cancelled";
    item.error_message = "cancelled before this item ran";
    if (Status s = RecordItem(ctx, item); !s.ok()) return ItemNotRecorded(ref, s);
  }
  return jobs::JobResult::Cancelled();
}

jobs::JobResult Finish(jobs::JobContext& ctx, const std::vector<std::string>& refs) {
  auto done = ExistingItems(ctx);
  if (!done) return jobs::JobResult::Retry(done.error());
  size_t missing = 0;
  std::string first;
  for (const auto& ref : refs) {
    if (Done(*done, ref)) continue;
    if (missing++ == 0) first = ref;
  }
  if (missing == 0) return jobs::JobResult::Success();
  return jobs::JobResult::Retry(Status::Unavailable(
      std::to_string(missing) + " of " + std::to_string(refs.size()) +
      " items have no outcome (first: " + first + "); the run resumes from its last stored item"));
}

jobs::JobResult JobFailure(const Status& s) {
  if (s.transient() || s.code() == Status::Code::kResourceExhausted)
    return jobs::JobResult::Retry(s);
  return jobs::JobResult::Fail(s);
}

}  // namespace ta::runs
