#pragma once

// The Tx implementation shared by both backends: Conn supplies Run(sql, params,
// rows*) and Script(sql). Internal to the store layer.

#include <functional>
#include <vector>

#include "store/database.h"

namespace ta::store {

template <typename Conn, Backend kBackend>
class ConnTx final : public Tx {
 public:
  explicit ConnTx(Conn& conn) : conn_(conn) {}
  Backend backend() const override { return kBackend; }
  Result<Rows> Query(std::string_view sql, const Params& params) override {
    Rows rows;
    auto r = conn_.Run(sql, params, &rows);
    if (!r) return Unexpected(r.error());
    return rows;
  }
  Result<int64_t> Exec(std::string_view sql, const Params& params) override {
    return conn_.Run(sql, params, nullptr);
  }
  Status Defer(std::string_view sql, const Params& params) override {
    if constexpr (requires { conn_.Defer(sql, params); }) {
      return conn_.Defer(sql, params);
    } else {
      return Tx::Defer(sql, params);
    }
  }
  Status ExecScript(std::string_view sql) override { return conn_.Script(sql); }
  void AfterCommit(std::function<void()> fn) override { after_.push_back(std::move(fn)); }
  std::vector<std::function<void()>> TakeAfterCommit() { return std::move(after_); }

 private:
  Conn& conn_;
  std::vector<std::function<void()>> after_;
};

}  // namespace ta::store
