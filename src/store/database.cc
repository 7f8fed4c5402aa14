#include "store/database.h"

#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "store/postgres_database.h"
#include "store/sqlite_database.h"

namespace ta::store {

Status Database::WriteHealth() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return write_fault_;
}

Status Database::Ping() {
  return Read([](Tx& tx) -> Status {
    auto r = tx.Query("SELECT 1");
    return r ? Status::Ok() : r.error();
  });
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
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return OpenPostgres(url, options);
  }
  std::string path = url;
  if (path.rfind("sqlite:", 0) == 0) path = path.substr(7);
  if (path.empty()) {
    return Unexpected(Status::InvalidArgument(
        "database: empty path; use a file path, sqlite:PATH or postgresql://..."));
  }
  return OpenSqlite(path, options);
}

}  // namespace ta::store
