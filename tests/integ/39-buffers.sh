#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Buffers on demand: an idle TLS conn holds no payload buffer (RSS per conn
# stays near OpenSSL's session), an idle plaintext conn holds no pipe (2 fds)
# whether or not it moved bytes before,
# and when stalled conns hold every buffer of the worker's provided-buffer
# ring, other conns still relay (a recv then waits in a buffer of its own)
# and the ring refills once the stalled conns go.
. "$(dirname "$0")/lib.sh"

STALLERS=80	# more than the ring's 64 buffers (include/bufpool.h)

cat >"$TMP/up.py" <<'PYEOF'
import socket, sys, threading, time
# up.py PORTFILE: "STALL" conns are never read; others are echoed until EOF
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(('127.0.0.1', 0)); s.listen(1024)
open(sys.argv[1], 'w').write(str(s.getsockname()[1]))
def h(c):
    try:
        first = c.recv(5, socket.MSG_PEEK)
        if first == b'STALL':
            time.sleep(3600)
        while True:
            b = c.recv(65536)
            if not b: break
            c.sendall(b)
        c.close()
    except Exception:
        pass
while True:
    c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
PYEOF
cat >"$TMP/hold.py" <<'PYEOF'
import socket, ssl, sys, threading, time
# hold.py PORT CA|- N SIZE READYFILE: N conns (TLS unless CA is -); each sends
# "STALL" and SIZE bytes (SIZE 0: nothing, an idle conn; SIZE -1: one echo
# of "hello", then idle); READYFILE once all handshakes (and echoes) are
# done; then holds them until killed.
port, ca, n, size, ready = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context(cafile=ca) if ca != '-' else None
data = memoryview(b'x' * max(size, 0))
conns, up = [], threading.Semaphore(0)
def one():
    s = socket.create_connection(('127.0.0.1', port), timeout=3600)
    if ctx: s = ctx.wrap_socket(s, server_hostname='localhost')
    if size < 0:
        s.sendall(b'hello'); got = b''
        while len(got) < 5: got += s.recv(5 - len(got))
    conns.append(s); up.release()
    if size > 0:
        try: s.sendall(b'STALL'); s.sendall(data)
        except Exception: pass
for i in range(n):
    threading.Thread(target=one, daemon=True).start()
for i in range(n): up.acquire()
open(ready, 'w').close()
time.sleep(3600)
PYEOF
cat >"$TMP/echo.py" <<'PYEOF'
import os, socket, ssl, sys
# echo.py PORT CA SIZE: SIZE random bytes in 64 KiB chunks, each echoed back whole
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
s = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(s, server_hostname='localhost')
data = os.urandom(int(sys.argv[3]))
for i in range(0, len(data), 65536):
    chunk = data[i:i + 65536]; got = b''
    s.sendall(chunk)
    while len(got) < len(chunk):
        b = s.recv(len(chunk) - len(got))
        if not b: sys.exit("EOF after %d bytes" % (i + len(got)))
        got += b
    if got != chunk: sys.exit("echo differs at %d" % i)
print("echoed", len(data))
PYEOF

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
"$PY" -u "$TMP/up.py" "$TMP/up.port" >"$TMP/up.log" 2>&1 &
track_pid $!
for i in $(seq 50); do [ -s "$TMP/up.port" ] && break; sleep 0.1; done
UP=$(cat "$TMP/up.port")
P1=$(free_port) P0=$(free_port)
L="$(listener tls "$P1" "$UP")
$(listener plain "$P0" "$UP" 'tlsMode: 0')"
HANDSHAKE_TIMEOUT=10s write_config "$TMP/gw.yaml" "$C" 1 false "$L"
# One worker, so its one ring is the one the stalled conns drain; debug log
# for the line that says a recv found the ring empty.
sed -i 's/^  workers: 2$/  workers: 1/; s/^  logLevel: info$/  logLevel: debug/' "$TMP/gw.yaml"
gateway_or_exit "$TMP/gw.yaml" "$P1" "$P0"
check echo-warmup timeout 30 "$PY" "$TMP/echo.py" "$P1" "$C/ca.pem" 65536
sleep 0.3
BASE=$(fd_count "$GW_PID")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# hold N CA SIZE: starts hold.py; waits until every conn is up. Sets HOLD.
hold() {
	rm -f "$TMP/ready"
	"$PY" "$TMP/hold.py" "$P" "$2" "$1" "$3" "$TMP/ready" 2>>"$TMP/hold.err" &
	HOLD=$!
	track_pid "$HOLD"
	for i in $(seq $((300 * SLOW))); do [ -e "$TMP/ready" ] && return 0; sleep 0.1; done
	return 1
}
unhold() { kill_wait "$HOLD" 5; }

