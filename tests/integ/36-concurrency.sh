#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 500 concurrent connections through the gateway (all open at once, then one
# request each, every answer checked) in tlsMode 1 and 0; parallel gRPC
# clients; a listener's maxConnections; and the gateway's fd count back to
# its baseline afterwards.
. "$(dirname "$0")/lib.sh"

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake rest rest || { fail fake-start "fake REST server did not start"; exit 0; }
R=$FAKE_PORT
start_fake grpc grpc || { fail fake-start "fake gRPC server did not start"; exit 0; }
G=$FAKE_PORT
P1=$(free_port) P0=$(free_port) PG=$(free_port) PL=$(free_port)
L="$(listener rest1 "$P1" "$R")
$(listener rest0 "$P0" "$R" 'tlsMode: 0')
$(listener grpc "$PG" "$G")
$(listener limited "$PL" "$R" 'maxConnections: 10')"
# 500 handshakes from one Python thread against an ASan build can take
# longer than the suite's usual 2 s handshake timeout: use the default.
HANDSHAKE_TIMEOUT=10s write_config "$TMP/gw.yaml" "$C" 1 false "$L" "  drainTimeout: 2s"
gateway_or_exit "$TMP/gw.yaml" "$P1" "$P0" "$PG" "$PL"

LIST=/v2/vectordb/collections/list
# Warm up every path once, then take the baseline.
curl -sSf --max-time 10 --cacert "$C/ca.pem" -o /dev/null "https://localhost:$P1$LIST"
curl -sSf --max-time 10 -o /dev/null "http://localhost:$P0$LIST"
grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" >/dev/null
sleep 0.3
BASE=$(fd_count "$GW_PID")

check concurrent-500-tls timeout -k 2 60 "$PY" "$FAKES/many_clients.py" "$P1" -n 500 \
	--cafile "$C/ca.pem"
check concurrent-500-plain timeout -k 2 60 "$PY" "$FAKES/many_clients.py" "$P0" -n 500

# 16 pymilvus-style clients at once, 20 calls each.
pids=()
for i in $(seq 1 16); do
	grpc_call "$PG" --mode 1 --server-pem "$C/server.pem" --count 20 --size 10000 \
		>"$TMP/g$i.out" 2>&1 &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { bad=$((bad + 1)); tail -n 1 "$TMP/g$((i + 1)).out" >&2; }
done
if [ $bad -eq 0 ]; then
	pass grpc-16-clients-parallel
else
	fail grpc-16-clients-parallel "$bad of 16 grpc clients failed"
fi

# Over a listener's maxConnections a new connection is closed at once.
check listener-max-connections "$PY" "$FAKES/badclient.py" over-limit "$PL" -n 10 \
	--cafile "$C/ca.pem" --within 1

check_fds fds-back-to-baseline "$BASE" 5
if gw_alive; then pass still-up; else fail still-up "gateway died"; fi
check_clean_exit
exit 0
