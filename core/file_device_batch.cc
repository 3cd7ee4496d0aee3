// FileDevice::ReadBatch/WriteBatch: a batch's requests go to the kernel
// together on the calling thread's io_uring (uring_batch.h), requests that
// follow each other on the device merged into one vectored op.
//
// What the caller sees is what Read/Write one by one would give (the
// contract in block_device.h). An op that transferred everything is done.
// Anything else is settled per request with the synchronous transfer,
// continuing from where the op stopped: a short transfer, an op that was
// never submitted, a merged op that failed (which of its requests fails is
// for the synchronous path to say), an errno io_uring may give where
// pread/pwrite would not. A single request's failure is the answer as it
// stands, with the message ReadAll/WriteAll give: trying an EIO again would
// cost a dying disk another failure.
#include <algorithm>
#include <array>
#include <cerrno>
#include <numeric>
#include <type_traits>

#include "batch_slices.h"
#include "file_device.h"
#include "uring_batch.h"

namespace remapfs {
namespace {

template <typename Request>
constexpr bool kIsWrite = std::is_same_v<Request, WriteRequest>;

// Errnos io_uring gives for reasons of its own, or for an op it never ran.
bool WorthRetrying(int err) {
  return err == EAGAIN || err == EINTR || err == ECANCELED || err == EOPNOTSUPP || err == EINVAL;
}

}  // namespace

Status FileDevice::Transfer(const ReadRequest& r, size_t from) {
  return ReadAll(r.offset + from, static_cast<char*>(r.buf) + from, r.len - from);
}

Status FileDevice::Transfer(const WriteRequest& r, size_t from) {
  return WriteAll(r.offset + from, static_cast<const char*>(r.buf) + from, r.len - from);
}

Status FileDevice::ReadBatch(std::span<const ReadRequest> requests, size_t* failed) {
  return RunBatch(requests, failed);
}

Status FileDevice::WriteBatch(std::span<const WriteRequest> requests, size_t* failed) {
  return RunBatch(requests, failed);
}

template <typename Request>
Status FileDevice::RunBatch(std::span<const Request> requests, size_t* failed) {
  return RunInSlices(requests, failed, size_, path_, kUringMaxOps,
                     [this](std::span<const Request> slice, size_t* at) {
                       return RunSlice(slice, at);
                     });
}

template <typename Request>
Status FileDevice::RunOneByOne(std::span<const Request> requests, size_t* failed) {
  for (size_t i = 0; i < requests.size(); ++i) {
    Status st = Transfer(requests[i], 0);
    if (st.ok()) continue;
    *failed = i;
    return st;
  }
  return Status::Ok();
}

template <typename Request>
Status FileDevice::RunSlice(std::span<const Request> requests, size_t* failed) {
  const size_t n = requests.size();
  if (n == 1) return RunOneByOne(requests, failed);
  // Requests in device order, so neighbours on the device become one op.
  std::array<uint16_t, kUringMaxOps> order;
  std::iota(order.begin(), order.begin() + n, 0);
  std::sort(order.begin(), order.begin() + n,
            [&](uint16_t a, uint16_t b) { return requests[a].offset < requests[b].offset; });
  std::array<iovec, kUringMaxOps> iov;
  std::array<UringOp, kUringMaxOps> ops;
  std::array<size_t, kUringMaxOps> op_len;
  std::array<uint16_t, kUringMaxOps + 1> op_first;  // op k holds order[op_first[k], op_first[k+1])
  size_t nops = 0;
  for (size_t p = 0; p < n; ++p) {
    const Request& r = requests[order[p]];
    iov[p] = iovec{const_cast<void*>(static_cast<const void*>(r.buf)), r.len};
    if (nops > 0 && ops[nops - 1].offset + op_len[nops - 1] == r.offset) {
      ++ops[nops - 1].iovcnt;
      op_len[nops - 1] += r.len;
      continue;
    }
    ops[nops] = UringOp{fd_, kIsWrite<Request>, r.offset, &iov[p], 1, 0};
    op_len[nops] = r.len;
    op_first[nops++] = static_cast<uint16_t>(p);
  }
  op_first[nops] = static_cast<uint16_t>(n);
  if (!RunOnThreadRing(std::span(ops.data(), nops))) return RunOneByOne(requests, failed);

  size_t lowest = n;  // the lowest-index request that failed
  Status lowest_status;
  for (size_t k = 0; k < nops; ++k) {
    const int64_t result = ops[k].result;
    if (result == static_cast<int64_t>(op_len[k])) continue;
    const bool single = op_first[k + 1] - op_first[k] == 1;
    size_t done = result > 0 ? static_cast<size_t>(result) : 0;
    for (size_t p = op_first[k]; p < op_first[k + 1]; ++p) {
      const size_t i = order[p];
      const size_t got = std::min(done, requests[i].len);
      done -= got;
      if (got == requests[i].len || i > lowest) continue;  // done, or cannot be the answer
      Status st = single && result < 0 && !WorthRetrying(static_cast<int>(-result))
                      ? ErrnoStatus(kIsWrite<Request>, static_cast<int>(-result), ops[k].offset)
                      : Transfer(requests[i], got);
      if (!st.ok() && i < lowest) {
        lowest = i;
        lowest_status = st;
      }
    }
  }
  if (lowest < n) *failed = lowest;
  return lowest_status;
}

}  // namespace remapfs
