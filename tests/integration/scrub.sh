#!/usr/bin/env bash
# control/scrub on a real mount: a scan finds every injected read fault in
# its range and reports progress; what it finds reads EIO until rewritten;
# stop ends a running scan; bad commands are EINVAL and change nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment dd
EBUSY=16

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img
# Inside the scanned range 0-4095, and one just outside it.
BAD_SECTORS=(0 100 1000 1001 1002 4095)
OUTSIDE=4096

scrub_state() { status_value "$MNT" scrub_state; }

wait_scrub_finished() {
  wait_until 60 eval '[[ $(scrub_state) != running ]]' ||
    fail "scrub still running after 60 s: $(cat "$MNT/control/scrub")"
}

pending_sectors() {
  awk '$3 == "pending" { print $1 }' "$MNT/control/remaps" | tr '\n' ' '
}

# direct_read SECTOR: reads one sector with O_DIRECT; dd's exit status, and
# its error text on stdout.
direct_read() {
  dd if="$DISK" of=/dev/null bs=$SECTOR skip="$1" count=1 iflag=direct status=none 2>&1
}

check_scan_finds_faults() {
  say "scrub of 0-4095 finds the ${#BAD_SECTORS[@]} injected read faults there"
  assert_eq idle "$(scrub_state)" "scrub_state before any start"
  local s
  for s in "${BAD_SECTORS[@]}" $OUTSIDE; do control_write "$MNT" inject "read $s"; done
  control_write "$MNT" scrub "start 0-4095"
  wait_scrub_finished
  assert_eq "done" "$(scrub_state)" "scrub_state at the end"
  assert_eq 4096 "$(status_value "$MNT" scrub_total)" "scrub_total"
  assert_eq 4096 "$(status_value "$MNT" scrub_done)" "scrub_done"
  assert_eq "${#BAD_SECTORS[@]}" "$(status_value "$MNT" scrub_found)" "scrub_found"
  assert_eq "${BAD_SECTORS[*]} " "$(pending_sectors)" \
    "exactly the faulted sectors of the range are pending"
  assert_eq "${#BAD_SECTORS[@]}" "$(status_value "$MNT" pending)" "status pending"
  assert_eq "state: done" "$(head -1 "$MNT/control/scrub")" "control/scrub reads the state"
  assert_eq "found: ${#BAD_SECTORS[@]}" "$(grep '^found:' "$MNT/control/scrub")" \
    "control/scrub reads the count found"
  assert_remaps_valid "$MNT"
}

check_pending_until_rewritten() {
  say "a sector the scrub made pending reads EIO until rewritten"
  local out
  out=$(direct_read 1001) && fail "dd iflag=direct of pending sector 1001 succeeded"
  grep -qi "input/output error" <<<"$out" || fail "dd error is not EIO: $out"
  echo "   ok: dd iflag=direct over sector 1001 fails with EIO"
  control_write "$MNT" inject "clear all"
  direct_read 1001 >/dev/null && fail "pending sector readable once faults cleared"
  echo "   ok: still EIO with the faults cleared (the drive never invents data)"
  head -c $SECTOR /dev/urandom >"$TMP/sector"
  dd if="$TMP/sector" of="$DISK" bs=$SECTOR seek=1001 oflag=direct conv=notrunc status=none ||
    fail "rewriting pending sector 1001 failed"
  assert_eq "$(sha256sum <"$TMP/sector" | cut -d' ' -f1)" \
    "$(dd if="$DISK" bs=$SECTOR skip=1001 count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
    "sector 1001 reads back what was written"
  assert_eq active "$(awk '$1 == 1001 { print $3 }' "$MNT/control/remaps")" \
    "sector 1001 is active again"
  assert_eq $((${#BAD_SECTORS[@]} - 1)) "$(status_value "$MNT" pending)" "pending after rewrite"
}

check_stop() {
  say "stop ends a running whole-disk scan; a second start meanwhile is EBUSY"
  control_write "$MNT" scrub "start"
  assert_eq running "$(scrub_state)" "scrub_state right after start (1 GiB at 64 MiB/s)"
  expect_errno $EBUSY "start while running" "$MNT/control/scrub" <<<"start 0-7"
  control_write "$MNT" scrub "stop"
  assert_eq stopped "$(scrub_state)" "scrub_state after stop"
  local scanned total
  scanned=$(status_value "$MNT" scrub_done) total=$(status_value "$MNT" scrub_total)
  assert_eq $(($(stat -c %s "$MAIN") / SECTOR)) "$total" "scrub_total of a whole-disk scan"
  ((scanned < total)) || fail "scrub_done $scanned not below scrub_total $total after stop"
  echo "   ok: stopped at $scanned of $total sectors"
}

check_bad_input() {
  say "bad scrub commands fail with EINVAL and change nothing"
  cp "$MNT/control/scrub" "$TMP/scrub.before"
  local bad
  for bad in "begin" "start 0-99999999999" "start 5-2" "start x" "stop now" ""; do
    expect_errno $EINVAL "scrub '$bad'" "$MNT/control/scrub" <<<"$bad"
  done
  grep -q "scrub" <<<"$(status_value "$MNT" last_error)" ||
    fail "last_error does not name scrub: $(status_value "$MNT" last_error)"
  assert_same_file "$TMP/scrub.before" "$MNT/control/scrub" "scrub progress unchanged"
}

main() {
  # A sparse 1 GiB MAIN (random first 4 MiB): a whole scan takes ~16 s at
  # the default rate, long enough to stop it.
  truncate -s 1G "$MAIN"
  head -c $((4 << 20)) /dev/urandom | dd of="$MAIN" conv=notrunc status=none
  format_volume "$MAIN" "$SPARE" --spare-size 1M
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  check_scan_finds_faults
  check_pending_until_rewritten
  check_stop
  check_bad_input
  say "unmounting in the middle of a scan ends the daemon cleanly"
  control_write "$MNT" scrub "start"
  assert_eq running "$(scrub_state)" "scrub_state before unmount"
  unmount_remapfs "$MNT"
  pass
}

main
