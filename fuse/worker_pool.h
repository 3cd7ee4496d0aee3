// The multithreaded FUSE loop: libfuse 3.14's fuse_session_loop_mt (the
// same worker policy, signals and shutdown) over receive buffers of our own.
//
// libfuse mallocs each worker's receive buffer, so a WRITE's data lands 80
// bytes past a page boundary, behind the request headers: under O_DIRECT
// every write was copied to AlignedDevice's bounce buffer first, and a READ
// needed a second buffer of its own for the data it returns. Here a worker's
// one buffer (mmapped, max_write + 2 pages) is laid out so that
//  - a WRITE's data starts on a page boundary (O_DIRECT takes it as it is);
//  - a READ's reply data is assembled in the same buffer behind the request
//    (WorkerReplyArea), page aligned as well.
// That is one buffer of about 1 MiB per worker where there were up to three
// (docs/memory.md has the figures).
//
// Threads: a worker is started when every worker is busy, up to
// `max_workers`; idle workers stay (as libfuse's default: creating threads
// under load costs more than their memory). SIGTERM, SIGINT, SIGHUP and
// SIGQUIT are blocked in workers, so fuse_set_signal_handlers' handlers run
// on the thread that called RunWorkerPool.
#pragma once

#include <cstddef>
#include <span>

#include "libfuse.h"

namespace remapfs::fuse {

// Serves `se` until it exits (unmount, a signal handler, a receive error).
// Returns 0, or the negative errno of a failed receive.
int RunWorkerPool(fuse_session* se, unsigned max_workers);

// The calling worker's scratch area for a READ reply: at least
// kMaxRequestBytes, page aligned, free while the worker serves a READ (the
// request itself lies before it) and valid until the worker's next request.
// Empty on a thread that is not a pool worker.
std::span<char> WorkerReplyArea();

}  // namespace remapfs::fuse
