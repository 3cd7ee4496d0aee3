#!/usr/bin/env bash
# Builds remapfs from nothing in build-test/ and runs every test suite (unit
# and integration). Installs missing Debian packages first.
#
# The last line is always "N passed, N failed, N skipped", counted from
# meson's testlog.json. A skipped test (exit 77: no root, no /dev/fuse) is
# never counted as passed. Exits non-zero if anything failed or nothing ran.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build-test}
# shellcheck source=lib/deps.sh
source "$ROOT/scripts/lib/deps.sh"

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

# A build that fails runs nothing: report it in the summary format too.
build() {
  rm -rf "${ROOT:?}/$BUILD_DIR"
  meson setup "$ROOT/$BUILD_DIR" "$ROOT" --buildtype=debugoptimized &&
    ninja -C "$ROOT/$BUILD_DIR"
}

main() {
  install_deps
  cd "$ROOT"
  if ! build; then
    echo "build failed: no test ran"
    echo "0 passed, 0 failed, 0 skipped"
    exit 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "note: not root: the integration tests will be skipped (exit 77)"
  fi

  local rc=0
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 || rc=$?

  local log="$BUILD_DIR/meson-logs/testlog.json"
  local passed=0 failed=0 skipped=0
  if [[ -f $log ]]; then
    read -r passed failed skipped < <(count_results "$log")
  fi
  echo "$passed passed, $failed failed, $skipped skipped"

  if (( failed > 0 || passed == 0 )); then
    (( rc != 0 )) || rc=1
  fi
  exit "$rc"
}

main "$@"
