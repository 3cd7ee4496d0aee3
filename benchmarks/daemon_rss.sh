#!/usr/bin/env bash
# The mounted daemon's memory against its target (issue 10): RSS at most
# 32 MiB + 64 bytes per remap. Mounts a 1 GiB MAIN with a 256 MiB spare in
# /var/tmp, buffered and then with --direct-io on, and prints VmRSS, VmHWM
# and the thread count after mount, after each fio load and after the daemon
# has idled, with the IOPS of each load, its RSS half way through, and the
# largest mappings at the end.
# No assertion: the figures are for reading (docs/memory.md explains them).
#   usage: benchmarks/daemon_rss.sh [path/to/remapfs]   (root, fio installed)
#   env:   RUNTIME=10 (seconds per load)  REMAPS=0 (sectors remapped first)
#          IDLE=3 (seconds idle before the last reading)
set -euo pipefail
REMAPFS=$(realpath "${1:-build/cli/remapfs}")
RUNTIME=${RUNTIME:-10}
REMAPS=${REMAPS:-0}
IDLE=${IDLE:-3}
[[ $(id -u) -eq 0 && -c /dev/fuse ]] || { echo "SKIP: needs root and /dev/fuse"; exit 77; }
command -v fio >/dev/null || { echo "SKIP: needs fio"; exit 77; }

work=$(mktemp -d /var/tmp/remapfs-rss.XXXXXX)
cleanup() {
  local job
  for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done  # a fio load
  if mountpoint -q "$work/mnt" 2>/dev/null; then
    fusermount3 -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fallocate -l 1G "$work/main.img"
mkdir "$work/mnt"

# mib_of PID KEY -> a /proc/PID/status value (VmRSS, VmHWM) in MiB.
mib_of() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

report() {  # report PID PHASE IOPS RSS_UNDER_LOAD
  printf '%-18s %7s %10s %9s %9s %8s\n' "$2" "$3" "$4" "$(mib_of "$1" VmRSS)" \
    "$(mib_of "$1" VmHWM)" "$(awk '$1 == "Threads:" { print $2 }' "/proc/$1/status")"
}

# run_load PID RW BS DEPTH: one fio load on the disk file in the mount; the
# daemon's RSS is read half way through it. Reports the phase.
run_load() {
  local pid=$1 rw=$2 bs=$3 depth=$4 during
  fio --name=rss --filename="$work/mnt/main.img" --rw="$rw" --bs="$bs" --iodepth="$depth" \
    --ioengine=libaio --direct=1 --time_based --runtime="$RUNTIME" \
    --output-format=terse --terse-version=3 --output="$work/fio.out" &
  local fio_pid=$!
  sleep "$(awk -v t="$RUNTIME" 'BEGIN { print t / 2 }')"
  during=$(mib_of "$pid" VmRSS)
  wait "$fio_pid"
  report "$pid" "$rw $bs QD$depth" \
    "$(awk -F';' -v rw="$rw" '{ print (rw ~ /read/) ? $8 : $49 }' "$work/fio.out")" "$during"
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
  local label=$1 pid target
  shift
  rm -f "$work/spare.img"
  "$REMAPFS" format "$work/main.img" "$work/spare.img" --spare-size 256M >/dev/null
  "$REMAPFS" mount "$work/main.img" "$work/spare.img" "$work/mnt" "$@" --log-level warn
  pid=$(pgrep -n -f "^$REMAPFS mount $work/main.img") || { echo "no daemon" >&2; exit 1; }
  if ((REMAPS > 0)); then echo "0+$REMAPS" >"$work/mnt/control/add_bad"; fi
  target=$(awk -v r="$REMAPS" 'BEGIN { printf "%.1f", 32 + r * 64 / 1048576 }')
  echo "== $label: $REMAPS remaps, target $target MiB (32 MiB + 64 B per remap)"
  printf '%-18s %7s %10s %9s %9s %8s\n' phase iops load_rss rss_mib hwm_mib threads
  report "$pid" "after mount" - -
  run_load "$pid" randread 4k 32
  run_load "$pid" read 1M 16
  run_load "$pid" randwrite 4k 32
  run_load "$pid" write 1M 16
  sleep "$IDLE"
  report "$pid" "idle ${IDLE}s after" - -
  awk -v hwm="$(mib_of "$pid" VmHWM)" -v t="$target" 'BEGIN {
    printf "peak RSS (VmHWM) %.1f MiB: %s the target of %.1f MiB\n", hwm,
           hwm <= t ? "within" : "OVER", t }'
  echo "largest mappings (idle, after the loads):"
  largest_mappings "$pid"
  fusermount3 -u "$work/mnt"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

run_mode "buffered"
run_mode "--direct-io on" --direct-io on
