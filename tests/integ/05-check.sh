#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ktlsgw check`: exit 0 with a summary for good configs (including the
# shipped conf/ examples), exit 1 listing every error for bad ones, exit 2 on
# usage errors. Certificates are made with the openssl CLI, independently of
# `ktlsgw cert gen`.
set -u
KTLSGW=${KTLSGW:?set KTLSGW to the ktlsgw binary}
root=$(cd "$(dirname "$0")/../.." && pwd)
T=integ/05-check
if ! command -v openssl >/dev/null; then
	echo "openssl CLI missing" >&2
	exit 77
fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1

# --- fixtures --------------------------------------------------------------
quiet() { "$@" >/dev/null 2>&1; }
ec_key() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
mkdir cert
ec_key cert/ca.key
quiet openssl req -x509 -new -key cert/ca.key -subj "/CN=check CA" -days 3650 -out cert/ca.pem \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
# leaf NAME DAYS: a server certificate signed by the CA
leaf() {
	ec_key "cert/$1.key"
	quiet openssl req -new -key "cert/$1.key" -subj "/CN=localhost" -out "cert/$1.csr"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$1.ext"
	quiet openssl x509 -req -in "cert/$1.csr" -CA cert/ca.pem -CAkey cert/ca.key \
		-CAcreateserial -days "$2" -extfile "$1.ext" -out "cert/$1.pem"
	chmod 600 "cert/$1.key"
}
leaf server 365
leaf soon 5
leaf other 365
# an expired certificate needs explicit dates: `openssl ca` takes them
mkdir -p ca/newcerts && touch ca/index.txt && echo 1000 >ca/serial
cat >ca.cnf <<EOC
[ ca ]
default_ca = c
[ c ]
dir = $d/ca
database = $d/ca/index.txt
new_certs_dir = $d/ca/newcerts
serial = $d/ca/serial
default_md = sha256
policy = p
[ p ]
commonName = supplied
EOC
ec_key cert/expired.key && chmod 600 cert/expired.key
quiet openssl req -new -key cert/expired.key -subj "/CN=localhost" -out expired.csr
quiet openssl ca -batch -config ca.cnf -cert cert/ca.pem -keyfile cert/ca.key -in expired.csr \
	-out cert/expired.pem -startdate 20200101000000Z -enddate 20200201000000Z -notext
cp cert/server.pem cert/open.pem && cp cert/server.key cert/open.key && chmod 644 cert/open.key
for f in server soon other expired; do
	[ -s "cert/$f.pem" ] || { echo "FAIL $T/fixtures: openssl did not make cert/$f.pem"; exit 1; }
done

# conf NAME PEM KEY MODE [EXTRA_GATEWAY_LINES]: writes NAME.yaml
conf() {
	cat >"$1.yaml" <<EOC
gateway:
  listeners:
    - name: grpc
      bind: 127.0.0.1:19530
      upstream: 127.0.0.1:19531
    - name: rest
      bind: '[::1]:8443'
      milvus: rest
${5:-}
tls:
  serverPemPath: cert/$2.pem
  serverKeyPath: cert/$3.key
  caPemPath: cert/ca.pem
common:
  security:
    tlsMode: "$4"
EOC
}

# --- cases -----------------------------------------------------------------
# run CASE WANT_RC CMD...: runs ktlsgw, keeps stdout/stderr in out/err
run() {
	local name=$1 want=$2 rc
	shift 2
	timeout 20 "$KTLSGW" "$@" >out 2>err
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL $T/$name: exit $rc, expected $want: $(head -c 400 err)"
		return 1
	fi
	return 0
}
# expect CASE FILE TEXT...: every TEXT (fixed string) is in FILE
expect() {
	local name=$1 file=$2 s
	shift 2
	for s in "$@"; do
		if ! grep -qF -- "$s" "$file"; then
			echo "FAIL $T/$name: $file lacks '$s': $(head -c 600 "$file")"
			return 1
		fi
	done
	echo "PASS $T/$name"
}

conf good server server 1
run good 0 check -c good.yaml &&
	expect good out "config: good.yaml" "grpc: 127.0.0.1:19530 -> 127.0.0.1:19531" \
		"rest: [::1]:8443 -> 127.0.0.1:8080" "tlsMode:      1 (one-way TLS)" \
		"min version:  TLS 1.2" "alpn:         http/1.1 -> 127.0.0.1:19531, h2 -> 127.0.0.1:19531" \
		"internal TLS: off" "subject:  CN=localhost" "SAN:      DNS:localhost, IP:127.0.0.1" \
		"days left)" "OK"

