#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz/ from nothing, and runs each one for SECONDS_PER_HARNESS
# (default 20) over a copy of its seed corpus, FUZZ_JOBS (default 2) at a
# time. Installs missing Debian packages first.
#
#   scripts/fuzz.sh          # CI: about 20 s a harness
#   scripts/fuzz.sh 600      # a long run: 10 minutes a harness
#
# Prints one line per harness (executions, result), a summary "fuzz: 8
# harnesses, N executions, 0 failed" and, last, "N passed, N failed, 0
# skipped" over the harnesses (what scripts/test.sh counts). Exits non-zero when any
# harness crashed, broke an invariant, hit a sanitizer report, timed out or
# leaked; the line names the input that did it, saved under
# build-fuzz/artifacts/. Inputs the fuzzer finds go to build-fuzz/corpus/,
# never into the repository's seed corpora.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build-fuzz}
SECONDS_PER_HARNESS=${1:-20}
FUZZ_JOBS=${FUZZ_JOBS:-2}
HARNESSES=(sector_list byte_size inject scrub bad_block_list
           metadata_header table_sector metadata_open)
# shellcheck source=lib/deps.sh
source "$ROOT/scripts/lib/deps.sh"

# UBSan reports are fatal, so libFuzzer saves the input like any crash.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

build() {
  rm -rf "${ROOT:?}/$BUILD_DIR"
  # -O1, as libFuzzer recommends: nearly the speed of -O2, a quicker build.
  CXX=clang++ meson setup "$ROOT/$BUILD_DIR" "$ROOT" -Doptimization=1 -Ddebug=false \
    -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false &&
    ninja -C "$ROOT/$BUILD_DIR" fuzzers
}

# Runs one harness; its log is $BUILD_DIR/logs/NAME.log.
run_harness() {
  local name=$1 dir=$ROOT/$BUILD_DIR
  rm -rf "$dir/corpus/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts/$name"
  cp -r "$ROOT/tests/fuzz/corpus/$name" "$dir/corpus/$name"
  "$dir/tests/fuzz/${name}_fuzz" "$dir/corpus/$name" \
    -max_total_time="$SECONDS_PER_HARNESS" -print_final_stats=1 -timeout=25 \
    -artifact_prefix="$dir/artifacts/$name/" >"$dir/logs/$name.log" 2>&1
}

# Prints "<executions> <seconds> <ok|FAILED> [artifact]" from a harness's
# log and exit code.
verdict() {
  local log=$1 rc=$2 execs secs artifact
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -1)
  if [[ $rc -eq 0 ]] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|INVARIANT FAILED' "$log"; then
    echo "${execs:-0} ${secs:-?} ok"
  else
    echo "${execs:-0} ${secs:-?} FAILED ${artifact:-"(no artifact; see $log)"}"
  fi
}

main() {
  install_deps
  cd "$ROOT"
  if ! build; then
    echo "fuzz: build failed: no harness ran"
    echo "fuzz: 0 harnesses, 0 executions, ${#HARNESSES[@]} failed"
    echo "0 passed, ${#HARNESSES[@]} failed, 0 skipped"
    exit 1
  fi
  mkdir -p "$BUILD_DIR/logs"
  local name
  for name in "${HARNESSES[@]}"; do
    while (( $(jobs -rp | wc -l) >= FUZZ_JOBS )); do wait -n || true; done
    ( rc=0; run_harness "$name" || rc=$?; echo "$rc" >"$BUILD_DIR/logs/$name.rc" ) &
  done
  wait

  local total=0 failed=0 execs secs result artifact
  for name in "${HARNESSES[@]}"; do
    read -r execs secs result artifact < <(verdict "$BUILD_DIR/logs/$name.log" \
                                              "$(cat "$BUILD_DIR/logs/$name.rc")")
    total=$((total + execs))
    if [[ $result == ok ]]; then
      printf 'fuzz: %-16s %10s executions in %s s: ok\n' "$name" "$execs" "$secs"
    else
      failed=$((failed + 1))
      printf 'fuzz: %-16s %10s executions: FAILED, input %s\n' "$name" "$execs" "$artifact"
      grep -m1 -E 'INVARIANT FAILED|ERROR:|runtime error:' -A1 "$BUILD_DIR/logs/$name.log" | sed 's/^/  /' || true
    fi
  done
  echo "fuzz: ${#HARNESSES[@]} harnesses, $total executions, $failed failed"
  # The summary scripts/test.sh counts: one test per harness.
  echo "$(( ${#HARNESSES[@]} - failed )) passed, $failed failed, 0 skipped"
  (( failed == 0 ))
}

main "$@"
