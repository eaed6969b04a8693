#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The userspace record path (tlsrec.c, without kTLS): after the handshake the
# gateway frees the SSL and runs the records itself. TLS 1.2 and 1.3 x the
# three AEADs relay N bytes each way with equal SHA-256 and close_notify both
# ways (mode 1, mode 2, internal TLS on both sides); a client KeyUpdate with
# update_requested mid-stream keeps data flowing and is answered; a tampered
# record gets a bad_record_mac alert and the conn closes; a CBC suite stays
# on OpenSSL and says why. The access lines say which path each conn took.
. "$(dirname "$0")/lib.sh"

PEER=$BUILD/tests/vm_gw_peer
[ -x "$PEER" ] || PEER=$ROOT/build/tests/vm_gw_peer	# the SAN build has no VM peer
[ -x "$PEER" ] || { skip all "no vm_gw_peer: run 'make check-tests'"; exit 0; }
BYTES=$((4 * 1024 * 1024))

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
UP=$(free_port) TUP=$(free_port) P1=$(free_port) P2=$(free_port) PI=$(free_port)
"$PEER" echo --port "$UP" >"$TMP/echo.log" 2>&1 &
track_pid $!
"$PEER" tls-echo --port "$TUP" --cert "$C/server.pem" --key "$C/server.key" >"$TMP/techo.log" 2>&1 &
track_pid $!
wait_port "$UP" 5 && wait_port "$TUP" 5 || { fail peers "echo upstreams did not start"; exit 0; }
L="$(listener m1 "$P1" "$UP" 'minVersion: "1.2"')
$(listener m2 "$P2" "$UP" 'tlsMode: 2' 'minVersion: "1.2"')
$(listener it "$PI" "$TUP" 'internaltlsEnabled: true' 'minVersion: "1.2"')"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  ktls: off"
sed -i 's/^  logLevel: info$/  logLevel: debug/' "$TMP/gw.yaml"
gateway_or_exit "$TMP/gw.yaml" "$P1" "$P2" "$PI"

# last_access LST: the newest access line of listener LST (after the conn ended).
last_access() {
	local i
	for ((i = 0; i < 30; i++)); do
		log_since | grep -q "lst=$1 access " && break
		sleep 0.1
	done
	log_since | grep "lst=$1 access " | tail -n 1
}

# peer CASE PORT PATH ARGS...: every RESULT line ok, and the access line
# has path=PATH.
peer() {
	local name=$1 port=$2 path=$3 out bad line lst
	shift 3
	log_mark
	out=$(timeout $((60 * SLOW)) "$PEER" client --cell "$name" --port "$port" --ca "$C/ca.pem" \
		--bytes "$BYTES" "$@" 2>&1)
	bad=$(grep '^RESULT' <<<"$out" | grep -v ' ok ')
	if [ -n "$bad" ] || ! grep -q '^RESULT' <<<"$out"; then
		fail "$name" "${bad:-$(tail -n 1 <<<"$out")}"
		return 1
	fi
	case $port in "$P1") lst=m1 ;; "$P2") lst=m2 ;; *) lst=it ;; esac
	line=$(last_access $lst)
	if ! grep -q "c2u=$BYTES u2c=$BYTES .*path=$path[ ]" <<<"$line"; then
		fail "$name" "access line lacks c2u=u2c=$BYTES and path=$path: $line"
		return 1
	fi
	pass "$name"
	grep '^RESULT' <<<"$out" | sed 's/^RESULT //' >&2
}

MTLS=(--cert "$C/client.pem" --key "$C/client.key")
for v in 1.2 1.3; do
	for c in aes128gcm aes256gcm chacha20; do
		peer "m1-tls${v/./}-$c" "$P1" records --tls $v --cipher $c
		peer "it-tls${v/./}-$c" "$PI" records --tls $v --cipher $c
	done
	peer "m2-tls${v/./}-aes128gcm" "$P2" records --tls $v --cipher aes128gcm "${MTLS[@]}"
