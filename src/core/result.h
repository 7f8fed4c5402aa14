#pragma once

#include <tl/expected.hpp>

#include "core/status.h"

namespace ta {

// Result<T> is either a value or a non-OK Status. Return Unexpected(status) for
// the error side. tl::expected (Debian's libexpected-dev) stands in for
// std::expected, which g++ 12 does not have.
template <typename T>
using Result = tl::expected<T, Status>;

inline tl::unexpected<Status> Unexpected(Status s) { return tl::unexpected<Status>(std::move(s)); }

}  // namespace ta
