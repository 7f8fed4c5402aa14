#pragma once

// The built web UI: files under a root directory, with cache headers, and the
// single-page-app fallback (a deep link such as /runs/123 gets index.html).

#include <optional>
#include <string>

#include "api/http.h"

namespace ta::api {

// For a GET outside /api/: the file, index.html for extension-less paths (deep
// links), or nullopt (the caller answers 404). Hashed build assets under
// /assets/ are cacheable for a year; everything else must be revalidated, so a
// new release is picked up at once. Paths that try to leave `root` never match.
std::optional<Response> ServeStatic(const std::string& root, const Request& req);

}  // namespace ta::api
