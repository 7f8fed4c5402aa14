// tenantatlas: the product's single binary. main() only parses flags and
// dispatches to commands that live in their own files. Configuration comes
// from flags, then environment variables, then defaults.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/db_commands.h"
#include "app/demo_command.h"
#include "app/idempotency_command.h"

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

  CLI11_PARSE(app, argc, argv);

  if (*key_cmd) return ta::app::RunIdempotencyKeyCommand(std::cin, std::cout, std::cerr, explain);
  if (*migrate_cmd) return ta::app::RunMigrateCommand(db_url, std::cout, std::cerr);
  if (*verify_cmd) return ta::app::RunAuditVerifyCommand(db_url, std::cout, std::cerr);
  if (*demo_cmd) return ta::app::RunDemoCommand(demo_db, demo_policies, std::cout, std::cerr);
  std::cout << app.help();
  return 0;
}
