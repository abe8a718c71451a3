#!/usr/bin/env python3
"""A hostile guest for passt and pasta (integration/test_hostile_input.sh,
integration/test_limits.sh).

Frames: every file of the fuzz corpora (fuzz/corpus/*), wrapped into a whole
Ethernet frame according to the layer its target parses (ARP body, IPv4/IPv6
packet, TCP/UDP/ICMP message, DHCP/DHCPv6 payload...), plus a few valid
service requests; then, from those, a deterministic stream (--seed) of
mutations: truncated at a random length, bits flipped, header length fields
lying (IPv4 total length and IHL, IPv6 payload length, TCP data offset, UDP
length), oversized (padded up to the largest frame the link carries), and
frames of random bytes.

Usage:
  hostile_peer.py flood   --socket PATH --corpus DIR [--frames N] [--seed S]
        passt: qemu's stream framing; everything passt answers is read and
        discarded by a second thread (a guest that reads).
  hostile_peer.py framing --socket PATH
        passt: one connection per broken length prefix (0, 1, 13, 65536,
        2^32-1, a frame cut short by EOF); passt must reset or close each.
  hostile_peer.py inject  --ifname IF --corpus DIR [--frames N] [--seed S]
        pasta: run inside its namespace; AF_PACKET frames sent out of the
        tap interface reach pasta (frames the kernel refuses to send, e.g.
        longer than the MTU, are counted and skipped).
  hostile_peer.py tcp     --socket PATH --dst ADDR --port P [--bytes N]
        passt: a minimal TCP client over the qemu link (handshake, N bytes
        to an echo server, the echo back, FIN both ways), the guest being
        198.51.100.1 / fe80::5054:ff:fe12:3456 as in qemu_peer.py.
  hostile_peer.py syn     --socket PATH --dst ADDR --count N [--port-base P] [--window W]
        passt: N SYNs from distinct source ports (with --window, at most W
        unanswered at a time); prints how many were answered with SYN+ACK
        and with RST within the wait.
  hostile_peer.py fdlimit --socket PATH --pid PID --blackhole ADDR --count N
                          --inbound-port P [--port ECHO]
        passt started with a small RLIMIT_NOFILE: N SYNs to a black hole hold
        every descriptor (the rest must be answered RST); then, on the same
        link, a guest SYN is answered RST, an inbound connection to the -t
        port P and a second qemu client are reset without passt spinning
        (CPU time of PID sampled); once the kernel gives up the held
        connect()s (tcp_syn_retries), the descriptors are back and a TCP echo
        works on the same link.
  hostile_peer.py stall   --socket PATH --dst ADDR --port P --seconds S
        passt: open a TCP connection to a source that sends without end,
        then stop reading the link for S seconds (a guest that never
        reads); afterwards read again and check the link still works (ARP).

Exit status 0 if every check passed; 1 with "FAIL: ..." on stderr otherwise.
"""

import argparse
import fcntl
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu_peer as qp  # noqa: E402  (frame builders, Link, checks)

GUEST4 = "198.51.100.1"
GW4 = "198.51.100.254"
GUEST6 = "2001:db8::1"
GW6 = "2001:db8::ff"
HOST4 = "203.0.113.1"
MAX_FRAME = 65535          # what the qemu framing (and passt) carries


def fail(msg):
    raise qp.CheckFailed(msg)


# --- wrapping corpus files into frames -----------------------------------------------

def tcp4_raw(src, dst, seg):
    return qp.eth(qp.BCAST_MAC, qp.GUEST_MAC, 0x0800, qp.ipv4(src, dst, 6, seg))


