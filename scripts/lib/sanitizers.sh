# shellcheck shell=bash
# shellcheck disable=SC2034  # SANITIZER_* are read by meson_stage (stages.sh)
# Sanitizer builds for scripts/test.sh: their meson options, the runtime
# options every process of a stage gets (tests, helpers and the daemons the
# integration tests start) and the check for reports. Sourced, not run.
#
# Sanitizers: none, asan (AddressSanitizer + UndefinedBehaviorSanitizer,
# leaks included), tsan (ThreadSanitizer). docs/sanitizers.md explains the
# choices.

# sanitizer_meson_options SANITIZER: the `meson setup` options, one a line.
sanitizer_meson_options() {
  case $1 in
    none) ;;
    # -fno-sanitize-recover: UBSan aborts at the first report instead of
    # printing it and going on, so the test that hit it fails.
    asan) printf '%s\n' -Db_sanitize=address,undefined -Dcpp_args=-fno-sanitize-recover=all ;;
    tsan) printf '%s\n' -Db_sanitize=thread ;;
    *) echo "unknown sanitizer '$1'" >&2; return 1 ;;
  esac
}

SANITIZER_REPORTS=""    # the log_path directory of the running stage
SANITIZER_TEST_ARGS=()  # extra `meson test` arguments for the stage

# sanitizer_begin SANITIZER: exports the runtime options for the stage's
# tests and everything they start.
#
# Reports go to files (log_path), not stderr: a daemon's stderr is a log
# the test deletes, and a report from a daemon whose test still passed
# would be lost. Each process writes PREFIX.EXE.PID, opened on its first
# report. The directory is under /tmp, mode 1777, because the
# `unprivileged` test runs the daemon as a plain user who may not reach the
# build tree; sanitizer_end moves the reports into the build directory.
sanitizer_begin() {
  local sanitizer=$1
  SANITIZER_TEST_ARGS=()
  unset ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS REMAPFS_STRESS_WRITES REMAPFS_SANITIZER_REPORTS
  [[ $sanitizer == none ]] && return 0
  SANITIZER_REPORTS=$(mktemp -d "/tmp/remapfs-$sanitizer-reports.XXXXXX")
  chmod 1777 "$SANITIZER_REPORTS"
  local common="log_path=$SANITIZER_REPORTS/$sanitizer:log_exe_name=1"
  # GCC 12's UBSan, linked beside ASan, ignores log_path and reports on
  # stderr: the integration tests copy such output here (lib.sh).
  export REMAPFS_SANITIZER_REPORTS=$SANITIZER_REPORTS
  case $sanitizer in
    asan)
      # Stop at the first error and abort, so the process dies by SIGABRT
      # and its test fails as well as the report check.
      export ASAN_OPTIONS="$common:halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
      export UBSAN_OPTIONS="$common:halt_on_error=1:abort_on_error=1:print_stacktrace=1"
      # Three times the tests' timeouts: ASan maps every large buffer
      # afresh, and the harnesses that copy whole devices at each step run
      # 10-40 times slower (crash: 7 minutes on 2 busy cores).
      SANITIZER_TEST_ARGS=(--timeout-multiplier 3)
      ;;
    tsan)
      # Go on after a race (halt_on_error=0) so one run shows every
      # distinct race; the process still exits 66 at the end, failing its
      # test.
      export TSAN_OPTIONS="$common:halt_on_error=0:second_deadlock_stack=1"
      # A quarter of the stress test's writes (its comment says why).
      export REMAPFS_STRESS_WRITES=750
      SANITIZER_TEST_ARGS=(--timeout-multiplier 3)
      ;;
  esac
  echo "sanitizer options:"
  env | grep -E '^(ASAN|UBSAN|TSAN)_OPTIONS=|^REMAPFS_(STRESS_WRITES|SANITIZER_REPORTS)=' | sed 's/^/  /'
}

# sanitizer_end BUILD_DIR: fails, printing them, if the stage left any
# sanitizer report; they are kept in BUILD_DIR/sanitizer-reports/.
sanitizer_end() {
  local dir=$1 reports=() report
  unset ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS REMAPFS_STRESS_WRITES REMAPFS_SANITIZER_REPORTS
  mapfile -t reports < <(find "$SANITIZER_REPORTS" -type f | sort)
  if (( ${#reports[@]} == 0 )); then
    rmdir "$SANITIZER_REPORTS"
    echo "sanitizer reports: none"
    return 0
  fi
  mkdir -p "$dir/sanitizer-reports"
  echo "sanitizer reports: ${#reports[@]} (kept in $dir/sanitizer-reports/)"
  for report in "${reports[@]}"; do
    echo "---- $(basename "$report")"
    # A report is a few dozen lines; a runaway one is cut, the file keeps it.
    head -n 200 "$report"
    { echo "---- sanitizer report $(basename "$report")"; head -n 40 "$report"; } >>"${FAILURE_RECAP:-/dev/null}"
    mv "$report" "$dir/sanitizer-reports/"
  done
  rmdir "$SANITIZER_REPORTS"
  return 1
}
