#!/bin/bash
# make demo: the KB916846 story so far. An eligible srv with signing
# disabled; a client that requires signing cannot talk to it (the bug the
# article describes); one that merely enables signing can; then the whole
# interoperability matrix, unpatched against the fixed full builds.
# Everything it starts is stopped and its files removed on exit.
# Usage: targets/demo.sh BUILD_DIR
set -u
build=${1:?usage: demo.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
. "$build/targets/versions.sh" || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/hp-demo.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir "$work/share"
echo "hello from the share" >"$work/share/readme.txt"
printf 'EnableSecuritySignature = 0\nRequireSecuritySignature = 0\n' >"$work/lanmanserver.conf"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n' >"$work/required.conf"
printf 'EnableSecuritySignature = 1\nRequireSecuritySignature = 0\n' >"$work/enabled.conf"

srv="$build/targets/srv/$SRV_DEFAULT/srv"
cli="$build/targets/mrxsmb/$MRXSMB_DEFAULT/smbcli"
echo "== srv $SRV_DEFAULT (eligible for KB916846), signing disabled"
"$srv" --listen 127.0.0.1:0 --config "$work/lanmanserver.conf" --share "$work/share" \
	--threads 4 2>"$work/srv.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/srv.log")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "demo: srv did not start:"; cat "$work/srv.log"; exit 1; }
echo "   listening on 127.0.0.1:$port"

echo "== smbcli $MRXSMB_DEFAULT, signing required (RequireSecuritySignature = 1)"
"$cli" connect --server "127.0.0.1:$port" --config "$work/required.conf"
echo "   exit status $? (11: no communication, the KB916846 problem)"
echo "== smbcli $MRXSMB_DEFAULT, signing enabled"
"$cli" connect --server "127.0.0.1:$port" --config "$work/enabled.conf" --read readme.txt
echo "   exit status $?"
kill -TERM "$pid" && wait "$pid"
echo "== srv stopped (exit status $?)"
pid=""

echo "== the interoperability matrix: $SRV_DEFAULT / $MRXSMB_DEFAULT against the fixed full builds $FIXED_VERSION"
"$here/../tests/matrix/run-matrix.sh" --build "$build" --patch full
rc=$?
[ "$rc" -eq 0 ] && echo "== all 36 cells as in the article" || echo "== matrix differs from the article (status $rc)"
exit "$rc"