def wrap(layer, data):
    """A whole frame carrying `data` where the fuzz target of `layer` parses it."""
    g = qp.GUEST_MAC
    if layer in ("frame", "ethernet"):
        return data
    if layer == "arp":
        return qp.eth(qp.BCAST_MAC, g, 0x0806, data)
    if layer == "ipv4":
        return qp.eth(qp.BCAST_MAC, g, 0x0800, data)
    if layer == "ipv6":
        return qp.eth(qp.mcast_mac6("ff02::1"), g, 0x86DD, data)
    if layer == "icmp":
        return qp.eth(qp.BCAST_MAC, g, 0x0800, qp.ipv4(GUEST4, GW4, 1, data))
    if layer in ("icmpv6", "ndp"):
        return qp.eth(qp.mcast_mac6("ff02::2"), g, 0x86DD, qp.ipv6(qp.GUEST_LL, "ff02::2", 58, data))
    if layer == "tcp":
        return tcp4_raw(GUEST4, HOST4, data)
    if layer == "udp":
        return qp.eth(qp.BCAST_MAC, g, 0x0800, qp.ipv4(GUEST4, GW4, 17, data))
    if layer == "dhcp":
        return qp.eth(qp.BCAST_MAC, g, 0x0800, qp.udp4("0.0.0.0", "255.255.255.255", 68, 67, data))
    if layer == "dhcpv6":
        return qp.eth(qp.mcast_mac6("ff02::1:2"), g, 0x86DD,
                      qp.udp6(qp.GUEST_LL, "ff02::1:2", 546, 547, data))
    return None   # cli, resolv_conf, dns_name, script...: not frames


def load_seeds(corpus):
    seeds = []
    for layer in sorted(os.listdir(corpus)):
        d = os.path.join(corpus, layer)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            fr = wrap(layer, data)
            if fr is not None and len(fr) <= MAX_FRAME:
                seeds.append(fr)
    # Valid requests too: mutations of them reach deeper.
    seeds.append(qp.arp_request(qp.GUEST_MAC, GUEST4, GW4))
    seeds.append(qp.dhcp_packet(0x1234, 1, False))
    seeds.append(qp.router_solicitation())
    seeds.append(qp.neighbour_solicitation(GW6))
    seeds.append(qp.dhcpv6_packet(1, 0x42))
    seeds.append(tcp4_raw(GUEST4, HOST4, tcp_header(GUEST4, HOST4, 40000, 9, 1, 0, 0x02, 65535,
                                                     mss=1460)))
    if not seeds:
        fail("no frames in the corpus " + corpus)
    return seeds


def mutate(rng, seeds, max_len):
    """One hostile frame."""
    kind = rng.randrange(100)
    base = bytearray(rng.choice(seeds))
    if kind < 12:                                   # as is
        return bytes(base)
    if kind < 30:                                   # truncated
        return bytes(base[:rng.randrange(0, len(base) + 1)])
    if kind < 55:                                   # bits flipped
        for _ in range(rng.randrange(1, 9)):
            if base:
                base[rng.randrange(len(base))] ^= 1 << rng.randrange(8)
        return bytes(base)
    if kind < 75:                                   # a length field lies
        if len(base) >= 14 + 20 and base[12:14] == b"\x08\x00":
            which = rng.randrange(4)
            if which == 0:
                base[16:18] = struct.pack("!H", rng.randrange(65536))        # total length
            elif which == 1:
                base[14] = 0x40 | rng.randrange(16)                           # IHL
            elif which == 2 and len(base) >= 14 + 20 + 14:
                base[14 + 20 + 12] = rng.randrange(256)                       # TCP data offset
            elif len(base) >= 14 + 20 + 6:
                base[14 + 20 + 4:14 + 20 + 6] = struct.pack("!H", rng.randrange(65536))  # UDP length
        elif len(base) >= 14 + 40 and base[12:14] == b"\x86\xdd":
            if rng.randrange(2):
                base[18:20] = struct.pack("!H", rng.randrange(65536))        # payload length
            else:
                base[20] = rng.choice([0, 43, 44, 60, 51, 59, 6, 17, 58, 255])  # next header
        else:
            base[12:14] = struct.pack("!H", rng.choice([0x0800, 0x86DD, 0x0806, 0x8100, 0x88a8]))
        return bytes(base)
    if kind < 85:                                   # oversized
        n = rng.randrange(len(base), max_len + 1) if len(base) < max_len else max_len
        return bytes(base) + bytes(rng.randrange(256) for _ in range(min(64, n - len(base)))) + \
            b"\0" * max(0, n - len(base) - 64)
    n = rng.choice([0, 1, 13, 14, 15, 41, 54, 60, 64, 128, 576, 1500, 1514, 9000])
    return os.urandom(min(n, max_len))              # random bytes


