# shellcheck shell=bash
# Shared by scripts/demo.sh, scripts/test.sh and scripts/fuzz.sh: install
# the Debian 12 packages remapfs needs to build, test and demo itself.
# Sourced, not run.

# Everything the build (meson, compilers, headers; libblkid for format's
# signature probe; liburing for a request's concurrent device runs), the
# binary (fuse3), JSON (nlohmann-json3-dev), the integration tests (qemu-io, fio, mkfs.ext4/debugfs,
# losetup, blkid) and the style check use.
REMAPFS_DEB_PACKAGES=(
  build-essential meson ninja-build pkg-config
  libfuse3-dev fuse3 libspdlog-dev libfmt-dev catch2 libboost-dev libblkid-dev liburing-dev
  # sd_notify for Type=notify units, the journal sink of a daemonized mount.
  libsystemd-dev
  nlohmann-json3-dev
  qemu-utils fio e2fsprogs util-linux python3
  # scripts/format.sh and the meson test clang_format: the C++ style.
  clang-format
  # scripts/fuzz.sh: clang builds the libFuzzer harnesses; libclang-rt-14-dev
  # holds the fuzzer and sanitizer runtimes, only a Recommends of clang-14,
  # which --no-install-recommends below would leave out.
  clang libclang-rt-14-dev
  # The package stage (scripts/package.sh): dpkg-buildpackage and dh, and
  # the bash-completion the completion test sources.
  dpkg-dev debhelper bash-completion
)

# benchmarks/peers.sh's peers, apart: no script installs them (the default
# test command does not need them); peers.sh stops with this command when
# one is missing. qemu-system-common holds qemu-storage-daemon, libnbd-bin
# holds nbdfuse. By hand:
#   apt-get install -y fio qemu-system-common nbdkit libnbd-bin
# shellcheck disable=SC2034  # a documented list, read by people
REMAPFS_BENCH_DEB_PACKAGES=(fio qemu-system-common nbdkit libnbd-bin)

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "error: need root or sudo to run: $*" >&2
    return 1
  fi
}

# Prints the packages of REMAPFS_DEB_PACKAGES that dpkg does not report as
# installed, one a line.
missing_packages() {
  local pkg
  for pkg in "${REMAPFS_DEB_PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
      echo "$pkg"
    fi
  done
}

# Installs whatever is missing. `apt-get update` runs only when something is
# missing, so a machine that is already set up never touches the network.
install_deps() {
  local missing
  mapfile -t missing < <(missing_packages)
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps: all ${#REMAPFS_DEB_PACKAGES[@]} packages already installed"
    return 0
  fi
  echo "deps: installing ${missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}
