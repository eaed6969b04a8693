#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Turns the raw lines of bench/run.sh (one loadgen key=value line per round,
# target and test) into the markdown report: medians over rounds, ratios to
# the best peer, the issue-6 targets met or missed, and gnuplot PNG charts.
# usage: report.py RAW OUT.md   (charts are written next to OUT.md)
import os
import shlex
import statistics
import subprocess
import sys

PEERS = ["haproxy", "nginx", "stunnel", "hitch"]
ORDER = ["direct", "ktlsgw-m0", "haproxy-tcp", "ktlsgw-m1", "ktlsgw-m2"] + PEERS


def parse(path):
    runs, versions, machine = {}, {}, {}
    for line in open(path):
        kv = dict(tok.split("=", 1) for tok in shlex.split(line)[1:] if "=" in tok) \
            if line.startswith(("machine", "version")) else \
            dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        if line.startswith("machine"):
            machine.update(kv)
        elif line.startswith("version"):
            versions[kv["target"]] = kv.get("text", "")
        elif "target" in kv and "test" in kv:
            runs.setdefault((kv["target"], kv["test"]), []).append(kv)
    return runs, versions, machine


def med(runs, target, test, key):
    vals = []
    for kv in runs.get((target, test), []):
        if "failed" in kv or key not in kv:
            continue
        vals.append(float(kv[key]))
    return statistics.median(vals) if vals else None


def errors(runs, target, test):
    return sum(int(kv.get("errors", 0)) for kv in runs.get((target, test), []))


def fmt(v, digits=1):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


class Metric:
    """One column: a test, a loadgen key, and whether lower is better."""

    def __init__(self, test, key, label, lower=True, digits=1, scale=1.0):
        self.test, self.key, self.label = test, key, label
        self.lower, self.digits, self.scale = lower, digits, scale

    def value(self, runs, target):
        v = med(runs, target, self.test, self.key)
        return None if v is None else v * self.scale

    def best_peer(self, runs, peers=PEERS):
        vals = [(self.value(runs, p), p) for p in peers]
        vals = [(v, p) for v, p in vals if v is not None and v > 0]
        if not vals:
            return None, None
        return (min if self.lower else max)(vals)


def table(runs, targets, metrics, title, peers=PEERS):
    out = [f"### {title}", "",
           "| target | " + " | ".join(m.label for m in metrics) + " |",
           "|---" * (len(metrics) + 1) + "|"]
    for t in targets:
        if not any(m.value(runs, t) is not None for m in metrics):
            continue
        cells = []
        for m in metrics:
            v = m.value(runs, t)
            best, _ = m.best_peer(runs, peers)
            cell = fmt(v, m.digits)
            if v is not None and best:
                cell += f" ({v / best:.2f}×)"
            if errors(runs, t, m.test):
                cell += " ⚠"
            cells.append(cell)
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("(×) = ratio to the best of HAProxy, nginx, stunnel and hitch on that column "
               "(for plaintext columns: to HAProxy's TCP relay); ⚠ = the run had errors.")
    out.append("")
    return out


# The targets of issue 6: (what, ktlsgw target, metric, peers, goal ratio).
def goals(runs):
    cpu_gb_up = Metric("bulk-up", "cpu_s_per_gb", "CPU s/GB up")
    cpu_gb_down = Metric("bulk-down", "cpu_s_per_gb", "CPU s/GB down")
    rr_cpu = Metric("rr64", "cpu_us_per_req", "CPU us/req @64")
    rr_p99 = Metric("rr64", "p99_us", "p99 us @64")
    hs = Metric("hs-ec", "cpu_ms_per_hs", "CPU ms/hs")
    hs_m = Metric("hs-mtls", "cpu_ms_per_hs", "CPU ms/hs mutual")
    res = Metric("resume", "cpu_ms_per_hs", "CPU ms/resumed hs")
    rss = Metric("idle", "rss_kb_per_10k", "RSS/10k idle")
    return [
        ("bulk upload CPU s/GB", "ktlsgw-m1", cpu_gb_up, cpu_gb_up, PEERS, 0.6),
        ("bulk download CPU s/GB", "ktlsgw-m1", cpu_gb_down, cpu_gb_down, PEERS, 0.6),
        ("mode 0 upload CPU s/GB vs HAProxy TCP", "ktlsgw-m0", cpu_gb_up, cpu_gb_up,
         ["haproxy-tcp"], 0.5),
        ("mode 0 download CPU s/GB vs HAProxy TCP", "ktlsgw-m0", cpu_gb_down, cpu_gb_down,
         ["haproxy-tcp"], 0.5),
        ("rr @64 CPU us/request", "ktlsgw-m1", rr_cpu, rr_cpu, PEERS, 0.6),
        ("rr @64 p99", "ktlsgw-m1", rr_p99, rr_p99, PEERS, 1.0),
        ("full ECDSA handshake CPU ms", "ktlsgw-m1", hs, hs, PEERS, 0.5),
        ("full mutual handshake CPU ms", "ktlsgw-m2", hs, hs_m, PEERS, 0.5),
        ("resumed handshake CPU ms", "ktlsgw-m1", res, res, PEERS, 0.5),
        ("RSS per idle TLS connection", "ktlsgw-m1", rss, rss, PEERS, 0.5),
    ]


