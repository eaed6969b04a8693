#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drain on SIGTERM: listeners close at once (a new connection is refused), a
# 32 MiB download in flight completes intact, an idle connection still open
# at gateway.drainTimeout is closed with a TLS close_notify, and the gateway
# exits 0. Then the same with SIGINT and nothing open: it exits at once.
. "$(dirname "$0")/lib.sh"

RC=("$PY" "$FAKES/reload_client.py")
MIB32=$((32 << 20))
DRAIN_S=6
C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P=$(free_port)
write_config "$TMP/gw.yaml" "$C" 1 false "$(listener web "$P" "$R")" "  drainTimeout: ${DRAIN_S}s"
gateway_or_exit "$TMP/gw.yaml" "$P"
WANT=$("$PY" -c 'import hashlib, random, sys
print(hashlib.sha256(random.Random(5).randbytes(int(sys.argv[1]))).hexdigest())' "$MIB32")

# An idle keep-alive connection, and a download paced to last about 4 s.
"${RC[@]}" idle "$P" --cafile "$C/ca.pem" --timeout $((DRAIN_S * 3)) >"$TMP/idle.out" 2>&1 &
IDLE=$!
track_pid "$IDLE"
curl -sS --max-time 60 --limit-rate 8M --cacert "$C/ca.pem" -o "$TMP/down.bin" \
	"https://localhost:$P/fake/download?bytes=$MIB32&seed=5" 2>"$TMP/curl.err" &
CURL=$!
track_pid "$CURL"
for ((i = 0; i < 50; i++)); do grep -q READY "$TMP/idle.out" && break; sleep 0.1; done
sleep 1
GOT0=$(stat -c %s "$TMP/down.bin" 2>/dev/null || echo 0)
log_mark
T0=$(date +%s.%N)
kill -TERM "$GW_PID"
log_since_wait 'SIGTERM: draining' 3 >/dev/null
log_since_wait 'w=1: draining: listeners closed' 3 >/dev/null

# A new client right after SIGTERM: nothing listens any more.
out=$(curl -sS --max-time 5 --cacert "$C/ca.pem" \
	"https://localhost:$P/v2/vectordb/collections/list" 2>&1)
rc=$?
if [ $rc -eq 7 ] && ! ss -Htln "sport = :$P" | grep -q .; then
	pass new-conn-refused-after-sigterm
else
	fail new-conn-refused-after-sigterm "curl exit $rc ($(tail -n 1 <<<"$out")), want 7 (refused)"
fi

timeout 60 tail --pid="$CURL" -f /dev/null
wait "$CURL"
CRC=$?
untrack_pid "$CURL"
T1=$(date +%s.%N)
GOT=$(sha256sum <"$TMP/down.bin" | cut -d' ' -f1)
if [ $CRC -eq 0 ] && [ "$GOT" = "$WANT" ] && [ "$GOT0" -lt "$MIB32" ] && [ "$GOT0" -gt 0 ]; then
	pass transfer-in-flight-completes-intact
	awk -v a="$T0" -v b="$T1" -v g="$GOT0" \
		'BEGIN { printf "drain: %d bytes in at SIGTERM, done %.1fs after\n", g, b - a }' >&2
else
	fail transfer-in-flight-completes-intact "curl exit $CRC, $(stat -c %s "$TMP/down.bin") bytes" \
		"(${GOT0} at SIGTERM), sha ${GOT:0:16} want ${WANT:0:16}: $(tail -n 1 "$TMP/curl.err")"
fi

# The gateway exits by itself once drainTimeout has closed the idle conn.
for ((i = 0; i < (DRAIN_S + 6) * 10 * SLOW; i++)); do
	is_running "$GW_PID" || break
	sleep 0.1
done
T2=$(date +%s.%N)
if is_running "$GW_PID"; then
	fail exits-0-after-drain "still running $((DRAIN_S + 6))s after SIGTERM"
	kill_wait "$GW_PID" 1
else
	wait "$GW_PID"
	GRC=$?
	untrack_pid "$GW_PID"
	if [ $GRC -eq 0 ]; then pass exits-0-after-drain; else
		fail exits-0-after-drain "exit status $GRC: $(tail -n 1 "$GW_LOG")"; fi
fi
GW_PID=
ELAPSED=$(awk -v a="$T0" -v b="$T2" 'BEGIN { printf "%d", (b - a) * 10 }')
if [ "$ELAPSED" -ge $((DRAIN_S * 10 - 5)) ]; then pass waited-for-drain-timeout; else
	fail waited-for-drain-timeout "exited $((ELAPSED / 10)).$((ELAPSED % 10))s after SIGTERM, drainTimeout ${DRAIN_S}s"; fi

timeout 10 tail --pid="$IDLE" -f /dev/null
wait "$IDLE"
IRC=$?
untrack_pid "$IDLE"
if [ $IRC -eq 0 ] && grep -q close_notify "$TMP/idle.out" &&
	grep -q 'drainTimeout reached: closing' "$GW_LOG" &&
	grep -q 'end="drain timeout"' "$GW_LOG"; then
	pass idle-conn-closed-with-close-notify-at-timeout
else
	fail idle-conn-closed-with-close-notify-at-timeout "client exit $IRC: $(tr '\n' ' ' <"$TMP/idle.out")"
fi

# Nothing open: SIGINT exits at once, 0.
write_config "$TMP/gw2.yaml" "$C" 1 false "$(listener web "$P" "$R")" "  drainTimeout: 30s"
gateway_or_exit "$TMP/gw2.yaml" "$P"
T0=$(date +%s)
kill -INT "$GW_PID"
for ((i = 0; i < 50 * SLOW; i++)); do is_running "$GW_PID" || break; sleep 0.1; done
if is_running "$GW_PID"; then
	fail sigint-idle-exits-at-once "still running 5s after SIGINT with drainTimeout 30s"
else
	wait "$GW_PID"
	GRC=$?
	untrack_pid "$GW_PID"
	if [ $GRC -eq 0 ] && grep -q 'SIGINT: draining' "$GW_LOG"; then
		pass sigint-idle-exits-at-once
	else
		fail sigint-idle-exits-at-once "exit $GRC: $(tail -n 1 "$GW_LOG")"
	fi
fi
GW_PID=
exit 0
