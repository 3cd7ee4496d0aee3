# shellcheck shell=bash
# Shared helpers for the integration tests. Sourced by every test script.
#
# A test gets the binary as $REMAPFS (meson passes it in the environment) or
# as its first argument. It needs root, /dev/fuse and fusermount3; without
# them it exits 77, which meson counts as a skip, never as a pass.
#
# Everything a test creates (mounts, loop devices, daemons, users, changed
# system files) is registered here and undone by one EXIT trap, whatever
# way the test ends.
set -euo pipefail

REMAPFS=${REMAPFS:-${1:-}}
SECTOR=512
# shellcheck disable=SC2034  # errno values, used by the test scripts
EINVAL=22 ENOSPC=28 EIO=5 EACCES=13 EPERM=1 EBADF=9 EROFS=30

# A system python: the pyenv shim in root's home is unreadable to the other
# users the unprivileged test runs helpers as.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

FUSE_MOUNTS=()   # remapfs mountpoints, unmounted with fusermount3
OTHER_MOUNTS=()  # kernel mounts on top of them (ext4 on a loop device)
LOOP_DEVS=()
DAEMON_PIDS=()
CLEANUP_HOOKS=() # commands run last (restore modes, delete users)
TMP=""

say() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
pass() { echo "PASS: $(basename "$0")"; }

require_environment() {
  [[ -n $REMAPFS && -x $REMAPFS ]] || fail "REMAPFS binary not given or not executable: '$REMAPFS'"
  [[ $(id -u) -eq 0 ]] || skip "needs root (mounts, loop devices)"
  [[ -c /dev/fuse ]] || skip "no /dev/fuse"
  command -v fusermount3 >/dev/null || skip "no fusermount3"
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || skip "no $tool"
  done
  TMP=$(mktemp -d /tmp/remapfs-it.XXXXXX)
  trap cleanup EXIT
}

# Undo everything in reverse order of dependency. Never fails: a cleanup
# error must not hide the test's own verdict, which is kept in $rc.
cleanup() {
  local rc=$? m dev pid hook
  for m in "${OTHER_MOUNTS[@]}"; do
    if is_mounted "$m"; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
  for dev in "${LOOP_DEVS[@]}"; do losetup -d "$dev" 2>/dev/null || true; done
  for m in "${FUSE_MOUNTS[@]}"; do
    if is_mounted "$m"; then
      fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
  done
  # Unmounting ends a daemon; one that lingers is killed by its own pid.
  for pid in "${DAEMON_PIDS[@]}"; do
    wait_until 5 eval "! kill -0 $pid" || kill "$pid" 2>/dev/null || true
  done
  for hook in "${CLEANUP_HOOKS[@]}"; do eval "$hook" || true; done
  # The log of a daemon with no journal and no syslog (man remapfs, LOGGING).
  for m in "${FUSE_MOUNTS[@]}"; do
    rm -f "/run/remapfs/$(sed 's#^/##; s#/#-#g' <<<"$m").log" 2>/dev/null || true
  done
  keep_sanitizer_output
  [[ -n $TMP ]] && rm -rf "$TMP"
  exit "$rc"
}

