#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Internal TLS (common.security.internaltlsEnabled): the upstream leg is TLS
# to fake Milvus servers that serve TLS themselves. With internaltls.sni =
# the upstream certificate's name it works (the fake sees that SNI); with a
# wrong SNI the gateway must refuse the upstream and close the client.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake grpcs grpc --tls "$C/server.pem" "$C/server.key" ||
	{ fail fake-start "TLS fake gRPC server did not start"; exit 0; }
GS=$FAKE_PORT
start_fake rests rest --tls "$C/server.pem" "$C/server.key" ||
	{ fail fake-start "TLS fake REST server did not start"; exit 0; }
RS=$FAKE_PORT
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT

PG=$(free_port) PR=$(free_port) PR2=$(free_port) PP=$(free_port)
L="$(listener grpc "$PG" "$GS")
$(listener rest "$PR" "$RS")
$(listener rest-mtls "$PR2" "$RS" 'tlsMode: 2')
$(listener rest-plainup "$PP" "$R" 'internaltlsEnabled: false')"
write_config "$TMP/gw.yaml" "$C" 1 true "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$PG" "$PR" "$PR2" "$PP"

# The document's way to check internal TLS is on: this line in the log.
if log_wait 'Internal TLS Enabled.*value=true' 2; then
	pass log-internal-tls-enabled
else
	fail log-internal-tls-enabled "no log line with 'Internal TLS Enabled' and 'value=true'"
	head -n 10 "$GW_LOG" >&2
fi

LIST=/v2/vectordb/collections/list
B=$TMP/body H=$TMP/head

# curl_upstream CASE WANT_TRANSPORT WANT_SNI CURL-ARGS...: JSON answer, and
# the fake's headers say which transport (and SNI) the gateway used.
curl_upstream() {
	local c=$1 tr=$2 sni=$3 out
	shift 3
	rm -f "$B" "$H"
	out=$(curl -sS --max-time 10 -D "$H" -o "$B" -w '%{http_code}' "$@" 2>&1)
	if [ "$out" != 200 ] || ! expect_json_list "$B" 2>/dev/null; then
		fail "$c" "curl: '$out', body: $(head -c 200 "$B" 2>/dev/null)"
	elif ! grep -qi "^X-Fake-Transport: $tr" "$H"; then
		fail "$c" "upstream leg: $(grep -i '^X-Fake-Transport' "$H" | tr -d '\r'), want $tr"
	elif [ -n "$sni" ] && ! grep -qi "^X-Fake-SNI: $sni" "$H"; then
		fail "$c" "SNI seen upstream: $(grep -i '^X-Fake-SNI' "$H" | tr -d '\r'), want $sni"
	else
		pass "$c"
	fi
}

check grpc-internal-tls grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" --count 10 \
	--expect-transport ssl
check grpc-internal-tls-stream-up grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" \
	--upload 8000000 --expect-transport ssl
check grpc-internal-tls-stream-down grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" \
	--download 8000000
curl_upstream rest-internal-tls-sni ssl localhost --cacert "$C/ca.pem" "https://localhost:$PR$LIST"
curl_upstream rest-mtls-internal-tls ssl localhost --cert "$C/client.pem" \
	--key "$C/client.key" --cacert "$C/ca.pem" "https://localhost:$PR2$LIST"
curl_upstream listener-override-plain-upstream insecure "" --cacert "$C/ca.pem" \
	"https://localhost:$PP$LIST"
check_clean_exit

# Same, with an SNI the upstream certificate does not carry.
sed 's/^  sni: localhost$/  sni: wrong.example/' "$TMP/gw.yaml" >"$TMP/gw-wrong.yaml"
grep -q 'sni: wrong.example' "$TMP/gw-wrong.yaml" || fail wrong-sni-config "sed found no sni"
gateway_or_exit "$TMP/gw-wrong.yaml" "$PG" "$PR" "$PR2" "$PP"
sleep 0.2
BASE=$(fd_count "$GW_PID")
log_mark
check_fails wrong-sni-grpc-refused "UNAVAILABLE|closed|reset" grpc_call "$PG" --mode 1 \
	--server-pem "$C/server.pem" --timeout 3
check_fails wrong-sni-curl-refused "empty reply|reset|closed|recv failure|SSL_ERROR_SYSCALL|eof" \
	curl -sS --max-time 10 --cacert "$C/ca.pem" "https://localhost:$PR$LIST"
if log_since_wait 'wrong\.example|host ?name|mismatch|sni' 3; then
	pass wrong-sni-logged
	log_since | grep -iE 'wrong\.example|host ?name|mismatch|sni' | head -n 2 >&2
else
	fail wrong-sni-logged "no log line names the upstream name check failure"
	log_since | tail -n 8 >&2
fi
curl_upstream wrong-sni-plain-listener-unaffected insecure "" --cacert "$C/ca.pem" \
	"https://localhost:$PP$LIST"
check_fds wrong-sni-fds-back-to-baseline "$BASE" 5
check_clean_exit
exit 0
