# SPDX-License-Identifier: MIT
# Shared by bench/run.sh, bench/overhead.sh and tests/integ/60-bench-smoke.sh
# (sourced): certificates, the config of each proxy under test (one core, as
# its documentation recommends), starting and stopping them pinned to a CPU.
# Every process started is recorded in $BT/pids and killed by bench_cleanup.
# shellcheck shell=bash

: "${KTLSGW:?set KTLSGW to the ktlsgw binary}"
: "${BT:?set BT to a scratch directory}"
: >>"$BT/pids"
PROXY_CPU=${PROXY_CPU:-0}

bench_cleanup() {
	local pid
	while read -r pid; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done <"$BT/pids"
	sleep 0.3
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	done <"$BT/pids"
	: >"$BT/pids"
}

# pick_port: a free TCP port below the ephemeral range, not handed out yet.
pick_port() {
	local p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		grep -qx "$p" "$BT/ports" 2>/dev/null && continue
		ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null | grep -q . && continue
		echo "$p" >>"$BT/ports"
		echo "$p"
		return 0
	done
	return 1
}

# wait_listen PORT [SECS] [PID]: until something listens on PORT (or PID exits).
wait_listen() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && break
		sleep 0.05
	done
	echo "wait_listen: nothing on port $1" >&2
	return 1
}

# bench_certs DIR: DIR/ec and DIR/rsa, each with ca.pem, server.{pem,key},
# client.{pem,key} and server.combined.pem (key + chain, for HAProxy and
# hitch). Made by `ktlsgw cert gen` when it works, else the openssl CLI.
bench_certs() {
	local d=$1 kind
	for kind in ec rsa; do
		mkdir -p "$d/$kind"
		if ! "$KTLSGW" cert gen --dir "$d/$kind" --key-type "$kind" --force \
			>"$d/$kind.log" 2>&1; then
			echo "bench_certs: ktlsgw cert gen failed; using openssl" >&2
			openssl_certs "$d/$kind" "$kind" || return 1
		fi
		cat "$d/$kind/server.key" "$d/$kind/server.pem" >"$d/$kind/server.combined.pem"
		chmod 600 "$d/$kind/server.combined.pem"
		openssl verify -CAfile "$d/$kind/ca.pem" -purpose sslserver "$d/$kind/server.pem" \
			>/dev/null || return 1
	done
}

# openssl_certs DIR ec|rsa: the same files with the openssl CLI.
openssl_certs() {
	local d=$1 alg=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) n eku
	[ "$2" = rsa ] && alg=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048)
	(umask 077 && openssl genpkey "${alg[@]}" -out "$d/ca.key") 2>/dev/null || return 1
	openssl req -x509 -new -key "$d/ca.key" -days 3650 -subj "/CN=ktlsgw bench CA" \
		-addext basicConstraints=critical,CA:TRUE -out "$d/ca.pem" 2>/dev/null || return 1
	for n in server client; do
		eku=serverAuth
		[ $n = client ] && eku=clientAuth
		(umask 077 && openssl genpkey "${alg[@]}" -out "$d/$n.key") 2>/dev/null || return 1
		printf 'extendedKeyUsage=%s\nsubjectAltName=DNS:localhost\n' $eku >"$d/$n.ext"
		openssl req -new -key "$d/$n.key" -subj "/CN=localhost" 2>/dev/null |
			openssl x509 -req -days 3650 -CA "$d/ca.pem" -CAkey "$d/ca.key" \
				-CAcreateserial -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null ||
			return 1
	done
}

# --- configs: TARGET_conf DIR PORT UPORT CERTDIR MTLS(0|1) -> file path -----------

ktlsgw_conf() {	# mode in $KTLSGW_MODE (0, 1, 2)
	local f=$1/ktlsgw.yaml
	cat >"$f" <<-EOF
	gateway:
	  listeners:
	    - name: bench
	      bind: 127.0.0.1:$2
	      upstream: 127.0.0.1:$3
	      tlsMode: $KTLSGW_MODE
	  workers: 1
	  logLevel: warn
	tls: {serverPemPath: $4/server.pem, serverKeyPath: $4/server.key, caPemPath: $4/ca.pem}
	common: {security: {tlsMode: $KTLSGW_MODE}}
	EOF
	echo "$f"
}

