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
  // Conditional access: a break-glass account and a named location in each
  // tenant, and a Contoso policy that names them (mapped by name on restore,
  // created in Fabrikam in report-only state).
  for (const auto& [tenant, p] : {std::pair<std::string, std::string>{"contoso.example", "c"},
                                  {"fabrikam.example", "f"}}) {
    sim.Seed(tenant, "users", {{{"id", p + "-user-bg"}, {"displayName", "Break Glass 1"}}});
    sim.Seed(tenant, "namedLocations",
             {{{"id", p + "-loc-hq"},
               {"@odata.type", "#microsoft.graph.ipNamedLocation"},
               {"displayName", "Head office"},
               {"isTrusted", true},
               {"ipRanges",
                {{{"@odata.type", "#microsoft.graph.iPv4CidrRange"},
                  {"cidrAddress", p == "c" ? "203.0.113.0/24" : "198.51.100.0/24"}}}}}});
  }
  sim.Seed("contoso.example", "policies",
           {{{"displayName", "Require MFA for Finance"},
             {"state", "enabled"},
             {"conditions",
              {{"clientAppTypes", {"all"}},
               {"users",
                {{"includeGroups", {"c-0002"}}, {"excludeUsers", {"c-user-bg"}}}},
               {"applications", {{"includeApplications", {"All"}}}},
               {"locations",
                {{"includeLocations", {"All"}}, {"excludeLocations", {"c-loc-hq"}}}}}},
             {"grantControls", {{"operator", "OR"}, {"builtInControls", {"mfa"}}}}}});
  sim.GeneratePolicies("contoso.example", generated);
}

}  // namespace ta::demo
