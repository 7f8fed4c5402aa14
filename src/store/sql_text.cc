#include "store/sql_text.h"

namespace ta::store {

std::string ValuesRows(size_t rows, std::string_view row, size_t cols) {
  std::string out;
  for (size_t r = 0; r < rows; ++r) {
    if (r) out += ", ";
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i] != '$' || i + 1 == row.size() || row[i + 1] < '0' || row[i + 1] > '9') {
        out += row[i];
        continue;
      }
      size_t n = 0;
      while (i + 1 < row.size() && row[i + 1] >= '0' && row[i + 1] <= '9')
        n = n * 10 + static_cast<size_t>(row[++i] - '0');
      out += '$' + std::to_string(n + r * cols);
    }
  }
  return out;
}

std::string DollarToQuestion(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace ta::store
