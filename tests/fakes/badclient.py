#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Misbehaving clients for the integration suite (garbage, plaintext HTTP,
# truncated or slow ClientHello, silence, hundreds of idle connections,
# reset mid-stream). Each case prints "OK ..." and exits 0 when the server
# reacted as the gateway must, else prints "ERROR ..." and exits 1.
import argparse
import os
import shlex
import socket
import ssl
import struct
import subprocess
import sys
import time


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def client_hello():
    """The bytes of a real TLS ClientHello (what curl or grpcio would send)."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def wait_closed(s, secs):
    """Reads until EOF/reset or secs pass. Returns (closed, seconds, bytes read)."""
    t0 = time.monotonic()
    got = b""
    while True:
        left = secs - (time.monotonic() - t0)
        if left <= 0:
            return False, time.monotonic() - t0, got
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, time.monotonic() - t0, got
        if not b:
            return True, time.monotonic() - t0, got
        got += b


def is_open(s):
    """True if s has seen neither EOF nor reset (consumes pending bytes)."""
    s.setblocking(False)
    try:
        while True:
            if not s.recv(65536):
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def expect_closed(s, secs, what, lo=0.0):
    closed, took, got = wait_closed(s, secs)
    if not closed:
        return "ERROR %s: connection still open after %.1fs" % (what, secs)
    if took < lo:
        return "ERROR %s: closed after %.2fs, before the %.1fs expected" % (what, took, lo)
    return "OK %s: closed after %.2fs (%d bytes back)" % (what, took, len(got))


def case_garbage(a):
    s = connect(a.port)
    s.sendall(os.urandom(4096))
    return expect_closed(s, a.within, "4 KiB of random bytes")


def case_garbage_records(a):
    """n connections, each a TLS-looking record header with a random body."""
    socks = []
    for i in range(a.n):
        s = connect(a.port)
        body = os.urandom(1 + i * 37 % 3000)
        ctype = (0x16, 0x15, 0x17, 0x14)[i % 4]
        s.sendall(bytes([ctype, 3, 1 + i % 3]) + struct.pack(">H", len(body)) + body)
        socks.append(s)
    t0 = time.monotonic()
    left = list(socks)
    while left and time.monotonic() - t0 < a.within:
        left = [s for s in left if is_open(s)]
        time.sleep(0.05)
    for s in socks:
        s.close()
    if left:
        return "ERROR %d of %d garbage-record connections still open after %.1fs" % (
            len(left), a.n, a.within)
    return "OK %d garbage-record connections all closed within %.2fs" % (
        a.n, time.monotonic() - t0)


def case_plain_http(a):
    s = connect(a.port)
    s.sendall(b"GET /v2/vectordb/collections/list HTTP/1.1\r\nHost: localhost\r\n"
              b"User-Agent: ktlsgw-test\r\n\r\n")
    closed, took, got = wait_closed(s, a.within)
    head = got.split(b"\r\n", 1)[0].decode(errors="replace")
    if not got.startswith(b"HTTP/1.1 400"):
        return "ERROR plaintext HTTP: answer starts %r, expected 'HTTP/1.1 400'" % got[:40]
    if b"tls" not in got.lower():
        return "ERROR plaintext HTTP: 400 answer does not mention TLS: %r" % got[:300]
    if not closed:
        return "ERROR plaintext HTTP: answered %r but kept the connection open" % head
    return "OK plaintext HTTP: %r then closed after %.2fs" % (head, took)


def case_truncated_hello(a):
    hello = client_hello()
    s = connect(a.port)
    s.sendall(hello[:len(hello) // 2])
    if a.fin:
        s.shutdown(socket.SHUT_WR)
        return expect_closed(s, a.within, "half a ClientHello then FIN")
    return expect_closed(s, a.within, "half a ClientHello, then silence", a.at_least)


def case_slowloris(a):
    hello = client_hello()
    s = connect(a.port)
    t0 = time.monotonic()
    for i in range(len(hello) - 1):
        try:
            s.sendall(hello[i:i + 1])
        except OSError:
            break
        closed, _, _ = wait_closed(s, a.interval)
        if closed:
            took = time.monotonic() - t0
            if took > a.within:
                return "ERROR slowloris: closed only after %.2fs" % took
            if took < a.at_least:
                return "ERROR slowloris: closed after %.2fs, before %.1fs" % (took, a.at_least)
            return "OK slowloris: closed after %.2fs, %d of %d hello bytes sent" % (
                took, i + 1, len(hello))
        if time.monotonic() - t0 > a.within:
            return "ERROR slowloris: still open after %.1fs (%d bytes sent)" % (a.within, i + 1)
    return "ERROR slowloris: sent the whole hello but one byte, never closed"


def case_silent(a):
    s = connect(a.port)
    return expect_closed(s, a.within, "no ClientHello", a.at_least)


def case_tls_idle(a):
    """Completes a TLS handshake, sends nothing, waits for the server to close."""
    ctx = ssl.create_default_context(cafile=a.cafile)
    s = ctx.wrap_socket(connect(a.port), server_hostname="localhost")
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.within:
        s.settimeout(max(0.01, a.within - (time.monotonic() - t0)))
        try:
            if not s.recv(65536):
                break
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError):
            break
    took = time.monotonic() - t0
    if took >= a.within:
        return "ERROR TLS connection (%s) still open after %.1fs" % (s.version(), a.within)
    if took < a.at_least:
        return "ERROR TLS connection closed after %.2fs, before %.1fs" % (took, a.at_least)
    return "OK TLS connection (%s) closed %.2fs after the handshake" % (s.version(), took)


def tls_stays_open(port, ctx, secs=0.5):
    """Opens a TLS connection; returns it if it is still open secs later, else None."""
    try:
        s = ctx.wrap_socket(connect(port), server_hostname="localhost")
    except (ssl.SSLError, OSError):
        return None
    s.settimeout(secs)
    try:
        if not s.recv(1):
            s.close()
            return None
    except socket.timeout:
        return s
    except (ssl.SSLError, OSError):
        s.close()
        return None
    return s


def case_over_limit(a):
    """With n connections held (the listener's limit), one more is closed at
    once; after one of them closes, a new one is served again."""
    ctx = ssl.create_default_context(cafile=a.cafile)
    held = []
    for i in range(a.n):
        s = tls_stays_open(a.port, ctx, 0.05)
        if s is None:
            return "ERROR connection %d of %d (under the limit) was closed" % (i + 1, a.n)
        held.append(s)
    t0 = time.monotonic()
    extra = tls_stays_open(a.port, ctx, a.within)
    took = time.monotonic() - t0
    if extra is not None:
        return "ERROR connection %d (over the limit) still open after %.1fs" % (a.n + 1, took)
    held.pop().close()
    time.sleep(0.3)
    again = tls_stays_open(a.port, ctx, 0.5)
    for s in held:
        s.close()
    if again is None:
        return "ERROR after one of %d closed, a new connection was still refused" % a.n
    again.close()
    return "OK %d held; connection %d closed after %.2fs; served again after one closed" % (
        a.n, a.n + 1, took)


def case_idle_many(a):
    """Holds N silent connections, runs the good client, times it."""
    conns = []
    for _ in range(a.n):
        conns.append(connect(a.port))
    time.sleep(0.2)
    t0 = time.monotonic()
    r = subprocess.run(shlex.split(a.cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    took = time.monotonic() - t0
    still = sum(1 for s in conns if is_open(s))
    out = r.stdout.decode(errors="replace").strip().splitlines()
    msg = "good client exit %d in %.2fs with %d/%d idle connections open" % (
        r.returncode, took, still, a.n)
    if r.returncode != 0:
        return "ERROR %s: %s" % (msg, out[-1:] if out else "")
    if took > a.within:
        return "ERROR %s (limit %.1fs)" % (msg, a.within)
    if still != a.n:
        return "ERROR %s: idle connections closed before the good client was done" % msg
    if a.then_closed:
        t1 = time.monotonic()
        left = list(conns)
        while left and time.monotonic() - t1 < a.then_closed:
            left = [s for s in left if is_open(s)]
            time.sleep(0.1)
        if left:
            return "ERROR %s; %d still open %.1fs later" % (msg, len(left), a.then_closed)
        msg += "; all closed by the gateway %.2fs later" % (time.monotonic() - t1)
    for s in conns:
        s.close()
    return "OK " + msg


def case_reset_midstream(a):
    ctx = ssl.create_default_context(cafile=a.cafile)
    raw = connect(a.port)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"GET /fake/download?bytes=%d&seed=9 HTTP/1.1\r\nHost: localhost\r\n\r\n" % a.bytes)
    n = 0
    while n < a.bytes // 8:
        b = s.recv(65536)
        if not b:
            return "ERROR reset mid-stream: EOF after %d bytes, before the reset" % n
        n += len(b)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return "OK reset after %d of %d bytes" % (n, a.bytes)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("case", choices=["garbage", "garbage-records", "plain-http",
                                     "truncated-hello", "slowloris", "silent", "tls-idle",
                                     "over-limit", "idle-many", "reset-midstream"])
    ap.add_argument("port", type=int)
    ap.add_argument("--within", type=float, default=3.0, help="must be closed/served within")
    ap.add_argument("--at-least", type=float, default=0.0, help="must not close before")
    ap.add_argument("--fin", action="store_true", help="truncated-hello: then shut down")
    ap.add_argument("--interval", type=float, default=0.3, help="slowloris: between bytes")
    ap.add_argument("-n", type=int, default=300,
                    help="idle-many, garbage-records, over-limit: connections")
    ap.add_argument("--then-closed", type=float, default=0.0,
                    help="idle-many: then all must be closed within this")
    ap.add_argument("--cafile", help="tls-idle, over-limit, reset-midstream: CA of the gateway")
    ap.add_argument("--bytes", type=int, default=64 << 20)
    ap.add_argument("--cmd", help="idle-many: the good client command line")
    a = ap.parse_args()
    try:
        res = globals()["case_" + a.case.replace("-", "_")](a)
    except (OSError, ssl.SSLError, subprocess.TimeoutExpired) as e:
        res = "ERROR %s: %s: %s" % (a.case, type(e).__name__, e)
    print(res, flush=True)
    return 0 if res.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
