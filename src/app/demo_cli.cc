// `tenantatlas demo`: its flags; the demo itself lives in the demo library.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "app/cli.h"
#include "demo/demo_command.h"

namespace ta::app {

void AddDemoCommand(CLI::App& app, Commands& out) {
  struct Args {
    std::string db = "./data/demo.db";
    int policies = demo::kDemoGenerated;  // one object of every type
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Run the product end to end on the built-in Graph simulator (no Microsoft credentials "
      "needed): sync, backup, restore preview and a cross-tenant restore, as jobs");
  cmd->add_option("--db", args->db, "SQLite file for the demo (recreated)")->capture_default_str();
  cmd->add_option("--policies", args->policies, "Synthetic policies to generate")
      ->capture_default_str();
  out.push_back({cmd, [args] {
                   return demo::RunDemoCommand(args->db, args->policies, std::cout, std::cerr);
                 }});
}

}  // namespace ta::app
