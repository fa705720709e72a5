#!/bin/bash
# make demo: the KB916846 story, end to end, with real processes.
#
# An eligible srv with signing disabled serves a load of reconnecting
# clients; a client that requires signing gets no communication from it (the
# bug the article describes). `hotpatch verify` lists what would change;
# `hotpatch apply --live` patches the running server while the load runs,
# and we show how long it was stopped and that no request failed; the client
# that requires signing now gets a signed session; `hotpatch status` says
# what is applied where; the whole interoperability matrix runs; `hotpatch
# rollback --live` restores the old behaviour. The state directory lives in
# a temporary directory; every process started is stopped and every file
# removed on exit.
#
# The last line is a machine-readable trailer for tests (key=value pairs,
# "demo-result:" first); the exit status is 0 only when every step had the
# outcome the story expects.
#
# Usage: targets/demo.sh BUILD_DIR
set -u
build=${1:?usage: demo.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
. "$build/targets/versions.sh" || exit 1

hotpatch="$build/bin/hotpatch"
package="$build/packages/KB916846/manifest.json"
key="$build/keys/vendor.pub"
srv="$build/targets/srv/$SRV_DEFAULT/srv"
cli="$build/targets/mrxsmb/$MRXSMB_DEFAULT/smbcli"
fixed_cli="$build/targets/mrxsmb/$FIXED_VERSION/smbcli"
for f in "$hotpatch" "$package" "$package.minisig" "$key" "$srv" "$cli" "$fixed_cli"; do
	[ -e "$f" ] || { echo "demo: $f: missing; run make package" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hp-demo.XXXXXX")
pid="" load=""
cleanup() {
	[ -n "$load" ] && kill -TERM "$load" 2>/dev/null && wait "$load" 2>/dev/null
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export HOTPATCH_STATE_DIR="$work/state"

# Facts for the trailer; "-" until the step ran.
before=- verified=- applied=- stop_us=- requests=- failed=- after=- status_ok=- matrix=- rolled=- restored=-
trailer() {
	echo "demo-result: before=$before verify=$verified apply=$applied stop_us=$stop_us" \
	     "load_requests=$requests load_failed=$failed after=$after status=$status_ok" \
	     "matrix=$matrix rollback=$rolled restored=$restored"
}
fail() {
	echo "demo: FAILED: $*"
	trailer
	exit 1
}
# json_num KEY FILE: the first numeric value of "KEY" in a JSON document.
json_num() { sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1; }
# connect CONF: one connection of the fixed client (it announces that it
# requires signing), its outcome; sets rc.
connect() {
	out=$("$fixed_cli" connect --server "127.0.0.1:$port" --config "$work/$1" 2>&1)
	rc=$?
	echo "   $(head -n 1 <<<"$out") (exit $rc)"
}

mkdir "$work/share"
echo "hello from the share" >"$work/share/readme.txt"
printf 'EnableSecuritySignature = 0\nRequireSecuritySignature = 0\n' >"$work/lanmanserver.conf"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n' >"$work/required.conf"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 0\n' >"$work/enabled.conf"

echo "== 1. srv $SRV_DEFAULT (eligible for KB916846), signing disabled"
"$srv" --listen 127.0.0.1:0 --config "$work/lanmanserver.conf" --share "$work/share" \
	--threads 16 2>"$work/srv.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/srv.log")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { cat "$work/srv.log"; fail "srv did not start"; }
echo "   pid $pid, listening on 127.0.0.1:$port"

echo "== 2. a client that requires signing (smbcli $FIXED_VERSION, RequireSecuritySignature = 1)"
connect required.conf
before=$rc
[ "$rc" -eq 11 ] || fail "expected no communication (11), got $rc"
echo "   no communication: the KB916846 problem"

echo "== 3. hotpatch verify: what would change (nothing is touched)"
"$hotpatch" verify "$package" "$srv" --trusted-key "$key" --pid "$pid" >"$work/verify.txt" 2>&1
verified=$?
sed 's/^/   /' "$work/verify.txt"
[ "$verified" -eq 0 ] || fail "verify exited $verified"

echo "== 4. hotpatch apply --live while 8 reconnecting clients load the server"
"$cli" load --server "127.0.0.1:$port" --config "$work/enabled.conf" --clients 8 --duration 3 \
	--reconnect --read readme.txt --json >"$work/load.json" 2>"$work/load.err" &
load=$!
sleep 1
"$hotpatch" --json apply "$package" --trusted-key "$key" --live --pid "$pid" \
	>"$work/apply.json" 2>"$work/apply.err"
applied=$?
stop_ns=$(json_num stop_ns "$work/apply.json")
threads=$(json_num threads "$work/apply.json")
[ -n "$stop_ns" ] && stop_us=$((stop_ns / 1000))
wait "$load"
load_rc=$?
load=""
requests=$(json_num requests "$work/load.json")
failed=$(json_num failed "$work/load.json")
[ "$applied" -eq 0 ] || { cat "$work/apply.err"; fail "apply exited $applied"; }
echo "   patched pid $pid (same process): ${threads:-?} threads stopped for ${stop_us} us"
echo "   load: ${requests:-?} requests, ${failed:-?} failed (smbcli load exit $load_rc)"
[ "$load_rc" -eq 0 ] && [ "${failed:-1}" -eq 0 ] || { cat "$work/load.err"; fail "requests failed"; }

echo "== 5. the client that requires signing, again"
connect required.conf
after=$rc
[ "$rc" -eq 0 ] || fail "expected a signed session (0), got $rc"

echo "== 6. hotpatch status"
"$hotpatch" status >"$work/status.txt" 2>&1
sed 's/^/   /' "$work/status.txt"
grep -q "pid $pid (srv).*applied" "$work/status.txt" && grep -q ", 0 problems" "$work/status.txt" &&
	status_ok=0 || { status_ok=1; fail "status does not show the patch"; }

echo "== 7. the interoperability matrix, 36 cells"
"$here/../tests/matrix/run-matrix.sh" --build "$build" --patch live >"$work/matrix.tsv" 2>"$work/matrix.err"
matrix=$?
how="the unpatched builds patched live by hotpatch"
if [ "$matrix" -eq 2 ]; then
	# A runner without the live mode: the vendor's fixed full builds.
	"$here/../tests/matrix/run-matrix.sh" --build "$build" --patch full >"$work/matrix.tsv" 2>"$work/matrix.err"
	matrix=$?
	how="the vendor's fixed full builds"
fi
echo "   patched side: $how"
column -t -s "$(printf '\t')" "$work/matrix.tsv" 2>/dev/null | sed 's/^/   /' ||
	sed 's/^/   /' "$work/matrix.tsv"
[ "$matrix" -eq 0 ] && echo "   all 36 cells as the article says" ||
	{ cat "$work/matrix.err"; fail "matrix differs from the article (status $matrix)"; }

echo "== 8. hotpatch rollback --live: the old behaviour is back"
"$hotpatch" rollback KB916846 --live --pid "$pid" 2>&1 | sed 's/^/   /'
rolled=${PIPESTATUS[0]}
[ "$rolled" -eq 0 ] || fail "rollback exited $rolled"
connect required.conf
restored=$rc
[ "$rc" -eq 11 ] || fail "expected no communication again (11), got $rc"

kill -TERM "$pid" && wait "$pid"
pid=""
echo "== srv stopped; every file removed"
trailer
