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
# rollback --live` restores the old behaviour. Then an older srv, of a
# version the hotpatch was not built for: `hotpatch apply` installs the
# package's fixed full build over its file (staged under a temporary root)
# and names the running process as needing a restart; once restarted it
# signs for the client that requires it, and `hotpatch status` no longer
# lists it; rollback restores the file. The state directory lives in
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
pid="" load="" old_pid=""
cleanup() {
	[ -n "$load" ] && kill -TERM "$load" 2>/dev/null && wait "$load" 2>/dev/null
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$old_pid" ] && kill -TERM "$old_pid" 2>/dev/null && wait "$old_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export HOTPATCH_STATE_DIR="$work/state"

# Facts for the trailer; "-" until the step ran.
before=- verified=- applied=- stop_us=- requests=- failed=- after=- status_ok=- matrix=- rolled=- restored=-
full_apply=- restart_named=- restarted=- restart_listed=- full_rollback=-
trailer() {
	echo "demo-result: before=$before verify=$verified apply=$applied stop_us=$stop_us" \
	     "load_requests=$requests load_failed=$failed after=$after status=$status_ok" \
	     "matrix=$matrix rollback=$rolled restored=$restored full_apply=$full_apply" \
	     "restart_named=$restart_named restarted=$restarted restart_listed=$restart_listed" \
	     "full_rollback=$full_rollback"
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

# start_srv BINARY NAME THREADS: srv with signing disabled; sets started
# (its pid) and port.
start_srv() {
	"$1" --listen 127.0.0.1:0 --config "$work/lanmanserver.conf" --share "$work/share" \
		--threads "$3" 2>"$work/$2.log" &
	started=$!
	port=""
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/$2.log")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat "$work/$2.log"; fail "srv did not start"; }
	echo "   pid $started, listening on 127.0.0.1:$port"
}

echo "== 1. srv $SRV_DEFAULT (eligible for KB916846), signing disabled"
start_srv "$srv" srv 16
pid=$started

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

old_version=$(for v in $SRV_VERSIONS; do
	case " $SRV_ELIGIBLE $FIXED_VERSION " in *" $v "*) ;; *) echo "$v" ;; esac
done | head -n 1)
root="$work/root"
mkdir -p "$root/usr/sbin"
cp "$build/targets/srv/$old_version/srv" "$root/usr/sbin/srv"
echo "== 9. an older srv $old_version, not eligible for the hotpatch, installed as $root/usr/sbin/srv"
start_srv "$root/usr/sbin/srv" srv-old 4
old_pid=$started
connect required.conf
echo "== 10. hotpatch apply: the fixed full build replaces the file; the process needs a restart"
"$hotpatch" apply "$package" --trusted-key "$key" --root "$root" --disk >"$work/full.txt" 2>&1
full_apply=$?
sed 's/^/   /' "$work/full.txt"
[ "$full_apply" -eq 0 ] || fail "apply exited $full_apply"
grep -q "restart required" "$work/full.txt" && grep -q "pid $old_pid (srv)" "$work/full.txt" &&
	restart_named=0 || { restart_named=1; fail "the report does not name pid $old_pid"; }
"$hotpatch" status 2>&1 | grep -A3 "need a restart" | sed 's/^/   /'
echo "== 11. restart it: the new process runs the fixed build"
kill -TERM "$old_pid" && wait "$old_pid"
start_srv "$root/usr/sbin/srv" srv-new 4
old_pid=$started
connect required.conf
restarted=$rc
[ "$rc" -eq 0 ] || fail "expected a signed session from the restarted server (0), got $rc"
"$hotpatch" status >"$work/status2.txt" 2>&1
grep -q "need a restart" "$work/status2.txt" && restart_listed=1 || restart_listed=0
echo "   hotpatch status lists no process that needs a restart: $([ "$restart_listed" -eq 0 ] && echo yes || echo NO)"
[ "$restart_listed" -eq 0 ] || fail "status still lists a process to restart"
kill -TERM "$old_pid" && wait "$old_pid"
old_pid=""
echo "== 12. hotpatch rollback --disk: the original file, byte for byte"
"$hotpatch" rollback KB916846 --disk 2>&1 | sed 's/^/   /'
full_rollback=${PIPESTATUS[0]}
[ "$full_rollback" -eq 0 ] && cmp -s "$root/usr/sbin/srv" "$build/targets/srv/$old_version/srv" ||
	fail "rollback exited $full_rollback or the file differs from the original"
echo "== srv stopped; every file removed"
trailer
