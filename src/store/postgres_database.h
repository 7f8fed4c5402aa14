#pragma once

#include <memory>
#include <string>

#include "store/database.h"

namespace ta::store {

// PostgreSQL via libpq: a bounded connection pool, a prepared-statement cache
// per connection, READ COMMITTED transactions retried on serialization failure
// or deadlock, and LISTEN/NOTIFY for wake-ups.
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                               const DatabaseOptions& options);

}  // namespace ta::store
