// The range check every BlockDevice makes before any I/O (the contract in
// block_device.h: a range reaching past Size() fails with InvalidArgument
// and transfers nothing). Internal to core/.
#pragma once

#include <cstdint>
#include <string>

#include "remapfs/status.h"

namespace remapfs {

// `what` names the device in the message ("memory device", a path).
// Written so that offset + len cannot overflow.
inline Status CheckDeviceRange(const char* op, uint64_t offset, size_t len, uint64_t size,
                               const std::string& what = "device") {
  if (len <= size && offset <= size - len) return Status::Ok();
  return Status::InvalidArgument(std::string(op) + " of " + std::to_string(len) + " bytes at " +
                                 std::to_string(offset) + " past the end of " + what + " (" +
                                 std::to_string(size) + " bytes)");
}

}  // namespace remapfs
