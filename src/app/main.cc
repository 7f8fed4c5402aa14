// tenantatlas: the product's single binary. main() only parses flags and
// dispatches; each command adds its own subcommands and flags (app/cli.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"TenantAtlas: backup and restore of Microsoft Intune configuration for MSPs"};
  app.set_version_flag("--version", "tenantatlas 0.1.0");
  app.require_subcommand(0, 1);
  ta::app::Commands commands;
  ta::app::AddIdempotencyCommand(app, commands);
  ta::app::AddDbCommands(app, commands);
  ta::app::AddDemoCommand(app, commands);
  ta::app::AddWorkerCommand(app, commands);
  ta::app::AddServeCommand(app, commands);
  ta::app::AddAdminCommands(app, commands);
  ta::app::AddScheduleCommands(app, commands);
  CLI11_PARSE(app, argc, argv);
  for (const auto& c : commands)
    if (*c.cli) return c.run();
  std::cout << app.help();
  return 0;
}
