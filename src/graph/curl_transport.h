#pragma once

#include <memory>

#include "graph/http_transport.h"

namespace ta::graph {

// libcurl, with a pool of easy handles so connections are reused, HTTP/2 over
// TLS where the server offers it, and libcurl's standard proxy environment
// variables (https_proxy, no_proxy, ...). Thread-safe.
std::unique_ptr<HttpTransport> MakeCurlTransport();

}  // namespace ta::graph
