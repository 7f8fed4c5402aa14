#include "ops/ops_common.h"

namespace ta::ops {

int64_t NowMs(jobs::JobContext& ctx) { return ToUnixMillis(ctx.clock().Now()); }

std::map<std::string, store::RunItem> ExistingItems(jobs::JobContext& ctx) {
  std::map<std::string, store::RunItem> out;
  auto items = store::ReadResult<std::vector<store::RunItem>>(ctx.db(), [&](store::Tx& tx) {
    return store::RunsRepository::Items(tx, ctx.job().tenant_id, *ctx.job().run_id);
  });
  if (items) {
    for (auto& i : *items) out[i.item_ref] = i;
  }
  return out;
}

bool Done(const std::map<std::string, store::RunItem>& items, const std::string& ref) {
  auto it = items.find(ref);
  return it != items.end() && it->second.status != "pending";
}

Status RecordItem(jobs::JobContext& ctx, const store::RunItem& item,
                  const std::optional<store::AuditEntry>& audit) {
  return ctx.db().Write([&](store::Tx& tx) -> Status {
    const int64_t now = NowMs(ctx);
    if (Status s = store::RunsRepository::UpsertItem(tx, ctx.job().tenant_id, *ctx.job().run_id,
                                                     item, now);
        !s.ok())
      return s;
    if (audit) {
      auto r = store::AuditLog::Append(tx, *audit, now);
      if (!r) return r.error();
    }
    return Status::Ok();
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

store::RunItem FailedItem(const std::string& ref, const std::string& action,
                          const graph::GraphError& e) {
  return FailedItem(ref, action, e.code.empty() ? "graph_" + std::to_string(e.http_status) : e.code,
                    e.ToString());
}

void SkipRemaining(jobs::JobContext& ctx, const std::vector<std::string>& refs,
                   const std::map<std::string, store::RunItem>& done) {
  for (const auto& ref : refs) {
    if (Done(done, ref)) continue;
    store::RunItem item;
    item.item_ref = ref;
    item.status = "skipped";
    item.error_message = "cancelled before this item ran";
    RecordItem(ctx, item);
  }
}

jobs::JobResult JobFailure(const Status& s) {
  if (s.code() == Status::Code::kUnavailable) return jobs::JobResult::Retry(s);
  return jobs::JobResult::Fail(s);
}

}  // namespace ta::ops
