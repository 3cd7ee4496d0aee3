#!/usr/bin/env bash
# Formats every C++ file git tracks (*.cc, *.h) with clang-format, in the
# style of the repository's .clang-format.
#
#   scripts/format.sh           reformat them in place
#   scripts/format.sh --check   change nothing; list the files that differ
#                               and exit 1 if there is any (meson test
#                               'clang_format', suite 'style')
#
# The style is that of clang-format 14 (Debian 12's `clang-format`); other
# versions break some lines differently. CLANG_FORMAT names the binary;
# otherwise clang-format-14, else clang-format. --check exits 77 (a skip)
# when there is no clang-format 14 or no git checkout to list the files.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WANT_MAJOR=14

usage() {
  sed -n '/^#   scripts/,/^# *$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# Exits 77 after a message on stderr.
skip() {
  echo "format.sh: $*" >&2
  exit 77
}

find_clang_format() {
  local candidate
  for candidate in ${CLANG_FORMAT:-} clang-format-$WANT_MAJOR clang-format; do
    if command -v "$candidate" >/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

main() {
  local check=false
  case ${1:-} in
    "") ;;
    --check) check=true ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac

  local cf version
  cf=$(find_clang_format) || skip "no clang-format found (Debian: apt install clang-format)"
  version=$("$cf" --version)
  if [[ ! $version =~ version\ ${WANT_MAJOR}\. ]]; then
    # Another version would report differences that version 14 does not.
    $check && skip "the style is checked with clang-format $WANT_MAJOR; $cf is: $version"
    echo "format.sh: warning: $cf is not version $WANT_MAJOR: $version" >&2
  fi

  cd "$ROOT"
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    skip "$ROOT is not a git checkout: no list of tracked files"
  local files=()
  mapfile -t files < <(git ls-files -- '*.cc' '*.h')

  if ! $check; then
    "$cf" -i --style=file "${files[@]}"
    echo "formatted ${#files[@]} files"
    return 0
  fi
  # One run over every file: a clang-format per file is too slow on a
  # loaded machine. Each line that would change is reported as
  # "FILE:LINE:COL: error: code should be clang-formatted".
  local out rc=0 differ=()
  out=$("$cf" --dry-run --Werror --style=file "${files[@]}" 2>&1) || rc=$?
  mapfile -t differ < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error: code should be clang-formatted' \
    <<<"$out" | cut -d: -f1 | sort -u)
  if (( ${#differ[@]} == 0 )); then
    if (( rc != 0 )); then
      echo "$out" >&2
      echo "format.sh: $cf failed (exit $rc)" >&2
      return 2
    fi
    echo "all ${#files[@]} files follow .clang-format"
    return 0
  fi
  echo "${#differ[@]} of ${#files[@]} files do not follow .clang-format" \
    "(scripts/format.sh reformats them):"
  printf '  %s\n' "${differ[@]}"
  return 1
}

main "$@"
