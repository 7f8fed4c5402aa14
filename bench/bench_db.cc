#include "bench_db.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace ta::bench {

FreshDb::~FreshDb() {
  db.reset();
  if (pg) {
    PGconn* c = PQconnectdb(std::getenv("TA_BENCH_PG_URL"));
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    PQclear(PQexec(c, ("DROP SCHEMA " + cleanup + " CASCADE").c_str()));
    PQfinish(c);
  } else {
    std::filesystem::remove_all(cleanup);
  }
}

std::unique_ptr<FreshDb> OpenFresh(const std::string& backend, int pool) {
  auto f = std::make_unique<FreshDb>();
  if (backend == "postgres") {
    const char* base = std::getenv("TA_BENCH_PG_URL");
    if (!base) {
      std::fprintf(stderr, "set TA_BENCH_PG_URL (bench/run does)\n");
      std::exit(2);
    }
    f->pg = true;
    f->cleanup =
        "bench_" + std::to_string(getpid()) + "_" + std::to_string(std::random_device{}() % 100000);
    PGconn* c = PQconnectdb(base);
    PQclear(PQexec(c, ("CREATE SCHEMA " + f->cleanup).c_str()));
    PQfinish(c);
    f->url = std::string(base) + "?options=-csearch_path%3D" + f->cleanup;
  } else {
    char tmpl[] = "/tmp/ta-bench-XXXXXX";
    f->cleanup = mkdtemp(tmpl);
    f->url = f->cleanup + "/bench.db";
  }
  store::DatabaseOptions o;
  o.pg_pool_size = pool;
  auto db = store::OpenDatabase(f->url, o);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().ToString().c_str());
    std::exit(1);
  }
  f->db = std::move(*db);
  return f;
}

int64_t MakeTenant(store::Database& db, const std::string& name) {
  return *store::WriteResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto r = tx.Query("INSERT INTO tenants (name, created_at) VALUES ($1, 0) RETURNING id", {name});
    if (!r) return Unexpected(r.error());
    return r->front().Int(0);
  });
}

}  // namespace ta::bench
