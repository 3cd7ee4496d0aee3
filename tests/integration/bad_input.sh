#!/usr/bin/env bash
# Bad input, twice: into the control files of a live mount (every bad write
# is refused whole with the right errno and changes nothing), and on the
# command line (every refusal exits non-zero, says why on stderr, and leaves
# MAIN and SPARE as they were).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment python3 cmp timeout

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img
MAIN_SECTORS=16384  # 8 MiB
# 64 KiB spare: strategy minimal, 8 copies of 8 sectors, 64 data slots.

# bad_control_write FILE TEXT EXPECTED_ERRNO [WORD]: the write fails with
# that errno, `remaps` is byte-identical before and after, and last_error
# names WORD (when given).
bad_control_write() {
  local file=$1 text=$2 want=$3 word=${4:-}
  cp "$MNT/control/remaps" "$TMP/remaps.before"
  local got
  got=$(printf '%s\n' "$text" | write_errno "$MNT/control/$file")
  assert_eq "$want" "$got" "$file '${text:0:40}' -> errno $want"
  cat "$MNT/control/remaps" | cmp -s "$TMP/remaps.before" - ||
    fail "$file '$text' changed remaps"
  local last
  last=$(status_value "$MNT" last_error)
  [[ -n $last && $last != none ]] || fail "last_error not set after '$text'"
  if [[ -n $word && $last != *"$word"* ]]; then
    fail "last_error '$last' does not mention '$word'"
  fi
}

check_bad_tokens() {
  local file=$1 token
  say "$file: malformed or out-of-range input -> EINVAL, nothing applied"
  for token in garbage 5-3 5+0 "$MAIN_SECTORS" 99999999999999999999999 0x -1 12abc; do
    bad_control_write "$file" "$token" $EINVAL "$token"
  done
  # A range that runs off the end: the message names the first bad sector.
  bad_control_write "$file" "$((MAIN_SECTORS - 4))-$MAIN_SECTORS" $EINVAL "$MAIN_SECTORS"
  # The valid first token must not be applied when a later one is bad.
  bad_control_write "$file" "10-20 zzz" $EINVAL zzz
  bad_control_write "$file" "30 40 $MAIN_SECTORS" $EINVAL "$MAIN_SECTORS"
  say "$file: 1 MiB of binary junk in one write -> EINVAL"
  cp "$MNT/control/remaps" "$TMP/remaps.before"
  assert_eq $EINVAL "$(head -c $((1 << 20)) /dev/urandom | write_errno "$MNT/control/$file")" \
    "$file junk errno"
  assert_same_file "$TMP/remaps.before" "$MNT/control/remaps" "remaps after junk"
}

check_spare_exhaustion() {
  say "add_bad beyond the spare's capacity -> ENOSPC, nothing applied"
  local free used
  free=$(status_value "$MNT" spare_free)
  used=$(status_value "$MNT" spare_used)
  assert_eq 62 "$free" "spare_free with 2 of 64 slots used"
  bad_control_write add_bad "1000+$((free + 1))" $ENOSPC
  bad_control_write add_bad "3000 1000+$free" $ENOSPC
  assert_eq "$used" "$(status_value "$MNT" spare_used)" "spare_used unchanged"
  say "already-remapped sectors cost nothing: 1-2 plus exactly spare_free new ones fits"
  control_write "$MNT" add_bad "1-2 1000+$free"
  assert_eq 0 "$(status_value "$MNT" spare_free)" "spare full"
  bad_control_write add_bad 3000 $ENOSPC
  control_write "$MNT" add_bad 1  # a no-op, not an error, even when full
  control_write "$MNT" remove "1000+$free"
  assert_eq "$free" "$(status_value "$MNT" spare_free)" "spare_free after remove"
  assert_remaps_valid "$MNT"
}

check_read_only_files() {
  say "writes to read-only control files fail"
  local f err
  for f in remaps reservations status; do
    err=$(echo 5 | write_errno "$MNT/control/$f")
    case $err in
      "$EACCES" | "$EPERM" | "$EBADF" | "$EROFS") echo "   ok: write to $f -> errno $err" ;;
      *) fail "write to $f: expected EACCES/EPERM/EBADF/EROFS, got '$err'" ;;
    esac
  done
}

