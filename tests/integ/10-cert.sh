#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ktlsgw cert gen|renew` run as users run it, every result checked
# independently with the openssl CLI: chains per purpose, extensions, SANs,
# key types, modes, ca.srl, refusals, usage errors, and a mutual-TLS
# handshake between openssl s_server and s_client on 127.0.0.1.
set -u
T=10-cert
K=${KTLSGW:-}
if [ -z "$K" ] || [ ! -x "$K" ]; then
	echo "KTLSGW is not set to a built ktlsgw" >&2
	exit 77
fi
if ! command -v openssl >/dev/null; then
	echo "openssl CLI missing" >&2
	exit 77
fi
PY=/usr/bin/python3
W=$(mktemp -d /tmp/ktlsgw-integ-cert.XXXXXX)
SRV_PID=
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

pass() { echo "PASS integ/$T/$1"; }
fail() { echo "FAIL integ/$T/$1: $2"; }
# ok NAME WHY CMD...: PASS when CMD succeeds.
ok() {
	local name=$1 why=$2
	shift 2
	if "$@" >"$W/out" 2>&1; then pass "$name"; else fail "$name" "$why: $(tail -n 3 "$W/out" | tr '\n' ' ')"; fi
}
# ko NAME WHY CMD...: PASS when CMD fails.
ko() {
	local name=$1 why=$2
	shift 2
	if "$@" >"$W/out" 2>&1; then fail "$name" "$why"; else pass "$name"; fi
}
# ext FILE NAME: the text of one extension (header and value).
ext() { openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null; }
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
# hex_add HEX N: HEX + N in hex, uppercase (160-bit values: python, not bash).
hex_add() { "$PY" -c "import sys; print('%X' % (int(sys.argv[1], 16) + int(sys.argv[2])))" "$1" "$2"; }
sums() { (cd "$1" && sha256sum ca.key ca.pem ca.srl server.key server.pem client.key client.pem 2>&1); }
hexeq() { [ "$("$PY" -c "import sys; print(int(sys.argv[1],16) == int(sys.argv[2],16))" "$1" "$2")" = True ]; }

# ---- gen, defaults ----
A=$W/a/nested
if "$K" cert gen --dir "$A" >"$W/gen.out" 2>"$W/gen.err"; then
	pass gen_default_exit_0
else
	fail gen_default_exit_0 "exit $?: $(cat "$W/gen.err")"
fi
n=0
for f in ca.key ca.pem ca.srl server.key server.pem client.key client.pem; do [ -s "$A/$f" ] && n=$((n + 1)); done
[ $n -eq 7 ] && [ "$(ls -A "$A" | wc -l)" -eq 7 ] && pass gen_writes_exactly_seven_files ||
	fail gen_writes_exactly_seven_files "$n of 7 present; dir has: $(ls -A "$A" | tr '\n' ' ')"
grep -q 'subject: C = US, ST = CA, L = Redwood City, O = zilliz, OU = devops, CN = localhost' "$W/gen.out" &&
	grep -q "serial:  $(serial_of "$A/server.pem")" "$W/gen.out" && grep -q 'SAN:     DNS:localhost' "$W/gen.out" &&
	pass gen_prints_summary || fail gen_prints_summary "$(cat "$W/gen.out")"

ok verify_server_sslserver "server.pem must chain for sslserver" \
	openssl verify -CAfile "$A/ca.pem" -purpose sslserver "$A/server.pem"
ok verify_client_sslclient "client.pem must chain for sslclient" \
	openssl verify -CAfile "$A/ca.pem" -purpose sslclient "$A/client.pem"
ok verify_x509_strict "strict chain checks" \
	openssl verify -x509_strict -CAfile "$A/ca.pem" "$A/server.pem" "$A/client.pem"
if openssl verify -CAfile "$A/ca.pem" -purpose sslserver "$A/client.pem" >"$W/out" 2>&1; then
	fail client_not_sslserver "client.pem verified as a server certificate"
else
	grep -q 'unsuitable certificate purpose' "$W/out" && pass client_not_sslserver ||
		fail client_not_sslserver "failed for another reason: $(cat "$W/out")"
