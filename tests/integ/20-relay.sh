#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke test of the data plane: tlsMode 0/1/2 (and internal TLS) through the
# gateway to a trivial upstream, a few MiB each way with equal SHA-256 and
# half-close both ways; mode-2 refusals; plaintext HTTP; upstream down; fds
# and a clean SIGTERM exit. Needs $KTLSGW; uses /usr/bin/python3 and openssl.
set -u
PY=/usr/bin/python3
[ -x "$PY" ] && command -v openssl >/dev/null || { echo "python3 or openssl missing" >&2; exit 77; }
[ -x "${KTLSGW:-}" ] || { echo "KTLSGW not set" >&2; exit 77; }
T=$(mktemp -d /tmp/ktlsgw-20.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
pass() { echo "PASS integ/20-relay/$1"; }
fail() { echo "FAIL integ/20-relay/$1: $2"; }
skip() { echo "SKIP integ/20-relay/$1: $2"; }

# ---- helpers (python) ----
cat >"$T/up.py" <<'PYEOF'
import socket, sys, threading, hashlib, ssl
# up.py PORTFILE ANSWERFILE [cert key]: per conn, read to EOF, answer, half-close
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(512)
data = open(sys.argv[2], 'rb').read()
ctx = None
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    ctx.set_alpn_protocols(['h2', 'http/1.1'])
open(sys.argv[1], 'w').write(str(s.getsockname()[1]))
def h(c):
    try:
        alpn = '-'
        if ctx:
            c = ctx.wrap_socket(c, server_side=True); alpn = c.selected_alpn_protocol()
        m = hashlib.sha256(); n = 0
        while True:
            b = c.recv(65536)
            if not b: break
            m.update(b); n += len(b)
        c.sendall(data)
        if ctx: c = c.unwrap()
        c.shutdown(socket.SHUT_WR); c.close()
        print("UP", n, m.hexdigest(), "alpn=%s" % alpn, flush=True)
    except Exception as e:
        print("UP error", repr(e), flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
PYEOF
cat >"$T/cli.py" <<'PYEOF'
import socket, sys, ssl, hashlib
# cli.py PORT FILE plain|tls [ca [cert key]]: send FILE, half-close, read to EOF
port = int(sys.argv[1]); data = open(sys.argv[2], 'rb').read(); mode = sys.argv[3]
s = socket.create_connection(('127.0.0.1', port), timeout=30)
m = hashlib.sha256(); n = 0
if mode == 'plain':
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b: break
        m.update(b); n += len(b)
    print("CLI", n, m.hexdigest()); sys.exit(0)
ctx = ssl.create_default_context(cafile=sys.argv[4])
if len(sys.argv) > 6: ctx.load_cert_chain(sys.argv[5], sys.argv[6])
ctx.set_alpn_protocols(['h2', 'http/1.1'])
inc = ssl.MemoryBIO(); out = ssl.MemoryBIO()
o = ctx.wrap_bio(inc, out, server_hostname='localhost')
def flush():
    d = out.read()
    if d: s.sendall(d)
def feed():
    b = s.recv(65536)
    if not b: inc.write_eof(); return False
    inc.write(b); return True
while True:
    try: o.do_handshake(); break
    except ssl.SSLWantReadError:
        flush()
        if not feed(): sys.exit("EOF in handshake")
flush()
for i in range(0, len(data), 16384):
    o.write(data[i:i + 16384]); flush()
try: o.unwrap()          # close_notify: our half-close
except ssl.SSLWantReadError: pass
flush(); s.shutdown(socket.SHUT_WR)
eof = False
while True:
    try:
        b = o.read(65536)
        if not b: break
        m.update(b); n += len(b)
    except ssl.SSLWantReadError:
        if eof: break
        if not feed(): eof = True
    except ssl.SSLZeroReturnError: break
print("CLI", n, m.hexdigest(), "alpn=%s" % o.selected_alpn_protocol(), o.version())
PYEOF
cat >"$T/slow.py" <<'PYEOF'
import socket, sys, ssl, hashlib, time, os
# slow.py PORT CA READYFILE GOFILE: half-close at once, read nothing until GOFILE exists
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=60)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
ctx = ssl.create_default_context(cafile=sys.argv[2])
t = ctx.wrap_socket(s, server_hostname='localhost')
socket.socket.shutdown(t, socket.SHUT_WR)   # FIN: the upstream answers after EOF
open(sys.argv[3], 'w').close()
while not os.path.exists(sys.argv[4]): time.sleep(0.05)
m = hashlib.sha256(); n = 0
while True:
    b = t.recv(65536)
    if not b: break
    m.update(b); n += len(b)
print("CLI", n, m.hexdigest())
PYEOF
cat >"$T/closed.py" <<'PYEOF'
import socket, sys, time, ssl
# closed.py PORT [ca]: seconds until the gateway closes a fresh conn
t0 = time.time(); s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
try:
    if len(sys.argv) > 2:
        ctx = ssl.create_default_context(cafile=sys.argv[2]); s = ctx.wrap_socket(s, server_hostname='localhost')
    s.recv(10)
except Exception: pass
print("%.3f" % (time.time() - t0))
PYEOF
freeport() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { local i; for i in $(seq 100); do "$PY" -c "import socket;socket.create_connection(('127.0.0.1',$1),timeout=1)" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# ---- certificates, payloads, upstreams ----
C=$T/cert
if ! "$KTLSGW" cert gen --dir "$C" >/dev/null 2>&1; then
	mkdir -p "$C" && (cd "$C" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=ca -days 30 &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out s.csr -subj /CN=localhost &&
	printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >s.ext &&
	openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 30 -extfile s.ext -out server.pem &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out c.csr -subj /CN=client &&
	printf 'extendedKeyUsage=clientAuth\n' >c.ext &&
	openssl x509 -req -in c.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -extfile c.ext -out client.pem) >/dev/null 2>&1 ||
	{ echo "cannot make certificates" >&2; exit 77; }
fi
(cd "$C" && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bad.key \
	-out bad.csr -subj /CN=gen-sh-client &&
	printf 'extendedKeyUsage=serverAuth\n' >bad.ext &&
	openssl x509 -req -in bad.csr -CA ca.pem -CAkey ca.key -set_serial 99 -days 30 -extfile bad.ext \
	-out bad.pem) >/dev/null 2>&1
chmod 600 "$C"/*.key
head -c $((4 * 1024 * 1024 + 123)) /dev/urandom >"$T/up.bin"
head -c $((3 * 1024 * 1024 + 77)) /dev/urandom >"$T/down.bin"
head -c $((32 * 1024 * 1024)) /dev/urandom >"$T/big.bin"
UPSHA=$(sha "$T/up.bin") DOWNSHA=$(sha "$T/down.bin")

"$PY" -u "$T/up.py" "$T/up.port" "$T/down.bin" >"$T/up.log" 2>&1 & PIDS+=($!)
"$PY" -u "$T/up.py" "$T/tup.port" "$T/down.bin" "$C/server.pem" "$C/server.key" >"$T/tup.log" 2>&1 & PIDS+=($!)
"$PY" -u "$T/up.py" "$T/bup.port" "$T/big.bin" >"$T/bup.log" 2>&1 & PIDS+=($!)
for i in $(seq 50); do [ -s "$T/up.port" ] && [ -s "$T/tup.port" ] && [ -s "$T/bup.port" ] && break; sleep 0.1; done
UP=$(cat "$T/up.port") TUP=$(cat "$T/tup.port") BUP=$(cat "$T/bup.port")
P0=$(freeport) P1=$(freeport) P2=$(freeport) PI=$(freeport) PD=$(freeport) DEAD=$(freeport)
PB=$(freeport)

cat >"$T/gw.yaml" <<YEOF
gateway:
  listeners:
    - { name: plain, bind: "127.0.0.1:$P0", upstream: "127.0.0.1:$UP", tlsMode: 0 }
    - { name: oneway, bind: "127.0.0.1:$P1", upstream: "127.0.0.1:$UP", tlsMode: 1 }
    - { name: mutual, bind: "127.0.0.1:$P2", upstream: "127.0.0.1:$UP", tlsMode: 2 }
    - { name: itls, bind: "127.0.0.1:$PI", upstream: "127.0.0.1:$TUP", tlsMode: 1, internaltlsEnabled: true }
    - { name: down, bind: "127.0.0.1:$PD", upstream: "127.0.0.1:$DEAD", tlsMode: 1 }
    - { name: big, bind: "127.0.0.1:$PB", upstream: "127.0.0.1:$BUP", tlsMode: 1 }
  workers: 2
  handshakeTimeout: 2s
  connectTimeout: 1s
tls:
  serverPemPath: $C/server.pem
  serverKeyPath: $C/server.key
  caPemPath: $C/ca.pem
internaltls:
  caPemPath: $C/ca.pem
  sni: localhost
common:
  security:
    tlsMode: 1
    internaltlsEnabled: false
YEOF
"$KTLSGW" run -c "$T/gw.yaml" >"$T/gw.log" 2>&1 & GW=$!; PIDS+=($GW)
if ! wait_port "$P0" || ! wait_port "$PD"; then
	fail start "gateway did not listen: $(tail -n 5 "$T/gw.log" | tr '\n' ' ')"
	exit 1
fi
if grep -q "Internal TLS Enabled value=false" "$T/gw.log"; then pass internal_tls_log_line
else fail internal_tls_log_line "no 'Internal TLS Enabled value=false' line"; fi
FD0=$(nfds $GW)

# relay CASE PORT MODE ARGS...: SHA-256 equal both ways, upstream saw all
relay() {
	local name=$1 port=$2 log=$3 out want n0 i
	shift 3
	want="^UP $(stat -c %s "$T/up.bin") $UPSHA"
	n0=$(grep -c "$want" "$log")
	out=$(timeout 60 "$PY" "$T/cli.py" "$port" "$T/up.bin" "$@" 2>&1)
	if ! grep -q "^CLI $(stat -c %s "$T/down.bin") $DOWNSHA" <<<"$out"; then
		fail "$name" "client got: $(tail -n 1 <<<"$out")"; return 1
	fi
	for i in $(seq 20); do [ "$(grep -c "$want" "$log")" -gt "$n0" ] && break; sleep 0.1; done
	if [ "$(grep -c "$want" "$log")" -le "$n0" ]; then
		fail "$name" "upstream did not receive the payload intact"; return 1
	fi
	pass "$name"
}
relay mode0_sha256_both_ways "$P0" "$T/up.log" plain
relay mode1_sha256_both_ways "$P1" "$T/up.log" tls "$C/ca.pem"
relay mode2_sha256_both_ways_with_client_cert "$P2" "$T/up.log" tls "$C/ca.pem" "$C/client.pem" "$C/client.key"
relay internal_tls_sha256_both_ways "$PI" "$T/tup.log" tls "$C/ca.pem"
if grep -q "alpn=http/1.1" "$T/tup.log"; then pass internal_tls_forwards_alpn
else fail internal_tls_forwards_alpn "upstream saw: $(grep -m1 '^UP' "$T/tup.log")"; fi
if grep -q "lst=plain access .*c2u=$(stat -c %s "$T/up.bin") u2c=$(stat -c %s "$T/down.bin") .*path=splice" "$T/gw.log"
then pass mode0_access_line_splice; else fail mode0_access_line_splice "no access line with exact bytes and path=splice"; fi
# Without kTLS the TLS records run on tlsrec.c (the SSL is freed after the
# handshake): path=records, and the session facts survive the SSL.
if grep -q "lst=oneway access .*c2u=$(stat -c %s "$T/up.bin") u2c=$(stat -c %s "$T/down.bin") .*tls=TLSv1.3 cipher=TLS_[A-Z0-9_]* .*path=records " "$T/gw.log"
then pass mode1_access_line_records; else fail mode1_access_line_records "no access line with exact payload bytes, cipher and path=records"; fi
if grep -q "lst=mutual access .*tls=TLSv1.3 .*subject=\"[^\"]*CN=.*path=records " "$T/gw.log"
then pass mode2_access_line; else fail mode2_access_line "no access line with TLS 1.3, subject and path=records"; fi
if grep -q "lst=itls access .*c2u=$(stat -c %s "$T/up.bin") u2c=$(stat -c %s "$T/down.bin") .*path=records " "$T/gw.log"
then pass internal_tls_access_line_records; else fail internal_tls_access_line_records "no internal-TLS access line with path=records (both sides)"; fi

# mode-2 refusals, each with its reason in the log
out=$(timeout 20 "$PY" "$T/cli.py" "$P2" "$T/up.bin" tls "$C/ca.pem" 2>&1)
if ! grep -q "^CLI $(stat -c %s "$T/down.bin")" <<<"$out" && grep -q "lst=mutual client TLS handshake refused: no cert" "$T/gw.log"
then pass mode2_refuses_no_cert; else fail mode2_refuses_no_cert "not refused or no 'no cert' log line"; fi
if [ -s "$C/bad.pem" ]; then
	out=$(timeout 20 "$PY" "$T/cli.py" "$P2" "$T/up.bin" tls "$C/ca.pem" "$C/bad.pem" "$C/bad.key" 2>&1)
	if ! grep -q "^CLI $(stat -c %s "$T/down.bin")" <<<"$out" &&
		grep "handshake refused: wrong purpose" "$T/gw.log" | grep -q "serverAuth only.*ktlsgw cert gen"
	then pass mode2_refuses_serverauth_only_cert
	else fail mode2_refuses_serverauth_only_cert "not refused or log line lacks the reason"; fi
else
	skip mode2_refuses_serverauth_only_cert "openssl could not make the gen.sh-style cert"
fi
if openssl s_client -connect "127.0.0.1:$P2" -tls1_2 -cert "$C/client.pem" -key "$C/client.key" </dev/null 2>&1 |
	grep -q "alert protocol version" && grep -q "lst=mutual client TLS handshake refused: protocol version" "$T/gw.log"
then pass mode2_refuses_tls12; else fail mode2_refuses_tls12 "TLS 1.2 not refused with a protocol version reason"; fi

if openssl s_client -connect "127.0.0.1:$P1" -tls1_2 -cipher AES128-SHA </dev/null >/dev/null 2>&1; then
	fail mode1_refuses_no_shared_cipher "an RSA-only cipher was accepted by an ECDSA server"
elif grep -q "lst=oneway client TLS handshake refused: no shared cipher" "$T/gw.log"; then
	pass mode1_refuses_no_shared_cipher
else fail mode1_refuses_no_shared_cipher "no 'no shared cipher' log line"; fi

# ALPN: server preference http/1.1 over the client's h2,http/1.1
if openssl s_client -connect "127.0.0.1:$P1" -alpn h2,http/1.1 -CAfile "$C/ca.pem" </dev/null 2>/dev/null |
	grep -q "ALPN protocol: http/1.1"; then pass alpn_server_preference
else fail alpn_server_preference "http/1.1 not selected"; fi

# plaintext HTTP on a TLS port: 400 saying the port expects TLS
if command -v curl >/dev/null; then
	out=$(timeout 10 curl -s -i "http://127.0.0.1:$P1/v2/vectordb/collections/list" 2>&1)
	if grep -q "^HTTP/1.1 400" <<<"$out" && grep -q "expects TLS" <<<"$out"; then pass plaintext_http_gets_400
	else fail plaintext_http_gets_400 "got: $(head -n 1 <<<"$out")"; fi
else
	skip plaintext_http_gets_400 "curl missing"
fi

# upstream down: closed promptly, gateway stays up
secs=$(timeout 10 "$PY" "$T/closed.py" "$PD" "$C/ca.pem")
if [ -n "$secs" ] && "$PY" -c "import sys; sys.exit(0 if float('$secs') < 1.0 else 1)" &&
	grep -q "lst=down upstream 127.0.0.1:$DEAD: connect: Connection refused" "$T/gw.log"
then pass upstream_down_closes_promptly; else fail upstream_down_closes_promptly "took ${secs:-?}s or no log line"; fi
relay still_serving_after_bad_input "$P1" "$T/up.log" tls "$C/ca.pem"

# a slow reader: 32 MiB waiting upstream, the client reads nothing for 2 s;
# the gateway's memory must not follow (bounded buffers, backpressure)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
R0=$(rss $GW)
timeout 60 "$PY" "$T/slow.py" "$PB" "$C/ca.pem" "$T/ready" "$T/go" >"$T/slow.out" 2>&1 &
SP=$!
for i in $(seq 50); do [ -e "$T/ready" ] && break; sleep 0.1; done
sleep 2
R1=$(rss $GW)
touch "$T/go"
wait $SP
if grep -q "^CLI $((32 * 1024 * 1024)) $(sha "$T/big.bin")" "$T/slow.out" && [ $((R1 - R0)) -lt 8192 ]
then pass slow_reader_bounded_memory
else fail slow_reader_bounded_memory "RSS ${R0} -> ${R1} KiB while stalled; client: $(tail -n 1 "$T/slow.out")"; fi
echo "# slow reader: gateway RSS ${R0} KiB before, ${R1} KiB with 32 MiB pending" >&2

# fds back to where they were
for i in $(seq 30); do [ "$(nfds $GW)" -le "$FD0" ] && break; sleep 0.1; done
FD1=$(nfds $GW)
if [ "$FD1" -le "$FD0" ]; then pass no_fd_leak; else fail no_fd_leak "fds $FD0 before, $FD1 after"; fi
echo "# fds before=$FD0 after=$FD1 accepted=$(grep -c ' access ' "$T/gw.log")" >&2

# SIGTERM: exit 0
kill -TERM $GW
rc=0; timeout 10 tail --pid=$GW -f /dev/null || { rc=124; kill -9 $GW; }
wait $GW; rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && grep -q "stopped" "$T/gw.log"; then pass sigterm_exits_0
else fail sigterm_exits_0 "exit $rc2 (wait $rc)"; fi
if grep -qE "ERROR|AddressSanitizer|runtime error" "$T/gw.log"; then
	fail no_errors_in_log "$(grep -m1 -E 'ERROR|AddressSanitizer|runtime error' "$T/gw.log")"
else pass no_errors_in_log; fi
exit 0