check_bad_inject() {
  say "inject: a bad latency -> EINVAL, latency and faults unchanged"
  control_write "$MNT" inject "latency 250"
  local text
  for text in "latency" "latency x" "latency -1" "latency 1.5" "latency 600001" \
    "latency 5 6" $'read 7\nlatency 99999999999999999999'; do
    bad_control_write inject "$text" $EINVAL latency
  done
  assert_eq 250 "$(status_value "$MNT" inject_latency_ms)" "inject_latency_ms unchanged"
  assert_eq "" "$(cat "$MNT/control/inject")" "no fault from the refused write"
  control_write "$MNT" inject "latency 0"
  assert_eq 0 "$(status_value "$MNT" inject_latency_ms)" "latency 0 turns it off"
}

check_control_input() {
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  control_write "$MNT" add_bad "1-2"
  check_bad_tokens add_bad
  check_bad_tokens remove
  check_spare_exhaustion
  check_read_only_files
  check_bad_inject
  say "the daemon still serves the disk"
  assert_eq "1 2" "$(awk '{print $1}' "$MNT/control/remaps" | xargs)" "remaps at the end"
  assert_same_file "$MAIN" "$DISK" "disk content == main.img"
  unmount_remapfs "$MNT"
}

check_usage_errors() {
  say "CLI: missing arguments, unknown subcommand or option"
  expect_cli_failure "no arguments" "$REMAPFS"
  expect_cli_failure "unknown subcommand" "$REMAPFS" frobnicate
  expect_cli_failure "format without SPARE" "$REMAPFS" format "$MAIN"
  expect_cli_failure "format without arguments" "$REMAPFS" format
  expect_cli_failure "mount without MOUNTPOINT" "$REMAPFS" mount "$MAIN" "$SPARE"
  expect_cli_failure "check without SPARE" "$REMAPFS" check
  expect_cli_failure "info without SPARE" "$REMAPFS" info
  expect_cli_failure "format with an unknown option" \
    "$REMAPFS" format "$MAIN" "$TMP/new.spare" --bogus
  expect_cli_failure "check with an unknown option" "$REMAPFS" check "$SPARE" --bogus
  mkdir -p "$MNT"
  expect_cli_failure "mount of a MAIN that does not exist" \
    "$REMAPFS" mount "$TMP/absent.img" "$SPARE" "$MNT" -f
  stderr_mentions "absent.img"
  local opt
  for opt in "--read-retries x" "--read-retries 101" "--scrub-rate 12Q" "--direct-io maybe"; do
    # shellcheck disable=SC2086  # the option and its value are two words
    expect_cli_failure "mount with $opt" "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f $opt
    stderr_mentions "$(sed "s/^--//; s/ .*//" <<<"$opt")"
    ! is_mounted "$MNT" || fail "mount with $opt mounted anyway"
  done
  check_error_recovery_time_refusals
}

# --error-recovery-time, and remapfs's options inside -o (the fstab form):
# usage errors, exit code 2, the same message for both forms.
check_error_recovery_time_refusals() {
  say "CLI: --error-recovery-time and -o error_recovery_time= refuse bad durations"
  local value
  for value in 5 5x 1.5ms 1.2345s 601s -1s s ""; do
    expect_cli_failure "mount --error-recovery-time '$value'" \
      "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f --error-recovery-time "$value"
    assert_eq 2 "$CLI_RC" "exit code of a usage error"
    stderr_mentions "error-recovery-time must be a duration from 0 to 600s"
    expect_cli_failure "fstab form -o error_recovery_time=$value" \
      "$REMAPFS" "$MAIN,$SPARE" "$MNT" -o "allow_other,error_recovery_time=$value" -f
    assert_eq 2 "$CLI_RC" "exit code of a usage error"
    if [[ -z $value ]]; then
      stderr_mentions "o error_recovery_time needs a value"
    else
      stderr_mentions "error-recovery-time must be a duration from 0 to 600s"
    fi
  done
  expect_cli_failure "error_recovery_time given in -o and as --error-recovery-time" \
    "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f -o error_recovery_time=2s --error-recovery-time 3s
  assert_eq 2 "$CLI_RC" "exit code of a usage error"
  stderr_mentions "more than once"
  expect_cli_failure "-o read_retries=101" \
    "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f -o read_retries=101
  stderr_mentions "read-retries must be a number from 0 to 100"
  ! is_mounted "$MNT" || fail "a refused mount mounted anyway"
}

