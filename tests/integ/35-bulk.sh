#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bulk data and half-close: 64 MiB each way with equal SHA-256 through the
# gateway (REST with curl in tlsMode 1 and 0, gRPC streams in tlsMode 1),
# half-close in both directions (TLS close_notify and TCP FIN reach the other
# side after all data), and bounded memory while a reader stalls.
. "$(dirname "$0")/lib.sh"

MIB64=$((64 << 20))
C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
start_fake grpc grpc || { fail fake-start "fake gRPC server did not start"; exit 0; }
G=$FAKE_PORT
start_fake sink sink --mode sink || { fail fake-start "sink did not start"; exit 0; }
S=$FAKE_PORT
start_fake source sink --mode source --bytes "$MIB64" --seed 21 ||
	{ fail fake-start "source did not start"; exit 0; }
O=$FAKE_PORT

PR1=$(free_port) PR0=$(free_port) PG=$(free_port)
PS1=$(free_port) PS0=$(free_port) PO1=$(free_port) PO0=$(free_port)
L="$(listener rest1 "$PR1" "$R")
$(listener rest0 "$PR0" "$R" 'tlsMode: 0')
$(listener grpc1 "$PG" "$G")
$(listener sink1 "$PS1" "$S")
$(listener sink0 "$PS0" "$S" 'tlsMode: 0')
$(listener source1 "$PO1" "$O")
$(listener source0 "$PO0" "$O" 'tlsMode: 0')"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$PR1" "$PR0" "$PG" "$PS1" "$PS0" "$PO1" "$PO0"

curl -sS --max-time 5 --cacert "$C/ca.pem" -o /dev/null \
	"https://localhost:$PR1/v2/vectordb/collections/list"
sleep 0.2
BASE=$(fd_count "$GW_PID")

head -c "$MIB64" /dev/urandom >"$TMP/up.bin"
UP_SHA=$(sha256sum <"$TMP/up.bin" | cut -d' ' -f1)
DOWN_SHA=$("$PY" -c 'import hashlib, random, sys
print(hashlib.sha256(random.Random(3).randbytes(int(sys.argv[1]))).hexdigest())' "$MIB64")

# upload CASE URL CURL-ARGS...: POST the 64 MiB file; the fake's SHA-256 must match.
upload() {
	local c=$1 url=$2 out
	shift 2
	out=$(curl -sS --max-time 60 -H 'Content-Type: application/octet-stream' \
		--data-binary "@$TMP/up.bin" "$@" "$url/fake/upload" 2>&1)
	if grep -q "\"bytes\": $MIB64, \"sha256\": \"$UP_SHA\"" <<<"$out"; then
		pass "$c"
	else
		fail "$c" "the fake saw $(head -c 160 <<<"$out"); sent $MIB64 bytes sha256 ${UP_SHA:0:16}"
	fi
}

# download CASE URL CURL-ARGS...: GET 64 MiB; SHA-256 of what arrived must match.
download() {
	local c=$1 url=$2 got
	shift 2
	curl -sS --max-time 60 -o "$TMP/down.bin" "$@" "$url/fake/download?bytes=$MIB64&seed=3" \
		2>"$TMP/curl.err"
	got=$(sha256sum <"$TMP/down.bin" 2>/dev/null | cut -d' ' -f1)
	if [ "$got" = "$DOWN_SHA" ]; then
		pass "$c"
	else
		fail "$c" "got $(stat -c %s "$TMP/down.bin" 2>/dev/null) bytes sha256 ${got:0:16}," \
			"want $MIB64 ${DOWN_SHA:0:16} ($(tail -n 1 "$TMP/curl.err"))"
	fi
	rm -f "$TMP/down.bin"
}

T0=$(date +%s.%N)
upload rest-upload-64MiB-mode1 "https://localhost:$PR1" --cacert "$C/ca.pem"
download rest-download-64MiB-mode1 "https://localhost:$PR1" --cacert "$C/ca.pem"
upload rest-upload-64MiB-mode0 "http://localhost:$PR0"
download rest-download-64MiB-mode0 "http://localhost:$PR0"
check grpc-upload-64MiB-mode1 grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" \
	--upload "$MIB64" --timeout 60
check grpc-download-64MiB-mode1 grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" \
	--download "$MIB64" --timeout 60
awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "bulk transfers: %.1fs\n", b - a }' >&2

SC=("$PY" "$FAKES/stream_client.py")
check halfclose-client-tls "${SC[@]}" "$PS1" --cafile "$C/ca.pem" --send 8000000
check halfclose-client-plain "${SC[@]}" "$PS0" --send 8000000
check halfclose-upstream-tls-64MiB "${SC[@]}" "$PO1" --cafile "$C/ca.pem" --recv "$MIB64"
check halfclose-upstream-plain-64MiB "${SC[@]}" "$PO0" --recv "$MIB64"
check slow-reader-bounded-memory-tls "${SC[@]}" "$PO1" --cafile "$C/ca.pem" --recv "$MIB64" \
	--pause 1.5 --watch-pid "$GW_PID" --max-growth 16
check slow-reader-bounded-memory-plain "${SC[@]}" "$PO0" --recv "$MIB64" \
	--pause 1.5 --watch-pid "$GW_PID" --max-growth 16

if gw_alive; then pass still-up; else fail still-up "gateway died"; fi
check_fds fds-back-to-baseline "$BASE" 5
check_clean_exit
exit 0
