#!/bin/sh
# Runs every test program given, each with the build and source directories
# in its environment, and adds up their results. After "--as LABEL", the
# VAR=VALUE words that follow are added to the environment of the programs
# after them, each reported as "NAME [LABEL]" with its own log (make check
# runs the targets' suites again on cold-patched components this way). The
# last line is the total, "check: N passed, M failed"; the exit status is 0
# only if every test passed and no program crashed.
# Each run also leaves its totals in BUILD_DIR/tests/summary; --sum adds up
# the summaries of several runs on one last line, naming each (make check:
# the plain build and the sanitized one).
# Usage: tests/run-tests.sh BUILD_DIR TEST_PROGRAM... [--as LABEL VAR=VALUE... TEST_PROGRAM...]...
#        tests/run-tests.sh --sum LABEL BUILD_DIR [LABEL BUILD_DIR]...
set -u
if [ "${1:-}" = "--sum" ]; then
	shift
	tp=0 tf=0 parts="" ok=1
	while [ $# -ge 2 ]; do
		s=$(cat "$2/tests/summary" 2>/dev/null) || s=""
		p=$(echo "$s" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p')
		f=$(echo "$s" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p')
		if [ -z "$p" ]; then
			s="did not run" ok=0
		fi
		case "$s" in *"did not finish"*) ok=0 ;; esac
		tp=$((tp + ${p:-0})) tf=$((tf + ${f:-0}))
		parts="$parts${parts:+; }$1: $s"
		shift 2
	done
	echo "check: $tp passed, $tf failed ($parts)"
	[ "$tf" -eq 0 ] && [ "$ok" -eq 1 ]
	exit
fi
build=$(cd "$1" && pwd); shift
HP_BUILD_DIR=$build HP_SRC_DIR=$(pwd)
export HP_BUILD_DIR HP_SRC_DIR
mkdir -p "$build/tests/logs"

passed=0 failed=0 broken="" label="" vars=""
while [ $# -gt 0 ]; do
	t=$1; shift
	case "$t" in
	--as)
		label=${1:?run-tests.sh: --as needs a label}; shift
		vars=""
		while [ $# -gt 0 ]; do
			case "$1" in
			*=*) vars="$vars $1"; shift ;;
			*) break ;;
			esac
		done
		continue ;;
	esac
	name=$(basename "$t")
	log="$build/tests/logs/$name.log"
	if [ -n "$label" ]; then
		name="$name [$label]"
		log="$build/tests/logs/$(basename "$t").$label.log"
	fi
	echo "== $name"
	# $vars is split on blanks on purpose: VAR=VALUE words without blanks.
	# shellcheck disable=SC2086
	env $vars "$t" >"$log" 2>&1
	rc=$?
	# Show failures in full, and otherwise only the summary line.
	line=$(grep '^test-summary: ' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		cat "$log"
		echo "$name: exited with status $rc and no summary (crashed?)"
		broken="$broken $name"
		continue
	fi
	[ "$rc" -ne 0 ] && grep -B2 -A6 -E 'FAILED|Test: .*\.\.\.FAILED|^ +[0-9]+\. ' "$log" | head -n 60
	p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed/\2/')
	echo "   $p passed, $f failed (log: $log)"
	passed=$((passed + p)) failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && broken="$broken $name"
done

[ -n "$broken" ] && echo "programs that did not finish cleanly:$broken"
echo "$passed passed, $failed failed${broken:+, did not finish:$broken}" >"$build/tests/summary"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$broken" ]
