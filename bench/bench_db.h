#pragma once

// A fresh database for one benchmark repetition: a temp SQLite file (default
// synchronous=FULL) or a new schema on the PostgreSQL named by
// TA_BENCH_PG_URL (bench/run starts a throwaway one). Dropped on destruction.

#include <memory>
#include <string>

#include "store/database.h"

namespace ta::bench {

struct FreshDb {
  std::string url, cleanup;
  bool pg = false;
  std::unique_ptr<store::Database> db;
  ~FreshDb();
};

// Exits the process with a message when the backend is unavailable.
std::unique_ptr<FreshDb> OpenFresh(const std::string& backend, int pg_pool_size);

int64_t MakeTenant(store::Database& db, const std::string& name);

}  // namespace ta::bench
