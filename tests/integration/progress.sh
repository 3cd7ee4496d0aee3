#!/usr/bin/env bash
# Progress bars of format, check, mark and resize-spare: drawn on a terminal
# (a pty from script(1)), ending at 100% and erased before anything else is
# printed; absent, byte for byte, when stderr is a file, and with --json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment script

MAIN=$TMP/main.img SPARE=$TMP/spare.img LIST=$TMP/bad.md
CR=$'\r' ERASE=$'\r\e[K'

# [RC=N] on_pty OUT CMD...: runs CMD with stdout and stderr on a pty, its
# output (the pty's bytes) in OUT; CMD must exit RC (default 0).
on_pty() {
  local out=$1 rc=0
  shift
  script -qfec "$(printf '%q ' "$@")" /dev/null </dev/null >"$out" || rc=$?
  [[ $rc == "${RC:-0}" ]] || fail "on a pty: $* exited $rc"
}

# plain OUT ERR CMD...: stdout and stderr to files, as scripts run it.
plain() {
  local out=$1 err=$2
  shift 2
  "$@" >"$out" 2>"$err" || fail "$* exited $?"
}

# assert_bar FILE PHASE: FILE shows PHASE at 0% and at 100%, then erases it.
assert_bar() {
  grep -qF "$2   0% [>" "$1" || fail "no '$2' bar at 0% in $(cat -v "$1")"
  grep -qF "$2 100% [===" "$1" || fail "no '$2' bar at 100% in $(cat -v "$1")"
  grep -qF "$ERASE" "$1" || fail "the '$2' bar is not erased"
  echo "   ok: '$2' drawn to 100% and erased"
}

# assert_no_bar FILE...: no carriage return (but a pty's at line ends), no
# escape, no percent.
assert_no_bar() {
  local f
  for f in "$@"; do
    if sed 's/\r$//' "$f" | grep -q "[$CR"$'\e'"%]"; then
      fail "progress output in $f: $(cat -v "$f")"
    fi
  done
  echo "   ok: no progress in $*"
}

make_main "$MAIN" $((64 << 20))

say "format: allocating a new spare"
on_pty "$TMP/pty" "$REMAPFS" format "$MAIN" "$SPARE" --spare-size 256M
assert_bar "$TMP/pty" "allocating spare"
assert_bar "$TMP/pty" "writing metadata copies"
grep -qF "${ERASE}formatted SPARE '$SPARE'" "$TMP/pty" || fail "summary not on a clean line"

say "format --force: zeroing the old spare"
on_pty "$TMP/pty" "$REMAPFS" format "$MAIN" "$SPARE" --force
assert_bar "$TMP/pty" "zeroing spare"

say "format with stderr to a file: no bar, stderr empty, stdout the summary"
plain "$TMP/out" "$TMP/err" "$REMAPFS" format "$MAIN" "$SPARE" --force
assert_no_bar "$TMP/out" "$TMP/err"
assert_eq "" "$(cat "$TMP/err")" "format's stderr empty"
assert_eq "formatted SPARE '$SPARE' for MAIN '$MAIN'" "$(head -1 "$TMP/out")" "summary"
set +e
"$REMAPFS" format "$MAIN" "$SPARE" >/dev/null 2>"$TMP/err"
rc=$?
set -e
assert_eq 1 "$rc" "format of a formatted spare refused"
assert_eq "remapfs format: SPARE '$SPARE' already holds remapfs metadata; use --force to \
overwrite it; nothing was changed" "$(cat "$TMP/err")" "the refusal's stderr, exactly"

say "check: reading the metadata copies"
on_pty "$TMP/pty" "$REMAPFS" check "$SPARE"
assert_bar "$TMP/pty" "reading metadata copies"
grep -qF "${ERASE}$SPARE: clean;" "$TMP/pty" || fail "check's verdict not on a clean line"
on_pty "$TMP/pty" "$REMAPFS" check "$SPARE" --json
assert_no_bar "$TMP/pty"
plain "$TMP/out" "$TMP/err" "$REMAPFS" check "$SPARE"
assert_no_bar "$TMP/out" "$TMP/err"
assert_eq "" "$(cat "$TMP/err")" "check's stderr empty"

say "check --repair: a log line erases the bar first"
dd if=/dev/urandom of="$SPARE" bs=512 seek=1 count=4 conv=notrunc status=none
RC=1 on_pty "$TMP/pty" "$REMAPFS" check "$SPARE" --repair
grep -qE "$(printf '\e\\[K\r\e\\[K')\[[0-9-]+ [0-9:.]+\] \[remapfs\] \[warning\] metadata copy 0" \
  "$TMP/pty" || fail "the warning does not follow an erased bar: $(cat -v "$TMP/pty")"
echo "   ok: warning on a clean line"

say "mark: copying sectors"
echo "1000 60000" >"$LIST"
on_pty "$TMP/pty" "$REMAPFS" mark "$MAIN" "$SPARE" --format md "$LIST"
grep -qF "copying sectors 100% [===" "$TMP/pty" || fail "no mark bar at 100%: $(cat -v "$TMP/pty")"
grep -qF "60000/60000 sectors" "$TMP/pty" || fail "mark's bar does not count sectors"
# A job shorter than the 100 ms between polls still ends at 100%.
echo "70000 8" >"$LIST"
on_pty "$TMP/pty" "$REMAPFS" mark "$MAIN" "$SPARE" --format md "$LIST"
grep -qF "copying sectors 100% " "$TMP/pty" || fail "short mark not at 100%: $(cat -v "$TMP/pty")"
grep -qF "8/8 sectors" "$TMP/pty" || fail "short mark's bar does not count its 8 sectors"
echo "100000 1000" >"$LIST"
plain "$TMP/out" "$TMP/err" "$REMAPFS" mark "$MAIN" "$SPARE" --format md "$LIST"
assert_no_bar "$TMP/out" "$TMP/err"
assert_eq "" "$(cat "$TMP/err")" "mark's stderr empty"
assert_eq "1000 sectors listed in $LIST: 1000 newly remapped, 0 of them pending (unreadable on \
MAIN), 0 already remapped" "$(cat "$TMP/out")" "mark's stdout, exactly"

say "resize-spare: moving data and writing copies"
on_pty "$TMP/pty" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 512M
assert_bar "$TMP/pty" "writing metadata copies"
grep -qF "${ERASE}resized spare '$SPARE'" "$TMP/pty" || fail "summary not on a clean line"
plain "$TMP/out" "$TMP/err" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 256M
assert_no_bar "$TMP/out" "$TMP/err"
assert_eq "" "$(cat "$TMP/err")" "resize-spare's stderr empty"
plain "$TMP/out" "$TMP/err" "$REMAPFS" check "$SPARE"
pass
