#!/bin/bash
# Benchmark (never part of make check): srv against smbcli load mode, 32
# persistent signed connections doing echo and read for 5 s, several runs;
# prints each run and the median requests/s and median p99 latency.
# Usage: tests/bench/smbcli-load.sh BUILD_DIR [RUNS] [CLIENTS] [DURATION]
set -u
build=${1:?usage: smbcli-load.sh BUILD_DIR [RUNS] [CLIENTS] [DURATION]}
runs=${2:-5} clients=${3:-32} duration=${4:-5}
srv="$build/bin/srv" cli="$build/bin/smbcli"
[ -x "$srv" ] && [ -x "$cli" ] || { echo "bench: $srv or $cli missing; run make" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hp-bench.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$work/share"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/share/file.txt"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n' >"$work/signing.conf"

"$srv" --listen 127.0.0.1:0 --config "$work/signing.conf" --share "$work/share" \
	--threads "$clients" 2>"$work/srv.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/srv.log")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "bench: srv did not start" >&2; cat "$work/srv.log" >&2; exit 1; }

echo "bench: $("$srv" --version), $clients clients, ${duration}s, $runs runs, signing required"
rps=() p99=()
for i in $(seq 1 "$runs"); do
	out=$("$cli" load --server "127.0.0.1:$port" --config "$work/signing.conf" \
		--clients "$clients" --duration "$duration" --read file.txt --json) ||
		{ echo "bench: run $i failed: $out" >&2; exit 1; }
	r=$(sed -n 's/.*"requests_per_s": \([0-9.]*\).*/\1/p' <<<"$out")
	p=$(sed -n 's/.*"p99_us": \([0-9]*\).*/\1/p' <<<"$out")
	echo "run $i: requests/s $r, p99 $p us"
	rps+=("$r") p99+=("$p")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "median: requests/s $(median "${rps[@]}"), p99 $(median "${p99[@]}") us"
