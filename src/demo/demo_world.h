#pragma once

// The demo's two customer tenants on the Graph simulator, shared by
// `tenantatlas demo` and `tenantatlas serve --demo`.

#include <string>

#include "sim.h"

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

// Adds both tenants with their groups and policies (two hand-written ones with
// assignments in Contoso, plus `generated` synthetic policies across all 8 types).
void SeedDemoWorld(sim::GraphSim& sim, int generated);

}  // namespace ta::demo
