#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Fake Milvus RESTful (HTTP/1.1) server for the integration suite: answers
# /v2/vectordb/collections/list like Milvus, /fake/upload (SHA-256 of the body
# received) and /fake/download?bytes=N&seed=S (N deterministic bytes).
# Optional TLS for internal TLS tests; reports the SNI it saw in X-Fake-SNI.
# Prints "READY <port>" on stdout once listening.
import argparse
import hashlib
import json
import random
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

COLLECTIONS = ["book", "movie", "quick_setup"]
CHUNK = 1 << 20


def pattern(size, seed):
    """size deterministic bytes served by /fake/download (and its checker)."""
    return random.Random(seed).randbytes(size)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-milvus-rest/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("milvus_rest: " + (fmt % args) + "\n")

    def reply_json(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.extra_headers()
        self.end_headers()
        self.wfile.write(body)

    def extra_headers(self):
        sni = getattr(self.connection, "fake_sni", None)
        self.send_header("X-Fake-Transport", "ssl" if sni is not None else "insecure")
        if sni is not None:
            self.send_header("X-Fake-SNI", sni or "-")

    def read_body(self):
        """Yields the request body in chunks (Content-Length or chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    b = self.rfile.read(min(left, CHUNK))
                    if not b:
                        raise ConnectionError("body truncated")
                    left -= len(b)
                    yield b
                self.rfile.readline()
        left = int(self.headers.get("Content-Length", "0"))
        while left:
            b = self.rfile.read(min(left, CHUNK))
            if not b:
                raise ConnectionError("body truncated")
            left -= len(b)
            yield b

    def route(self):
        url = urlparse(self.path)
        if url.path == "/v2/vectordb/collections/list":
            for _ in self.read_body():
                pass
            return self.reply_json({"code": 0, "data": COLLECTIONS})
        if url.path == "/fake/upload" and self.command == "POST":
            h, n = hashlib.sha256(), 0
            for b in self.read_body():
                h.update(b)
                n += len(b)
            return self.reply_json({"code": 0, "bytes": n, "sha256": h.hexdigest()})
        if url.path == "/fake/download":
            q = parse_qs(url.query)
            return self.download(int(q["bytes"][0]), int(q.get("seed", ["1"])[0]))
        for _ in self.read_body():
            pass
        self.reply_json({"code": 404, "message": "no route " + url.path}, 404)

    def download(self, size, seed):
        data = memoryview(pattern(size, seed))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("X-Content-SHA256", hashlib.sha256(data).hexdigest())
        self.extra_headers()
        self.end_headers()
        for off in range(0, size, CHUNK):
            self.wfile.write(data[off:off + CHUNK])

    do_GET = route
    do_POST = route


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    ctx = None
    verbose = False

    def finish_request(self, request, client_address):
        # TLS handshake in the connection's own thread, never in accept().
        if self.ctx is not None:
            request.settimeout(10)
            request = self.ctx.wrap_socket(request, server_side=True)
            if getattr(request, "fake_sni", None) is None:
                request.fake_sni = ""
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def on_sni(sock, name, _ctx):
    sock.fake_sni = name or ""


def make_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.sni_callback = on_sni
    return ctx


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="0 = pick one")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve TLS")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    server = Server((args.host, args.port), Handler)
    server.verbose = args.verbose
    if args.tls:
        server.ctx = make_ctx(args.tls[0], args.tls[1])
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
