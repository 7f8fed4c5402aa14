#include "core/status.h"

namespace ta {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kAlreadyExists:
      return "AlreadyExists";
    case Status::Code::kConflict:
      return "Conflict";
    case Status::Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Status::Code::kPermissionDenied:
      return "PermissionDenied";
    case Status::Code::kUnauthenticated:
      return "Unauthenticated";
    case Status::Code::kResourceExhausted:
      return "ResourceExhausted";
    case Status::Code::kUnavailable:
      return "Unavailable";
    case Status::Code::kInternal:
      return "Internal";
    case Status::Code::kStorageFull:
      return "StorageFull";
    case Status::Code::kStorageUnavailable:
      return "StorageUnavailable";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  std::string msg(prefix);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

}  // namespace ta
