#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One TLS port for both Milvus APIs: a listener routes by ALPN (h2 -> the
# fake gRPC server, http/1.1 -> the fake REST server), so the pymilvus-style
# grpc client and the document's curl both work on the same port.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
start_fake grpc grpc || { fail fake-start "fake gRPC server did not start"; exit 0; }
G=$FAKE_PORT
P=$(free_port) P2=$(free_port)
L="$(listener both "$P" "$R" \
	"alpnUpstreams: {h2: 127.0.0.1:$G, http/1.1: 127.0.0.1:$R}")
$(listener both-mtls "$P2" "$R" 'tlsMode: 2' 'alpn: [h2, http/1.1]' \
	"alpnUpstreams: {h2: 127.0.0.1:$G, http/1.1: 127.0.0.1:$R}")"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P" "$P2"

LIST=/v2/vectordb/collections/list
B=$TMP/body

check grpc-on-shared-port grpc_call "$P" --mode 1 --server-pem "$C/server.pem" \
	--count 10 --size 2000
rm -f "$B"
out=$(curl -sS --max-time 10 --cacert "$C/ca.pem" -o "$B" -w '%{http_code} %{http_version}' \
	"https://localhost:$P$LIST" 2>&1)
if [ "$out" = "200 1.1" ] && expect_json_list "$B" 2>/dev/null; then
	pass curl-on-shared-port
else
	fail curl-on-shared-port "curl: '$out', body: $(head -c 200 "$B" 2>/dev/null)"
fi
# Both at once: gRPC streaming while curl asks, on the same port.
grpc_call "$P" --mode 1 --server-pem "$C/server.pem" --upload 20000000 >"$TMP/g.out" 2>&1 &
gp=$!
ok=0
for _ in 1 2 3 4 5; do
	curl -sSf --max-time 10 --cacert "$C/ca.pem" -o "$B" "https://localhost:$P$LIST" &&
		expect_json_list "$B" 2>/dev/null && ok=$((ok + 1))
done
if wait "$gp" && [ $ok -eq 5 ]; then
	pass grpc-and-curl-together
else
	fail grpc-and-curl-together "grpc: $(tail -n 1 "$TMP/g.out"); curl ok $ok/5"
fi

check_s_client alpn-h2-selected "$P" 'ALPN protocol: h2;Verify return code: 0 \(ok\)' \
	-CAfile "$C/ca.pem" -alpn h2
check_s_client alpn-http11-selected "$P" 'ALPN protocol: http/1\.1' \
	-CAfile "$C/ca.pem" -alpn http/1.1
check_s_client alpn-server-preference "$P" 'ALPN protocol: http/1\.1' \
	-CAfile "$C/ca.pem" -alpn h2,http/1.1
check_s_client alpn-configured-order "$P2" 'ALPN protocol: h2' \
	-CAfile "$C/ca.pem" -cert "$C/client.pem" -key "$C/client.key" -alpn http/1.1,h2

# No ALPN at all: the listener's own upstream (REST) answers a raw request.
out=$(printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$LIST" |
	timeout -k 1 10 openssl s_client -connect "127.0.0.1:$P" -servername localhost \
		-CAfile "$C/ca.pem" -quiet -nocommands 2>/dev/null)
if grep -q '^HTTP/1.[01] 200' <<<"$out" && grep -q '"book"' <<<"$out"; then
	pass no-alpn-default-upstream
else
	fail no-alpn-default-upstream "raw HTTP/1.0 without ALPN got: $(head -c 120 <<<"$out")"
fi

check grpc-twoway-shared-port grpc_call "$P2" --mode 2 --ca "$C/ca.pem" \
	--cert "$C/client.pem" --key "$C/client.key"
# This listener prefers h2, so curl offers only http/1.1 (as for Milvus's own port).
out=$(curl -sS --max-time 10 --http1.1 --cert "$C/client.pem" --key "$C/client.key" \
	--cacert "$C/ca.pem" -o "$B" -w '%{http_code} %{http_version}' "https://localhost:$P2$LIST" 2>&1)
if [ "$out" = "200 1.1" ] && expect_json_list "$B" 2>/dev/null; then
	pass curl-twoway-shared-port
else
	fail curl-twoway-shared-port "curl: '$out', body: $(head -c 200 "$B" 2>/dev/null)"
fi
check_clean_exit
exit 0
