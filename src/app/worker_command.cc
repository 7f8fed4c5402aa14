#include "app/worker_command.h"

#include <malloc.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>
#include <sstream>

#include "app/cli.h"
#include "app/db_commands.h"
#include "graph/curl_transport.h"

namespace ta::app {

int LoadMasterKey(const std::string& key_file, std::string& key_b64, std::ostream& err) {
  if (!key_file.empty()) {
    std::ifstream f(key_file);
    if (!f) {
      err << "error: --master-key-file: cannot read " << key_file << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    key_b64 = ss.str();
    while (!key_b64.empty() &&
           (key_b64.back() == '\n' || key_b64.back() == '\r' || key_b64.back() == ' '))
      key_b64.pop_back();
  } else if (const char* env = std::getenv("TA_MASTER_KEY")) {
    key_b64 = env;
  }
  if (key_b64.empty()) {
    err << "error: master key: set TA_MASTER_KEY or --master-key-file (32 random bytes in base64; "
           "create one with "
           "`head -c32 /dev/urandom | base64`)\n";
    return 2;
  }
  return 0;
}

sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void TuneAllocator() {
  // Keep freed memory between bursts instead of returning it to the kernel
  // after each one (each return costs page faults on the next burst); the
  // periodic trim in AwaitStopSignal hands it back when it stays unused.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  // At most 4 malloc arenas (glibc's default is 8 per core): each arena keeps
  // its own free memory, and with ~80 threads taking turns the soak saw them
  // grow RSS to 3x the heap in use. Per-thread caches keep malloc mostly
  // lock-free anyway. MALLOC_ARENA_MAX in the environment overrides this.
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 4);
}

int AwaitStopSignal(const sigset_t& set) {
  const timespec period{30, 0};
  while (true) {
    const int sig = sigtimedwait(&set, nullptr, &period);
    if (sig > 0) return sig;
    malloc_trim(0);  // EAGAIN: the period passed; EINTR: another signal
  }
}

Status ValidateWorkerConfig(const WorkerConfig& c) {
  if (c.concurrency < 1 || c.concurrency > 256)
    return Status::InvalidArgument("--concurrency: must be between 1 and 256");
  if (c.graph_timeout_ms < 1000 || c.graph_timeout_ms > 600'000)
    return Status::InvalidArgument("--graph-timeout-ms: must be between 1000 and 600000");
  if (c.graph_connect_timeout_ms < 100 || c.graph_connect_timeout_ms > 120'000)
    return Status::InvalidArgument("--graph-connect-timeout-ms: must be between 100 and 120000");
  if (c.shutdown_grace_s < 0 || c.shutdown_grace_s > 3600)
    return Status::InvalidArgument("--shutdown-grace: must be between 0 and 3600 seconds");
  if (c.scheduler_interval_ms < 10 || c.scheduler_interval_ms > 60'000)
    return Status::InvalidArgument("--scheduler-interval-ms: must be between 10 and 60000");
  return Status::Ok();
}

SchedulerRunner::SchedulerRunner(const WorkerConfig& config, store::Database& db,
                                 runs::RunService& runs, Logger& log) {
  if (!config.scheduler) return;
  Clock* clock = &SystemClock::Instance();
  if (!config.scheduler_clock_file.empty()) {
    file_clock_ = std::make_unique<FileClock>(config.scheduler_clock_file);
    clock = file_clock_.get();
  }
  scheduler_ = std::make_unique<schedule::Scheduler>(db, runs, *clock, log, schedule::NodeName());
  loop_ = std::make_unique<schedule::SchedulerLoop>(
      *scheduler_, std::chrono::milliseconds(config.scheduler_interval_ms));
}

SchedulerRunner::~SchedulerRunner() = default;

ops::OpsStackOptions StackOptions(const WorkerConfig& config) {
  ops::OpsStackOptions options;
  options.graph.timeout = std::chrono::milliseconds(config.graph_timeout_ms);
  options.graph.connect_timeout = std::chrono::milliseconds(config.graph_connect_timeout_ms);
  options.workers.shutdown_grace = std::chrono::seconds(config.shutdown_grace_s);
  if (!config.graph_authority.empty()) options.graph.authority_base = config.graph_authority;
  if (!config.graph_base.empty()) {
    options.graph.graph_base = config.graph_base;
    options.graph.scope = graph::ScopeFor(config.graph_base);
  }
  options.queue.tenant_running_cap = config.tenant_cap;
  options.alerts.smtp.url = config.smtp_url;
  options.alerts.smtp.from = config.smtp_from;
  options.alerts.smtp.username = config.smtp_username;
  // The password only from the environment: a flag would show in `ps`.
  if (const char* pw = std::getenv("TA_SMTP_PASSWORD")) options.alerts.smtp.password = pw;
  options.alerts.smtp.ca_file = config.smtp_ca_file;
  options.alerts.smtp.require_tls = !config.smtp_allow_plain;
  options.alerts.public_url = config.public_url;
  options.workers.concurrency = config.concurrency;
  return options;
}

int RunWorkerCommand(const WorkerConfig& config, std::ostream& out, std::ostream& err) {
  auto box = SecretBox::FromBase64Key(config.master_key_b64);
  if (!box) {
    err << "error: " << box.error().message() << "\n";
    return 2;
  }
  if (Status s = ValidateWorkerConfig(config); !s.ok()) {
    err << "error: " << s.message() << "\n";
    return 2;
  }
  sigset_t set = BlockStopSignals();
  TuneAllocator();

  auto db = store::OpenDatabase(config.db_url);
  if (!db) {
    err << "error: " << db.error().ToString() << "\n";
    return 2;
  }
  Redactor redactor;
  Logger log(redactor, SystemClock::Instance());
  auto transport = graph::MakeCurlTransport();
  ops::OpsStackOptions options = StackOptions(config);
  options.workers.logger = &log;
  ops::OpsStack stack(**db, *box, *transport, redactor, SystemClock::Instance(), options);
  stack.pool().Start();
  auto scheduler = std::make_unique<SchedulerRunner>(config, **db, stack.runs(), log);
  out << "worker " << stack.pool().worker_id() << " started: concurrency " << config.concurrency
      << ", per-tenant cap " << config.tenant_cap << ", Graph "
      << (config.graph_base.empty() && config.graph_authority.empty()
              ? std::string("of each tenant's cloud")
              : options.graph.graph_base + " for every tenant")
      << (config.scheduler ? ", scheduler on" : ", scheduler off") << std::endl;
  const int sig = AwaitStopSignal(set);
  scheduler.reset();  // no new runs while the workers drain
  out << "worker stopping (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
      << "): finishing running jobs for up to " << config.shutdown_grace_s
      << " s, handing back the rest" << std::endl;
  stack.pool().Stop();
  out << "worker stopped after " << stack.pool().processed() << " jobs" << std::endl;
  return 0;
}

void AddWorkerOptions(CLI::App* cmd, WorkerConfig& worker, std::string& master_key_file) {
  AddDbOption(cmd, worker.db_url);
  AddMasterKeyOption(cmd, master_key_file);
  cmd->add_option("--concurrency", worker.concurrency, "Job handler threads")
      ->envname("TA_CONCURRENCY")
      ->capture_default_str();
  cmd->add_option("--tenant-cap", worker.tenant_cap,
                  "Running jobs per tenant across all workers (0: none)")
      ->envname("TA_TENANT_CAP")
      ->capture_default_str();
  cmd->add_option("--graph-authority", worker.graph_authority,
                  "Entra authority for every tenant, whatever its cloud (graph-sim, a test proxy); "
                  "unset: each tenant's cloud selects its own")
      ->envname("TA_GRAPH_AUTHORITY");
  cmd->add_option("--graph-base", worker.graph_base,
                  "Microsoft Graph base URL for every tenant (graph-sim, a test proxy); unset: "
                  "each tenant's cloud (global, usgov, usgovdod, china) selects its own")
      ->envname("TA_GRAPH_BASE");
  cmd->add_option("--graph-timeout-ms", worker.graph_timeout_ms,
                  "Longest one Graph request may take (a POST that times out is looked up, "
                  "never resent blindly)")
      ->envname("TA_GRAPH_TIMEOUT_MS")
      ->capture_default_str();
  cmd->add_option("--graph-connect-timeout-ms", worker.graph_connect_timeout_ms,
                  "Longest connecting to Graph may take")
      ->envname("TA_GRAPH_CONNECT_TIMEOUT_MS")
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", worker.shutdown_grace_s,
                  "Seconds running jobs get to finish after SIGTERM; then their Graph calls "
                  "are aborted and the jobs handed back to other workers")
      ->envname("TA_SHUTDOWN_GRACE")
      ->capture_default_str();
  cmd->add_flag("!--no-scheduler", worker.scheduler,
                "Do not run the scheduler here (every serve and worker runs it by default; "
                "each slot fires once however many do)")
      ->envname("TA_NO_SCHEDULER");
  cmd->add_option("--scheduler-interval-ms", worker.scheduler_interval_ms,
                  "How often the scheduler looks for due slots")
      ->envname("TA_SCHEDULER_INTERVAL_MS")
      ->capture_default_str();
  cmd->add_option("--scheduler-clock-file", worker.scheduler_clock_file,
                  "Tests only: the scheduler reads the time (ms since the epoch) from this file");
  cmd->add_option("--smtp-url", worker.smtp_url,
                  "Email alerts go through this server: smtp://host:587 (STARTTLS) or "
                  "smtps://host:465; the password comes from TA_SMTP_PASSWORD")
      ->envname("TA_SMTP_URL");
  cmd->add_option("--smtp-from", worker.smtp_from, "The sender address of email alerts")
      ->envname("TA_SMTP_FROM");
  cmd->add_option("--smtp-username", worker.smtp_username, "SMTP AUTH user name")
      ->envname("TA_SMTP_USERNAME");
  cmd->add_option("--smtp-ca-file", worker.smtp_ca_file,
                  "Trust this CA certificate for the SMTP server (a private relay)")
      ->envname("TA_SMTP_CA_FILE");
  cmd->add_flag("--smtp-allow-plain", worker.smtp_allow_plain,
                "Send email without STARTTLS when the server offers none (a relay on localhost)")
      ->envname("TA_SMTP_ALLOW_PLAIN");
  cmd->add_option("--public-url", worker.public_url,
                  "This installation's address as users reach it (https://atlas.example.com): "
                  "alerts link to runs with it, and customers' admins come back to "
                  "<URL>/api/v1/onboarding/callback after admin consent (register that as the "
                  "MSP app's redirect URI)")
      ->envname("TA_PUBLIC_URL");
}

void AddWorkerCommand(CLI::App& app, Commands& out) {
  struct Args {
    Args() { worker.db_url = kDefaultDatabase; }
    WorkerConfig worker;
    std::string master_key_file;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("worker", "Run job workers only (no API) until SIGTERM; stops gracefully");
  AddWorkerOptions(cmd, args->worker, args->master_key_file);
  out.push_back(
      {cmd, [args] {
         if (int rc = LoadMasterKey(args->master_key_file, args->worker.master_key_b64, std::cerr);
             rc != 0)
           return rc;
         return RunWorkerCommand(args->worker, std::cout, std::cerr);
       }});
}

}  // namespace ta::app
