#include "core/cloud.h"

namespace ta {

const std::vector<CloudEndpoints>& Clouds() {
  // Microsoft Graph national cloud deployments: the token service root and the
  // Graph root of each. GCC (moderate) tenants live in the global cloud.
  static const std::vector<CloudEndpoints> kClouds = {
      {"global", "Global (commercial, GCC)", "https://login.microsoftonline.com",
       "https://graph.microsoft.com"},
      {"usgov", "US Government L4 (GCC High)", "https://login.microsoftonline.us",
       "https://graph.microsoft.us"},
      {"usgovdod", "US Government L5 (DoD)", "https://login.microsoftonline.us",
       "https://dod-graph.microsoft.us"},
      {"china", "China (operated by 21Vianet)", "https://login.chinacloudapi.cn",
       "https://microsoftgraph.chinacloudapi.cn"},
  };
  return kClouds;
}

const CloudEndpoints* FindCloud(std::string_view name) {
  for (const auto& c : Clouds())
    if (c.name == name) return &c;
  return nullptr;
}

std::string CloudNames() {
  std::string out;
  const auto& all = Clouds();
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) out += i + 1 == all.size() ? " or " : ", ";
    out += all[i].name;
  }
  return out;
}

}  // namespace ta