# HAProxy: one thread, TCP mode; `ssl crt` on the bind line (docs: "ssl" bind
# option), the shared session cache and tickets at their defaults.
haproxy_conf() {
	local f=$1/haproxy.cfg ssl=""
	[ "${HAPROXY_PLAIN:-0}" = 1 ] || ssl="ssl crt $4/server.combined.pem"
	[ "$5" = 1 ] && ssl="$ssl ca-file $4/ca.pem verify required"
	cat >"$f" <<-EOF
	global
	    nbthread 1
	    maxconn $(( ($(ulimit -n) - 100) / 2 ))
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 120s
	    timeout server 120s
	frontend bench
	    bind 127.0.0.1:$2 $ssl
	    default_backend up
	backend up
	    server s1 127.0.0.1:$3
	EOF
	echo "$f"
}

# nginx: one worker process (worker_processes = cores), stream module + ssl,
# shared session cache as its docs recommend. nginx 1.22 leaves TLS 1.3 out of
# its default ssl_protocols, so the protocols are named, as for every peer.
nginx_conf() {
	local f=$1/nginx.conf verify=""
	[ "$5" = 1 ] && verify="ssl_verify_client on; ssl_client_certificate $4/ca.pem;"
	cat >"$f" <<-EOF
	load_module /usr/lib/nginx/modules/ngx_stream_module.so;
	daemon off;
	worker_processes 1;
	worker_rlimit_nofile 100000;
	pid $1/nginx.pid;
	error_log $1/nginx.err warn;
	events { worker_connections 60000; }
	stream {
	    ssl_session_cache shared:SSL:10m;
	    server {
	        listen 127.0.0.1:$2 ssl;
	        ssl_protocols TLSv1.2 TLSv1.3;
	        ssl_certificate $4/server.pem;
	        ssl_certificate_key $4/server.key;
	        $verify
	        proxy_pass 127.0.0.1:$3;
	    }
	}
	EOF
	echo "$f"
}

# stunnel: its manual's TCP_NODELAY socket options for interactive traffic.
stunnel_conf() {
	local f=$1/stunnel.conf verify=""
	[ "$5" = 1 ] && verify=$'verifyChain = yes\nrequireCert = yes\nCAfile = '"$4/ca.pem"
	cat >"$f" <<-EOF
	foreground = yes
	pid =
	syslog = no
	output = $1/stunnel.log
	debug = 3
	socket = l:TCP_NODELAY=1
	socket = r:TCP_NODELAY=1
	[bench]
	accept = 127.0.0.1:$2
	connect = 127.0.0.1:$3
	cert = $4/server.pem
	key = $4/server.key
	$verify
	EOF
	echo "$f"
}

# hitch: workers = number of cores (its example config), so 1.
hitch_conf() {
	local f=$1/hitch.conf verify=""
	[ "$5" = 1 ] && verify=$'client-verify = required\nclient-verify-ca = "'"$4/ca.pem"'"'
	cat >"$f" <<-EOF
	frontend = "[127.0.0.1]:$2"
	backend = "[127.0.0.1]:$3"
	pem-file = "$4/server.combined.pem"
	workers = 1
	daemon = off
	user = "nobody"
	group = "nogroup"
	ocsp-dir = "$1"
	tls-protos = TLSv1.2 TLSv1.3
	$verify
	EOF
	echo "$f"
}

# --- life cycle --------------------------------------------------------------

