#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input costs one connection, never the process: random bytes, bogus TLS
# records, plaintext HTTP (answered "HTTP/1.1 400" naming TLS), truncated and
# slow ClientHellos and silence (closed by gateway.handshakeTimeout = 2s),
# resets mid-stream, and 300 idle connections while a good client is still
# served within 2 s. Ends with the gateway's fd count back to its baseline.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P=$(free_port)
write_config "$TMP/gw.yaml" "$C" 1 false "$(listener rest "$P" "$R")" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P"

URL=https://localhost:$P/v2/vectordb/collections/list
GOOD=(curl -sSf --max-time 5 --cacert "$C/ca.pem" -o /dev/null "$URL")
BAD=(timeout -k 2 30 "$PY" "$FAKES/badclient.py")

"${GOOD[@]}" || echo "warm-up request failed" >&2
sleep 0.3
BASE=$(fd_count "$GW_PID")

check garbage "${BAD[@]}" garbage "$P" --within 3
check garbage-records-50 "${BAD[@]}" garbage-records "$P" -n 50 --within 4
check plain-http-400 "${BAD[@]}" plain-http "$P" --within 3
out=$(curl -sS --max-time 5 -w '\n%{http_code}' "http://localhost:$P/v2/vectordb/collections/list" \
	2>&1)
if [ "$(tail -n 1 <<<"$out")" = 400 ] && grep -qi tls <<<"$out"; then
	pass curl-plain-http-400
else
	fail curl-plain-http-400 "curl over plain HTTP got: $(tr '\n' ' ' <<<"$out" | head -c 160)"
fi
check truncated-hello-fin "${BAD[@]}" truncated-hello "$P" --fin --within 3
check truncated-hello-timeout "${BAD[@]}" truncated-hello "$P" --within 4 --at-least 1.5
check silent-handshake-timeout "${BAD[@]}" silent "$P" --within 4 --at-least 1.5
check slowloris-handshake-timeout "${BAD[@]}" slowloris "$P" --interval 0.3 --within 4.5 \
	--at-least 1.5
check reset-midstream "${BAD[@]}" reset-midstream "$P" --cafile "$C/ca.pem"
check good-after-reset "${GOOD[@]}"
log_mark
check idle-300-good-client-2s "${BAD[@]}" idle-many "$P" -n 300 --within 2 --then-closed 5 \
	--cmd "curl -sSf --max-time 5 --cacert $C/ca.pem -o /dev/null $URL"

# 300 connections closed for the same reason: the log lines they cause are
# rate-limited (access lines, one per connection by design, not counted).
n=$(log_since | grep -vc ' access ')
if [ "$n" -lt 100 ]; then
	pass log-rate-limited
	echo "log-rate-limited: $n non-access log lines for 300 idle connections" >&2
else
	fail log-rate-limited "$n non-access log lines for 300 idle connections"
fi
if gw_alive; then pass still-up; else fail still-up "gateway died"; fi
check good-after-all "${GOOD[@]}"
check_fds fds-back-to-baseline "$BASE" 5
check_clean_exit
exit 0
