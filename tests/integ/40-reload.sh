#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Certificate reload: SIGHUP under load (zero failed requests, new serial for
# new connections, an old connection keeps working), a broken certificate
# keeps the old one (error naming the file, counted), inotify reload after
# `mv new.pem server.pem`, session resumption across workers and across a
# reload.
. "$(dirname "$0")/lib.sh"

RC=("$PY" "$FAKES/reload_client.py")
C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
# Two more generations of server certificates from the same CA.
prev=$C
for g in 2 3; do
	mkdir -p "$TMP/gen$g"
	cp -p "$prev"/ca.* "$prev"/client.* "$prev"/server.* "$TMP/gen$g/"
	prev=$TMP/gen$g
	"$KTLSGW" cert renew --dir "$TMP/gen$g" >"$TMP/gen$g/renew.log" 2>&1 ||
		{ fail certs "ktlsgw cert renew: $(tail -n 1 "$TMP/gen$g/renew.log")"; exit 0; }
done
serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }
S1=$(serial_of "$C/server.pem") S2=$(serial_of "$TMP/gen2/server.pem")
S3=$(serial_of "$TMP/gen3/server.pem")
[ "$S1" != "$S2" ] && [ "$S2" != "$S3" ] || { fail certs "renew kept the serial"; exit 0; }

start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P=$(free_port) PM=$(free_port)
L=$(listener web "$P" "$R")
EXTRA="  metrics: 127.0.0.1:$PM
  reloadDebounce: 100ms
  drainTimeout: 2s"
write_config "$TMP/gw.yaml" "$C" 1 false "$L" "$EXTRA"
gateway_or_exit "$TMP/gw.yaml" "$P"

