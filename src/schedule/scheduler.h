#pragma once

// The scheduler: every serve and worker process may run it, on one database.
// No leader is elected; the database decides.
//  - Deciding a slot: the due slots of a schedule are those after its
//    slots_after; the newest of them fires and the older ones are recorded as
//    missed (after downtime: one catch-up run, not one per missed slot). The
//    node whose compare-and-set moves slots_after decides; the others see
//    that it moved and do nothing. The decision fixes the tenants and each
//    one's start time (the slot plus its jitter).
//  - Starting a tenant's run: the run start and the schedule_fires row for
//    (schedule, slot, tenant) commit in one transaction, and the row's key
//    lets only one commit. A crash between deciding and starting leaves the
//    slot "firing"; any node's next tick starts what is left.
//  - The run's own idempotency key names the schedule, not the slot: a slot
//    that fires while the tenant's previous scheduled run is still active
//    reuses it (the fire records reused).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/result.h"
#include "runs/run_service.h"
#include "store/database.h"

namespace ta::schedule {

struct TickResult {
  int decided = 0;  // slots this node decided
  int missed = 0;   // older slots those decisions recorded as missed
  int started = 0;  // tenant runs this node started (new runs)
  int reused = 0;   // tenant fires that reused an active run
  int credential_warnings = 0;  // credentials.expiring alerts this node raised
};

class Scheduler {
 public:
  // `node` names this process in the slots it decides ("host:pid").
  Scheduler(store::Database& db, runs::RunService& runs, Clock& clock, Logger& log,
            std::string node);

  // One pass over every enabled schedule and every slot still firing, and
  // over the tenants whose client secret is about to expire (or has).
  Result<TickResult> Tick();
  Logger& log() { return log_; }

 private:
  Status Decide(TickResult& out);
  Status Fire(TickResult& out);
  Status WarnCredentials(TickResult& out);

  store::Database& db_;
  runs::RunService& runs_;
  Clock& clock_;
  Logger& log_;
  std::string node_;
  std::optional<int64_t> last_credential_check_;  // clock ms of the last expiry pass
};

// A tenant's start offset within a slot: a stable hash of (schedule, slot,
// tenant) spread over [0, jitter_seconds] seconds, in ms.
int64_t JitterMs(int64_t schedule_id, int64_t slot_ms, int64_t tenant_id, int64_t jitter_seconds);

// Runs Tick every `interval` (real time) on its own thread until destroyed.
class SchedulerLoop {
 public:
  SchedulerLoop(Scheduler& scheduler, std::chrono::milliseconds interval);
  ~SchedulerLoop();
  SchedulerLoop(const SchedulerLoop&) = delete;
  SchedulerLoop& operator=(const SchedulerLoop&) = delete;

 private:
  void Loop();
  Scheduler& scheduler_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// "hostname:pid".
std::string NodeName();

}  // namespace ta::schedule
