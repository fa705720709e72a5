#!/bin/bash
# The KB916846 interoperability matrix over real connections: for each of
# the 36 cells of the expected table, srv at a setting and smbcli at a
# setting, each the unpatched eligible vendor build or the patched one,
# connect over loopback and record what happened. Prints the table as TSV
# (the expected file's format, header included) and exits 1 if any cell
# differs from the expected table, 2 on usage or a bad table, 0 otherwise.
#
# How the "patched" side is obtained is one pair of functions chosen by
# --patch: "full" runs the vendor's fixed full build; "live" runs the
# unpatched eligible builds and patches them while they run (hotpatch apply
# --live --pid, with the package of `make package`): each patched server
# once it listens, and one long-running client per setting (smbcli connect
# --stdin), patched once, then given each server's address in turn; "disk"
# cold-patches copies of the eligible builds once (hotpatch apply --disk
# --root) and starts every patched server and client from them; "replace"
# stages copies of the builds that are NOT eligible for the hotpatch, lets
# hotpatch apply --disk --root install the package's fixed full builds in
# their place, and starts every patched server and client from the replaced
# files (what a restart after the update runs). Another way
# plugs in as another prepare_<mode> / start_patched_server_<mode> /
# patched_connect_<mode> triple.
#
# Usage: run-matrix.sh --build BUILD_DIR [--patch full|live|disk|replace] [--expect TABLE.tsv]
set -u

build="" patch=full expect=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=${2:-}; shift 2 ;;
	--patch) patch=${2:-}; shift 2 ;;
	--expect) expect=${2:-}; shift 2 ;;
	*) echo "matrix: unknown argument '$1'" >&2
	   echo "usage: run-matrix.sh --build BUILD_DIR [--patch full|live|disk|replace] [--expect TABLE.tsv]" >&2
	   exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "matrix: --build BUILD_DIR is required" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
[ -n "$expect" ] || expect="$here/../../targets/kb916846-matrix.tsv"
[ -r "$build/targets/versions.sh" ] ||
	{ echo "matrix: $build/targets/versions.sh: missing; run make first" >&2; exit 2; }
. "$build/targets/versions.sh"

# ---- the unpatched side: the newest eligible vendor builds ----------------
unpatched_srv="$build/targets/srv/$SRV_DEFAULT/srv"
unpatched_cli="$build/targets/mrxsmb/$MRXSMB_DEFAULT/smbcli"

# ---- the patched side, one way per --patch ---------------------------------
# start_patched_server_MODE CONF LOG: start a patched srv in the background
# (its pid in $server_pid). patched_connect_MODE SETTING: one connection of
# a patched client at SETTING to the server on $server_port, printing and
# returning what `smbcli connect` does. prepare_MODE: once, before the
# cells.
prepare_full() { :; }
start_patched_server_full() {
	start_server "$build/targets/srv/$FIXED_VERSION/srv" "$1" "$2"
}
patched_connect_full() {
	"$build/targets/mrxsmb/$FIXED_VERSION/smbcli" connect --server "127.0.0.1:$server_port" \
		--config "$work/$1.conf" --read readme.txt
}

hotpatch=$build/bin/hotpatch
package=$build/packages/KB916846/manifest.json
vendor_key=$build/keys/vendor.pub
# live_patch PID WHAT: hotpatch apply --live on one running process.
live_patch() {
	local out
	out=$("$hotpatch" apply "$package" --trusted-key "$vendor_key" --live --pid "$1" \
		--state-dir "$work/state" 2>&1)
	case "$?:$out" in
	0:*"1 processes patched"*) return 0 ;;
	esac
	echo "matrix: hotpatch apply --live --pid $1 ($2) failed:" >&2
	echo "$out" >&2
	return 1
}
start_patched_server_live() {
	start_server "$unpatched_srv" "$1" "$2" || return 1
	live_patch "$server_pid" "srv $SRV_DEFAULT"
}
declare -A live_in=() live_out=()
live_pids=()
# One smbcli connect --stdin per client setting, patched while it waits.
prepare_live() {
	local cs pid in out line
	for cs in required enabled disabled; do
		mkfifo "$work/cli-$cs.in" "$work/cli-$cs.out" || return 1
		"$unpatched_cli" connect --stdin --config "$work/$cs.conf" --read readme.txt \
			<"$work/cli-$cs.in" >"$work/cli-$cs.out" 2>"$work/cli-$cs.err" &
		pid=$!
		live_pids+=("$pid")
		exec {in}>"$work/cli-$cs.in" {out}<"$work/cli-$cs.out"
		live_in[$cs]=$in
		live_out[$cs]=$out
		if ! read -r -t 10 line <&"$out" || [ "$line" != ready ]; then
			echo "matrix: smbcli connect --stdin did not start: $(cat "$work/cli-$cs.err")" >&2
			return 1
		fi
		live_patch "$pid" "smbcli $MRXSMB_DEFAULT, $cs" || return 1
	done
}
patched_connect_live() {
	local line
	echo "127.0.0.1:$server_port" >&"${live_in[$1]}"
	if ! read -r -t 10 line <&"${live_out[$1]}"; then
		echo "smbcli connect --stdin ($1) gave no answer" >&2
		return 1
	fi
	case "$line" in
	signed:*) echo "$line"; return 0 ;;
	not-signed:*) echo "$line"; return 10 ;;
	no-communication:*) echo "$line"; return 11 ;;
	*) echo "$line" >&2; return 1 ;;
	esac
}

