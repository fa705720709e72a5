#!/bin/sh
# Benchmark of the dry run and of the package's size (make bench; never part
# of make check, never gating anything on a time).
#
#  1. `hotpatch verify` wall time, median of RUNS runs, with the KB916846
#     package, its targets on disk (a staged root holding every srv and
#     mrxsmb build) and running processes (srv of each version, smbcli load
#     of each version): once with --pid for those processes, once scanning
#     every process of the machine.
#  2. The package's size next to the bsdiff and xdelta3 deltas that would
#     turn each eligible build into the fixed full build.
# Usage: tests/bench/verify.sh BUILD_DIR [RUNS]
set -eu
B=$(cd "$1" && pwd)
RUNS=${2:-21}
. "$B/targets/versions.sh"
HP="$B/bin/hotpatch"
PKG="$B/packages/KB916846"
KEY="$B/keys/vendor.pub"
W=$(mktemp -d "$B/tmp-bench-verify.XXXXXX" 2>/dev/null || mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

# A staged root with every build installed.
mkdir -p "$W/root/usr/sbin" "$W/root/usr/local/sbin" "$W/root/usr/lib" "$W/share"
cp "$B/targets/srv/$SRV_DEFAULT/srv" "$W/root/usr/sbin/srv"
cp "$B/targets/srv/$(echo $SRV_VERSIONS | cut -d' ' -f1)/srv" "$W/root/usr/local/sbin/srv"
cp "$B/targets/mrxsmb/$MRXSMB_DEFAULT/libmrxsmb.so" "$W/root/usr/lib/libmrxsmb.so.1"
ln -s libmrxsmb.so.1 "$W/root/usr/lib/libmrxsmb.so"

printf 'EnableSecuritySignature=0\nRequireSecuritySignature=0\n' >"$W/srv.conf"
printf 'EnableSecuritySignature=1\nRequireSecuritySignature=0\n' >"$W/cli.conf"
port=$((20000 + $$ % 20000))
first_port=""
for v in $SRV_VERSIONS; do
	[ "$v" = "$FIXED_VERSION" ] && continue
	port=$((port + 1))
	"$B/targets/srv/$v/srv" --listen "127.0.0.1:$port" --config "$W/srv.conf" \
		--share "$W/share" --threads 16 >/dev/null 2>&1 &
	pids="$pids $!"
	[ -z "$first_port" ] && first_port=$port
done
sleep 0.5
for v in $MRXSMB_VERSIONS; do
	[ "$v" = "$FIXED_VERSION" ] && continue
	"$B/targets/mrxsmb/$v/smbcli" load --server "127.0.0.1:$first_port" --config "$W/cli.conf" \
		--clients 4 --duration 120 >/dev/null 2>&1 &
	pids="$pids $!"
done
sleep 0.5
pidargs=""
for p in $pids; do pidargs="$pidargs --pid $p"; done

# median_ms CMD...: run CMD RUNS times, print the median wall time in ms.
median_ms() {
	i=0
	: >"$W/times"
	while [ $i -lt "$RUNS" ]; do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 )) >>"$W/times"
		i=$((i + 1))
	done
	sort -n "$W/times" | awk '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "%d.%03d", m / 1000, m % 1000 }'
}

"$HP" verify "$PKG/manifest.json" --trusted-key "$KEY" --root "$W/root" $pidargs | tail -n 1
echo "bench-verify: verify, staged root + $(echo $pids | wc -w) processes (--pid), median of $RUNS: $(median_ms "$HP" verify "$PKG/manifest.json" --trusted-key "$KEY" --root "$W/root" $pidargs) ms"
echo "bench-verify: verify, staged root + every process of the machine ($(ls -d /proc/[0-9]* | wc -l) pids), median of $RUNS: $(median_ms "$HP" verify "$PKG/manifest.json" --trusted-key "$KEY" --root "$W/root") ms"
echo "bench-verify: verify, staged root only (--no-processes), median of $RUNS: $(median_ms "$HP" verify "$PKG/manifest.json" --trusted-key "$KEY" --root "$W/root" --no-processes) ms"

# Sizes: the whole package against full-build deltas.
size() { stat -c %s "$1"; }
total=0
for f in "$PKG"/*; do total=$((total + $(size "$f"))); done
echo "bench-verify: package KB916846: $total bytes in all ($(cd "$PKG" && for f in *; do printf '%s %s, ' "$f" "$(size "$f")"; done | sed 's/, $//'))"
delta() { # component file version
	old="$B/targets/$1/$3/$2" new="$B/targets/$1/$FIXED_VERSION/$2"
	bsdiff "$old" "$new" "$W/d.bsdiff"
	xdelta3 -e -9 -f -s "$old" "$new" "$W/d.xd3"
	echo "bench-verify: $1 $3 -> $FIXED_VERSION ($2, $(size "$new") bytes): bsdiff $(size "$W/d.bsdiff") bytes, xdelta3 $(size "$W/d.xd3") bytes"
	echo $(( $(size "$W/d.bsdiff") )) $(( $(size "$W/d.xd3") )) >>"$W/deltas"
}
: >"$W/deltas"
for v in $SRV_ELIGIBLE; do delta srv srv "$v"; done
for v in $MRXSMB_ELIGIBLE; do delta mrxsmb libmrxsmb.so "$v"; done
awk -v pkg="$total" '{ b += $1; x += $2 } END { printf "bench-verify: all eligible builds: bsdiff deltas %d bytes, xdelta3 deltas %d bytes; the hotpatch package %d bytes\n", b, x, pkg }' "$W/deltas"
