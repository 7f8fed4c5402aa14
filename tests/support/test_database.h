#pragma once

// A fresh, empty, migrated database per test, on either backend:
//  - SQLite: a file in a new temp dir;
//  - PostgreSQL: a new schema on the throwaway server named by TA_TEST_PG_URL
//    (started by scripts/test), selected through search_path in the URL.
// Dropped/removed on destruction.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/database.h"

namespace ta::testing {

enum class TestBackend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<TestBackend>& info);

class TestDatabase {
 public:
  // Returns nullptr (after GTEST_SKIP or a failure) when the backend is not
  // available. With TA_REQUIRE_PG=1 a missing PostgreSQL is a failure.
  static std::unique_ptr<TestDatabase> Create(TestBackend backend,
                                              store::DatabaseOptions options = {});
  ~TestDatabase();

  store::Database& db() { return *db_; }
  const std::string& url() const { return url_; }
  // Opens another independent handle on the same database (another "process").
  std::unique_ptr<store::Database> OpenAnother(store::DatabaseOptions options = {}) const;

 private:
  TestBackend backend_;
  std::string url_;
  std::string cleanup_;  // temp dir or schema name
  std::unique_ptr<store::Database> db_;
};

// Runs SQL on the test database with no result checking beyond success.
void MustExec(store::Database& db, const std::string& sql, const store::Params& params = {});
int64_t QueryInt(store::Database& db, const std::string& sql, const store::Params& params = {});
std::string QueryText(store::Database& db, const std::string& sql,
                      const store::Params& params = {});
// Runs an INSERT ... RETURNING id and returns the id (-1 and a test failure on error).
int64_t InsertReturningId(store::Database& db, const std::string& sql,
                          const store::Params& params = {});
// Inserts a tenant and a user; returns their ids.
int64_t MakeTenant(store::Database& db, const std::string& name);
int64_t MakeUser(store::Database& db, const std::string& email);

}  // namespace ta::testing

// Opens a TestDatabase into `var` for the current backend parameter, or ends
// the test (skipped or failed as TestDatabase::Create decided).
#define TA_OPEN_DB(var, ...)                                                 \
  auto var = ::ta::testing::TestDatabase::Create(GetParam(), ##__VA_ARGS__); \
  if (!var) return
