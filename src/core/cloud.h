#pragma once

// The Microsoft clouds a customer tenant can live in, and their endpoints.
// A tenant's `cloud` selects where its tokens come from and which Graph every
// request, and every absolute URL in a request body (@odata.bind), names.

#include <string>
#include <string_view>
#include <vector>

namespace ta {

struct CloudEndpoints {
  std::string_view name;       // "global", "usgov", "usgovdod", "china"
  std::string_view title;      // as a customer reads it
  std::string_view authority;  // Entra token service root
  std::string_view graph;      // Microsoft Graph root (also the token scope's resource)
};

// nullptr for a name that is not a cloud.
const CloudEndpoints* FindCloud(std::string_view name);
const std::vector<CloudEndpoints>& Clouds();
// "global, usgov, usgovdod or china" (for error messages).
std::string CloudNames();

}  // namespace ta