fi
ko server_not_sslclient "server.pem verified as a client certificate" \
	openssl verify -CAfile "$A/ca.pem" -purpose sslclient "$A/server.pem"

e=$(ext "$A/server.pem" extendedKeyUsage)
echo "$e" | grep -q 'TLS Web Server Authentication' && ! echo "$e" | grep -q Client &&
	pass eku_server_serverauth_only || fail eku_server_serverauth_only "$e"
e=$(ext "$A/client.pem" extendedKeyUsage)
echo "$e" | grep -q 'TLS Web Client Authentication' && ! echo "$e" | grep -q Server &&
	pass eku_client_clientauth_only || fail eku_client_clientauth_only "$e"

e=$(ext "$A/ca.pem" basicConstraints,keyUsage,subjectKeyIdentifier)
echo "$e" | grep -q 'Basic Constraints: critical' && echo "$e" | grep -q 'CA:TRUE' &&
	echo "$e" | grep -q 'Key Usage: critical' && echo "$e" | grep -qx ' *Certificate Sign, CRL Sign' &&
	echo "$e" | grep -q 'Subject Key Identifier' && pass ca_extensions || fail ca_extensions "$e"
ca_ski=$(ext "$A/ca.pem" subjectKeyIdentifier | tail -n 1 | tr -d ' ')
for leaf in server client; do
	e=$(ext "$A/$leaf.pem" basicConstraints,keyUsage,authorityKeyIdentifier,subjectKeyIdentifier)
	aki=$(ext "$A/$leaf.pem" authorityKeyIdentifier | tail -n 1 | tr -d ' ' | sed 's/^keyid://')
	echo "$e" | grep -q 'CA:FALSE' && echo "$e" | grep -q 'Key Usage: critical' &&
		echo "$e" | grep -qx ' *Digital Signature' && echo "$e" | grep -q 'Subject Key Identifier' &&
		[ -n "$ca_ski" ] && [ "$aki" = "$ca_ski" ] &&
		pass "${leaf}_extensions_ec" || fail "${leaf}_extensions_ec" "aki=$aki ca_ski=$ca_ski: $e"
done

subj=$(openssl x509 -in "$A/server.pem" -noout -subject -nameopt oneline)
ca_subj=$(openssl x509 -in "$A/ca.pem" -noout -subject -nameopt oneline)
[ "$subj" = "subject=C = US, ST = CA, L = Redwood City, O = zilliz, OU = devops, CN = localhost" ] &&
	[ "$ca_subj" = "subject=C = US, ST = CA, L = Redwood City, O = zilliz, OU = devops, CN = localhost CA" ] &&
	[ "$(openssl x509 -in "$A/server.pem" -noout -issuer -nameopt oneline)" = "issuer=${ca_subj#subject=}" ] &&
	pass subjects_like_gen_sh_ca_distinct || fail subjects_like_gen_sh_ca_distinct "$subj / $ca_subj"

e=$(ext "$A/server.pem" subjectAltName | tail -n 1 | sed 's/^ *//')
[ "$e" = "DNS:localhost" ] && pass san_default_is_cn || fail san_default_is_cn "$e"

for k in ca server client; do
	t=$(openssl pkey -in "$A/$k.key" -noout -text 2>&1)
	echo "$t" | grep -q 'Private-Key: (256 bit' && echo "$t" | grep -q 'ASN1 OID: prime256v1' &&
		pass "key_${k}_ec_p256" || fail "key_${k}_ec_p256" "$(echo "$t" | head -n 1)"
done
[ "$(openssl x509 -in "$A/server.pem" -noout -text | grep -m1 'Signature Algorithm' | sed 's/.*: //')" = ecdsa-with-SHA256 ] &&
	pass sig_ecdsa_sha256 || fail sig_ecdsa_sha256 "$(openssl x509 -in "$A/server.pem" -noout -text | grep -m1 'Signature Algorithm')"

