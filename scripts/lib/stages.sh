# shellcheck shell=bash
# The stage runner of scripts/test.sh. Sourced, not run.
#
# A stage is a name, a one-line description and a command. The command runs
# the stage from $ROOT and sets STAGE_COUNTS to "passed failed skipped"
# (whatever it ran, including checks that are not tests, such as "no
# sanitizer report"); it returns non-zero when anything failed. A stage that
# fails before any test runs (a build error) must count at least one
# failure, so the last line never reads as a clean run.

STAGE_NAMES=()    # every stage, in the order they were added
DEFAULT_STAGES=() # those a run without --stages takes
declare -A STAGE_INFO=() STAGE_CMD=()

# add_stage NAME DESCRIPTION COMMAND [ARGS...]: a stage of the default run.
add_stage() {
  define_stage "$@"
  DEFAULT_STAGES+=("$1")
}

# add_optional_stage NAME DESCRIPTION COMMAND [ARGS...]: a stage that runs
# only when named (--stages NAME).
add_optional_stage() {
  define_stage "$@"
}

define_stage() {
  local name=$1 info=$2; shift 2
  STAGE_NAMES+=("$name")
  STAGE_INFO[$name]=$info
  STAGE_CMD[$name]=$(printf '%q ' "$@")
}

list_stages() {
  local name default
  for name in "${STAGE_NAMES[@]}"; do
    default=" (only when named)"
    [[ " ${DEFAULT_STAGES[*]} " == *" $name "* ]] && default=""
    printf '  %-10s %s%s\n' "$name" "${STAGE_INFO[$name]}" "$default"
  done
}

