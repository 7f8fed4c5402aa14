#pragma once

// The demo side of `tenantatlas serve --demo`: the Graph simulator in-process,
// seeded with the demo tenants, and the demo sign-in. This library is the only
// one that links the simulator; the rest of the product sees only this header.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/secret_box.h"
#include "store/database.h"

namespace ta::sim {
class GraphSim;
}
namespace ta::runs {
class RunService;
}

namespace ta::demo {

// The simulator, seeded with Contoso and Fabrikam (`generated` synthetic
// policies on top of the hand-written ones), on a loopback port.
class DemoGraph {
 public:
  DemoGraph();
  ~DemoGraph();
  // Binds and serves; returns the base URL (authority and Graph base).
  Result<std::string> Start(int generated);
  void Stop();

 private:
  std::unique_ptr<sim::GraphSim> sim_;
};

struct DemoLogin {
  int64_t tenant = 0;
  int64_t other_tenant = 0;
  std::string email, password, token;
};

// The demo's master key: kept beside the database so a restart can still open
// the sealed demo secrets. Created 0600 on first use.
Result<std::string> DemoKey(const std::string& path);

// Demo user (new password each start), a fresh token, both demo tenants with
// their sealed simulator credentials.
Result<DemoLogin> PrepareDemo(store::Database& db, const SecretBox& box);

// Once `serve --demo` listens at `base`: prepares the demo (above), syncs both
// tenants and takes a first backup set as jobs on the in-process workers, then
// prints the sign-in, the token and ready-to-paste curl lines on `out`.
void WelcomeDemo(store::Database& db, const SecretBox& box, runs::RunService& runs,
                 const std::string& base, const std::string& sim_url, std::ostream& out,
                 std::ostream& err);

}  // namespace ta::demo
