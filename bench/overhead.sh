#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The user's TLS-overhead report: puts ktlsgw in front of an upstream (your
# Milvus REST port, or the bench upstream when none is given) in tlsMode 0, 1
# and 2 (kTLS auto) and mode 1 with kTLS forced off, runs the same
# request/response load through each and straight to the upstream, and prints
# what each mode costs against plain: latency, throughput, gateway CPU/request.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() {
	cat <<-EOF
	usage: bench/overhead.sh [-u HOST:PORT] [options]
	  -u HOST:PORT     upstream to measure (default: start bench/upstream, rr protocol)
	  --http PATH      HTTP/1.1 keep-alive GET of PATH (e.g. a Milvus REST port:
	                   /v2/vectordb/collections/list needs POST: use --post)
	  --post PATH      HTTP/1.1 POST of PATH with --body FILE (default body {})
	  --body FILE      request body for --post
	  --header H       extra request header (repeatable), e.g. "Authorization: Bearer root:Milvus"
	  --req N --resp N raw request/reply sizes for the bench upstream's rr protocol
	  -c N             connections (16)   -d S   seconds per measurement (3)
	  -r N             rounds, interleaved over the paths; medians shown (3)
	  --modes "0 1 2"  modes to measure   --out DIR  where the PNG goes (.)
	Plain HTTP/1.1 with a reply of constant size is required: the reply size is
	probed once with curl. gRPC (HTTP/2) ports cannot be replayed this way.
	EOF
}

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export KTLSGW=$BUILD/ktlsgw UPSTREAM=$BUILD/bench/upstream
LG=$BUILD/bench/loadgen
TARGET= HTTP_PATH= METHOD=GET BODY= HEADERS=() REQ=3100 RESP=1500 CONNS=16 DUR=3 ROUNDS=3
MODES="0 1 2" OUTDIR=.
while [ $# -gt 0 ]; do
	case $1 in
	-u) TARGET=$2; shift ;;
	--http) HTTP_PATH=$2 METHOD=GET; shift ;;
	--post) HTTP_PATH=$2 METHOD=POST; shift ;;
	--body) BODY=$2; shift ;;
	--header) HEADERS+=("$2"); shift ;;
	--req) REQ=$2; shift ;;
	--resp) RESP=$2; shift ;;
	-c) CONNS=$2; shift ;;
	-d) DUR=$2; shift ;;
	-r) ROUNDS=$2; shift ;;
	--modes) MODES=$2; shift ;;
	--out) OUTDIR=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
for b in "$KTLSGW" "$LG" "$UPSTREAM"; do
	[ -x "$b" ] || { echo "overhead: $b missing: run 'make BUILD=${BUILD#$ROOT/} bench-bins'" >&2; exit 1; }
done

BT=$(mktemp -d "${TMPDIR:-/tmp}/ktlsgw-overhead.XXXXXX")
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$BT"' EXIT
trap 'exit 130' INT TERM
PROXY_CPU=${PROXY_CPU:-0}
LOAD=()
[ "$(nproc)" -ge 2 ] && LOAD=(taskset -c "${LOAD_CPU:-1}")

if [ -z "$TARGET" ]; then
	REQ=$REQ RESP=$RESP start_upstream || exit 1
	TARGET=127.0.0.1:$UP_RR
	echo "no -u given: measuring against bench/upstream (rr $REQ B -> $RESP B) at $TARGET"
fi

# The request payload and the reply size: HTTP mode builds a keep-alive
# request and asks curl how long the reply is (headers + body).
PAYLOAD=()
if [ -n "$HTTP_PATH" ]; then
	req=$BT/request
	{
		printf '%s %s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n' "$METHOD" \
			"$HTTP_PATH" "$TARGET"
		for h in "${HEADERS[@]}"; do printf '%s\r\n' "$h"; done
		if [ "$METHOD" = POST ]; then
			[ -n "$BODY" ] || { BODY=$BT/body; printf '{}' >"$BODY"; }
			printf 'Content-Type: application/json\r\nContent-Length: %s\r\n' \
				"$(stat -c %s "$BODY")"
		fi
		printf '\r\n'
		[ "$METHOD" = POST ] && cat "$BODY"
	} >"$req"
	curl_args=(-s -o /dev/null -w '%{size_header} %{size_download} %{http_code}'
		-H 'Connection: keep-alive' -H "Host: $TARGET")
	for h in "${HEADERS[@]}"; do curl_args+=(-H "$h"); done
	[ "$METHOD" = POST ] && curl_args+=(-H 'Content-Type: application/json' --data-binary "@$BODY")
	read -r hs ds code < <(curl "${curl_args[@]}" "http://$TARGET$HTTP_PATH")
	[ "${code:-0}" -ge 200 ] && [ "${code:-0}" -lt 300 ] ||
		{ echo "overhead: $METHOD $HTTP_PATH answered HTTP ${code:-none}" >&2; exit 1; }
	RESP=$((hs + ds))
	PAYLOAD=(--req-file "$req" --resp "$RESP")
	echo "HTTP $METHOD $HTTP_PATH: request $(stat -c %s "$req") B, reply $RESP B"
else
	PAYLOAD=(--req "$REQ" --resp "$RESP")
fi