# select_stages LIST OUT: sets the array named OUT to the stages of LIST
# (comma- or space-separated, in that order), or to the default stages when
# LIST is empty. Fails on a name no stage has.
select_stages() {
  local list=${1//,/ } name
  local -n out=$2
  out=()
  if [[ -z ${list// /} ]]; then
    out=("${DEFAULT_STAGES[@]}")
    return 0
  fi
  for name in $list; do
    if [[ -z ${STAGE_INFO[$name]+set} ]]; then
      echo "unknown stage '$name'; the stages are:" >&2
      list_stages >&2
      return 1
    fi
    out+=("$name")
  done
}

# Prints "passed failed skipped" from a meson testlog.json (one JSON object
# a line). EXPECTEDFAIL is a pass; UNEXPECTEDPASS, TIMEOUT and ERROR fail.
count_results() {
  python3 - "$1" <<'PY'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        if not line.strip():
            continue
        result = json.loads(line).get("result", "ERROR")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(passed, failed, skipped)
PY
}

# recap_failed_tests LOG: appends to $FAILURE_RECAP the name and the last
# lines of output of each test that failed in the meson testlog.json LOG.
# CI keeps only the end of a run's output, so the run ends with these.
recap_failed_tests() {
  python3 - "$1" >>"${FAILURE_RECAP:-/dev/null}" <<'PY'
import json, sys
with open(sys.argv[1]) as log:
    for line in log:
        if not line.strip():
            continue
        test = json.loads(line)
        if test.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
            continue
        print(f"---- {test.get('name')}: {test.get('result')} "
              f"(exit {test.get('returncode')}, {test.get('duration', 0):.0f} s)")
        out = (test.get("stdout") or "") + (test.get("stderr") or "")
        print("\n".join(out.rstrip().splitlines()[-40:]))
PY
}

# Prints the ninja targets the tests of SUITES... need (what `meson test
# --suite` would rebuild), so a stage that runs one suite builds no more.
suite_targets() {
  local dir=$1; shift
  python3 - "$dir/meson-info" "$@" <<'PY'
import json, os, sys
info, suites = sys.argv[1], set(sys.argv[2:])
with open(os.path.join(info, "intro-targets.json")) as f:
    files = {t["id"]: t["filename"] for t in json.load(f)}
with open(os.path.join(info, "intro-tests.json")) as f:
    tests = json.load(f)
build = os.path.dirname(os.path.abspath(info))
wanted = set()
for test in tests:
    # A suite is listed as "project:suite" and as "suite".
    if suites & {s.split(":")[-1] for s in test["suite"]}:
        for dep in test["depends"]:
            wanted.update(os.path.relpath(f, build) for f in files[dep])
print("\n".join(sorted(wanted)))
PY
}

# meson_stage DIR SANITIZER [MESON_TEST_ARGS...]: configures DIR from
# nothing with SANITIZER's options (sanitizers.sh: none, asan, tsan), builds
# what the tests chosen by `--suite S` arguments need (everything when there
# is none), runs `meson test` with the arguments and, for a sanitizer, fails
# on any report it wrote.
meson_stage() {
  local dir=$1 sanitizer=$2; shift 2
  local test_args=("$@") suites=() targets=() i
  for ((i = 0; i < ${#test_args[@]} - 1; ++i)); do
    [[ ${test_args[i]} == --suite ]] && suites+=("${test_args[i + 1]}")
  done
  STAGE_COUNTS="0 1 0"  # until a test runs: the build counts as one failure

  rm -rf "${ROOT:?}/$dir"
  local options
  mapfile -t options < <(sanitizer_meson_options "$sanitizer")
  if ! meson setup "$dir" "$ROOT" --buildtype=debugoptimized "${options[@]}"; then
    echo "configure failed: no test ran"
    return 1
  fi
  if (( ${#suites[@]} > 0 )); then
    mapfile -t targets < <(suite_targets "$dir" "${suites[@]}")
  fi
  if ! ninja -C "$dir" "${targets[@]}"; then
    echo "build failed: no test ran"
    return 1
  fi

  sanitizer_begin "$sanitizer"
  local rc=0
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
    "${SANITIZER_TEST_ARGS[@]}" "${test_args[@]}" || rc=$?

  local log="$dir/meson-logs/testlog.json" passed=0 failed=0 skipped=0
  if [[ -f $log ]]; then
    read -r passed failed skipped < <(count_results "$log")
    recap_failed_tests "$log"
  fi
  # The report check counts as one check of its own: pass or fail.
  if [[ $sanitizer != none ]]; then
    if sanitizer_end "$dir"; then ((++passed)); else ((++failed)); fi
  fi
  STAGE_COUNTS="$passed $failed $skipped"
  (( rc == 0 && failed == 0 && passed > 0 ))
}

# script_stage SCRIPT [ARGS...]: a stage that is a script of its own. Its
# counts are its last "N passed, N failed, N skipped" line when it prints
# one; otherwise the script is one check, passed when it exits 0.
script_stage() {
  local out rc=0
  out=$(mktemp)
  # The braces keep a failing pipeline from ending the run under set -e.
  { "$@" 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}; } || :
  local last
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$out" | tail -1 || true)
  if (( rc != 0 )) || [[ -n $last && ! $last =~ \ 0\ failed ]]; then
    { echo "---- $*: exit $rc"; tail -n 40 "$out"; } >>"${FAILURE_RECAP:-/dev/null}"
  fi
  rm -f "$out"
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
    STAGE_COUNTS="${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[4]:-0}"
    # A script that failed without counting a failure still fails.
    (( rc == 0 )) || [[ ${BASH_REMATCH[2]} != 0 ]] || STAGE_COUNTS="${BASH_REMATCH[1]} 1 ${BASH_REMATCH[4]:-0}"
  elif (( rc == 0 )); then
    STAGE_COUNTS="1 0 0"
  else
    STAGE_COUNTS="0 1 0"
  fi
  return "$rc"
}

# M:SS
format_seconds() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# run_stages NAME...: runs each stage (all of them, even after a failure,
# so one run reports everything), prints a summary line per stage and a
# table, then the aggregated last line. Exits non-zero if anything failed
# or nothing passed.
run_stages() {
  local name start seconds rc passed failed skipped
  local total_p=0 total_f=0 total_s=0 total_seconds=0 summary=()
  FAILURE_RECAP=$(mktemp)
  for name in "$@"; do
    echo
    echo "==== stage $name: ${STAGE_INFO[$name]}"
    start=$SECONDS
    STAGE_COUNTS="0 1 0"
    rc=0
    eval "${STAGE_CMD[$name]}" || rc=$?
    seconds=$((SECONDS - start))
    read -r passed failed skipped <<<"$STAGE_COUNTS"
    # A stage that failed must show a failure in the counts.
    (( rc == 0 || failed > 0 )) || failed=1
    summary+=("$(printf '  %-8s %4d passed, %3d failed, %3d skipped  %s' \
      "$name" "$passed" "$failed" "$skipped" "$(format_seconds "$seconds")")")
    echo "stage $name: $passed passed, $failed failed, $skipped skipped ($(format_seconds "$seconds"))"
    total_p=$((total_p + passed)) total_f=$((total_f + failed)) total_s=$((total_s + skipped))
    total_seconds=$((total_seconds + seconds))
  done
  if [[ -s $FAILURE_RECAP ]]; then
    echo
    echo "==== what failed (repeated from above, so the end of the log shows it)"
    cat "$FAILURE_RECAP"
  fi
  rm -f "$FAILURE_RECAP"
  echo
  echo "==== summary (wall time per stage)"
  printf '%s\n' "${summary[@]}"
  echo "  total: $(format_seconds "$total_seconds")"
  echo "$total_p passed, $total_f failed, $total_s skipped"
  (( total_f == 0 && total_p > 0 ))
}
