#include "support/test_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

namespace ta::testing {
namespace {

std::string RandomSuffix() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 10; ++i) s += "abcdefghijklmnopqrstuvwxyz0123456789"[rd() % 36];
  return s;
}

bool AdminExec(const std::string& url, const std::string& sql, std::string* err) {
  PGconn* c = PQconnectdb(url.c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (ok) {
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok && err) *err = PQresultErrorMessage(r);
    PQclear(r);
  } else if (err) {
    *err = PQerrorMessage(c);
  }
  PQfinish(c);
  return ok;
}

}  // namespace

std::string BackendName(const ::testing::TestParamInfo<TestBackend>& info) {
  return info.param == TestBackend::kSqlite ? "Sqlite" : "Postgres";
}

std::unique_ptr<TestDatabase> TestDatabase::Create(TestBackend backend,
                                                   store::DatabaseOptions options) {
  auto t = std::unique_ptr<TestDatabase>(new TestDatabase());
  t->backend_ = backend;
  if (backend == TestBackend::kSqlite) {
    char tmpl[] = "/tmp/ta-sqlite-XXXXXX";
    t->cleanup_ = mkdtemp(tmpl);
    t->url_ = "sqlite:" + t->cleanup_ + "/test.db";
  } else {
    const char* base = std::getenv("TA_TEST_PG_URL");
    if (!base || !*base) {
      const char* req = std::getenv("TA_REQUIRE_PG");
      if (req && std::string(req) == "1") {
        ADD_FAILURE() << "TA_TEST_PG_URL is not set but TA_REQUIRE_PG=1; run through scripts/test";
      } else {
        GTEST_MESSAGE_("PostgreSQL not available: set TA_TEST_PG_URL (scripts/test does)",
                       ::testing::TestPartResult::kSkip);
      }
      return nullptr;
    }
    const std::string schema = "t_" + RandomSuffix();
    std::string err;
    if (!AdminExec(base, "CREATE SCHEMA " + schema, &err)) {
      ADD_FAILURE() << "cannot create schema: " << err;
      return nullptr;
    }
    t->cleanup_ = schema;
    const std::string b(base);
    // application_name = the schema: a fault test can find (and kill) its own
    // connections without touching the tests running beside it.
    t->url_ = b + (b.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
              schema + "&application_name=" + schema;
  }
  auto db = store::OpenDatabase(t->url_, options);
  if (!db) {
    ADD_FAILURE() << "open " << t->url_ << ": " << db.error().ToString();
    return nullptr;
  }
  t->db_ = std::move(*db);
  return t;
}

std::unique_ptr<store::Database> TestDatabase::OpenAnother(store::DatabaseOptions options) const {
  options.run_migrations = false;
  auto db = store::OpenDatabase(url_, options);
  EXPECT_TRUE(db.has_value()) << (db ? "" : db.error().ToString());
  return db ? std::move(*db) : nullptr;
}

TestDatabase::~TestDatabase() {
  db_.reset();
  if (backend_ == TestBackend::kSqlite) {
    std::error_code ec;
    std::filesystem::remove_all(cleanup_, ec);
  } else if (!cleanup_.empty()) {
    AdminExec(std::getenv("TA_TEST_PG_URL"), "DROP SCHEMA " + cleanup_ + " CASCADE", nullptr);
  }
}

void MustExec(store::Database& db, const std::string& sql, const store::Params& params) {
  Status s = db.Write([&](store::Tx& tx) -> Status {
    auto r = tx.Exec(sql, params);
    return r ? Status::Ok() : r.error();
  });
  ASSERT_TRUE(s.ok()) << sql << ": " << s.ToString();
}

int64_t QueryInt(store::Database& db, const std::string& sql, const store::Params& params) {
  auto r = store::ReadResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto rows = tx.Query(sql, params);
    if (!rows) return Unexpected(rows.error());
    if (rows->empty()) return Unexpected(Status::NotFound("no row"));
    return rows->front().Int(0);
  });
  EXPECT_TRUE(r.has_value()) << sql << ": " << (r ? "" : r.error().ToString());
  return r.value_or(-1);
}

std::string QueryText(store::Database& db, const std::string& sql, const store::Params& params) {
  auto r = store::ReadResult<std::string>(db, [&](store::Tx& tx) -> Result<std::string> {
    auto rows = tx.Query(sql, params);
    if (!rows) return Unexpected(rows.error());
    if (rows->empty()) return Unexpected(Status::NotFound("no row"));
    return rows->front().Text(0);
  });
  EXPECT_TRUE(r.has_value()) << sql << ": " << (r ? "" : r.error().ToString());
  return r.value_or("");
}

int64_t InsertReturningId(store::Database& db, const std::string& sql,
                          const store::Params& params) {
  auto r = store::WriteResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto rows = tx.Query(sql, params);
    if (!rows) return Unexpected(rows.error());
    return rows->front().Int(0);
  });
  EXPECT_TRUE(r.has_value()) << sql << ": " << (r ? "" : r.error().ToString());
  return r.value_or(-1);
}

int64_t MakeTenant(store::Database& db, const std::string& name) {
  return InsertReturningId(db, "INSERT INTO tenants (name, created_at) VALUES ($1, 0) RETURNING id",
                           {name});
}

int64_t MakeUser(store::Database& db, const std::string& email) {
  return InsertReturningId(db, "INSERT INTO users (email, created_at) VALUES ($1, 0) RETURNING id",
                           {email});
}

}  // namespace ta::testing
