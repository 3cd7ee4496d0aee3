# shellcheck shell=bash
# shellcheck disable=SC2034  # EXPOSED, REMAPFS*, DAEMON_PID, FIO_IOPS: for the caller
# Shared by benchmarks/fio_mount.sh and benchmarks/peers.sh: the tools
# checked up front, the remapfs binary built from this checkout, fio runs,
# FUSE daemons started in the foreground (so their pid is known) and one
# EXIT trap that undoes whatever is still up. Sourced, not run.

BENCH_TMP=""      # work folder, removed last
BENCH_STOP=()     # the command that tears down the FUSE target now up
BENCH_PIDS=()     # every daemon started, stopped by pid if still alive
BENCH_FIO=""      # the fio running now

bench_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# require_tools TOOL:PACKAGE...: exits 1, naming the Debian packages to
# install, when any TOOL is not on PATH. Called before anything is set up.
require_tools() {
  local spec missing=() pkgs=()
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null && continue
    missing+=("${spec%%:*}")
    pkgs+=("${spec#*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  bench_die "not installed: $(printf '%s\n' "${missing[@]}" | sort -u | paste -sd' ');" \
    "as root: apt-get install -y $(printf '%s\n' "${pkgs[@]}" | sort -u | paste -sd' ')"
}

# bench_remapfs [BIN]: REMAPFS is BIN when given, else the binary built from
# this checkout into build-bench/: `meson setup` (the project's default
# buildtype, as users build it) the first time, `ninja cli/remapfs` on every
# run (a no-op when it is current), so the figures are always of the source
# beside the script. Niced: a shared machine's other work goes first, and
# the build ends before any measurement starts.
bench_remapfs() {
  local root dir
  if [[ -n ${1:-} ]]; then
    [[ -x $1 ]] || bench_die "no remapfs binary at $1"
    REMAPFS=$(realpath "$1")
    return 0
  fi
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir=$root/build-bench
  require_tools meson:meson ninja:ninja-build c++:build-essential pkg-config:pkg-config
  if [[ ! -f $dir/build.ninja ]]; then
    bench_log "building remapfs into $dir (meson setup)"
    meson setup "$dir" "$root" >&2 ||
      bench_die "meson setup $dir failed; scripts/test.sh --quick installs the build dependencies"
  fi
  bench_log "ninja -C $dir cli/remapfs"
  nice -n 19 ninja -C "$dir" cli/remapfs >&2 || bench_die "building remapfs failed"
  REMAPFS=$dir/cli/remapfs
}

# bench_setup PARENT: makes the work folder and installs the trap.
bench_setup() {
  BENCH_TMP=$(mktemp -d "${1:-/var/tmp}/remapfs-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local rc=$? pid
  set +e
  [[ -n $BENCH_FIO ]] && stop_pid "$BENCH_FIO"
  ((${#BENCH_STOP[@]})) && "${BENCH_STOP[@]}"
  for pid in "${BENCH_PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n $BENCH_TMP ]]; then
    if awk -v d="$BENCH_TMP/" 'index($2, d) == 1 {f = 1} END {exit !f}' /proc/mounts; then
      bench_log "still mounted under $BENCH_TMP; left in place"
    else
      rm -rf "$BENCH_TMP"
    fi
  fi
  exit "$rc"
}

is_mounted() { awk -v m="$1" '$2 == m {f = 1} END {exit !f}' /proc/mounts; }

# A pid that exists and is not a zombie.
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [[ -n $state && $state != Z ]]
}

# wait_gone PID SECONDS: 0 once PID has exited (and is reaped, if ours).
wait_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! alive "$1"; then
      wait "$1" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# ours PID: PID is a daemon of this run (its command line names the work
# folder), not a stranger that got a reused pid.
ours() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$BENCH_TMP/"; }

# stop_pid PID: TERM, then KILL after 10 s; only ever a pid we started.
stop_pid() {
  if ! alive "$1" || ! ours "$1"; then
    wait "$1" 2>/dev/null
    return 0
  fi
  kill -TERM "$1" 2>/dev/null || true
  wait_gone "$1" 10 && return 0
  bench_log "pid $1 ignored SIGTERM; SIGKILL"
  kill -KILL "$1" 2>/dev/null || true
  wait_gone "$1" 5 || true
}

fuse_unmount() {
  local i
  for i in 1 2 3 4 5; do
    is_mounted "$1" || return 0
    fusermount3 -u "$1" 2>/dev/null || sleep 0.5
  done
  is_mounted "$1" && { bench_log "fusermount3 -u $1 keeps failing; lazy unmount"; fusermount3 -uz "$1"; }
  return 0
}

# stop_fuse MNT TERM_FIRST PID...: unmount, then let the daemons exit.
# TERM_FIRST=1 signals the first pid before unmounting (qemu-storage-daemon
# 7.2 spins on a dead /dev/fuse after an external unmount).
stop_fuse() {
  local mnt=$1 term_first=$2 pid
  shift 2
  [[ $term_first == 1 && -n ${1:-} ]] && kill -TERM "$1" 2>/dev/null && wait_gone "$1" 10
  fuse_unmount "$mnt"
  for pid in "$@"; do wait_gone "$pid" 10 || stop_pid "$pid"; done
  BENCH_STOP=()
}

# wait_mount MNT PID SECONDS: 0 once MNT is mounted, 1 if PID died first.
wait_mount() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    is_mounted "$1" && return 0
    alive "$2" || return 1
    sleep 0.1
  done
  return 1
}

# start_daemon LOG CMD...: runs CMD in the background, in a session of its
# own (a Ctrl-C reaches the script, which then tears it down in order); its
# pid in DAEMON_PID.
start_daemon() {
  local log=$1
  shift
  setsid "$@" </dev/null >"$log" 2>&1 &
  DAEMON_PID=$!
  BENCH_PIDS+=("$DAEMON_PID")
}

# remapfs_start BIN MAIN SPARE MNT [MOUNT OPTION...]: mounts in the
# foreground (-f) in the background; REMAPFS_PID, exposed file in EXPOSED.
remapfs_start() {
  local bin=$1 main=$2 spare=$3 mnt=$4
  shift 4
  mkdir -p "$mnt"
  start_daemon "$mnt.log" "$bin" mount "$main" "$spare" "$mnt" -f "$@"
  REMAPFS_PID=$DAEMON_PID
  BENCH_STOP=(stop_fuse "$mnt" 0 "$REMAPFS_PID")
  wait_mount "$mnt" "$REMAPFS_PID" 30 || { cat "$mnt.log" >&2; return 1; }
  EXPOSED=$mnt/$(basename "$main")
}

# fio_iops FILE RW BS RUNTIME [FIO ARG...]: sets FIO_IOPS to the job's IOPS
# (reads for a read job, writes otherwise); fails, with fio's words, on an
# error. fio catches SIGINT itself, so bash would let a Ctrl-C pass for
# "handled" when fio was a foreground child: run in the background and
# waited for, a Ctrl-C ends the wait and reaches the INT trap.
fio_iops() {
  local file=$1 rw=$2 bs=$3 runtime=$4 out=$BENCH_TMP/fio.out
  shift 4
  fio --name=b --filename="$file" --rw="$rw" --bs="$bs" --time_based \
    --runtime="$runtime" --allow_file_create=0 --group_reporting \
    --output-format=terse --terse-version=3 "$@" >"$out" 2>&1 &
  BENCH_FIO=$!
  wait "$BENCH_FIO" || { BENCH_FIO=""; cat "$out" >&2; return 1; }
  BENCH_FIO=""
  FIO_IOPS=$(awk -F';' -v rw="$rw" '$1 == 3 && NF > 50 {
      if ($5 != 0) exit 1
      print (rw ~ /read/) ? $8 : $49; found = 1 }
    END { exit !found }' "$out") || { cat "$out" >&2; return 1; }
}

# drop_caches SETTLE: sync (waits for all writeback, including what the
# last target left dirty), drop the page cache, then SETTLE seconds of
# quiet, so that every job starts from the same state: nothing cached,
# nothing being written back. Root only.
drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
  sleep "$1"
}

# median of the numbers given (average of the middle two for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1}
    END { if (NR == 0) exit 1
          print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