# --- passt: qemu framing ---------------------------------------------------------------

class Drain(threading.Thread):
    """Reads and discards whatever passt sends (a guest that reads)."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.bytes = 0
        self.stop = False
        self.eof = False

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            try:
                d = self.sock.recv(1 << 20)
            except OSError:
                d = b""
            if not d:
                self.eof = True
                return
            self.bytes += len(d)


def cmd_flood(a):
    rng = random.Random(a.seed)
    seeds = load_seeds(a.corpus)
    link = qp.Link.connect(a.socket)
    drain = Drain(link.sock)
    drain.start()
    sent = 0
    big = 0
    t0 = time.monotonic()
    chunk = []
    for i in range(a.frames):
        f = mutate(rng, seeds, MAX_FRAME)
        if len(f) < 14:           # the framing itself would be broken: see `framing`
            f = f + b"\0" * (14 - len(f))
        big += len(f) > 1514
        chunk.append(struct.pack("!I", len(f)) + f)
        if len(chunk) == 64 or i == a.frames - 1:
            link.sock.sendall(b"".join(chunk))
            sent += len(chunk)
            chunk = []
        if drain.eof:
            fail("passt closed the connection after %d frames" % sent)
    # Answers to the flood (ARP replies to mutated requests too) are read
    # until passt goes quiet; then one clean ARP exchange.
    drain.stop = True
    drain.join()
    while select.select([link.sock], [], [], 0.5)[0]:
        d = link.sock.recv(1 << 20)
        if not d:
            fail("passt closed the connection after the flood")
        drain.bytes += len(d)
    link.buf = b""
    qp.do_arp(link, qp.Expect(peer_args()))
    link.close()
    qp.ok("%d hostile frames (%d longer than 1514 bytes) from %d seeds in %.1f s, %d bytes back" %
          (sent, big, len(seeds), time.monotonic() - t0, drain.bytes))


def cmd_framing(a):
    cases = [("length 0", struct.pack("!I", 0)),
             ("length 1", struct.pack("!I", 1) + b"x"),
             ("length 13", struct.pack("!I", 13) + b"x" * 13),
             ("length 65536", struct.pack("!I", 65536) + b"x" * 100),
             ("length 2^32-1", struct.pack("!I", 0xFFFFFFFF) + b"x" * 100)]
    for what, data in cases:
        link = qp.Link.connect(a.socket)
        link.sock.sendall(data)
        qp.expect_eof(link.sock, what)
        link.sock.close()
        qp.ok("%s: connection reset" % what)
    # A frame cut short by the client going away, then a new client works.
    link = qp.Link.connect(a.socket)
    link.sock.sendall(struct.pack("!I", 1000) + b"y" * 500)
    link.sock.close()
    arp_retrying(a.socket)
    qp.ok("half a frame then EOF: the next client is served")


def arp_retrying(path, seconds=3.0):
    """One ARP exchange on a new connection.  passt closes a client that
    connects before it has seen the previous one's EOF (one client at a
    time, as upstream): retry briefly."""
    deadline = time.monotonic() + seconds
    while True:
        link = qp.Link.connect(path)
        try:
            qp.do_arp(link, qp.Expect(peer_args()))
            link.close()
            return
        except (qp.CheckFailed, OSError):
            link.sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- pasta: AF_PACKET on the tap, inside the namespace -------------------------------------

def cmd_inject(a):
    rng = random.Random(a.seed)
    seeds = load_seeds(a.corpus)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((a.ifname, 0))
    # SIOCGIFMTU: /sys may belong to another network namespace.
    ifr = fcntl.ioctl(s.fileno(), 0x8921, struct.pack("16sI12x", a.ifname.encode(), 0))
    mtu = struct.unpack("16sI12x", ifr)[1]
    sent = refused = 0
    t0 = time.monotonic()
    for _ in range(a.frames):
        f = mutate(rng, seeds, mtu + 14)
        try:
            s.send(f)
            sent += 1
        except OSError:
            refused += 1            # shorter than a header, longer than the MTU...
    s.close()
    qp.ok("%d hostile frames into %s (%d refused by the kernel) in %.1f s" %
          (sent, a.ifname, refused, time.monotonic() - t0))


# --- a minimal TCP over the qemu link ------------------------------------------------------

def tcp_header(src, dst, sport, dport, seq, ack, flags, window, payload=b"", mss=None):
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                      flags, window, 0, 0) + opts
    c = qp.csum16(qp.pseudo4(ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
                             6, len(hdr) + len(payload)) + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def parse_tcp(f):
    """(sport, dport, seq, ack, flags, payload) of an IPv4 TCP frame, else None."""
    if f.ethertype != 0x0800 or f.proto != 6 or f.l4 is None or len(f.l4) < 20:
        return None
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", f.l4[:14])
    return sport, dport, seq, ack, flags, f.l4[(off >> 4) * 4:]


class MiniTcp:
    def __init__(self, link, dst, dport, sport):
        self.link, self.dst, self.dport, self.sport = link, dst, dport, sport
        self.snd = 1000
        self.rcv = 0

    def send(self, flags, payload=b"", mss=None):
        seg = tcp_header(GUEST4, self.dst, self.sport, self.dport, self.snd, self.rcv, flags, 65535,
                         payload, mss)
        self.link.send(tcp4_raw(GUEST4, self.dst, seg))
        self.link.flush()

    def mine(self, f):
        t = parse_tcp(f)
        return t is not None and t[0] == self.dport and t[1] == self.sport

    def expect(self, what, timeout=5.0):
        f = self.link.expect(what, self.mine, timeout)
        return parse_tcp(f)

    def connect(self):
        self.send(SYN, mss=1460)
        _, _, seq, ack, flags, _ = self.expect("SYN+ACK from %s:%d" % (self.dst, self.dport))
        if flags & RST:
            fail("connection to %s:%d refused (RST)" % (self.dst, self.dport))
        if flags & (SYN | ACK) != SYN | ACK or ack != self.snd + 1:
            fail("handshake answered with flags %#x ack %d" % (flags, ack))
        self.snd += 1
        self.rcv = seq + 1
        self.send(ACK)


def cmd_tcp(a):
    link = qp.Link.connect(a.socket)
    t = MiniTcp(link, a.dst, a.port, a.sport)
    t.connect()
    data = os.urandom(a.bytes)
    for i in range(0, len(data), 1000):
        t.send(ACK | PSH, data[i:i + 1000])
        t.snd += len(data[i:i + 1000])
    got = b""
    deadline = time.monotonic() + 10
    while len(got) < len(data):
        if time.monotonic() > deadline:
            fail("echo: %d of %d bytes back" % (len(got), len(data)))
        _, _, seq, _, flags, payload = t.expect("echoed data")
        if flags & RST:
            fail("connection reset during the echo")
        if payload and seq == t.rcv:
            got += payload
            t.rcv += len(payload)
            t.send(ACK)
    if got != data:
        fail("echo differs")
    t.send(FIN | ACK)
    t.snd += 1
    deadline = time.monotonic() + 5
    while True:
        _, _, seq, ack, flags, _ = t.expect("FIN from the far end")
        if flags & FIN:
            t.rcv = seq + 1
            t.send(ACK)
            break
        if time.monotonic() > deadline:
            fail("no FIN")
    link.close()
    qp.ok("TCP through passt: %d bytes echoed by %s:%d, closed" % (len(data), a.dst, a.port))


class TcpCounter(threading.Thread):
    """Reads passt's frames as they come and counts TCP answers by flags."""

    def __init__(self, link):
        super().__init__(daemon=True)
        self.link = link
        self.synack = 0
        self.rst = 0
        self.stop = False
        self.error = None

    def run(self):
        try:
            while not self.stop:
                f = self.link.recv_frame(time.monotonic() + 0.2)
                if f is None:
                    continue
                t = parse_tcp(f)
                if t is None:
                    continue
                if t[4] & RST:
                    self.rst += 1
                elif t[4] & SYN:
                    self.synack += 1
        except (qp.CheckFailed, OSError) as ex:
            self.error = ex


