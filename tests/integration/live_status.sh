#!/usr/bin/env bash
# remapfs status (item 5 of issue 11): the live page in /dev/shm that the
# daemon publishes, read without FUSE. status --json equals
# control/status.json; a long add_bad shows its progress; status answers
# while the daemon is SIGSTOPped and says it is not responding; an
# unmounted SPARE is "offline"; the page is gone after unmount; the exit
# code follows the verdict (0 PASSED, 3 WARNING, 4 FAILING).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment python3

MNT=$TMP/mnt MAIN=$TMP/main.img SPARE=$TMP/spare.img
SECTOR=512

# A stopped daemon would hang the unmount: resume it, keeping the verdict.
finish() {
  local rc=$?
  set +e  # or (exit "$rc") below would end the trap before cleanup
  kill -CONT "$MOUNT_PID" 2>/dev/null || true
  (exit "$rc")
  cleanup
}
trap finish EXIT

# status_rc ARGS...: runs remapfs status, output in $TMP/st.out, prints rc.
status_rc() {
  local rc=0
  timeout 5 "$REMAPFS" status "$@" >"$TMP/st.out" 2>"$TMP/st.err" || rc=$?
  echo "$rc"
}

# json_get FILE KEY: one value of a JSON object.
json_get() {
  "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if not isinstance(v, list) else "\n".join(v))' "$1" "$2"
}

# One set of keys across status, info and check: every key two of them
# share holds the same value, and each names the spare spare_path.
check_one_key_set() {
  say "status, info and check --json: the same key, the same value"
  "$REMAPFS" status "$SPARE" --json >"$TMP/offline.json" || [[ $? -eq 4 ]] || fail "status --json"
  "$REMAPFS" info "$SPARE" --json >"$TMP/info.json" || fail "info --json"
  "$REMAPFS" check "$SPARE" --json >"$TMP/check.json" || fail "check --json"
  "$PY" - "$TMP/offline.json" "$TMP/info.json" "$TMP/check.json" "$SPARE" <<'PY' || fail "key sets differ"
import json, sys
status, info, check = (json.load(open(f)) for f in sys.argv[1:4])
for name, d in (("status", status), ("info", info), ("check", check)):
    assert d.get("spare_path") == sys.argv[4], (name, d.get("spare_path"))
for a, b, da, db in (("status", "info", status, info), ("status", "check", status, check),
                     ("info", "check", info, check)):
    for key in sorted(set(da) & set(db)):
        assert da[key] == db[key], (a, b, key, da[key], db[key])
shared = sorted(set(status) & set(info))
assert len(shared) >= 15, shared
print("   ok: %d keys shared by status and info, %d by status and check, equal values"
      % (len(shared), len(set(status) & set(check))))
PY
}

check_same_as_status_json() {
  say "status MNT --json has the keys and values of control/status.json"
  cat "$MNT/control/status.json" >"$TMP/file.json"
  assert_eq 0 "$(status_rc "$MNT" --json)" "status --json exit code (PASSED)"
  "$PY" - "$TMP/file.json" "$TMP/st.out" <<'PYEOF' || fail "status --json differs from control/status.json"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert list(a) == list(b), (list(a), list(b))
moving = {"heartbeat_unix_ms", "heartbeat_age_ms"}
diff = {k: (a[k], b[k]) for k in a if k not in moving and a[k] != b[k]}
assert not diff, diff
assert a["state"] == "mounted" and a["verdict"] == "PASSED" and a["reasons"] == []
assert set(a["smart"]) == {"Reallocated_Sector_Ct", "Current_Pending_Sector",
                           "Reallocated_Event_Count", "Offline_Uncorrectable"}
PYEOF
  echo "   ok: same keys, same values"
  VOLID=$(json_get "$TMP/st.out" volume_id)
  assert_eq 644 "$(stat -c %a "/dev/shm/remapfs-$VOLID")" "the page is readable by all, written by none"
  assert_eq "$MNT" "$(json_get "$TMP/st.out" mountpoint)" "mountpoint"
  assert_eq 0 "$(status_rc "$SPARE" --json)" "status SPARE of the mounted volume"
  assert_eq mounted "$(json_get "$TMP/st.out" state)" "status SPARE reads the live page"
  assert_eq 0 "$(status_rc "$MNT/")" "status MNT/ (text)"
  grep -qx "SMART overall-health self-assessment test result: PASSED" "$TMP/st.out" ||
    fail "no smartctl-style verdict line"
  echo "   ok: text output has the verdict line"
}

check_long_add_bad() {
  say "a long add_bad: status --json shows operation add_bad, operation_done rising"
  (echo "0+1000000" >"$MNT/control/add_bad") &
  local writer=$! i
  for i in $(seq 1 400); do
    "$REMAPFS" status "$MNT" --json >>"$TMP/progress.json" || fail "status during add_bad"
    kill -0 "$writer" 2>/dev/null || break
  done
  wait "$writer" || fail "add_bad of 1000000 sectors failed"
  "$PY" - "$TMP/progress.json" <<'PYEOF' || fail "no rising add_bad progress in status"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
done = [r["operation_done"] for r in rows if r["operation"] == "add_bad"]
assert all(r["operation_total"] == 1000000 for r in rows if r["operation"] == "add_bad")
assert done == sorted(done), done
assert len(set(done)) >= 2, done
print("   ok: %d samples during add_bad, operation_done %d .. %d" % (len(done), done[0], done[-1]))
PYEOF
  "$REMAPFS" status "$MNT" --json >"$TMP/st.out"
  assert_eq 1000000 "$(json_get "$TMP/st.out" remapped)" "remapped after the add_bad"
  assert_eq idle "$(json_get "$TMP/st.out" operation)" "operation after"
}

