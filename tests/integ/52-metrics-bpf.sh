#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel-fed metrics through the real gateway: known connections and bytes
# in tlsMode 0, 1 and 2 (a client counting its own wire bytes, a sink
# upstream) give exact connection and byte counts per mode and leg, TLS
# overhead within framing bounds; the BPF program and its cgroup are gone
# after exit; `bpf: off` serves the same names, fed from userspace, with the
# same figures; `ktlsgw stats` shows the counts; without privilege `auto`
# falls back and `on` refuses to start. Needs root (BPF) and bpftool.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v bpftool >/dev/null; then
	skip all "needs root and bpftool (BPF programs)"
	exit 0
fi

C=$TMP/cert
make_certs "$C" || { fail certs "cannot make certificates"; exit 0; }
start_fake sink sink --mode sink || { fail fake-start "sink did not start"; exit 0; }
U=$FAKE_PORT
P0=$(free_port) P1=$(free_port) P2=$(free_port)
L="$(listener plain "$P0" "$U" 'tlsMode: 0')
$(listener oneway "$P1" "$U" 'tlsMode: 1')
$(listener mutual "$P2" "$U" 'tlsMode: 2')"

# Traffic: per mode, N connections each sending S bytes then half-closing;
# the sink answers "<n> <sha256>\n". The client counts every byte it puts on
# and takes off the wire (TLS through memory BIOs), so the gateway's
# client-leg figures can be checked exactly. Prints one JSON object.
cat >"$TMP/traffic.py" <<'EOF'
import json, random, socket, ssl, sys
cdir, ports = sys.argv[1], [int(p) for p in sys.argv[2:5]]
PLAN = {0: (3, 70000), 1: (4, 100000), 2: (5, 50000)}

def plain(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    ans = b""
    while True:
        b = s.recv(65536)
        if not b: break
        ans += b
    s.close()
    return len(data), len(ans), ans

def tls(port, data, mode):
    ctx = ssl.create_default_context(cafile=cdir + "/ca.pem")
    if mode == 2:
        ctx.load_cert_chain(cdir + "/client.pem", cdir + "/client.key")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, out, server_hostname="localhost")
    w = {"sent": 0, "recv": 0}
    def flush():
        d = out.read()
        if d: s.sendall(d); w["sent"] += len(d)
    def fill():
        d = s.recv(65536)
        if not d: inc.write_eof(); return False
        inc.write(d); w["recv"] += len(d); return True
    while True:
        try:
            o.do_handshake(); break
        except ssl.SSLWantReadError:
            flush()
            if not fill(): raise SystemExit("EOF in handshake")
    flush()
    o.write(data); flush()
    s.shutdown(socket.SHUT_WR)
    ans = b""
    while True:
        try:
            b = o.read(65536)
            if not b: break
            ans += b
        except ssl.SSLWantReadError:
            if not fill(): break
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    while fill():
        pass
    s.close()
    return w["sent"], w["recv"], ans

res = {}
for mode, (n, size) in PLAN.items():
    r = {"conns": n, "payload_out": 0, "payload_in": 0, "wire_out": 0, "wire_in": 0}
    for i in range(n):
        data = random.Random(mode * 100 + i).randbytes(size)
        if mode == 0:
            so, si, ans = plain(ports[mode], data)
        else:
            so, si, ans = tls(ports[mode], data, mode)
        if not ans.startswith(b"%d " % size):
            raise SystemExit("mode %d: bad answer %r" % (mode, ans[:80]))
        r["payload_out"] += size; r["payload_in"] += len(ans)
        r["wire_out"] += so; r["wire_in"] += si
    res[str(mode)] = r
print(json.dumps(res))
EOF

# Checks: reads a scrape and the traffic JSON; prints result lines for tests/run.sh.
cat >"$TMP/check.py" <<'EOF'
import json, re, sys
suite, tag, metrics, traffic, want_bpf = sys.argv[1:6]
t = json.load(open(traffic))
S = {}
for line in open(metrics):
    m = re.match(r'^([a-z_]+)(\{[^}]*\})? (\S+)$', line.strip())
    if m: S[(m.group(1), m.group(2) or "")] = float(m.group(3))
LST = {"0": "plain", "1": "oneway", "2": "mutual"}
def v(name, mode, **kw):
    lab = '{tls_mode="%s",listener="%s"' % (mode, LST[mode])
    for k, x in kw.items(): lab += ',%s="%s"' % (k, x)
    return S.get((name, lab + "}"))
def res(case, ok, why):
    print(("PASS %s/%s-%s" % (suite, tag, case)) if ok else ("FAIL %s/%s-%s: %s" % (suite, tag, case, why)))