if grep -qF "server certificate: $d/cert/server.pem" out; then
	echo "PASS $T/relative-path"
else
	echo "FAIL $T/relative-path: not resolved against $d: $(grep certificate: out)"
fi
run long-option 0 check --config good.yaml && expect long-option out "OK"
run long-option-eq 0 check --config=good.yaml && expect long-option-eq out "OK"

conf mutual server server 2
run mutual 0 check -c mutual.yaml &&
	expect mutual out "tlsMode:      2 (mutual TLS)" "min version:  TLS 1.3" "client CA: "

conf soon soon soon 1
run expiring-warns 0 check -c soon.yaml &&
	expect expiring-warns out "soon.yaml:11:18: warning: tls.serverPemPath: certificate '" \
		"/cert/soon.pem' expires in " " days (20" "1 warning" "OK"

conf expired expired expired 1
run expired 1 check -c expired.yaml &&
	expect expired err "expired.yaml:11:18: tls.serverPemPath: certificate '" \
		"/cert/expired.pem' expired on 2020-02-01 00:00:00 UTC" "1 error"

conf mismatch server other 1
run key-mismatch 1 check -c mismatch.yaml &&
	expect key-mismatch err "mismatch.yaml:12:18: tls.serverKeyPath: private key '" \
		"/cert/other.key' does not match certificate '"

conf open open open 1
run key-perms 1 check -c open.yaml &&
	expect key-perms err "open.yaml:12:18: tls.serverKeyPath: private key '" \
		"has mode 0644 and is readable by group/other; run 'chmod 600 "

conf open-ok open open 1 "  allowInsecureKeyPerms: true"
run key-perms-allowed 0 check -c open-ok.yaml && expect key-perms-allowed out "OK"

conf missing nope server 1
run cert-missing 1 check -c missing.yaml &&
	expect cert-missing err "missing.yaml:11:18: tls.serverPemPath: cannot read '" \
		"/cert/nope.pem': No such file or directory"

cat >many.yaml <<'EOC'
gateway:
  listeners:
    - name: grpc
      bind: 127.0.0.1:19530
      upstream: 127.0.0.1:19530
    - name: grpc
      bind: 0.0.0.0:19530
      upstream: 127.0.0.1:70000
  workrs: 4
common:
  security:
    tlsMode: 3
EOC
run every-error 1 check -c many.yaml &&
	expect every-error err \
		"many.yaml:5:17: gateway.listeners[0].upstream: 127.0.0.1:19530 is this listener's own bind address (a loop)" \
		"many.yaml:6:13: gateway.listeners[1].name: duplicate listener name 'grpc' (first at line 3:7)" \
		"many.yaml:7:13: gateway.listeners[1].bind: 0.0.0.0:19530 overlaps gateway.listeners[0].bind 127.0.0.1:19530 (line 4:13)" \
		"many.yaml:8:17: gateway.listeners[1].upstream: invalid address '127.0.0.1:70000': port must be a number from 1 to 65535" \
		"many.yaml:9:3: gateway.workrs: unknown key; did you mean 'workers'?" \
		"many.yaml:12:14: common.security.tlsMode: must be 0 (plain), 1 (one-way TLS) or 2 (mutual TLS), got '3'" \
		"6 errors"

printf 'gateway:\n  listeners:\n    - name: [x\n' >syntax.yaml
run syntax 1 check -c syntax.yaml &&
	expect syntax err "syntax.yaml:4:1: YAML syntax error: did not find expected ',' or ']'"

run no-file 1 check -c nowhere.yaml &&
	expect no-file err "nowhere.yaml: cannot read: No such file or directory" "1 error"

# The shipped examples, with their certificates next to them.
mkdir ex && cp "$root/conf/ktlsgw.yaml" "$root/conf/milvus.yaml" ex/ && cp -a cert ex/cert
run example-ktlsgw 0 check -c ex/ktlsgw.yaml && expect example-ktlsgw out "both: 127.0.0.1:8443" "OK"
run example-milvus 0 check -c ex/milvus.yaml &&
	expect example-milvus out "grpc: 0.0.0.0:19443 -> 127.0.0.1:19530" "OK"

run usage-no-config 2 check && expect usage-no-config err "missing -c FILE" "usage: ktlsgw check"
run usage-bad-option 2 check -c good.yaml --frobnicate && expect usage-bad-option err "usage:"
run usage-extra-arg 2 check -c good.yaml extra && expect usage-extra-arg err "unexpected argument"
run usage-missing-arg 2 check -c && expect usage-missing-arg err "usage:"
run help 0 check --help && expect help out "usage: ktlsgw check -c FILE"
exit 0
