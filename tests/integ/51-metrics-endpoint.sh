#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The metrics endpoint of a running gateway: known traffic in tlsMode 1 and 0
# shows in /metrics with exact connection and handshake counts; promtool
# accepts the text; HEAD, 404, 405, garbage and 200 scrapers at once leave it
# answering; `ktlsgw stats -c` prints the per-mode rows. Skips while
# `ktlsgw run` does not start the endpoint.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P1=$(free_port) P0=$(free_port) PM=$(free_port)
L="$(listener rest1 "$P1" "$R")
$(listener rest0 "$P0" "$R" 'tlsMode: 0')"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  metrics: 127.0.0.1:$PM"
gateway_or_exit "$TMP/gw.yaml" "$P1" "$P0"
if ! wait_port "$PM" $((2 * SLOW)); then
	skip endpoint "ktlsgw run does not serve gateway.metrics yet (cmd_run.c: httpd_start)"
	check_clean_exit
	exit 0
fi
M=http://127.0.0.1:$PM/metrics
LIST=/v2/vectordb/collections/list

for i in 1 2 3; do
	curl -sSf --max-time 10 --cacert "$C/ca.pem" -o /dev/null "https://localhost:$P1$LIST"
done
for i in 1 2; do
	curl -sSf --max-time 10 -o /dev/null "http://localhost:$P0$LIST"
done
sleep 0.3

# sample NAME{LABELS}: its value in a fresh scrape, or "none".
sample() {
	curl -sf --max-time 5 "$M" | awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "none" }'
}

# expect_eq CASE WANT GOT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected $2, got $3"; fi
}

hdr=$(curl -sS --max-time 5 -D - -o "$TMP/m.txt" "$M" | tr -d '\r')
if grep -q '^HTTP/1.1 200' <<<"$hdr" &&
	grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8$' <<<"$hdr"; then
	pass get-200
else
	fail get-200 "$(head -n 1 <<<"$hdr")"
fi
if command -v promtool >/dev/null; then
	check promtool-check-metrics sh -c "promtool check metrics <'$TMP/m.txt'"
else
	skip promtool-check-metrics "promtool not installed (Debian package prometheus)"
fi
expect_eq conns-mode1 3 "$(sample 'ktlsgw_connections_total{tls_mode="1",listener="rest1",leg="client"}')"
expect_eq conns-mode0 2 "$(sample 'ktlsgw_connections_total{tls_mode="0",listener="rest0",leg="client"}')"
expect_eq handshakes-mode1 3 "$(sample 'ktlsgw_handshakes_total{tls_mode="1",listener="rest1",offload="userspace"}')"

code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
expect_eq head-200 200 "$(code -I "$M")"
expect_eq other-path-404 404 "$(code "http://127.0.0.1:$PM/")"
expect_eq post-405 405 "$(code -X POST "$M")"
got=$(timeout 5 "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00garbage\r\n\r\n")
print(s.recv(64).split(b"\r\n")[0].decode())' "$PM")
expect_eq garbage-400 "HTTP/1.1 400 Bad Request" "$got"

check scrapers-200-at-once timeout -k 2 30 "$PY" -c '
import socket, sys, threading
port, ok, lock = int(sys.argv[1]), [0], threading.Lock()
def one():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
        if data.startswith(b"HTTP/1.1 200"):
            with lock: ok[0] += 1
    except OSError:
        pass
ts = [threading.Thread(target=one) for _ in range(200)]
[t.start() for t in ts]; [t.join() for t in ts]
print("answered", ok[0], "of 200")
sys.exit(0 if ok[0] >= 1 else 1)' "$PM"
expect_eq still-answers 200 "$(code "$M")"
expect_eq still-relays 200 "$(code --cacert "$C/ca.pem" "https://localhost:$P1$LIST")"

out=$("$KTLSGW" stats -c "$TMP/gw.yaml" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -Eq '^1 \(one-way TLS\) +4 ' <<<"$out" &&
	grep -Eq '^0 \(plain\) +2 ' <<<"$out"; then
	pass stats-table
	printf '%s\n' "$out" >&2
else
	fail stats-table "exit $rc: $(printf '%s\n' "$out" | head -n 3 | tr '\n' '|')"
fi
check_clean_exit
