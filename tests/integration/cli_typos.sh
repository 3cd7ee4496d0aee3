#!/usr/bin/env bash
# Typos on the command line: an unknown command or long option one or two
# edits from a known one is a usage error (exit 2) that names it ("did you
# mean"); a word close to nothing gets the pointer to --help as before.
# Nothing is opened, so MAIN and SPARE stay as they were.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp timeout

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt

# usage_error WANT_STDERR ARGS...: `remapfs ARGS` exits 2 with exactly
# WANT_STDERR on stderr and nothing on stdout.
usage_error() {
  local want=$1; shift
  expect_cli_failure "remapfs $*" "$REMAPFS" "$@"
  assert_eq 2 "$CLI_RC" "exit code of a usage error"
  assert_eq "$want" "$CLI_ERR" "stderr of 'remapfs $*'"
  assert_eq "" "$(cat "$TMP/cli.out")" "nothing on stdout"
}

check_commands() {
  say "an unknown command: 'did you mean' when close, else the pointer to --help"
  usage_error "remapfs: unknown command 'formt'; did you mean 'format'?" formt "$MAIN" "$SPARE"
  usage_error "remapfs: unknown command 'mnt'"$'\n'"Try 'remapfs --help'." mnt
  usage_error "remapfs: unknown command 'resize-sapre'; did you mean 'resize-spare'?" \
    resize-sapre "$MAIN" "$SPARE" 2M
  usage_error "remapfs: unknown command '--verison'; did you mean '--version'?" --verison
  usage_error "remapfs: unknown command 'frobnicate'"$'\n'"Try 'remapfs --help'." frobnicate
}

check_options() {
  say "an unknown long option of a command: 'did you mean' when close"
  usage_error "remapfs format: unknown option '--forse'; did you mean '--force'?"$'\n'"Try \
'remapfs format --help'." format "$MAIN" "$TMP/new.spare" --forse
  usage_error "remapfs check: unknown option '--jsno'; did you mean '--json'?"$'\n'"Try \
'remapfs check --help'." check "$SPARE" --jsno
  usage_error "remapfs mark: unknown option '--bad-sectors-only'; did you mean \
'--bad-sector-only'?"$'\n'"Try 'remapfs mark --help'." \
    mark "$MAIN" "$SPARE" --format ddrescue --bad-sectors-only "$TMP/list"
  usage_error "remapfs mount: unknown option '--log-levle=debug'; did you mean \
'--log-level'?"$'\n'"Try 'remapfs mount --help'." mount "$MAIN" "$SPARE" "$MNT" --log-levle=debug
  usage_error "remapfs mount: unknown option '--bogus'"$'\n'"Try 'remapfs mount --help'." \
    mount "$MAIN" "$SPARE" "$MNT" --bogus
  usage_error "remapfs info: unknown option '-j'"$'\n'"Try 'remapfs info --help'." \
    info "$SPARE" -j
  ! is_mounted "$MNT" || fail "a refused mount mounted anyway"
}

main() {
  make_main "$MAIN" $((4 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 64K
  cp "$MAIN" "$TMP/main.copy"
  cp "$SPARE" "$TMP/spare.copy"
  mkdir -p "$MNT"
  check_commands
  check_options
  assert_same_file "$TMP/main.copy" "$MAIN" "MAIN unchanged"
  assert_same_file "$TMP/spare.copy" "$SPARE" "SPARE unchanged"
  [[ ! -e $TMP/new.spare ]] || fail "a refused format created $TMP/new.spare"
  echo "   ok: no spare created"
  pass
}

main
