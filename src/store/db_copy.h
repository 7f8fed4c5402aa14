#pragma once

// Moves a SQLite installation into an empty PostgreSQL database
// (`tenantatlas db migrate`): every table, row for row (sealed secrets stay
// sealed under the same master key; audit rows keep their hashes), then the
// identity sequences, then a verification (row counts per table, audit chain
// heads equal to the source's, the chain re-walked on the target).
//
// Resumable: each batch of rows commits with its table's cursor in
// db_copy_tables, so a killed copy continues where it stopped. Until the copy
// is verified, db_copy.finished_at is NULL and OpenDatabase refuses the
// target to every process but the copy.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace ta::store {

struct CopyTable {
  std::string name;
  int64_t source_rows = 0, target_rows = 0;
};
struct CopyReport {
  bool resumed = false;
  std::vector<CopyTable> tables;  // in copy order
  int64_t audit_entries = 0, audit_chains = 0;
  int64_t rows() const;
};
struct CopyOptions {
  int64_t batch_rows = 500;
  // Called after each committed batch: table, rows of it copied, its total.
  std::function<void(const std::string&, int64_t, int64_t)> progress;
};

// `source` is the SQLite file (no process may have it open); `target` an
// opened PostgreSQL database (opened with allow_unfinished_copy). Refuses a
// target that holds any row and is not an unfinished copy of this source.
Result<CopyReport> CopySqliteInto(const std::string& source, Database& target,
                                  const CopyOptions& options = {});

// What an installation holds, for the db tools' summaries.
struct DatabaseContents {
  int64_t tenants = 0, runs = 0, versions = 0, audit_entries = 0;
};
Result<DatabaseContents> CountContents(Tx& tx);

// The source of an unfinished copy into `db`, if one is in progress
// (OpenDatabase refuses such a database).
Result<std::optional<std::string>> UnfinishedCopy(Tx& tx);

}  // namespace ta::store
