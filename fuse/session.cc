#include "session.h"

#include <csignal>
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace remapfs::fuse {
namespace {

// Worker threads of the multithreaded loop: enough for parallel I/O from a
// VM or loop device without unbounded growth.
constexpr unsigned kMaxWorkerThreads = 16;

int RunLoop(fuse_session* se) {
  fuse_loop_config* config = fuse_loop_cfg_create();
  if (config == nullptr) return -ENOMEM;
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_max_threads(config, kMaxWorkerThreads);
  int ret = fuse_session_loop_mt(se, config);
  fuse_loop_cfg_destroy(config);
  return ret;
}

// A loop ended by SIGINT/SIGTERM/SIGHUP (fusermount3 -u, Ctrl-C) is a clean
// shutdown, whatever libfuse reports for it.
bool IsCleanExit(int ret) {
  return ret == 0 || ret == -SIGINT || ret == -SIGTERM || ret == -SIGHUP;
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
      spdlog::info("mounted on {}", options.mountpoint);
      int ret = RunLoop(se);
      if (!IsCleanExit(ret)) spdlog::error("FUSE loop failed: {}", ret);
      exit_code = IsCleanExit(ret) ? 0 : 1;
      fuse_session_unmount(se);
      spdlog::info("unmounted {}", options.mountpoint);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return exit_code;
}

}  // namespace remapfs::fuse
