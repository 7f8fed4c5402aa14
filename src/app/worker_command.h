#pragma once

#include <signal.h>

#include <iosfwd>
#include <string>

#include <memory>

#include "ops/ops_stack.h"
#include "schedule/scheduler.h"

namespace ta::app {

struct WorkerConfig {
  std::string db_url;
  std::string master_key_b64;   // from --master-key-file or TA_MASTER_KEY
  std::string graph_authority;  // e.g. https://login.microsoftonline.com (or a national cloud)
  std::string graph_base;       // e.g. https://graph.microsoft.com
  int concurrency = 4;
  int tenant_cap = 4;
  int graph_timeout_ms = 60'000;          // one Graph request, whole exchange
  int graph_connect_timeout_ms = 10'000;  // establishing its connection
  int shutdown_grace_s = 30;  // SIGTERM: running jobs finish within this, else hand back
  bool scheduler = true;            // run the scheduler loop in this process
  int scheduler_interval_ms = 1000;  // between its passes
  std::string scheduler_clock_file;  // tests: the scheduler's time comes from this file
  // Alerts: email through this SMTP server; absolute links from public_url.
  std::string smtp_url, smtp_from, smtp_username, smtp_ca_file, public_url;
  bool smtp_allow_plain = false;  // send without STARTTLS (a relay on localhost)
};

// The scheduler loop of a serve or worker process (when config.scheduler),
// starting runs through `runs`; stops when destroyed.
class SchedulerRunner {
 public:
  SchedulerRunner(const WorkerConfig& config, store::Database& db, runs::RunService& runs,
                  Logger& log);
  ~SchedulerRunner();

 private:
  std::unique_ptr<Clock> file_clock_;
  std::unique_ptr<schedule::Scheduler> scheduler_;
  std::unique_ptr<schedule::SchedulerLoop> loop_;
};

// Checks the settings above; the error names the flag and the allowed range.
Status ValidateWorkerConfig(const WorkerConfig& config);

// Reads the master key: the file when given, else the TA_MASTER_KEY value.
// Errors name the setting and how to create a key.
int LoadMasterKey(const std::string& key_file, std::string& key_b64, std::ostream& err);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// afterwards, so sigwait() on the returned set receives them. Call before
// any thread starts.
sigset_t BlockStopSignals();

// Waits for a signal of `set` and returns it. Meanwhile, every 30 s, gives
// the heap's freed pages back to the OS (malloc_trim): with one glibc arena
// per busy thread, memory freed after a burst otherwise stays resident, and
// the 30-minute soak saw RSS climb 20 → 54 MiB with 9 MiB in use.
int AwaitStopSignal(const sigset_t& set);

// The allocator settings of a long-running `serve` or `worker` (see .cc).
// Call before any thread starts.
void TuneAllocator();

// The worker side's options from the settings shared by `worker` and `serve`.
ops::OpsStackOptions StackOptions(const WorkerConfig& config);

// `tenantatlas worker`: runs job workers (no API) until SIGTERM or SIGINT,
// then stops gracefully: running handlers finish, unstarted jobs are handed
// back. Returns the exit code.
int RunWorkerCommand(const WorkerConfig& config, std::ostream& out, std::ostream& err);

}  // namespace ta::app
