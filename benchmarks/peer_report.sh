# shellcheck shell=bash
# shellcheck disable=SC2153  # the caller's globals
# The markdown that benchmarks/peers.sh prints: what was run and how, the
# peer table (ratios to the raw file), the remap-heavy table (peer_remaps.sh)
# and the spread between rounds. Sourced; reads the caller's settings and
# IOPS.

# cell KEY BASEKEY: "median (ratio to the base's median)"
cell() {
  local v b
  [[ -n ${IOPS[$1]:-} ]] || { echo "n/a"; return; }
  # shellcheck disable=SC2086  # the rounds' values, split on purpose
  v=$(median ${IOPS[$1]})
  # shellcheck disable=SC2086
  b=$(median ${IOPS[$2]:-0})
  awk -v v="$v" -v b="$b" 'BEGIN { if (b > 0) printf "%.0f (%.2fx)", v, v / b
                                   else printf "%.0f", v }'
}

# the command line that repeats this run (the options that matter)
run_command() {
  local cmd="benchmarks/peers.sh"
  [[ $MODE == default ]] || cmd+=" --$MODE"
  echo "$cmd --rounds $ROUNDS --order-seed $ORDER_SEED --runtime $RUNTIME --ramp $RAMP" \
    "--settle $SETTLE --size $SIZE_MIB --targets \"$TARGETS\" --remaps \"$LEVELS\"" \
    "--spare-size $REMAP_SPARE --batch $BATCH --seed $SEED"
}

header() {
  local r
  echo "## remapfs peer benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r)," \
    "load average at the end $(cut -d' ' -f1-3 /proc/loadavg), image $SIZE_MIB MiB" \
    "on $(df --output=fstype "$BENCH_TMP" | tail -n 1)."
  echo "remapfs $REMAPFS, source $(git -C "$HERE" describe --always --dirty 2>/dev/null || echo '?')."
  echo "fio $(fio --version), libaio, direct=1 on the exposed file, ${RUNTIME} s + ${RAMP} s ramp per job;"
  echo "before every job: sync, drop of the page cache, ${SETTLE} s of quiet."
  echo "$ROUNDS rounds, each unit once per round, the order shuffled per round (--order-seed $ORDER_SEED):"
  for ((r = 1; r <= ROUNDS; r++)); do echo "round $r: ${ROUND_ORDERS[r - 1]}."; done
  echo "Median IOPS over the rounds (seq 1M: 1 IOPS = 1 MiB/s). Repeat with:"
  echo
  echo "    sudo $(run_command)"
  echo
  [[ $MODE == smoke ]] && echo "**Smoke run: tiny sizes and 1 s jobs; the figures mean nothing.**" && echo
  return 0
}

peer_table() {
  local t j row title="| target |" rule="|---|"
  for j in "${JOBS[@]}"; do title+=" ${JOB_LABEL[$j]} |" rule+="---:|"; done
  echo "### Peers: median IOPS (ratio to the raw file, same run)"
  echo
  echo "$title"
  echo "$rule"
  for t in $(units); do
    [[ $t == remaps:* ]] && continue
    row="| ${TARGET_LABEL[$t]:-$t} |"
    if [[ -n ${NA[$t]:-} ]]; then
      row+=" n/a: ${NA[$t]} |"
    else
      for j in "${JOBS[@]}"; do row+=" $(cell "$t,$j" "raw,$j") |"; done
    fi
    echo "$row"
  done
  echo
}

# median_of KEY: the median IOPS of one cell, empty when it did not run
median_of() {
  # shellcheck disable=SC2086  # the rounds' values, split on purpose
  if [[ -n ${IOPS[$1]:-} ]]; then median ${IOPS[$1]}; fi
}

# peer_row MODE JOB PEERS: | remapfs | job | remapfs IOPS | fastest peer |
# its IOPS | ratio | target | met? |: remapfs in MODE (remapfs or
# remapfs-dio) against the fastest of PEERS that ran the job; ahead of it
# is ahead of all.
peer_row() {
  local peer v best="" best_v=0 r ratio label="| ${TARGET_LABEL[$1]} | ${JOB_LABEL[$2]} |"
  for peer in $3; do
    v=$(median_of "$peer,$2")
    [[ -n $v ]] && awk -v v="$v" -v b="$best_v" 'BEGIN {exit !(v > b)}' && best=$peer best_v=$v
  done
  r=$(median_of "$1,$2")
  if [[ -z $r || -z $best ]]; then
    echo "$label n/a | n/a | n/a | n/a | > 1.00x | - |"
    return
  fi
  ratio=$(awk -v r="$r" -v p="$best_v" 'BEGIN {printf "%.2f", (p > 0 ? r / p : 99)}')
  # "ahead" is strictly faster: 1.00x printed is no win
  verdict "$ratio" '>=' 1.01
  echo "$label $(printf '%.0f' "$r") | ${TARGET_LABEL[$best]} | $(printf '%.0f' "$best_v") |" \
    "${ratio}x | > 1.00x | $VERDICT |"
}

# peer_target_table: issue #10's target 5, checked on the peer table's
# cells: remapfs ahead of its peers on every job in both modes, each mode
# against the peers of its kind, as the issue compared them: buffered
# against qemu-storage-daemon with the page cache (cache.direct=off) and
# nbdkit+nbdfuse (whose file plugin uses the page cache too), --direct-io
# on against qemu-storage-daemon with cache.direct=on; and with
# --direct-io on, rand read 4k >= 0.6x the raw file.
peer_target_table() {
  local j r raw ratio MET=0 CHECKED=0 VERDICT
  echo "Issue #10's target 5 on the cells above: each remapfs mode against the fastest peer of its"
  echo "kind (buffered: qemu-storage-daemon cache.direct=off, nbdkit+nbdfuse; --direct-io on:"
  echo "qemu-storage-daemon cache.direct=on), and --direct-io on against the raw file:"
  echo
  echo "| remapfs | job | remapfs IOPS | against | its IOPS | ratio | target | met? |"
  echo "|---|---|---:|---|---:|---:|---:|---|"
  for j in "${JOBS[@]}"; do peer_row remapfs "$j" "qsd nbd"; done
  for j in "${JOBS[@]}"; do peer_row remapfs-dio "$j" qsd-direct; done
  r=$(median_of remapfs-dio,randread) raw=$(median_of raw,randread)
  if [[ -n $r && -n $raw ]]; then
    ratio=$(awk -v r="$r" -v b="$raw" 'BEGIN {printf "%.2f", (b > 0 ? r / b : 0)}')
    verdict "$ratio" '>=' 0.60
    echo "| ${TARGET_LABEL[remapfs-dio]} | ${JOB_LABEL[randread]} | $(printf '%.0f' "$r") |" \
      "${TARGET_LABEL[raw]} | $(printf '%.0f' "$raw") | ${ratio}x | >= 0.60x | $VERDICT |"
  fi
  echo
  echo "Targets met: $MET of $CHECKED."
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
  ((DO_PEERS)) && peer_table && peer_target_table
  ((DO_REMAPS)) && remap_table
  spread_note
  ((FAILED == 0)) || echo "**Some jobs or targets failed: see the log on stderr.**"
  return 0
}
