#!/usr/bin/env bash
# No command blocks on, or writes to, a special file. Every subcommand given
# a FIFO, a socket, a directory or a character device as MAIN or SPARE must
# exit non-zero quickly (timeout 10 is only a hang guard), name the path and
# what it is, and leave every file as it was. Before the fix, info, check,
# format, resize-spare and mount blocked forever in open() on a FIFO.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment timeout python3 sha256sum

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
LIST=$TMP/bad.md

# refused WHAT WANT CMD...: CMD exits non-zero within 10 s, stderr has WANT.
refused() {
  local what=$1 want=$2 rc=0; shift 2
  timeout 10 "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
  [[ $rc -ne 124 ]] || fail "$what: still blocked after 10 s"
  [[ $rc -ne 0 ]] || fail "$what: exited 0"
  grep -qF -- "$want" "$TMP/err" || fail "$what: stderr lacks \"$want\": $(cat "$TMP/err")"
  echo "   ok: $what -> exit $rc: $want"
}

# Every command, the special file X in the SPARE role, then in the MAIN role.
each_command() {
  local x=$1 what=$2
  local as_spare="SPARE '$x' is $what, not a regular file or block device"
  local as_main="MAIN '$x' is $what, not a regular file or block device"
  refused "info $what" "$as_spare" "$REMAPFS" info "$x"
  refused "check $what" "$as_spare" "$REMAPFS" check "$x"
  refused "check --repair $what" "$as_spare" "$REMAPFS" check "$x" --repair
  refused "format onto $what" "$as_spare" "$REMAPFS" format "$MAIN" "$x"
  refused "format --force onto $what" "$as_spare" \
    "$REMAPFS" format "$MAIN" "$x" --spare-size 1M --force
  refused "resize-spare of $what" "$as_spare" "$REMAPFS" resize-spare "$MAIN" "$x" 2M
  refused "mark into $what" "$as_spare" "$REMAPFS" mark "$MAIN" "$x" --format md "$LIST"
  refused "mount of $what as SPARE" "$as_spare" "$REMAPFS" mount "$MAIN" "$x" "$MNT" -f
  refused "check --main $what" "$as_main" "$REMAPFS" check "$SPARE" --main "$x"
  refused "format of $what as MAIN" "$as_main" \
    "$REMAPFS" format "$x" "$TMP/new.spare" --spare-size 1M
  refused "resize-spare with $what as MAIN" "$as_main" \
    "$REMAPFS" resize-spare "$x" "$SPARE" 2M
  refused "mark with $what as MAIN" "$as_main" \
    "$REMAPFS" mark "$x" "$SPARE" --format md "$LIST"
  refused "mount of $what as MAIN" "$as_main" "$REMAPFS" mount "$x" "$SPARE" "$MNT" -f
  [[ ! -e $TMP/new.spare ]] || fail "a refused format created $TMP/new.spare"
  ! is_mounted "$MNT" || fail "$MNT got mounted"
}

main() {
  make_main "$MAIN" $((8 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 1M
  echo "100 8" >"$LIST"
  mkdir -p "$MNT"
  FUSE_MOUNTS+=("$MNT")
  mkfifo "$TMP/fifo"
  "$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/sock"
  mkdir "$TMP/dir"
  sha256sum "$MAIN" "$SPARE" "$LIST" >"$TMP/before.sha"

  say "a FIFO nobody writes to"
  each_command "$TMP/fifo" "a FIFO"
  say "a Unix socket"
  each_command "$TMP/sock" "a socket"
  say "a directory"
  each_command "$TMP/dir" "a directory"
  say "a character device"
  each_command /dev/null "a character device"

  say "mount --log-file on a FIFO nobody reads is refused, not a hang"
  refused "mount --log-file FIFO" "cannot open log file '$TMP/fifo'" \
    "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f --log-file "$TMP/fifo"

  say "nothing changed"
  sha256sum -c --quiet "$TMP/before.sha" || fail "MAIN, SPARE or the list changed"
  [[ -p $TMP/fifo && -S $TMP/sock && -d $TMP/dir ]] || fail "a special file was replaced"
  [[ -z $(ls -A "$TMP/dir") ]] || fail "something was created in $TMP/dir"
  echo "   ok: MAIN, SPARE and the special files are as they were"
  "$REMAPFS" check "$SPARE" --main "$MAIN" >/dev/null || fail "check of SPARE afterwards"
  pass
}

main
