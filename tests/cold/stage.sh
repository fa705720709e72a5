#!/bin/sh
# The cold-patched components make check runs the targets' own suites on
# (the "[cold]" entries of its total): copies of the build's default srv,
# smbcli and libmrxsmb.so installed below STAGE/root at paths the KB916846
# manifest lists (usr/sbin/srv, usr/lib/libmrxsmb.so; smbcli in usr/bin
# finds the library through its $ORIGIN/../lib runpath), cold-patched there
# with the real CLI, then checked: both files carry the package's record,
# `hotpatch status` finds both applied on disk with no problem, and smbcli
# resolves the staged library. The defaults must be eligible versions (they
# are the newest eligible builds, targets/targets.mk); if they were not,
# apply would patch nothing and this fails. STAGE/ready is written last; on
# any failure the stage is removed and the status is 1.
# Usage: tests/cold/stage.sh BUILD_DIR STAGE_DIR
set -u
[ $# -eq 2 ] || { echo "usage: stage.sh BUILD_DIR STAGE_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 1
stage=$2
root=$stage/root
hotpatch=$build/bin/hotpatch
package=$build/packages/KB916846/manifest.json

fail() {
	echo "cold stage: $*" >&2
	rm -rf "$stage"
	exit 1
}

rm -rf "$stage"
mkdir -p "$root/usr/sbin" "$root/usr/bin" "$root/usr/lib" "$stage/state" &&
	cp -p "$build/bin/srv" "$root/usr/sbin/srv" &&
	cp -p "$build/bin/smbcli" "$root/usr/bin/smbcli" &&
	cp -p "$build/lib/libmrxsmb.so" "$root/usr/lib/libmrxsmb.so" ||
	fail "cannot copy the components below $root"
root=$(cd "$root" && pwd)

# Both files must come out "patched" (not replaced by a full build, not
# skipped); the JSON report is the stable form to read that from.
out=$("$hotpatch" --json apply "$package" --disk --root "$root" \
	--trusted-key "$build/keys/vendor.pub" --state-dir "$stage/state" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | grep -c '"result": "patched"')" -eq 2 ] ||
	fail "hotpatch apply --disk --root $root exited $rc, not with 2 files patched:
$out"

for f in usr/sbin/srv:srv usr/lib/libmrxsmb.so:mrxsmb; do
	path=$root/${f%%:*}
	rec=$(readelf -p .hotpatch.record "$path" 2>&1)
	case "$rec" in
	*"package=KB916846"*"component=${f#*:}"*) ;;
	*) fail "$path: no KB916846 record for ${f#*:} after apply:
$rec" ;;
	esac
done

out=$("$hotpatch" status --state-dir "$stage/state" 2>&1)
case "$out" in
*"$root/usr/lib/libmrxsmb.so: applied, on disk"*"$root/usr/sbin/srv: applied, on disk"*"2 targets, 0 problems"*) ;;
*) fail "hotpatch status does not show both files applied on disk:
$out" ;;
esac

lib=$(ldd "$root/usr/bin/smbcli" | sed -n 's/^[[:space:]]*libmrxsmb\.so => \([^ ]*\) .*/\1/p')
[ -n "$lib" ] && [ "$(readlink -f "$lib")" = "$root/usr/lib/libmrxsmb.so" ] ||
	fail "$root/usr/bin/smbcli resolves libmrxsmb.so to '$lib', not the staged $root/usr/lib/libmrxsmb.so"

echo "$root" >"$stage/ready"
