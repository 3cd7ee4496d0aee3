#!/usr/bin/env bash
# The bash completion (packaging/remapfs.bash-completion) in a real bash with
# the bash-completion package: each case sets COMP_WORDS/COMP_CWORD/COMP_LINE
# as bash would for the words typed, calls _remapfs and compares COMPREPLY
# exactly.
#
#   bash_completion.sh [COMPLETION_FILE]   default: the one in the tree
#
# installed_package.sh runs it on the installed file. Exits 77 (skip)
# without /usr/share/bash-completion/bash_completion.
# No -u: bash-completion's functions read unset variables.
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FILE=${1:-$HERE/../../packaging/remapfs.bash-completion}
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[[ -r $BASH_COMPLETION ]] || { echo "SKIP: no bash-completion ($BASH_COMPLETION)"; exit 77; }
[[ -r $FILE ]] || { echo "FAIL: no completion file '$FILE'"; exit 1; }

# shellcheck source=/dev/null
source "$BASH_COMPLETION"
# shellcheck source=/dev/null
source "$FILE"
[[ $(complete -p remapfs 2>/dev/null) == "complete -F _remapfs remapfs" ]] ||
  { echo "FAIL: $FILE does not register _remapfs for remapfs"; exit 1; }

FAILED=0

# complete_words WORD...: COMPREPLY for the words typed, the last one being
# the word under the cursor, printed one a line. A "=" word stands for
# bash's split of --opt=value (COMP_WORDBREAKS): no spaces around it.
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE=""
  local w prev=""
  for w in "$@"; do
    if [[ -z $COMP_LINE ]]; then COMP_LINE=$w
    elif [[ $w == "=" || $prev == "=" ]]; then COMP_LINE+=$w
    else COMP_LINE+=" $w"
    fi
    prev=$w
  done
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _remapfs remapfs "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
  printf '%s\n' "${COMPREPLY[@]}"
}

# expect "WANT" WORD...: COMPREPLY, in order and space-joined, is WANT.
expect() {
  local want=$1; shift
  local got
  got=$(complete_words "$@" | paste -sd' ')
  report "$want" "$got" "$*"
}

# expect_sorted: the same, sorted (file names come in directory order).
expect_sorted() {
  local want=$1; shift
  local got
  got=$(complete_words "$@" | sort | paste -sd' ')
  report "$want" "$got" "$*"
}

report() {
  if [[ $1 == "$2" ]]; then
    echo "   ok: '$3' -> '$2'"
  else
    echo "FAIL: '$3': expected '$1', got '$2'"
    FAILED=$((FAILED + 1))
  fi
}

echo "== subcommands and options"
expect "format mount check info resize-spare mark status --help --version" remapfs ""
expect "resize-spare" remapfs re
expect "status" remapfs st
expect "--direct-io" remapfs mount --di
expect "--clear-dead-mount" remapfs mount MAIN SPARE --cl
expect "--json --prometheus --spare-warn --spare-fail --error-rate-warn --help" remapfs status --
expect "--main --repair --json --help" remapfs check --
expect "--format --block-size --bad-sector-only --help" remapfs mark --
expect "" remapfs bogus ""
expect "" remapfs bogus --

echo "== values of enumerated options"
expect "auto on off" remapfs mount --direct-io ""
expect "on off" remapfs mount --direct-io = o
expect "warn" remapfs mount --log-level w
expect "trace debug info warn error" remapfs mount MAIN --log-level ""
expect "512 4096" remapfs format a b --sector-size ""
expect "auto geometric linear minimal" remapfs format --strategy ""
expect "badblocks md ddrescue" remapfs mark a b --format ""
expect "ddrescue" remapfs info s --export d
expect "" remapfs status --spare-warn ""
expect "allow_other,log_level= allow_other,log_file=" remapfs mount -o allow_other,log_
expect "direct_io=" remapfs mount a b c -o dir

echo "== operands: files, and a directory for the mountpoint"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
touch disk.img disk.spare
mkdir mnt
expect_sorted "disk.img disk.spare mnt" remapfs mount ""
expect_sorted "disk.img disk.spare mnt" remapfs mount disk.img ""
expect_sorted "mnt" remapfs mount disk.img disk.spare ""
expect_sorted "mnt" remapfs mount --log-level info -o ro disk.img disk.spare ""
expect_sorted "mnt" remapfs mount --name = vm1 disk.img disk.spare m
expect_sorted "disk.spare" remapfs format disk.img disk.s
expect_sorted "disk.img disk.spare mnt" remapfs status ""
expect_sorted "disk.img disk.spare mnt" remapfs check --main disk.img ""
expect_sorted "" remapfs resize-spare disk.img disk.spare ""
expect_sorted "disk.img disk.spare" remapfs mount --log-file disk.

if ((FAILED > 0)); then
  echo "FAIL: $FAILED completion case(s)"
  exit 1
fi
echo "PASS: $(basename "$0") ($FILE)"
