#include "demo/demo_world.h"

#include <nlohmann/json.hpp>

namespace ta::demo {

using nlohmann::json;

void SeedDemoWorld(sim::GraphSim& sim, int generated) {
  sim.AddTenant(kContoso.entra_tenant_id, {{kContoso.client_id, kContoso.client_secret}});
  sim.AddTenant(kFabrikam.entra_tenant_id, {{kFabrikam.client_id, kFabrikam.client_secret}});
  sim.Seed("contoso.example", "groups",
           {{{"id", "c-0001"}, {"displayName", "All Windows Devices"}},
            {{"id", "c-0002"}, {"displayName", "Finance Users"}}});
  sim.Seed("fabrikam.example", "groups",
           {{{"id", "f-0101"}, {"displayName", "All Windows Devices"}},
            {{"id", "f-0102"}, {"displayName", "Finance Users"}}});
  // A scope tag of the same name in each: the restore wizard maps it like a group.
  sim.Seed("contoso.example", "roleScopeTags",
           {{{"id", "c-tag-eu"}, {"displayName", "Europe"}, {"description", "EU customers"}}});
  sim.Seed("fabrikam.example", "roleScopeTags",
           {{{"id", "f-tag-eu"}, {"displayName", "Europe"}, {"description", "EU customers"}}});
  auto assign = [](const std::string& g) {
    return json::array(
        {{{"target",
           {{"@odata.type", "#microsoft.graph.groupAssignmentTarget"}, {"groupId", g}}}}});
  };
  sim.Seed("contoso.example", "deviceConfigurations",
           {{{"displayName", "Win - BitLocker"},
             {"encryptionRequired", true},
             {"assignments", assign("c-0001")}},
            {{"displayName", "Win - Finance restrictions"},
             {"cameraBlocked", true},
             {"roleScopeTagIds", {"0", "c-tag-eu"}},
             {"assignments", assign("c-0002")}}});
  // Fabrikam already has its own BitLocker policy, drifted from Contoso's: a
  // restore preview shows it as an update with a field diff.
  sim.Seed("fabrikam.example", "deviceConfigurations",
           {{{"displayName", "Win - BitLocker"},
             {"encryptionRequired", false},
             {"assignments", assign("f-0101")}}});
  sim.GeneratePolicies("contoso.example", generated);
}

}  // namespace ta::demo
