#!/usr/bin/env bash
# Peer benchmark (#10): the same fio jobs against the raw image file, remapfs
# (buffered and --direct-io on), qemu-storage-daemon's FUSE export
# (cache.direct off and on) and nbdkit's file plugin behind nbdfuse; then
# remapfs --direct-io on with many scattered remaps, its figures printed
# beside the issue's targets. Each round runs every unit (a peer target or a
# remap count) once, in an order shuffled per round from a printed seed, so
# neither a unit's place in the round nor what ran before it favours it.
# Every job starts after a sync and a drop of the page cache; every remapfs
# spare is copied afresh from a pristine copy before each mount. A cell is
# the median over the rounds and its ratio to the baseline measured in the
# same run. Markdown on stdout, progress on stderr. Installs nothing; builds
# remapfs from this checkout into build-bench/ unless --remapfs is given.
#   usage: benchmarks/peers.sh [--smoke | --quick] [options]   (see --help)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benchmarks/lib.sh
source "$HERE/lib.sh"
# shellcheck source=benchmarks/peer_targets.sh
source "$HERE/peer_targets.sh"
# shellcheck source=benchmarks/peer_remaps.sh
source "$HERE/peer_remaps.sh"
# shellcheck source=benchmarks/peer_report.sh
source "$HERE/peer_report.sh"

usage() {
  cat <<EOF
usage: benchmarks/peers.sh [options]      (as root)
  --smoke             a tiny run proving that every unit starts and stops:
                      64 MiB image, 1 s jobs, no ramp, 2 rounds, remaps
                      "0 100 1000", 16M spare, 400 per add_bad write
  --quick             3 s per fio job, 1 s ramp (default: 10 s, 2 s ramp)
  --runtime S         seconds per fio job;  --ramp S  ramp seconds before it
  --settle S          quiet seconds after each sync + cache drop (default 1)
  --rounds N          rounds, median over them (default 3)
  --order-seed N      seed of the per-round shuffle (default 1)
  --size MIB          image size in MiB (default 1024)
  --targets "T ..."   peer targets (default: ${TARGETS_ALL[*]}); raw always runs
  --remaps "N ..."    remap counts of the remap-heavy table, the first one the
                      baseline (default "0 10000 110000")
  --spare-size SIZE   spare of the remap-heavy table (default 256M)
  --batch N           sectors per add_bad write (default 10000)
  --seed N            seed of the scattered sectors (default 10)
  --no-peers | --no-remaps   leave out one of the two tables
  --dir DIR           where the work folder (image, spares, mounts) goes
                      (default /var/tmp); removed on any exit
  --remapfs BIN       this remapfs binary (default: build this checkout
                      into build-bench/ with meson and ninja)
  --out FILE          also write the tables to FILE
Needs root, fio, fusermount3 (fuse3), python3 and, for the peers,
qemu-storage-daemon (qemu-system-common), nbdkit and nbdfuse (libnbd-bin):
REMAPFS_BENCH_DEB_PACKAGES in scripts/lib/deps.sh. A missing one stops the
run before it starts, naming the packages; --targets leaves a peer out.
EOF
}

RUNTIME=10 RAMP=2 SETTLE=1 ROUNDS=3 ORDER_SEED=1 SIZE_MIB=1024 TARGETS="${TARGETS_ALL[*]}"
LEVELS="0 10000 110000" REMAP_SPARE=256M BATCH=10000 SEED=10
DO_PEERS=1 DO_REMAPS=1 PARENT=/var/tmp REMAPFS_ARG="" OUT="" MODE=default

parse_args() {
  while (($#)); do
    case $1 in
      --smoke)
        MODE=smoke RUNTIME=1 RAMP=0 SETTLE=0 ROUNDS=2 SIZE_MIB=64
        LEVELS="0 100 1000" REMAP_SPARE=16M BATCH=400 ;;
      --quick) MODE=quick RUNTIME=3 RAMP=1 ;;
      --runtime) RUNTIME=$2; shift ;;
      --ramp) RAMP=$2; shift ;;
      --settle) SETTLE=$2; shift ;;
      --rounds) ROUNDS=$2; shift ;;
      --order-seed) ORDER_SEED=$2; shift ;;
      --size) SIZE_MIB=$2; shift ;;
      --targets) TARGETS=$2; shift ;;
      --remaps) LEVELS=$2; shift ;;
      --spare-size) REMAP_SPARE=$2; shift ;;
      --batch) BATCH=$2; shift ;;
      --seed) SEED=$2; shift ;;
      --no-peers) DO_PEERS=0 ;;
      --no-remaps) DO_REMAPS=0 ;;
      --dir) PARENT=$2; shift ;;
      --remapfs) REMAPFS_ARG=$2; shift ;;
      --out) OUT=$2; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; bench_die "unknown argument: $1" ;;
    esac
    shift
  done
}

