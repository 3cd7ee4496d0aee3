// The calling thread's bounce buffer for AlignedDevice (aligned_device.cc,
// aligned_device_batch.cc). Internal to core/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace remapfs {

// Large enough for the aligned span around a 1 MiB request at any
// alignment AlignedDevice accepts (up to 64 KiB): such a request moves in
// one base call.
inline constexpr size_t kBounceBytes = (size_t{1} << 20) + 65536;

// kBounceBytes aligned for any alignment AlignedDevice accepts, owned by the
// calling thread: allocated on its first use, freed when the thread ends.
// Null when the allocation fails. A call that uses it must be done with it
// before it calls anything else that may.
uint8_t* ThreadBounceBuffer();

}  // namespace remapfs
