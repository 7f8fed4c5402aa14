#pragma once

// The demo's two customer tenants on the Graph simulator, shared by
// `tenantatlas demo` and `tenantatlas serve --demo`.

#include <cstdint>
#include <string>
#include <utility>

#include "core/result.h"
#include "core/secret_box.h"
#include "sim.h"
#include "store/database.h"

namespace ta::demo {

struct DemoTenant {
  std::string name;  // TenantAtlas tenant name
  std::string entra_tenant_id;
  std::string client_id;
  std::string client_secret;  // the simulator's; not a real credential
};

inline const DemoTenant kContoso{"Contoso", "contoso.example", "contoso-app",
                                 "contoso-secret-Qx8~"};
inline const DemoTenant kFabrikam{"Fabrikam", "fabrikam.example", "fabrikam-app",
                                  "fabrikam-secret-Qx8~"};

#include "demo/demo_command.h"  // kDemoGenerated

// Adds both tenants with their groups and policies (hand-written ones with
// assignments and a conditional access policy in Contoso, plus `generated`
// synthetic objects spread over every catalog type).
void SeedDemoWorld(sim::GraphSim& sim, int generated);

// The TenantAtlas side of the demo, through the tenancy rules (audited "via
// demo"): Contoso and Fabrikam with their simulator credentials, and `user`
// a member of both with `role`. Creates what is missing; run again (serve
// --demo on the same database), it refreshes credentials and memberships.
// Returns the two tenant ids (Contoso, Fabrikam).
Result<std::pair<int64_t, int64_t>> EnsureDemoTenants(store::Database& db, const SecretBox& box,
                                                      int64_t user, const std::string& role);

}  // namespace ta::demo
