// RunWorkerPool: see worker_pool.h. The policy is libfuse 3.14's
// fuse_session_loop_mt, line for line where it matters: start a worker when
// the last idle one takes a request (FORGETs do not count), never end idle
// workers, and at exit cancel every worker (they are cancellable only while
// waiting for a request) and join them.
#include "worker_pool.h"

#include <linux/fuse.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>

#include <spdlog/spdlog.h>

#include "remapfs_fs.h"
#include "request_reader.h"

namespace remapfs::fuse {
namespace {

// A WRITE's data follows these two headers (protocol 7.9 and later).
constexpr size_t kWriteHeaders = sizeof(fuse_in_header) + sizeof(fuse_write_in);
// A READ request ends where its reply area (WorkerReplyArea) begins.
static_assert(sizeof(fuse_in_header) + sizeof(fuse_read_in) <= kWriteHeaders);

thread_local std::span<char> t_reply_area;

// One worker's receive buffer, mmapped so that it costs only the pages a
// request touches and goes back to the system whole:
//
//   base              base+page                         base+page+bufsize
//    |     |-headers-|=== WRITE data, or READ reply ===...|
//          ^ request (buf.mem)
//
// A request is read with a count of exactly the room from buf.mem on
// (ReadRequest), never libfuse's own: page + max_write + the headers, which
// the kernel requires to be at least FUSE_MIN_READ_BUFFER and the headers
// plus max_write. No request can be larger (the kernel bounds each to the
// count; max_write and max_read are kMaxRequestBytes, see OpInit).
class ReceiveBuffer {
 public:
  ReceiveBuffer() = default;
  ReceiveBuffer(const ReceiveBuffer&) = delete;
  ReceiveBuffer& operator=(const ReceiveBuffer&) = delete;
  ~ReceiveBuffer() {
    if (base_ != nullptr) munmap(base_, size_);
  }

  bool Allocate() {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = page + kMaxRequestBytes + page;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    base_ = static_cast<char*>(p);
    aligned_ = base_ + page;
    buf.mem = aligned_ - kWriteHeaders;
    room_ = static_cast<size_t>(base_ + size_ - static_cast<char*>(buf.mem));
    return true;
  }
  std::span<char> Room() const { return {static_cast<char*>(buf.mem), room_}; }
  std::span<char> ReplyArea() const { return {aligned_, kMaxRequestBytes}; }

  fuse_buf buf{};  // the request: mem fixed, size set for each one

 private:
  char* base_ = nullptr;
  char* aligned_ = nullptr;
  size_t size_ = 0;
  size_t room_ = 0;
};

class Pool;

struct Worker {
  Pool* pool = nullptr;
  pthread_t thread{};
  ReceiveBuffer buffer;
};

bool IsForget(const fuse_buf& buf) {
  if ((buf.flags & FUSE_BUF_IS_FD) != 0) return false;
  const auto* in = static_cast<const fuse_in_header*>(buf.mem);
  return in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET;
}

class Pool {
 public:
  Pool(fuse_session* se, unsigned max_workers) : se_(se), max_workers_(max_workers) {
    sem_init(&finished_, 0, 0);
  }
  ~Pool() { sem_destroy(&finished_); }

  int Run() {
    {
      std::lock_guard lock(mu_);
      if (!StartWorker()) return -ENOMEM;
    }
    // A signal handler ends the session and interrupts the wait (no
    // SA_RESTART); the timeout covers a signal that lands just before it.
    while (!fuse_session_exited(se_)) {
      timespec deadline{};
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_sec += 1;
      sem_timedwait(&finished_, &deadline);
    }
    {
      std::lock_guard lock(mu_);
      for (Worker& w : workers_) pthread_cancel(w.thread);
      exiting_ = true;
    }
    for (Worker& w : workers_) pthread_join(w.thread, nullptr);
    fuse_session_reset(se_);
    return error_;
  }

 private:
  static void* WorkerMain(void* arg) {
    auto* worker = static_cast<Worker*>(arg);
    worker->pool->Work(worker);
    return nullptr;
  }

  void Work(Worker* w) {
    t_reply_area = w->buffer.ReplyArea();
    fuse_buf& buf = w->buffer.buf;
    while (!fuse_session_exited(se_)) {
      pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);
      ssize_t res = ReadRequest(fuse_session_fd(se_), w->buffer.Room());
      pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
      // As libfuse: a request read after the session ended is dropped (the
      // kernel fails it when the device closes; nothing was acknowledged).
      if (fuse_session_exited(se_)) break;
      if (res < 0 && ClassifyReceiveError(res) == ReceiveError::kRetry) continue;
      if (res < 0) {
        std::lock_guard lock(mu_);
        if (ClassifyReceiveError(res) == ReceiveError::kFailed) error_ = static_cast<int>(res);
        fuse_session_exit(se_);
        break;
      }
      buf.size = static_cast<size_t>(res);
      buf.flags = static_cast<fuse_buf_flags>(0);
      const bool forget = IsForget(buf);
      {
        std::lock_guard lock(mu_);
        if (exiting_) return;
        if (!forget) --available_;
        if (available_ == 0 && workers_.size() < max_workers_) StartWorker();
      }
      fuse_session_process_buf(se_, &buf);
      std::lock_guard lock(mu_);
      if (!forget) ++available_;
    }
    sem_post(&finished_);
  }

  // With mu_ held. Workers never take the signals that end the session.
  bool StartWorker() {
    Worker& w = workers_.emplace_back();
    w.pool = this;
    if (!w.buffer.Allocate()) {
      spdlog::error("FUSE worker: no memory for a receive buffer");
      workers_.pop_back();
      return false;
    }
    sigset_t blocked, old;
    sigemptyset(&blocked);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&blocked, sig);
    pthread_sigmask(SIG_BLOCK, &blocked, &old);
    int err = pthread_create(&w.thread, nullptr, &Pool::WorkerMain, &w);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (err != 0) {
      spdlog::error("FUSE worker: cannot start a thread: {}", std::strerror(err));
      workers_.pop_back();
      return false;
    }
    ++available_;
    return true;
  }

  fuse_session* const se_;
  const unsigned max_workers_;
  sem_t finished_;             // posted by a worker whose loop ended
  std::mutex mu_;              // guards everything below
  std::list<Worker> workers_;  // a list: a Worker never moves
  unsigned available_ = 0;     // workers waiting for a request
  bool exiting_ = false;
  int error_ = 0;
};

}  // namespace

int RunWorkerPool(fuse_session* se, unsigned max_workers) {
  Pool pool(se, max_workers);
  return pool.Run();
}

std::span<char> WorkerReplyArea() { return t_reply_area; }

}  // namespace remapfs::fuse
