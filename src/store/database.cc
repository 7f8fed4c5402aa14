#include "store/database.h"

#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "store/db_copy.h"
#include "store/postgres_database.h"
#include "store/sqlite_database.h"
#include "store/sqlite_files.h"

namespace ta::store {

Status Database::WriteHealth() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return write_fault_;
}

Status Database::Ping() {
  Status s = Read([](Tx& tx) -> Status {
    auto r = tx.Query("SELECT 1");
    return r ? Status::Ok() : r.error();
  });
  // A fault this answer disproves is cleared now: waiting for a write to
  // commit could wait forever on a node that takes no traffic while it is not
  // ready.
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(health_mu_);
    if (!write_fault_.ok() && PingDisproves(write_fault_)) write_fault_ = Status::Ok();
  }
  return s;
}

Status Database::ObserveWrite(Status s) {
  const bool fault =
      s.code() == Status::Code::kStorageFull || s.code() == Status::Code::kStorageUnavailable;
  if (fault || s.ok()) {
    std::lock_guard<std::mutex> lock(health_mu_);
    write_fault_ = fault ? s : Status::Ok();
  }
  return s;
}

int64_t Row::Int(size_t i) const { return OptInt(i).value_or(0); }

std::optional<int64_t> Row::OptInt(size_t i) const {
  const auto& c = cells_.at(i);
  if (!c) return std::nullopt;
  int64_t v = 0;
  std::from_chars(c->data(), c->data() + c->size(), v);
  return v;
}

double Row::Real(size_t i) const {
  const auto& c = cells_.at(i);
  return c ? std::strtod(c->c_str(), nullptr) : 0.0;
}

const std::string& Row::Text(size_t i) const {
  static const std::string kEmpty;
  const auto& c = cells_.at(i);
  return c ? *c : kEmpty;
}

std::string RedactedUrl(const std::string& url) {
  std::string out = url;
  const size_t scheme = out.find("://");
  const size_t at = out.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    const size_t colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    const size_t end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

std::string IdArray(Backend backend, const std::vector<int64_t>& ids) {
  std::string out(1, backend == Backend::kPostgres ? '{' : '[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  out += backend == Backend::kPostgres ? '}' : ']';
  return out;
}

std::string InIdArray(Backend backend, std::string_view column, int n) {
  const std::string p = "$" + std::to_string(n);
  if (backend == Backend::kPostgres) return std::string(column) + " = ANY(" + p + "::bigint[])";
  return std::string(column) + " IN (SELECT value FROM json_each(" + p + "))";
}

std::string TextArray(Backend, const std::vector<std::string>& values) {
  return nlohmann::json(values).dump();
}

std::string InTextArray(Backend backend, std::string_view column, int n) {
  const std::string p = "$" + std::to_string(n);
  if (backend == Backend::kPostgres)
    return std::string(column) + " IN (SELECT jsonb_array_elements_text(" + p + "::jsonb))";
  return std::string(column) + " IN (SELECT value FROM json_each(" + p + "))";
}

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url,
                                               const DatabaseOptions& options) {
  const auto path = SqlitePath(url);
  if (path && path->empty()) {
    return Unexpected(Status::InvalidArgument(
        "database: empty path; use a file path, sqlite:PATH or postgresql://..."));
  }
  auto db = path ? OpenSqlite(*path, options) : OpenPostgres(url, options);
  if (!db || options.allow_unfinished_copy) return db;
  // A schema without db_copy (not migrated yet) has no copy in progress.
  auto copy = ReadResult<std::optional<std::string>>(**db, UnfinishedCopy);
  if (copy && *copy) {
    return Unexpected(Status::FailedPrecondition(
        "database: it is the target of an unfinished `tenantatlas db migrate` from " + **copy +
        " and is incomplete; run that command again to finish the copy"));
  }
  return db;
}

}  // namespace ta::store
