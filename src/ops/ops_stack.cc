#include "ops/ops_stack.h"

#include "schedule/retention.h"

namespace ta::ops {

OpsStack::OpsStack(store::Database& db, const SecretBox& box, graph::HttpTransport& transport,
                   Redactor& redactor, Clock& clock, OpsStackOptions options)
    : access_(db, box, options.graph, transport, redactor, clock),
      runs_(db, clock, redactor),
      queue_(db, clock, options.queue, &runs_, &redactor),
      pool_(queue_, options.workers),
      context_{db, clock, redactor, access_, box, nullptr} {
  if (db.backend() == store::Backend::kPostgres) sealer_ = std::make_unique<store::AuditSealer>(db);
  if (options.start_batch > 0) runs_.GroupStarts(options.start_batch);
  RegisterHandlers(pool_, context_);
  schedule::RegisterRetentionHandler(pool_);
  notify::RegisterDeliveryHandler(pool_, box, options.alerts);
  // A run that ends failed (and a retention that deleted sets) raises its
  // alerts in the transaction that ends it.
  runs_.SetFinishedHook([&db](store::Tx& tx, const store::RunRecord& run, int64_t now) {
    return notify::OnRunFinished(db, tx, run, now);
  });
}

Status OpsStack::Drain(int max_steps) {
  for (int i = 0; i < max_steps; ++i) {
    auto n = pool_.RunOnce();
    if (!n) return n.error();
    if (*n == 0) return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace ta::ops
