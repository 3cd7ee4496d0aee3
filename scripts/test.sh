#!/usr/bin/env bash
# Builds remapfs from nothing and runs every test suite, in stages. Installs
# missing Debian packages first.
#
#   normal  build-test/  every suite (unit, integration, examples, style:
#                        scripts/format.sh --check), built the way users
#                        build it
#   asan    build-asan/  every suite under AddressSanitizer + UBSan, daemons
#                        included
#   tsan    build-tsan/  the unit suite under ThreadSanitizer, but for the
#                        single-threaded harnesses of the suite 'exhaustive'
#   tsan-full            (only when named) the whole unit suite under TSan
#   fuzz    build-fuzz/  scripts/fuzz.sh: every libFuzzer harness (tests/fuzz)
#                        for about 20 s, built with clang, ASan and UBSan
#   package (a /tmp copy) scripts/package.sh: dpkg-buildpackage, apt-get
#                        install ./remapfs_*.deb, the end-to-end test of the
#                        installed package, apt-get purge (always)
#
# Usage (docs/sanitizers.md says more):
#   scripts/test.sh                      every stage, in order: what CI runs
#   scripts/test.sh --quick              the normal stage only
#   scripts/test.sh --stages asan,tsan   these stages, in this order
#   REMAPFS_STAGES=tsan scripts/test.sh  the same, from the environment
#   scripts/test.sh --list               the stages and what each runs
#
# Every stage wipes its build directory. A sanitizer stage also fails when
# any sanitizer wrote a report (log_path), whether or not the test that ran
# the process noticed: a daemon's report is otherwise lost with its stderr.
#
# Each stage ends with "stage NAME: N passed, N failed, N skipped (M:SS)";
# the last line is always "N passed, N failed, N skipped", summed over the
# stages that ran. A skipped test (exit 77: no root, no /dev/fuse) is never
# counted as passed. Exits non-zero if anything failed or nothing ran.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/deps.sh
source "$ROOT/scripts/lib/deps.sh"
# shellcheck source=lib/stages.sh
source "$ROOT/scripts/lib/stages.sh"
# shellcheck source=lib/sanitizers.sh
source "$ROOT/scripts/lib/sanitizers.sh"

# ---- The stages, in the order of a default run. ---------------------------
# add_stage NAME DESCRIPTION COMMAND [ARGS...]: COMMAND runs the stage and
# sets STAGE_COUNTS (stages.sh says how); adding a stage is one line here.
# BUILD_DIR (environment) still names the normal stage's directory.
add_stage normal "every suite, plain debugoptimized build (${BUILD_DIR:-build-test}/)" \
  meson_stage "${BUILD_DIR:-build-test}" none
add_stage asan "every suite under ASan+UBSan, daemon reports included (build-asan/)" \
  meson_stage build-asan asan
add_stage tsan "the unit suite under TSan but for the single-threaded 'exhaustive' harnesses (build-tsan/)" \
  meson_stage build-tsan tsan --suite unit --no-suite exhaustive
add_optional_stage tsan-full "the whole unit suite under TSan (build-tsan/): half an hour or more" \
  meson_stage build-tsan tsan --suite unit
add_stage fuzz "every libFuzzer harness for about 20 s under ASan+UBSan (build-fuzz/)" \
  script_stage scripts/fuzz.sh
add_stage package "build the .deb, install it, test the installed package, purge it" \
  script_stage scripts/package.sh

usage() {
  sed -n '/^# Usage/,/^# *$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local selected=${REMAPFS_STAGES:-}
  while (( $# > 0 )); do
    case $1 in
      --quick) selected=normal ;;
      --stages) selected=${2:?--stages needs a list, e.g. asan,tsan}; shift ;;
      --stages=*) selected=${1#--stages=} ;;
      --list) list_stages; exit 0 ;;
      -h|--help) usage; exit 0 ;;
      *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
  done
  local stages=()
  select_stages "$selected" stages || exit 2

  install_deps
  cd "$ROOT"
  if [[ $(id -u) -ne 0 ]]; then
    echo "note: not root: the integration tests will be skipped (exit 77)"
  fi
  run_stages "${stages[@]}"
}

main "$@"
