#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Privilege drop: with gateway.user: nobody the running gateway (every
# thread) has nobody's uid/gid, no capability, no_new_privs and no core
# dumps, and still serves (TLS and /metrics). Reloads then read the files as
# nobody: a root-only key fails to reload (old certificate kept), the same
# key owned by nobody reloads. Needs root.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	skip privdrop "needs root (uid $(id -u))"
	exit 0
fi
NOBODY_UID=$(id -u nobody 2>/dev/null) NOBODY_GID=$(id -g nobody 2>/dev/null)
[ -n "$NOBODY_UID" ] || { skip privdrop "no user nobody"; exit 0; }

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
chmod 755 "$TMP" "$C"	# nobody must reach the files to reload them
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
P=$(free_port) PM=$(free_port)
write_config "$TMP/gw.yaml" "$C" 1 false "$(listener web "$P" "$R")" \
	"  user: nobody
  metrics: 127.0.0.1:$PM
  reloadDebounce: 100ms"
gateway_or_exit "$TMP/gw.yaml" "$P"
wait_port "$PM" 5 >/dev/null

ST=/proc/$GW_PID/status
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$2"; }
echo "privdrop: $(grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' "$ST" | tr -s '\t' ' ' | tr '\n' '|')" >&2
U=$(field Uid "$ST" | tr -s ' \t' ' ') G=$(field Gid "$ST" | tr -s ' \t' ' ')
if [ "$U" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] &&
	[ "$G" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" ]; then
	pass uid-gid-nobody
else
	fail uid-gid-nobody "Uid: $U, Gid: $G; want $NOBODY_UID/$NOBODY_GID everywhere"
fi
caps_zero=1
for k in CapInh CapPrm CapEff CapBnd CapAmb; do
	[ "$(field $k "$ST")" = 0000000000000000 ] || caps_zero=0
done
if [ $caps_zero = 1 ] && [ "$(field NoNewPrivs "$ST")" = 1 ]; then
	pass no-capabilities-no-new-privs
else
	fail no-capabilities-no-new-privs "$(grep -E '^(Cap|NoNewPrivs)' "$ST" | tr -s '\t' ' ' | tr '\n' '|')"
fi
# Worker and endpoint threads start after the drop: each one shows it too.
bad=
for t in /proc/"$GW_PID"/task/*/status; do
	[ "$(field Uid "$t" | awk '{print $1}')" = "$NOBODY_UID" ] &&
		[ "$(field CapEff "$t")" = 0000000000000000 ] || bad="$bad $t"
done
NT=$(ls /proc/"$GW_PID"/task | wc -l)
if [ -z "$bad" ] && [ "$NT" -ge 4 ]; then pass every-thread-dropped; else
	fail every-thread-dropped "$NT threads; not dropped:$bad"; fi
if grep -qE '^Max core file size +0 +0 ' "/proc/$GW_PID/limits"; then pass no-core-dumps; else
	fail no-core-dumps "$(grep 'core file' "/proc/$GW_PID/limits")"; fi

check serves-tls-as-nobody curl -sSf --max-time 10 --cacert "$C/ca.pem" \
	"https://localhost:$P/v2/vectordb/collections/list"
check serves-metrics-as-nobody curl -sSf --max-time 5 -o /dev/null "http://127.0.0.1:$PM/metrics"

# Reload as nobody: the root-owned 0600 key cannot be read.
log_mark
kill -HUP "$GW_PID"
if log_since_wait 'reload \(SIGHUP\) failed: keeping the current certificates' 5 &&
	log_since | grep -q 'server.key'; then
	pass root-only-key-reload-fails-keeps-old
	log_since | grep -m 1 'server.key' | sed 's/^/privdrop: log: /' >&2
else
	fail root-only-key-reload-fails-keeps-old "log: $(log_since | tail -n 2 | tr '\n' '|')"
fi
check still-serves-after-failed-reload curl -sSf --max-time 10 --cacert "$C/ca.pem" \
	"https://localhost:$P/v2/vectordb/collections/list"
chown nobody "$C/server.key" "$C/server.pem"
log_mark
kill -HUP "$GW_PID"
if log_since_wait 'reload \(SIGHUP\): new certificates in use' 5; then
	pass key-owned-by-user-reloads
else
	fail key-owned-by-user-reloads "log: $(log_since | tail -n 2 | tr '\n' '|')"
fi
check_clean_exit
exit 0
