// Status: the one error value the core returns.
//
// Modelled on LevelDB's Status. An ok Status carries no message and costs no
// allocation, so it is safe on the per-request I/O path. Every failure keeps
// the errno that best describes it; the FUSE adapter turns a Status into
// -errno in exactly one place (fuse/fuse_callback.h).
//
// Thread safety: a Status is a plain value; distinct objects may be used from
// distinct threads freely.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

namespace remapfs {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,  // bad input from a user: EINVAL
    kNoSpace,          // spare exhausted, write past end: ENOSPC
    kIoError,          // a device failed; errno() says how (EIO usually)
    kCorruption,       // metadata failed validation: EIO
    kNotFound,         // ENOENT
    kBusy,             // exclusive lock held elsewhere: EBUSY
    kPermission,       // EACCES or EPERM
    kNotSupported,     // EOPNOTSUPP
  };

  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, EINVAL, std::move(msg));
  }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, ENOSPC, std::move(msg)); }
  static Status IoError(std::string msg, int err = EIO) {
    return Status(Code::kIoError, err, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(Code::kCorruption, EIO, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(Code::kNotFound, ENOENT, std::move(msg));
  }
  static Status Busy(std::string msg) { return Status(Code::kBusy, EBUSY, std::move(msg)); }
  static Status Permission(std::string msg, int err = EACCES) {
    return Status(Code::kPermission, err, std::move(msg));
  }
  static Status NotSupported(std::string msg) {
    return Status(Code::kNotSupported, EOPNOTSUPP, std::move(msg));
  }

  // The single errno -> Status helper. `context` names the operation and
  // object ("read /dev/sdb at 4096"); strerror(err) is appended.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // 0 when ok; otherwise a positive errno suitable for returning as -errno.
  int errno_value() const { return errno_; }
  const std::string& message() const { return message_; }
  // "ok" or "<kind>: <message>", for logs and the status `last_error` line.
  std::string ToString() const;

  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsIoError() const { return code_ == Code::kIoError; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }

  // Returns a copy whose message is "<prefix>: <message>".
  Status WithContext(std::string_view prefix) const;

 private:
  Status(Code code, int err, std::string msg)
      : code_(code), errno_(err), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

}  // namespace remapfs

// Propagates a non-ok Status to the caller.
#define REMAPFS_RETURN_IF_ERROR(expr) \
  do {                                \
    ::remapfs::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)
