#pragma once

// The worker side of the product, wired: Graph access from sealed tenant
// credentials, the run service (as the queue's hooks), the job queue, a worker
// pool and the registered operation handlers. `serve`, `worker`, the demo,
// tests and benchmarks build this one thing instead of wiring it by hand. On
// PostgreSQL it also runs the audit sealer of the run service's entries.

#include <memory>

#include "core/secret_box.h"
#include "jobs/worker_pool.h"
#include "notify/alerts.h"
#include "ops/operations.h"
#include "runs/run_service.h"
#include "store/audit_log.h"

namespace ta::ops {

struct OpsStackOptions {
  graph::GraphConfig graph;
  jobs::QueueOptions queue;
  jobs::WorkerOptions workers;
  notify::SenderConfig alerts;  // how alert deliveries are sent (SMTP, links)
  // Concurrent starts are written together, up to this many per transaction
  // (RunService::GroupStarts); 0 writes each start on its own.
  size_t start_batch = 64;
};

class OpsStack {
 public:
  // All references must outlive the stack.
  OpsStack(store::Database& db, const SecretBox& box, graph::HttpTransport& transport,
           Redactor& redactor, Clock& clock, OpsStackOptions options);

  TenantGraphAccess& access() { return access_; }
  runs::RunService& runs() { return runs_; }
  jobs::JobQueue& queue() { return queue_; }
  jobs::WorkerPool& pool() { return pool_; }
  OpsContext& context() { return context_; }

  // Steps the pool until no job is left to claim (at most max_steps).
  Status Drain(int max_steps = 1000);

 private:
  TenantGraphAccess access_;
  runs::RunService runs_;
  jobs::JobQueue queue_;
  jobs::WorkerPool pool_;
  OpsContext context_;
  // Seals the run service's unsealed audit entries (PostgreSQL only).
  std::unique_ptr<store::AuditSealer> sealer_;
};

}  // namespace ta::ops
