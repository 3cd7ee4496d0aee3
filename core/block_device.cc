// BlockDevice's default batches: the requests one by one, in order, which
// is exactly the contract's outcome with nothing run after a failure.
#include "remapfs/block_device.h"

namespace remapfs {

Status BlockDevice::ReadBatch(std::span<const ReadRequest> requests, size_t* failed) {
  for (size_t i = 0; i < requests.size(); ++i) {
    Status st = Read(requests[i].offset, requests[i].buf, requests[i].len);
    if (st.ok()) continue;
    if (failed != nullptr) *failed = i;
    return st;
  }
  return Status::Ok();
}

Status BlockDevice::WriteBatch(std::span<const WriteRequest> requests, size_t* failed) {
  for (size_t i = 0; i < requests.size(); ++i) {
    Status st = Write(requests[i].offset, requests[i].buf, requests[i].len);
    if (st.ok()) continue;
    if (failed != nullptr) *failed = i;
    return st;
  }
  return Status::Ok();
}

}  // namespace remapfs
