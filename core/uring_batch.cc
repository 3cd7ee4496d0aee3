// The per-thread io_uring of uring_batch.h.
//
// The one rule that keeps memory safe: RunOnThreadRing never returns while
// an op it submitted may still be in flight (the kernel would write into a
// buffer, or read an iovec, its caller has let go). So every wait retries
// until each submitted op has completed; and after a submission error that
// is neither a signal nor a shortage, the ring is never entered again (its
// unsubmitted entries, which point at the caller's stack, can then never
// run) and the ops it did not take come back as -ECANCELED.
#include "uring_batch.h"

#include <liburing.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace remapfs {
namespace {

std::atomic<bool> g_unavailable{false};
// Rings closed so far. liburing maps and unmaps a ring with raw system
// calls, so ThreadSanitizer cannot see that a new ring mapped where an
// ended thread's ring was is new memory: closing a ring releases this and
// making one acquires it, which orders the two for it as the kernel does.
std::atomic<uint64_t> g_rings_closed{0};
// Bumped in a forked child: a ring made before the fork belongs to the parent.
std::atomic<uint64_t> g_fork_generation{0};
std::once_flag g_atfork_once;

std::atomic<bool> g_short_noted{false};

// A refusal by policy or by the kernel (seccomp, kernel.io_uring_disabled,
// no io_uring at all) holds for the whole process: no thread asks again. A
// shortage (ENOMEM, EMFILE, ENFILE, EAGAIN) passes: this call does its I/O
// itself and a later one tries again, so a moment without a file
// descriptor does not cost the process its rings for good.
void NoteSetupFailure(int err) {
  const bool shortage = err == ENOMEM || err == EMFILE || err == ENFILE || err == EAGAIN;
  if (shortage) {
    if (!g_short_noted.exchange(true))
      spdlog::warn("io_uring ring setup failed ({}): such requests go to the devices one by "
                   "one until a ring can be made",
                   std::strerror(err));
    return;
  }
  if (!g_unavailable.exchange(true))
    spdlog::warn("io_uring unavailable ({}): the runs of a request go to the devices one by one",
                 std::strerror(err));
}

class ThreadRing {
 public:
  ThreadRing() = default;
  ThreadRing(const ThreadRing&) = delete;
  ThreadRing& operator=(const ThreadRing&) = delete;
  ~ThreadRing() {
    if (ready_) Close();
  }

  // Null when this thread cannot use a ring.
  io_uring* Get() {
    if (broken_) return nullptr;
    const uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
    if (ready_ && generation_ == generation) return &ring_;
    if (ready_) {  // a forked child: unmap the parent's ring, never enter it
      Close();
      ready_ = false;
    }
    if (g_unavailable.load(std::memory_order_relaxed)) return nullptr;
    std::call_once(g_atfork_once, [] {
      pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); });
    });
    // Only this thread submits, and it always waits for its completions:
    // the kernel may then run them at the wait (6.1 and later).
    int err = io_uring_queue_init(kUringMaxOps, &ring_,
                                  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                      IORING_SETUP_SUBMIT_ALL);
    if (err == -EINVAL) err = io_uring_queue_init(kUringMaxOps, &ring_, 0);
    if (err < 0) {
      NoteSetupFailure(-err);
      return nullptr;
    }
    g_rings_closed.load(std::memory_order_acquire);
    ready_ = true;
    generation_ = generation;
    return &ring_;
  }

  // Never entered again; closed when the thread ends.
  void MarkBroken(int err) {
    broken_ = true;
    spdlog::error("io_uring submission failed ({}); this thread does its I/O itself from now on",
                  std::strerror(err));
  }

 private:
  void Close() {
    g_rings_closed.fetch_add(1, std::memory_order_release);
    io_uring_queue_exit(&ring_);
  }

  io_uring ring_{};
  bool ready_ = false;
  bool broken_ = false;
  uint64_t generation_ = 0;
};

// Waits for at least one completion and records every one available.
size_t Reap(io_uring* ring, std::span<UringOp> ops) {
  io_uring_cqe* cqe = nullptr;
  const int err = io_uring_wait_cqe(ring, &cqe);
  if (err < 0) {
    // A signal or a shortage: wait again. (Nothing else is documented; a
    // pause keeps an unknown error from spinning.)
    if (err != -EINTR && err != -EAGAIN && err != -ETIME)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 0;
  }
  unsigned head = 0, seen = 0;
  io_uring_for_each_cqe(ring, head, cqe) {
    ops[io_uring_cqe_get_data64(cqe)].result = cqe->res;
    ++seen;
  }
  io_uring_cq_advance(ring, seen);
  return seen;
}

}  // namespace

bool RunOnThreadRing(std::span<UringOp> ops) {
  thread_local ThreadRing thread_ring;
  io_uring* ring = thread_ring.Get();
  if (ring == nullptr) return false;
  // The ring is empty between calls and holds kUringMaxOps entries.
  size_t n = std::min(ops.size(), kUringMaxOps);
  for (size_t i = 0; i < ops.size(); ++i) ops[i].result = -ECANCELED;
  for (size_t i = 0; i < n; ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) {  // never while the ring is empty; the rest stay -ECANCELED
      n = i;
      break;
    }
    const UringOp& op = ops[i];
    if (op.write) io_uring_prep_writev(sqe, op.fd, op.iov, op.iovcnt, op.offset);
    else io_uring_prep_readv(sqe, op.fd, op.iov, op.iovcnt, op.offset);
    io_uring_sqe_set_data64(sqe, i);
  }
  size_t submitted = 0, completed = 0;
  for (int stalls = 0; submitted < n;) {
    const int got = io_uring_submit_and_wait(ring, static_cast<unsigned>(n - submitted));
    if (got > 0) {
      submitted += static_cast<size_t>(got);
      stalls = 0;
      continue;
    }
    const bool transient = got == 0 || got == -EINTR || got == -EAGAIN || got == -EBUSY;
    if (!transient || ++stalls > 1000) {
      thread_ring.MarkBroken(got < 0 ? -got : EAGAIN);
      break;
    }
    // Short of resources: completions free them.
    if (completed < submitted) completed += Reap(ring, ops);
    else std::this_thread::yield();
  }
  while (completed < submitted) completed += Reap(ring, ops);
  return true;
}

}  // namespace remapfs
