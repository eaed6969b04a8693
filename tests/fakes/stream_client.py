#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Raw stream client (TLS through a memory BIO, or plain TCP) for the
# integration suite, to check half-close and bulk transfers byte for byte:
#   --send N   sends N bytes, half-closes (TLS close_notify / TCP FIN), then
#              expects the sink's "<N> <sha256>" answer and a clean end;
#   --recv N   reads until the end, checks N bytes and their SHA-256, and for
#              TLS that the end was a close_notify, not a bare EOF.
# --pause S with --watch-pid P: stop reading for S seconds after 1 MiB and
# report the growth of P's resident memory meanwhile (--max-growth MiB).
import argparse
import hashlib
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sink import pattern  # noqa: E402

CHUNK = 1 << 18


class Plain:
    def __init__(self, sock):
        self.s = sock

    def send(self, data):
        self.s.sendall(data)

    def close_write(self):
        self.s.shutdown(socket.SHUT_WR)

    def recv(self):
        return self.s.recv(CHUNK)


class Tls:
    """OpenSSL over memory BIOs: lets us send close_notify and keep reading."""

    def __init__(self, sock, ctx):
        self.s = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.clean_end = False
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()
        self.flush()

    def flush(self):
        data = self.out.read()
        if data:
            self.s.sendall(data)

    def fill(self):
        b = self.s.recv(CHUNK)
        if b:
            self.inc.write(b)
        else:
            self.inc.write_eof()

    def send(self, data):
        self.obj.write(data)
        self.flush()

    def close_write(self):
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self.flush()

    def recv(self):
        while True:
            try:
                b = self.obj.read(CHUNK)
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()
                continue
            except ssl.SSLZeroReturnError:
                b = b""
            except ssl.SSLError as e:
                if isinstance(e, ssl.SSLEOFError) or "UNEXPECTED_EOF" in str(e):
                    return b""  # TCP EOF without close_notify: clean_end stays False
                raise
            # _ssl returns b"" (or raises ZeroReturn) once close_notify is read.
            if not b:
                self.clean_end = True
            return b


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    # Python sets this by default; it would make a bare EOF look like close_notify.
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    return ctx


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def do_send(conn, a):
    data = memoryview(pattern(a.send, 5))
    for off in range(0, len(data), CHUNK):
        conn.send(data[off:off + CHUNK])
    conn.close_write()
    got = b""
    while True:
        b = conn.recv()
        if not b:
            break
        got += b
    want = b"%d %s\n" % (len(data), hashlib.sha256(data).hexdigest().encode())
    if got != want:
        return "ERROR after half-close the sink answered %r, expected %r" % (got[:90], want)
    return "OK sent %d bytes, half-closed, sink saw them all (sha256 %s)" % (
        len(data), want.split()[1][:16].decode())


def do_recv(conn, a):
    h, n, note = hashlib.sha256(), 0, ""
    paused = False
    while True:
        b = conn.recv()
        if not b:
            break
        h.update(b)
        n += len(b)
        if a.pause and not paused and n >= (1 << 20):
            paused = True
            before = rss_kib(a.watch_pid)
            time.sleep(a.pause)
            grown = (rss_kib(a.watch_pid) - before) / 1024.0
            note = ", gateway RSS +%.1f MiB while the reader paused %.1fs" % (grown, a.pause)
            if grown > a.max_growth:
                return "ERROR%s (limit %d MiB)" % (note, a.max_growth)
    want = hashlib.sha256(pattern(a.recv, a.seed)).hexdigest()
    if n != a.recv or h.hexdigest() != want:
        return "ERROR received %d bytes sha256 %s, expected %d %s" % (
            n, h.hexdigest()[:16], a.recv, want[:16])
    if isinstance(conn, Tls) and not conn.clean_end:
        return "ERROR all %d bytes arrived but the end was a bare EOF, no close_notify" % n
    return "OK received %d bytes, sha256 %s, clean end%s" % (n, want[:16], note)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("port", type=int)
    ap.add_argument("--cafile", help="TLS: verify the server against this CA")
    ap.add_argument("--send", type=int, default=0)
    ap.add_argument("--recv", type=int, default=0)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--watch-pid", type=int, default=0)
    ap.add_argument("--max-growth", type=int, default=16, help="MiB")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    try:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
        conn = Tls(s, tls_context(a.cafile)) if a.cafile else Plain(s)
        res = do_send(conn, a) if a.send else do_recv(conn, a)
    except (OSError, ssl.SSLError) as e:
        res = "ERROR %s: %s" % (type(e).__name__, e)
    print(res, flush=True)
    return 0 if res.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
