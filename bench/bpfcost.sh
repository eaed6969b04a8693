#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cost of the eBPF connection metrics: ktlsgw tlsMode 1 with `gateway.bpf: on`
# against `off`, request/response at 64 connections, rounds interleaved, the
# gateway pinned to CPU 0 and the load generator and upstream to CPU 1.
# Prints each measurement and the median CPU us/request both ways. Needs root.
#   usage: BUILD=/tmp/b bench/bpfcost.sh   (knobs: ROUNDS=3 DUR=5 CONNS=64)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export KTLSGW=$BUILD/ktlsgw UPSTREAM=$BUILD/bench/upstream
LG=$BUILD/bench/loadgen
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5} CONNS=${CONNS:-64}
BT=$(mktemp -d "${TMPDIR:-/tmp}/ktlsgw-bpfcost.XXXXXX")
export BT
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$BT"' EXIT
trap 'exit 130' INT TERM

for b in "$KTLSGW" "$LG" "$UPSTREAM"; do
	[ -x "$b" ] || { echo "bpfcost.sh: $b missing: make BUILD=... bench-bins" >&2; exit 1; }
done
bench_certs "$BT/certs" >/dev/null || exit 1
start_upstream || exit 1

# one BPF: a gateway with gateway.bpf BPF, one loadgen run; prints its line.
one() {
	local bpf=$1 port conf d=$BT/gw-$1 line
	mkdir -p "$d"
	port=$(pick_port) || return 1
	conf=$(KTLSGW_MODE=1 ktlsgw_conf "$d" "$port" "$UP_RR" "$BT/certs/ec")
	sed -i "s/^  logLevel: warn\$/  logLevel: warn\n  bpf: $bpf/" "$conf"
	taskset -c "$PROXY_CPU" "$KTLSGW" run -c "$conf" >"$d/log" 2>&1 &
	TPID=$!
	echo "$TPID" >>"$BT/pids"
	wait_listen "$port" 10 "$TPID" || { tail -n 5 "$d/log" >&2; return 1; }
	line=$(timeout -k 5 60 taskset -c 1 "$LG" -q -t "127.0.0.1:$port" -w rr -c "$CONNS" \
		-d "$DUR" --warmup 0.5 --pid "$TPID" --tls --tls-version 1.3 \
		--ciphersuites TLS_AES_128_GCM_SHA256 --groups X25519 --name localhost \
		--ca "$BT/certs/ec/ca.pem" 2>>"$BT/loadgen.err")
	stop_target
	echo "bpf=$bpf $line"
}

: >"$BT/raw"
for ((r = 1; r <= ROUNDS; r++)); do
	for bpf in on off; do
		one "$bpf" | tee -a "$BT/raw" | grep -oE '^bpf=[a-z]+|(rps|p99_us|cpu_us_per_req)=[^ ]+' |
			tr '\n' ' '
		echo
	done
done
# median BPF: the median cpu_us_per_req of the runs with gateway.bpf BPF.
median() {
	grep "^bpf=$1 " "$BT/raw" | grep -oE 'cpu_us_per_req=[0-9.]+' | cut -d= -f2 | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
on=$(median on) off=$(median off)
echo "median cpu_us_per_req: bpf on $on, off $off"
[ -n "$on" ] && [ -n "$off" ] && awk -v a="$on" -v b="$off" 'BEGIN { printf "on/off ratio %.3f\n", a / b }'