modes=$(cd "$A" && stat -c '%n=%a' ca.key server.key client.key ca.pem server.pem client.pem ca.srl | tr '\n' ' ')
[ "$modes" = "ca.key=600 server.key=600 client.key=600 ca.pem=644 server.pem=644 client.pem=644 ca.srl=644 " ] &&
	pass file_modes || fail file_modes "$modes"
[ "$(stat -c %a "$A")" = 755 ] && pass dir_created_0755 || fail dir_created_0755 "$(stat -c %a "$A")"

srl=$(cat "$A/ca.srl")
cs=$(serial_of "$A/client.pem")
ss=$(serial_of "$A/server.pem")
[ "$srl" = "$cs" ] && echo "$srl" | grep -qE '^([0-9A-F]{2})+$' && [ "$(hex_add "$ss" 1)" = "$(hex_add "$cs" 0)" ] &&
	[ "$(wc -l <"$A/ca.srl")" -eq 1 ] && pass srl_holds_last_serial_uppercase ||
	fail srl_holds_last_serial_uppercase "ca.srl=$srl server=$ss client=$cs"

# validity: leaves --days (default 3650), CA 36500, notBefore 5 min back
openssl x509 -in "$A/server.pem" -noout -checkend $((3649 * 86400)) >/dev/null &&
	! openssl x509 -in "$A/server.pem" -noout -checkend $((3651 * 86400)) >/dev/null &&
	openssl x509 -in "$A/ca.pem" -noout -checkend $((36499 * 86400)) >/dev/null &&
	! openssl x509 -in "$A/ca.pem" -noout -checkend $((36501 * 86400)) >/dev/null &&
	pass validity_3650_and_36500_days || fail validity_3650_and_36500_days "$(openssl x509 -in "$A/server.pem" -noout -enddate)"
nb=$(date -d "$(openssl x509 -in "$A/server.pem" -noout -startdate | sed 's/notBefore=//')" +%s)
skew=$(($(date +%s) - nb))
[ $skew -ge 290 ] && [ $skew -le 400 ] && pass not_before_five_minutes_back || fail not_before_five_minutes_back "skew ${skew}s"

# ---- options: SANs, IP CN, RSA, days ----
B=$W/b
if "$K" cert gen --dir "$B" --cn gw.example --san DNS:a.example,IP:127.0.0.1 --san IP:::1 --days 30 >"$W/out" 2>&1; then
	e=$(ext "$B/server.pem" subjectAltName | tail -n 1 | sed 's/^ *//')
	[ "$e" = "DNS:gw.example, DNS:a.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" ] &&
		pass san_cn_first_then_list || fail san_cn_first_then_list "$e"
	ok san_verify_hostname "verify -verify_hostname a.example" \
		openssl verify -CAfile "$B/ca.pem" -purpose sslserver -verify_hostname a.example "$B/server.pem"
	ok san_verify_ip "verify -verify_ip 127.0.0.1" \
		openssl verify -CAfile "$B/ca.pem" -purpose sslserver -verify_ip 127.0.0.1 "$B/server.pem"
	ko san_other_host_refused "verify accepted a host that is not a SAN" \
		openssl verify -CAfile "$B/ca.pem" -verify_hostname other.example "$B/server.pem"
	openssl x509 -in "$B/server.pem" -noout -checkend $((29 * 86400)) >/dev/null &&
		! openssl x509 -in "$B/server.pem" -noout -checkend $((31 * 86400)) >/dev/null &&
		pass days_option || fail days_option "$(openssl x509 -in "$B/server.pem" -noout -enddate)"
else
	fail san_cn_first_then_list "gen failed: $(cat "$W/out")"
fi
C=$W/c
if "$K" cert gen --dir "$C" --cn 127.0.0.1 >"$W/out" 2>&1; then
	e=$(ext "$C/client.pem" subjectAltName | tail -n 1 | sed 's/^ *//')
	[ "$e" = "IP Address:127.0.0.1" ] && openssl verify -CAfile "$C/ca.pem" -purpose sslserver \
		-verify_ip 127.0.0.1 "$C/server.pem" >/dev/null 2>&1 && pass cn_ip_becomes_ip_san || fail cn_ip_becomes_ip_san "$e"
