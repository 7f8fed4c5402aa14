// tenantatlas: the product's single binary. main() only parses flags and
// dispatches to commands that live in their own files.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/idempotency_command.h"

int main(int argc, char** argv) {
  CLI::App app{"TenantAtlas: backup and restore of Microsoft Intune configuration for MSPs"};
  app.set_version_flag("--version", "tenantatlas 0.1.0");
  app.require_subcommand(0, 1);

  bool explain = false;
  auto* key_cmd = app.add_subcommand(
      "idempotency-key",
      "Read a run's key input as JSON on stdin and print its idempotency key (PHP-compatible).\n"
      "  {\"tenant_id\":1,\"operation_type\":\"policy.capture_snapshot\",\"target_id\":42,"
      "\"context\":{}}\n"
      "  {\"fn\":\"restore_execute\",\"tenant_id\":5,\"backup_set_id\":9,"
      "\"selected_item_ids\":[1,2],\"group_mapping\":{}}");
  key_cmd->add_flag("--explain", explain, "Also print the canonical JSON that was hashed");

  CLI11_PARSE(app, argc, argv);

  if (*key_cmd) return ta::app::RunIdempotencyKeyCommand(std::cin, std::cout, std::cerr, explain);
  std::cout << app.help();
  return 0;
}
