#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real gateway in the kTLS VM: ktlsgw (gateway.ktls: on) with a plaintext echo upstream
# (tlsMode 1 and 2) and a TLS echo upstream (internal TLS), driven by vm_gw_peer for TLS 1.2/1.3
# x AES-128-GCM/AES-256-GCM/CHACHA20-POLY1305: N bytes each way with equal SHA-256, close_notify
# both ways, a client KeyUpdate, a client alert, and the close_notify the gateway's drainTimeout
# sends through kTLS after SIGTERM. Offload is asserted from /proc/net/tls_stat
# deltas AND the gateway's access line (path=ktls). Then the negative control: the same guest
# without tls.ko (ktls: auto) must fail every offload assertion while the payload still flows,
# and ktls: on must refuse to start. Usage: gateway.sh VMDIR (BUILD and the binaries from run.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:?}
dir=${1:?usage: gateway.sh VMDIR}
bytes=${KTLSGW_VM_GW_BYTES:-$((16 << 20))}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The files the guest sees under /gw: certificates and the config template.
make_files() {
	local f=$work/gw

	mkdir -p "$f"
	"$build/ktlsgw" cert gen --dir "$f/cert" --san IP:127.0.0.1 >/dev/null || return 1
	cat >"$f/gw.yaml.in" <<-'EOF'
	gateway:
	  listeners:
	    - name: m1
	      bind: 127.0.0.1:8441
	      upstream: 127.0.0.1:9000
	      tlsMode: 1
	    - name: m2
	      bind: 127.0.0.1:8442
	      upstream: 127.0.0.1:9000
	      tlsMode: 2
	      minVersion: "1.2"
	    - name: it
	      bind: 127.0.0.1:8443
	      upstream: 127.0.0.1:9443
	      tlsMode: 1
	      internaltlsEnabled: true
	    - name: web
	      bind: 127.0.0.1:8444
	      upstream: 127.0.0.1:9080
	      tlsMode: 1
	  ktls: KTLS
	  workers: 1
	  idleTimeout: 60s
	  drainTimeout: 2s
	  logLevel: info
	  accessLog: true
	tls:
	  serverPemPath: /gw/cert/server.pem
	  serverKeyPath: /gw/cert/server.key
	  caPemPath: /gw/cert/ca.pem
	internaltls:
	  caPemPath: /gw/cert/ca.pem
	  sni: localhost
	EOF
}