def cmd_syn(a):
    link = qp.Link.connect(a.socket)
    counter = TcpCounter(link)
    counter.start()
    t0 = time.monotonic()
    chunk = []
    for i in range(a.count):
        sport = 1024 + (i % 60000)
        dport = a.port_base + i // 60000
        seg = tcp_header(GUEST4, a.dst, sport, dport, 77, 0, SYN, 65535, mss=1460)
        f = tcp4_raw(GUEST4, a.dst, seg)
        chunk.append(struct.pack("!I", len(f)) + f)
        if len(chunk) == 256 or i == a.count - 1:
            link.sock.sendall(b"".join(chunk))
            chunk = []
            # --window: at most that many SYNs unanswered (answers to a
            # flood faster than we read are dropped at the link).
            t_end = time.monotonic() + 5
            while a.window and i + 1 - (counter.synack + counter.rst) > a.window and \
                    time.monotonic() < t_end:
                time.sleep(0.002)
    # Until every SYN is answered, or nothing more comes for a second.
    deadline = time.monotonic() + a.wait
    last, quiet = -1, time.monotonic()
    while time.monotonic() < deadline and counter.synack + counter.rst < a.count:
        n = counter.synack + counter.rst
        if n != last:
            last, quiet = n, time.monotonic()
        elif time.monotonic() - quiet > 1.0:
            break
        time.sleep(0.05)
    counter.stop = True
    counter.join()
    if counter.error:
        fail("link: %s" % counter.error)
    link.close()
    print("syn: sent %d answered synack %d rst %d in %.1f s" %
          (a.count, counter.synack, counter.rst, time.monotonic() - t0), flush=True)


