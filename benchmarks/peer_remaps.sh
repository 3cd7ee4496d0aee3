# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153  # shared with peers.sh both ways
# The remap-heavy table of benchmarks/peers.sh: remapfs --direct-io on over
# one spare per remap count (all formatted for IMG, so the rounds can go
# from one count to the next), the sectors scattered in a seeded random
# order and added through control/add_bad. Sourced after lib.sh; uses the
# caller's IMG, REMAPFS, LEVELS, REMAP_SPARE, BATCH, SEED, run_jobs, cell.

declare -A RSS=() HWM=()            # remap count -> kB of each round
declare -A ADD_SECS=() ADD_WRITES=() # remap count -> add_bad time, writes

# sector_list N: N distinct sectors of IMG in random order (seeded)
sector_list() {
  python3 -c 'import random, sys
n, k, seed = map(int, sys.argv[1:])
print("\n".join(map(str, random.Random(seed).sample(range(n), k))))' \
    "$(($(stat -c %s "$IMG") / 512))" "$1" "$SEED"
}

# add_remaps MNT N: the first N sectors of the list, BATCH per add_bad
# write (dd writes each batch file with one write(), one request)
add_remaps() {
  local mnt=$1 n=$2 f t0 got writes=0
  head -n "$n" "$BENCH_TMP/sectors" | split -l "$BATCH" - "$BENCH_TMP/batch."
  t0=$(date +%s.%N)
  for f in "$BENCH_TMP"/batch.*; do
    dd if="$f" of="$mnt/control/add_bad" bs=4M conv=notrunc status=none ||
      bench_die "add_bad failed: $(grep last_error "$mnt/control/status")"
    writes=$((writes + 1))
  done
  ADD_SECS[$n]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  ADD_WRITES[$n]=$writes
  rm -f "$BENCH_TMP"/batch.*
  got=$(awk '$1 == "remapped:" {print $2}' "$mnt/control/status")
  [[ $got == "$n" ]] || bench_die "status says remapped: $got after adding $n sectors"
}

prepare_remaps() {
  local n max=0 mnt
  for n in $LEVELS; do ((n > max)) && max=$n; done
  sector_list "$max" >"$BENCH_TMP/sectors"
  for n in $LEVELS; do
    "$REMAPFS" format "$IMG" "$BENCH_TMP/spare-$n.img" --spare-size "$REMAP_SPARE" >/dev/null
    ((n > 0)) || continue
    mnt=$BENCH_TMP/mnt-remaps-$n
    remapfs_start "$REMAPFS" "$IMG" "$BENCH_TMP/spare-$n.img" "$mnt" --direct-io on ||
      bench_die "remapfs did not mount $mnt"
    bench_log "adding $n scattered remaps, $BATCH per write"
    add_remaps "$mnt" "$n"
    bench_log "  took ${ADD_SECS[$n]} s"
    stop_target
  done
}

# memory KEY PID: VmRSS and VmHWM (kB) of the daemon, after its jobs
memory() {
  RSS[$1]+=" $(awk '$1 == "VmRSS:" {print $2}' "/proc/$2/status")"
  HWM[$1]+=" $(awk '$1 == "VmHWM:" {print $2}' "/proc/$2/status")"
}

remap_round() {
  local n=$1 mnt=$BENCH_TMP/mnt-remaps-$1
  bench_log "round $2: remapfs --direct-io on, $n remaps"
  if remapfs_start "$REMAPFS" "$IMG" "$BENCH_TMP/spare-$n.img" "$mnt" --direct-io on; then
    run_jobs "remaps=$n" "$EXPOSED"
    memory "$n" "$REMAPFS_PID"
  else
    bench_log "remapfs did not mount $mnt"
    FAILED=1
  fi
  stop_target
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

remap_table() {
  local n j row base=${LEVELS%% *}
  echo "### remapfs --direct-io on, scattered remaps: median IOPS (ratio to $base remaps)"
  echo
  echo "$SIZE_MIB MiB main, $REMAP_SPARE spare, sectors of 512 B in random order (seed $SEED), $BATCH per add_bad write."
  echo
  echo "| remaps | ${JOB_LABEL[seqread]} | ${JOB_LABEL[randread]} | ${JOB_LABEL[randwrite]} | daemon VmRSS / VmHWM | add_bad writes |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for n in $LEVELS; do
    row="| $n |"
    for j in "${JOBS[@]}"; do row+=" $(cell "remaps=$n,$j" "remaps=$base,$j") |"; done
    # shellcheck disable=SC2086
    if [[ -n ${RSS[$n]:-} ]]; then
      row+=" $(mib "$(median ${RSS[$n]})") / $(mib "$(median ${HWM[$n]})") MiB |"
    else
      row+=" n/a |"
    fi
    if ((n > 0)); then row+=" ${ADD_WRITES[$n]} in ${ADD_SECS[$n]} s |"; else row+=" - |"; fi
    echo "$row"
  done
  echo
}

