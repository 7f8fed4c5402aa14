// tenantatlas: the product's single binary. main() only parses flags and
// dispatches to commands that live in their own files. Configuration comes
// from flags, then environment variables, then defaults.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/db_commands.h"
#include "app/demo_command.h"
#include "app/idempotency_command.h"
#include "app/worker_command.h"

int main(int argc, char** argv) {
  CLI::App app{"TenantAtlas: backup and restore of Microsoft Intune configuration for MSPs"};
  app.set_version_flag("--version", "tenantatlas 0.1.0");
  app.require_subcommand(0, 1);

  std::string db_url = ta::app::kDefaultDatabase;
  auto add_db = [&](CLI::App* cmd) {
    cmd->add_option("--db", db_url,
                    "Database: a SQLite path, sqlite:PATH, or postgresql://user@host:port/db")
        ->envname("TA_DATABASE_URL")
        ->capture_default_str();
  };

  bool explain = false;
  auto* key_cmd = app.add_subcommand(
      "idempotency-key",
      "Read a run's key input as JSON on stdin and print its idempotency key (PHP-compatible).\n"
      "  {\"tenant_id\":1,\"operation_type\":\"policy.capture_snapshot\",\"target_id\":42,"
      "\"context\":{}}\n"
      "  {\"fn\":\"restore_execute\",\"tenant_id\":5,\"backup_set_id\":9,"
      "\"selected_item_ids\":[1,2],\"group_mapping\":{}}");
  key_cmd->add_flag("--explain", explain, "Also print the canonical JSON that was hashed");

  auto* migrate_cmd = app.add_subcommand("migrate", "Apply pending database migrations");
  add_db(migrate_cmd);

  auto* audit_cmd = app.add_subcommand("audit", "Audit log tools");
  audit_cmd->require_subcommand(1);
  auto* verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Check every tenant's hash chain; exit 1 and list each edited, deleted or truncated row");
  add_db(verify_cmd);

  std::string demo_db = "./data/demo.db";
  int demo_policies = 24;
  auto* demo_cmd =
      app.add_subcommand("demo",
                         "Run the product end to end on the built-in Graph simulator (no Microsoft "
                         "credentials needed): sync, "
                         "backup, restore preview and a cross-tenant restore, as jobs");
  demo_cmd->add_option("--db", demo_db, "SQLite file for the demo (recreated)")
      ->capture_default_str();
  demo_cmd->add_option("--policies", demo_policies, "Synthetic policies to generate")
      ->capture_default_str();

  ta::app::WorkerConfig worker;
  std::string master_key_file;
  auto* worker_cmd =
      app.add_subcommand("worker", "Run job workers only (no API) until SIGTERM; stops gracefully");
  add_db(worker_cmd);
  worker_cmd->add_option(
      "--master-key-file", master_key_file,
      "File with the base64 master key that seals tenant secrets (else TA_MASTER_KEY)");
  worker_cmd->add_option("--concurrency", worker.concurrency, "Handler threads")
      ->capture_default_str();
  worker_cmd
      ->add_option("--tenant-cap", worker.tenant_cap,
                   "Running jobs per tenant across all workers (0: none)")
      ->capture_default_str();
  worker_cmd
      ->add_option("--graph-authority", worker.graph_authority,
                   "Entra authority base (default public cloud; a national cloud, or graph-sim)")
      ->envname("TA_GRAPH_AUTHORITY");
  worker_cmd
      ->add_option("--graph-base", worker.graph_base,
                   "Microsoft Graph base URL (default public cloud)")
      ->envname("TA_GRAPH_BASE");

  CLI11_PARSE(app, argc, argv);

  if (*key_cmd) return ta::app::RunIdempotencyKeyCommand(std::cin, std::cout, std::cerr, explain);
  if (*migrate_cmd) return ta::app::RunMigrateCommand(db_url, std::cout, std::cerr);
  if (*verify_cmd) return ta::app::RunAuditVerifyCommand(db_url, std::cout, std::cerr);
  if (*worker_cmd) {
    worker.db_url = db_url;
    if (int rc = ta::app::LoadMasterKey(master_key_file, worker.master_key_b64, std::cerr); rc != 0)
      return rc;
    return ta::app::RunWorkerCommand(worker, std::cout, std::cerr);
  }
  if (*demo_cmd) return ta::app::RunDemoCommand(demo_db, demo_policies, std::cout, std::cerr);
  std::cout << app.help();
  return 0;
}