def cmd_stall(a):
    link = qp.Link.connect(a.socket)
    t = MiniTcp(link, a.dst, a.port, a.sport)
    t.connect()
    qp.ok("connected to the endless source %s:%d; the guest stops reading for %d s" %
          (a.dst, a.port, a.seconds))
    # Ask for data with a big window, then read nothing at all.
    if a.pid:
        used = idle_for(a.pid, a.seconds, "a guest that never reads", 10 * a.seconds)
        qp.ok("passt used %d ticks of CPU in the %d s the guest did not read" % (used, a.seconds))
    else:
        time.sleep(a.seconds)
    # Read again: data and whatever else is queued; the link is still framed.
    n = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        f = link.recv_frame(time.monotonic() + 0.5)
        if f is None:
            break
        n += 1
        if n > 2000:
            break
    t.send(RST | ACK)
    link.buf = b""
    link.close()
    arp_retrying(a.socket)
    qp.ok("after the stall: %d frames read back in order, the link still answers ARP" % n)


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])          # utime + stime


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def idle_for(pid, seconds, what, max_ticks):
    c0 = cpu_ticks(pid)
    time.sleep(seconds)
    used = cpu_ticks(pid) - c0
    if used > max_ticks:
        fail("%s: passt used %d ticks of CPU in %.0f s (a busy loop?)" % (what, used, seconds))
    return used


