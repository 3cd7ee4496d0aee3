#!/usr/bin/env bash
# Peer benchmark: the same fio jobs against the raw image file, remapfs
# (buffered and --direct-io on), qemu-storage-daemon's FUSE export
# (cache.direct off and on) and nbdkit's file plugin behind nbdfuse; then
# remapfs --direct-io on with many scattered remaps. Rounds are interleaved
# (raw, A, B, ... again and again) so drift hits every target alike; each
# cell is the median IOPS over the rounds and its ratio to the baseline
# measured in the same run. Markdown on stdout. Installs nothing: a target
# whose tool is missing is refused, said so, and shown as n/a.
#   usage: benchmarks/peers.sh [--quick] [options]   (see --help)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benchmarks/lib.sh
source "$HERE/lib.sh"
# shellcheck source=benchmarks/peer_targets.sh
source "$HERE/peer_targets.sh"
# shellcheck source=benchmarks/peer_remaps.sh
source "$HERE/peer_remaps.sh"

usage() {
  cat <<EOF
usage: benchmarks/peers.sh [options]
  --quick             3 s per fio job, 1 s ramp (default: 10 s, 2 s ramp)
  --runtime S         seconds per fio job;  --ramp S  ramp seconds before it
  --rounds N          interleaved rounds, median over them (default 3)
  --size MIB          image size in MiB (default 1024)
  --targets "T ..."   peer targets (default: ${TARGETS_ALL[*]}); raw always runs
  --remaps "N ..."    remap counts of the remap-heavy table (default "0 10000 110000")
  --spare-size SIZE   spare of the remap-heavy table (default 256M)
  --batch N           sectors per add_bad write (default 10000)
  --seed N            seed of the scattered sectors (default 10)
  --no-peers | --no-remaps   leave out one of the two tables
  --no-drop-caches    keep the page cache between jobs (default: sync and
                      drop it before each job, as root)
  --dir DIR           where the work folder (image, spares, mounts) goes (default /var/tmp)
  --remapfs BIN       remapfs binary (default build/cli/remapfs)
  --out FILE          also write the tables to FILE
Needs fio; for the peers qemu-storage-daemon (qemu-system-common), nbdkit and
nbdfuse (libnbd-bin), the list REMAPFS_BENCH_DEB_PACKAGES of scripts/lib/deps.sh;
python3 for the sector list. Root to drop the page cache between jobs.
EOF
}

RUNTIME=10 RAMP=2 ROUNDS=3 SIZE_MIB=1024 TARGETS="${TARGETS_ALL[*]}"
LEVELS="0 10000 110000" REMAP_SPARE=256M BATCH=10000 SEED=10
DO_PEERS=1 DO_REMAPS=1 DROP=1 PARENT=/var/tmp REMAPFS=build/cli/remapfs OUT=""

parse_args() {
  while (($#)); do
    case $1 in
      --quick) RUNTIME=3 RAMP=1 ;;
      --runtime) RUNTIME=$2; shift ;;
      --ramp) RAMP=$2; shift ;;
      --rounds) ROUNDS=$2; shift ;;
      --size) SIZE_MIB=$2; shift ;;
      --targets) TARGETS=$2; shift ;;
      --remaps) LEVELS=$2; shift ;;
      --spare-size) REMAP_SPARE=$2; shift ;;
      --batch) BATCH=$2; shift ;;
      --seed) SEED=$2; shift ;;
      --no-peers) DO_PEERS=0 ;;
      --no-remaps) DO_REMAPS=0 ;;
      --no-drop-caches) DROP=0 ;;
      --dir) PARENT=$2; shift ;;
      --remapfs) REMAPFS=$2; shift ;;
      --out) OUT=$2; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; bench_die "unknown argument: $1" ;;
    esac
    shift
  done
}

# id -> "rw bs iodepth", and the column titles
JOBS=(seqread randread randwrite)
declare -A JOB_SPEC=([seqread]="read 1M 16" [randread]="randread 4k 32" [randwrite]="randwrite 4k 32")
declare -A JOB_LABEL=([seqread]="seq read 1M QD16" [randread]="rand read 4k QD32"
  [randwrite]="rand write 4k QD32")

declare -A NA=()      # target -> why it is not measured
declare -A IOPS=()    # "target,job" or "remaps=N,job" -> IOPS of each round
FAILED=0

