#!/bin/bash
# Benchmark: what smbcli load --clients 32 sees while srv gets KB916846,
# live (hotpatch apply --live --pid, then rollback) against the way without
# hotpatching (restart srv: SIGTERM, start the fixed full build on the same
# port), and against a baseline with no change at all (the same load, so
# the worst latency a loaded 2-core machine gives anyway is known). Each
# run: srv serves the load for DURATION seconds; one second in, the change
# is made; the load's report gives failed requests and the worst latency.
# Prints each run, the medians and the worst-latency ratios against the
# baseline. Never part of make check.
#
# Usage: live_load.sh BUILD_DIR [RUNS] [DURATION]
set -u
build=${1:?usage: live_load.sh BUILD_DIR [RUNS] [DURATION]}
runs=${2:-5}
duration=${3:-3}
. "$build/targets/versions.sh"
hp=$build/bin/hotpatch
manifest=$build/packages/KB916846/manifest.json
key=$build/keys/vendor.pub
srv_old=$build/targets/srv/$SRV_DEFAULT/srv
srv_fixed=$build/targets/srv/$FIXED_VERSION/srv
cli=$build/targets/mrxsmb/$MRXSMB_DEFAULT/smbcli
for f in "$hp" "$manifest" "$key" "$srv_old" "$srv_fixed" "$cli"; do
	[ -e "$f" ] || { echo "live_load: $f: missing; run make package first" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/hp-live-load.XXXXXX")
srv_pid=""
trap '[ -n "$srv_pid" ] && kill -KILL "$srv_pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/share"
echo "KB916846" >"$work/share/readme.txt"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 0\n' >"$work/server.conf"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 0\n' >"$work/client.conf"

# start_srv BINARY PORT: srv on 127.0.0.1:PORT (0: any), $srv_pid, $port.
start_srv() {
	local i
	: >"$work/srv.log"
	"$1" --listen "127.0.0.1:$2" --config "$work/server.conf" --share "$work/share" \
		--threads 64 2>"$work/srv.log" &
	srv_pid=$!
	for i in $(seq 1 500); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/srv.log")
		[ -n "$port" ] && return 0
		sleep 0.01
	done
	echo "live_load: $1 did not start" >&2
	exit 1
}

# one_run MODE: prints "failed MAX_US CHANGE_MS".
one_run() {
	local t0 t1 rep
	start_srv "$srv_old" 0
	"$cli" load --server "127.0.0.1:$port" --config "$work/client.conf" --clients 32 \
		--duration "$duration" --read readme.txt --json >"$work/load.json" 2>/dev/null &
	local load=$!
	sleep 1
	t0=$(date +%s%N)
	if [ "$1" = none ]; then
		:
	elif [ "$1" = live ]; then
		"$hp" apply "$manifest" --trusted-key "$key" --live --pid "$srv_pid" \
			--state-dir "$work/state" >/dev/null 2>&1 || echo "live_load: apply failed" >&2
	else
		kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null
		start_srv "$srv_fixed" "$port"
	fi
	t1=$(date +%s%N)
	wait "$load"
	if [ "$1" = live ]; then
		"$hp" rollback KB916846 --live --pid "$srv_pid" --state-dir "$work/state" >/dev/null 2>&1
	fi
	kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null; srv_pid=""
	rep=$(cat "$work/load.json")
	local failed=${rep#*\"failed\": } max=${rep#*\"max_us\": }
	echo "${failed%%,*} ${max%%,*} $(( (t1 - t0) / 1000000 ))"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for mode in none live restart; do
	: >"$work/$mode.txt"
	for r in $(seq 1 "$runs"); do
		res=$(one_run "$mode")
		echo "$mode run $r: failed requests, worst latency us, change ms: $res"
		echo "$res" >>"$work/$mode.txt"
	done
	echo "$mode: median over $runs runs of smbcli load --clients 32 --duration $duration:" \
		"failed requests $(cut -d' ' -f1 "$work/$mode.txt" | median)," \
		"worst latency $(cut -d' ' -f2 "$work/$mode.txt" | median) us," \
		"change took $(cut -d' ' -f3 "$work/$mode.txt" | median) ms"
done
worst() { cut -d' ' -f2 "$work/$1.txt" | median; }
awk -v n="$(worst none)" -v l="$(worst live)" -v r="$(worst restart)" 'BEGIN {
	printf "worst latency against no change: live %.2fx, restart %.2fx\n", l / n, r / n }'
