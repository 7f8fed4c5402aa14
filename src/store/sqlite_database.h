#pragma once

#include <memory>
#include <string>

#include "store/database.h"

namespace ta::store {

// SQLite in WAL mode: one writer connection owned by a writer thread, which
// commits concurrent Write() calls together (group commit: each call runs in
// its own SAVEPOINT inside one transaction, so one call's failure rolls back
// only its own writes, and one fsync acknowledges the whole batch), plus a
// pool of reader connections for Read().
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                             const DatabaseOptions& options);

}  // namespace ta::store
