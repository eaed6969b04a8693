#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke run of the benchmark tools (bench/): loadgen's rr workload against
# the plaintext upstream, then through the gateway in tlsMode 1 and 2 for
# about two seconds each, with zero errors and a parseable result line; the
# resume workload resumes and connect does not; and loadgen must refuse a
# server that does not prove the expected name or CA.
. "$(dirname "$0")/lib.sh"

LG=$BUILD/bench/loadgen
UPS=$BUILD/bench/upstream
if [ ! -x "$LG" ] || [ ! -x "$UPS" ]; then
	fail tools-built "$LG or $UPS missing (make check-tests builds them)"
	exit 0
fi

# field LINE KEY: the value of KEY= in a loadgen result line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }

# result_ok LINE MIN_REQS: all keys present and numeric, reqs >= MIN, no errors.
result_ok() {
	local line=$1 min=$2 k v
	for k in reqs errors rps p50_us p99_us p999_us mbps_up mbps_down secs; do
		v=$(field "$line" $k)
		[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "key $k: '$v' in: $line"; return 1; }
	done
	[ "$(field "$line" errors)" = 0 ] || { echo "errors: $line"; return 1; }
	[ "$(field "$line" reqs)" -ge "$min" ] || { echo "too few requests: $line"; return 1; }
	# the reply was timed: p50 is a real latency, and p99 is not below it
	awk -v a="$(field "$line" p50_us)" -v b="$(field "$line" p99_us)" \
		'BEGIN { exit !(a > 0 && b >= a) }' || { echo "latencies: $line"; return 1; }
}

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
UP=$(free_port) && P1=$(free_port) && P2=$(free_port) || { fail ports "no free ports"; exit 0; }
"$UPS" -l "rr:$UP" --req 3100 --resp 1500 >"$TMP/up.out" 2>&1 &
track_pid $!
if ! wait_port "$UP" 5; then
	fail upstream-start "upstream did not listen: $(cat "$TMP/up.out")"
	exit 0
fi

line=$(timeout -k 2 20 "$LG" -q -t "127.0.0.1:$UP" -w rr -c 8 -d 1 2>"$TMP/lg0.err")
rc=$?
if [ $rc -eq 0 ] && why=$(result_ok "$line" 100) && [ "$(field "$line" tls)" = plain ]; then
	pass rr-direct
else
	fail rr-direct "exit $rc: ${why:-$line} $(tail -n 2 "$TMP/lg0.err")"
fi

write_config "$TMP/gw.yaml" "$C" 1 false "$(listener m1 "$P1" "$UP"; listener m2 "$P2" "$UP" 'tlsMode: 2')"
if ! start_gateway "$TMP/gw.yaml" "$P1" "$P2"; then
	fail gateway-start "ktlsgw run did not come up (see log above)"
	exit 0
fi
TLS=(--tls --ca "$C/ca.pem" --name localhost)

line=$(timeout -k 2 30 "$LG" -q -t "127.0.0.1:$P1" -w rr -c 16 -d 2 --pid "$GW_PID" \
	"${TLS[@]}" 2>"$TMP/lg1.err")
rc=$?
if [ $rc -eq 0 ] && why=$(result_ok "$line" 100) && [[ $(field "$line" tls) == TLSv1.* ]] &&
	[[ $(field "$line" cpu_us_per_req) =~ ^[0-9.]+$ ]]; then
	pass rr-gateway-mode1
else
	fail rr-gateway-mode1 "exit $rc: ${why:-$line} $(tail -n 2 "$TMP/lg1.err")"
fi

line=$(timeout -k 2 30 "$LG" -q -t "127.0.0.1:$P2" -w rr -c 4 -d 1 "${TLS[@]}" \
	--cert "$C/client.pem" --key "$C/client.key" 2>"$TMP/lg2.err")
rc=$?
if [ $rc -eq 0 ] && why=$(result_ok "$line" 50); then
	pass rr-gateway-mode2
else
	fail rr-gateway-mode2 "exit $rc: ${why:-$line} $(tail -n 2 "$TMP/lg2.err")"
fi

line=$(timeout -k 2 30 "$LG" -q -t "127.0.0.1:$P1" -w resume -c 2 -d 1 "${TLS[@]}" \
	2>"$TMP/lg3.err")
rc=$?
hs=$(field "$line" handshakes) res=$(field "$line" resumed)
if [ $rc -eq 0 ] && [ "${hs:-0}" -gt 0 ] && [ "${res:-0}" -gt 0 ]; then
	pass resume-gateway
else
	fail resume-gateway "exit $rc: handshakes=$hs resumed=$res $(tail -n 2 "$TMP/lg3.err")"
fi

# connect is full handshakes only: no ticket may be offered back.
line=$(timeout -k 2 30 "$LG" -q -t "127.0.0.1:$P1" -w connect -c 2 -d 1 "${TLS[@]}" \
	2>"$TMP/lg4.err")
rc=$?
hs=$(field "$line" handshakes) res=$(field "$line" resumed)
if [ $rc -eq 0 ] && [ "${hs:-0}" -gt 0 ] && [ "$res" = 0 ]; then
	pass connect-full-handshakes
else
	fail connect-full-handshakes "exit $rc: handshakes=$hs resumed=$res $(tail -n 2 "$TMP/lg4.err")"
fi

# Verification must be real: a wrong expected name, and a CA that did not
# sign the server, both end in errors and no completed request.
make_bad_certs "$TMP/bad" "$C" >/dev/null 2>&1
for case in wrong-name:localhost.invalid:$C/ca.pem other-ca:localhost:$TMP/bad/other/ca.pem; do
	IFS=: read -r name host ca <<<"$case"
	line=$(timeout -k 2 20 "$LG" -q -t "127.0.0.1:$P1" -w rr -c 1 -d 0.5 --warmup 0 --tls \
		--ca "$ca" --name "$host" 2>"$TMP/lg-$name.err")
	rc=$?
	if [ $rc -eq 3 ] && [ "$(field "$line" reqs)" = 0 ] &&
		grep -q "certificate verify failed" "$TMP/lg-$name.err"; then
		pass "refuses-$name"
	else
		fail "refuses-$name" "exit $rc: $line $(tail -n 1 "$TMP/lg-$name.err")"
	fi
done

stop_gateway || fail gateway-stop "gateway did not exit 0 on SIGTERM"
exit 0