# served_serial: the serial a new connection gets.
served_serial() {
	s_client "$P" -CAfile "$C/ca.pem" | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
# wait_serial WANT [SECS]: until new connections get WANT.
wait_serial() {
	local want=$1 secs=${2:-5} i
	for ((i = 0; i < secs * 5; i++)); do
		[ "$(served_serial)" = "$want" ] && return 0
		sleep 0.2
	done
	return 1
}
reloads() {
	curl -s --max-time 3 "http://127.0.0.1:$PM/metrics" |
		awk -v r="$1" '$1 == "ktlsgw_reloads_total{result=\"" r "\"}" {print $2}'
}

if [ "$(served_serial)" = "$S1" ]; then pass serves-first-cert; else
	fail serves-first-cert "new connection got serial '$(served_serial)', want $S1"; fi

# --- SIGHUP under load ---------------------------------------------------------
"${RC[@]}" hold "$P" --cafile "$C/ca.pem" --go "$TMP/go" >"$TMP/hold.out" 2>&1 &
HOLD=$!
track_pid "$HOLD"
"${RC[@]}" loop "$P" --cafile "$C/ca.pem" --until "$TMP/stop" --threads 4 \
	--trace "$TMP/loop.trace" >"$TMP/loop.out" 2>&1 &
LOOP=$!
track_pid "$LOOP"
for ((i = 0; i < 50; i++)); do grep -q READY "$TMP/hold.out" && break; sleep 0.1; done
sleep 1
# A new config naming other files: only SIGHUP can see that change.
write_config "$TMP/gw.yaml" "$TMP/gen2" 1 false "$L" "$EXTRA"
log_mark
kill -HUP "$GW_PID"
if log_since_wait 'reload \(SIGHUP\): new certificates in use by 2 of 2 workers' 5; then
	pass sighup-reload-logged
else
	fail sighup-reload-logged "no 'new certificates in use' line: $(log_since | tail -n 2 | tr '\n' '|')"
fi
sleep 1
touch "$TMP/stop"
touch "$TMP/go"
timeout 30 tail --pid="$LOOP" -f /dev/null
wait "$LOOP"
LRC=$?
untrack_pid "$LOOP"
LOUT=$(head -n 1 "$TMP/loop.out")
SEEN=$(sed -n 's/.*serials=//p' "$TMP/loop.out")
if [ $LRC -eq 0 ] && grep -q ' fail=0 ' <<<"$LOUT"; then
	pass reload-under-load-zero-failures
	echo "reload-under-load: $LOUT" >&2
else
	fail reload-under-load-zero-failures "$LOUT $(grep error "$TMP/loop.out" | head -n 2 | tr '\n' ' ')"
fi
# Once the reload says every worker took the new contexts, no new connection
# may get the old certificate (before that, workers switch within a tick).
# Log times are cut to the millisecond, so the line may read up to 1 ms early.
APPLIED=$(grep -m 1 'reload (SIGHUP): new certificates in use by 2 of 2' "$GW_LOG" | cut -d' ' -f1)
T_APPLIED=$(date -d "$APPLIED" +%s.%N 2>/dev/null)
LATE_OLD=$(awk -v t="${T_APPLIED:-0}" -v s="$S1" '$1 > t + 0.001 && $2 == s' "$TMP/loop.trace" | wc -l)
AFTER=$(awk -v t="${T_APPLIED:-0}" '$1 > t + 0.001' "$TMP/loop.trace" | wc -l)
if [ "$SEEN" = "$S1,$S2" ] && [ -n "$T_APPLIED" ] && [ "$LATE_OLD" -eq 0 ] && [ "$AFTER" -gt 0 ]; then
	pass load-saw-old-then-new-serial
	echo "load: $AFTER connections after the reload line, none with the old serial" >&2
else
	fail load-saw-old-then-new-serial "serials seen: $SEEN (want $S1,$S2); $LATE_OLD of $AFTER" \
		"connections started after the reload line ($APPLIED) got the old one"
fi
if [ "$(served_serial)" = "$S2" ]; then pass new-conn-new-serial; else
	fail new-conn-new-serial "got '$(served_serial)', want $S2"; fi
timeout 30 tail --pid="$HOLD" -f /dev/null
wait "$HOLD"
HRC=$?
untrack_pid "$HOLD"
if [ $HRC -eq 0 ] && grep -q "^SAME $S1" "$TMP/hold.out"; then
	pass old-conn-keeps-working
else
	fail old-conn-keeps-working "exit $HRC: $(tr '\n' '|' <"$TMP/hold.out")"
fi

# --- a broken certificate keeps the old one ----------------------------------------
OK0=$(reloads ok) FAILED0=$(reloads failed)
log_mark
cp -p "$TMP/gen2/server.pem" "$TMP/server.pem.good"
echo "not a certificate" >"$TMP/gen2/server.pem"
if log_since_wait "reload \(file changed: .*\) failed: keeping the current certificates" 5 &&
	log_since | grep -q "reload (file changed.*gen2/server.pem"; then
	pass broken-cert-reload-fails-naming-file
	log_since | grep -m 2 'ERROR' | sed 's/^/broken-cert: log: /' >&2
else
	fail broken-cert-reload-fails-naming-file "log: $(log_since | tail -n 3 | tr '\n' '|')"
fi
if [ "$(served_serial)" = "$S2" ]; then pass broken-cert-keeps-serving-old; else
	fail broken-cert-keeps-serving-old "got '$(served_serial)', want $S2"; fi
FAILED1=$(reloads failed)
if [ -n "$FAILED1" ] && [ "$FAILED1" -gt "${FAILED0:-0}" ]; then
	pass broken-cert-counted
else
	fail broken-cert-counted "ktlsgw_reloads_total{result=\"failed\"} went ${FAILED0:-none} -> ${FAILED1:-none}"
fi
mv "$TMP/server.pem.good" "$TMP/gen2/server.pem"
log_wait 'reload \(file changed.*\): new certificates' 5 >/dev/null

# --- inotify: atomic rename, no SIGHUP ---------------------------------------------
cp -p "$TMP/gen3/server.key" "$TMP/gen2/new.key"
cp -p "$TMP/gen3/server.pem" "$TMP/gen2/new.pem"
log_mark
mv "$TMP/gen2/new.key" "$TMP/gen2/server.key"
mv "$TMP/gen2/new.pem" "$TMP/gen2/server.pem"
if wait_serial "$S3" 5; then
	pass inotify-atomic-rename
	log_since | grep -m 1 'file changed' | sed 's/^/inotify: log: /' >&2
else
	fail inotify-atomic-rename "serial still $(served_serial), want $S3: $(log_since | tail -n 2 | tr '\n' '|')"
fi
OK1=$(reloads ok)
if [ -n "$OK1" ] && [ "$OK1" -gt "${OK0:-0}" ]; then pass reloads-counted; else
	fail reloads-counted "ktlsgw_reloads_total{result=\"ok\"} ${OK0:-none} -> ${OK1:-none}"; fi

# --- resumption across workers and across a reload ----------------------------------
# sess_new FILE: a full handshake saving its session; sess_reuse FILE: Reused?
# (stdin stays open a moment: TLS 1.3 tickets come after the handshake)
sess_new() {
	sleep 0.5 | timeout 10 openssl s_client -connect "127.0.0.1:$P" -servername localhost \
		-CAfile "$C/ca.pem" -sess_out "$1" >/dev/null 2>&1
	[ -s "$1" ]
}
sess_reuse() { s_client "$P" -CAfile "$C/ca.pem" -sess_in "$1" | grep -E '^(Reused|New),'; }
if sess_new "$TMP/sess"; then
	log_mark
	n=0
	for ((i = 0; i < 10; i++)); do
		sess_reuse "$TMP/sess" | grep -q '^Reused,' && n=$((n + 1))
	done
	sleep 0.3
	W=$(log_since | grep -o 'w=[0-9]* conn=[0-9]* .* access ' | awk '{print $1}' | sort -u | wc -l)
	if [ $n -eq 10 ] && [ "$W" -ge 2 ]; then
		pass resumption-across-workers
		echo "resumption: 10/10 Reused over $W workers" >&2
	else
		fail resumption-across-workers "$n/10 Reused, on $W worker(s)"
	fi
	log_mark
	kill -HUP "$GW_PID"
	log_since_wait 'reload \(SIGHUP\): new certificates' 5 >/dev/null
	if sess_reuse "$TMP/sess" | grep -q '^Reused,'; then
		pass resumption-across-reload
	else
		fail resumption-across-reload "$(sess_reuse "$TMP/sess")"
	fi
else
	fail resumption-across-workers "s_client -sess_out saved no session"
fi

# --- a change that cannot apply live is reported, not applied -------------------------
P2=$(free_port)
write_config "$TMP/gw.yaml" "$TMP/gen2" 1 false "$(listener web "$P2" "$R")" "$EXTRA"
log_mark
kill -HUP "$GW_PID"
if log_since_wait 'not applied, restart to apply: listener web bind' 5 &&
	! ss -Htln "sport = :$P2" | grep -q . && [ "$(served_serial)" = "$S3" ]; then
	pass bind-change-reported-not-applied
else
	fail bind-change-reported-not-applied "log: $(log_since | grep -m 1 -i 'not applied' || echo none)"
fi

if gw_alive; then pass still-up; else fail still-up "gateway died"; fi
check_clean_exit
exit 0
