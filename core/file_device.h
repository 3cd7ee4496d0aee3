// FileDevice: the BlockDevice over the descriptor of a regular file or a
// block device, opened by OpenFileDevice (file_device.cc: Read, Write,
// Flush and the open; file_device_batch.cc: ReadBatch and WriteBatch, which
// run a batch's requests concurrently on the thread's io_uring). Internal
// to core/.
//
// Owns the descriptor (and with it the flock). Thread-safe as the
// BlockDevice contract says: pread/pwrite and per-thread rings share no
// state.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "remapfs/block_device.h"

namespace remapfs {

class FileDevice : public BlockDevice {
 public:
  FileDevice(int fd, std::string path, uint64_t size);
  ~FileDevice() override;  // closes the descriptor, which drops the flock

  Status Read(uint64_t offset, void* buf, size_t len) override;
  Status Write(uint64_t offset, const void* buf, size_t len) override;
  Status ReadBatch(std::span<const ReadRequest> requests, size_t* failed) override;
  Status WriteBatch(std::span<const WriteRequest> requests, size_t* failed) override;
  Status Flush() override;
  uint64_t Size() const override { return size_; }

 private:
  Status CheckRange(const char* op, uint64_t offset, size_t len) const;
  // pread/pwrite until all `len` bytes moved (no range check): the one
  // synchronous transfer, whose errors every path reports.
  Status ReadAll(uint64_t offset, void* buf, size_t len);
  Status WriteAll(uint64_t offset, const void* buf, size_t len);
  Status Transfer(const ReadRequest& r, size_t from);
  Status Transfer(const WriteRequest& r, size_t from);
  // The status ReadAll/WriteAll give for `err` at `offset`.
  Status ErrnoStatus(bool write, int err, uint64_t offset) const;

  template <typename Request>
  Status RunBatch(std::span<const Request> requests, size_t* failed);
  // At most kUringMaxOps requests, all within the device.
  template <typename Request>
  Status RunSlice(std::span<const Request> requests, size_t* failed);
  template <typename Request>
  Status RunOneByOne(std::span<const Request> requests, size_t* failed);

  const int fd_;
  const std::string path_;
  const uint64_t size_;
};

}  // namespace remapfs
