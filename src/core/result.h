#pragma once

#include <tl/expected.hpp>

#include "core/status.h"

namespace ta {

// Result<T> is either a value or a non-OK Status. Return Unexpected(status) for
// the error side. tl::expected (Debian's libexpected-dev) stands in for
// std::expected, which g++ 12 does not have; the thin subclass only adds
// [[nodiscard]], so that an ignored Result does not compile.
template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Status> {
 public:
  using Base = tl::expected<T, Status>;
  using Base::Base;
  Result(const Base& b) : Base(b) {}
  Result(Base&& b) : Base(std::move(b)) {}
};

inline tl::unexpected<Status> Unexpected(Status s) { return tl::unexpected<Status>(std::move(s)); }

// Return-if-error helper. TA_RETURN_IF_ERROR(expr) returns the Status of a
// failed `expr` (a Status or any Result) from the enclosing function, which may
// return Status or any Result<U>.
namespace internal {
inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r ? Status::Ok() : r.error();
}
// Converts to whichever of Status and Result<U> the enclosing function returns.
struct ErrorReturn {
  Status status;
  operator Status() && { return std::move(status); }
  template <typename U>
  operator Result<U>() && {
    return Unexpected(std::move(status));
  }
};
}  // namespace internal

#define TA_RETURN_IF_ERROR(expr)                                                     \
  do {                                                                               \
    ::ta::Status ta_status_ = ::ta::internal::StatusOf((expr));                      \
    if (!ta_status_.ok()) return ::ta::internal::ErrorReturn{std::move(ta_status_)}; \
  } while (0)

}  // namespace ta
