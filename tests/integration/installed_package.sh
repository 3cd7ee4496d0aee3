#!/usr/bin/env bash
# The installed Debian package, end to end (issue 11's "done when"): its
# files (a stripped binary, the man page, the systemd unit and what it
# names, the bash completion, README and copyright), scripts/demo.sh on the
# installed binary, then a mount through an /etc/fstab line with remapfs
# options: `mount -a` leaves it alone, `remapfs status --json` shows a long
# add_bad's progress, `umount` ends it, and the data is intact after a
# remount.
#
# scripts/package.sh runs it (the package stage of scripts/test.sh) after
# `apt-get install ./remapfs_*.deb`, with REMAPFS=/usr/bin/remapfs; meson
# does not (it would test the build tree's binary). Exits 77 when the
# remapfs package is not installed.
#
# It runs in a private mount namespace where /etc/fstab is a bind mount of a
# copy with the test's line: mount(8) reads the line from /etc/fstab, but
# the machine's file is never written, so no way the test ends (SIGKILL
# included) leaves the line behind, and a concurrent edit is not undone.
if [[ -z ${REMAPFS_PACKAGE_NS:-} && $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
  REMAPFS_PACKAGE_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment python3 file readelf mount umount
[[ -n ${REMAPFS_PACKAGE_NS:-} ]] || skip "no private mount namespace (unshare --mount)"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

[[ $REMAPFS == /usr/bin/remapfs ]] || skip "runs on the installed package: REMAPFS=/usr/bin/remapfs"
dpkg-query -W -f='${Status}' remapfs 2>/dev/null | grep -q 'install ok installed' ||
  skip "the remapfs package is not installed"

# ---- the installed files ----------------------------------------------------
say "installed files"
assert_eq "package remapfs" "$(dpkg -S "$REMAPFS" | sed 's/:.*//;s/^/package /')" "dpkg -S $REMAPFS"
# mount.fuse3 runs `remapfs` from PATH for an fstab entry: a source install
# in /usr/local/bin would shadow the package's binary.
assert_eq /usr/bin/remapfs "$(command -v remapfs)" "remapfs on PATH is the package's"
[[ $(file -b "$REMAPFS") == *", stripped"* ]] || fail "$REMAPFS is not stripped: $(file -b "$REMAPFS")"
! readelf -S "$REMAPFS" | grep -q '\.debug_info' || fail "$REMAPFS has a .debug_info section"
echo "   ok: the binary is stripped (no .debug_info)"
version=$(dpkg-query -W -f='${Version}' remapfs)
[[ $("$REMAPFS" --version) == "remapfs ${version%-*} "* ]] ||
  fail "remapfs --version: '$("$REMAPFS" --version)', package $version"
echo "   ok: remapfs --version names ${version%-*}"

MAN=/usr/share/man/man1/remapfs.1.gz
if command -v man >/dev/null; then
  assert_eq "$MAN" "$(man -w remapfs)" "man -w remapfs"
fi
[[ $(zcat "$MAN" | head -1) == ".TH REMAPFS 1 "* ]] || fail "$MAN is not the remapfs(1) page"
echo "   ok: $MAN is remapfs(1)"

UNIT=/lib/systemd/system/remapfs@.service
[[ -f $UNIT ]] || fail "no $UNIT"
grep -q '^ExecStart=/usr/bin/remapfs mount ' "$UNIT" || fail "$UNIT: ExecStart is not /usr/bin/remapfs mount"
! grep -q '/usr/local' "$UNIT" || fail "$UNIT names /usr/local: $(grep /usr/local "$UNIT")"
echo "   ok: $UNIT runs /usr/bin/remapfs"
# Every Documentation= target exists: file:// paths and man: pages (a line
# holds several, space-separated).
# shellcheck disable=SC2013
for doc in $(sed -n 's/^Documentation=//p' "$UNIT"); do
  case $doc in
    file://*) [[ -f ${doc#file://} ]] || fail "Documentation=$doc: no such file" ;;
    man:*)
      page=${doc#man:} section=${doc##*(}
      page=${page%(*} section=${section%)}
      man -w "$section" "$page" >/dev/null || fail "Documentation=$doc: no such man page"
      ;;
    http://* | https://*) echo "   note: Documentation=$doc: a web page, not checked offline"; continue ;;
    *) fail "Documentation=$doc: not file://, man: or http(s)://" ;;
  esac
  echo "   ok: Documentation=$doc exists"
done

COMPLETION=/usr/share/bash-completion/completions/remapfs
bash "$ROOT/tests/packaging/bash_completion.sh" "$COMPLETION" >"$TMP/completion.out" 2>&1 ||
  { cat "$TMP/completion.out" >&2; fail "the installed bash completion"; }
echo "   ok: $(tail -1 "$TMP/completion.out")"
grep -q '^# remapfs' /usr/share/doc/remapfs/README.md || fail "no README at /usr/share/doc/remapfs/README.md"
grep -q '^License: GPL-2.0-or-later' /usr/share/doc/remapfs/copyright || fail "copyright: no GPL-2.0-or-later"
echo "   ok: README.md and copyright (GPL-2.0-or-later) in /usr/share/doc/remapfs"

# ---- the demo on the installed binary ---------------------------------------
say "scripts/demo.sh with REMAPFS=$REMAPFS"
REMAPFS=$REMAPFS bash "$ROOT/scripts/demo.sh" >"$TMP/demo.out" 2>&1 ||
  { tail -30 "$TMP/demo.out" >&2; fail "scripts/demo.sh on the installed binary"; }
assert_eq "PASS: remapfs demo: 8 sectors remapped live, data intact across a remount" \
  "$(tail -1 "$TMP/demo.out")" "the demo passes on the installed binary"


# ---- fstab, mount -a, status --json during a long add_bad -------------------
DIR=$(mktemp -d /var/tmp/remapfs-pkg.XXXXXX)  # 1.6 GiB of images: not tmpfs
MAIN=$DIR/main.img SPARE=$DIR/spare.img MNT=$DIR/mnt LOG=$DIR/remapfs.log
DISK=$MNT/main.img
FIRST=0 LAST=999999 # add_bad's range: half of MAIN, about 5 s of copying
OPTIONS="direct_io=off,log_file=$LOG,log_level=debug,error_recovery_time=2s,nofail"

# After the mounts are gone (lib.sh's cleanup runs the hooks last).
CLEANUP_HOOKS+=("rm -rf '$DIR'")

# The fstype of every mount on MNT, one a line.
mounts_on_mnt() {
  awk -v m="$MNT" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo
}

# The pids of the installed remapfs serving MNT (mount(8) starts it; it
# daemonizes).
daemon_pids() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == "$REMAPFS" ]] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF " $MNT " && echo "${p#/proc/}"
  done
  return 0
}