# refused_format WHAT MAIN ARGS...: format MAIN $TMP/new.spare ARGS must be
# refused, leave MAIN unchanged and leave no formatted spare behind.
refused_format() {
  local what=$1 main=$2; shift 2
  local spare=$TMP/new.spare
  rm -f "$spare"
  cp "$main" "$TMP/main.copy"
  expect_cli_failure "$what" "$REMAPFS" format "$main" "$spare" "$@"
  assert_same_file "$TMP/main.copy" "$main" "MAIN unchanged"
  if "$REMAPFS" info "$spare" >/dev/null 2>&1; then
    fail "$what: refused, yet $spare holds readable metadata"
  fi
}

check_format_refusals() {
  say "CLI: format refuses bad sizes, strategies and geometry"
  refused_format "--spare-size 12Q" "$MAIN" --spare-size 12Q
  refused_format "--spare-size 0" "$MAIN" --spare-size 0
  refused_format "--spare-size 32K (64 sectors < 72)" "$MAIN" --spare-size 32K
  refused_format "--sector-size 1000" "$MAIN" --spare-size 1M --sector-size 1000
  refused_format "--strategy bogus" "$MAIN" --spare-size 1M --strategy bogus
  head -c $((1048576 + 100)) /dev/urandom >"$TMP/odd.img"
  refused_format "MAIN not a multiple of 512" "$TMP/odd.img" --spare-size 1M
  head -c $((1048576 + 512)) /dev/urandom >"$TMP/odd4k.img"
  refused_format "MAIN not a multiple of 4096" "$TMP/odd4k.img" --spare-size 1M --sector-size 4096

  say "CLI: format refuses MAIN == SPARE, by the same or another path"
  cp "$MAIN" "$TMP/main.copy"
  mkdir -p "$TMP/sub"
  expect_cli_failure "MAIN == SPARE" "$REMAPFS" format "$MAIN" "$MAIN" --spare-size 1M --force
  expect_cli_failure "MAIN == SPARE via sub/.." \
    "$REMAPFS" format "$MAIN" "$TMP/sub/../main.img" --spare-size 1M --force
  assert_same_file "$TMP/main.copy" "$MAIN" "MAIN unchanged"
}

check_reformat() {
  say "CLI: re-format refused without --force (spare unchanged), done with it"
  cp "$SPARE" "$TMP/spare.copy"
  expect_cli_failure "re-format without --force" "$REMAPFS" format "$MAIN" "$SPARE" --spare-size 64K
  assert_same_file "$TMP/spare.copy" "$SPARE" "spare unchanged"
  "$REMAPFS" format "$MAIN" "$TMP/other.spare" --spare-size 64K >/dev/null 2>&1 ||
    fail "format of a second spare"
  "$REMAPFS" format "$MAIN" "$TMP/other.spare" --spare-size 64K --force >/dev/null 2>&1 ||
    fail "re-format with --force exited non-zero"
  echo "   ok: --force re-formats"
}

check_info_and_check() {
  say "CLI: info and check on a clean spare"
  local out
  out=$("$REMAPFS" info "$SPARE") || fail "info exited non-zero"
  [[ $out == *minimal* ]] || fail "info does not name the strategy 'minimal': $out"
  echo "   ok: info names the strategy"
  "$REMAPFS" info "$SPARE" --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' ||
    fail "info --json is not JSON"
  echo "   ok: info --json parses"
  local rc=0
  "$REMAPFS" check "$SPARE" --main "$MAIN" >/dev/null 2>&1 || rc=$?
  assert_eq 0 "$rc" "check of a clean spare"
  "$REMAPFS" check "$SPARE" --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' ||
    fail "check --json is not JSON"
  echo "   ok: check --json parses"
  local info_json check_json
  info_json=$("$REMAPFS" info "$SPARE" --json) || fail "info --json exited non-zero"
  check_json=$("$REMAPFS" check "$SPARE" --json) || fail "check --json exited non-zero"
  "$PY" - "$info_json" "$check_json" <<'PYEOF' ||
import json, sys
info, check = (json.loads(arg) for arg in sys.argv[1:3])
keys = ["index", "first", "last", "state", "sequence", "problem", "rewritten"]
assert info["copies"], "no copies"
assert all(list(c) == keys for c in info["copies"]), info["copies"]
assert info["copies"] == check["copies"], (info["copies"], check["copies"])
PYEOF
    fail "info --json and check --json report the metadata copies differently"
  echo "   ok: info --json and check --json report the copies with the same keys"
  expect_cli_failure "info on a file that is no spare" "$REMAPFS" info "$MAIN"
}

