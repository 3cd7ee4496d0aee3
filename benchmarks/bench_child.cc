// Helpers of bench_big_spare (bench_child.h).
#include "bench_child.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "remapfs/placement.h"

namespace remapfs::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kSs = 512;
constexpr size_t kChunk = 1 << 20;
std::string g_log = "/dev/null";

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::perror(what.c_str());
  std::exit(1);
}

pid_t Spawn(const std::vector<std::string>& argv) {
  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid > 0) return pid;
  const int log = open(g_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log >= 0) {
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

uint64_t StatusKib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::strtoull(line.c_str() + key.size() + 1, 0, 10);
  return 0;
}

Placement PlacementOf(const std::string& spare) {
  struct stat st {};
  if (stat(spare.c_str(), &st) != 0) Die(spare);
  Placement p;
  if (!ComputePlacement(kSs, st.st_size / kSs, Strategy::kAuto, &p).ok()) Die("placement");
  return p;
}

}  // namespace

ChildFigures RunChild(const std::vector<std::string>& argv) {
  const Clock::time_point start = Clock::now();
  const pid_t pid = Spawn(argv);
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid) Die("wait4");
  return {Since(start), static_cast<uint64_t>(ru.ru_maxrss),
          WIFEXITED(status) ? WEXITSTATUS(status) : 128};
}

bool MountAndMeasure(const std::string& remapfs, const std::string& main, const std::string& spare,
                     const std::string& mnt, uint64_t main_bytes, DaemonFigures* d) {
  if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
    d->skipped = "needs root and /dev/fuse";
    return false;
  }
  mkdir(mnt.c_str(), 0755);
  const std::string disk = mnt + "/" + main.substr(main.rfind('/') + 1);
  const Clock::time_point start = Clock::now();
  const pid_t pid = Spawn({remapfs, "mount", main, spare, mnt, "-f"});
  for (;;) {
    struct stat st {};
    if (stat(disk.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == main_bytes) break;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      d->skipped = "the mount failed; see " + g_log;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  d->seconds = Since(start);
  d->hwm_kib = StatusKib(pid, "VmHWM");
  d->rss_kib = StatusKib(pid, "VmRSS");
  RunChild({"/usr/bin/fusermount3", "-u", mnt});
  int status = 0;
  waitpid(pid, &status, 0);
  return true;
}

void PrepareDir(const std::string& dir, const std::string& main, uint64_t main_bytes) {
  CleanUp(dir);
  if (mkdir(dir.c_str(), 0755) != 0) Die(dir);
  g_log = dir + "/child.log";
  const int fd = open(main.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(main_bytes)) != 0) Die(main);
  close(fd);
}

void CleanUp(const std::string& dir) {
  RunChild({"/bin/rm", "-rf", dir});  // nothing is mounted at this point
}

void DropFromPageCache(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) Die(path);
  fsync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

uint64_t MetadataBytes(const std::string& spare) {
  return PlacementOf(spare).reserved_sectors() * kSs;
}

double WriteBaselineSeconds(const std::string& path, uint64_t bytes) {
  std::vector<char> buf(kChunk, 1);
  const Clock::time_point start = Clock::now();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Die(path);
  for (uint64_t off = 0; off < bytes; off += kChunk)
    if (pwrite(fd, buf.data(), std::min<uint64_t>(kChunk, bytes - off), off) < 0) Die(path);
  fdatasync(fd);
  close(fd);
  const double seconds = Since(start);
  unlink(path.c_str());
  return seconds;
}

double ReadBaselineSeconds(const std::string& spare, bool cold) {
  if (cold) DropFromPageCache(spare);
  const Placement p = PlacementOf(spare);
  std::vector<char> buf(kChunk);
  const Clock::time_point start = Clock::now();
  const int fd = open(spare.c_str(), O_RDONLY);
  if (fd < 0) Die(spare);
  for (uint64_t first : p.copy_starts) {
    const uint64_t begin = first * kSs, end = begin + p.copy_sectors * kSs;
    for (uint64_t off = begin; off < end; off += kChunk)
      if (pread(fd, buf.data(), std::min<uint64_t>(kChunk, end - off), off) < 0) Die(spare);
  }
  close(fd);
  return Since(start);
}

void WriteMdList(const std::string& path, uint64_t first, uint64_t count, uint64_t stride) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) Die(path);
  for (uint64_t i = 0; i < count; ++i)
    std::fprintf(f, "%llu 1\n", static_cast<unsigned long long>(first + i * stride));
  std::fclose(f);
}

void WriteMdRange(const std::string& path, uint64_t first, uint64_t count) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) Die(path);
  std::fprintf(f, "%llu %llu\n", static_cast<unsigned long long>(first),
               static_cast<unsigned long long>(count));
  std::fclose(f);
}

}  // namespace remapfs::bench
