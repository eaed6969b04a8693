#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# An upstream whose connects hang (for connect-timeout tests, without root
# or firewall rules): a listening socket that never accepts, its accept
# queue filled by our own connections, so the kernel drops further SYNs.
# Prints "READY <port>" once a probe connect is seen to hang.
import argparse
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(8):
        s = socket.socket()
        s.settimeout(0.3)
        try:
            s.connect(("127.0.0.1", port))
            fillers.append(s)
        except (socket.timeout, OSError):
            s.close()
            break
    else:
        print("blackhole: connects never start hanging", file=sys.stderr)
        return 1
    print("READY %d" % port, flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
    sys.exit(main())
