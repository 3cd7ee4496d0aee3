#!/usr/bin/env bash
# The mount's tree is fixed (SPEC "Safety of commands"): every namespace
# change fails with EPERM, never ENOSYS, and leaves the tree as it was.
# Timestamps, modes and owners are not stored, so utime/touch, chmod and
# chown of the disk file fail with EPERM instead of pretending.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment python3 find

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img

# os_errno 'PYTHON CALL' ARGS...: runs one os call with sys.argv[1..] and
# prints 0, or the errno it failed with.
os_errno() {
  "$PY" -c "
import os, stat, sys
a = sys.argv
try:
    $1
    print(0)
except OSError as e:
    print(e.errno)" "${@:2}"
}

# The tree: every path with its type, mode, size and mtime.
tree() {
  find "$MNT" -printf '%P %y %m %s %T@\n' | sort
}

expect_refused() {
  local what=$1; shift
  assert_eq "$EPERM" "$(os_errno "$@")" "$what fails with EPERM"
}

check_namespace_changes() {
  say "create, mknod, mkdir, unlink, rmdir, symlink, link, rename: EPERM"
  expect_refused "open(O_CREAT) of a new name" \
    'os.close(os.open(a[1], os.O_WRONLY | os.O_CREAT, 0o644))' "$MNT/new"
  expect_refused "open(O_CREAT|O_EXCL) in control/" \
    'os.close(os.open(a[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))' "$MNT/control/new"
  expect_refused "mknod of a FIFO" 'os.mknod(a[1], 0o644 | stat.S_IFIFO)' "$MNT/fifo"
  expect_refused "mknod of a regular file" 'os.mknod(a[1], 0o644 | stat.S_IFREG)' "$MNT/reg"
  expect_refused "mkdir" 'os.mkdir(a[1])' "$MNT/dir"
  expect_refused "mkdir in control/" 'os.mkdir(a[1])' "$MNT/control/dir"
  expect_refused "unlink of the disk file" 'os.unlink(a[1])' "$DISK"
  expect_refused "unlink of a control file" 'os.unlink(a[1])' "$MNT/control/status"
  expect_refused "rmdir of control/" 'os.rmdir(a[1])' "$MNT/control"
  expect_refused "symlink" 'os.symlink(a[1], a[2])' "main.img" "$MNT/link"
  expect_refused "hard link of the disk file" 'os.link(a[1], a[2])' "$DISK" "$MNT/hard"
  expect_refused "rename of the disk file" 'os.rename(a[1], a[2])' "$DISK" "$MNT/renamed"
  expect_refused "rename over a control file" 'os.rename(a[1], a[2])' \
    "$MNT/control/add_bad" "$MNT/control/remove"
  expect_refused "rename of control/" 'os.rename(a[1], a[2])' "$MNT/control" "$MNT/ctl"
  say "the shell tools say so too"
  local tool
  for tool in "touch $MNT/new" "mkdir $MNT/dir" "rm -f $DISK" "ln -s x $MNT/l" \
    "ln $DISK $MNT/h" "mv $DISK $MNT/m" "rmdir $MNT/control"; do
    if $tool 2>"$TMP/tool.err"; then fail "$tool succeeded"; fi
    grep -qi "not permitted" "$TMP/tool.err" || fail "$tool: $(cat "$TMP/tool.err")"
  done
  echo "   ok: touch, mkdir, rm, ln -s, ln, mv, rmdir report 'Operation not permitted'"
}

check_attributes() {
  say "utime/touch, chmod, chown of the disk file: EPERM (nothing stores them)"
  expect_refused "utime to a given time" 'os.utime(a[1], (1000000000, 1000000000))' "$DISK"
  expect_refused "utime to now" 'os.utime(a[1])' "$DISK"
  expect_refused "chmod" 'os.chmod(a[1], 0o600)' "$DISK"
  expect_refused "chown" 'os.chown(a[1], 1, 1)' "$DISK"
  if touch "$DISK" 2>/dev/null; then fail "touch of the disk file succeeded"; fi
  echo "   ok: touch of the existing disk file fails"
  say "what is allowed still works: > a control file, open without O_CREAT of the disk"
  assert_eq 0 "$(os_errno 'os.close(os.open(a[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC))' \
    "$MNT/control/add_bad")" "open(O_CREAT|O_TRUNC) of an existing control file"
  assert_eq 0 "$(os_errno 'os.close(os.open(a[1], os.O_RDWR | os.O_CREAT))' "$DISK")" \
    "open(O_CREAT) of the existing disk file"
}

main() {
  make_main "$MAIN" $((4 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 512K
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  tree >"$TMP/tree.before"
  check_namespace_changes
  check_attributes
  tree >"$TMP/tree.after"
  assert_same_file "$TMP/tree.before" "$TMP/tree.after" \
    "the tree (names, types, modes, sizes, times) is unchanged"
  assert_same_file "$MAIN" "$DISK" "the disk's bytes are unchanged"
  unmount_remapfs "$MNT"
  pass
}

main
