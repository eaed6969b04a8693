#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gRPC through the gateway in tlsMode 0, 1 and 2 (one listener each, in
# front of the fake Milvus gRPC server), with a grpcio client set up the way
# pymilvus sets itself up, and openssl s_client for ALPN/version/verify.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake grpc grpc || { fail fake-start "fake gRPC server did not start"; exit 0; }
G=$FAKE_PORT
P0=$(free_port) P1=$(free_port) P2=$(free_port)
L="$(listener grpc0 "$P0" "$G" 'tlsMode: 0')
$(listener grpc1 "$P1" "$G" 'tlsMode: 1')
$(listener grpc2 "$P2" "$G" 'tlsMode: 2')"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P0" "$P1" "$P2"

ONEWAY=(--mode 1 --server-pem "$C/server.pem" --server-name localhost)
TWOWAY=(--mode 2 --ca "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key"
	--server-name localhost)

check mode0-plain grpc_call "$P0" --mode 0 --count 5 --size 1000 --expect-transport insecure
check mode1-pymilvus-oneway grpc_call "$P1" "${ONEWAY[@]}" --count 20 --size 4096 \
	--expect-transport insecure
check mode1-large-messages grpc_call "$P1" "${ONEWAY[@]}" --count 4 --size 3000000
check mode1-many-methods grpc_call "$P1" "${ONEWAY[@]}" --method DescribeCollection --count 50
check mode2-pymilvus-twoway grpc_call "$P2" "${TWOWAY[@]}" --count 20 --size 4096
check mode2-stream-up grpc_call "$P2" "${TWOWAY[@]}" --upload 4000000
check mode2-stream-down grpc_call "$P2" "${TWOWAY[@]}" --download 4000000
check_fails mode2-oneway-client-refused "UNAVAILABLE" \
	grpc_call "$P2" "${ONEWAY[@]}" --timeout 2
check_fails mode1-wrong-server-name "UNAVAILABLE" \
	grpc_call "$P1" --mode 1 --server-pem "$C/server.pem" --server-name not-the-cn.example \
	--timeout 2

check_s_client mode1-s_client-h2 "$P1" \
	'ALPN protocol: h2;Verify return code: 0 \(ok\);^New, TLSv1\.3,' -CAfile "$C/ca.pem" -alpn h2
check_s_client mode1-allows-tls12 "$P1" \
	'^New, TLSv1\.2,;Verify return code: 0 \(ok\);ALPN protocol: h2' \
	-CAfile "$C/ca.pem" -alpn h2 -tls1_2
check_s_client default-alpn-prefers-http11 "$P1" 'ALPN protocol: http/1\.1' \
	-CAfile "$C/ca.pem" -alpn h2,http/1.1
check_s_client mode2-s_client-h2 "$P2" \
	'ALPN protocol: h2;Verify return code: 0 \(ok\);^New, TLSv1\.3,' \
	-CAfile "$C/ca.pem" -cert "$C/client.pem" -key "$C/client.key" -alpn h2
check_s_client mode1-no-client-cert-request "$P1" '!^Requested Signature Algorithms;^New, ' \
	-CAfile "$C/ca.pem" -alpn h2
check_s_client mode2-requests-client-cert "$P2" '^Requested Signature Algorithms' \
	-CAfile "$C/ca.pem" -cert "$C/client.pem" -key "$C/client.key" -alpn h2

if gw_alive; then pass still-up; else fail still-up "gateway died"; fi
check_clean_exit
exit 0
