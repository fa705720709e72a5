#!/bin/sh
# Runs libFuzzer targets built by tests/fuzz/fuzz.mk, each for a fixed time,
# a few at a time, and says for each how many inputs it ran. The committed
# seeds (tests/fuzz/corpus/NAME/) are read only; new inputs go to
# BUILD/fuzz/corpus/NAME/, and a crash, leak or timeout leaves its input in
# BUILD/fuzz/artifacts/ and fails the run with the end of the log.
# Usage: tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS JOBS NAME...
set -u
build=$1 seconds=$2 jobs=$3
shift 3
mkdir -p "$build/fuzz/logs" "$build/fuzz/artifacts"

run_one() {
	name=$1
	bin=$build/fuzz/bin/fuzz_$name
	log=$build/fuzz/logs/$name.log
	mkdir -p "$build/fuzz/corpus/$name"
	# -timeout: every seed runs in milliseconds, so an input taking a
	# minute is a hang (not less: on a loaded machine a process can be
	# starved for tens of seconds); -rss_limit_mb: a parser that allocates
	# what an input declares is a finding too.
	# FUZZ_SEED (set by make check) makes the mutations the same on every
	# run, so CI fails only on a regression, never on a new random find.
	"$bin" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$name-" \
		"$build/fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$log"
		echo "fuzz: $name: FAILED (status $rc) after ${runs:-?} runs; log: $log" \
			"inputs: $build/fuzz/artifacts/$name-*"
		return 1
	fi
	echo "fuzz: $name: ${runs:-?} runs in $seconds s, no crash, leak or timeout"
}

failed=0 pids="" n=0
for name in "$@"; do
	run_one "$name" &
	pids="$pids $!"
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		for p in $pids; do wait "$p" || failed=1; done
		pids="" n=0
	fi
done
for p in $pids; do wait "$p" || failed=1; done
[ "$failed" -eq 0 ] || { echo "fuzz: some targets failed"; exit 1; }
