#pragma once

// RFC 9457 problem details: the one place where a Status becomes an HTTP error.

#include <string>
#include <string_view>

#include "api/http.h"
#include "core/status.h"

namespace ta::api {

// The HTTP status for a Status code (InvalidArgument 400, PermissionDenied
// 403, NotFound 404, AlreadyExists/Conflict 409, FailedPrecondition 409,
// Unauthenticated 401, ResourceExhausted 429, Unavailable 503, else 500).
int HttpStatusFor(Status::Code code);

// application/problem+json with type, title, status and detail. When the
// message starts with "field: ", that field is also reported as `field` (and
// in `errors`), so clients can point at the input that was wrong. Internal
// errors keep their detail out of the response (it is logged instead).
Response Problem(const Status& status);
Response Problem(int http_status, std::string_view detail, std::string_view field = {});

}  // namespace ta::api