def cmd_fdlimit(a):
    base = nfds(a.pid)
    link = qp.Link.connect(a.socket)
    chunk = []
    for i in range(a.count):
        seg = tcp_header(GUEST4, a.blackhole, 1024 + i, 80, 77, 0, SYN, 65535, mss=1460)
        f = tcp4_raw(GUEST4, a.blackhole, seg)
        chunk.append(struct.pack("!I", len(f)) + f)
    link.sock.sendall(b"".join(chunk))
    rst = synack = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        f = link.recv_frame(time.monotonic() + 0.5)
        if f is None:
            break
        t = parse_tcp(f)
        if t is not None and t[1] < 1024 + a.count:
            rst += bool(t[4] & RST)
            synack += bool(t[4] & SYN)
    held = nfds(a.pid) - base
    if held <= 0 or rst + held < a.count - 5:
        fail("SYN flood at the fd limit: %d descriptors held, %d RST for %d SYNs" % (held, rst, a.count))
    qp.ok("%d SYNs to a black hole: %d descriptors held, %d answered RST+ACK, %d SYN+ACK" %
          (a.count, held, rst, synack))
    idle_for(a.pid, 1, "at the fd limit, nothing pending", 10)
    # A guest SYN to a live service: no descriptor for it, RST at once.
    t = MiniTcp(link, HOST4, a.port, 46000)
    t.send(SYN, mss=1460)
    r = t.expect("answer to a SYN at the fd limit", 3)
    if not r[4] & RST:
        fail("a guest SYN at the fd limit got flags %#x, expected RST" % r[4])
    qp.ok("a guest SYN at the fd limit: RST+ACK")
    # An inbound connection to the -t port: reset, no spinning.
    reset = False
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", a.inbound_port))
        used = idle_for(a.pid, 2, "inbound connection at the fd limit", 10)
        reset = s.recv(1) == b""
    except ConnectionResetError:
        reset = True
        used = idle_for(a.pid, 2, "inbound connection at the fd limit", 10)
    except socket.timeout:
        pass
    s.close()
    if not reset:
        fail("inbound connection at the fd limit was not reset")
    qp.ok("an inbound connection at the fd limit: reset, passt idle (%d ticks in 2 s)" % used)
    # A second qemu client: reset, no spinning; the first link still works.
    b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    b.connect(a.socket)
    used = idle_for(a.pid, 2, "a second qemu client at the fd limit", 10)
    qp.expect_eof(b, "second client at the fd limit")
    b.close()
    qp.do_arp(link, qp.Expect(peer_args()))
    qp.ok("a second qemu client at the fd limit: closed, passt idle (%d ticks in 2 s), the "
          "first link still answers ARP" % used)
    # The kernel gives up the black-holed connect()s: descriptors are back.
    deadline = time.monotonic() + a.wait
    while nfds(a.pid) > base + 1:
        if time.monotonic() > deadline:
            fail("descriptors still held %.0f s later: %d (baseline %d)" % (a.wait, nfds(a.pid), base))
        time.sleep(0.2)
    link.buf = b""
    t = MiniTcp(link, HOST4, a.port, 46001)
    t.connect()
    t.send(ACK | PSH, b"ping")
    t.snd += 4
    deadline = time.monotonic() + 5
    got = b""
    while got != b"ping":
        if time.monotonic() > deadline:
            fail("no echo after the descriptors came back")
        _, _, seq, _, flags, payload = t.expect("echo")
        if payload and seq == t.rcv:
            got += payload
            t.rcv += len(payload)
            t.send(ACK)
    t.send(RST | ACK)
    link.close()
    qp.ok("descriptors back to %d, a TCP echo works on the same link" % nfds(a.pid))


def peer_args():
    """qemu_peer's default expectations (the outer namespace of lib/common.sh)."""
    return argparse.Namespace(our_mac=None, addr4=GUEST4, gw4=GW4, prefix4=24,
                              dns4="198.51.100.53", dns6="2001:db8::53", search="example.org",
                              mtu=65520, addr6=GUEST6, prefix6="2001:db8::/64", our_ll=None,
                              ra_lifetime=None, prefix_lifetime=None, ignore_bcast_flag=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["flood", "framing", "inject", "tcp", "syn", "stall", "fdlimit"])
    ap.add_argument("--pid", type=int)
    ap.add_argument("--blackhole", default="192.0.2.1")
    ap.add_argument("--inbound-port", type=int, default=7020)
    ap.add_argument("--socket")
    ap.add_argument("--ifname")
    ap.add_argument("--corpus")
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dst", default=HOST4)
    ap.add_argument("--port", type=int, default=7010)
    ap.add_argument("--sport", type=int, default=45000)
    ap.add_argument("--bytes", type=int, default=20000)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--port-base", type=int, default=20000)
    ap.add_argument("--wait", type=float, default=5.0)
    ap.add_argument("--window", type=int, default=0, help="syn: most SYNs unanswered at a time")
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    try:
        {"flood": cmd_flood, "framing": cmd_framing, "inject": cmd_inject, "tcp": cmd_tcp,
         "syn": cmd_syn, "stall": cmd_stall, "fdlimit": cmd_fdlimit}[a.mode](a)
    except (qp.CheckFailed, OSError) as ex:
        print("FAIL: %s" % ex, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