# The guest script: helpers, then one line per cell (plan appends them).
guest_head() {
	cat <<-'EOF'
	P=/bin/vm_gw_peer C=/gw/cert
	tls_stat() {
		awk '$1=="TlsTxSw"{t=$2} $1=="TlsRxSw"{r=$2} END{print (t+0)" "(r+0)}' \
			/proc/net/tls_stat 2>/dev/null || echo "0 0"
	}
	n_access() { grep -c ' access ' /tmp/gw.log; }
	start_gw() {
		sed "s/KTLS/$1/" /gw/gw.yaml.in >/tmp/gw.yaml
		/bin/ktlsgw run -c /tmp/gw.yaml >>/tmp/gw.log 2>&1 &
		GW=$!
		i=0
		while ! grep -q 'running' /tmp/gw.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		grep -m1 'ktls' /tmp/gw.log | sed 's/^/GWLOG /'
	}
	# on_refuses: without tls.ko, gateway.ktls: on must exit non-zero and say what to load.
	on_refuses() {
		sed "s/KTLS/on/" /gw/gw.yaml.in >/tmp/on.yaml
		timeout 20 /bin/ktlsgw run -c /tmp/on.yaml >/tmp/on.log 2>&1
		rc=$?
		if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'modprobe tls' /tmp/on.log; then
			echo "RESULT gw/on-refuses ok exit $rc: $(grep -m1 ktls /tmp/on.log)"
		else
			echo "RESULT gw/on-refuses fail exit $rc: $(tail -n 1 /tmp/on.log)"
		fi
	}
	# cell NAME PORT SIDES WHAT PEER_ARGS...: one client run; SIDES = gateway TLS sides
	# (+ 1 when the client itself offloads, mode alert); WHAT = the log line to expect.
	cell() {
		name=$1 port=$2 sides=$3 what=$4
		begin
		timeout 120 $P client --port $port --cell $name $PEERARGS 2>&1
		check_offload
	}
	# curl_cell NAME CURL_ARGS...: a 16 MiB download by curl through the web listener.
	curl_cell() {
		name=$1 sides=1 what=data
		shift
		begin
		got=$(timeout 120 curl -sS --cacert $C/ca.pem "$@" https://localhost:8444/blob | sha256sum)
		want=$(sha256sum </tmp/www/blob)
		[ "$got" = "$want" ] && echo "RESULT $name/data ok sha256 ${got%% *}" ||
			echo "RESULT $name/data fail got ${got%% *} want ${want%% *}"
		check_offload
	}
	# drain_cell NAME PEER_ARGS...: a client that stays open while the gateway gets SIGTERM; the
	# gateway exits after it, so this is the last cell.
	drain_cell() {
		name=$1 sides=1 what=drain
		shift
		begin
		timeout 60 $P client --port 8441 --cell $name --mode drain "$@" >/tmp/drain.out 2>&1 &
		peer=$!
		i=0
		while ! grep -q READY /tmp/drain.out && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
		kill -TERM $GW
		wait $peer
		grep RESULT /tmp/drain.out
		wait $GW
		check_offload
	}
	begin() {
		set -- $(tls_stat)
		tx0=$1 rx0=$2
		a0=$(n_access)
	}
	check_offload() {
		i=0
		while [ "$(n_access)" -le "$a0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		set -- $(tls_stat)
		dtx=$(($1 - tx0)) drx=$(($2 - rx0))
		line=$(grep ' access ' /tmp/gw.log | tail -n 1)
		path=$(echo "$line" | grep -oE 'path=[a-z]+( ktls="[^"]*")?')
		want='ktls="client:tx+rx"'
		[ "$sides" -ge 2 ] && [ "$what" != alert ] && want='ktls="client:tx+rx upstream:tx+rx"'
		if [ "$dtx" = "$sides" ] && [ "$drx" = "$sides" ] && echo "$line" | grep -q "path=ktls $want"; then
			echo "RESULT $name/offload ok TlsTxSw+$dtx TlsRxSw+$drx $path"
		else
			echo "RESULT $name/offload fail TlsTxSw+$dtx TlsRxSw+$drx (want +$sides) $path"
		fi
		case $what in
		keyupdate) grep -q 'KeyUpdate; this kernel cannot rekey kTLS RX' /tmp/gw.log ;;
		alert) grep -q 'sent TLS alert level=2 desc=10: closing' /tmp/gw.log ;;
		drain) grep -q 'drainTimeout reached' /tmp/gw.log && echo "$line" | grep -q 'end="drain timeout"' ;;
		*) true ;;
		esac && echo "RESULT $name/log ok $(echo "$line" | grep -o 'end="[^"]*"')" ||
			echo "RESULT $name/log fail no $what line; access: $line"
	}
	EOF
}

# emit NAME PORT SIDES WHAT CHECKS PEER_ARGS...: a cell line and its expected markers.
emit() {
	local name=$1 port=$2 sides=$3 what=$4 checks=$5 c
	shift 5
	echo "PEERARGS=\"$*\" cell $name $port $sides $what" >>"$work/test.sh"
	for c in $checks offload; do
		echo "$name/$c" >>"$work/expect"
	done
	[ "$what" = data ] || echo "$name/log" >>"$work/expect"
}

