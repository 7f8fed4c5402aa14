#pragma once

#include <string_view>
#include <vector>

#include "store/database.h"

namespace ta::store {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// The versioned migrations for a backend, in order (embedded from
// src/store/migrations/<backend>/NNNN_name.sql at build time).
const std::vector<Migration>& Migrations(Backend backend);

// Applies every migration not yet recorded in schema_migrations, each in the
// same transaction as its record. Safe when several processes start at once
// (PostgreSQL takes an advisory lock; SQLite has a single writer).
Status Migrate(Database& db);

// Versions applied so far, ascending.
Result<std::vector<int>> AppliedMigrations(Database& db);

}  // namespace ta::store