# flip_byte FILE OFFSET: inverts one byte in place.
flip_byte() {
  "$PY" -c 'import os,sys
fd = os.open(sys.argv[1], os.O_RDWR); off = int(sys.argv[2])
b = os.pread(fd, 1, off); os.pwrite(fd, bytes([b[0] ^ 0xff]), off); os.close(fd)' "$1" "$2"
}

check_exit_code() {  # check_exit_code WANT WHAT ARGS...
  local want=$1 what=$2 rc=0; shift 2
  "$REMAPFS" check "$@" >"$TMP/check.out" 2>&1 || rc=$?
  [[ $rc == "$want" ]] || { cat "$TMP/check.out" >&2; fail "$what: check exited $rc, want $want"; }
  echo "   ok: $what: check exits $want"
}

check_corruption() {
  say "check: one header zeroed and one table byte flipped -> 4, --repair -> 1, then 0"
  local spare=$TMP/linear.spare
  format_volume "$MAIN" "$spare" --spare-size 512K  # copies at 0, 256, 512, 768
  check_exit_code 0 "fresh linear spare" "$spare"
  dd if=/dev/zero of="$spare" bs=$SECTOR seek=256 count=1 conv=notrunc status=none
  flip_byte "$spare" $((513 * SECTOR + 10))
  cp "$spare" "$TMP/corrupt.copy"
  check_exit_code 4 "corrupt, no --repair" "$spare"
  assert_same_file "$TMP/corrupt.copy" "$spare" "check without --repair wrote nothing"
  check_exit_code 1 "corrupt, --repair" "$spare" --repair
  check_exit_code 0 "after repair" "$spare"
}

check_mount_refusals() {
  say "mount refuses a spare bound to another main size"
  head -c $((16 << 20)) /dev/urandom >"$TMP/main16.img"
  cp "$TMP/main16.img" "$TMP/main16.copy"
  FUSE_MOUNTS+=("$MNT")
  mkdir -p "$MNT"
  expect_cli_failure "mount with a spare for an 8 MiB main" \
    "$REMAPFS" mount "$TMP/main16.img" "$SPARE" "$MNT" -f
  stderr_mentions "size"
  assert_same_file "$TMP/main16.copy" "$TMP/main16.img" "that main unchanged"

  say "mount refuses a spare whose every metadata copy is zeroed"
  local spare=$TMP/zeroed.spare
  format_volume "$MAIN" "$spare" --spare-size 512K
  dd if=/dev/zero of="$spare" bs=64K count=8 conv=notrunc status=none
  cp "$MAIN" "$TMP/main.copy"
  expect_cli_failure "mount with no valid metadata copy" \
    "$REMAPFS" mount "$MAIN" "$spare" "$MNT" -f
  stderr_mentions "metadata|cop(y|ies)|valid"
  assert_same_file "$TMP/main.copy" "$MAIN" "main unchanged"
  local rc=0
  "$REMAPFS" check "$spare" >/dev/null 2>&1 || rc=$?
  [[ $rc == 4 || $rc == 8 ]] || fail "check of a zeroed spare exited $rc, want 4 or 8"
  echo "   ok: check of a zeroed spare exits $rc"
}

main() {
  make_main "$MAIN" $((MAIN_SECTORS * SECTOR))
  format_volume "$MAIN" "$SPARE" --spare-size 64K
  check_control_input
  check_usage_errors
  check_format_refusals
  check_reformat
  check_info_and_check
  check_corruption
  check_mount_refusals
  pass
}

main
