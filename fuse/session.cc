#include "session.h"
#include "hangup.h"
#include "worker_pool.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace remapfs::fuse {
namespace {

// Worker threads of the pool (worker_pool.h): enough for parallel I/O from
// a VM or loop device without unbounded growth. Each holds a receive buffer
// of max_write + 2 pages once a large request has used it.
constexpr unsigned kMaxWorkerThreads = 16;

// sd_notify is a no-op without NOTIFY_SOCKET. A daemonized mount names its
// new pid, for a unit with NotifyAccess=all.
void NotifyReady(const ServeOptions& options) {
  std::string state = fmt::format("READY=1\nSTATUS=Serving {}", options.mountpoint);
  if (!options.foreground) state += fmt::format("\nMAINPID={}", getpid());
  sd_notify(0, state.c_str());
}

// Mounted and, unless in the foreground, daemonized: serves until the end.
int ServeMounted(const ServeOptions& options, fuse_session* se, HangupWatcher* hangup) {
  if (options.on_mounted) options.on_mounted();
  hangup->Start(options.on_hangup);
  spdlog::info("mounted on {}", options.mountpoint);
  NotifyReady(options);
  // An unmount and SIGTERM/SIGINT (Ctrl-C) are clean shutdowns: the pool
  // returns 0 for them (libfuse's own loop reported the signal's number,
  // which made them exit 1).
  int ret = RunWorkerPool(se, kMaxWorkerThreads);
  sd_notify(0, "STOPPING=1\nSTATUS=Unmounting");
  if (ret != 0) spdlog::error("FUSE loop failed: {}", std::strerror(-ret));
  hangup->Stop();
  fuse_session_unmount(se);
  spdlog::info("unmounted {}", options.mountpoint);
  return ret == 0 ? 0 : 1;
}

}  // namespace

int Serve(const ServeOptions& options, RemapFs* fs) {
  std::vector<char*> argv;
  for (const std::string& arg : options.fuse_argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_lowlevel_ops& ops = RemapFs::Operations();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), fs);
  fuse_opt_free_args(&args);
  if (se == nullptr) {
    fmt::print(stderr, "remapfs mount: libfuse refused the options (see "
                       "above)\n");
    return 1;
  }
  int exit_code = 1;
  HangupWatcher hangup;
  if (fuse_set_signal_handlers(se) != 0 || !hangup.Install()) {
    fmt::print(stderr, "remapfs mount: cannot install signal handlers\n");
  } else {
    sd_notify(0, fmt::format("STATUS=Mounting on {}", options.mountpoint).c_str());
    if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
      fmt::print(stderr, "remapfs mount: cannot mount on '{}' (see above)\n", options.mountpoint);
    } else if (fuse_daemonize(options.foreground ? 1 : 0) != 0) {
      fmt::print(stderr, "remapfs mount: cannot daemonize\n");
      fuse_session_unmount(se);
    } else {
      exit_code = ServeMounted(options, se, &hangup);
    }
    hangup.Stop();
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return exit_code;
}

}  // namespace remapfs::fuse
