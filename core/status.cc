// Status: errno translation and formatting. See include/remapfs/status.h.
#include "remapfs/status.h"

#include <cstring>

namespace remapfs {

namespace {

std::string_view KindName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kNoSpace: return "no space";
    case Status::Code::kIoError: return "I/O error";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kNotFound: return "not found";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kPermission: return "permission denied";
    case Status::Code::kNotSupported: return "not supported";
  }
  return "unknown error";
}

}  // namespace

Status Status::FromErrno(int err, std::string_view context) {
  // errno 0 would make a failure that maps to "success" at the FUSE edge;
  // treat it as a plain I/O error instead.
  if (err <= 0) err = EIO;
  std::string msg(context);
  if (!msg.empty()) msg += ": ";
  msg += std::strerror(err);
  switch (err) {
    case ENOSPC: return NoSpace(std::move(msg));
    case EINVAL: return InvalidArgument(std::move(msg));
    case EBUSY:
    case EWOULDBLOCK: return Busy(std::move(msg));
    case EACCES:
    case EPERM: return Permission(std::move(msg), err);
    case ENOENT: return NotFound(std::move(msg));
    case EOPNOTSUPP: return NotSupported(std::move(msg));
    default: return IoError(std::move(msg), err);
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(KindName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok() || prefix.empty()) return *this;
  std::string msg(prefix);
  if (!message_.empty()) {
    msg += ": ";
    msg += message_;
  }
  return Status(code_, errno_, std::move(msg));
}

}  // namespace remapfs
