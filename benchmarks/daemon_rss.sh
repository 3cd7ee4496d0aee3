#!/usr/bin/env bash
# The mounted daemon's memory against its target (issue 10): RSS at most
# 32 MiB + 64 bytes per remap. Mounts a 1 GiB MAIN with a 256 MiB spare,
# buffered and then with --direct-io on, and prints VmRSS, RssAnon, VmHWM
# and the thread count after mount, after each fio load (with its IOPS and
# the RSS half way through it) and after the daemon has idled; then the peak
# against the target and the largest mappings. No assertion: the figures are
# for reading (docs/memory.md explains them).
# Without an argument it builds this checkout into build-bench/ first; its
# files live in a folder in /var/tmp that the EXIT trap removes.
#   usage: benchmarks/daemon_rss.sh [path/to/remapfs]   (root, fio installed)
#   env:   RUNTIME=10 (seconds per load)  REMAPS=0 (sectors remapped first)
#          IDLE=3 (seconds idle before the last reading)
set -euo pipefail
RUNTIME=${RUNTIME:-10}
REMAPS=${REMAPS:-0}
IDLE=${IDLE:-3}
# Run by `meson test --benchmark` without root or fio: a skip, not a failure.
[[ $(id -u) -eq 0 && -c /dev/fuse ]] || { echo "SKIP: needs root and /dev/fuse"; exit 77; }
command -v fio >/dev/null || { echo "SKIP: needs fio"; exit 77; }
# shellcheck source=benchmarks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools fusermount3:fuse3
bench_remapfs "${1:-}"
bench_setup /var/tmp
work=$BENCH_TMP
fallocate -l 1G "$work/main.img"

# mib_of PID KEY: a /proc/PID/status value (VmRSS, VmHWM) in MiB.
mib_of() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# RssAnon is the daemon's own memory; the rest of VmRSS is the pages of the
# binary and its libraries mapped so far, which varies with the page cache
# (the kernel maps cached neighbours of a faulting page as well).
report() {  # report PHASE IOPS RSS_UNDER_LOAD
  printf '%-18s %7s %10s %9s %9s %9s %8s\n' "$1" "$2" "$3" "$(mib_of "$REMAPFS_PID" VmRSS)" \
    "$(mib_of "$REMAPFS_PID" RssAnon)" "$(mib_of "$REMAPFS_PID" VmHWM)" \
    "$(awk '$1 == "Threads:" { print $2 }' "/proc/$REMAPFS_PID/status")"
}

# run_load RW BS DEPTH: one fio load on the disk file; the daemon's RSS is
# read half way through it (by a sleeper in the background).
run_load() {
  local rw=$1 bs=$2 depth=$3
  rm -f "$work/during"
  (sleep "$(awk -v t="$RUNTIME" 'BEGIN { print t / 2 }')" &&
    mib_of "$REMAPFS_PID" VmRSS >"$work/during") 2>/dev/null &
  fio_iops "$EXPOSED" "$rw" "$bs" "$RUNTIME" --ioengine=libaio --direct=1 --iodepth="$depth"
  wait $! 2>/dev/null || true
  report "$rw $bs QD$depth" "$FIO_IOPS" "$(cat "$work/during" 2>/dev/null || echo -)"
}

# The mappings that hold most of the RSS, then the totals by kind: a thread
# stack is an anonymous mapping of the default 8 MiB stack size, a file
# mapping names its file, the rest is the malloc heap and mmapped buffers
# (the kernel merges neighbouring ones into one mapping).
largest_mappings() {
  local rows
  rows=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Size:/ { size = $2 }
    /^Rss:/ { kind = name != "" ? name : (size == 8192 ? "thread stack" : "anonymous")
              printf "%d %d %s\n", $2, size, kind }' "/proc/$1/smaps")
  sort -rn <<<"$rows" | head -8 |
    awk '{ kind = $3; for (i = 4; i <= NF; i++) kind = kind " " $i
           printf "  %7.1f MiB rss of %7.1f MiB  %s\n", $1 / 1024, $2 / 1024, kind }'
  awk '$3 ~ /^\// { files += $1; next } $3 == "thread" { stacks += $1; next }
       $3 == "anonymous" { anon += $1; next } { other += $1 }
       END { printf "  totals: anonymous %.1f MiB, thread stacks %.1f MiB, files %.1f MiB, " \
                    "other ([heap], [stack], vdso) %.1f MiB\n",
                    anon / 1024, stacks / 1024, files / 1024, other / 1024 }' <<<"$rows"
}

run_mode() {  # run_mode LABEL [mount options...]
  local label=$1 target
  shift
  rm -f "$work/spare.img"
  "$REMAPFS" format "$work/main.img" "$work/spare.img" --spare-size 256M >/dev/null ||
    bench_die "$REMAPFS format failed"
  remapfs_start "$REMAPFS" "$work/main.img" "$work/spare.img" "$work/mnt" "$@" \
    --log-level warn || bench_die "mount failed"
  if ((REMAPS > 0)); then echo "0+$REMAPS" >"$work/mnt/control/add_bad"; fi
  target=$(awk -v r="$REMAPS" 'BEGIN { printf "%.1f", 32 + r * 64 / 1048576 }')
  echo "== $label: $REMAPS remaps, target $target MiB (32 MiB + 64 B per remap)"
  printf '%-18s %7s %10s %9s %9s %9s %8s\n' phase iops load_rss rss_mib anon_mib hwm_mib \
    threads
  report "after mount" - -
  run_load randread 4k 32
  run_load read 1M 16
  run_load randwrite 4k 32
  run_load write 1M 16
  sleep "$IDLE"
  report "idle ${IDLE}s after" - -
  awk -v hwm="$(mib_of "$REMAPFS_PID" VmHWM)" -v t="$target" 'BEGIN {
    printf "peak RSS (VmHWM) %.1f MiB: %s the target of %.1f MiB\n", hwm,
           hwm <= t ? "within" : "OVER", t }'
  echo "largest mappings (idle, after the loads):"
  largest_mappings "$REMAPFS_PID"
  "${BENCH_STOP[@]}"
}

run_mode "buffered"
run_mode "--direct-io on" --direct-io on
