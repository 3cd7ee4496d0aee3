#!/usr/bin/env bash
# A real /etc/fstab line of type fuse.remapfs, through mount(8) and
# mount.fuse3, with remapfs's own options in the option list:
#  - `mount MOUNTPOINT` mounts it; findmnt shows SOURCE "MAIN,SPARE" (the
#    fstab source: libmount takes an entry as mounted when the mount's
#    source and target are the entry's) and FSTYPE fuse.remapfs;
#  - `mount -a` then exits 0 and changes nothing: one mount, same daemon;
#  - `umount MOUNTPOINT` ends the daemon.
# It runs in a private mount namespace, where /etc/fstab is a bind mount of
# a copy with our line and /usr/local/bin a tmpfs holding `remapfs` (for
# mount.fuse3's PATH lookup): the machine's /etc/fstab is never written,
# and nothing outside the test sees either change.
if [[ -z ${REMAPFS_FSTAB_NS:-} && $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
  REMAPFS_FSTAB_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment unshare findmnt mount.fuse3 fuser
[[ -n ${REMAPFS_FSTAB_NS:-} ]] || skip "no private mount namespace"

MNT=$TMP/mnt
MAIN=$TMP/main.img
SPARE=$TMP/spare.img

daemon_pid() { fuser "$MAIN" 2>/dev/null | xargs; }

setup_fstab() {
  mount -t tmpfs tmpfs /usr/local/bin
  ln -s "$(readlink -f "$REMAPFS")" /usr/local/bin/remapfs
  cp /etc/fstab "$TMP/fstab"
  echo "$MAIN,$SPARE $MNT fuse.remapfs read_retries=1,log_file=$TMP/fstab.log,nofail 0 0" \
    >>"$TMP/fstab"
  mount --bind "$TMP/fstab" /etc/fstab
  echo "   ok: /etc/fstab (in this namespace) ends with: $(tail -1 /etc/fstab)"
}

main() {
  make_main "$MAIN" $((8 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 256K
  mkdir -p "$MNT"
  setup_fstab

  say "mount MOUNTPOINT through fstab"
  mount "$MNT" 2>"$TMP/mount.err" || fail "mount $MNT: $(cat "$TMP/mount.err")"
  FUSE_MOUNTS+=("$MNT")
  assert_eq "" "$(cat "$TMP/mount.err")" "stderr of mount"
  assert_eq "$MAIN,$SPARE fuse.remapfs" "$(findmnt -n -o SOURCE,FSTYPE "$MNT" | xargs)" \
    "findmnt SOURCE and FSTYPE"
  local pid
  pid=$(daemon_pid)
  [[ -n $pid ]] || fail "no daemon holds MAIN"
  DAEMON_PIDS+=("$pid")
  grep -q "mounted on $MNT" "$TMP/fstab.log" || fail "log_file= of fstab not used"
  echo "   ok: the daemon ($pid) logs to the log_file= of the fstab line"

  say "mount -a is a no-op for the mounted entry"
  mount -a 2>"$TMP/mount.err" || fail "mount -a: exit $?: $(cat "$TMP/mount.err")"
  assert_eq "" "$(cat "$TMP/mount.err")" "stderr of mount -a"
  assert_eq 1 "$(awk -v m="$MNT" '$5 == m' /proc/self/mountinfo | wc -l)" "mounts at $MNT"
  assert_eq "$pid" "$(daemon_pid)" "the daemon"
  findmnt --fstab -n "$MNT" >/dev/null || fail "findmnt --fstab"

  say "umount MOUNTPOINT"
  umount "$MNT" || fail "umount $MNT"
  wait_until 10 eval '[[ -z $(daemon_pid) ]]' || fail "daemon still running after umount"
  is_mounted "$MNT" && fail "still mounted"
  echo "   ok: unmounted, the daemon exited"
  pass
}

main