# disk: copies of the eligible builds cold-patched once (hotpatch apply
# --disk --root), then every patched server and client is a new process
# started from the patched files.
# stage_and_apply ROOT SRV LIB CLI: copies of the three files installed in
# ROOT (srv in usr/sbin, the library in usr/lib, smbcli in usr/bin, which
# finds the library through its $ORIGIN/../lib runpath), then hotpatch
# apply --disk --root ROOT: both components must change.
stage_and_apply() {
	local out
	mkdir -p "$1/usr/sbin" "$1/usr/lib" "$1/usr/bin" &&
		cp "$2" "$1/usr/sbin/srv" && cp "$3" "$1/usr/lib/" && cp "$4" "$1/usr/bin/smbcli" ||
		return 1
	out=$("$hotpatch" apply "$package" --trusted-key "$vendor_key" --disk --root "$1" \
		--state-dir "$work/state-${1##*/}" 2>&1)
	case "$?:$out" in
	0:*"2 files changed"*) return 0 ;;
	esac
	echo "matrix: hotpatch apply --disk --root $1 failed:" >&2
	echo "$out" >&2
	return 1
}
disk_root=""
prepare_disk() {
	disk_root="$work/root"
	stage_and_apply "$disk_root" "$unpatched_srv" \
		"$build/targets/mrxsmb/$MRXSMB_DEFAULT/libmrxsmb.so" "$unpatched_cli"
}
start_patched_server_disk() {
	start_server "$disk_root/usr/sbin/srv" "$1" "$2"
}
# smbcli finds the cold-patched libmrxsmb.so through its $ORIGIN/../lib runpath.
patched_connect_disk() {
	"$disk_root/usr/bin/smbcli" connect --server "127.0.0.1:$server_port" \
		--config "$work/$1.conf" --read readme.txt
}

# replace: the builds not eligible for the hotpatch, replaced on disk by the
# package's fixed full builds (hotpatch apply --disk --root), then started
# from the replaced files, as the restart the report asks for would.
replace_root=""
prepare_replace() {
	local srv_old lib_old
	srv_old=$(ls -d "$build"/targets/srv/*/ | sed 's|.*/srv/||; s|/$||' |
		grep -vxF -e "$FIXED_VERSION" $(printf -- '-e %s ' $SRV_ELIGIBLE) | head -n 1)
	lib_old=$(ls -d "$build"/targets/mrxsmb/*/ | sed 's|.*/mrxsmb/||; s|/$||' |
		grep -vxF -e "$FIXED_VERSION" $(printf -- '-e %s ' $MRXSMB_ELIGIBLE) | head -n 1)
	[ -n "$srv_old" ] && [ -n "$lib_old" ] ||
		{ echo "matrix: no build that is not eligible for the hotpatch" >&2; return 1; }
	replace_root="$work/replace-root"
	stage_and_apply "$replace_root" "$build/targets/srv/$srv_old/srv" \
		"$build/targets/mrxsmb/$lib_old/libmrxsmb.so" "$build/targets/mrxsmb/$lib_old/smbcli"
}
start_patched_server_replace() {
	start_server "$replace_root/usr/sbin/srv" "$1" "$2"
}
patched_connect_replace() {
	"$replace_root/usr/bin/smbcli" connect --server "127.0.0.1:$server_port" \
		--config "$work/$1.conf" --read readme.txt
}

case "$patch" in
full) need=("$build/targets/srv/$FIXED_VERSION/srv" "$build/targets/mrxsmb/$FIXED_VERSION/smbcli") ;;
live) need=("$hotpatch" "$package" "$package.minisig" "$vendor_key") ;;
disk|replace) need=("$hotpatch" "$package" "$package.minisig" "$vendor_key") ;;
*) echo "matrix: PATCH=$patch: unknown (full, live, disk or replace)" >&2; exit 2 ;;
esac

for f in "$unpatched_srv" "$unpatched_cli" "${need[@]}"; do
	[ -e "$f" ] || { echo "matrix: $f: missing; run make first (make package for live)" >&2; exit 2; }
