#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Fake Milvus gRPC server for the integration suite: a generic handler answers
# every unary /milvus.proto.milvus.MilvusService/* method with a reply derived
# from the request bytes (so a client can prove they crossed intact), plus
# streaming methods for bulk transfers. Optional TLS (internal TLS tests).
# Prints "READY <port>" on stdout once listening.
import argparse
import hashlib
import random
import signal
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "/milvus.proto.milvus.MilvusService/"
CHUNK = 1 << 20


def unary_reply(method, request):
    """The reply to a unary call: method name, SHA-256 of the request, the request."""
    digest = hashlib.sha256(request).hexdigest().encode()
    return b"fake-milvus " + method.encode() + b" " + digest + b"\n" + request


def pattern(size, seed):
    """size deterministic bytes for the download method (and its checker)."""
    return random.Random(seed).randbytes(size)


def transport_of(context):
    auth = context.auth_context() or {}
    kind = auth.get("transport_security_type", [b"insecure"])[0]
    return kind.decode(errors="replace")


def identity(b):
    return b


class Handler(grpc.GenericRpcHandler):
    def __init__(self, verbose, corrupt):
        self.verbose = verbose
        self.corrupt = corrupt

    def log(self, *args):
        if self.verbose:
            print("milvus_grpc:", *args, file=sys.stderr, flush=True)

    def service(self, details):
        path = details.method
        if not path.startswith(SERVICE):
            return None
        name = path[len(SERVICE):]
        kinds = {
            "FakeUpload": grpc.stream_unary_rpc_method_handler,
            "FakeDownload": grpc.unary_stream_rpc_method_handler,
            "FakeEcho": grpc.stream_stream_rpc_method_handler,
        }
        make = kinds.get(name, grpc.unary_unary_rpc_method_handler)
        fn = getattr(self, "do_" + name, None) or self.unary(name)
        return make(fn, request_deserializer=identity, response_serializer=identity)

    def unary(self, name):
        def call(request, context):
            self.log(name, len(request), "bytes")
            context.set_trailing_metadata((("x-fake-transport", transport_of(context)),))
            reply = unary_reply(name, request)
            if self.corrupt:
                # Negative control: one flipped bit the client must notice.
                reply = reply[:-1] + bytes([reply[-1] ^ 1])
            return reply
        return call

    def do_FakeUpload(self, it, context):
        h, n = hashlib.sha256(), 0
        for chunk in it:
            h.update(chunk)
            n += len(chunk)
        self.log("FakeUpload", n, "bytes")
        context.set_trailing_metadata((("x-fake-transport", transport_of(context)),))
        return b"%d %s" % (n, h.hexdigest().encode())

    def do_FakeDownload(self, request, context):
        size, seed = (int(x) for x in request.split())
        self.log("FakeDownload", size, "bytes")
        data = memoryview(pattern(size, seed))
        for off in range(0, size, CHUNK):
            yield bytes(data[off:off + CHUNK])

    def do_FakeEcho(self, it, context):
        for msg in it:
            yield msg


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="0 = pick one")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve TLS")
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--corrupt", action="store_true",
                    help="flip a bit in every unary reply (self-test of the client)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    opts = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1),
            ("grpc.so_reuseport", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         handlers=[Handler(args.verbose, args.corrupt)], options=opts)
    addr = "%s:%d" % (args.host, args.port)
    if args.tls:
        with open(args.tls[0], "rb") as f:
            cert = f.read()
        with open(args.tls[1], "rb") as f:
            key = f.read()
        port = server.add_secure_port(addr, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(addr)
    if port == 0:
        print("milvus_grpc: cannot bind %s" % addr, file=sys.stderr)
        return 1
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    print("READY %d" % port, flush=True)
    while not done.wait(3600):
        pass
    server.stop(0).wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
