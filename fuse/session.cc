#include "session.h"
#include "worker_pool.h"

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
  if (fuse_set_signal_handlers(se) != 0) {
    fmt::print(stderr, "remapfs mount: cannot install signal handlers\n");
  } else {
    if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
      fmt::print(stderr, "remapfs mount: cannot mount on '{}' (see above)\n", options.mountpoint);
    } else if (fuse_daemonize(options.foreground ? 1 : 0) != 0) {
      fmt::print(stderr, "remapfs mount: cannot daemonize\n");
      fuse_session_unmount(se);
    } else {
      if (!options.foreground && options.after_daemonize) {
        options.after_daemonize();
      }
      if (options.after_mount) options.after_mount();
      spdlog::info("mounted on {}", options.mountpoint);
      // An unmount and SIGTERM/SIGINT/SIGHUP (Ctrl-C) are clean shutdowns:
      // the pool returns 0 for them (libfuse's own loop reported the
      // signal's number, which made them exit 1).
      int ret = RunWorkerPool(se, kMaxWorkerThreads);
      if (ret != 0) spdlog::error("FUSE loop failed: {}", std::strerror(-ret));
      exit_code = ret == 0 ? 0 : 1;
      fuse_session_unmount(se);
      spdlog::info("unmounted {}", options.mountpoint);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return exit_code;
}

}  // namespace remapfs::fuse
