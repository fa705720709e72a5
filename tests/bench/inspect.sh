#!/bin/sh
# Benchmark: `hotpatch inspect --all-functions` of a large real binary, the
# whole pipeline's first step at scale (read, hash, index every symbol,
# disassemble and judge every function). Prints each run's wall time and
# the median. Never part of `make check`; never a pass/fail on time.
# Usage: tests/bench/inspect.sh BUILD_DIR [FILE] [RUNS]
set -eu
build=$1
file=${2:-}
runs=${3:-7}
hotpatch=$build/bin/hotpatch

# The biggest library with many functions that this machine has.
if [ -z "$file" ]; then
	for f in /usr/lib/x86_64-linux-gnu/libLLVM-*.so.1 /usr/lib/x86_64-linux-gnu/libclang-*.so.* \
		 /usr/lib/x86_64-linux-gnu/libcrypto.so.3 /usr/lib/x86_64-linux-gnu/libc.so.6; do
		[ -f "$f" ] && { file=$f; break; }
	done
fi
[ -n "$file" ] || { echo "bench-inspect: no large binary found" >&2; exit 1; }

"$hotpatch" inspect "$file" | sed -n 's/^  symbols: */symbols: /p'
"$hotpatch" inspect "$file" --all-functions | tail -n 1

times=""
i=0
while [ "$i" -lt "$runs" ]; do
	start=$(date +%s%N)
	"$hotpatch" inspect "$file" --all-functions >/dev/null
	end=$(date +%s%N)
	ms=$(( (end - start) / 1000000 ))
	times="$times $ms"
	i=$((i + 1))
done
median=$(printf '%s\n' $times | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "bench-inspect: $hotpatch inspect $file --all-functions >/dev/null"
echo "bench-inspect: runs (ms):$times"
echo "bench-inspect: median ${median} ms over $runs runs"
