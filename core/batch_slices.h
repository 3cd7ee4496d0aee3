// The outer loop of a device's ReadBatch/WriteBatch (FileDevice,
// AlignedDevice): every request's range checked first, then the requests
// before the first bad one run in slices of a bounded size, which keeps
// each slice's bookkeeping on the stack. Internal to core/.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "device_range.h"
#include "remapfs/block_device.h"

namespace remapfs {

// The batch contract (block_device.h) from a slice runner that keeps it
// for one slice: `run_slice(slice, &at)` returns Ok, or the status of the
// slice's lowest failing request with its index in the slice in `at`. A
// request past `size` fails as Read/Write would (InvalidArgument, naming
// `what`), after those before it ran; the slices after a failing one do
// not run, as they hold higher indices.
template <typename Request, typename RunSlice>
Status RunInSlices(std::span<const Request> requests, size_t* failed, uint64_t size,
                   const std::string& what, size_t slice_size, RunSlice run_slice) {
  const char* op = std::is_same_v<Request, WriteRequest> ? "write" : "read";
  size_t valid = 0;
  Status out_of_range;
  for (; valid < requests.size(); ++valid) {
    out_of_range = CheckDeviceRange(op, requests[valid].offset, requests[valid].len, size, what);
    if (!out_of_range.ok()) break;
  }
  for (size_t begin = 0; begin < valid; begin += slice_size) {
    size_t at = 0;
    Status st = run_slice(requests.subspan(begin, std::min(slice_size, valid - begin)), &at);
    if (st.ok()) continue;
    if (failed != nullptr) *failed = begin + at;
    return st;
  }
  if (!out_of_range.ok() && failed != nullptr) *failed = valid;
  return out_of_range;
}

}  // namespace remapfs