else
	fail cn_ip_becomes_ip_san "gen failed: $(cat "$W/out")"
fi
for bits in 2048 3072; do
	R=$W/rsa$bits
	if [ $bits = 2048 ]; then args=(--key-type rsa); else args=(--key-type rsa --bits 3072); fi
	if "$K" cert gen --dir "$R" "${args[@]}" >"$W/out" 2>&1; then
		t=$(openssl pkey -in "$R/server.key" -noout -text | head -n 1)
		tc=$(openssl pkey -in "$R/ca.key" -noout -text | head -n 1)
		ku=$(ext "$R/server.pem" keyUsage | tail -n 1 | sed 's/^ *//')
		[ "$t" = "Private-Key: ($bits bit, 2 primes)" ] && [ "$tc" = "$t" ] &&
			[ "$ku" = "Digital Signature, Key Encipherment" ] &&
			openssl x509 -in "$R/server.pem" -noout -text | grep -q 'sha256WithRSAEncryption' &&
			openssl verify -CAfile "$R/ca.pem" -purpose sslserver "$R/server.pem" >/dev/null 2>&1 &&
			openssl verify -CAfile "$R/ca.pem" -purpose sslclient "$R/client.pem" >/dev/null 2>&1 &&
			pass "rsa_$bits" || fail "rsa_$bits" "$t / $tc / $ku"
	else
		fail "rsa_$bits" "gen failed: $(cat "$W/out")"
	fi
done

# ---- gen refuses an existing CA; --force replaces it ----
before=$(sums "$A")
"$K" cert gen --dir "$A" >"$W/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "$A/ca.key exists" "$W/out" && grep -q -- '--force' "$W/out" &&
	grep -q 'cert renew' "$W/out" && pass gen_refuses_existing_ca || fail gen_refuses_existing_ca "rc=$rc: $(cat "$W/out")"
[ "$(sums "$A")" = "$before" ] && [ "$(ls -A "$A" | wc -l)" -eq 7 ] &&
	pass gen_refusal_leaves_files_untouched || fail gen_refusal_leaves_files_untouched "files changed"
F=$W/f
"$K" cert gen --dir "$F" >/dev/null 2>&1 && rm -f "$F/ca.key" && "$K" cert gen --dir "$F" >"$W/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "$F/ca.pem exists" "$W/out" && pass gen_refuses_ca_pem_alone || fail gen_refuses_ca_pem_alone "rc=$rc"
cp "$A/server.pem" "$W/old-server.pem"
if "$K" cert gen --dir "$A" --force >"$W/out" 2>&1; then
	[ "$(sums "$A" | grep ca.pem)" != "$(echo "$before" | grep ca.pem)" ] &&
		openssl verify -CAfile "$A/ca.pem" -purpose sslserver "$A/server.pem" >/dev/null 2>&1 &&
		! openssl verify -CAfile "$A/ca.pem" "$W/old-server.pem" >/dev/null 2>&1 &&
		pass gen_force_replaces_ca || fail gen_force_replaces_ca "new CA not in effect"
else
	fail gen_force_replaces_ca "exit $?: $(cat "$W/out")"
fi

# ---- renew ----
before=$(sums "$A")
srl0=$(cat "$A/ca.srl")
ss0=$(serial_of "$A/server.pem")
cp "$A/server.pem" "$W/old-server.pem"
if "$K" cert renew --dir "$A" >"$W/renew.out" 2>&1; then
	pass renew_exit_0
else
	fail renew_exit_0 "exit $?: $(cat "$W/renew.out")"
fi
after=$(sums "$A")
[ "$(echo "$after" | grep -E ' ca\.(pem|key)$')" = "$(echo "$before" | grep -E ' ca\.(pem|key)$')" ] &&
	pass renew_keeps_ca_byte_identical || fail renew_keeps_ca_byte_identical "ca.pem or ca.key changed"
same=
for f in server.key server.pem client.key client.pem ca.srl; do
	[ "$(echo "$after" | grep " $f\$")" = "$(echo "$before" | grep " $f\$")" ] && same="$same $f"
