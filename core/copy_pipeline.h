// PipelinedCopy: the batch loop of AddBad's and Remove's copies, with each
// batch's write running while the next batch is read.
//
// The two ends are different devices (MAIN and the spare), so under
// O_DIRECT the copy takes about the longer of its reads and its writes
// instead of their sum, and buffered it spreads the two memory copies over
// two cores.
//
// Contract:
//  - read(b, e, buf) fills `buf` with entries [b, e) and runs on the calling
//    thread, in order; write(b, e, buf) writes them and runs on a thread of
//    its own, after that batch's read and after the previous batch's write
//    has returned. So at most one read and one write are in flight, each on
//    its own buffer of up to per_batch * entry_bytes bytes, and the writes
//    are issued in batch order.
//  - The first failure is returned. A failed read or write stops the copy:
//    no later batch is written, and no batch is read after the next one
//    (that read may already be running when the write fails). Nothing runs
//    on any thread once PipelinedCopy has returned.
//  - Should no thread be available, the batch is written on the caller's.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <future>
#include <system_error>
#include <vector>

#include "remapfs/status.h"

namespace remapfs {

template <typename Read, typename Write>
Status PipelinedCopy(size_t count, size_t per_batch, size_t entry_bytes, Read read, Write write) {
  std::vector<uint8_t> buffers[2];
  std::future<Status> writing;  // the previous batch's write
  // Waits for the previous write (if any): its status.
  auto finish_write = [&writing] { return writing.valid() ? writing.get() : Status::Ok(); };
  size_t k = 0;
  for (size_t b = 0; b < count; b += per_batch, ++k) {
    const size_t e = std::min(count, b + per_batch);
    std::vector<uint8_t>& buf = buffers[k % 2];  // its last write was waited for last round
    buf.resize((e - b) * entry_bytes);
    const Status read_status = read(b, e, buf.data());
    REMAPFS_RETURN_IF_ERROR(finish_write());
    REMAPFS_RETURN_IF_ERROR(read_status);
    uint8_t* data = buf.data();
    try {
      writing = std::async(std::launch::async, [&write, b, e, data] { return write(b, e, data); });
    } catch (const std::system_error&) {
      REMAPFS_RETURN_IF_ERROR(write(b, e, data));
    }
  }
  return finish_write();
}

}  // namespace remapfs
