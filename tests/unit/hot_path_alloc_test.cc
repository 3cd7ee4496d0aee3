// The I/O path over sectors with no remaps must not touch the heap (issue:
// "one pread/pwrite on main with no memory allocation"). This binary replaces
// the global operator new to count allocations made while a window is open,
// then drives Volume::Read/Write over unremapped and remapped ranges, and
// aligned requests through an AlignedDevice (the O_DIRECT decorator, whose
// writes take a range lock).
// Its own main: the counting must not see a test framework's allocations.
#include <cstdio>
#include <cstdlib>
#include <new>

#include "remapfs/aligned_device.h"
#include "remapfs/volume.h"

namespace {
thread_local bool counting = false;
thread_local unsigned long allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace remapfs;

// `Dev` is a Volume or a BlockDevice; `buf` holds at least `len` bytes.
template <typename Dev>
static unsigned long AllocationsDuring(Dev& v, uint64_t offset, uint8_t* buf, size_t len) {
  allocations = 0;
  counting = true;
  for (int i = 0; i < 100; ++i) {
    if (!v.Write(offset, buf, len).ok() || !v.Read(offset, buf, len).ok()) {
      counting = false;
      std::fprintf(stderr, "I/O failed at offset %llu\n", (unsigned long long)offset);
      std::exit(1);
    }
  }
  counting = false;
  return allocations;
}

int main() {
  const uint64_t main_bytes = 8 << 20, spare_bytes = 512 << 10;
  std::unique_ptr<Volume> v;
  if (!NewMemoryVolume(main_bytes, spare_bytes, &v).ok()) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  if (!v->AddBad({{1000, 1002}, {1010, 1010}}).ok()) return 1;
  int failures = 0;
  alignas(4096) static uint8_t buf[65536];
  const unsigned long plain = AllocationsDuring(*v, 4096, buf, 65536);
  std::printf("unremapped range: %lu heap allocations in 200 requests\n", plain);
  if (plain != 0) ++failures;
  const unsigned long remapped = AllocationsDuring(*v, 999 * 512, buf, 16 * 512);
  std::printf("range over 4 remapped sectors: %lu heap allocations in 200 requests\n", remapped);
  if (remapped != 0) ++failures;
  std::unique_ptr<AlignedDevice> aligned;
  if (!AlignedDevice::Wrap(NewMemoryDevice(1 << 20), 4096, &aligned).ok()) return 1;
  const unsigned long direct = AllocationsDuring(*aligned, 8192, buf, 65536);
  std::printf("aligned requests through AlignedDevice: %lu heap allocations in 200 requests\n",
              direct);
  if (direct != 0) ++failures;
  std::printf(failures ? "FAIL\n" : "PASS\n");
  return failures ? 1 : 0;
}