done
[ -z "$same" ] && pass renew_replaces_leaves || fail renew_replaces_leaves "unchanged:$same"
srl1=$(cat "$A/ca.srl")
ss1=$(serial_of "$A/server.pem")
cs1=$(serial_of "$A/client.pem")
[ "$ss1" != "$ss0" ] && hexeq "$ss1" "$(hex_add "$srl0" 1)" && hexeq "$cs1" "$(hex_add "$srl0" 2)" &&
	[ "$srl1" = "$cs1" ] && pass renew_advances_srl || fail renew_advances_srl "srl $srl0 -> $srl1, server $ss0 -> $ss1, client $cs1"
ok renew_server_verifies "renewed server.pem, sslserver" \
	openssl verify -CAfile "$A/ca.pem" -purpose sslserver "$A/server.pem"
ok renew_client_verifies "renewed client.pem, sslclient" \
	openssl verify -CAfile "$A/ca.pem" -purpose sslclient "$A/client.pem"
ok renew_old_leaf_still_verifies "the CA did not change, so the old leaf still chains" \
	openssl verify -CAfile "$A/ca.pem" "$W/old-server.pem"
modes=$(cd "$A" && stat -c '%n=%a' server.key client.key server.pem client.pem ca.srl | tr '\n' ' ')
[ "$modes" = "server.key=600 client.key=600 server.pem=644 client.pem=644 ca.srl=644 " ] &&
	pass renew_file_modes || fail renew_file_modes "$modes"
if "$K" cert renew --dir "$A" --key-type rsa --bits 3072 --cn gw.example --san IP:10.0.0.1 --days 10 >"$W/out" 2>&1; then
	t=$(openssl pkey -in "$A/client.key" -noout -text | head -n 1)
	e=$(ext "$A/server.pem" subjectAltName | tail -n 1 | sed 's/^ *//')
	[ "$t" = "Private-Key: (3072 bit, 2 primes)" ] && [ "$e" = "DNS:gw.example, IP Address:10.0.0.1" ] &&
		openssl verify -CAfile "$A/ca.pem" -purpose sslclient "$A/client.pem" >/dev/null 2>&1 &&
		pass renew_with_options || fail renew_with_options "$t / $e"
else
	fail renew_with_options "exit $?: $(cat "$W/out")"
fi
rm -f "$A/ca.srl"
if "$K" cert renew --dir "$A" >"$W/out" 2>&1; then
	grep -q 'ca.srl was missing: started a new random serial' "$W/out" && [ -s "$A/ca.srl" ] &&
		[ "$(cat "$A/ca.srl")" = "$(serial_of "$A/client.pem")" ] &&
		pass renew_missing_srl_restarts || fail renew_missing_srl_restarts "$(cat "$W/out")"
else
	fail renew_missing_srl_restarts "exit $?: $(cat "$W/out")"
fi
mkdir -p "$W/empty"
"$K" cert renew --dir "$W/empty" >"$W/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "$W/empty/ca.pem: No such file" "$W/out" && [ -z "$(ls -A "$W/empty")" ] &&
	pass renew_without_ca_fails || fail renew_without_ca_fails "rc=$rc: $(cat "$W/out")"
cp -r "$B" "$W/mix" && cp "$C/ca.key" "$W/mix/ca.key"
before=$(sums "$W/mix")
"$K" cert renew --dir "$W/mix" >"$W/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'ca.key: does not match' "$W/out" && [ "$(sums "$W/mix")" = "$before" ] &&
	pass renew_refuses_foreign_ca_key || fail renew_refuses_foreign_ca_key "rc=$rc: $(cat "$W/out")"

# ---- the documented gen.sh, for comparison ----
D=$W/doc
mkdir -p "$D"
if openssl genpkey -quiet -algorithm rsa:2048 -out "$D/x.key" >"$W/out" 2>&1; then
	echo "SKIP integ/$T/documented_genpkey_fails: this OpenSSL accepts -algorithm rsa:2048"
else
	grep -q 'rsa:2048' "$W/out" && pass documented_genpkey_fails || fail documented_genpkey_fails "$(cat "$W/out")"
