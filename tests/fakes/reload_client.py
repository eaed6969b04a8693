#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# HTTPS clients for the reload and drain tests (upstream: milvus_rest.py):
#   loop PORT --until FILE [--threads N] [--trace F]: each thread makes one
#       request per new connection until FILE exists; prints "ok=N fail=N
#       serials=S1,S2" (the distinct server certificate serials, by first
#       sight) and exits 1 on any failure; F gets "<epoch> <serial>" per
#       connection, the time taken just before connecting;
#   hold PORT --go FILE: one keep-alive connection: a request, "READY serial",
#       then waits for FILE and makes a second request on the same connection;
#       prints "SAME serial" and exits 0 only if both answers were good;
#   idle PORT: opens a connection, makes a request, prints "READY", then waits
#       for the gateway to close it: exits 0 when that close was a TLS
#       close_notify, 1 on a bare EOF or a reset, 2 on a timeout.
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time

REQ = (b"GET /v2/vectordb/collections/list HTTP/1.1\r\nHost: localhost\r\n"
       b"User-Agent: ktlsgw-reload\r\n\r\n")


def connect(a):
    ctx = ssl.create_default_context(cafile=a.cafile)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    return s, "%s" % s.getpeercert()["serialNumber"]


def read_answer(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise ConnectionError("EOF in the answer's head")
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        b = s.recv(65536)
        if not b:
            raise ConnectionError("EOF in the answer's body")
        body += b
    d = json.loads(body)
    if not head.startswith(b"HTTP/1.1 200") or d.get("code") != 0:
        raise ValueError("bad answer %r" % head[:40])


def request(s):
    s.sendall(REQ)
    read_answer(s)


def loop_thread(a, res, lock):
    while not os.path.exists(a.until):
        try:
            t0 = time.time()
            s, serial = connect(a)
            request(s)
            s.close()
            with lock:
                res["ok"] += 1
                res["trace"].append("%.6f %s" % (t0, serial))
                if serial not in res["serials"]:
                    res["serials"].append(serial)
        except Exception as e:  # noqa: BLE001 - every failure counts
            with lock:
                res["fail"] += 1
                res["errors"].append(repr(e))


def do_loop(a):
    res = {"ok": 0, "fail": 0, "serials": [], "errors": [], "trace": []}
    lock = threading.Lock()
    ts = [threading.Thread(target=loop_thread, args=(a, res, lock)) for _ in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("ok=%d fail=%d serials=%s" % (res["ok"], res["fail"], ",".join(res["serials"])))
    if a.trace:
        with open(a.trace, "w") as f:
            f.write("".join(line + "\n" for line in res["trace"]))
    for e in res["errors"][:5]:
        print("error: " + e)
    return 0 if res["fail"] == 0 and res["ok"] > 0 else 1


def do_hold(a):
    s, serial = connect(a)
    request(s)
    print("READY %s" % serial, flush=True)
    deadline = time.time() + a.timeout
    while not os.path.exists(a.go):
        if time.time() > deadline:
            print("timeout waiting for %s" % a.go)
            return 2
        time.sleep(0.05)
    request(s)
    print("SAME %s" % serial)
    s.close()
    return 0


def do_idle(a):
    s, _ = connect(a)
    request(s)
    print("READY", flush=True)
    s.settimeout(a.timeout)
    try:
        b = s.recv(1)
    except ssl.SSLEOFError:
        print("bare EOF (no close_notify)")
        return 1
    except socket.timeout:
        print("timeout: still open")
        return 2
    except OSError as e:
        print("error: %r" % e)
        return 1
    if b:
        print("unexpected data")
        return 1
    print("close_notify")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=("loop", "hold", "idle"))
    ap.add_argument("port", type=int)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--until", help="loop: stop once this file exists")
    ap.add_argument("--go", help="hold: second request once this file exists")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--trace", help="loop: per-connection start time and serial")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    return {"loop": do_loop, "hold": do_hold, "idle": do_idle}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
