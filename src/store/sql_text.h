#pragma once

#include <string>
#include <string_view>

namespace ta::store {

// Rewrites $N placeholders as SQLite's ?N, leaving quoted text alone.
std::string DollarToQuestion(std::string_view sql);

// The VALUES list of a multi-row INSERT: `row` (one row's tuple, with
// placeholders $1..$cols) repeated `rows` times, the r-th copy's placeholders
// shifted by r * cols, so the parameters are the rows' values one row after
// another. ValuesRows(2, "($1, 'x', $2)", 2) is "($1, 'x', $2), ($3, 'x', $4)".
std::string ValuesRows(size_t rows, std::string_view row, size_t cols);

}  // namespace ta::store