fi
subj="/C=US/ST=CA/L=Redwood City/O=zilliz/OU=devops/CN=localhost"
(
	cd "$D" || exit 1
	for k in ca server client; do
		openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $k.key || exit 1
	done
	openssl req -x509 -new -nodes -key ca.key -sha256 -days 36500 -out ca.pem -subj "$subj" || exit 1
	printf '[v3_req]\nbasicConstraints = CA:FALSE\nkeyUsage = nonRepudiation, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = @alt_names\n[alt_names]\nDNS = localhost\n' >openssl.cnf
	for k in server client; do
		openssl req -new -key $k.key -subj "$subj" | openssl x509 -req -days 3650 -out $k.pem \
			-CA ca.pem -CAkey ca.key -CAcreateserial -extfile ./openssl.cnf -extensions v3_req || exit 1
	done
) >"$W/out" 2>&1 || fail documented_script_runs "$(tail -n 3 "$W/out")"
if [ -s "$D/client.pem" ]; then
	cp -r "$D" "$W/doc-orig"
	ko documented_client_fails_sslclient "the documented client.pem (serverAuth only) passed sslclient" \
		openssl verify -CAfile "$D/ca.pem" -purpose sslclient "$D/client.pem"
	srl0=$(cat "$D/ca.srl")
	if "$K" cert renew --dir "$D" >"$W/out" 2>&1; then
		cmp -s "$D/ca.pem" "$W/doc-orig/ca.pem" && hexeq "$(serial_of "$D/server.pem")" "$(hex_add "$srl0" 1)" &&
			openssl verify -CAfile "$D/ca.pem" -purpose sslserver "$D/server.pem" >/dev/null 2>&1 &&
			openssl verify -CAfile "$D/ca.pem" -purpose sslclient "$D/client.pem" >/dev/null 2>&1 &&
			pass renew_documented_ca || fail renew_documented_ca "chain or serial wrong"
	else
		fail renew_documented_ca "exit $?: $(cat "$W/out")"
	fi
fi
# openssl continues our ca.srl the way renew.sh would
srl0=$(cat "$B/ca.srl")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/o.key" -subj /CN=o 2>/dev/null |
	openssl x509 -req -days 1 -CA "$B/ca.pem" -CAkey "$B/ca.key" -CAserial "$B/ca.srl" -out "$W/o.pem" >/dev/null 2>&1
hexeq "$(serial_of "$W/o.pem" 2>/dev/null || echo 0)" "$(hex_add "$srl0" 1)" && [ "$(cat "$B/ca.srl")" = "$(serial_of "$W/o.pem")" ] &&
	pass openssl_continues_our_srl || fail openssl_continues_our_srl "srl $srl0 -> $(cat "$B/ca.srl")"

# ---- usage errors exit 2 and write nothing ----
U=$W/u
usage_case() {
	local name=$1 rc
	shift
	"$K" cert "$@" >"$W/out" 2>&1
	rc=$?
	[ $rc -eq 2 ] && [ ! -e "$U" ] && pass "usage_$name" || fail "usage_$name" "rc=$rc: $(head -n 1 "$W/out")"
}
usage_case unknown_option gen --dir "$U" --bogus
usage_case days_zero gen --dir "$U" --days 0
usage_case days_text gen --dir "$U" --days ten
usage_case days_too_many gen --dir "$U" --days 36501
usage_case days_negative gen --dir "$U" --days -5
usage_case san_prefix gen --dir "$U" --san FOO:x
usage_case san_empty gen --dir "$U" --san ''
usage_case san_trailing_comma gen --dir "$U" --san DNS:a,
usage_case san_bad_ip gen --dir "$U" --san IP:1.2.3.999
usage_case san_bad_dns gen --dir "$U" --san 'DNS:a b'
usage_case key_type gen --dir "$U" --key-type dsa
usage_case bits_4096 gen --dir "$U" --key-type rsa --bits 4096
usage_case bits_with_ec gen --dir "$U" --bits 2048
usage_case cn_not_a_name gen --dir "$U" --cn 'my server'
usage_case missing_value gen --dir
usage_case extra_argument gen --dir "$U" extra
usage_case renew_force renew --dir "$U" --force
usage_case no_verb
usage_case unknown_verb make
grep -q "unknown subcommand 'make'" "$W/out" && pass usage_names_the_verb || fail usage_names_the_verb "$(cat "$W/out")"
"$K" cert gen --dir "$U" --san FOO:x >"$W/out" 2>&1
grep -q "'FOO:x': expected DNS:name or IP:address" "$W/out" && pass usage_san_message || fail usage_san_message "$(cat "$W/out")"
for h in "--help" "gen --help" "renew --help"; do
	# shellcheck disable=SC2086
	"$K" cert $h >"$W/out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && grep -q 'usage: ktlsgw cert gen' "$W/out" && grep -q -- '--key-type' "$W/out" &&
		pass "help_${h// /_}" || fail "help_${h// /_}" "rc=$rc"
