#!/usr/bin/env python3
"""Checked transfers for the integration matrix (test_matrix_*.sh).

Servers report what they saw to the client in-band, so the client's one
output line says everything: the data arrived intact both ways, the peer
address the server saw, the port it was reached on.

  xfer.py tcp-serve ADDR PORT[,PORT...] [ADDR PORT...]
      TCP servers (threaded, forever).  ADDR "::" is dual stack, other
      IPv6 addresses are IPv6-only.  Per connection: a 64-byte request
      "UP DOWN", UP bytes from the client, then a 128-byte answer
      "ok|bad PEER LOCALPORT" and DOWN bytes to the client, then close.
  xfer.py udp-serve ADDR PORT[,PORT...] [ADDR PORT...]
      UDP servers: each datagram is answered from the socket it arrived on
      by one datagram: a 128-byte header "sha256-of-datagram PEER
      LOCALPORT" and the datagram itself (echo).
      Servers print "bound MS" (wall clock, ms) once their sockets are bound.
  xfer.py tcp HOST PORT UP DOWN [--bind ADDR] [--timeout S]
  xfer.py udp HOST PORT SIZE [--bind ADDR] [--timeout S]
      One checked transfer.  Prints "ok peer=ADDR port=PORT" (ADDR: what
      the server saw, IPv4-mapped addresses shortened) or "error: WHY";
      exit status 0 only for ok.
  xfer.py batch [--timeout S]
      Runs checked transfers listed on stdin, one per line, tab-separated:
      NAME PROTO HOST PORT SIZE WANT_PEER WANT_PORT BIND EXPECT
      (BIND "-": none; WANT_PEER "*": any; EXPECT "ok", or "none": the
      transfer must fail, tried with a 2 s timeout).  Prints "ok: NAME: ..."
      or "FAIL: NAME: ..." per line; exit status 1 if any failed.  One
      process for many rows: a loaded machine takes a second to start one.
  xfer.py ready PROTO FAMILY PORT... [--wait S] [--gone]
      Exit 0 once every PORT is bound (PROTO tcp: listening) in this network
      namespace (/proc/net; FAMILY 4, 6 or any), or with --gone once none
      is; polls every 20 ms for at most S seconds (default 0: look once).
      Prints "watching" when it starts, then the wall clock (ms) when it
      saw them.
  xfer.py dns-serve ADDR PORT NAME A-ADDR
      A resolver stub: answers one kind of question (NAME, type A, class IN)
      with A-ADDR over UDP and TCP on ADDR:PORT (forever); anything else:
      NXDOMAIN.  Logs each query "udp|tcp PEER NAME" on stdout.
  xfer.py dns-query SERVER NAME udp|tcp [--timeout S]
      Sends one A query, prints "ok ADDR" (first A record) or "error: WHY".

Contents are deterministic (a SHA-256 counter stream keyed by the sizes),
so each end checks the other's data without a side channel.  Standard
library only.
"""

import hashlib
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import threading
import time

HDR_REQ = 64
HDR_ANS = 128


def stream(n, tag):
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(b"%s-%d-%d" % (tag, n, i)).digest() * 64
        i += 1
    return bytes(out[:n])


def short(addr):
    try:
        ip = ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        return addr
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed after %d of %d bytes" % (len(b), n))
        b += c
    return bytes(b)


def listen_sockets(kind, specs):
    socks = []
    for i in range(0, len(specs), 2):
        addr = specs[i]
        for port in specs[i + 1].split(","):
            fam = family(addr)
            s = socket.socket(fam, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if addr == "::" else 1)
            s.bind((addr, int(port)))
            if kind == socket.SOCK_STREAM:
                s.listen(64)
            socks.append(s)
    return socks


# --- TCP ---------------------------------------------------------------------

def tcp_serve_one(c, peer):
    try:
        c.settimeout(120)
        up, down = (int(x) for x in recv_exact(c, HDR_REQ).decode().split()[:2])
        h, n = hashlib.sha256(), 0
        while n < up:
            b = c.recv(min(1 << 20, up - n))
            if not b:
                break
            h.update(b)
            n += len(b)
        good = n == up and h.hexdigest() == hashlib.sha256(stream(up, b"up")).hexdigest()
        verdict = "ok" if good else "bad(%d/%d)" % (n, up)
        ans = "%s %s %d" % (verdict, short(peer[0]), c.getsockname()[1])
        c.sendall(ans.encode().ljust(HDR_ANS))
        c.sendall(stream(down, b"down"))
        c.shutdown(socket.SHUT_WR)
        c.settimeout(10)
        while c.recv(65536):
            pass
    except (OSError, EOFError, ValueError):
        pass
    finally:
        c.close()