# status_fields KEY...: sets FIELDS to those keys of `remapfs status MNT
# --json`, in order (a list or an object as JSON text). The exit code is the
# verdict's: 0 PASSED, 3 WARNING (the spare fills past 80% here), 4 FAILING.
status_fields() {
  local rc=0 verdict
  "$REMAPFS" status "$MNT" --json >"$TMP/status.json" 2>"$TMP/status.err" || rc=$?
  case $rc in
    0) verdict=PASSED ;; 3) verdict=WARNING ;; 4) verdict=FAILING ;;
    *) fail "remapfs status $MNT --json: exit $rc ($(cat "$TMP/status.err"))" ;;
  esac
  grep -qF "\"verdict\":\"$verdict\"" "$TMP/status.json" ||
    fail "remapfs status exit $rc, but not verdict $verdict: $(head -c 300 "$TMP/status.json")"
  "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for v in (d[k] for k in sys.argv[2:]):
    print(v if isinstance(v, (str, int)) else json.dumps(v))
' "$TMP/status.json" "$@" >"$TMP/status.fields" ||
    fail "status --json: $(head -c 500 "$TMP/status.json")"
  mapfile -t FIELDS <"$TMP/status.fields"
}

fstab_mount() {
  mount "$MNT" >"$TMP/mount.out" 2>&1 || { cat "$TMP/mount.out" >&2; fail "mount $MNT (fstab)"; }
  FUSE_MOUNTS+=("$MNT")
  assert_eq fuse.remapfs "$(mounts_on_mnt)" "mount $MNT: one fuse.remapfs mount"
  PIDS=$(daemon_pids)
  [[ $PIDS =~ ^[0-9]+$ ]] || fail "not one remapfs daemon for $MNT: '$PIDS'"
  DAEMON_PIDS+=("$PIDS")
  echo "   ok: daemon $PIDS serves $MNT"
}

fstab_umount() {
  umount "$MNT" || fail "umount $MNT"
  wait_until 10 eval "! kill -0 $PIDS" || fail "daemon $PIDS still running 10 s after umount"
  assert_eq "" "$(mounts_on_mnt)" "umount $MNT: nothing mounted there"
}

