#pragma once

// The command line: each command file adds its own subcommands and flags to
// the CLI11 app (Add*), and main() only parses and dispatches. Configuration
// comes from flags, then environment variables, then defaults.
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ta::app {

struct WorkerConfig;

// A subcommand main() dispatches to: its CLI11 node, and what runs it once
// the flags are parsed (returns the exit code).
struct Command {
  CLI::App* cli;
  std::function<int()> run;
};
using Commands = std::vector<Command>;

void AddIdempotencyCommand(CLI::App& app, Commands& out);  // idempotency_command.cc
void AddDbCommands(CLI::App& app, Commands& out);          // db_commands.cc: migrate, audit
void AddWorkerCommand(CLI::App& app, Commands& out);       // worker_command.cc
void AddServeCommand(CLI::App& app, Commands& out);        // serve_command.cc
void AddAdminCommands(CLI::App& app,
                      Commands& out);  // admin_commands.cc: user, token, tenant, member
void AddDemoCommand(CLI::App& app, Commands& out);  // demo_cli.cc
void AddScheduleCommands(CLI::App& app, Commands& out);  // schedule_commands.cc

// Flags more than one command takes.
void AddDbOption(CLI::App* cmd, std::string& db_url);
void AddMasterKeyOption(CLI::App* cmd, std::string& key_file);
// The settings `worker` and `serve` share: database, master key, concurrency,
// Graph endpoints and timeouts, shutdown grace.
void AddWorkerOptions(CLI::App* cmd, WorkerConfig& worker, std::string& master_key_file);

}  // namespace ta::app