# In a sanitizer stage (scripts/lib/sanitizers.sh exports
# REMAPFS_SANITIZER_REPORTS), copies there every captured stderr of remapfs
# that holds a sanitizer report. GCC 12's UBSan, linked beside ASan, ignores
# log_path and writes to stderr, which the daemon's log in $TMP keeps.
keep_sanitizer_output() {
  [[ -n ${REMAPFS_SANITIZER_REPORTS:-} && -n $TMP ]] || return 0
  local f
  for f in "$TMP"/*.log "$TMP"/*.out "$TMP"/*.err; do
    if [[ -f $f ]] && grep -qE 'runtime error:|ERROR: AddressSanitizer|WARNING: ThreadSanitizer' "$f"; then
      cp "$f" "$REMAPFS_SANITIZER_REPORTS/stderr.$(basename "$0" .sh).$(basename "$f")" || true
    fi
  done
}

# Polls `$@` every 0.1 s until it succeeds or `deadline` seconds pass.
wait_until() {
  local deadline=$1; shift
  local tries=$((deadline * 10))
  while ! "$@" 2>/dev/null; do
    ((tries-- > 0)) || return 1
    sleep 0.1
  done
}

# make_main PATH SIZE: a main image full of random bytes, so that any byte
# served from the wrong place shows up in a comparison.
make_main() {
  head -c "$2" /dev/urandom >"$1"
}

# pick_direct_io_dir: sets DIR to a directory for MAIN and SPARE files on a
# filesystem that takes O_DIRECT: $TMP, or a new one under /var/tmp when
# $TMP is on tmpfs, which (on older kernels) refuses O_DIRECT.
pick_direct_io_dir() {
  if dd if=/dev/zero of="$TMP/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    DIR=$TMP
  else
    DIR=$(mktemp -d /var/tmp/remapfs-dio.XXXXXX)
    CLEANUP_HOOKS+=("rm -rf '$DIR'")
  fi
  echo "   ok: image files in $DIR ($(stat -f -c %T "$DIR"))"
}

format_volume() {
  "$REMAPFS" format "$@" >"$TMP/format.out" 2>&1 ||
    { cat "$TMP/format.out" >&2; fail "remapfs format $*"; }
}

# True when MNT is a mount point in our namespace. /proc/self/mountinfo and
# not `mountpoint`: root cannot stat a user's FUSE mount without allow_root.
is_mounted() {
  awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

MOUNT_AS=()  # e.g. (runuser -u someone --): who runs the next mount
MOUNT_PID="" # pid of the last foreground daemon started by mount_remapfs
MOUNT_SEQ=0
MOUNT_LOG=""  # its stdout and stderr

# mount_remapfs MAIN SPARE MNT [ARGS...]: starts `remapfs mount ... -f` in
# the background and returns once MNT is mounted (10 s deadline). Fails the
# test, showing the daemon's output, if the daemon exits first.
mount_remapfs() {
  local main=$1 spare=$2 mnt=$3; shift 3
  start_mount "$mnt" mount "$main" "$spare" "$mnt" -f "$@"
}

# start_mount MNT ARGS...: as mount_remapfs, for any `remapfs ARGS...` that
# mounts MNT in the foreground (the fstab form `remapfs MAIN,SPARE MNT -o`).
start_mount() {
  local mnt=$1; shift
  local log="$TMP/mount.$((++MOUNT_SEQ)).log"
  MOUNT_LOG=$log
  # A dead mount at MNT (ENOTCONN) is remapfs's to report or clear.
  mkdir -p "$mnt" 2>/dev/null || true
  "${MOUNT_AS[@]}" "$REMAPFS" "$@" >"$log" 2>&1 &
  MOUNT_PID=$!
  DAEMON_PIDS+=("$MOUNT_PID")
  FUSE_MOUNTS+=("$mnt")
  local tries=100
  until is_mounted "$mnt"; do
    if ! kill -0 "$MOUNT_PID" 2>/dev/null; then
      cat "$log" >&2
      fail "remapfs $* exited before mounting"
    fi
    ((tries-- > 0)) || { cat "$log" >&2; fail "mount of $mnt not up after 10 s"; }
    sleep 0.1
  done
}

# unmount_remapfs MNT [PID]: fusermount3 -u, then waits (10 s) for the
# foreground daemon to exit and asserts it exited 0.
unmount_remapfs() {
  local mnt=$1 pid=${2:-$MOUNT_PID}
  fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt"
  wait_until 10 eval "! kill -0 $pid" || fail "daemon $pid still running 10 s after unmount"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || tail -20 "$MOUNT_LOG" >&2
  assert_eq 0 "$rc" "exit code of the daemon after a clean unmount"
}

assert_eq() {
  [[ $1 == "$2" ]] || fail "$3: expected '$1', got '$2'"
  echo "   ok: $3"
}

assert_ne() {
  [[ $1 != "$2" ]] || fail "$3: expected anything but '$1'"
  echo "   ok: $3"
}

# Compares through pipes: `cmp -s` on two regular files trusts st_size, and
# control files report size 0 like /proc files do.
assert_same_file() {
  cmp -s <(cat "$1") <(cat "$2") ||
    fail "$3: $1 and $2 differ ($(cmp <(cat "$1") <(cat "$2") 2>&1 | head -1))"
  echo "   ok: $3"
}

# read_sectors FILE FIRST [COUNT]: the bytes of sectors FIRST.. on stdout.
read_sectors() {
  dd if="$1" bs=$SECTOR skip="$2" count="${3:-1}" status=none
}

sectors_sha() {
  read_sectors "$@" | sha256sum | cut -d' ' -f1
}

# write_sectors FILE FIRST SRC: writes all of SRC at sector FIRST in place.
write_sectors() {
  dd if="$3" of="$1" bs=$SECTOR seek="$2" conv=notrunc status=none
}

# status_value MNT KEY: the value of one `key: value` line of status.
status_value() {
  sed -n "s/^$2: //p" "$1/control/status"
}

# control_write MNT FILE TEXT: what a user types: echo TEXT > control/FILE.
control_write() {
  echo "$3" >"$1/control/$2" || fail "echo '$3' > control/$2 failed"
}

# write_errno PATH [OFFSET] < DATA: writes stdin to PATH in one write(2)
# (pwrite at OFFSET when given) and prints 0, or the errno of the failure.
write_errno() { write_errno_as "" "$@"; }

write_errno_as() {
  local user=$1; shift
  local runner=()
  [[ -n $user ]] && runner=(runuser -u "$user" --)
  "${runner[@]}" "$PY" -c '
import os, sys
data = sys.stdin.buffer.read()
try:
    fd = os.open(sys.argv[1], os.O_WRONLY)
    try:
        if len(sys.argv) > 2:
            os.pwrite(fd, data, int(sys.argv[2]))
        else:
            os.write(fd, data)
    finally:
        os.close(fd)
    print(0)
except OSError as e:
    print(e.errno)
' "$@"
}

# expect_errno ERRNO WHAT PATH [OFFSET] < DATA
expect_errno() {
  local want=$1 what=$2; shift 2
  assert_eq "$want" "$(write_errno "$@")" "$what"
}

# expect_cli_failure WHAT CMD...: the command must exit non-zero and explain
# itself on stderr. Leaves the exit code in CLI_RC and stderr in CLI_ERR.
expect_cli_failure() {
  local what=$1; shift
  CLI_RC=0
  timeout 30 "$@" >"$TMP/cli.out" 2>"$TMP/cli.err" </dev/null || CLI_RC=$?
  CLI_ERR=$(cat "$TMP/cli.err")
  [[ $CLI_RC -ne 0 ]] || fail "$what: exited 0 (stdout: $(head -c 300 "$TMP/cli.out"))"
  [[ $CLI_RC -ne 124 ]] || fail "$what: still running after 30 s"
  [[ -n $CLI_ERR ]] || fail "$what: exit $CLI_RC but nothing on stderr"
  echo "   ok: $what refused (exit $CLI_RC: $(head -1 <<<"$CLI_ERR"))"
}

# stderr_mentions REGEX: the last expect_cli_failure's stderr matches REGEX
# (case-insensitive), so a refusal is for the reason the test provoked.
stderr_mentions() {
  grep -Eqi "$1" <<<"$CLI_ERR" || fail "stderr does not mention /$1/: $CLI_ERR"
  echo "   ok: the message mentions /$1/"
}

# spare_sector_of MNT MAIN_SECTOR: the spare sector `remaps` gives for it.
spare_sector_of() {
  awk -v s="$2" '$1 == s { print $2 }' "$1/control/remaps"
}

# Checks every line of `remaps` against `reservations` and the spare size:
# no remap points into a reserved extent or outside SPARE, none shares a
# spare sector (SPEC invariants 2 and 3).
assert_remaps_valid() {
  local mnt=$1
  local spare_sectors
  spare_sectors=$(status_value "$mnt" spare_sectors)
  awk -v n="$spare_sectors" '
    FNR == NR { first[NR] = $1; last[NR] = $2; k = NR; next }
    $2 == "-" { next }
    {
      if ($2 !~ /^[0-9]+$/ || $2 + 0 >= n) { print "outside spare: " $0; bad = 1 }
      for (i = 1; i <= k; i++)
        if ($2 + 0 >= first[i] && $2 + 0 <= last[i]) { print "reserved: " $0; bad = 1 }
      if (seen[$2]++) { print "shared spare sector: " $0; bad = 1 }
      if (main[$1]++) { print "main sector twice: " $0; bad = 1 }
    }
    END { exit bad }' "$mnt/control/reservations" "$mnt/control/remaps" ||
    fail "remaps break an invariant (above)"
  echo "   ok: remaps avoid reserved extents, stay inside the spare, share nothing"
}