drop_caches() {
  ((DROP)) && [[ -w /proc/sys/vm/drop_caches ]] || return 0
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# run_job FILE JOB: the job's IOPS in FIO_IOPS
run_job() {
  local rw bs qd
  read -r rw bs qd <<<"${JOB_SPEC[$2]}"
  drop_caches
  fio_iops "$1" "$rw" "$bs" "$RUNTIME" --ioengine=libaio --direct=1 --iodepth="$qd" \
    --ramp_time="$RAMP" --norandommap --randrepeat=0
}

# run_jobs KEY FILE: the three jobs, each IOPS appended to IOPS[KEY,job]
run_jobs() {
  local j
  for j in "${JOBS[@]}"; do
    if run_job "$2" "$j"; then
      IOPS[$1,$j]+=" $FIO_IOPS"
      bench_log "  $j: $FIO_IOPS IOPS"
    else
      bench_log "$1: fio $j failed (its output is above)"
      FAILED=1
    fi
  done
}

# raw first (the baseline), then the others in the order given
order_targets() {
  local t list=raw
  for t in $TARGETS; do [[ $t == raw ]] || list+=" $t"; done
  TARGETS=$list
}

check_targets() {
  local t why
  for t in $TARGETS; do
    why=$(target_missing "$t" | head -n 1)
    [[ -z $why ]] && continue
    NA[$t]=$why
    bench_log "refused $t: $why; it is n/a in the table"
  done
}

peer_round() {
  local t=$1
  [[ -n ${NA[$t]:-} ]] && return 0
  bench_log "round $2: $t"
  if start_target "$t"; then
    run_jobs "$t" "$EXPOSED"
  else
    NA[$t]="failed to start (see stderr)"
    FAILED=1
  fi
  stop_target
}

make_image() {
  IMG=$BENCH_TMP/disk.img
  SPARE=$BENCH_TMP/spare.img
  bench_log "writing a $SIZE_MIB MiB image of random data"
  dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MIB" conv=fsync status=none
  [[ -x $REMAPFS ]] || return 0
  "$REMAPFS" format "$IMG" "$SPARE" --spare-size 64M >/dev/null
}

# ---- output

# cell KEY BASEKEY: "median (ratio to the base's median)"
cell() {
  local v b
  [[ -n ${IOPS[$1]:-} ]] || { echo "n/a"; return; }
  # shellcheck disable=SC2086  # the rounds' values, split on purpose
  v=$(median ${IOPS[$1]})
  # shellcheck disable=SC2086
  b=$(median ${IOPS[$2]:-0} 2>/dev/null || echo 0)
  awk -v v="$v" -v b="$b" 'BEGIN { if (b > 0) printf "%.0f (%.2fx)", v, v / b
                                   else printf "%.0f", v }'
}

header() {
  echo "## remapfs peer benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r), image $SIZE_MIB MiB"
  echo "on $(df --output=fstype "$BENCH_TMP" | tail -n 1), remapfs $(git -C "$HERE" describe --always --dirty 2>/dev/null || echo '?')."
  echo "fio $(fio --version), libaio, direct=1 on the exposed file, ${RUNTIME} s + ${RAMP} s ramp per job,"
  echo "$ROUNDS interleaved rounds, median IOPS per cell (seq read: 1 IOPS = 1 MiB/s)."
  if ((DROP)) && [[ -w /proc/sys/vm/drop_caches ]]; then
    echo "Page cache synced and dropped before every job."
  else
    echo "Page cache NOT dropped between jobs."
  fi
  echo
}

peer_table() {
  local t j row
  echo "### Peers: median IOPS (ratio to the raw file, same run)"
  echo
  echo "| target | ${JOB_LABEL[seqread]} | ${JOB_LABEL[randread]} | ${JOB_LABEL[randwrite]} |"
  echo "|---|---:|---:|---:|"
  for t in $TARGETS; do
    row="| ${TARGET_LABEL[$t]:-$t} |"
    if [[ -n ${NA[$t]:-} ]]; then
      row+=" n/a: ${NA[$t]} | n/a | n/a |"
    else
      for j in "${JOBS[@]}"; do row+=" $(cell "$t,$j" "raw,$j") |"; done
    fi
    echo "$row"
  done
  echo
}

# spread_note: how far apart the rounds of one cell lie (max/min IOPS)
spread_note() {
  local k
  ((ROUNDS > 1)) || return 0
  for k in "${!IOPS[@]}"; do
    # shellcheck disable=SC2086
    printf '%s\n' ${IOPS[$k]} | sort -g |
      awk -v k="$k" 'NR == 1 {lo = $1} {hi = $1} END {if (lo > 0) printf "%.2f %s\n", hi / lo, k}'
  done | sort -g | awk '{v[NR] = $1; k[NR] = $2} END { if (NR == 0) exit
    printf "Spread between rounds (max/min IOPS of one cell): median %.2f, largest %.2f (%s).\n",
      v[int((NR + 1) / 2)], v[NR], k[NR] }'
}

report() {
  header
  ((DO_PEERS)) && peer_table
  ((DO_REMAPS)) && [[ -x $REMAPFS ]] && remap_table
  ((DO_REMAPS)) && [[ ! -x $REMAPFS ]] && echo "Remap-heavy table: n/a, no remapfs binary at $REMAPFS."
  spread_note
  return 0
}

main() {
  local r t n
  parse_args "$@"
  command -v fio >/dev/null || bench_die "fio not installed (apt-get install fio)"
  [[ -n $REMAPFS ]] && REMAPFS=$(realpath -m "$REMAPFS")
  order_targets
  ((DO_PEERS)) && check_targets
  bench_setup "$PARENT"
  make_image
  if ((DO_REMAPS)) && [[ -x $REMAPFS ]]; then prepare_remaps; fi
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((DO_PEERS)); then
      for t in $TARGETS; do peer_round "$t" "$r"; done
    fi
    ((DO_REMAPS)) && [[ -x $REMAPFS ]] && for n in $LEVELS; do remap_round "$n" "$r"; done
  done
  if [[ -n $OUT ]]; then report | tee "$OUT"; else report; fi
  exit "$FAILED"
}

main "$@"