say "format a 1 GiB MAIN with a 640 MiB spare; one /etc/fstab line"
truncate -s 1G "$MAIN"
format_volume "$MAIN" "$SPARE" --spare-size 640M
mkdir "$MNT"
[[ -f /etc/fstab ]] || fail "no /etc/fstab to cover with the test's copy"
{ cat /etc/fstab; echo "$MAIN,$SPARE $MNT fuse.remapfs $OPTIONS 0 0"; } >"$TMP/fstab"
mount --bind "$TMP/fstab" /etc/fstab
OTHER_MOUNTS+=(/etc/fstab)
echo "   ok: /etc/fstab (in this mount namespace) ends with: $(tail -1 /etc/fstab)"

say "mount MNT, then mount -a: a no-op for the mounted entry"
fstab_mount
[[ -s $LOG ]] || fail "log_file=$LOG: nothing written there"
echo "   ok: the daemon logs to $LOG (log_file=)"
# -t fuse.remapfs: leave the machine's other fstab entries alone.
rc=0
mount -a -t fuse.remapfs >"$TMP/mount-a.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { cat "$TMP/mount-a.out" >&2; fail "mount -a: exit $rc"; }
assert_eq fuse.remapfs "$(mounts_on_mnt)" "after mount -a: still one fuse.remapfs mount"
assert_eq "$PIDS" "$(daemon_pids)" "after mount -a: the same daemon"

say "write, then add_bad $FIRST-$LAST in the background, watched through status --json"
head -c $((4 << 20)) /dev/urandom >"$TMP/payload1"
write_sectors "$DISK" 8192 "$TMP/payload1"
(echo "$FIRST-$LAST" >"$MNT/control/add_bad") 2>"$TMP/add_bad.err" &
ADD_PID=$!
JOB_DONE=false seen=0 polls=0 last_done=0 total_want=$((LAST - FIRST + 1))
while [[ $JOB_DONE == false ]]; do
  kill -0 "$ADD_PID" 2>/dev/null || JOB_DONE=true
  status_fields operation operation_done operation_total
  polls=$((polls + 1))
  if [[ ${FIELDS[0]} == add_bad ]]; then
    progress=${FIELDS[1]}
    assert_eq "$total_want" "${FIELDS[2]}" "operation_total during add_bad (poll $polls)" >/dev/null
    ((progress >= last_done)) || fail "operation_done went back from $last_done to $progress"
    if ((progress > 0 && progress < total_want)); then seen=$((seen + 1)); fi
    last_done=$progress
  fi
  ((polls < 6000)) || fail "add_bad still running after 6000 polls"
  sleep 0.05
done
((seen > 0)) || fail "status --json never showed add_bad between 0 and $total_want ($polls polls)"
echo "   ok: status --json showed add_bad in progress $seen times (last operation_done $last_done)"
wait "$ADD_PID" || fail "echo $FIRST-$LAST > control/add_bad: $(cat "$TMP/add_bad.err")"

status_fields operation operation_done operation_total remapped state verdict
assert_eq "idle 0 0" "${FIELDS[*]:0:3}" "status --json after add_bad: operation idle"
assert_eq "$total_want" "${FIELDS[3]}" "status --json: remapped is the range's size"
assert_eq mounted "${FIELDS[4]}" "status --json: state"
[[ ${FIELDS[5]} =~ ^(PASSED|WARNING|FAILING)$ ]] || fail "status --json: verdict '${FIELDS[5]}'"
assert_eq "$total_want" "$(status_value "$MNT" remapped)" "control/status agrees: remapped"

say "data: served from the spare now; a new write there leaves MAIN alone"
assert_eq "$(sha256sum <"$TMP/payload1" | cut -d' ' -f1)" "$(sectors_sha "$DISK" 8192 8192)" \
  "the bytes written before add_bad read back"
head -c $((64 << 10)) /dev/urandom >"$TMP/payload2"
write_sectors "$DISK" 500000 "$TMP/payload2"
assert_eq "$(head -c $((64 << 10)) /dev/zero | sha256sum | cut -d' ' -f1)" \
  "$(sectors_sha "$MAIN" 500000 128)" "a write into the range did not reach MAIN"

say "umount, mount again through fstab, the data is still there"
fstab_umount
fstab_mount
assert_eq "$(sha256sum <"$TMP/payload1" | cut -d' ' -f1)" "$(sectors_sha "$DISK" 8192 8192)" \
  "after a remount: the bytes written before add_bad"
assert_eq "$(sha256sum <"$TMP/payload2" | cut -d' ' -f1)" "$(sectors_sha "$DISK" 500000 128)" \
  "after a remount: the bytes written into the range"
status_fields operation remapped
assert_eq "idle $total_want" "${FIELDS[*]}" "after a remount: status --json"
fstab_umount

pass
