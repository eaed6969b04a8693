#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# gRPC client for the integration suite, set up the way pymilvus sets itself
# up (ssl_channel_credentials + grpc.ssl_target_name_override = server_name).
# Calls the fake Milvus (tests/fakes/milvus_grpc.py) and checks every reply
# byte. Exit 0 only when every reply matches; otherwise prints the gRPC status.
import argparse
import hashlib
import os
import sys
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from milvus_grpc import SERVICE, pattern, unary_reply  # noqa: E402

CHUNK = 1 << 20


def read(path):
    with open(path, "rb") as f:
        return f.read()


def make_channel(args):
    """Mirrors pymilvus GrpcHandler._setup_grpc_channel for the three modes."""
    opts = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1),
            ("grpc.enable_retries", 1), ("grpc.keepalive_time_ms", 55000)]
    if args.mode == 0:
        return grpc.insecure_channel(args.target, options=opts)
    opts.append(("grpc.ssl_target_name_override", args.server_name))
    if args.mode == 1:
        creds = grpc.ssl_channel_credentials(read(args.server_pem), None, None)
    else:
        creds = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
    return grpc.secure_channel(args.target, creds, options=opts)


def check_transport(args, call):
    if not args.expect_transport:
        return
    md = dict(call.trailing_metadata() or ())
    got = md.get("x-fake-transport")
    if got != args.expect_transport:
        raise AssertionError("upstream transport %r, expected %r" % (got, args.expect_transport))


def do_unary(chan, args):
    call = chan.unary_unary(SERVICE + args.method)
    for i in range(args.count):
        req = pattern(args.size, i + 1)
        reply, c = call.with_call(req, timeout=args.timeout)
        want = unary_reply(args.method, req)
        if reply != want:
            raise AssertionError("reply %d differs: %d bytes, expected %d (sha256 %s vs %s)" % (
                i, len(reply), len(want), hashlib.sha256(reply).hexdigest()[:16],
                hashlib.sha256(want).hexdigest()[:16]))
        check_transport(args, c)
    return "%d x %s, %d-byte requests" % (args.count, args.method, args.size)


def do_upload(chan, args):
    data = memoryview(pattern(args.upload, 7))
    chunks = (bytes(data[o:o + CHUNK]) for o in range(0, len(data), CHUNK))
    call = chan.stream_unary(SERVICE + "FakeUpload")
    reply, c = call.with_call(chunks, timeout=args.timeout)
    want = b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())
    if reply != want:
        raise AssertionError("upload: server saw %r, sent %r" % (reply, want))
    check_transport(args, c)
    return "upload %d bytes sha256 %s" % (len(data), want.split()[1][:16].decode())


def do_download(chan, args):
    call = chan.unary_stream(SERVICE + "FakeDownload")
    h, n = hashlib.sha256(), 0
    for chunk in call(b"%d 11" % args.download, timeout=args.timeout):
        h.update(chunk)
        n += len(chunk)
    want = hashlib.sha256(pattern(args.download, 11)).hexdigest()
    if n != args.download or h.hexdigest() != want:
        raise AssertionError("download: got %d bytes sha256 %s, expected %d %s" % (
            n, h.hexdigest()[:16], args.download, want[:16]))
    return "download %d bytes sha256 %s" % (n, want[:16])


def run(args):
    chan = make_channel(args)
    try:
        grpc.channel_ready_future(chan).result(timeout=args.timeout)
    except grpc.FutureTimeoutError:
        # Surface the real reason (handshake error etc.) with one fail-fast call.
        try:
            chan.unary_unary(SERVICE + "GetVersion")(b"", timeout=args.timeout,
                                                     wait_for_ready=False)
        except grpc.RpcError as e:
            raise e
        raise AssertionError("channel not ready after %.1fs" % args.timeout)
    t0 = time.monotonic()
    if args.upload:
        what = do_upload(chan, args)
    elif args.download:
        what = do_download(chan, args)
    else:
        what = do_unary(chan, args)
    chan.close()
    return "%s in %.3fs" % (what, time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("target", help="host:port")
    ap.add_argument("--mode", type=int, choices=(0, 1, 2), default=1)
    ap.add_argument("--server-pem", help="mode 1: server.pem (pymilvus server_pem_path)")
    ap.add_argument("--ca", help="mode 2: ca.pem")
    ap.add_argument("--cert", help="mode 2: client.pem")
    ap.add_argument("--key", help="mode 2: client.key")
    ap.add_argument("--server-name", default="localhost")
    ap.add_argument("--method", default="ShowCollections")
    ap.add_argument("--size", type=int, default=64, help="unary request size")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--upload", type=int, default=0, help="stream N bytes up")
    ap.add_argument("--download", type=int, default=0, help="stream N bytes down")
    ap.add_argument("--expect-transport", help="ssl|insecure: the upstream leg seen by the fake")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    if args.mode == 1 and not args.server_pem:
        ap.error("--mode 1 needs --server-pem")
    if args.mode == 2 and not (args.ca and args.cert and args.key):
        ap.error("--mode 2 needs --ca --cert --key")
    try:
        print("OK", run(args), flush=True)
        return 0
    except grpc.RpcError as e:
        print("ERROR grpc status=%s details=%s" % (e.code(), e.details()), flush=True)
    except (AssertionError, OSError) as e:
        print("ERROR", e, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