# start_target NAME PORT UPORT CERTDIR MTLS: the proxy NAME pinned to
# $PROXY_CPU; sets TPIDS (comma list of its processes) and TLOG.
# NAME: ktlsgw-m0|ktlsgw-m1|ktlsgw-m2|haproxy|haproxy-tcp|nginx|stunnel|hitch.
start_target() {
	local name=$1 port=$2 up=$3 cd=$4 mtls=$5 d=$BT/$1 conf pid i kids
	mkdir -p "$d"
	TLOG=$d/log
	case $name in
	ktlsgw-m*)
		conf=$(KTLSGW_MODE=${name#ktlsgw-m} ktlsgw_conf "$d" "$port" "$up" "$cd")
		taskset -c "$PROXY_CPU" "$KTLSGW" run -c "$conf" >"$TLOG" 2>&1 &
		;;
	haproxy | haproxy-tcp)
		conf=$(HAPROXY_PLAIN=$([ $name = haproxy-tcp ] && echo 1) haproxy_conf "$d" "$port" \
			"$up" "$cd" "$mtls")
		taskset -c "$PROXY_CPU" haproxy -db -f "$conf" >"$TLOG" 2>&1 &
		;;
	nginx)
		conf=$(nginx_conf "$d" "$port" "$up" "$cd" "$mtls")
		taskset -c "$PROXY_CPU" nginx -c "$conf" -p "$d" >"$TLOG" 2>&1 &
		;;
	stunnel)
		conf=$(stunnel_conf "$d" "$port" "$up" "$cd" "$mtls")
		taskset -c "$PROXY_CPU" stunnel "$conf" >"$TLOG" 2>&1 &
		;;
	hitch)
		conf=$(hitch_conf "$d" "$port" "$up" "$cd" "$mtls")
		taskset -c "$PROXY_CPU" hitch --config="$conf" >"$TLOG" 2>&1 &
		;;
	*)
		echo "start_target: unknown target $name" >&2
		return 1
		;;
	esac
	pid=$!
	echo "$pid" >>"$BT/pids"
	TPID=$pid
	if ! wait_listen "$port" 10 "$pid" || ! kill -0 "$pid" 2>/dev/null; then
		echo "start_target $name: not up; log:" >&2
		tail -n 20 "$TLOG" >&2
		stop_target
		return 1
	fi
	# master + workers: the children that exist once the port is open.
	for ((i = 0; i < 20; i++)); do
		kids=$(pgrep -P "$pid" | tr '\n' ',')
		case $name in nginx | hitch) [ -n "$kids" ] && break ;; *) break ;; esac
		sleep 0.05
	done
	TPIDS=$pid${kids:+,${kids%,}}
}

# stop_target: SIGTERM the last started target (SIGKILL after 5 s).
stop_target() {
	local pid=$TPID i
	[ -n "$pid" ] || return 0
	TPID=
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# nginx and hitch children leave with their master; give them a moment.
	sleep 0.1
	return 0
}

# start_upstream: the plaintext upstream pinned to $LOAD_CPU, listeners
# rr, sink and source on free ports; sets UP_RR UP_SINK UP_SOURCE UP_PID.
start_upstream() {
	local i line
	UP_RR=$(pick_port) && UP_SINK=$(pick_port) && UP_SOURCE=$(pick_port) || return 1
	taskset -c "${LOAD_CPU:-1}" "$UPSTREAM" -l "rr:$UP_RR" -l "sink:$UP_SINK" \
		-l "source:$UP_SOURCE" --req "${REQ:-3100}" --resp "${RESP:-1500}" \
		>"$BT/upstream.out" 2>&1 &
	UP_PID=$!
	echo "$UP_PID" >>"$BT/pids"
	for ((i = 0; i < 100; i++)); do
		line=$(head -n 1 "$BT/upstream.out" 2>/dev/null)
		[ "${line%% *}" = READY ] && return 0
		sleep 0.05
	done
	echo "start_upstream: not ready: $(cat "$BT/upstream.out")" >&2
	return 1
}

# version_of NAME: the version string of a peer, for the report.
version_of() {
	case $1 in
	ktlsgw*) "$KTLSGW" --version 2>&1 | head -n 1 ;;
	haproxy*) haproxy -v 2>&1 | head -n 1 | awk '{print "HAProxy " $3}' ;;
	nginx) nginx -v 2>&1 | sed 's/.*: //' ;;
	stunnel) stunnel -version 2>&1 | grep -m1 '^stunnel' | awk '{print "stunnel " $2}' ;;
	hitch) hitch --version 2>&1 | head -n 1 ;;
	direct) echo "no proxy" ;;
	esac
}