done

# ---- the expected table ----------------------------------------------------
header=$'client_build\tclient_signing\tserver_build\tserver_signing\tresult'
[ -r "$expect" ] || { echo "matrix: $expect: cannot read" >&2; exit 2; }
if [ "$(head -n 1 "$expect")" != "$header" ]; then
	echo "matrix: $expect:1: header is not '$header'" >&2
	exit 2
fi
declare -A want=()
n=0 lineno=1
while IFS=$'\t' read -r cb cs sb ss res extra; do
	lineno=$((lineno + 1))
	case "$cb/$cs/$sb/$ss/$res/${extra:-}" in
	patched/*|unpatched/*) ;;
	*) echo "matrix: $expect:$lineno: bad row" >&2; exit 2 ;;
	esac
	for v in "$cs" "$ss"; do
		case "$v" in required|enabled|disabled) ;;
		*) echo "matrix: $expect:$lineno: bad setting '$v'" >&2; exit 2 ;; esac
	done
	case "$sb/$res/${extra:-}" in
	patched/signed/|patched/not-signed/|patched/no-communication/) ;;
	unpatched/signed/|unpatched/not-signed/|unpatched/no-communication/) ;;
	*) echo "matrix: $expect:$lineno: bad row" >&2; exit 2 ;;
	esac
	key="$cb $cs $sb $ss"
	[ -z "${want[$key]:-}" ] || { echo "matrix: $expect:$lineno: cell given twice" >&2; exit 2; }
	want[$key]=$res
	order[n]=$key
	n=$((n + 1))
done < <(tail -n +2 "$expect")
[ "$n" -eq 36 ] || { echo "matrix: $expect: $n cells, expected 36" >&2; exit 2; }

# ---- running the cells -----------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/hp-matrix.XXXXXX")
server_pid=""
cleanup() {
	local p
	[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	for p in "${live_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
mkdir "$work/share"
echo "KB916846 matrix share" >"$work/share/readme.txt"
for s in disabled:0:0 enabled:1:0 required:1:1; do
	IFS=: read -r name en req <<<"$s"
	printf 'EnableSecuritySignature = %s\nRequireSecuritySignature = %s\n' "$en" "$req" \
		>"$work/$name.conf"
done

# start_server BINARY CONF LOG: srv on a free port ($server_port).
start_server() {
	local i
	"$1" --listen 127.0.0.1:0 --config "$2" --share "$work/share" --threads 4 2>"$3" &
	server_pid=$!
	for i in $(seq 1 100); do
		server_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$3")
		[ -n "$server_port" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "matrix: $1 did not start:" >&2
	cat "$3" >&2
	return 1
}

stop_server() {
	local rc
	kill -TERM "$server_pid"
	wait "$server_pid"
	rc=$?
	server_pid=""
	[ "$rc" -eq 0 ] || { echo "matrix: srv exited with status $rc on SIGTERM" >&2; return 1; }
}

declare -A got=()
failed=0
prepare_$patch || exit 1
for sb in patched unpatched; do
	for ss in required enabled disabled; do
		log="$work/srv-$sb-$ss.log"
		if [ "$sb" = patched ]; then
			start_patched_server_$patch "$work/$ss.conf" "$log" || exit 1
		else
			start_server "$unpatched_srv" "$work/$ss.conf" "$log" || exit 1
		fi
		for cb in patched unpatched; do
			for cs in required enabled disabled; do
				if [ "$cb" = patched ]; then
					out=$(patched_connect_$patch "$cs" 2>"$work/cli.err")
				else
					out=$("$unpatched_cli" connect --server "127.0.0.1:$server_port" \
						--config "$work/$cs.conf" --read readme.txt 2>"$work/cli.err")
				fi
				rc=$?
				case "$rc:${out%%:*}" in
				0:signed|10:not-signed|11:no-communication) res=${out%%:*} ;;
				*) res=error
				   echo "matrix: client $cb/$cs, server $sb/$ss: smbcli exit $rc: $(cat "$work/cli.err")" >&2 ;;
				esac
				got["$cb $cs $sb $ss"]=$res
			done
		done
		stop_server || failed=1
	done
done

printf '%s\n' "$header"
for key in "${order[@]}"; do
	read -r cb cs sb ss <<<"$key"
	printf '%s\t%s\t%s\t%s\t%s\n' "$cb" "$cs" "$sb" "$ss" "${got[$key]}"
	if [ "${got[$key]}" != "${want[$key]}" ]; then
		echo "matrix: cell client $cb/$cs, server $sb/$ss: expected ${want[$key]}, got ${got[$key]}" >&2
		failed=1
	fi
done
exit $failed
