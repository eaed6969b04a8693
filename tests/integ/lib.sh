# SPDX-License-Identifier: MIT
# Shared helpers for tests/integ/NN-*.sh (sourced, not run): free ports,
# certificates, fake Milvus servers, the gateway's life cycle, result lines.
# Every process started here is recorded and killed on exit; every wait is
# bounded. Needs $KTLSGW (the binary under test).
# shellcheck shell=bash

# tests/run.sh runs every tests/integ/*.sh: run on its own, this file is a no-op.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0
set -u
: "${KTLSGW:?set KTLSGW to the ktlsgw binary under test}"
case $KTLSGW in /*) ;; *) KTLSGW=$PWD/$KTLSGW ;; esac

INTEG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$INTEG_DIR/../.." && pwd)
FAKES=$ROOT/tests/fakes
PY=/usr/bin/python3
SCRIPT=$(basename "$0" .sh)
SUITE=integ/$SCRIPT
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ktlsgw-$SCRIPT.XXXXXX")
: >"$TMP/ports"
GW_PID=
GW_LOG=
GW_N=0
# Start-up is slower under ASan: scale the waits that are not under test.
case $KTLSGW in *san*) SLOW=3 ;; *) SLOW=1 ;; esac

# --- result lines (tests/run.sh counts them) ---------------------------------

pass() { echo "PASS $SUITE/$1"; }
skip() { local c=$1; shift; echo "SKIP $SUITE/$c: $*"; }
fail() {
	local c=$1
	shift
	echo "FAIL $SUITE/$c: $*"
	echo "--- $SUITE/$c: $*" >&2
}

# check CASE CMD...: PASS when CMD exits 0, else FAIL with its last output line.
check() {
	local c=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$c"
		[ -n "$out" ] && echo "$c: $(printf '%s\n' "$out" | tail -n 1)" >&2
	else
		fail "$c" "exit $rc: $(printf '%s\n' "$out" | tail -n 1)"
		printf '%s\n' "$out" | tail -n 20 >&2
	fi
	return $rc
}

# --- processes ---------------------------------------------------------------

# Every process this script starts (fakes, gateways), for cleanup.
PIDS=()
track_pid() { PIDS+=("$1"); }
# untrack_pid PID: once reaped, PID may be reused by others: forget it.
untrack_pid() {
	local i
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = "$1" ] && unset "PIDS[$i]"
	done
	PIDS=("${PIDS[@]}")
}

# is_running PID: true while PID exists and is not a zombie.
is_running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# is_ours PID: PID is still a live child of this script (not a reused pid).
is_ours() {
	[ "$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = "$$" ] && is_running "$1"
}

# kill_wait PID [SECS]: SIGTERM, then SIGKILL after SECS (default 5).
kill_wait() {
	local pid=$1 secs=${2:-5} i
	is_ours "$pid" && kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		is_running "$pid" || break
		sleep 0.1
	done
	is_ours "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	untrack_pid "$pid"
	return 0
}

cleanup() {
	local pid= i
	set +e
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		is_ours "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 30; i++)); do
		for pid in "${PIDS[@]}"; do
			is_running "$pid" && break
		done
		is_running "$pid" || break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		is_ours "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- ports -------------------------------------------------------------------

# port_is_free PORT: nothing listens on or talks from/to PORT on this host.
port_is_free() {
	! ss -Htan "( sport = :$1 or dport = :$1 )" 2>/dev/null | grep -q .
}

# free_port: prints a port in 20000-31999 (below the ephemeral range) that is
# unused and not yet handed out by this script.
free_port() {
	local p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		grep -qx "$p" "$TMP/ports" && continue
		if port_is_free "$p"; then
			echo "$p" >>"$TMP/ports"
			echo "$p"
			return 0
		fi
	done
	echo "free_port: no free port" >&2
	return 1
}

# wait_port PORT [SECS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	echo "wait_port: nothing listening on $port after ${secs}s" >&2
	return 1
}

# wait_port_closed PORT [SECS]: until nothing listens on PORT.
wait_port_closed() {
	local port=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . || return 0
		sleep 0.05
	done
	return 1
}

# --- certificates ------------------------------------------------------------

# certs_are_good DIR: the seven files exist, keys are 0600, the server and
# client certificates chain to ca.pem for their purposes.
certs_are_good() {
	local d=$1 f
	for f in ca.key ca.pem ca.srl server.key server.pem client.key client.pem; do
		[ -s "$d/$f" ] || return 1
	done
	for f in ca.key server.key client.key; do
		[ "$(stat -c %a "$d/$f")" = 600 ] || return 1
	done
	openssl verify -CAfile "$d/ca.pem" -purpose sslserver "$d/server.pem" >/dev/null 2>&1 &&
		openssl verify -CAfile "$d/ca.pem" -purpose sslclient "$d/client.pem" >/dev/null 2>&1
}

# openssl_leaf DIR NAME CN DAYS EKU [CA_DIR]: NAME.key + NAME.pem signed by
# CA_DIR/ca.pem (default DIR), P-256, SAN DNS:CN + IP:127.0.0.1.
openssl_leaf() {
	local d=$1 name=$2 cn=$3 days=$4 eku=$5 ca=${6:-$1}
	printf '%s\n' "[ext]" "basicConstraints = CA:FALSE" \
		"keyUsage = critical, digitalSignature, keyEncipherment" \
		"extendedKeyUsage = $eku" "subjectAltName = DNS:$cn, IP:127.0.0.1" >"$d/$name.cnf"
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$d/$name.key") 2>/dev/null || return 1
	openssl req -new -key "$d/$name.key" -subj "/O=ktlsgw-test/CN=$cn" 2>/dev/null |
		openssl x509 -req -days "$days" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
			-CAserial "$ca/ca.srl" -CAcreateserial -extfile "$d/$name.cnf" \
			-extensions ext -out "$d/$name.pem" 2>/dev/null || return 1
	chmod 600 "$d/$name.key"
	rm -f "$d/$name.cnf"
}

# openssl_ca DIR CN: a self-signed CA (ca.key, ca.pem) with the openssl CLI.
openssl_ca() {
	local d=$1 cn=$2
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$d/ca.key") 2>/dev/null || return 1
	openssl req -x509 -new -key "$d/ca.key" -sha256 -days 36500 -subj "/O=ktlsgw-test/CN=$cn" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$d/ca.pem" 2>/dev/null
}

# make_certs DIR: the seven files of the documented gen.sh, made by
# `ktlsgw cert gen` when it works, else by the openssl CLI (same shape:
# client cert with clientAuth). CERT_SOURCE says which.
make_certs() {
	local d=$1
	mkdir -p "$d"
	if "$KTLSGW" cert gen --dir "$d" >"$d/gen.log" 2>&1 && certs_are_good "$d"; then
		# shellcheck disable=SC2034 # read by the scripts
		CERT_SOURCE="ktlsgw cert gen"
		return 0
	fi
	echo "make_certs: 'ktlsgw cert gen' unusable ($(tail -n 1 "$d/gen.log")); using openssl" >&2
	rm -f "$d"/ca.* "$d"/server.* "$d"/client.*
	openssl_ca "$d" "ktlsgw test CA" &&
		openssl_leaf "$d" server localhost 3650 serverAuth &&
		openssl_leaf "$d" client localhost 3650 clientAuth || return 1
	CERT_SOURCE="openssl CLI"
	certs_are_good "$d"
}

# make_bad_certs DIR CADIR: client certificates mode 2 must refuse:
#   DIR/other/client.{pem,key}   from an unknown CA
#   DIR/expired.{pem,key}        right CA, expired
#   DIR/srvonly.{pem,key}        right CA, EKU serverAuth only (documented gen.sh)
make_bad_certs() {
	local d=$1 ca=$2
	mkdir -p "$d/other"
	openssl_ca "$d/other" "ktlsgw other CA" &&
		openssl_leaf "$d/other" client localhost 3650 clientAuth &&
		openssl_leaf "$d" expired localhost -1 clientAuth "$ca" &&
		openssl_leaf "$d" srvonly localhost 3650 serverAuth "$ca"
}

# --- fakes -------------------------------------------------------------------

# start_fake NAME grpc|rest|sink|blackhole [ARGS...]: starts the fake from
# tests/fakes/ (milvus_grpc.py, milvus_rest.py, sink.py, blackhole.py), waits
# for "READY port"; sets FAKE_PID and FAKE_PORT. ARGS may hold --port.
start_fake() {
	local name=$1 kind=$2 i
	shift 2
	FAKE_PID=
	FAKE_PORT=
	case $kind in grpc | rest) kind=milvus_$kind ;; esac
	rm -f "$TMP/$name.out" # a restart must not read the last run's READY
	"$PY" "$FAKES/$kind.py" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	FAKE_PID=$!
	track_pid "$FAKE_PID"
	for ((i = 0; i < 200; i++)); do
		FAKE_PORT=$(awk '/^READY /{print $2}' "$TMP/$name.out" 2>/dev/null)
		[ -n "$FAKE_PORT" ] && return 0
		is_running "$FAKE_PID" || break
		sleep 0.05
	done
	echo "start_fake $name: not ready; stderr:" >&2
	tail -n 20 "$TMP/$name.err" >&2
	return 1
}

# --- gateway -----------------------------------------------------------------

# write_config FILE CERTDIR MODE INTERNAL LISTENERS_YAML [GATEWAY_EXTRA_YAML]:
# a milvus.yaml-shaped config. LISTENERS_YAML is the list under
# gateway.listeners (indented 4 spaces), EXTRA lines go under gateway:.
# handshakeTimeout is $HANDSHAKE_TIMEOUT (default 2s, short for the tests).
write_config() {
	local f=$1 cd=$2 mode=$3 internal=$4 listeners=$5 extra=${6:-}
	cat >"$f" <<-EOF
	# written by $SUITE
	gateway:
	  listeners:
	$listeners
	  workers: 2
	  handshakeTimeout: ${HANDSHAKE_TIMEOUT:-2s}
	  connectTimeout: 1s
	  logLevel: info
	$extra
	tls:
	  serverPemPath: $cd/server.pem
	  serverKeyPath: $cd/server.key
	  caPemPath: $cd/ca.pem
	internaltls:
	  caPemPath: $cd/ca.pem
	  sni: localhost
	common:
	  security:
	    tlsMode: $mode
	    internaltlsEnabled: $internal
	EOF
}

# listener NAME BIND_PORT UPSTREAM_PORT [EXTRA_KEY: value]...: one YAML list item.
listener() {
	local name=$1 bind=$2 up=$3 kv
	shift 3
	printf '    - name: %s\n      bind: 127.0.0.1:%s\n      upstream: 127.0.0.1:%s\n' \
		"$name" "$bind" "$up"
	for kv in "$@"; do
		printf '      %s\n' "$kv"
	done
}

# start_gateway CONFIG PORT...: runs `ktlsgw run -c CONFIG` in the background,
# logging to GW_LOG; returns 0 once every PORT accepts. Sets GW_PID, GW_LOG.
start_gateway() {
	local conf=$1 p
	shift
	GW_N=$((GW_N + 1))
	GW_LOG=$TMP/gateway.$GW_N.log
	"$KTLSGW" run -c "$conf" >"$GW_LOG" 2>&1 &
	GW_PID=$!
	track_pid "$GW_PID"
	for p in "$@"; do
		if ! wait_port "$p" $((5 * SLOW)) || ! is_running "$GW_PID"; then
			echo "start_gateway: not up (pid $GW_PID); log:" >&2
			tail -n 30 "$GW_LOG" >&2
			kill_wait "$GW_PID" 2
			GW_PID=
			return 1
		fi
	done
	is_running "$GW_PID"
}

# stop_gateway: SIGTERM, wait (bounded) and succeed only if it exited 0
# (under ASan a leak report makes the exit status non-zero).
stop_gateway() {
	local pid=$GW_PID i rc
	[ -n "$pid" ] || return 1
	GW_PID=
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100 * SLOW; i++)); do
		is_running "$pid" || break
		sleep 0.1
	done
	if is_running "$pid"; then
		echo "stop_gateway: pid $pid still running $((10 * SLOW))s after SIGTERM" >&2
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		untrack_pid "$pid"
		return 1
	fi
	wait "$pid"
	rc=$?
	untrack_pid "$pid"
	if [ $rc -ne 0 ]; then
		echo "stop_gateway: exit status $rc; log tail:" >&2
		tail -n 30 "$GW_LOG" >&2
	fi
	return $rc
}

# gw_alive: the gateway process is still running.
gw_alive() { [ -n "$GW_PID" ] && is_running "$GW_PID"; }

# fd_count PID: open file descriptors of PID.
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# log_wait PATTERN [SECS] [FILE]: until grep -E PATTERN matches the gateway log.
log_wait() {
	local pat=$1 secs=${2:-3} f=${3:-$GW_LOG} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -qE -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# log_mark: remember the log size, so log_since can look at new lines only.
log_mark() { LOG_MARK=$(stat -c %s "$GW_LOG" 2>/dev/null || echo 0); }
log_since() { tail -c +"$((LOG_MARK + 1))" "$GW_LOG"; }

# log_since_wait PATTERN [SECS]: like log_wait, on lines after log_mark.
log_since_wait() {
	local pat=$1 secs=${2:-3} i
	for ((i = 0; i < secs * 10; i++)); do
		log_since | grep -qiE -- "$pat" && return 0
		sleep 0.1
	done
	return 1
}

# --- clients -----------------------------------------------------------------

# grpc_call TARGET_PORT ARGS...: tests/fakes/grpc_client.py against 127.0.0.1.
grpc_call() {
	local port=$1
	shift
	timeout -k 2 30 "$PY" "$FAKES/grpc_client.py" "127.0.0.1:$port" "$@"
}

# s_client PORT ARGS...: one handshake with openssl s_client (stdin closed, so
# it ends after the handshake); prints its whole output.
s_client() {
	local port=$1
	shift
	timeout -k 1 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
		-nocommands "$@" </dev/null 2>&1
}

# expect_json_list FILE: the body is Milvus's collections/list answer.
expect_json_list() {
	"$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert d.get("code") == 0 and "book" in d.get("data", []), d
' "$1"
}

# check_fails CASE PATTERN CMD...: PASS when CMD fails and its output matches
# the extended regex PATTERN (the failure is the expected one).
check_fails() {
	local c=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -qiE -- "$pat" <<<"$out"; then
		pass "$c"
		return 0
	fi
	if [ $rc -eq 0 ]; then
		fail "$c" "expected a failure, but it succeeded: $(tail -n 1 <<<"$out")"
	else
		fail "$c" "failed, but not with /$pat/: $(tail -n 1 <<<"$out")"
	fi
	printf '%s\n' "$out" | tail -n 20 >&2
	return 1
}

# check_s_client CASE PORT 'REGEX;!REGEX;...' ARGS...: one s_client handshake
# whose output must match every REGEX (and none of the !REGEX).
check_s_client() {
	local c=$1 port=$2 pats=$3 out p
	shift 3
	out=$(s_client "$port" "$@")
	IFS=';' read -ra want <<<"$pats"
	for p in "${want[@]}"; do
		if [ "${p:0:1}" = '!' ]; then
			grep -qE -- "${p:1}" <<<"$out" || continue
			fail "$c" "s_client output has /${p:1}/: $(grep -E -- "${p:1}" <<<"$out" | head -1)"
			return 1
		fi
		if ! grep -qE -- "$p" <<<"$out"; then
			fail "$c" "s_client output lacks /$p/ (got: $(grep -E \
				'^(New|ALPN|Verify return|No ALPN)|error|alert' <<<"$out" | head -4 | tr '\n' '|'))"
			printf '%s\n' "$out" | tail -n 30 >&2
			return 1
		fi
	done
	pass "$c"
}

# gateway_or_exit CONFIG PORT...: start_gateway, or print FAIL gateway-start
# with the log's last line and end the script (nothing else can run).
# The case is gateway-start for the script's first gateway, gateway-start-N after.
gateway_or_exit() {
	local c=gateway-start
	[ "$GW_N" -ge 1 ] && c=gateway-start-$((GW_N + 1))
	if start_gateway "$@"; then
		pass "$c"
		return 0
	fi
	fail "$c" "ktlsgw run -c $1 did not serve: $(tail -n 1 "$GW_LOG" 2>/dev/null)"
	exit 0
}

# check_clean_exit: SIGTERM the gateway; PASS clean-exit when it exits 0.
# (clean-exit-N for the script's Nth gateway, N > 1).
check_clean_exit() {
	local c=clean-exit
	[ "$GW_N" -gt 1 ] && c=clean-exit-$GW_N
	if stop_gateway; then
		pass "$c"
	else
		fail "$c" "ktlsgw did not exit 0 within $((10 * SLOW))s of SIGTERM (see log)"
	fi
}

# check_fds CASE BASE [SECS]: the gateway's fd count comes back to BASE.
check_fds() {
	local c=$1 base=$2 secs=${3:-5} i n
	if ! gw_alive; then
		fail "$c" "the gateway is not running"
		return 1
	fi
	for ((i = 0; i < secs * 10; i++)); do
		n=$(fd_count "$GW_PID")
		[ "$n" -le "$base" ] && break
		sleep 0.1
	done
	if [ "$n" -le "$base" ]; then
		pass "$c"
		echo "$c: gateway fds before $base, after $n" >&2
	else
		fail "$c" "gateway holds $n fds, $base before ($(ls -l "/proc/$GW_PID/fd" 2>/dev/null |
			awk '{print $NF}' | sed 's/:.*//' | sort | uniq -c | tr -s ' \n' ' '))"
	fi
}
