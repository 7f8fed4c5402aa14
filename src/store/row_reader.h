#pragma once

#include <exception>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "store/database.h"

namespace ta::store {

// Reads a row's cells in the order of the SELECT list that sits next to it in
// the repository, so no caller counts column positions. Checks that every
// column was consumed (a SELECT list and its reader that drift apart fail
// loudly in tests instead of shifting every field by one).
class RowReader {
 public:
  explicit RowReader(const Row& row) : row_(row) {}
  ~RowReader() noexcept(false) {
    if (next_ != row_.size() && std::uncaught_exceptions() == 0)
      throw std::logic_error("RowReader: a SELECT list and its reader disagree");
  }
  int64_t Int() { return row_.Int(next_++); }
  std::optional<int64_t> OptInt() { return row_.OptInt(next_++); }
  std::string Text() { return row_.Text(next_++); }
  std::optional<std::string> OptText() { return row_.OptText(next_++); }

 private:
  const Row& row_;
  size_t next_ = 0;
};

// Runs a SELECT and reads each row with `read` (a function of const Row&).
template <typename Read>
auto QueryAll(Tx& tx, std::string_view sql, const Params& params, Read read)
    -> Result<std::vector<decltype(read(std::declval<const Row&>()))>> {
  auto rows = tx.Query(sql, params);
  if (!rows) return Unexpected(rows.error());
  std::vector<decltype(read(std::declval<const Row&>()))> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) out.push_back(read(row));
  return out;
}

}  // namespace ta::store
