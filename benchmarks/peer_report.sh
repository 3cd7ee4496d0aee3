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
  echo "Issue #10 sets no target for this table: the ratios are for reading."
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
  ((DO_REMAPS)) && remap_table
  spread_note
  ((FAILED == 0)) || echo "**Some jobs or targets failed: see the log on stderr.**"
  return 0
}
