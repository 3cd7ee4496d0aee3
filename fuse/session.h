// The libfuse session lifecycle, as passthrough_hp.cc does it: new, signal
// handlers, mount, daemonize, multithreaded loop (our worker pool,
// worker_pool.h), unmount, destroy.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "remapfs_fs.h"

namespace remapfs::fuse {

struct ServeOptions {
  std::vector<std::string> fuse_argv;  // argv[0] and -o options for libfuse
  std::string mountpoint;
  bool foreground = false;
  // Run once the mount exists: in the daemon right after daemonizing
  // pointed stderr at /dev/null, or in the foreground: the caller moves its
  // logging to the mount's log.
  std::function<void()> on_mounted;
  // Run on a thread of its own for each SIGHUP while serving (reopen the
  // log file). SIGHUP never ends the session.
  std::function<void()> on_hangup;
};

// Mounts `fs` and serves requests until unmounted or signalled (SIGTERM,
// SIGINT). Returns the exit code: 0 after a clean unmount, 1 when the mount
// could not be set up (reported on stderr before daemonizing) or the loop
// failed. Under systemd (NOTIFY_SOCKET set) it sends READY=1 once the mount
// exists (from the daemon when daemonizing), STATUS= lines and STOPPING=1.
int Serve(const ServeOptions& options, RemapFs* fs);

}  // namespace remapfs::fuse
