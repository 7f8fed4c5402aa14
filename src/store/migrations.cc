#include "store/migrations.h"

#include <algorithm>

#include "core/clock.h"

namespace ta::store {

// Defined in the generated migrations_embedded.cc.
extern const std::vector<Migration> kSqliteMigrations;
extern const std::vector<Migration> kPostgresMigrations;

namespace {
constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL)";
}

const std::vector<Migration>& Migrations(Backend backend) {
  return backend == Backend::kPostgres ? kPostgresMigrations : kSqliteMigrations;
}

Status Migrate(Database& db) {
  return db.Write([&](Tx& tx) -> Status {
    if (tx.backend() == Backend::kPostgres) {
      // Serialises concurrent starts; released at commit.
      if (auto r = tx.Exec("SELECT pg_advisory_xact_lock(7301049)"); !r) return r.error();
    }
    if (Status s = tx.ExecScript(kCreateTable); !s.ok()) return s;
    auto applied = tx.Query("SELECT version FROM schema_migrations");
    if (!applied) return applied.error();
    std::vector<int64_t> done;
    for (const auto& row : *applied) done.push_back(row.Int(0));
    for (const Migration& m : Migrations(tx.backend())) {
      if (std::find(done.begin(), done.end(), m.version) != done.end()) continue;
      if (Status s = tx.ExecScript(m.sql); !s.ok()) {
        return s.WithContext("migration " + std::to_string(m.version) + " " + std::string(m.name));
      }
      auto ins = tx.Exec(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
          {int64_t{m.version}, std::string(m.name), ToUnixMillis(SystemClock::Instance().Now())});
      if (!ins) return ins.error();
    }
    return Status::Ok();
  });
}

Result<std::vector<int>> AppliedMigrations(Database& db) {
  return ReadResult<std::vector<int>>(db, [](Tx& tx) -> Result<std::vector<int>> {
    auto rows = tx.Query("SELECT version FROM schema_migrations ORDER BY version");
    if (!rows) return Unexpected(rows.error());
    std::vector<int> out;
    for (const auto& r : *rows) out.push_back(static_cast<int>(r.Int(0)));
    return out;
  });
}

}  // namespace ta::store
