#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Upstreams written as host names (a Compose service, a Kubernetes Service).
# The script runs in its own mount namespace with a hosts file bind-mounted
# over /etc/hosts, so the names resolve without DNS and without touching the
# machine's files. Mode 0 and internal TLS reach the upstream by name; with
# no internaltls.sni the upstream certificate must name that host (and it is
# the SNI); an unknown name is a config error naming it.
if [ -z "${NAMES_HOSTS:-}" ]; then
	NAMES_HOSTS=$(mktemp "${TMPDIR:-/tmp}/ktlsgw-hosts.XXXXXX")
	printf '127.0.0.1 localhost\n127.0.0.1 milvus-standalone.test\n127.0.0.1 other-name.test\n' \
		>"$NAMES_HOSTS"
	export NAMES_HOSTS
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m bash -c 'mount --bind "$NAMES_HOSTS" /etc/hosts && exec bash "$0"' "$0"
	rc=$?
	rm -f "$NAMES_HOSTS"
	[ $rc = 0 ] || echo "SKIP integ/21-names/all: cannot bind-mount a hosts file (unshare -m: rc $rc)"
	exit 0
fi
. "$(dirname "$0")/lib.sh"

C=$TMP/cert U=$TMP/upcert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
mkdir -p "$U" && cp "$C"/ca.* "$U"/
# Same CA, a server certificate for milvus-standalone.test only.
if ! "$KTLSGW" cert renew --dir "$U" --cn milvus-standalone.test --san DNS:milvus-standalone.test \
	>"$U/gen.log" 2>&1; then
	fail upstream-cert "ktlsgw cert renew --san: $(tail -n 1 "$U/gen.log")"
	exit 0
fi
start_fake rests rest --tls "$U/server.pem" "$U/server.key" ||
	{ fail fake-start "TLS fake REST server did not start"; exit 0; }
RS=$FAKE_PORT
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT

P0=$(free_port) PT=$(free_port) PW=$(free_port)
cat >"$TMP/gw.yaml" <<EOF
gateway:
  listeners:
    - name: plain
      bind: localhost:$P0
      upstream: milvus-standalone.test:$R
      tlsMode: 0
      internaltlsEnabled: false
    - name: tls-by-name
      bind: 127.0.0.1:$PT
      upstream: milvus-standalone.test:$RS
    - name: tls-wrong-name
      bind: 127.0.0.1:$PW
      upstream: other-name.test:$RS
  workers: 1
  connectTimeout: 1s
tls: {serverPemPath: $C/server.pem, serverKeyPath: $C/server.key, caPemPath: $C/ca.pem}
internaltls: {caPemPath: $C/ca.pem}
common: {security: {tlsMode: 1, internaltlsEnabled: true}}
EOF

out=$("$KTLSGW" check -c "$TMP/gw.yaml" 2>&1)
if grep -q "plain: 127.0.0.1:$P0 -> milvus-standalone.test (127.0.0.1:$R)" <<<"$out"; then
	pass check-prints-name-and-address
else
	fail check-prints-name-and-address "ktlsgw check: $(tr '\n' '|' <<<"$out")"
fi

gateway_or_exit "$TMP/gw.yaml" "$P0" "$PT" "$PW"
LIST=/v2/vectordb/collections/list B=$TMP/body H=$TMP/head

check plain-by-name curl -sSf --max-time 5 -o /dev/null "http://127.0.0.1:$P0$LIST"

rm -f "$B" "$H"
code=$(curl -sS --max-time 10 --cacert "$C/ca.pem" -D "$H" -o "$B" -w '%{http_code}' \
	"https://localhost:$PT$LIST" 2>&1)
if [ "$code" = 200 ] && grep -qi '^X-Fake-SNI: milvus-standalone.test' "$H"; then
	pass internal-tls-verifies-and-sends-the-name
else
	fail internal-tls-verifies-and-sends-the-name "curl: $code, SNI: $(grep -i '^X-Fake-SNI' "$H" |
		tr -d '\r')"
fi

# The same upstream reached as other-name.test: its certificate does not name it.
log_mark
code=$(curl -sS --max-time 10 --cacert "$C/ca.pem" -o /dev/null -w '%{http_code}' \
	"https://localhost:$PW$LIST" 2>/dev/null)
if [ "$code" != 200 ] && log_since_wait 'upstream TLS handshake refused' 3; then
	pass internal-tls-refuses-cert-for-another-name
else
	fail internal-tls-refuses-cert-for-another-name "curl: $code; log: $(log_since | tail -n 2)"
fi
check_clean_exit

sed -e "s/milvus-standalone.test:$R/nowhere.invalid:$R/" "$TMP/gw.yaml" >"$TMP/bad.yaml"
out=$("$KTLSGW" check -c "$TMP/bad.yaml" 2>&1)
if grep -q "upstream: invalid address 'nowhere.invalid:$R': cannot resolve host name 'nowhere.invalid'" \
	<<<"$out"; then
	pass unknown-name-is-a-config-error
else
	fail unknown-name-is-a-config-error "ktlsgw check: $(tr '\n' '|' <<<"$out")"
fi
