#pragma once

#include <iosfwd>
#include <string>

namespace ta::demo {

// Synthetic objects in the demo's Contoso: one of every catalog type.
inline constexpr int kDemoGenerated = 35;

// `tenantatlas demo`: the product end to end with no Microsoft credentials.
// Starts the Graph simulator on loopback with two customer tenants, then runs
// inventory sync, a backup set, a restore preview and a restore execute into
// the other tenant (as jobs, through the run service), and prints every run
// and item outcome, the double-click reuse, and the audit chain check.
// Uses a fresh SQLite database at `db_path`. Returns the exit code.
int RunDemoCommand(const std::string& db_path, int policies, std::ostream& out, std::ostream& err);

}  // namespace ta::demo
