#!/bin/sh
# Package size with the fixed full builds (make bench-full-builds; never
# part of make check): the KB916846 package as `make package` writes it,
# carrying each full build whole (zlib, in the payload container), against
# the same package carrying binary deltas from each replaced build instead
# (bsdiff, xdelta3 -9, and zstd -19 --patch-from when zstd is installed).
# A delta serves exactly one base build; the whole build serves every
# version it replaces.
# Usage: tests/bench/full_builds.sh BUILD_DIR
set -eu
B=$(cd "$1" && pwd)
. "$B/targets/versions.sh"
PKG="$B/packages/KB916846"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT INT TERM
size() { stat -c %s "$1"; }

whole=0 hot=0
for f in "$PKG"/*; do
	case "$f" in
	*-"$FIXED_VERSION".hpc) whole=$((whole + $(size "$f"))) ;;
	*) hot=$((hot + $(size "$f"))) ;;
	esac
done
echo "bench-full-builds: hotpatch part (manifest, signature, payloads): $hot bytes"
echo "bench-full-builds: full builds whole (zlib containers): $whole bytes -> package $((hot + whole)) bytes"

bs=0 xd=0 zs=0
have_zstd=$(command -v zstd >/dev/null 2>&1 && echo 1 || echo 0)
delta() { # component file base-version
	old="$B/targets/$1/$3/$2" new="$B/targets/$1/$FIXED_VERSION/$2"
	bsdiff "$old" "$new" "$W/d.bs"
	xdelta3 -e -9 -f -s "$old" "$new" "$W/d.xd"
	line="bench-full-builds: $1 $3 -> $FIXED_VERSION ($(size "$new") bytes whole): bsdiff $(size "$W/d.bs"), xdelta3 $(size "$W/d.xd")"
	bs=$((bs + $(size "$W/d.bs")))
	xd=$((xd + $(size "$W/d.xd")))
	if [ "$have_zstd" = 1 ]; then
		zstd -q -19 -f --patch-from="$old" "$new" -o "$W/d.zs" 2>/dev/null
		line="$line, zstd --patch-from $(size "$W/d.zs")"
		zs=$((zs + $(size "$W/d.zs")))
	fi
	echo "$line bytes"
}
# The replaced builds: every version neither eligible nor the fixed one.
for v in $SRV_VERSIONS; do
	case " $SRV_ELIGIBLE $FIXED_VERSION " in *" $v "*) continue ;; esac
	delta srv srv "$v"
done
for v in $MRXSMB_VERSIONS; do
	case " $MRXSMB_ELIGIBLE $FIXED_VERSION " in *" $v "*) continue ;; esac
	delta mrxsmb libmrxsmb.so "$v"
done
echo "bench-full-builds: deltas instead: bsdiff $bs bytes -> package $((hot + bs)); xdelta3 $xd -> $((hot + xd))$( [ "$have_zstd" = 1 ] && echo "; zstd --patch-from $zs -> $((hot + zs))")"