plan() {
	local v c m port sides mtls

	guest_head >"$work/test.sh"
	: >"$work/expect"
	echo '$P echo --port 9000 >/dev/null & sleep 0.3; start_gw on' >>"$work/test.sh"
	echo 'mkdir -p /tmp/www; head -c '"$bytes"' /dev/urandom >/tmp/www/blob' >>"$work/test.sh"
	echo 'httpd -p 127.0.0.1:9080 -h /tmp/www' >>"$work/test.sh"
	for m in m1 m2 it; do
		for v in 1.2 1.3; do
			for c in aes128gcm aes256gcm chacha20; do
				port=8441 sides=1 mtls=
				[ $m = m2 ] && port=8442 mtls='--cert $C/client.pem --key $C/client.key'
				if [ $m = it ]; then
					port=8443 sides=2
					echo "\$P tls-echo --port 9443 --tls $v --cipher $c" \
						"--cert \$C/server.pem --key \$C/server.key >/dev/null & UP=\$!;" \
						"sleep 0.3" >>"$work/test.sh"
				fi
				emit "gw-$m-tls${v/./}-$c" $port $sides data "data close_notify" \
					--tls $v --cipher $c --bytes "$bytes" --ca '$C/ca.pem' $mtls
				[ $m = it ] && echo 'kill $UP; wait $UP 2>/dev/null' >>"$work/test.sh"
			done
		done
	done
	echo 'curl_cell gw-curl-tls13-aes256gcm --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384' \
		>>"$work/test.sh"
	echo 'curl_cell gw-curl-tls12-chacha20 --tlsv1.2 --tls-max 1.2 --ciphers' \
		'ECDHE-ECDSA-CHACHA20-POLY1305' >>"$work/test.sh"
	printf '%s\n' gw-curl-tls13-aes256gcm/{data,offload} gw-curl-tls12-chacha20/{data,offload} \
		>>"$work/expect"
	emit gw-m1-tls13-aes128gcm-keyupdate 8441 1 keyupdate keyupdate \
		--tls 1.3 --cipher aes128gcm --mode keyupdate --bytes 1048576
	emit gw-m1-tls12-aes256gcm-alert 8441 2 alert alert \
		--tls 1.2 --cipher aes256gcm --mode alert --bytes 1048576
	emit gw-m1-tls13-chacha20-alert 8441 2 alert alert \
		--tls 1.3 --cipher chacha20 --mode alert --bytes 1048576
	echo 'drain_cell gw-m1-tls13-aes128gcm-drain --tls 1.3 --cipher aes128gcm --bytes 65536' \
		'--ca $C/ca.pem' >>"$work/test.sh"
	printf '%s\n' gw-m1-tls13-aes128gcm-drain/{data,drain,offload,log} >>"$work/expect"
	echo 'grep -c " access " /tmp/gw.log | sed "s/^/GWACCESS /"' >>"$work/test.sh"
	echo 'tail -n 5 /tmp/gw.log | sed "s/^/GWLOG /"' >>"$work/test.sh"
}

# Without tls.ko: ktls: auto, the data still flows, every offload marker fails; ktls: on refuses.
negative() {
	local out=$work/neg.out total neg data
	local bins=("$build/ktlsgw" "$build/tests/vm_gw_peer" "$(command -v curl)")

	sed -e 's/--bytes [0-9]*/--bytes 1048576/' -e 's/head -c [0-9]*/head -c 1048576/' \
		-e 's/start_gw on$/on_refuses; start_gw auto/' \
		"$work/test.sh" >"$work/test-neg.sh"
	grep -E '/(offload|data)$' "$work/expect" >"$work/expect.neg"
	echo "gw/on-refuses" >>"$work/expect.neg"
	"$here/run-vm.sh" --dir "$dir" --mods notls --script "$work/test-neg.sh" --prefix vm-gw-neg \
		--expect "$work/expect.neg" --log "$build/vm-gw-console-notls.log" \
		--files "$work/gw" "${bins[@]}" >"$out"
	total=$(grep -c '/offload$' "$work/expect.neg")
	neg=$(grep -c '^FAIL vm-gw-neg/.*/offload: ' "$out")
	data=$(grep -c '^PASS vm-gw-neg/.*/data$' "$out")
	if [ "$neg" -eq "$total" ] && grep -q '^PASS vm-gw-neg/gw/on-refuses' "$out" &&
		[ "$data" -eq "$(grep -c '/data$' "$work/expect.neg")" ] &&
		grep -q '^VMDONE' "$build/vm-gw-console-notls.log"; then
		echo "PASS vm/gw-negative-control: without tls.ko all $total gateway offload" \
			"assertions failed, $data userspace transfers passed, ktls: on refused to start"
		return 0
	fi
	echo "FAIL vm/gw-negative-control: $neg of $total offload assertions failed," \
		"$data data transfers passed without tls.ko"
	sed 's/^/    | /' "$out"
	return 1
}

main() {
	local start fails=0

	for b in "$build/ktlsgw" "$build/tests/vm_gw_peer"; do
		[ -x "$b" ] || { echo "FAIL vm/gw-build: $b not built"; return 1; }
	done
	command -v curl >/dev/null || { echo "SKIP vm/gw: curl not installed"; return 0; }
	make_files || { echo "FAIL vm/gw-build: cannot make certificates"; return 1; }
	plan
	start=$(date +%s)
	"$here/run-vm.sh" --dir "$dir" --mods full --script "$work/test.sh" --prefix vm \
		--expect "$work/expect" --log "$build/vm-gw-console.log" --files "$work/gw" \
		"$build/ktlsgw" "$build/tests/vm_gw_peer" "$(command -v curl)" || fails=1
	echo "# vm: gateway run took $(($(date +%s) - start)) s (console: $build/vm-gw-console.log)" >&2
	start=$(date +%s)
	negative || fails=1
	echo "# vm: gateway negative control took $(($(date +%s) - start)) s" >&2
	return $fails
}

main
