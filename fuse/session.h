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
  // Run once in the daemon, right after daemonizing pointed stderr at
  // /dev/null (never in the foreground): the caller moves its logging.
  std::function<void()> after_daemonize;
  // Run once the mount is up, in the process that serves it (after
  // daemonizing, if it does): threads started here survive (fork does not
  // keep threads), and the pid is the daemon's.
  std::function<void()> after_mount;
};

// Mounts `fs` and serves requests until unmounted or signalled. Returns the
// exit code: 0 after a clean unmount, 1 when the mount could not be set up
// (reported on stderr before daemonizing) or the loop failed.
int Serve(const ServeOptions& options, RemapFs* fs);

}  // namespace remapfs::fuse
