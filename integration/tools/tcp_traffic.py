#!/usr/bin/env python3
"""Verified TCP transfers for the real-traffic tests (test_tcp_traffic*.sh).

  server BIND PORT LOG
      Threaded server, runs until killed.  One line per connection in LOG.
  client HOST PORT UP DOWN SEED [--pause-at N --pause-ms MS] [--bind ADDR]
      One connection; prints one result line, exit 0 if both directions
      arrived intact.
  many HOSTS PORT N MIN MAX SEED
      N connections open at once (HOSTS comma-separated, used in turn; each
      ADDR or ADDR=BIND to bind the client to BIND), each with UP and DOWN
      sizes drawn from [MIN, MAX] (seeded); prints "ok N ..." or the
      failures.

A connection starts with a 64-byte header "UP DOWN SEED PAUSE_AT PAUSE_MS".
The client sends UP bytes and shuts down its write side; the server reads
them (stopping reading for PAUSE_MS after PAUSE_AT bytes if PAUSE_MS > 0),
then sends DOWN bytes and shuts down; the client reads them (with its own
--pause-at/--pause-ms reading pause).  Contents are a deterministic
pseudo-random stream per (SEED, direction); each receiver compares every
byte with the expected stream (first differing offset reported) and each
end reports the SHA-256 of what it sent and of what it received:

  server log:  seed=S up=N recv=<n>/<sha> sent=<n>/<sha> ok|bad(...)
  client:      seed=S sent=<n>/<sha> recv=<n>/<sha> ok|bad(...)

While a reader pauses it appends "pause seed=S at=N" and "resume seed=S" to
the log (server) or stderr (client), so the caller can look at the stalled
connection in between.  Standard library only.
"""
import hashlib
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 16
HDR = 64


class Stream:
    """The deterministic byte stream of one direction of one connection."""

    def __init__(self, seed, tag):
        self.rng = random.Random("%d-%s" % (seed, tag))
        self.buf = b""

    def take(self, n):
        while len(self.buf) < n:
            # Whole blocks only: the stream must not depend on how it is cut.
            self.buf += self.rng.randbytes(CHUNK)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def send_stream(s, n, seed, tag):
    """Sends n bytes of the stream; returns the SHA-256 of what was sent."""
    st, h, left = Stream(seed, tag), hashlib.sha256(), n
    while left:
        b = st.take(min(CHUNK * 4, left))
        h.update(b)
        s.sendall(b)
        left -= len(b)
    return h.hexdigest()


def recv_check(s, n, seed, tag, pause_at=0, pause_ms=0, note=None):
    """Reads until EOF, comparing with the expected n bytes of the stream.
    Returns (received count, SHA-256 of the received bytes, error or None)."""
    st, h, got, err = Stream(seed, tag), hashlib.sha256(), 0, None
    paused = pause_ms <= 0
    while True:
        want = CHUNK * 4
        if not paused and got + want > pause_at:
            want = max(pause_at - got, 0)
        if want == 0:
            if note:
                note("pause seed=%d at=%d" % (seed, got))
            time.sleep(pause_ms / 1000.0)
            if note:
                note("resume seed=%d" % seed)
            paused = True
            continue
        b = s.recv(want)
        if not b:
            break
        h.update(b)
        if err is None:
            exp = st.take(min(len(b), max(n - got, 0)))
            if exp != b:
                off = next((i for i in range(min(len(b), len(exp))) if b[i] != exp[i]),
                           min(len(b), len(exp)))
                err = "differs at offset %d" % (got + off)
        got += len(b)
    if err is None and got != n:
        err = "got %d bytes of %d" % (got, n)
    return got, h.hexdigest(), err


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("short header (%d bytes)" % len(b))
        b += c
    return b


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve_one(c, log, lock):
    seed, up = -1, 0
    try:
        up, down, seed, pause_at, pause_ms = (int(x) for x in recv_exact(c, HDR).split()[:5])

        def note(msg):
            with lock, open(log, "a") as f:
                f.write(msg + "\n")
        got, rsha, err = recv_check(c, up, seed, "up", pause_at, pause_ms, note)
        ssha = send_stream(c, down, seed, "down")
        c.shutdown(socket.SHUT_WR)
        c.settimeout(30)
        while c.recv(CHUNK):
            pass
        line = "seed=%d up=%d recv=%d/%s sent=%d/%s %s" % (
            seed, up, got, rsha, down, ssha, "ok" if err is None else "bad(%s)" % err)
    except Exception as e:  # noqa: BLE001 -- reported in the log
        line = "seed=%d up=%d error(%s)" % (seed, up, e)
    finally:
        c.close()
    with lock, open(log, "a") as f:
        f.write(line + "\n")


