// The single translation point between the core's Status and FUSE's -errno.
//
// Every FUSE callback body runs through RunFuseCallback: the body replies to
// the request itself on success and returns 0, or returns a negative errno
// and lets the wrapper reply. An exception escaping the body is logged and
// answered with ENOMEM (std::bad_alloc) or EIO, so no request is ever left
// unanswered and no exception ever crosses into libfuse's C code. Bodies
// must reply last, after anything that can throw, so a request is never
// answered twice, and must touch no per-open state after replying: once
// the kernel has the reply, the file may be closed and its handle freed by
// a RELEASE running on another worker thread.
#pragma once

#include <cerrno>
#include <exception>
#include <new>
#include <string_view>

#include <spdlog/spdlog.h>

#include "libfuse.h"
#include "remapfs/status.h"

namespace remapfs::fuse {

// 0 for ok, else -errno. Failures are logged: device and metadata failures
// as errors (they mean data is at risk), user mistakes at debug level.
inline int ToFuseErrno(const Status& st, std::string_view op = "fuse request") {
  if (st.ok()) return 0;
  if (st.IsIoError() || st.IsCorruption()) {
    spdlog::error("{}: {}", op, st.ToString());
  } else {
    spdlog::debug("{}: {}", op, st.ToString());
  }
  // A failure without an errno would read as success to the kernel.
  return st.errno_value() > 0 ? -st.errno_value() : -EIO;
}

template <typename Body>
void RunFuseCallback(fuse_req_t req, std::string_view op, Body&& body) {
  int result;
  try {
    result = body();
  } catch (const std::bad_alloc&) {
    spdlog::error("{}: out of memory", op);
    result = -ENOMEM;
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected exception: {}", op, e.what());
    result = -EIO;
  } catch (...) {
    spdlog::error("{}: unexpected non-standard exception", op);
    result = -EIO;
  }
  if (result < 0) fuse_reply_err(req, -result);
}

}  // namespace remapfs::fuse
