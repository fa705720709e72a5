#!/bin/sh
# Installs the Debian packages the build and the tests need, and says what it
# installs. A second run finds everything present and installs nothing.
# Usage: mk/deps.sh build|check|demo|fuzz
set -eu

build_pkgs="gcc make binutils pkg-config libelf-dev libcapstone-dev zlib1g-dev libsodium-dev libjansson-dev libcunit1-dev"
# util-linux: setpriv and unshare, for the tests that run hotpatch without
# privilege (tests/e2e/test_defences.c).
check_pkgs="elfutils minisign valgrind procps bsdiff xdelta3 man-db groff-base util-linux"
demo_pkgs="procps bsdextrautils"
# libFuzzer targets (tests/fuzz/): clang and its fuzzer/sanitizer runtimes;
# check runs each target for a few seconds.
fuzz_pkgs="clang libclang-rt-14-dev"

case "${1:-build}" in
build) want="$build_pkgs" ;;
check) want="$build_pkgs $check_pkgs $fuzz_pkgs" ;;
demo)  want="$build_pkgs $demo_pkgs" ;;
fuzz)  want="$build_pkgs $fuzz_pkgs" ;;
*) echo "deps: unknown set '$1' (build, check, demo or fuzz)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; install them with: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An empty package list (fresh machine) makes every install fail; refresh it once.
if ! apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
echo "deps: installed:$missing"
