#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The deployment files under conf/deploy (systemd, Docker Compose, Milvus
# Operator, Helm) cannot run here: no Docker engine, no Kubernetes. They are
# parsed and checked instead: every YAML file parses; the ktlsgw configs in
# them pass `ktlsgw check`; the facts that tie the files together hold (ports,
# addresses, volumes, timeouts, key modes); the systemd unit passes
# `systemd-analyze verify` and its offline security review.
set -u
KTLSGW=${KTLSGW:?set KTLSGW to the ktlsgw binary}
case $KTLSGW in /*) ;; *) KTLSGW=$PWD/$KTLSGW ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
D=$root/conf/deploy
T=integ/70-deploy
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ktlsgw-70-deploy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS $T/$1"; }
fail() { echo "FAIL $T/$1: $2"; }
skip() { echo "SKIP $T/$1: $2"; }

# --- YAML side (python3-yaml) --------------------------------------------------
# deploy.py parse|extract|facts: prints PASS/FAIL lines itself; `extract`
# also writes the ktlsgw configs for `ktlsgw check` below.
cat >"$tmp/deploy.py" <<'PYEOF'
import ipaddress, os, re, sys
import yaml

T = "integ/70-deploy"
ROOT = sys.argv[2]
D = os.path.join(ROOT, "conf/deploy")
failed = []


def report(case, problems):
    if problems:
        print("FAIL %s/%s: %s" % (T, case, "; ".join(problems)))
    else:
        print("PASS %s/%s" % (T, case))


def load(rel):
    with open(os.path.join(D, rel)) as f:
        return yaml.safe_load(f)


def dig(node, *keys):
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(text).strip())
    if not m:
        raise ValueError("bad duration %r" % text)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


def endpoint(text):
    host, _, port = str(text).rpartition(":")
    return host.strip("[]"), int(port)


# The ktlsgw configs: name -> (file, how to get the text out of it).
SOURCES = {
    "systemd": ("systemd/ktlsgw.yaml", None),
    "compose": ("compose/ktlsgw.yaml", None),
    "k8s-configmap": ("k8s/ktlsgw-configmap.yaml", ("data", "ktlsgw.yaml")),
    "helm-values": ("k8s/helm/values.yaml", ("extraConfigFiles", "ktlsgw.yaml")),
}
CERT_KEYS = [("tls", "serverPemPath"), ("tls", "serverKeyPath"), ("tls", "caPemPath"),
             ("tls", "crlPemPath"), ("internaltls", "caPemPath")]
CERT_FILES = {"server.pem", "server.key", "ca.pem"}


def config_text(name):
    rel, path = SOURCES[name]
    with open(os.path.join(D, rel)) as f:
        text = f.read()
    if path is None:
        return text
    text = dig(yaml.safe_load(text), *path)
    if not isinstance(text, str):
        raise ValueError("%s has no string at %s" % (rel, ".".join(path)))
    return text


def gw(name):
    return yaml.safe_load(config_text(name))


def cmd_parse():
    found = 0
    for dirpath, _, files in sorted(os.walk(D)):
        for fn in sorted(files):
            if not fn.endswith((".yaml", ".yml")):
                continue
            rel = os.path.relpath(os.path.join(dirpath, fn), D)
            found += 1
            try:
                with open(os.path.join(dirpath, fn)) as f:
                    docs = [d for d in yaml.safe_load_all(f) if d is not None]
                report("yaml/" + rel, [] if docs else ["no YAML document"])
            except yaml.YAMLError as e:
                report("yaml/" + rel, [str(e).replace("\n", " ")])
    report("yaml/found", [] if found >= 9 else ["only %d YAML files under conf/deploy" % found])


def cmd_extract(outdir, certdir):
    """Writes OUT/NAME.yaml with every certificate path moved to CERTDIR (the
    configs name /etc/ktlsgw/tls/... or /certs/..., which do not exist here)
    and OUT/NAME.orig.yaml untouched; prints NAME and the expected summary
    line of each listener for the shell."""
    for name in SOURCES:
        try:
            text = config_text(name)
            cfg = yaml.safe_load(text)
            problems = []
            for sec, key in CERT_KEYS:
                p = dig(cfg, sec, key)
                if p is None:
                    continue
                if not os.path.isabs(p) or os.path.basename(p) not in CERT_FILES:
                    problems.append("%s.%s: %r is not an absolute path to one of %s"
                                    % (sec, key, p, sorted(CERT_FILES)))
                    continue
                text = text.replace(p, os.path.join(certdir, os.path.basename(p)))
            if problems:
                report("check/" + name, problems)
                continue
            with open(os.path.join(outdir, name + ".yaml"), "w") as f:
                f.write(text)
            with open(os.path.join(outdir, name + ".orig.yaml"), "w") as f:
                f.write(config_text(name))
            lines = ["%s: %s -> %s" % (l["name"], l["bind"], l["upstream"])
                     for l in cfg["gateway"]["listeners"]]
            print("\t".join(["CONFIG", name] + lines))
        except Exception as e:
            report("check/" + name, ["cannot extract: %s" % e])


def listener(cfg, name):
    for l in cfg["gateway"]["listeners"]:
        if l["name"] == name:
            return l
    raise KeyError("no listener %r" % name)


def upstreams(l):
    """(protocol or None, host, port) of every upstream of a listener."""
    out = [(None,) + endpoint(l["upstream"])]
    for proto, ep in (l.get("alpnUpstreams") or {}).items():
        out.append((proto,) + endpoint(ep))
    return out


def check_compose():
    p = []
    c = load("compose/docker-compose.yml")
    svc = c.get("services", {})
    if set(svc) != {"etcd", "minio", "standalone", "ktlsgw"}:
        p.append("services are %s, expected etcd minio standalone ktlsgw" % sorted(svc))
        return report("compose/structure", p)
    k, s = svc["ktlsgw"], svc["standalone"]
    for name, prefix in (("etcd", "quay.io/coreos/etcd:"), ("minio", "minio/minio:"),
                         ("standalone", "milvusdb/milvus:")):
        if not str(svc[name].get("image", "")).startswith(prefix):
            p.append("%s image %r is not %s*" % (name, svc[name].get("image"), prefix))
    if s.get("command") != ["milvus", "run", "standalone"]:
        p.append("standalone command %r" % s.get("command"))
    if s.get("ports"):
        p.append("standalone publishes %s: Milvus must be reachable only via ktlsgw"
                 % s["ports"])
    if sorted(map(str, k.get("ports", []))) != ["19530:19530", "8080:8080"]:
        p.append("ktlsgw publishes %s, expected 19530:19530 and 8080:8080" % k.get("ports"))
    if k.get("command") != ["run", "-c", "/etc/ktlsgw/ktlsgw.yaml"]:
        p.append("ktlsgw command %r" % k.get("command"))
    # SRC:DST:MODE, where SRC may hold a colon of its own (${VAR:-.})
    kvol = [str(v).rsplit(":", 2) for v in k.get("volumes", [])]
    want = {"/etc/ktlsgw/tls": "/tls", "/etc/ktlsgw/ktlsgw.yaml": "/ktlsgw.yaml"}
    for dst, src in want.items():
        if not any(len(v) == 3 and v[1] == dst and v[0].endswith(src) and v[2] == "ro"
                   for v in kvol):
            p.append("ktlsgw lacks a read-only mount of .%s at %s" % (src, dst))
    if not any(str(v).endswith("/milvus.yaml:/milvus/configs/user.yaml:ro")
               for v in s.get("volumes", [])):
        p.append("standalone does not mount ./milvus.yaml at /milvus/configs/user.yaml")
    if "ALL" not in (k.get("cap_drop") or []):
        p.append("ktlsgw does not drop all capabilities")
    b = k.get("build") or {}
    df = os.path.normpath(os.path.join(D, "compose", b.get("context", "."),
                                       b.get("dockerfile", "Dockerfile")))
    if os.path.normpath(os.path.join(D, "compose", b.get("context", "."))) != ROOT:
        p.append("build context %r is not the repository root" % b.get("context"))
    if not os.path.isfile(df):
        p.append("build dockerfile %s does not exist" % df)
    report("compose/structure", p)

    # Addresses and ports: ktlsgw -> Milvus' fixed address and ports.
    p = []
    cfg, mv = gw("compose"), load("compose/milvus.yaml")
    net = dig(c, "networks", "default", "ipam", "config")
    ip = dig(s, "networks", "default", "ipv4_address")
    try:
        subnet = ipaddress.ip_network(net[0]["subnet"])
        if ipaddress.ip_address(ip) not in subnet:
            p.append("standalone %s is outside %s" % (ip, subnet))
    except Exception as e:
        p.append("no fixed address for standalone in a declared subnet (%s)" % e)
    grpc_port, rest_port = dig(mv, "proxy", "port"), dig(mv, "proxy", "http", "port")
    for lname, h2_port in (("grpc", grpc_port), ("rest", rest_port)):
        for proto, host, port in upstreams(listener(cfg, lname)):
            want_port = rest_port if proto == "http/1.1" or lname == "rest" else h2_port
            if host != ip or port != want_port:
                p.append("listener %s%s -> %s:%s, Milvus is %s:%s"
                         % (lname, " " + proto if proto else "", host, port, ip, want_port))
    published = sorted(int(x.split(":")[1]) for x in map(str, k.get("ports", [])))
    binds = sorted(endpoint(l["bind"])[1] for l in cfg["gateway"]["listeners"])
    if published != binds:
        p.append("published container ports %s != ktlsgw bind ports %s" % (published, binds))
    if dig(mv, "common", "security", "tlsMode") != 0:
        p.append("Milvus' own tlsMode must be 0 behind the gateway")
    report("compose/addresses", p)

    drain, grace = seconds(cfg["gateway"]["drainTimeout"]), seconds(k.get("stop_grace_period", "10s"))
    report("compose/drain", [] if grace > drain else
           ["stop_grace_period %ss <= drainTimeout %ss: Docker would SIGKILL a drain" % (grace, drain)])

    p = []
    with open(df) as f:
        dtext = f.read()
    if not re.search(r"^FROM debian:12\b", dtext, re.M):
        p.append("no FROM debian:12 stage")
    if not re.search(r"^RUN .*\bmake\b", dtext, re.M | re.S):
        p.append("does not build with make")
    if "COPY --from=build /src/build/ktlsgw /usr/local/bin/ktlsgw" not in dtext:
        p.append("does not copy build/ktlsgw into the image")
    for src in re.findall(r"^COPY (?!--from)(\S+)", dtext, re.M):
        if not os.path.exists(os.path.join(ROOT, src)):
            p.append("COPY %s: not in the repository" % src)
    report("compose/dockerfile", p)


def unit(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def check_systemd():
    p = []
    u = unit(os.path.join(D, "systemd/ktlsgw.service"))
    cfg = gw("systemd")
    want = {"Type": ["simple"],
            "ExecStart": ["/usr/local/bin/ktlsgw run -c /etc/ktlsgw/ktlsgw.yaml"],
            "ExecReload": ["/bin/kill -HUP $MAINPID"], "KillSignal": ["SIGTERM"],
            "NoNewPrivileges": ["yes"], "ProtectSystem": ["strict"], "ProtectHome": ["yes"],
            "PrivateTmp": ["yes"], "CapabilityBoundingSet": ["CAP_NET_BIND_SERVICE"],
            "AmbientCapabilities": ["CAP_NET_BIND_SERVICE"]}
    for k, v in want.items():
        if u.get(k) != v:
            p.append("%s=%s, expected %s" % (k, u.get(k), v))
    if not any("/etc/ktlsgw" in v for v in u.get("ReadOnlyPaths", [])):
        p.append("ReadOnlyPaths does not cover /etc/ktlsgw")
    if int(u.get("LimitNOFILE", ["0"])[0]) < 4 * int(cfg["gateway"]["maxConnections"]):
        p.append("LimitNOFILE %s is below 4 fds per connection" % u.get("LimitNOFILE"))
    stop, drain = seconds(u["TimeoutStopSec"][0]), seconds(cfg["gateway"]["drainTimeout"])
    if stop <= drain:
        p.append("TimeoutStopSec %ss <= drainTimeout %ss" % (stop, drain))
    if cfg["gateway"].get("user"):
        p.append("gateway.user is set, but systemd already runs it as User=ktlsgw")
    report("systemd/unit", p)

    p = []
    b = unit(os.path.join(D, "systemd/ktlsgw.service.d/bpf.conf"))
    caps = set(" ".join(b.get("CapabilityBoundingSet", [])).split())
    if caps != {"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"}:
        p.append("bpf.conf capabilities %s" % sorted(caps))
    if set(" ".join(b.get("AmbientCapabilities", [])).split()) != caps:
        p.append("bpf.conf ambient capabilities differ from its bounding set")
    if b.get("Delegate") != ["yes"] or b.get("ProtectControlGroups") != ["no"]:
        p.append("bpf.conf must delegate the cgroup and unprotect it")
    report("systemd/bpf-dropin", p)


def secret_mode_ok(vol, p, where):
    mode = dig(vol, "secret", "defaultMode")
    if mode is None or mode & 0o077:
        p.append("%s: Secret defaultMode %s leaves server.key readable by group/other "
                 "(ktlsgw refuses it)" % (where, oct(mode) if mode is not None else "unset (0644)"))


def check_sidecar(case, ct, volumes, cfg, cfg_volume, cfg_key, milvus_conf, ports):
    """The ktlsgw container against its pod: volumes, config path, ports."""
    p = []
    if ct is None:
        return report(case, ["no container named ktlsgw"])
    args = ct.get("args") or []
    if args[:2] != ["run", "-c"] or len(args) != 3:
        return report(case, ["args %r, expected run -c FILE" % args])
    mounts = {m["name"]: m for m in ct.get("volumeMounts", [])}
    for name, m in mounts.items():
        if name not in volumes:
            p.append("mount %s has no volume in the pod" % name)
        if not m.get("readOnly"):
            p.append("mount %s is not readOnly" % name)
        if m.get("subPath"):
            p.append("mount %s uses subPath: updates never reach it" % name)
    cm = mounts.get(cfg_volume)
    if not cm or os.path.join(cm["mountPath"], cfg_key) != args[2]:
        p.append("-c %s is not key %s of volume %s" % (args[2], cfg_key, cfg_volume))
    certs = mounts.get("certs")
    if not certs:
        p.append("certs volume not mounted")
    else:
        secret_mode_ok(volumes.get("certs", {}), p, case)
        for sec, key in CERT_KEYS:
            path = dig(cfg, sec, key)
            if path and os.path.dirname(path) != certs["mountPath"].rstrip("/"):
                p.append("%s.%s %s is not under the certs mount %s"
                         % (sec, key, path, certs["mountPath"]))
    sc = ct.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False or \
            "ALL" not in (dig(sc, "capabilities", "drop") or []):
        p.append("securityContext must drop ALL capabilities and privilege escalation")
    # Milvus moved off the client ports; ktlsgw owns them and forwards there.
    gp, hp = dig(milvus_conf, "proxy", "port"), dig(milvus_conf, "proxy", "http", "port")
    if dig(milvus_conf, "common", "security", "tlsMode") != 0:
        p.append("Milvus' own tlsMode must be 0 behind the gateway")
    binds = sorted(endpoint(l["bind"])[1] for l in cfg["gateway"]["listeners"])
    if binds != sorted(ports):
        p.append("ktlsgw binds %s, the Service targets %s" % (binds, sorted(ports)))
    for l in cfg["gateway"]["listeners"]:
        for proto, host, port in upstreams(l):
            want = hp if proto == "http/1.1" or l["name"] == "rest" else gp
            if (host, port) != ("127.0.0.1", want):
                p.append("listener %s -> %s:%s, Milvus is 127.0.0.1:%s" % (l["name"], host, port, want))
    if gp in ports or hp in ports:
        p.append("Milvus still listens on a port ktlsgw binds (%s, %s)" % (gp, hp))
    declared = [x.get("containerPort") for x in ct.get("ports", [])]
    if any(x in ports for x in declared):
        p.append("sidecar declares %s: the Service has those ports already" % declared)
    mport = endpoint(cfg["gateway"]["metrics"])[1]
    if mport not in declared:
        p.append("metrics port %s is not a declared container port" % mport)
    report(case, p)


def check_k8s():
    cm = load("k8s/ktlsgw-configmap.yaml")
    cr = load("k8s/operator/milvus.yaml")
    p = []
    if (cr.get("apiVersion"), cr.get("kind")) != ("milvus.io/v1beta1", "Milvus"):
        p.append("not a milvus.io/v1beta1 Milvus: %s %s" % (cr.get("apiVersion"), cr.get("kind")))
    if dig(cr, "spec", "mode") != "cluster":
        p.append("spec.mode is not cluster: no proxy component")
    report("operator/cr", p)
    proxy = dig(cr, "spec", "components", "proxy") or {}
    vols = {v["name"]: v for v in proxy.get("volumes", [])}
    cmvol = dig(vols, "ktlsgw-config", "configMap", "name")
    cmname = dig(cm, "metadata", "name")
    ct = next((c for c in proxy.get("sidecars", []) if c.get("name") == "ktlsgw"), None)
    ports = [proxy.get("port") or 19530] + ([proxy["serviceRestfulPort"]]
                                           if proxy.get("serviceRestfulPort") else [])
    if cmvol != cmname:
        report("operator/sidecar", ["volume ktlsgw-config names ConfigMap %r, the ConfigMap "
                                    "is %r" % (cmvol, cmname)])
    else:
        check_sidecar("operator/sidecar", ct, vols, gw("k8s-configmap"), "ktlsgw-config",
                      "ktlsgw.yaml", dig(cr, "spec", "config"), ports)

    v = load("k8s/helm/values.yaml")
    kz = load("k8s/helm/ktlsgw-sidecar/kustomization.yaml")
    patch = load("k8s/helm/ktlsgw-sidecar/sidecar-patch.yaml")
    plugin = load("k8s/helm/ktlsgw-sidecar/plugin.yaml")
    p = []
    if dig(v, "cluster", "enabled") is not True:
        p.append("cluster.enabled is not true: no proxy Deployment")
    pt = (kz.get("patches") or [{}])[0]
    if pt.get("path") != "sidecar-patch.yaml" or dig(pt, "target", "kind") != "Deployment" or \
            "component=proxy" not in str(dig(pt, "target", "labelSelector")):
        p.append("kustomization does not patch the proxy Deployment with sidecar-patch.yaml")
    if plugin.get("type") != "postrenderer/v1" or "post-render.sh" not in \
            str(dig(plugin, "runtimeConfig", "platformCommand")):
        p.append("plugin.yaml is not a postrenderer running post-render.sh")
    if not os.access(os.path.join(D, "k8s/helm/ktlsgw-sidecar/post-render.sh"), os.X_OK):
        p.append("post-render.sh is not executable")
    report("helm/post-renderer", p)
    # The chart defines volume milvus-config (its ConfigMap, one file per
    # extraConfigFiles key) and sends Service port 19530 to container port 19530.
    vols = {x["name"]: x for x in dig(v, "proxy", "volumes") or []}
    vols["milvus-config"] = {"configMap": {"name": "<release>-milvus"}}
    cts = dig(patch, "spec", "template", "spec", "containers") or []
    ct = next((c for c in cts if c.get("name") == "ktlsgw"), None)
    user = yaml.safe_load(dig(v, "extraConfigFiles", "user.yaml") or "") or {}
    check_sidecar("helm/sidecar", ct, vols, gw("helm-values"), "milvus-config", "ktlsgw.yaml",
                  user, [19530, 8080])
    d = seconds(gw("helm-values")["gateway"]["drainTimeout"])
    report("helm/drain", [] if d < 30 else
           ["drainTimeout %ss >= the chart pods' 30 s grace period" % d])

    a, b = gw("k8s-configmap"), gw("helm-values")
    report("k8s/same-config", [] if a == b else
           ["the ConfigMap's and the Helm values' ktlsgw configs differ"])


if sys.argv[1] == "parse":
    cmd_parse()
elif sys.argv[1] == "extract":
    cmd_extract(sys.argv[3], sys.argv[4])
else:
    for name, fn in (("compose", check_compose), ("systemd", check_systemd), ("k8s", check_k8s)):
        try:
            fn()
        except Exception as e:
            print("FAIL %s/%s: %s: %s" % (T, name, type(e).__name__, e))
PYEOF

mkdir -p "$tmp/cert" "$tmp/cfg"
have_yaml=1
if ! [ -x "$PY" ] || ! "$PY" -c 'import yaml' 2>/dev/null; then
	have_yaml=0
fi
if [ $have_yaml = 1 ]; then
	"$PY" "$tmp/deploy.py" parse "$root"
	"$PY" "$tmp/deploy.py" facts "$root"
else
	skip yaml "$PY with python3-yaml is missing (make deps installs python3-yaml)"
fi

# --- ktlsgw check on the embedded configs ---------------------------------------
# The configs point at /etc/ktlsgw/tls/... or /certs/..., which do not exist on
# this machine: `ktlsgw cert gen` makes the three files they name in a temp
# dir, and deploy.py rewrites only those paths to it before the check.
if [ $have_yaml = 1 ]; then
	if ! "$KTLSGW" cert gen --dir "$tmp/cert" >"$tmp/gen.out" 2>&1; then
		fail check "ktlsgw cert gen failed: $(tail -n 1 "$tmp/gen.out")"
	else
		"$PY" "$tmp/deploy.py" extract "$root" "$tmp/cfg" "$tmp/cert" >"$tmp/extract.out"
		grep -E '^(PASS|FAIL) ' "$tmp/extract.out"
		while IFS=$'\t' read -r -a row; do
			[ "${row[0]}" = CONFIG ] || continue
			name=${row[1]}
			out=$tmp/cfg/$name.out
			timeout 20 "$KTLSGW" check -c "$tmp/cfg/$name.yaml" >"$out" 2>&1
			rc=$?
			if [ $rc -ne 0 ]; then
				fail "check/$name" "exit $rc: $(grep -v '^ ' "$out" | head -n 3 | tr '\n' ' ')"
				continue
			fi
			missing=
			for l in "${row[@]:2}"; do
				grep -qF -- "$l" "$out" || missing="$missing '$l'"
			done
			if [ -n "$missing" ]; then
				fail "check/$name" "summary lacks$missing"
			elif ! grep -qx OK "$out"; then
				fail "check/$name" "no OK line: $(tail -n 2 "$out" | tr '\n' ' ')"
			else
				pass "check/$name"
			fi
		done <"$tmp/extract.out"
		# Negative control: unrewritten, the same config must fail on its
		# missing certificate files (the check above is not vacuous).
		if [ -f "$tmp/cfg/systemd.orig.yaml" ]; then
			timeout 20 "$KTLSGW" check -c "$tmp/cfg/systemd.orig.yaml" >"$tmp/orig.out" 2>&1
			rc=$?
			if [ $rc -eq 1 ] && grep -qF "tls.serverPemPath: cannot read '/etc/ktlsgw/tls/server.pem'" "$tmp/orig.out"; then
				pass check/unrewritten-paths-fail
			else
				fail check/unrewritten-paths-fail "exit $rc: $(head -n 2 "$tmp/orig.out" | tr '\n' ' ')"
			fi
		fi
	fi
fi

# --- the image: every shared library the binary needs is installed -------------
# Maps each library of $KTLSGW to its Debian package and looks for it in the
# runtime stage's apt-get line (or the debian:12-slim base).
df=$D/compose/Dockerfile
if ! command -v ldd >/dev/null || ! command -v dpkg-query >/dev/null; then
	skip compose/image-libs "ldd or dpkg-query missing"
elif [ ! -f "$df" ]; then
	fail compose/image-libs "$df missing"
else
	runtime=$(sed -n '/^FROM debian:12-slim/,$p' "$df" | tr '\\\n' '  ')
	# ... and what those packages pull in (libbpf1 -> libelf1, zlib1g)
	for w in $runtime; do
		case $w in lib*) runtime="$runtime $(dpkg-query -W -f='${Depends} ${Pre-Depends}' "$w" 2>/dev/null | tr ',|' '  ')" ;; esac
	done
	missing=
	while read -r lib; do
		path=$(readlink -f "$lib")
		pkg=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || pkg=$(dpkg-query -S "$lib" 2>/dev/null | head -n 1 | cut -d: -f1)
		case $pkg in
		libc6 | libgcc-s1 | zlib1g) ;;	# in debian:12-slim already
		'') missing="$missing $lib(no package)" ;;
		*) grep -qw -- "$pkg" <<<"$runtime" || missing="$missing $lib($pkg)" ;;
		esac
	done < <(ldd "$KTLSGW" | awk '$3 ~ /^\// { print $3 }')
	if [ -n "$missing" ]; then
		fail compose/image-libs "not installed by the runtime stage:$missing"
	else
		pass compose/image-libs
	fi
fi

# The build stage with exactly what the Dockerfile copies: `make build/ktlsgw`
# in a directory holding only those paths (the packages of `make deps` are on
# this machine already). Compiler-bound, so only in the plain build's run.
case $KTLSGW in
*san*) skip compose/dockerfile-build "checked in the plain build's run" ;;
*)
	ctx=$tmp/context
	mkdir -p "$ctx"
	srcs=$(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$df" 2>/dev/null)
	for s in $srcs; do cp -a "$root/$s" "$ctx/" || break; done
	if [ -z "$srcs" ]; then
		fail compose/dockerfile-build "no COPY lines in $df"
	elif ! (cd "$ctx" && timeout 240 make -j"$(nproc)" BUILD=build build/ktlsgw) >"$tmp/ctx.log" 2>&1; then
		fail compose/dockerfile-build "make build/ktlsgw failed: $(tail -n 2 "$tmp/ctx.log" | tr '\n' ' ')"
	elif ! "$ctx/build/ktlsgw" --version | grep -q '^ktlsgw '; then
		fail compose/dockerfile-build "the binary does not run"
	else
		pass compose/dockerfile-build
	fi
	;;
esac

# --- systemd -------------------------------------------------------------------
# `systemd-analyze verify` needs ExecStart's binary to exist: the unit is
# copied with /usr/local/bin/ktlsgw pointed at a temp copy of $KTLSGW. Any
# warning it prints counts as a failure (unknown keys are only warnings).
sd=$tmp/systemd
mkdir -p "$sd/bin" "$sd/units" "$sd/with-bpf/ktlsgw.service.d"
cp "$KTLSGW" "$sd/bin/ktlsgw"
sed "s#/usr/local/bin/ktlsgw#$sd/bin/ktlsgw#g" "$D/systemd/ktlsgw.service" >"$sd/units/ktlsgw.service"
cp "$sd/units/ktlsgw.service" "$sd/with-bpf/ktlsgw.service"
cp "$D/systemd/ktlsgw.service.d/bpf.conf" "$sd/with-bpf/ktlsgw.service.d/"

# verify CASE UNITDIR: the unit (and its drop-ins) load without a word.
verify() {
	local out rc
	out=$(SYSTEMD_UNIT_PATH="$2:" timeout 30 systemd-analyze verify "$2/ktlsgw.service" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		pass "$1"
	else
		fail "$1" "exit $rc: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
	fi
}
if ! command -v systemd-analyze >/dev/null; then
	for c in verify verify-bpf-dropin verify-catches-errors security security-bpf-dropin; do
		skip "systemd/$c" "systemd-analyze is not installed (package systemd)"
	done
else
	verify systemd/verify "$sd/units"
	verify systemd/verify-bpf-dropin "$sd/with-bpf"
	# The verifier does fail: the same unit with a missing binary and a typo.
	mkdir -p "$sd/broken"
	sed -e 's#^ExecStart=.*#ExecStart=/nonexistent/ktlsgw run#' -e 's#^NoNewPrivileges=#NoNewPrivilege=#' \
		"$sd/units/ktlsgw.service" >"$sd/broken/ktlsgw.service"
	out=$(SYSTEMD_UNIT_PATH="$sd/broken:" timeout 30 systemd-analyze verify "$sd/broken/ktlsgw.service" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -q 'is not executable' <<<"$out" && grep -q "Unknown key" <<<"$out"; then
		pass systemd/verify-catches-errors
	else
		fail systemd/verify-catches-errors "exit $rc, output: $(head -n 2 <<<"$out" | tr '\n' ' ')"
	fi

	# security CASE UNITDIR WANT...: the offline review marks each WANT
	# ("✓ Setting" or "✗ Setting"; ✓ = hardened) for the unit as installed.
	security() {
		local c=$1 dir=$2 out w missing=
		shift 2
		out=$(SYSTEMD_UNIT_PATH="$dir:" timeout 30 systemd-analyze security --offline=yes \
			"$dir/ktlsgw.service" 2>&1)
		for w in "$@"; do
			grep -qF -- "$w " <<<"$out" || missing="$missing '$w'"
		done
		if [ -n "$missing" ]; then
			fail "$c" "review lacks$missing: $(grep -F 'Overall' <<<"$out")"
		else
			pass "$c"
		fi
	}
	if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
		skip systemd/security "systemd-analyze security has no --offline (systemd < 250)"
		skip systemd/security-bpf-dropin "systemd-analyze security has no --offline (systemd < 250)"
	else
		security systemd/security "$sd/units" \
			"✓ CapabilityBoundingSet=~CAP_SYS_ADMIN" "✓ CapabilityBoundingSet=~CAP_BPF" \
			"✓ CapabilityBoundingSet=~CAP_NET_ADMIN" "✓ NoNewPrivileges=" "✓ ProtectSystem=" \
			"✓ ProtectHome=" "✓ PrivateTmp=" "✓ User=/DynamicUser=" "✓ ProtectControlGroups=" \
			"✓ ProtectKernelModules=" "✓ SystemCallFilter=~@mount"
		security systemd/security-bpf-dropin "$sd/with-bpf" \
			"✗ CapabilityBoundingSet=~CAP_BPF" "✗ CapabilityBoundingSet=~CAP_NET_ADMIN" \
			"✓ CapabilityBoundingSet=~CAP_SYS_ADMIN" "✗ Delegate=" "✓ NoNewPrivileges=" \
			"✓ User=/DynamicUser="
	fi
fi

# --- tools that are not on this machine: run them when they are --------------
hs=$D/k8s/helm/ktlsgw-sidecar
if ! sh -n "$hs/post-render.sh" 2>"$tmp/sh.err"; then
	fail helm/post-render-syntax "$(head -n 1 "$tmp/sh.err")"
else
	pass helm/post-render-syntax
fi
# With kustomize (or kubectl): Deployments shaped like the chart's proxy and
# query node (labels and volumes as the chart renders them) go through the
# post-renderer; the proxy must come out with the ktlsgw container, every
# volume it mounts present, and the query node untouched.
if ! command -v kustomize >/dev/null && ! command -v kubectl >/dev/null; then
	skip helm/post-render "neither kustomize nor kubectl is installed: the post-renderer was not run"
elif [ $have_yaml = 0 ]; then
	skip helm/post-render "$PY with python3-yaml is missing"
else
	cat >"$tmp/chart.yaml" <<'EOY'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-release-milvus-proxy
  labels: {app.kubernetes.io/name: milvus, app.kubernetes.io/instance: my-release, component: proxy}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: milvus, app.kubernetes.io/instance: my-release, component: proxy}
  template:
    metadata:
      labels: {app.kubernetes.io/name: milvus, app.kubernetes.io/instance: my-release, component: proxy}
    spec:
      containers:
        - name: proxy
          image: milvusdb/milvus:v2.6.15
          args: [milvus, run, proxy]
      volumes:
        - name: milvus-config
          configMap: {name: my-release-milvus}
        - name: tools
          emptyDir: {}
        - name: certs
          secret: {secretName: certs, defaultMode: 256}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-release-milvus-querynode
  labels: {app.kubernetes.io/name: milvus, app.kubernetes.io/instance: my-release, component: querynode}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: milvus, component: querynode}
  template:
    metadata:
      labels: {app.kubernetes.io/name: milvus, component: querynode}
    spec:
      containers:
        - name: querynode
          image: milvusdb/milvus:v2.6.15
EOY
	if ! timeout 60 "$hs/post-render.sh" <"$tmp/chart.yaml" >"$tmp/rendered.yaml" 2>"$tmp/rendered.err"; then
		fail helm/post-render "post-render.sh failed: $(head -n 2 "$tmp/rendered.err" | tr '\n' ' ')"
	else
		"$PY" - "$tmp/rendered.yaml" <<'PYEOF'
import sys, yaml
docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
p = []
proxy = docs.get("my-release-milvus-proxy", {}).get("spec", {}).get("template", {}).get("spec", {})
names = sorted(c["name"] for c in proxy.get("containers", []))
if names != ["ktlsgw", "proxy"]:
    p.append("proxy pod containers %s, expected ktlsgw and proxy" % names)
vols = {v["name"] for v in proxy.get("volumes", [])}
for c in proxy.get("containers", []):
    for m in c.get("volumeMounts", []):
        if m["name"] not in vols:
            p.append("%s mounts %s, which the pod lacks" % (c["name"], m["name"]))
ann = docs.get("my-release-milvus-proxy", {}).get("spec", {}).get("template", {}) \
    .get("metadata", {}).get("annotations", {})
if ann.get("kubectl.kubernetes.io/default-container") != "proxy":
    p.append("kubectl's default container is not proxy")
qn = docs.get("my-release-milvus-querynode", {}).get("spec", {}).get("template", {}).get("spec", {})
if [c["name"] for c in qn.get("containers", [])] != ["querynode"]:
    p.append("the query node was changed: %s" % qn.get("containers"))
print("FAIL integ/70-deploy/helm/post-render: " + "; ".join(p) if p else
      "PASS integ/70-deploy/helm/post-render")
PYEOF
	fi
fi
if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
	if (cd "$D/compose" && timeout 60 docker compose config -q) >"$tmp/compose.out" 2>&1; then
		pass compose/config
	else
		fail compose/config "$(head -n 2 "$tmp/compose.out" | tr '\n' ' ')"
	fi
else
	skip compose/config "no docker compose here: docker-compose.yml checked by structure only"
fi
exit 0