# Idle plaintext conns: 2 fds each (their sockets), no pipes.
P=$P0
if hold 200 - 0; then
	sleep 0.5
	n=$(($(fd_count "$GW_PID") - BASE))
	if [ "$n" -le 400 ]; then pass idle-plain-conn-holds-2-fds
	else fail idle-plain-conn-holds-2-fds "200 idle conns hold $n fds"; fi
	echo "idle-plain-conn-holds-2-fds: 200 idle conns hold $n fds" >&2
else
	fail idle-plain-conn-holds-2-fds "200 plaintext conns did not all open"
fi
unhold
check_fds fds-after-idle-plain "$BASE" 10

# Plaintext conns that moved bytes and went idle: their pipes went back to
# the worker, whose pool closes those that stay idle for a whole tick.
if hold 200 - -1; then
	sleep 0.5
	n=$(($(fd_count "$GW_PID") - BASE))
	if [ "$n" -le 400 ]; then pass idle-after-data-plain-conn-holds-no-pipe
	else fail idle-after-data-plain-conn-holds-no-pipe "200 conns idle after an echo hold $n fds"; fi
	echo "idle-after-data-plain-conn-holds-no-pipe: 200 conns hold $n fds" >&2
else
	fail idle-after-data-plain-conn-holds-no-pipe "200 plaintext conns did not all echo"
fi
unhold
check_fds fds-after-echo-plain "$BASE" 10

# Idle TLS conns: no payload buffers and no SSL (freed after the handshake:
# tlsrec.c runs the records); what is left is the conn and two keyed cipher
# contexts, about 6 KiB. With the SSL (about 13 KB in OpenSSL 3.0) it was
# 15 KiB; a fixed 64 KiB block per conn was 39 KB.
P=$P1
if [ "$SLOW" -gt 1 ]; then
	skip idle-tls-conn-rss "ASan's shadow and quarantine make RSS meaningless"
elif R0=$(rss "$GW_PID") && hold 400 "$C/ca.pem" 0; then
	sleep 1.5	# a few quiet ticks: the pool and the heap give back the burst
	per=$((($(rss "$GW_PID") - R0) / 400))
	if [ "$per" -le 9 ]; then pass idle-tls-conn-rss
	else fail idle-tls-conn-rss "$per KiB of RSS per idle TLS conn"; fi
	echo "idle-tls-conn-rss: $per KiB per idle TLS conn" >&2
	unhold
else
	fail idle-tls-conn-rss "400 TLS conns did not all open"
	unhold
fi

# Stalled conns hold every ring buffer: others still relay.
log_mark
if hold "$STALLERS" "$C/ca.pem" $((2 * 1024 * 1024)); then
	if log_since_wait "buffer ring empty" $((20 * SLOW)); then pass ring-runs-dry
	else fail ring-runs-dry "no recv found the ring empty with $STALLERS stalled conns"; fi
	check echo-while-ring-dry timeout $((30 * SLOW)) "$PY" "$TMP/echo.py" "$P1" "$C/ca.pem" $((1024 * 1024))
else
	fail ring-runs-dry "$STALLERS stalled conns did not all open"
fi
unhold
check_fds fds-after-stall "$BASE" 10

# The stalled conns' ring buffers came back: no recv finds the ring empty.
log_mark
for i in 1 2 3 4; do
	check echo-after-stall-$i timeout $((30 * SLOW)) "$PY" "$TMP/echo.py" "$P1" "$C/ca.pem" $((256 * 1024))
done
if log_since | grep -q "buffer ring empty"; then fail ring-refilled "the ring is still empty"
else pass ring-refilled; fi
check_clean_exit
if grep -qE "ERROR|AddressSanitizer|runtime error" "$GW_LOG"; then
	fail no-errors-in-log "$(grep -m1 -E 'ERROR|AddressSanitizer|runtime error' "$GW_LOG")"
else pass no-errors-in-log; fi
