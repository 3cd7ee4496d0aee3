#!/usr/bin/env bash
# The `package` stage of scripts/test.sh: builds the Debian package from a
# copy of the source tree (tracked and new files, no build directories),
# installs it with `apt-get install ./remapfs_*.deb`, runs
# tests/integration/installed_package.sh on the installed /usr/bin/remapfs,
# then purges the package and checks that its files are gone.
#
#   scripts/package.sh [--keep-debs DIR]   DIR: where to copy the .debs
#
# Needs root (without it, the stage is one skipped check). The package is
# purged however the script ends, and the script refuses to start when a
# remapfs package is already installed (it would replace it, then purge
# it). Prints "N passed, N failed, N skipped" last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/deps.sh
source "$ROOT/scripts/lib/deps.sh"

# What the package installs; each must exist after the install and be gone
# after the purge.
PACKAGE_FILES=(
  /usr/bin/remapfs
  /usr/share/man/man1/remapfs.1.gz
  /lib/systemd/system/remapfs@.service
  /usr/share/bash-completion/completions/remapfs
  /usr/share/doc/remapfs/README.md
  /usr/share/doc/remapfs/copyright
)

WORK="" KEEP_DEBS="" INSTALLED=false
PASSED=0 FAILED=0 SKIPPED=0

check() {
  local what=$1; shift
  echo
  echo "### $what"
  if "$@"; then
    echo "ok: $what"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL: $what"
    FAILED=$((FAILED + 1))
    return 1
  fi
}

is_installed() {
  dpkg-query -W -f='${Status}' remapfs 2>/dev/null | grep -q 'install ok installed'
}

# Always: purge what this script installed, remove the work folder, and
# print the counts (a failure before any check still counts as one).
finish() {
  local rc=$?
  if [[ $INSTALLED == true ]] && is_installed; then
    echo "cleanup: apt-get purge -y remapfs"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y remapfs >/dev/null || true
  fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  ((rc == 0 || FAILED > 0)) || FAILED=1
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  exit "$rc"
}

# The files of the tree: tracked ones and new ones git does not ignore,
# without build directories or a checked-out debian/ build's leftovers.
copy_tree() {
  local dest=$1
  mkdir -p "$dest"
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
      xargs -0 cp --parents -t "$dest")
  else
    (cd "$ROOT" && tar --exclude='./build*' --exclude='./obj-*' -cf - .) | tar -C "$dest" -xf -
  fi
}

build_package() {
  local src=$WORK/remapfs
  copy_tree "$src" || return 1
  # The Build-Depends this machine lacks (none in CI: deps.sh has them).
  if ! (cd "$src" && dpkg-checkbuilddeps); then
    DEBIAN_FRONTEND=noninteractive apt-get build-dep -y --no-install-recommends "$src" || return 1
  fi
  # nocheck: the suites run in the other stages.
  (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
    >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log"; return 1; }
  ls -l "$WORK"/*.deb
}

install_package() {
  INSTALLED=true
  (cd "$WORK" && DEBIAN_FRONTEND=noninteractive apt-get install -y ./remapfs_*.deb) &&
    is_installed
}

purge_package() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y remapfs || return 1
  INSTALLED=false
  local f left=0
  for f in "${PACKAGE_FILES[@]}" /usr/share/doc/remapfs; do
    if [[ -e $f ]]; then echo "still there after the purge: $f"; left=1; fi
  done
  ! is_installed && ((left == 0))
}

main() {
  while (($# > 0)); do
    case $1 in
      --keep-debs) KEEP_DEBS=${2:?--keep-debs needs a directory}; shift ;;
      *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
  done
  trap finish EXIT
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: the package stage installs a package: it needs root"
    SKIPPED=1
    exit 0
  fi
  if is_installed; then
    echo "error: a remapfs package is already installed; this stage would replace and" \
      "purge it. Remove it first: apt-get purge remapfs" >&2
    exit 1
  fi
  WORK=$(mktemp -d /tmp/remapfs-package.XXXXXX)

  check "dpkg-buildpackage -us -uc -b" build_package
  [[ -z $KEEP_DEBS ]] || cp "$WORK"/*.deb "$KEEP_DEBS"/
  check "apt-get install ./remapfs_*.deb" install_package
  # A failed test still leaves the purge to check.
  check "installed_package.sh on /usr/bin/remapfs" \
    env REMAPFS=/usr/bin/remapfs bash "$ROOT/tests/integration/installed_package.sh" || :
  check "apt-get purge remapfs removes every file" purge_package
  ((FAILED == 0))
}

main "$@"