done
# Both sides ran on tlsrec: no rec= refusal on any of those lines.
if log_since | grep -q 'lst=it access .*rec='; then fail no-refusal "$(log_since | grep -m1 'rec=')"
else pass no-refusal; fi

# A KeyUpdate with update_requested halfway, then the rest, then close_notify.
peer m1-tls13-rekey "$P1" records --tls 1.3 --cipher aes128gcm --mode rekey
if log_since | grep -q "tlsrec: client side: KeyUpdate (ours requested)"; then pass rekey-logged
else fail rekey-logged "no debug line for the client's KeyUpdate"; fi
peer it-tls13-rekey "$PI" records --tls 1.3 --cipher chacha20 --mode rekey

cat >"$TMP/tamper.py" <<'PYEOF'
import socket, ssl, sys, time
# tamper.py PORT CA VERSION: handshake and one echo over memory BIOs, then a
# record with one ciphertext bit flipped; prints what the gateway answered.
port, ca, ver = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if ver == '1.2':
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname='localhost')
s = socket.create_connection(('127.0.0.1', port), timeout=10)
def flush():
    d = out.read()
    if d: s.sendall(d)
def feed():
    b = s.recv(65536)
    if not b: raise EOFError()
    inc.write(b)
while True:
    try:
        obj.do_handshake(); break
    except ssl.SSLWantReadError:
        flush(); feed()
flush()
obj.write(b'hello'); flush()
got = b''
while len(got) < 5:
    try: got += obj.read(5 - len(got))
    except ssl.SSLWantReadError: feed()
if got != b'hello': sys.exit('echo differs: %r' % got)
obj.write(b'x' * 100)
rec = bytearray(out.read())
rec[len(rec) - 30] ^= 1		# a ciphertext byte, before the tag
s.sendall(rec)
answer = 'nothing'
try:
    while True:
        try: obj.read(1024)
        except ssl.SSLWantReadError: feed()
except ssl.SSLError as e:
    answer = 'alert: ' + str(e)
except EOFError:
    answer = 'EOF without alert'
closed = False
try:
    closed = s.recv(1024) == b''
except ConnectionResetError:
    closed = True
print('%s; then %s' % (answer, 'closed' if closed else 'still open'))
sys.exit(0 if 'BAD_RECORD_MAC' in answer.upper() and closed else 1)
PYEOF
for v in 1.2 1.3; do
	log_mark
	if check "tamper-tls${v/./}-alert-and-close" timeout $((20 * SLOW)) "$PY" "$TMP/tamper.py" "$P1" "$C/ca.pem" $v; then
		line=$(last_access m1)
		if grep -q 'end="bad TLS record"' <<<"$line"; then pass "tamper-tls${v/./}-access-end"
		else fail "tamper-tls${v/./}-access-end" "access line: $line"; fi
	fi
done

# A CBC suite: tlsrec refuses it, the side stays on OpenSSL, the data flows.
cat >"$TMP/cbc.py" <<'PYEOF'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers('ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10),
                    server_hostname='localhost')
data = b'cbc' * 30000
s.sendall(data); got = b''
while len(got) < len(data):
    b = s.recv(65536)
    if not b: break
    got += b
print(s.cipher()[0], len(got))
sys.exit(0 if got == data else 1)
PYEOF
log_mark
if check cbc-relays-on-openssl timeout $((20 * SLOW)) "$PY" "$TMP/cbc.py" "$P1" "$C/ca.pem"; then
	line=$(last_access m1)
	if grep -q 'path=userspace .*rec="client: cipher not offloadable"' <<<"$line"
	then pass cbc-access-line-says-why; else fail cbc-access-line-says-why "access line: $line"; fi
fi

check_clean_exit
if grep -qE "ERROR|AddressSanitizer|runtime error" "$GW_LOG"; then
	fail no-errors-in-log "$(grep -m1 -E 'ERROR|AddressSanitizer|runtime error' "$GW_LOG")"
else pass no-errors-in-log; fi
