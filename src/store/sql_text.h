#pragma once

#include <string>
#include <string_view>

namespace ta::store {

// Rewrites $N placeholders as SQLite's ?N, leaving quoted text alone.
std::string DollarToQuestion(std::string_view sql);

}  // namespace ta::store
