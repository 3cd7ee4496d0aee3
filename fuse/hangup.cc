#include "hangup.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace remapfs::fuse {
namespace {

// The handler's only state: the write end of the current watcher's pipe.
std::atomic<int> g_hangup_fd{-1};

constexpr char kHangup = 'H';
constexpr char kStop = 'S';

void OnHangup(int) {
  const int saved = errno;
  int fd = g_hangup_fd.load();
  if (fd >= 0) {
    // A full pipe already holds a pending hangup: dropping this one is fine.
    [[maybe_unused]] ssize_t n = write(fd, &kHangup, 1);
  }
  errno = saved;
}

}  // namespace

bool HangupWatcher::Install() {
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  g_hangup_fd.store(pipe_[1]);
  struct sigaction sa {};
  sa.sa_handler = OnHangup;
  sigemptyset(&sa.sa_mask);
  // Not SA_RESTART, as libfuse's own handlers: the waits it interrupts
  // loop on their own conditions.
  sigaction(SIGHUP, &sa, &previous_);
  return true;
}

void HangupWatcher::Start(std::function<void()> on_hangup) {
  if (pipe_[0] < 0 || thread_.joinable()) return;
  thread_ = std::thread([fd = pipe_[0], on_hangup = std::move(on_hangup)] {
    for (;;) {
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return;
      char bytes[64];
      ssize_t n = read(fd, bytes, sizeof(bytes));
      bool hangup = false;
      for (ssize_t i = 0; i < n; ++i) {
        if (bytes[i] == kStop) return;
        hangup = true;
      }
      if (hangup && on_hangup) on_hangup();
    }
  });
}

void HangupWatcher::Stop() {
  if (pipe_[1] < 0) return;
  sigaction(SIGHUP, &previous_, nullptr);
  g_hangup_fd.store(-1);
  if (thread_.joinable()) {
    // Blocking for this one byte: the pipe may be full of hangups.
    int flags = fcntl(pipe_[1], F_GETFL);
    fcntl(pipe_[1], F_SETFL, flags & ~O_NONBLOCK);
    [[maybe_unused]] ssize_t n = write(pipe_[1], &kStop, 1);
    thread_.join();
  }
  close(pipe_[0]);
  close(pipe_[1]);
  pipe_[0] = pipe_[1] = -1;
}

}  // namespace remapfs::fuse
