#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Self-test of the suite's tools, without the gateway: the fake Milvus
# servers (plain and TLS) answer the real clients (grpcio set up like
# pymilvus, curl as the Milvus document writes it, openssl s_client), and
# the checkers do notice a corrupted reply or a wrong certificate.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
echo "certificates by $CERT_SOURCE" >&2

start_fake grpc grpc || fail grpc-start "fake gRPC server did not start"
G=$FAKE_PORT
start_fake grpcs grpc --tls "$C/server.pem" "$C/server.key" || fail grpcs-start "no TLS fake"
GS=$FAKE_PORT
start_fake rest rest || fail rest-start "fake REST server did not start"
R=$FAKE_PORT
start_fake rests rest --tls "$C/server.pem" "$C/server.key" || fail rests-start "no TLS fake"
RS=$FAKE_PORT
start_fake bad grpc --corrupt || fail bad-start "corrupting fake did not start"
B=$FAKE_PORT

check grpc-plain grpc_call "$G" --mode 0 --count 3 --size 70000 --expect-transport insecure
check grpc-oneway-direct grpc_call "$GS" --mode 1 --server-pem "$C/server.pem" \
	--expect-transport ssl
check grpc-twoway-creds-direct grpc_call "$GS" --mode 2 --ca "$C/ca.pem" \
	--cert "$C/client.pem" --key "$C/client.key" --expect-transport ssl
check grpc-stream-direct grpc_call "$G" --mode 0 --upload 3000000

# The checkers must be able to fail.
check_fails client-detects-corruption "reply 0 differs" grpc_call "$B" --mode 0
check_fails client-checks-server-name "UNAVAILABLE" grpc_call "$GS" --mode 1 \
	--server-pem "$C/server.pem" --server-name wrong.example --timeout 2
check_fails client-checks-transport "upstream transport" grpc_call "$GS" --mode 1 \
	--server-pem "$C/server.pem" --expect-transport insecure

body=$TMP/list.json
if curl -sS -o "$body" "http://127.0.0.1:$R/v2/vectordb/collections/list" &&
	expect_json_list "$body"; then
	pass rest-plain
else
	fail rest-plain "curl/collections list: $(head -c 200 "$body" 2>/dev/null)"
fi
hdr=$TMP/h
if curl -sS --max-time 5 -D "$hdr" -o "$body" --cacert "$C/ca.pem" \
	"https://localhost:$RS/v2/vectordb/collections/list" && expect_json_list "$body" &&
	grep -qi '^X-Fake-SNI: localhost' "$hdr"; then
	pass rest-tls-direct-sni
else
	fail rest-tls-direct-sni "curl over TLS to the fake: $(tr -d '\r' <"$hdr" 2>/dev/null | head -3)"
fi
up=$(head -c 5000000 /dev/urandom | tee "$TMP/up.bin" | curl -sS --max-time 10 \
	-H 'Content-Type: application/octet-stream' --data-binary @- "http://127.0.0.1:$R/fake/upload")
want=$(sha256sum <"$TMP/up.bin" | cut -d' ' -f1)
if grep -q "\"sha256\": \"$want\"" <<<"$up"; then
	pass rest-upload-direct
else
	fail rest-upload-direct "fake saw $up, sent $want"
fi
got=$(curl -sS --max-time 10 -D "$hdr" "http://127.0.0.1:$R/fake/download?bytes=3000000&seed=5" |
	sha256sum | cut -d' ' -f1)
want=$("$PY" -c 'import hashlib, random
print(hashlib.sha256(random.Random(5).randbytes(3000000)).hexdigest())')
if [ "$got" = "$want" ] && grep -qi "X-Content-SHA256: $want" "$hdr"; then
	pass rest-download-direct
else
	fail rest-download-direct "got sha256 $got, expected $want"
fi

out=$(s_client "$GS" -CAfile "$C/ca.pem" -alpn h2)
if grep -q "Verify return code: 0 (ok)" <<<"$out" && grep -q "ALPN protocol: h2" <<<"$out"; then
	pass s_client-direct
else
	fail s_client-direct "$(grep -E 'ALPN|Verify return' <<<"$out")"
fi
exit 0
