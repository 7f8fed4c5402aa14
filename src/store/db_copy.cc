#include "store/db_copy.h"

#include <chrono>
#include <limits>
#include <map>
#include <set>

#include "store/audit_log.h"
#include "store/migrations.h"
#include "store/sqlite_database.h"
#include "store/sqlite_files.h"

namespace ta::store {
namespace {

// Tables that describe a database rather than belong to the installation.
const std::set<std::string, std::less<>> kNotCopied = {"schema_migrations", "db_copy",
                                                       "db_copy_tables"};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<Rows> Query(Database& db, const std::string& sql, const Params& params = {}) {
  return ReadResult<Rows>(db, [&](Tx& tx) { return tx.Query(sql, params); });
}

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

struct SourceTable {
  std::string name;
  std::vector<std::string> columns;
  std::set<std::string> parents;  // tables its foreign keys reference
  int64_t rows = 0;
};

// The source's tables, parents before children (foreign keys hold on every
// batch), with their columns and row counts.
Result<std::vector<SourceTable>> SourceTables(Database& source) {
  auto names = Query(source,
                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%' ORDER BY name");
  if (!names) return Unexpected(names.error());
  std::map<std::string, SourceTable> tables;
  for (const auto& row : *names) {
    if (kNotCopied.count(row.Text(0))) continue;
    SourceTable t;
    t.name = row.Text(0);
    auto cols = Query(source, "SELECT name FROM pragma_table_info($1) ORDER BY cid", {t.name});
    auto fks =
        Query(source, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)", {t.name});
    auto count = Query(source, "SELECT COUNT(*) FROM " + Quoted(t.name));
    if (!cols || !fks || !count) return Unexpected(Status::Internal("reading table " + t.name));
    for (const auto& c : *cols) t.columns.push_back(c.Text(0));
    for (const auto& f : *fks) {
      if (f.Text(0) != t.name) t.parents.insert(f.Text(0));
    }
    t.rows = count->front().Int(0);
    tables.emplace(t.name, std::move(t));
  }
  std::vector<SourceTable> ordered;
  std::set<std::string> placed;
  while (ordered.size() < tables.size()) {
    const size_t before = ordered.size();
    for (auto& [name, t] : tables) {
      if (placed.count(name)) continue;
      bool ready = true;
      for (const auto& p : t.parents) ready &= placed.count(p) > 0 || !tables.count(p);
      if (ready) {
        placed.insert(name);
        ordered.push_back(t);
      }
    }
    if (ordered.size() == before) {
      return Unexpected(Status::Internal("the source's foreign keys form a cycle"));
    }
  }
  return ordered;
}

// Refuses a target that holds rows and is not an unfinished copy of `source`;
// records the copy (and each table's row count) when it starts. Returns true
// when resuming.
Result<bool> BeginOrResume(Database& target, const std::string& source,
                           const std::vector<SourceTable>& tables) {
  return WriteResult<bool>(target, [&](Tx& tx) -> Result<bool> {
    auto copy = tx.Query("SELECT source, finished_at FROM db_copy WHERE id = 1");
    if (!copy) return Unexpected(copy.error());
    if (!copy->empty()) {
      const Row& row = copy->front();
      if (!row.IsNull(1)) {
        return Unexpected(Status::AlreadyExists("to: the target already holds a finished copy of " +
                                                row.Text(0) + "; copy into a new, empty database"));
      }
      if (row.Text(0) != source) {
        return Unexpected(Status::FailedPrecondition(
            "to: the target holds an unfinished copy of " + row.Text(0) + ", not of " + source +
            "; finish that one, or copy into a new, empty database"));
      }
      return true;
    }
    for (const auto& t : tables) {
      auto any = tx.Query("SELECT 1 FROM " + Quoted(t.name) + " LIMIT 1");
      if (!any) {
        return Unexpected(Status::FailedPrecondition("to: the target has no table " + t.name +
                                                     " (" + any.error().message() + ")"));
      }
      if (!any->empty()) {
        return Unexpected(
            Status::AlreadyExists("to: the target is not empty (table " + t.name +
                                  " has rows); db migrate copies only into a new, empty database"));
      }
    }
    auto mark = tx.Exec("INSERT INTO db_copy (id, source, started_at) VALUES (1, $1, $2)",
                        {source, NowMs()});
    if (!mark) return Unexpected(mark.error());
    for (size_t i = 0; i < tables.size(); ++i) {
      auto row = tx.Exec(
          "INSERT INTO db_copy_tables (table_name, position, source_rows, last_rowid) VALUES ($1, "
          "$2, $3, $4)",
          {tables[i].name, static_cast<int64_t>(i), tables[i].rows,
           std::numeric_limits<int64_t>::min()});  // rowids may be 0 (tenant 0's audit head)
      if (!row) return Unexpected(row.error());
    }
    return false;
  });
}

// Copies the rows of `t` after the committed cursor, a batch per transaction.
Status CopyTableRows(Database& source, Database& target, const SourceTable& t,
                     const CopyOptions& options) {
  auto cursor = Query(target,
                      "SELECT last_rowid, rows_copied, done FROM db_copy_tables WHERE table_name "
                      "= $1",
                      {t.name});
  if (!cursor) return cursor.error();
  if (cursor->empty()) return Status::Internal("no cursor for table " + t.name);
  int64_t last = cursor->front().Int(0), copied = cursor->front().Int(1);
  if (cursor->front().Int(2)) return Status::Ok();
  std::string columns;
  for (const auto& c : t.columns) columns += (columns.empty() ? "" : ", ") + Quoted(c);
  const std::string select = "SELECT rowid, " + columns + " FROM " + Quoted(t.name) +
                             " WHERE rowid > $1 ORDER BY rowid LIMIT $2";
  const size_t width = t.columns.size();
  while (true) {
    auto rows = Query(source, select, {last, options.batch_rows});
    if (!rows) return rows.error();
    const bool last_batch = static_cast<int64_t>(rows->size()) < options.batch_rows;
    std::string insert = "INSERT INTO " + Quoted(t.name) + " (" + columns + ") VALUES ";
    Params params;
    params.reserve(rows->size() * width);
    for (size_t r = 0; r < rows->size(); ++r) {
      insert += r ? ", (" : "(";
      for (size_t c = 0; c < width; ++c) {
        insert += (c ? ", $" : "$") + std::to_string(params.size() + 1);
        const auto cell = (*rows)[r].OptText(c + 1);
        params.push_back(cell ? Param(*cell) : Param(nullptr));
      }
      insert += ")";
    }
    const int64_t next = rows->empty() ? last : rows->back().Int(0);
    const int64_t n = static_cast<int64_t>(rows->size());
    Status s = target.Write([&](Tx& tx) -> Status {
      if (n > 0) {
        auto ins = tx.Exec(insert, params);
        if (!ins) return ins.error().WithContext("copying " + t.name);
      }
      // The cursor moves only if it is where this batch started: two copies
      // of one source at once cannot both commit the same batch.
      auto moved = tx.Exec(
          "UPDATE db_copy_tables SET last_rowid = $1, rows_copied = rows_copied + $2, done = $3 "
          "WHERE table_name = $4 AND last_rowid = $5 AND done = 0",
          {next, n, int64_t{last_batch ? 1 : 0}, t.name, last});
      if (!moved) return moved.error();
      if (*moved != 1) {
        return Status::Conflict("another db migrate is copying " + t.name + " into the target");
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    last = next;
    copied += n;
    if (options.progress) options.progress(t.name, copied, t.rows);
    if (last_batch) return Status::Ok();
  }
}

// Sets each identity sequence past the largest id the source ever gave out
// (sqlite_sequence remembers ids of deleted rows too): no id is reused.
Status AdvanceSequences(Database& source, Database& target,
                        const std::vector<SourceTable>& tables) {
  std::map<std::string, int64_t> given;
  if (auto seq = Query(source, "SELECT name, seq FROM sqlite_sequence"); seq) {
    for (const auto& r : *seq) given[r.Text(0)] = r.Int(1);
  }
  return target.Write([&](Tx& tx) -> Status {
    for (const auto& t : tables) {
      bool has_id = false;
      for (const auto& c : t.columns) has_id |= c == "id";
      if (!has_id) continue;
      auto max = tx.Query("SELECT COALESCE(MAX(id), 0) FROM " + Quoted(t.name));
      if (!max) return max.error();
      const int64_t top = std::max(max->front().Int(0), given[t.name]);
      auto set = tx.Query(
          "SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3) WHERE "
          "pg_get_serial_sequence($1, 'id') IS NOT NULL",
          {t.name, std::max<int64_t>(top, 1),
           top > 0 ? std::string("true") : std::string("false")});
      if (!set) return set.error().WithContext("sequence of " + t.name);
    }
    return Status::Ok();
  });
}

Result<Rows> Heads(Database& db) {
  return Query(db, "SELECT tenant_id, seq, hash FROM audit_heads ORDER BY tenant_id");
}

}  // namespace

int64_t CopyReport::rows() const {
  int64_t n = 0;
  for (const auto& t : tables) n += t.target_rows;
  return n;
}

Result<DatabaseContents> CountContents(Tx& tx) {
  auto r = tx.Query(
      "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM "
      "policy_versions), (SELECT COUNT(*) FROM audit_log)");
  if (!r) return Unexpected(r.error());
  const Row& row = r->front();
  return DatabaseContents{row.Int(0), row.Int(1), row.Int(2), row.Int(3)};
}

Result<std::optional<std::string>> UnfinishedCopy(Tx& tx) {
  auto r = tx.Query("SELECT source FROM db_copy WHERE finished_at IS NULL");
  if (!r) return Unexpected(r.error());
  if (r->empty()) return std::optional<std::string>();
  return std::optional<std::string>(r->front().Text(0));
}

Result<CopyReport> CopySqliteInto(const std::string& source_path, Database& target,
                                  const CopyOptions& options) {
  if (target.backend() != Backend::kPostgres) {
    return Unexpected(Status::InvalidArgument("to: must be a postgresql:// URL"));
  }
  if (auto pid = SqliteOpenedBy(source_path)) {
    return Unexpected(Status::FailedPrecondition(
        "from: " + source_path + " is open in process " + std::to_string(*pid) +
        "; stop every serve and worker using it first (a copy of a changing database would "
        "miss what changes)"));
  }
  auto check = CheckSqliteFile(source_path);
  if (!check) return Unexpected(check.error().WithContext("from"));
  DatabaseOptions read_only;
  read_only.run_migrations = false;
  auto source = OpenSqlite(source_path, read_only);
  if (!source) return Unexpected(source.error());
  auto applied = AppliedMigrations(**source);
  const auto& known = Migrations(Backend::kSqlite);
  if (!applied || applied->size() != known.size()) {
    return Unexpected(Status::FailedPrecondition(
        "from: " + source_path + " is at schema version " +
        std::to_string(applied && !applied->empty() ? applied->back() : 0) + ", this binary's is " +
        std::to_string(known.back().version) +
        "; run `tenantatlas migrate --db sqlite:" + source_path + "` first"));
  }
  auto tables = SourceTables(**source);
  if (!tables) return Unexpected(tables.error());
  CopyReport report;
  auto resumed = BeginOrResume(target, source_path, *tables);
  if (!resumed) return Unexpected(resumed.error());
  report.resumed = *resumed;
  if (report.resumed) {
    // The counts recorded when the copy began must still be the source's.
    auto recorded = Query(target, "SELECT table_name, source_rows FROM db_copy_tables");
    if (!recorded) return Unexpected(recorded.error());
    std::map<std::string, int64_t> was;
    for (const auto& r : *recorded) was[r.Text(0)] = r.Int(1);
    for (const auto& t : *tables) {
      if (!was.count(t.name) || was[t.name] != t.rows) {
        return Unexpected(Status::FailedPrecondition(
            "from: " + source_path + " changed since the copy began (table " + t.name + ": " +
            std::to_string(was[t.name]) + " rows then, " + std::to_string(t.rows) +
            " now); copy into a new, empty database"));
      }
    }
  }
  for (const auto& t : *tables) {
    if (Status s = CopyTableRows(**source, target, t, options); !s.ok()) return Unexpected(s);
  }
  if (Status s = AdvanceSequences(**source, target, *tables); !s.ok()) return Unexpected(s);

  // Verify before declaring the copy finished.
  std::string mismatches;
  for (const auto& t : *tables) {
    auto n = Query(target, "SELECT COUNT(*) FROM " + Quoted(t.name));
    if (!n) return Unexpected(n.error());
    report.tables.push_back({t.name, t.rows, n->front().Int(0)});
    if (t.rows != n->front().Int(0)) {
      mismatches += " " + t.name + " (" + std::to_string(t.rows) + " in the source, " +
                    std::to_string(n->front().Int(0)) + " copied)";
    }
  }
  if (!mismatches.empty()) {
    return Unexpected(Status::Internal("row counts differ:" + mismatches));
  }
  auto source_heads = Heads(**source);
  auto target_heads = Heads(target);
  if (!source_heads || !target_heads) return Unexpected(Status::Internal("reading audit heads"));
  bool same = source_heads->size() == target_heads->size();
  for (size_t i = 0; same && i < source_heads->size(); ++i) {
    for (size_t c = 0; c < 3; ++c) same &= (*source_heads)[i].Text(c) == (*target_heads)[i].Text(c);
  }
  if (!same) return Unexpected(Status::Internal("the audit chain heads differ from the source's"));
  auto problems = AuditLog::Verify(target);
  if (!problems) return Unexpected(problems.error());
  if (!problems->empty()) {
    return Unexpected(Status::Internal("the copied audit chain does not verify: tenant " +
                                       std::to_string(problems->front().tenant_id) + " seq " +
                                       std::to_string(problems->front().seq) + ": " +
                                       problems->front().problem));
  }
  auto size = ReadResult<AuditLog::Size>(target, [](Tx& tx) { return AuditLog::Count(tx); });
  if (!size) return Unexpected(size.error());
  report.audit_entries = size->entries;
  report.audit_chains = size->chains;
  Status done = target.Write([&](Tx& tx) -> Status {
    auto r = tx.Exec("UPDATE db_copy SET finished_at = $1 WHERE id = 1", {NowMs()});
    return r ? Status::Ok() : r.error();
  });
  if (!done.ok()) return Unexpected(done);
  return report;
}

}  // namespace ta::store
