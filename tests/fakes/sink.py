#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Raw TCP upstream for the integration suite. --mode sink: reads until EOF,
# then answers "<bytes> <sha256>\n" and closes (needs the client's half-close
# to reach it). --mode source: sends N deterministic bytes, shuts down its
# write side, drains the client until EOF, closes. Prints "READY <port>".
import argparse
import hashlib
import random
import socket
import socketserver
import sys


def pattern(size, seed):
    return random.Random(seed).randbytes(size)


class Sink(socketserver.BaseRequestHandler):
    def handle(self):
        h, n = hashlib.sha256(), 0
        while True:
            b = self.request.recv(1 << 18)
            if not b:
                break
            h.update(b)
            n += len(b)
        self.request.sendall(b"%d %s\n" % (n, h.hexdigest().encode()))
        self.request.shutdown(socket.SHUT_WR)


class Source(socketserver.BaseRequestHandler):
    def handle(self):
        data = memoryview(pattern(self.server.nbytes, self.server.seed))
        for off in range(0, len(data), 1 << 20):
            self.request.sendall(data[off:off + (1 << 20)])
        self.request.shutdown(socket.SHUT_WR)
        while self.request.recv(1 << 16):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=("sink", "source"), required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bytes", type=int, default=64 << 20)
    ap.add_argument("--seed", type=int, default=21)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Sink if a.mode == "sink" else Source)
    srv.nbytes, srv.seed = a.bytes, a.seed
    print("READY %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