def tcp_serve(specs):
    socks = listen_sockets(socket.SOCK_STREAM, specs)
    print("bound %d" % (time.time() * 1000), flush=True)
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            try:
                c, peer = s.accept()
            except OSError:
                continue
            threading.Thread(target=tcp_serve_one, args=(c, peer), daemon=True).start()


def connect(kind, host, port, bind, timeout):
    s = socket.socket(family(host), kind)
    s.settimeout(timeout)
    if bind:
        s.bind((bind, 0))
    s.connect((host, port))
    return s


def tcp_client(host, port, up, down, bind, timeout):
    try:
        s = connect(socket.SOCK_STREAM, host, port, bind, timeout)
        s.sendall(("%d %d" % (up, down)).encode().ljust(HDR_REQ))
        s.sendall(stream(up, b"up"))
        ans = recv_exact(s, HDR_ANS).decode().split()
        h, n = hashlib.sha256(), 0
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
        s.close()
    except (OSError, EOFError) as e:
        return "error: %s" % (e.__class__.__name__ if not str(e) else e)
    if len(ans) != 3:
        return "error: bad answer header %r" % ans
    if ans[0] != "ok":
        return "error: the server got %s" % ans[0]
    if n != down or h.hexdigest() != hashlib.sha256(stream(down, b"down")).hexdigest():
        return "error: got %d bytes of %d back, or different ones" % (n, down)
    return "ok peer=%s port=%s" % (ans[1], ans[2])


# --- UDP ---------------------------------------------------------------------

def udp_serve(specs):
    socks = listen_sockets(socket.SOCK_DGRAM, specs)
    print("bound %d" % (time.time() * 1000), flush=True)
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            try:
                data, peer = s.recvfrom(65535)
                hdr = "%s %s %d" % (hashlib.sha256(data).hexdigest(), short(peer[0]), s.getsockname()[1])
                s.sendto(hdr.encode().ljust(HDR_ANS) + data, peer)
            except OSError:
                pass


def udp_client(host, port, size, bind, timeout):
    payload = stream(size, b"udp")
    try:
        s = connect(socket.SOCK_DGRAM, host, port, bind, timeout)
        s.send(payload)
        ans = s.recv(65535)
    except OSError as e:
        return "error: %s" % (e.__class__.__name__ if not str(e) else e)
    hdr = ans[:HDR_ANS].decode(errors="replace").split()
    if len(hdr) != 3:
        return "error: bad answer header %r" % hdr
    if hdr[0] != hashlib.sha256(payload).hexdigest():
        return "error: the server got a different datagram"
    if ans[HDR_ANS:] != payload:
        return "error: the echo differs (%d bytes of %d)" % (len(ans) - HDR_ANS, size)
    return "ok peer=%s port=%s" % (hdr[1], hdr[2])


# --- readiness -----------------------------------------------------------------

def bound_ports(proto, fam):
    found = set()
    files = []
    if fam in ("any", "4"):
        files.append("/proc/net/%s" % proto)
    if fam in ("any", "6"):
        files.append("/proc/net/%s6" % proto)
    for path in files:
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state = f[1], f[3]
            if proto == "tcp" and state != "0A":
                continue
            found.add(int(local.split(":")[1], 16))
    return found


def ready(proto, fam, ports, wait, gone):
    want = {int(p) for p in ports}
    deadline = time.monotonic() + wait
    print("watching", flush=True)
    while True:
        found = bound_ports(proto, fam)
        if (not (want & found)) if gone else want <= found:
            print("%d" % (time.time() * 1000), flush=True)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


# --- DNS -------------------------------------------------------------------------