def goal_table(runs):
    out = ["### Issue 6 targets", "",
           "| target | ktlsgw | best peer | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for what, tgt, mine, theirs, peers, goal in goals(runs):
        v = mine.value(runs, tgt)
        best, who = theirs.best_peer(runs, peers)
        if v is None or best is None:
            out.append(f"| {what} | {fmt(v, 3)} ({tgt}) | {fmt(best, 3)} | — | ≤ {goal} | "
                       "not measured |")
            continue
        ratio = v / best
        met = "yes" if ratio <= goal else "**no**"
        out.append(f"| {what} | {fmt(v, 3)} ({tgt}) | {fmt(best, 3)} ({who}) | "
                   f"{ratio:.2f} | ≤ {goal} | {met} |")
    out.append("")
    return out


def chart(runs, targets, metric, png, title, peer_metric=None):
    """Bar chart of each target's ratio to the best peer (1.0 = best peer).
    peer_metric: the peers' column to compare with, when it differs (mutual TLS)."""
    best, _ = (peer_metric or metric).best_peer(runs, PEERS)
    rows = [(t, metric.value(runs, t)) for t in targets]
    if peer_metric:
        rows += [(t, peer_metric.value(runs, t)) for t in PEERS]
    rows = [(t, v / best) for t, v in rows if v is not None and best]
    if not rows:
        return None
    dat = png[:-4] + ".dat"
    with open(dat, "w") as f:
        for t, r in rows:
            f.write(f'"{t}" {r:.4f}\n')
    better = "lower" if metric.lower else "higher"
    script = f"""set terminal pngcairo size 800,400 noenhanced
set output '{png}'
set title '{title} (ratio to best peer; {better} is better)' noenhanced
set style fill solid 0.7
set boxwidth 0.6
set yrange [0:*]
set grid ytics
set xtics rotate by -30
set key off
plot '{dat}' using 2:xtic(1) with boxes, 1 with lines lt 0
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: gnuplot failed for {png}: {e}", file=sys.stderr)
        return None
    finally:
        os.unlink(dat)
    return os.path.basename(png)


def main():
    raw, md = sys.argv[1], sys.argv[2]
    runs, versions, machine = parse(raw)
    targets = [t for t in ORDER if any(k[0] == t for k in runs)]
    stem = md[:-3]
    out = [f"# ktlsgw benchmark, {machine.get('date', '?')}", "",
           f"Machine: {machine.get('cpus', '?')} CPUs ({machine.get('model', '?')}), "
           f"kernel {machine.get('kernel', '?')}, {machine.get('openssl', '?')}. "
           f"{machine.get('rounds', '?')} interleaved rounds of {machine.get('dur', '?')} s "
           "per measurement; medians shown. Proxy pinned to CPU 0, loadgen and upstream "
           "to CPU 1. TLS 1.3, TLS_AES_128_GCM_SHA256, X25519 for every TLS target. "
           "CPU = the proxy's utime+stime from /proc over the measured window.", "",
           "Versions: " + "; ".join(f"{t}: {versions.get(t, '?')}" for t in targets), ""]
    plain_peer = ["haproxy-tcp"]
    bulk = [Metric("bulk-up", "mbps_up", "up MB/s", lower=False),
            Metric("bulk-down", "mbps_down", "down MB/s", lower=False),
            Metric("bulk-up", "cpu_s_per_gb", "CPU s/GB up", digits=3),
            Metric("bulk-down", "cpu_s_per_gb", "CPU s/GB down", digits=3)]
    rr = [Metric("rr16", "rps", "req/s @16", lower=False, digits=0),
          Metric("rr16", "p50_us", "p50 us @16"), Metric("rr16", "p99_us", "p99 us @16"),
          Metric("rr64", "rps", "req/s @64", lower=False, digits=0),
          Metric("rr64", "p50_us", "p50 us @64"), Metric("rr64", "p99_us", "p99 us @64"),
          Metric("rr64", "cpu_us_per_req", "CPU us/req @64")]
    hs = [Metric("hs-ec", "hsps", "ECDSA hs/s", lower=False, digits=0),
          Metric("hs-ec", "cpu_ms_per_hs", "CPU ms/hs ECDSA", digits=3),
          Metric("hs-rsa", "hsps", "RSA hs/s", lower=False, digits=0),
          Metric("hs-rsa", "cpu_ms_per_hs", "CPU ms/hs RSA", digits=3),
          Metric("hs-mtls", "hsps", "mutual hs/s", lower=False, digits=0),
          Metric("hs-mtls", "cpu_ms_per_hs", "CPU ms/hs mutual", digits=3),
          Metric("resume", "hsps", "resumed hs/s", lower=False, digits=0),
          Metric("resume", "cpu_ms_per_hs", "CPU ms/resumed hs", digits=3)]
    mem = [Metric("idle", "rss_kb_per_10k", "RSS MB per 10k idle", digits=1,
                  scale=1 / 1024)]
    tls_targets = [t for t in targets if t not in ("direct", "ktlsgw-m0", "haproxy-tcp")]
    plain_targets = [t for t in targets if t in ("direct", "ktlsgw-m0", "haproxy-tcp")]
    out += goal_table(runs)
    out += table(runs, tls_targets, bulk, "Bulk transfer, TLS (4 connections)")
    out += table(runs, plain_targets, bulk, "Bulk transfer, plaintext relays", plain_peer)
    out += table(runs, tls_targets, rr, "Request/response 3,100 B / 1,500 B, TLS")
    out += table(runs, plain_targets, rr, "Request/response, plaintext", plain_peer)
    out += table(runs, tls_targets, hs, "Handshakes (16 concurrent, one request each)")
    out += table(runs, targets, mem, "Memory")
    out.append("In ktlsgw-m2 every test runs in mutual TLS (client certificate); its "
               "ECDSA column is compared with the peers' mutual column in the targets table.")
    out.append("")
    one_way = [t for t in tls_targets if t != "ktlsgw-m2"]
    charts = [
        (Metric("bulk-up", "cpu_s_per_gb", "CPU s/GB, upload"), tls_targets, None, "cpu-gb-up"),
        (Metric("bulk-down", "cpu_s_per_gb", "CPU s/GB, download"), tls_targets, None,
         "cpu-gb"),
        (Metric("rr64", "cpu_us_per_req", "CPU us per request at 64 connections"),
         tls_targets, None, "cpu-req"),
        (Metric("hs-ec", "cpu_ms_per_hs", "CPU ms per full ECDSA handshake, one-way"),
         one_way, None, "cpu-hs"),
        (Metric("hs-ec", "cpu_ms_per_hs", "CPU ms per full ECDSA handshake, mutual TLS"),
         ["ktlsgw-m2"], Metric("hs-mtls", "cpu_ms_per_hs", ""), "cpu-hs-mutual"),
        (Metric("resume", "cpu_ms_per_hs", "CPU ms per resumed handshake"), one_way, None,
         "cpu-resume"),
        (Metric("idle", "rss_kb_per_10k", "RSS per 10k idle TLS connections"), tls_targets,
         None, "rss"),
    ]
    pngs = []
    for m, tgts, peer_m, name in charts:
        png = chart(runs, tgts, m, f"{stem}-{name}.png", m.label, peer_m)
        if png:
            pngs.append(png)
    if pngs:
        out.append("### Charts")
        out.append("")
        out += [f"![{p}]({p})" for p in pngs]
        out.append("")
    failed = sorted({f"{k[0]}/{k[1]}" for k, v in runs.items()
                     if any("failed" in kv for kv in v)})
    if failed:
        out.append("Failed to run: " + ", ".join(failed) + ".")
        out.append("")
    with open(md, "w") as f:
        f.write("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
