#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: ktlsgw (tlsMode 0, 1, 2) against HAProxy, nginx, stunnel and
# hitch, and against no proxy at all, in ONE run with rounds interleaved
# across the targets. The proxy runs pinned to CPU 0, loadgen and the
# plaintext upstream to CPU 1. Writes bench/results/<date>.md and PNG charts.
#
# Knobs (environment): DUR=4 seconds per measurement, ROUNDS=2, IDLE_CONNS=4000,
# TARGETS="direct ktlsgw-m0 ...", TESTS="bulk-up ...", QUICK=1 (about a minute:
# one round of 1 s, three tests), OUT=bench/results, BUILD=build.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export KTLSGW=$BUILD/ktlsgw UPSTREAM=$BUILD/bench/upstream
LG=$BUILD/bench/loadgen

ALL_TARGETS="direct ktlsgw-m0 haproxy-tcp ktlsgw-m1 ktlsgw-m2 haproxy nginx stunnel hitch"
ALL_TESTS="bulk-up bulk-down rr16 rr64 hs-ec hs-rsa resume hs-mtls"
if [ "${QUICK:-0}" = 1 ]; then
	DUR=${DUR:-1} ROUNDS=${ROUNDS:-1} IDLE_CONNS=${IDLE_CONNS:-0}
	TESTS=${TESTS:-"bulk-down rr64 hs-ec"}
fi
DUR=${DUR:-4}
ROUNDS=${ROUNDS:-2}
IDLE_CONNS=${IDLE_CONNS:-4000}
TARGETS=${TARGETS:-$ALL_TARGETS}
TESTS=${TESTS:-$ALL_TESTS}
WARMUP=${WARMUP:-0.5}
OUT=${OUT:-$ROOT/bench/results}
STAMP=$(date -u +%Y-%m-%d-%H%M)
# Same protocol, suite and key exchange for every TLS target: the client
# offers only these, so no server can pick something cheaper.
TLS_ARGS=(--tls --tls-version 1.3 --ciphersuites TLS_AES_128_GCM_SHA256 --groups X25519
	--name localhost)

BT=$(mktemp -d "${TMPDIR:-/tmp}/ktlsgw-bench.XXXXXX")
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$BT"' EXIT
trap 'exit 130' INT TERM

say() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

for b in "$KTLSGW" "$LG" "$UPSTREAM"; do
	[ -x "$b" ] || { echo "run.sh: $b missing: run 'make bench'" >&2; exit 1; }
done
make --no-print-directory -s deps-bench || exit 1
# 2 fds per proxied connection, plus the load generator's and upstream's.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((2 * IDLE_CONNS + 200)) ]; then
	IDLE_CONNS=$((($(ulimit -n) - 200) / 3))
	say "open-file limit $(ulimit -n): idle test uses $IDLE_CONNS connections"
fi
if [ "$(nproc)" -lt 2 ]; then
	echo "run.sh: needs 2 CPUs (proxy on one, load on the other)" >&2
	exit 1
fi

is_tls() { case $1 in direct | ktlsgw-m0 | haproxy-tcp) return 1 ;; esac; return 0; }

# test_applies TARGET TEST: plaintext targets have no handshakes; ktlsgw-m2
# is mutual already, and ktlsgw-m1 has no mutual form (that is m2).
test_applies() {
	case $2 in hs-* | resume) is_tls "$1" || return 1 ;; esac
	case $1:$2 in ktlsgw-m1:hs-mtls | ktlsgw-m2:hs-mtls) return 1 ;; esac
	return 0
}

# loadgen_args TEST: workload, connections and upstream port for a test.
loadgen_args() {
	case $1 in
	bulk-up) echo "-w bulk-up -c 4 $UP_SINK" ;;
	bulk-down) echo "-w bulk-down -c 4 $UP_SOURCE" ;;
	rr16) echo "-w rr -c 16 $UP_RR" ;;
	rr64) echo "-w rr -c 64 $UP_RR" ;;
	hs-*) echo "-w connect -c 16 $UP_RR" ;;
	resume) echo "-w resume -c 16 $UP_RR" ;;
	idle) echo "-w idle -c $IDLE_CONNS $UP_RR" ;;
	esac
}

# run_test ROUND TARGET TEST: one measurement; appends a line to $RAW.
run_test() {
	local round=$1 t=$2 test=$3 a wl c up certs=$BT/certs/ec mtls=0 port tls=() pid=() line
	a=($(loadgen_args "$test"))
	wl=${a[1]} c=${a[3]} up=${a[4]}
	[ "$test" = hs-rsa ] && certs=$BT/certs/rsa
	{ [ "$test" = hs-mtls ] || [ "$t" = ktlsgw-m2 ]; } && mtls=1
	if is_tls "$t"; then
		tls=("${TLS_ARGS[@]}" --ca "$certs/ca.pem")
		[ $mtls = 1 ] && tls+=(--cert "$certs/client.pem" --key "$certs/client.key")
	fi
	if [ "$t" = direct ]; then
		port=$up
	else
		port=$(pick_port) || return 1
		start_target "$t" "$port" "$up" "$certs" "$mtls" || {
			echo "round=$round target=$t test=$test failed=start" >>"$RAW"
			return 1
		}
		pid=(--pid "$TPIDS")
	fi
	line=$(timeout -k 5 $((60 + ${IDLE_CONNS:-0} / 100)) taskset -c 1 "$LG" -q \
		-t "127.0.0.1:$port" -w "$wl" -c "$c" -d "$([ "$test" = idle ] && echo 2 || echo "$DUR")" \
		--warmup "$WARMUP" "${pid[@]}" "${tls[@]}" 2>>"$BT/loadgen.err")
	echo "round=$round target=$t test=$test ${line:-failed=loadgen}" >>"$RAW"
	say "$t $test: $(printf '%s' "$line" | grep -oE '(mbps_down|mbps_up|rps|hsps|p99_us|errors|cpu_s_per_gb|cpu_us_per_req|cpu_ms_per_hs|rss_kb_per_10k)=[^ ]+' | tr '\n' ' ')"
	[ "$t" = direct ] || stop_target
}

machine_info() {
	echo "machine cpus=$(nproc) model=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\" kernel=$(uname -r)"
	echo "machine openssl=\"$(openssl version)\" date=$(date -u +%FT%TZ) dur=$DUR rounds=$ROUNDS idle_conns=$IDLE_CONNS"
	for t in $TARGETS; do echo "version target=$t text=\"$(version_of "$t")\""; done
}

mkdir -p "$OUT"
RAW=$OUT/$STAMP.raw
: >"$RAW"
machine_info >>"$RAW"
bench_certs "$BT/certs" || { echo "run.sh: certificates failed" >&2; exit 1; }
start_upstream || exit 1
say "upstream pid $UP_PID (rr $UP_RR, sink $UP_SINK, source $UP_SOURCE); raw: $RAW"
start=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
	for test in $TESTS; do
		for t in $TARGETS; do
			test_applies "$t" "$test" && run_test "$r" "$t" "$test"
		done
	done
done
if [ "$IDLE_CONNS" -gt 0 ]; then
	for t in $TARGETS; do
		[ "$t" = direct ] || run_test 1 "$t" idle
	done
fi
say "measured in $(($(date +%s) - start)) s"
if [ -s "$BT/loadgen.err" ]; then
	say "loadgen errors (first lines):"
	head -n 5 "$BT/loadgen.err" >&2
fi
/usr/bin/python3 "$ROOT/bench/report.py" "$RAW" "$OUT/$STAMP.md" || exit 1
say "report: $OUT/$STAMP.md"