def qname_encode(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def qname_decode(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compression in a question")
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += 1 + n


def dns_answer(query, name, a_addr):
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    qn, off = qname_decode(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    hit = qn.lower() == name.lower().rstrip(".") and qtype == 1 and qclass == 1
    rcode = 0 if hit else 3
    hdr = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if hit else 0, 0, 0)
    ans = b""
    if hit:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(a_addr)
    return hdr + question + ans, qn


def dns_serve(addr, port, name, a_addr):
    fam = family(addr)
    u = socket.socket(fam, socket.SOCK_DGRAM)
    t = socket.socket(fam, socket.SOCK_STREAM)
    for s in (u, t):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
    t.listen(16)
    print("READY", flush=True)
    while True:
        r, _, _ = select.select([u, t], [], [])
        for s in r:
            try:
                if s is u:
                    q, peer = u.recvfrom(65535)
                    a, qn = dns_answer(q, name, a_addr)
                    u.sendto(a, peer)
                    print("udp %s %s" % (short(peer[0]), qn), flush=True)
                else:
                    c, peer = t.accept()
                    c.settimeout(5)
                    n = struct.unpack("!H", recv_exact(c, 2))[0]
                    a, qn = dns_answer(recv_exact(c, n), name, a_addr)
                    c.sendall(struct.pack("!H", len(a)) + a)
                    c.close()
                    print("tcp %s %s" % (short(peer[0]), qn), flush=True)
            except (OSError, EOFError, ValueError, struct.error) as e:
                print("error %s" % e, flush=True)


def dns_query(server, name, proto, timeout):
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname_encode(name) + struct.pack("!HH", 1, 1)
    try:
        if proto == "udp":
            s = connect(socket.SOCK_DGRAM, server, 53, None, timeout)
            s.send(q)
            a = s.recv(65535)
        else:
            s = connect(socket.SOCK_STREAM, server, 53, None, timeout)
            s.sendall(struct.pack("!H", len(q)) + q)
            n = struct.unpack("!H", recv_exact(s, 2))[0]
            a = recv_exact(s, n)
    except (OSError, EOFError) as e:
        return "error: %s" % (e.__class__.__name__ if not str(e) else e)
    rid, flags, qd, an = struct.unpack("!HHHH", a[:8])
    if rid != qid:
        return "error: answer id %d for query %d" % (rid, qid)
    if flags & 0xF:
        return "error: rcode %d" % (flags & 0xF)
    _, off = qname_decode(a, 12)
    off += 4
    for _ in range(an):
        if a[off] & 0xC0:
            off += 2
        else:
            _, off = qname_decode(a, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", a[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            return "ok %s" % socket.inet_ntoa(a[off:off + 4])
        off += rdlen
    return "error: no A record in the answer"


def batch(timeout):
    failed = 0
    for line in sys.stdin:
        f = line.rstrip("\n").split("\t")
        if len(f) != 9:
            continue
        name, proto, host, port, size, want_peer, want_port, bind, expect = f
        port, size = int(port), int(size)
        bind = None if bind == "-" else bind
        what = "%s %s:%d (%d bytes)%s" % (proto, host, port, size, " from " + bind if bind else "")
        t = timeout if expect == "ok" else 2
        if proto == "tcp":
            r = tcp_client(host, port, size, size, bind, t)
        else:
            r = udp_client(host, port, size, bind, t)
        if expect != "ok":
            good = not r.startswith("ok")
            detail = "not forwarded (%s)" % r[len("error: "):] if good else "answered (%s); it must not be forwarded" % r
        else:
            peer, got_port = None, None
            if r.startswith("ok peer="):
                peer, got_port = r[len("ok peer="):].split(" port=")
            good = got_port == want_port and (want_peer == "*" or peer == want_peer)
            detail = "%s" % r[3:] if good else "%s, expected peer=%s port=%s" % (r, want_peer, want_port)
        if not good:
            failed += 1
        print("%s: %s: %s: %s" % ("ok" if good else "FAIL", name, what, detail), flush=True)
    return failed == 0


def opt(args, name, default=None):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return v
    return default


def main():
    args = sys.argv[1:]
    bind = opt(args, "--bind")
    timeout = float(opt(args, "--timeout", "30"))
    wait = float(opt(args, "--wait", "0"))
    gone = "--gone" in args
    if gone:
        args.remove("--gone")
    cmd = args[0]
    if cmd == "tcp-serve":
        tcp_serve(args[1:])
    elif cmd == "udp-serve":
        udp_serve(args[1:])
    elif cmd == "tcp":
        r = tcp_client(args[1], int(args[2]), int(args[3]), int(args[4]), bind, timeout)
    elif cmd == "udp":
        r = udp_client(args[1], int(args[2]), int(args[3]), bind, timeout)
    elif cmd == "batch":
        sys.exit(0 if batch(timeout) else 1)
    elif cmd == "ready":
        sys.exit(0 if ready(args[1], args[2], args[3:], wait, gone) else 1)
    elif cmd == "dns-serve":
        dns_serve(args[1], int(args[2]), args[3], args[4])
    elif cmd == "dns-query":
        r = dns_query(args[1], args[2], args[3], timeout)
    else:
        sys.exit("unknown command %s" % cmd)
    print(r)
    sys.exit(0 if r.startswith("ok") else 1)


if __name__ == "__main__":
    main()
