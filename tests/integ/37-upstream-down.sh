#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Upstream down: with the fake Milvus stopped (connection refused) or not
# answering SYNs (connect timeout), clients are closed well within 3 s, the
# gateway stays up, and it serves again once the fakes are back on their
# ports. Ends with the gateway's fd count back to its baseline.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
U=$(free_port) UG=$(free_port)
start_fake rest rest --port "$U" || { fail fake-start "fake REST server did not start"; exit 0; }
REST_PID=$FAKE_PID
start_fake grpc grpc --port "$UG" || { fail fake-start "fake gRPC server did not start"; exit 0; }
GRPC_PID=$FAKE_PID
start_fake hole blackhole || { fail fake-start "blackhole did not start"; exit 0; }
H=$FAKE_PORT

P1=$(free_port) P0=$(free_port) PG=$(free_port) PH=$(free_port)
L="$(listener rest1 "$P1" "$U")
$(listener rest0 "$P0" "$U" 'tlsMode: 0')
$(listener grpc "$PG" "$UG")
$(listener hole "$PH" "$H")"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P1" "$P0" "$PG" "$PH"

LIST=/v2/vectordb/collections/list
# serves PREFIX: curl on both REST listeners and the grpc client all work.
serves() {
	local c=$1
	check "$c-rest-mode1" curl -sSf --max-time 5 --cacert "$C/ca.pem" -o /dev/null \
		"https://localhost:$P1$LIST"
	check "$c-rest-mode0" curl -sSf --max-time 5 -o /dev/null "http://localhost:$P0$LIST"
	check "$c-grpc" grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" --timeout 5
}

# A TLS client that sends nothing after its handshake: only the gateway can
# end it; PASS when it does within 3 s.
idle_tls() {
	check "$1" "$PY" "$FAKES/badclient.py" tls-idle "$2" --cafile "$C/ca.pem" --within 3
}

serves up
sleep 0.3
BASE=$(fd_count "$GW_PID")

kill_wait "$REST_PID" 5
kill_wait "$GRPC_PID" 5
if ! wait_port_closed "$U" 5 || ! wait_port_closed "$UG" 5; then
	fail stop-fakes "the stopped fakes still listen"
fi
log_mark
idle_tls down-tls-client-closed "$P1"
check down-plain-client-closed "$PY" "$FAKES/badclient.py" silent "$P0" --within 3
# grpcio keeps reconnecting until its deadline (as pymilvus does), so only
# the status is checked here; the TLS cases above time the close.
check_fails down-grpc-unavailable "UNAVAILABLE" grpc_call "$PG" --mode 1 \
	--server-pem "$C/server.pem" --timeout 2
check_fails down-curl-error "empty reply|reset|closed|recv failure|SSL_ERROR_SYSCALL|eof" \
	curl -sS --max-time 3 --cacert "$C/ca.pem" "https://localhost:$P1$LIST"
if log_since_wait 'refused|unreachable|upstream.*(fail|error|down)|(fail|error).*upstream' 3; then
	pass down-logged
else
	fail down-logged "no log line about the failed upstream connect"
	log_since | tail -n 5 >&2
fi
# The SYN goes unanswered: gateway.connectTimeout (1s) must end it.
idle_tls blackhole-connect-timeout "$PH"
if gw_alive; then pass survives-upstream-down; else fail survives-upstream-down "gateway died"; fi

start_fake rest rest --port "$U" || fail restart-fakes "fake REST did not restart"
start_fake grpc grpc --port "$UG" || fail restart-fakes "fake gRPC did not restart"
serves back

check_fds fds-back-to-baseline "$BASE" 5
check_clean_exit
exit 0
