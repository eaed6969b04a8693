#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Revocation in tlsMode 2: with tls.crlPemPath, a client certificate listed in
# the CRL is refused and the log says "revoked"; one that is not listed
# works. A new CRL (atomic rename, no SIGHUP) is reloaded like the
# certificates: the next revocation applies without a restart.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
openssl_leaf "$C" revoked localhost 3650 clientAuth &&
	openssl_leaf "$C" later localhost 3650 clientAuth ||
	{ fail certs "cannot make the client certificates"; exit 0; }

# A minimal `openssl ca` database to revoke with and to sign CRLs.
D=$TMP/ca-db
mkdir -p "$D"
: >"$D/index.txt"
echo 01 >"$D/crlnumber"
printf '%s\n' "[ca]" "default_ca = db" "[db]" "database = $D/index.txt" \
	"crlnumber = $D/crlnumber" "default_md = sha256" "default_crl_days = 30" \
	"certificate = $C/ca.pem" "private_key = $C/ca.key" >"$D/ca.cnf"
# crl_with CERT...: revokes each CERT and writes a new CRL to $D/new.pem.
crl_with() {
	local f
	for f in "$@"; do
		openssl ca -config "$D/ca.cnf" -revoke "$f" >>"$D/ca.log" 2>&1 || return 1
	done
	openssl ca -config "$D/ca.cnf" -gencrl -out "$D/new.pem" >>"$D/ca.log" 2>&1
}
crl_with "$C/revoked.pem" && mv "$D/new.pem" "$C/crl.pem" ||
	{ fail crl "openssl ca: $(tail -n 1 "$D/ca.log")"; exit 0; }

start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P=$(free_port)
write_config "$TMP/gw.yaml" "$C" 2 false "$(listener mtls "$P" "$R")" "  reloadDebounce: 100ms"
# tls.crlPemPath goes in the tls: section, after its caPemPath.
awk -v crl="$C/crl.pem" '{ print } /^  caPemPath:/ && !done { print "  crlPemPath: " crl; done = 1 }' \
	"$TMP/gw.yaml" >"$TMP/gw.yaml.new" && mv "$TMP/gw.yaml.new" "$TMP/gw.yaml"
gateway_or_exit "$TMP/gw.yaml" "$P"

URL=https://localhost:$P/v2/vectordb/collections/list
# as NAME: one request with client certificate NAME.{pem,key}.
as() { curl -sS --max-time 10 --cacert "$C/ca.pem" --cert "$C/$1.pem" --key "$C/$1.key" "$URL"; }

check unrevoked-client-works as client
log_mark
if out=$(as revoked 2>&1); then
	fail revoked-client-refused "the gateway accepted it: $(head -c 100 <<<"$out")"
elif log_since_wait 'handshake refused: revoked' 3; then
	pass revoked-client-refused
	log_since | grep -m 1 revoked | sed 's/^/crl: log: /' >&2
else
	fail revoked-client-refused "refused, but no 'revoked' log line: $(log_since | tail -n 1)"
fi

# Revoke "later" too: the new CRL replaces the old one by rename.
crl_with "$C/later.pem" || { fail crl-reload "openssl ca: $(tail -n 1 "$D/ca.log")"; exit 0; }
check later-works-before-new-crl as later
# Twice more: of three connections over two workers, one at least meets a
# worker that verified "later" already, so its verified-certificate cache
# answers; the reload below must not carry that over.
check later-works-again-before-new-crl as later
check later-works-third-before-new-crl as later
log_mark
mv "$D/new.pem" "$C/crl.pem"
log_since_wait 'reload \(file changed: .*crl.pem\): new certificates' 5 >/dev/null
log_mark
if out=$(as later 2>&1); then
	fail crl-reloaded-revokes-later "still accepted after the new CRL: $(head -c 100 <<<"$out")"
elif log_since_wait 'handshake refused: revoked' 3; then
	pass crl-reloaded-revokes-later
else
	fail crl-reloaded-revokes-later "refused, but no 'revoked' log line: $(log_since | tail -n 1)"
fi
check unrevoked-client-still-works as client
check_clean_exit
exit 0