bpf = S.get(("ktlsgw_bpf_enabled", ""))
res("bpf-enabled", bpf == float(want_bpf), "ktlsgw_bpf_enabled %s, want %s" % (bpf, want_bpf))
for mode, r in sorted(t.items()):
    n = r["conns"]
    got = [v(k, mode, leg=leg) for leg in ("client", "upstream")
           for k in ("ktlsgw_connections_total", "ktlsgw_connections_closed_total")]
    act = [v("ktlsgw_active_connections", mode, leg=leg) for leg in ("client", "upstream")]
    res("conns-mode%s" % mode, got == [n] * 4 and act == [0, 0],
        "opened/closed client, upstream %s active %s, want %d and 0" % (got, act, n))
    c_in = v("ktlsgw_bytes_total", mode, leg="client", direction="client_to_upstream")
    c_out = v("ktlsgw_bytes_total", mode, leg="client", direction="upstream_to_client")
    u_out = v("ktlsgw_bytes_total", mode, leg="upstream", direction="client_to_upstream")
    u_in = v("ktlsgw_bytes_total", mode, leg="upstream", direction="upstream_to_client")
    res("upstream-bytes-mode%s" % mode, (u_out, u_in) == (r["payload_out"], r["payload_in"]),
        "upstream leg sent %s received %s, want %d %d (plaintext)" % (u_out, u_in, r["payload_out"], r["payload_in"]))
    res("client-bytes-mode%s" % mode, (c_in, c_out) == (r["wire_out"], r["wire_in"]),
        "client leg received %s sent %s, the client counted %d %d on the wire" % (c_in, c_out, r["wire_out"], r["wire_in"]))
    if mode == "0":
        continue
    # TLS framing: per record 22 (TLS 1.3 AEAD: 5 header + 16 tag + 1 type)
    # .. 29 bytes (TLS 1.2 GCM: 5 + 8 nonce + 16 tag), records of <= 16 KiB,
    # plus the handshake (certificate chain, tickets): < 8 KiB a connection.
    recs = -(-r["payload_out"] // 16384) if r["payload_out"] else 0
    over = (c_in or 0) - (u_out or 0)
    ok = c_in is not None and c_in >= u_out and 22 * recs <= over <= 29 * recs + 8192 * n + 0.05 * u_out
    res("overhead-bound-mode%s" % mode, ok, "client->gateway ciphertext %s vs plaintext %s: overhead %s for %d records, %d conns" % (c_in, u_out, over, recs, n))
    hs = v("ktlsgw_handshakes_total", mode, offload="userspace")
    res("handshakes-mode%s" % mode, hs == n, "handshakes %s, want %d" % (hs, n))
    cnt = v("ktlsgw_handshake_duration_seconds_count", mode)
    res("hs-duration-mode%s" % mode, cnt == n, "duration count %s, want %d" % (cnt, n))
# the same series names and label sets, whatever the source
names = sorted({k[0] + re.sub(r'="[^"]*"', "", k[1]) for k in S})
open(metrics + ".names", "w").write("\n".join(names) + "\n")
EOF

# run_case TAG BPF: gateway with gateway.bpf BPF, traffic, checks, stats.
run_case() {
	local tag=$1 bpf=$2 out rc cg
	PM=$(free_port)
	write_config "$TMP/$tag.yaml" "$C" 1 false "$L" "  metrics: 127.0.0.1:$PM
  bpf: $bpf"
	gateway_or_exit "$TMP/$tag.yaml" "$P0" "$P1" "$P2" "$PM"
	cg=$(awk -F: '$1 == 0 { print $3 }' "/proc/$GW_PID/cgroup")
	CG_PATH=
	if [ "$bpf" = on ]; then
		CG_PATH=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)$cg
		PROG_IDS=$(bpftool cgroup show "$CG_PATH" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $1 }')
		BPF_PID=$GW_PID
		if [[ $cg == */ktlsgw-$GW_PID ]] && [ "$(wc -w <<<"$PROG_IDS")" -ge 2 ]; then
			pass "$tag-cgroup-attached"
		else
			fail "$tag-cgroup-attached" "cgroup $cg, programs: $(tr '\n' ' ' <<<"$PROG_IDS")"
		fi
	fi
	if ! timeout -k 2 60 "$PY" "$TMP/traffic.py" "$C" "$P0" "$P1" "$P2" >"$TMP/$tag.json" 2>"$TMP/$tag.err"; then
		fail "$tag-traffic" "$(tail -n 1 "$TMP/$tag.err")"
		return
	fi
	pass "$tag-traffic"
	# The gateway closes its sockets just after the clients: poll until idle.
	for _ in $(seq 50); do
		curl -sf --max-time 5 -o "$TMP/$tag.prom" "http://127.0.0.1:$PM/metrics"
		grep -Eq '^ktlsgw_active_connections\{.*\} [1-9]' "$TMP/$tag.prom" || break
		sleep 0.1
	done
	"$PY" "$TMP/check.py" "$SUITE" "$tag" "$TMP/$tag.prom" "$TMP/$tag.json" \
		"$([ "$bpf" = on ] && echo 1 || echo 0)"
	if command -v promtool >/dev/null; then
		check "$tag-promtool" sh -c "promtool check metrics <'$TMP/$tag.prom'"
	fi
	out=$("$KTLSGW" stats -c "$TMP/$tag.yaml" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && grep -Eq '^0 \(plain\) +3 +0 ' <<<"$out" &&
		grep -Eq '^1 \(one-way TLS\) +4 +0 ' <<<"$out" &&
		grep -Eq '^2 \(mutual TLS\) +5 +0 ' <<<"$out"; then
		pass "$tag-stats"
		printf '%s\n' "$out" >&2
	else
		fail "$tag-stats" "exit $rc: $(printf '%s\n' "$out" | head -n 4 | tr '\n' '|')"
	fi
	check_clean_exit
}

run_case bpf on
if [ -n "$CG_PATH" ]; then
	left=
	[ -e "$CG_PATH" ] && left="cgroup $CG_PATH still exists; "
	bpftool cgroup tree 2>/dev/null | grep -qF "/ktlsgw-$BPF_PID" &&
		left+="bpftool cgroup tree still lists ktlsgw-$BPF_PID; "
	for id in $PROG_IDS; do
		bpftool prog show id "$id" >/dev/null 2>&1 && left+="program $id still loaded; "
	done
	if [ -z "$left" ] && [ -n "$PROG_IDS" ]; then pass detached-on-exit; else fail detached-on-exit "${left:-no program ids recorded}"; fi
fi
run_case nobpf off
if [ -s "$TMP/bpf.prom.names" ] && cmp -s "$TMP/bpf.prom.names" "$TMP/nobpf.prom.names"; then
	pass same-names-bpf-off
else
	fail same-names-bpf-off "$(diff "$TMP/bpf.prom.names" "$TMP/nobpf.prom.names" 2>&1 | head -n 4 | tr '\n' '|')"
fi

# Without privilege (nobody, no capabilities): auto falls back, on refuses.
if command -v setpriv >/dev/null; then
	D=$TMP/unpriv
	mkdir -p "$D"
	chmod 755 "$TMP" "$D"
	PA=$(free_port) PM=$(free_port)
	for b in auto on; do
		write_config "$D/$b.yaml" "$C" 0 false "$(listener plain "$PA" "$U")" "  metrics: 127.0.0.1:$PM
  bpf: $b"
	done
	chmod 644 "$D"/*.yaml
	NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all)
	out=$(cd / && timeout 10 "${NOBODY[@]}" "$KTLSGW" run -c "$D/on.yaml" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qi 'bpf' <<<"$out"; then
		pass unpriv-bpf-on-refuses
		echo "unpriv-bpf-on-refuses: $(grep -i bpf <<<"$out" | head -n 1)" >&2
	else
		fail unpriv-bpf-on-refuses "exit $rc: $(tail -n 1 <<<"$out")"
	fi
	GW_N=$((GW_N + 1))
	GW_LOG=$TMP/gateway.$GW_N.log
	(cd / && exec "${NOBODY[@]}" "$KTLSGW" run -c "$D/auto.yaml") >"$GW_LOG" 2>&1 &
	GW_PID=$!
	track_pid "$GW_PID"
	if wait_port "$PA" $((5 * SLOW)) && wait_port "$PM" $((5 * SLOW)); then
		curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$PA/" -d x 2>/dev/null
		sleep 0.2
		body=$(curl -sf --max-time 5 "http://127.0.0.1:$PM/metrics")
		n=$(grep -ci 'bpf' "$GW_LOG")
		if grep -qx 'ktlsgw_bpf_enabled 0' <<<"$body" && [ "$n" -eq 1 ] &&
			grep -q '^ktlsgw_connections_total{tls_mode="0",listener="plain",leg="client"} 1$' <<<"$body"; then
			pass unpriv-bpf-auto-falls-back
			echo "unpriv-bpf-auto-falls-back: $(grep -i bpf "$GW_LOG")" >&2
		else
			fail unpriv-bpf-auto-falls-back "bpf log lines $n, $(grep -E '^ktlsgw_(bpf|connections_total)' <<<"$body" | head -n 2 | tr '\n' '|')"
		fi
	else
		fail unpriv-bpf-auto-falls-back "gateway did not start: $(tail -n 1 "$GW_LOG")"
	fi
	check_clean_exit
else
	skip unpriv "setpriv not installed"
fi