# id -> "rw bs iodepth", and the column titles
JOBS=(seqread seqwrite randread randwrite)
declare -A JOB_SPEC=([seqread]="read 1M 16" [seqwrite]="write 1M 16"
  [randread]="randread 4k 32" [randwrite]="randwrite 4k 32")
declare -A JOB_LABEL=([seqread]="seq read 1M QD16" [seqwrite]="seq write 1M QD16"
  [randread]="rand read 4k QD32" [randwrite]="rand write 4k QD32")

declare -A NA=()   # target -> why it is not measured
declare -A IOPS=() # "target,job" or "remaps=N,job" -> IOPS of each round
ROUND_ORDERS=()    # [round - 1] -> its units, in the order they run
FAILED=0

# run_job FILE JOB: the job's IOPS in FIO_IOPS
run_job() {
  local rw bs qd
  read -r rw bs qd <<<"${JOB_SPEC[$2]}"
  drop_caches "$SETTLE"
  fio_iops "$1" "$rw" "$bs" "$RUNTIME" --ioengine=libaio --direct=1 --iodepth="$qd" \
    --ramp_time="$RAMP" --norandommap --randrepeat=0
}

# run_jobs KEY FILE: the jobs in a fixed order (so each unit's seq read
# comes right after its mount), each IOPS appended to IOPS[KEY,job]
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

# check_tools: stops the run before any work if a unit could not run.
check_tools() {
  local t specs=(fio:fio fusermount3:fuse3 python3:python3)
  ((DO_PEERS)) || TARGETS=""
  [[ -n $(units) ]] || bench_die "nothing to run (--no-peers and --no-remaps)"
  for t in $TARGETS; do
    case $t in
      raw | remapfs | remapfs-dio) ;;
      qsd | qsd-direct) specs+=(qemu-storage-daemon:qemu-system-common) ;;
      nbd) specs+=(nbdkit:nbdkit nbdfuse:libnbd-bin) ;;
      *) bench_die "unknown target $t (known: ${TARGETS_ALL[*]})" ;;
    esac
  done
  require_tools "${specs[@]}"
  [[ $(id -u) == 0 ]] || bench_die "run as root: every job starts after a drop of the page cache"
}

# units: raw, the other peer targets, then "remaps:N" for each remap count.
units() {
  local t n list=()
  if ((DO_PEERS)); then
    list=(raw)
    for t in $TARGETS; do [[ $t == raw ]] || list+=("$t"); done
  fi
  if ((DO_REMAPS)); then
    for n in $LEVELS; do list+=("remaps:$n"); done
  fi
  echo "${list[*]}"
}

# plan_rounds: ROUND_ORDERS, a fresh shuffle of the units for each round,
# drawn from ORDER_SEED by python's generator (the same on every machine).
plan_rounds() {
  mapfile -t ROUND_ORDERS < <(python3 -c 'import random, sys
rng, units = random.Random(int(sys.argv[1])), sys.argv[3].split()
for _ in range(int(sys.argv[2])):
    rng.shuffle(units)
    print(" ".join(units))' "$ORDER_SEED" "$ROUNDS" "$(units)")
  ((${#ROUND_ORDERS[@]} == ROUNDS)) || bench_die "could not plan $ROUNDS rounds"
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

# make_image: IMG, random data, fully allocated; the peers' remapfs spare.
make_image() {
  IMG=$BENCH_TMP/disk.img
  bench_log "writing a $SIZE_MIB MiB image of random data"
  dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MIB" conv=fsync status=none
  "$REMAPFS" format "$IMG" "$BENCH_TMP/spare.pristine" --spare-size 64M >/dev/null ||
    bench_die "$REMAPFS format failed"
}

main() {
  local r u
  parse_args "$@"
  check_tools
  bench_remapfs "$REMAPFS_ARG"
  plan_rounds
  bench_setup "$PARENT"
  make_image
  ((DO_REMAPS)) && prepare_remaps
  for ((r = 1; r <= ROUNDS; r++)); do
    bench_log "round $r order: ${ROUND_ORDERS[r - 1]}"
    for u in ${ROUND_ORDERS[r - 1]}; do
      case $u in
        remaps:*) remap_round "${u#remaps:}" "$r" ;;
        *) peer_round "$u" "$r" ;;
      esac
    done
  done
  if [[ -n $OUT ]]; then report | tee "$OUT"; else report; fi
  exit "$FAILED"
}

main "$@"
