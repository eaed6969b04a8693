#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tlsMode 2 refusals: each bad client (no certificate, unknown CA, expired,
# serverAuth-only as the documented gen.sh makes it, TLS 1.2, no shared
# cipher) must be refused, and the gateway log must give the reason.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
BAD=$TMP/bad
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
make_bad_certs "$BAD" "$C" || { fail certs "cannot make the bad certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
start_fake grpc grpc || { fail fake-start "fake gRPC server did not start"; exit 0; }
G=$FAKE_PORT
P=$(free_port) PG=$(free_port)
L="$(listener mtls "$P" "$R")
$(listener mtls-grpc "$PG" "$G")"
write_config "$TMP/gw.yaml" "$C" 2 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P" "$PG"

URL=https://localhost:$P/v2/vectordb/collections/list
CA=(--cacert "$C/ca.pem")

# refused CASE LOG_REGEX CURL_ARGS...: curl must fail and, within 3 s, a new
# gateway log line must match LOG_REGEX (case-insensitive).
refused() {
	local c=$1 pat=$2 out rc
	shift 2
	log_mark
	out=$(curl -sS --max-time 10 "$@" "$URL" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		fail "$c" "the gateway accepted it: $(head -c 120 <<<"$out")"
	elif ! log_since_wait "$pat" 3; then
		fail "$c" "refused (curl: $(tail -n 1 <<<"$out")), but no log line matches /$pat/"
		log_since | tail -n 8 >&2
	elif ! gw_alive; then
		fail "$c" "the gateway died"
	else
		pass "$c"
		log_since | grep -iE -- "$pat" | head -n 2 | sed "s/^/$c: log: /" >&2
	fi
}

sleep 0.2
BASE=$(fd_count "$GW_PID")
check good-client-cert curl -sSf --max-time 10 --cert "$C/client.pem" --key "$C/client.key" \
	"${CA[@]}" "$URL"

refused no-client-cert \
	'no (client )?cert|did not return a certificate|certificate required|without a (client )?cert' \
	"${CA[@]}"
refused unknown-ca \
	'unknown ca|unable to get (local )?issuer|untrusted|not trusted|unknown (certificate )?authority' \
	--cert "$BAD/other/client.pem" --key "$BAD/other/client.key" "${CA[@]}"
refused expired-cert 'expired' --cert "$BAD/expired.pem" --key "$BAD/expired.key" "${CA[@]}"
# The documented gen.sh gives the client certificate extendedKeyUsage =
# serverAuth only: the log line must say so and point to `ktlsgw cert gen`.
EKU='(clientAuth|serverAuth|purpose)'
refused serverauth-only-cert "$EKU.*ktlsgw cert gen|ktlsgw cert gen.*$EKU" \
	--cert "$BAD/srvonly.pem" --key "$BAD/srvonly.key" "${CA[@]}"
refused tls12-on-mode2 '(protocol|tls) ?version|unsupported protocol' --tlsv1.2 --tls-max 1.2 \
	--cert "$C/client.pem" --key "$C/client.key" "${CA[@]}"
refused no-shared-cipher 'no shared cipher|no (common|matching) cipher' \
	--tls13-ciphers TLS_AES_128_CCM_8_SHA256 --cert "$C/client.pem" --key "$C/client.key" \
	"${CA[@]}"

# The same refusal seen by a pymilvus-style client with gen.sh certificates.
check_fails grpc-serverauth-only-refused "UNAVAILABLE" grpc_call "$PG" --mode 2 \
	--ca "$C/ca.pem" --cert "$BAD/srvonly.pem" --key "$BAD/srvonly.key" --timeout 3
check grpc-twoway-good grpc_call "$PG" --mode 2 --ca "$C/ca.pem" --cert "$C/client.pem" \
	--key "$C/client.key"

check good-client-cert-after curl -sSf --max-time 10 --cert "$C/client.pem" \
	--key "$C/client.key" "${CA[@]}" "$URL"
check_fds fds-back-to-baseline "$BASE" 5
check_clean_exit
exit 0
