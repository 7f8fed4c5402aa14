#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace ta {

// The outcome of an operation that can fail in an expected way. Modelled on
// leveldb::Status: cheap to return, carries a code and a human-readable message.
// Messages must already be safe to show (run through the Redactor where they may
// contain upstream text). [[nodiscard]]: a dropped Status is how a backup once
// reported success with items missing, so ignoring one does not compile.
class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input; the message names the field and the fix
    kNotFound,
    kAlreadyExists,
    kConflict,            // state does not allow the operation (e.g. terminal run)
    kFailedPrecondition,  // not set up for this yet (e.g. no credentials)
    kPermissionDenied,
    kUnauthenticated,
    kResourceExhausted,  // throttled or over a limit
    kUnavailable,        // transient upstream failure; retryable
    kInternal,
    // The database, by kind of fault. Both are transient and retryable; their
    // messages carry backend detail (host, port, driver text) for the log only.
    kStorageFull,         // out of disk space: nothing was written
    kStorageUnavailable,  // unreachable, or the connection was lost
  };

  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status Unauthenticated(std::string msg) {
    return {Code::kUnauthenticated, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {Code::kResourceExhausted, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status StorageFull(std::string msg) { return {Code::kStorageFull, std::move(msg)}; }
  static Status StorageUnavailable(std::string msg) {
    return {Code::kStorageUnavailable, std::move(msg)};
  }

  // Worth retrying as it is: upstream or database faults that pass.
  bool transient() const {
    return code_ == Code::kUnavailable || code_ == Code::kStorageFull ||
           code_ == Code::kStorageUnavailable;
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: context.name: ..." — for logs and CLI output.
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>", keeping the code.
  Status WithContext(std::string_view prefix) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

}  // namespace ta
