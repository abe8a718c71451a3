#!/usr/bin/env python3
"""A TCP sink for the integration tests: listens on ADDR:PORT, creates the
file READY once listening (so a test can wait for it instead of sleeping),
accepts one connection and stores its bytes in OUT until EOF.  Every wait is
bounded (20 s); exit status 1 on a timeout.

Usage: tcp_sink.py ADDR PORT OUT READY
"""
import socket
import sys


def main():
    addr, port, out, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(20)
    open(ready, "w").close()
    try:
        c, _ = s.accept()
        c.settimeout(20)
        with open(out, "wb") as f:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                f.write(b)
    except socket.timeout:
        print("tcp_sink: timed out", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
