#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# N concurrent HTTP/1.1 clients (TLS or plain) for the integration suite:
# opens all N connections (TLS handshakes done), only then sends one
# collections/list request on each, checks every Milvus-shaped answer, and
# closes them all. Exit 0 only when all N succeeded while all were open.
import argparse
import asyncio
import json
import ssl
import sys
import time

REQ = (b"GET /v2/vectordb/collections/list HTTP/1.1\r\nHost: localhost\r\n"
       b"User-Agent: ktlsgw-many\r\n\r\n")


async def open_one(a, ctx):
    return await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", a.port, ssl=ctx, server_hostname="localhost" if ctx else None),
        a.timeout)


async def read_answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ValueError("status %r" % head.split(b"\r\n", 1)[0])
    d = json.loads(body)
    if d.get("code") != 0 or "book" not in d.get("data", []):
        raise ValueError("body %r" % body[:100])


async def ask(conn, a):
    reader, writer = conn
    writer.write(REQ)
    await writer.drain()
    await asyncio.wait_for(read_answer(reader), a.timeout)


def tally(results):
    errs = {}
    for r in results:
        if isinstance(r, BaseException):
            k = "%s: %s" % (type(r).__name__, str(r)[:80])
            errs[k] = errs.get(k, 0) + 1
    return errs


async def run(a):
    ctx = None
    if a.cafile:
        ctx = ssl.create_default_context(cafile=a.cafile)
    t0 = time.monotonic()
    conns = await asyncio.gather(*(open_one(a, ctx) for _ in range(a.n)),
                                 return_exceptions=True)
    t1 = time.monotonic()
    ok = [c for c in conns if not isinstance(c, BaseException)]
    errs = tally(conns)
    answers = await asyncio.gather(*(ask(c, a) for c in ok), return_exceptions=True)
    t2 = time.monotonic()
    errs.update({"request " + k: v for k, v in tally(answers).items()})
    good = sum(1 for r in answers if not isinstance(r, BaseException))
    for _, w in ok:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in ok), return_exceptions=True)
    msg = "%d/%d connections open at once (%.2fs), %d answers checked (%.2fs)" % (
        len(ok), a.n, t1 - t0, good, t2 - t1)
    if good == a.n:
        return "OK " + msg
    return "ERROR %s; errors: %s" % (msg, "; ".join("%dx %s" % (v, k) for k, v in errs.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--cafile", help="TLS, verifying the server against this CA")
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    res = asyncio.run(run(a))
    print(res, flush=True)
    return 0 if res.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