check_stopped_daemon() {
  say "status answers while the daemon is SIGSTOPped"
  kill -STOP "$MOUNT_PID"
  sleep 3.5  # the heartbeat ages past 3 s
  assert_eq 3 "$(status_rc "$MNT" --json)" "status of a stopped daemon: WARNING"
  json_get "$TMP/st.out" reasons | grep -q "^daemon not responding: pid $MOUNT_PID " ||
    fail "no 'daemon not responding' reason: $(cat "$TMP/st.out")"
  echo "   ok: says the daemon is not responding"
  kill -CONT "$MOUNT_PID"
  wait_until 5 eval '[[ $(status_rc "$MNT") == 0 ]]' || fail "status not PASSED after SIGCONT"
  echo "   ok: PASSED again after SIGCONT"
}

check_pending_and_errors() {
  say "a pending sector: WARNING; errors in the last hour with --error-rate-warn"
  control_write "$MNT" inject "read 1500000"
  dd if="$MNT/main.img" of=/dev/null bs=$SECTOR skip=1500000 count=1 status=none 2>/dev/null &&
    fail "read of an injected fault succeeded"
  cat "$MNT/control/status.json" >/dev/null  # publishes now
  assert_eq 3 "$(status_rc "$MNT" --json)" "status with a pending sector: WARNING"
  assert_eq 1 "$(json_get "$TMP/st.out" pending)" "pending"
  json_get "$TMP/st.out" reasons | grep -qx "1 pending sector(s): unreadable, not yet rewritten" ||
    fail "no pending reason"
  (($(json_get "$TMP/st.out" errors_last_hour) >= 1)) || fail "errors_last_hour < 1"
  status_rc "$MNT" --json --error-rate-warn 1 >/dev/null
  json_get "$TMP/st.out" reasons | grep -q "read/write error(s) in the last hour (>= 1)" ||
    fail "no error-rate reason at --error-rate-warn 1"
  echo "   ok: pending and error-rate reasons"
  assert_eq 3 "$(status_rc "$MNT" --prometheus)" "--prometheus exit code"
  grep -qx "remapfs_health{volume=\"$VOLID\",mountpoint=\"$MNT\"} 1" "$TMP/st.out" ||
    fail "prometheus health gauge: $(grep health "$TMP/st.out")"
  echo "   ok: prometheus health gauge 1"
  # Rewriting the sector clears it.
  dd if=/dev/zero of="$MNT/main.img" bs=$SECTOR seek=1500000 count=1 conv=notrunc status=none
  control_write "$MNT" inject "clear all"
}

check_spare_thresholds() {
  say "filling the spare: WARNING at --spare-warn, FAILING at --spare-fail and when exhausted"
  cat "$MNT/control/status.json" >"$TMP/now.json"
  local cap used free
  cap=$(json_get "$TMP/now.json" spare_capacity) used=$(json_get "$TMP/now.json" spare_used)
  # Exactly at 90%: over the default warn (80), under the fail (95).
  local want=$(((cap * 90 + 99) / 100 - used))
  control_write "$MNT" add_bad "1600000+$want"
  cat "$MNT/control/status.json" >/dev/null
  assert_eq 3 "$(status_rc "$MNT")" "90% used: WARNING"
  assert_eq 0 "$(status_rc "$MNT" --spare-warn 100 --spare-fail 100)" "90% used, thresholds 100: PASSED"
  assert_eq 4 "$(status_rc "$MNT" --spare-fail 90)" "90% used, --spare-fail 90: FAILING"
  free=$(sed -n 's/^spare_free: //p' "$MNT/control/status")
  control_write "$MNT" add_bad "1950000+$free"
  cat "$MNT/control/status.json" >/dev/null
  assert_eq 4 "$(status_rc "$MNT" --json --spare-warn 100 --spare-fail 100)" "spare exhausted: FAILING"
  json_get "$TMP/st.out" reasons | grep -q "^spare exhausted: " || fail "no 'spare exhausted' reason"
  echo "   ok: spare exhausted reason"
}

check_usage() {
  say "usage errors exit 2, an unknown target exits 1"
  assert_eq 2 "$(status_rc "$MNT" --json --prometheus)" "--json with --prometheus"
  assert_eq 2 "$(status_rc "$MNT" --spare-warn 101)" "--spare-warn 101"
  assert_eq 2 "$(status_rc "$MNT" --spare-warn 90 --spare-fail 80)" "warn above fail"
  assert_eq 2 "$(status_rc)" "no target"
  assert_eq 1 "$(status_rc "$TMP")" "a directory that is no mount"
  grep -q "is not the mountpoint of a mounted remapfs volume" "$TMP/st.err" || fail "message"
  assert_eq 1 "$(status_rc "$TMP/none")" "a missing target"
}

truncate -s 1G "$MAIN"
truncate -s 680M "$SPARE"  # 1000000 remaps: about 72% used
format_volume "$MAIN" "$SPARE"
mount_remapfs "$MAIN" "$SPARE" "$MNT"
check_same_as_status_json
check_usage
check_long_add_bad
check_stopped_daemon
check_pending_and_errors
check_spare_thresholds

say "after unmount: the page is gone, the SPARE reads offline"
unmount_remapfs "$MNT"
[[ ! -e /dev/shm/remapfs-$VOLID ]] || fail "/dev/shm/remapfs-$VOLID left after unmount"
echo "   ok: page removed"
assert_eq 4 "$(status_rc "$SPARE" --json)" "offline status of the full spare: FAILING"
assert_eq offline "$(json_get "$TMP/st.out" state)" "state offline"
assert_eq 0 "$(json_get "$TMP/st.out" pid)" "no pid offline"
assert_eq 1 "$(status_rc "$MNT")" "status of the unmounted mountpoint"
check_one_key_set
pass
