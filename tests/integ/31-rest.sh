#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# RESTful API through the gateway in tlsMode 0, 1 and 2 (one listener each,
# in front of the fake Milvus REST server), with curl exactly as the Milvus
# document writes it, and openssl s_client for ALPN/version/verify.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P0=$(free_port) P1=$(free_port) P2=$(free_port)
L="$(listener rest0 "$P0" "$R" 'tlsMode: 0')
$(listener rest1 "$P1" "$R" 'tlsMode: 1')
$(listener rest2 "$P2" "$R" 'tlsMode: 2')"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P0" "$P1" "$P2"

LIST=/v2/vectordb/collections/list
B=$TMP/body

# curl_json CASE CURL-ARGS...: curl must succeed with HTTP 200 over HTTP/1.1
# and the body must be Milvus's collections/list answer.
curl_json() {
	local c=$1 out
	shift
	rm -f "$B"
	out=$(curl -sS --max-time 10 -o "$B" -w '%{http_code} %{http_version}' "$@" 2>&1)
	if [ "$out" = "200 1.1" ] && expect_json_list "$B" 2>/dev/null; then
		pass "$c"
	else
		fail "$c" "curl: '$out', body: $(head -c 200 "$B" 2>/dev/null)"
	fi
}

curl_json mode0-curl "http://localhost:$P0$LIST"
# The document's one-way command, verbatim apart from the paths and port.
curl_json mode1-curl-doc --cacert "$C/ca.pem" "https://localhost:$P1$LIST"
curl_json mode1-curl-post --cacert "$C/ca.pem" -X POST \
	-H 'Content-Type: application/json' -d '{"dbName": "default"}' "https://localhost:$P1$LIST"
curl_json mode1-curl-tls12 --cacert "$C/ca.pem" --tlsv1.2 --tls-max 1.2 \
	"https://localhost:$P1$LIST"
# The document's two-way command.
curl_json mode2-curl-doc --cert "$C/client.pem" --key "$C/client.key" \
	--cacert "$C/ca.pem" "https://localhost:$P2$LIST"

# Keep-alive: two requests on one TLS connection, both answered.
out=$(curl -sS --max-time 10 --cacert "$C/ca.pem" -w '%{http_code}:%{num_connects} ' \
	-o /dev/null "https://localhost:$P1$LIST" -o "$B" "https://localhost:$P1$LIST" 2>&1)
if [ "$out" = "200:1 200:0 " ] && expect_json_list "$B" 2>/dev/null; then
	pass mode1-keepalive
else
	fail mode1-keepalive "expected '200:1 200:0' (second request on the same connection), got '$out'"
fi

check_fails mode2-curl-without-cert "(alert|certificate|reset|closed|SSL_ERROR_SYSCALL|eof)" \
	curl -sS --max-time 10 --cacert "$C/ca.pem" "https://localhost:$P2$LIST"
mkdir -p "$TMP/other" && openssl_ca "$TMP/other" "some other CA"
check_fails mode1-curl-other-ca "(certificate|verify|issuer)" \
	curl -sS --max-time 10 --cacert "$TMP/other/ca.pem" "https://localhost:$P1$LIST"

check_s_client mode1-s_client "$P1" \
	'ALPN protocol: http/1\.1;Verify return code: 0 \(ok\);^New, TLSv1\.3,' \
	-CAfile "$C/ca.pem" -alpn h2,http/1.1
check_s_client mode2-s_client "$P2" \
	'ALPN protocol: http/1\.1;Verify return code: 0 \(ok\);^New, TLSv1\.3,' \
	-CAfile "$C/ca.pem" -cert "$C/client.pem" -key "$C/client.key" -alpn http/1.1

if gw_alive; then pass still-up; else fail still-up "gateway died"; fi
check_clean_exit
exit 0
