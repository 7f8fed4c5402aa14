#include "app/idempotency_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <istream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "app/cli.h"
#include "core/idempotency.h"

namespace ta::app {
namespace {

constexpr size_t kMaxInputBytes = 16 << 20;

// Errors must stay on one line so that scripts can show them verbatim.
std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

int Fail(std::ostream& err, const std::string& msg) {
  err << "error: " << OneLine(msg) << "\n";
  return 2;
}

}  // namespace

int RunIdempotencyKeyCommand(std::istream& in, std::ostream& out, std::ostream& err, bool explain) {
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxInputBytes) return Fail(err, "input is larger than 16 MiB");
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Fail(
        err,
        "no input; pipe one JSON object on stdin, e.g. "
        "{\"tenant_id\":1,\"operation_type\":\"policy.capture_snapshot\",\"target_id\":42}");
  }
  nlohmann::ordered_json input;
  try {
    input = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Fail(err, std::string("input is not valid JSON: ") + e.what());
  }
  auto key = KeyFromJsonInput(input);
  if (!key) return Fail(err, key.error().message());
  out << key->key << "\n";
  if (explain) out << key->canonical_json << "\n";
  return 0;
}

void AddIdempotencyCommand(CLI::App& app, Commands& out) {
  auto explain = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "idempotency-key",
      "Read a run's key input as JSON on stdin and print its idempotency key (PHP-compatible).\n"
      "  {\"tenant_id\":1,\"operation_type\":\"policy.capture_snapshot\",\"target_id\":42,"
      "\"context\":{}}\n"
      "  {\"fn\":\"restore_execute\",\"tenant_id\":5,\"backup_set_id\":9,"
      "\"selected_item_ids\":[1,2],\"group_mapping\":{}}");
  cmd->add_flag("--explain", *explain, "Also print the canonical JSON that was hashed");
  out.push_back({cmd, [explain] {
                   return RunIdempotencyKeyCommand(std::cin, std::cout, std::cerr, *explain);
                 }});
}

}  // namespace ta::app