def serve(host, port, log):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(host) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
    s.bind((host, port))
    s.listen(512)
    lock = threading.Lock()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_one, args=(c, log, lock), daemon=True).start()


def connect(host, port, bind, timeout):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    if bind:
        s.bind((bind, 0))
    s.connect((host, port))
    return s


def transfer(host, port, up, down, seed, bind=None, pause_at=0, pause_ms=0,
             srv_pause_at=0, srv_pause_ms=0, timeout=60):
    """One connection; returns (ok, result line)."""
    try:
        s = connect(host, port, bind, timeout)
        try:
            s.sendall(("%d %d %d %d %d" % (up, down, seed, srv_pause_at, srv_pause_ms))
                      .encode().ljust(HDR))
            ssha = send_stream(s, up, seed, "up")
            s.shutdown(socket.SHUT_WR)
            note = (lambda m: print(m, file=sys.stderr, flush=True)) if pause_ms else None
            got, rsha, err = recv_check(s, down, seed, "down", pause_at, pause_ms, note)
        finally:
            s.close()
    except OSError as e:
        return False, "seed=%d error(%s)" % (seed, e)
    return err is None, "seed=%d sent=%d/%s recv=%d/%s %s" % (
        seed, up, ssha, got, rsha, "ok" if err is None else "bad(%s)" % err)


def opt(args, name, default):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return v
    return default


def main():
    args = sys.argv[1:]
    bind = opt(args, "--bind", None)
    pause_at = int(opt(args, "--pause-at", 0))
    pause_ms = int(opt(args, "--pause-ms", 0))
    srv_pause_at = int(opt(args, "--server-pause-at", 0))
    srv_pause_ms = int(opt(args, "--server-pause-ms", 0))
    timeout = float(opt(args, "--timeout", 150))
    cmd = args[0]
    if cmd == "server":
        serve(args[1], int(args[2]), args[3])
    elif cmd == "client":
        ok, line = transfer(args[1], int(args[2]), int(args[3]), int(args[4]), int(args[5]),
                            bind, pause_at, pause_ms, srv_pause_at, srv_pause_ms, timeout)
        print(line, flush=True)
        sys.exit(0 if ok else 1)
    elif cmd == "many":
        hosts = [h.partition("=")[::2] for h in args[1].split(",")]
        port, n = int(args[2]), int(args[3])
        lo, hi, seed = int(args[4]), int(args[5]), int(args[6])
        rng = random.Random(seed)
        sizes = [(rng.randint(lo, hi), rng.randint(lo, hi)) for _ in range(n)]
        # All connections established first, so that N are open at once.
        socks, results = [], [None] * n
        try:
            for i in range(n):
                host, b = hosts[i % len(hosts)]
                socks.append(connect(host, port, b or bind, timeout))
        except OSError as e:
            print("bad: connection %d of %d: %s" % (len(socks) + 1, n, e), flush=True)
            sys.exit(1)
        barrier = threading.Barrier(n)

        times = [0.0] * n

        def run(i):
            s, (up, down) = socks[i], sizes[i]
            try:
                barrier.wait(timeout)
                t0 = time.monotonic()
                s.sendall(("%d %d %d 0 0" % (up, down, seed + i)).encode().ljust(HDR))
                send_stream(s, up, seed + i, "up")
                s.shutdown(socket.SHUT_WR)
                got, _, err = recv_check(s, down, seed + i, "down")
                times[i] = time.monotonic() - t0
                results[i] = err
            except (OSError, threading.BrokenBarrierError) as e:
                results[i] = "error(%s)" % e
            finally:
                s.close()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad = [(i, r) for i, r in enumerate(results) if r is not None]
        total = sum(u + d for u, d in sizes)
        if bad:
            print("bad: %d of %d failed, e.g. %s" % (len(bad), n, bad[:3]), flush=True)
            sys.exit(1)
        slow = max(range(n), key=lambda i: times[i])
        print("ok %d connections, %d bytes; slowest: #%d (%s, up %d, down %d) %.1f s" % (
            n, total, slow, hosts[slow % len(hosts)][0], sizes[slow][0], sizes[slow][1],
            times[slow]), flush=True)
    else:
        sys.exit("usage: see the header of " + sys.argv[0])


if __name__ == "__main__":
    main()
