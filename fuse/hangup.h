// SIGHUP for a mounted daemon: the signal that tells it to reopen its log
// file (logrotate without copytruncate), never to unmount. libfuse's
// fuse_set_signal_handlers makes SIGHUP end the session; HangupWatcher
// replaces that handler and runs a callback on a thread of its own (a
// signal handler may not open files or take the logger's lock).
#pragma once

#include <signal.h>

#include <functional>
#include <thread>

namespace remapfs::fuse {

class HangupWatcher {
 public:
  HangupWatcher() = default;
  HangupWatcher(const HangupWatcher&) = delete;
  HangupWatcher& operator=(const HangupWatcher&) = delete;
  ~HangupWatcher() { Stop(); }

  // Installs the handler; from now on SIGHUP is only noted. Call after
  // fuse_set_signal_handlers. False (errno set) when no pipe can be made.
  bool Install();
  // Starts the thread that runs `on_hangup` once for each SIGHUP noted since
  // Install (several at once may run it once). After daemonizing: a thread
  // does not survive the fork.
  void Start(std::function<void()> on_hangup);
  // Ends the thread and puts back the handler that Install replaced.
  void Stop();

 private:
  int pipe_[2] = {-1, -1};
  struct sigaction previous_ {};
  std::thread thread_;
};

}  // namespace remapfs::fuse