done

# ---- a real mutual-TLS handshake: openssl s_server <-> s_client ----
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# serve DIR CERT KEY: s_server requiring a client cert; sets SRV_PID, PORT.
serve() {
	PORT=$(free_port)
	timeout 20 openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -rev -Verify 1 -verify_return_error \
		-CAfile "$1/ca.pem" -cert "$2" -key "$3" >"$W/srv.log" 2>&1 </dev/null &
	SRV_PID=$!
	for _ in $(seq 50); do
		grep -q ACCEPT "$W/srv.log" && return 0
		sleep 0.1
	done
	return 1
}
# connect DIR CERT KEY: s_client with a client cert; 0 on success.
connect() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		-verify_hostname localhost -verify_return_error -CAfile "$1/ca.pem" \
		${2:+-cert "$2" -key "$3"} >"$W/cli.log" 2>&1
}
reap() {
	timeout 5 tail --pid="$SRV_PID" -f /dev/null 2>/dev/null
	kill "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}
M=$W/m
"$K" cert gen --dir "$M" >/dev/null 2>&1
if serve "$M" "$M/server.pem" "$M/server.key"; then
	connect "$M" "$M/client.pem" "$M/client.key"
	rc=$?
	reap
	[ $rc -eq 0 ] && grep -q 'Verify return code: 0 (ok)' "$W/cli.log" &&
		grep -q 'CONNECTION ESTABLISHED' "$W/srv.log" && grep -q 'Verification: OK' "$W/srv.log" &&
		grep -q 'Peer certificate: .*CN = localhost' "$W/srv.log" && pass tls_mutual_handshake ||
		fail tls_mutual_handshake "rc=$rc: $(grep -iE 'error|verif' "$W/cli.log" "$W/srv.log" | head -n 3 | tr '\n' ' ')"
else
	reap
	fail tls_mutual_handshake "s_server did not start: $(head -n 3 "$W/srv.log")"
fi
if serve "$M" "$M/server.pem" "$M/server.key"; then
	connect "$M"
	reap
	! grep -q 'CONNECTION ESTABLISHED' "$W/srv.log" && grep -qi 'certificate' "$W/srv.log" &&
		pass tls_mutual_needs_client_cert || fail tls_mutual_needs_client_cert "server accepted no client cert"
else
	reap
	fail tls_mutual_needs_client_cert "s_server did not start"
fi
if [ -s "$W/doc-orig/client.pem" ] && serve "$W/doc-orig" "$W/doc-orig/server.pem" "$W/doc-orig/server.key"; then
	connect "$W/doc-orig" "$W/doc-orig/client.pem" "$W/doc-orig/client.key"
	reap
	! grep -q 'CONNECTION ESTABLISHED' "$W/srv.log" && grep -q 'unsuitable certificate purpose\|unsupported certificate purpose' "$W/srv.log" &&
		pass tls_documented_client_cert_refused || fail tls_documented_client_cert_refused "$(grep -i error "$W/srv.log" | head -n 2)"
else
	reap
	fail tls_documented_client_cert_refused "no documented certificates or s_server did not start"
fi
exit 0