bench_certs "$BT/certs" >/dev/null || { echo "overhead: certificates failed" >&2; exit 1; }
CD=$BT/certs/ec
UPHOST=${TARGET%:*}
UPPORT=${TARGET##*:}

# measure LABEL HOST:PORT [loadgen args]: one rr run; records the line.
measure() {
	local label=$1 addr=$2 line
	shift 2
	line=$("${LOAD[@]}" "$LG" -q -t "$addr" -w rr -c "$CONNS" -d "$DUR" \
		"${PAYLOAD[@]}" "$@" 2>>"$BT/lg.err")
	echo "$label $line" >>"$BT/results"
	[ -n "$line" ] || { echo "overhead: $label: loadgen failed: $(tail -n 2 "$BT/lg.err")" >&2; }
}

# gateway MODE KTLS: starts ktlsgw in front of the upstream; sets GWPORT.
gateway() {
	local mode=$1 ktls=$2 d=$BT/gw-$1-$2
	mkdir -p "$d"
	GWPORT=$(pick_port) || return 1
	cat >"$d/ktlsgw.yaml" <<-EOF
	gateway:
	  listeners:
	    - name: overhead
	      bind: 127.0.0.1:$GWPORT
	      upstream: $UPHOST:$UPPORT
	      tlsMode: $mode
	  workers: 1
	  ktls: $ktls
	  logLevel: warn
	tls: {serverPemPath: $CD/server.pem, serverKeyPath: $CD/server.key, caPemPath: $CD/ca.pem}
	common: {security: {tlsMode: $mode}}
	EOF
	taskset -c "$PROXY_CPU" "$KTLSGW" run -c "$d/ktlsgw.yaml" >"$d/log" 2>&1 &
	TPID=$!
	echo "$TPID" >>"$BT/pids"
	wait_listen "$GWPORT" 10 "$TPID" || { tail -n 5 "$d/log" >&2; return 1; }
}

: >"$BT/results"
for ((round = 1; round <= ROUNDS; round++)); do
measure direct "$TARGET"
for mode in $MODES; do
	for ktls in auto off; do
		# kTLS on/off only matters with TLS: mode 1 is also run with it forced off.
		[ $ktls = off ] && [ "$mode" != 1 ] && continue
		gateway "$mode" "$ktls" || { echo "overhead: ktlsgw mode $mode did not start" >&2; continue; }
		args=(--pid "$TPID")
		[ "$mode" != 0 ] && args+=(--tls --ca "$CD/ca.pem" --name localhost)
		[ "$mode" = 2 ] && args+=(--cert "$CD/client.pem" --key "$CD/client.key")
		label="mode$mode"
		[ $ktls = off ] && label="mode$mode-ktls-off"
		measure "$label" "127.0.0.1:$GWPORT" "${args[@]}"
		stop_target
	done
done
done

/usr/bin/python3 - "$BT/results" "$OUTDIR" <<'PY'
import os, statistics, subprocess, sys
runs = {}
for line in open(sys.argv[1]):
    label, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv if "=" in x)
    if "rps" in d:
        runs.setdefault(label, []).append(d)
def median_run(ds):
    m = {k: str(statistics.median(float(d[k]) for d in ds))
         for k in ("rps", "p50_us", "p99_us", "p999_us", "cpu_us_per_req") if k in ds[0]}
    m["errors"] = str(sum(int(d.get("errors", 0)) for d in ds))
    return m
rows = [(label, median_run(ds)) for label, ds in runs.items()]
if not rows or rows[0][0] != "direct":
    sys.exit("overhead: no direct measurement")
base = rows[0][1]
f = lambda d, k: float(d.get(k, "nan"))
print(f"\n{'path':<20}{'req/s':>10}{'p50 us':>10}{'p99 us':>10}{'p99.9 us':>10}"
      f"{'+p50 us':>10}{'+p99 us':>10}{'req/s':>8}{'gw CPU us/req':>15}{'errors':>8}")
for label, d in rows:
    cpu = d.get("cpu_us_per_req")
    cpu = f"{float(cpu):.1f}" if cpu else None
    print(f"{label:<20}{f(d,'rps'):>10.0f}{f(d,'p50_us'):>10.1f}{f(d,'p99_us'):>10.1f}"
          f"{f(d,'p999_us'):>10.1f}{f(d,'p50_us')-f(base,'p50_us'):>+10.1f}"
          f"{f(d,'p99_us')-f(base,'p99_us'):>+10.1f}{f(d,'rps')/f(base,'rps'):>7.2f}x"
          f"{(cpu or '-'):>15}{d.get('errors','?'):>8}")
dat = os.path.join(sys.argv[2], "overhead.dat")
png = os.path.join(sys.argv[2], "overhead.png")
with open(dat, "w") as o:
    for label, d in rows:
        o.write(f'"{label}" {f(d,"p50_us")} {f(d,"p99_us")}\n')
for term, out in (("dumb size 90,20", None), ("pngcairo size 800,400", png)):
    script = f"set terminal {term}\n" + (f"set output '{out}'\n" if out else "") + f"""
set title 'request/response latency, direct vs ktlsgw modes (us)' noenhanced
set style data histogram
set style histogram clustered
set style fill solid 0.7
set key top left
set yrange [0:*]
plot '{dat}' using 2:xtic(1) title 'p50', '' using 3 title 'p99'
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode:
        print("overhead: gnuplot:", r.stderr.strip(), file=sys.stderr)
    elif not out:
        print(r.stdout)
os.unlink(dat)
print(f"medians of {len(runs['direct'])} interleaved rounds; chart: {png}")
PY
