#!/usr/bin/env python3
"""Pings through passt, playing qemu's side of its socket (`-netdev stream`
framing: each Ethernet frame prefixed by its 32-bit big-endian length).

For each TARGET it sends COUNT ICMP (or ICMPv6) echo requests from the
guest's address, with one identifier and increasing sequence numbers, and
checks what comes back: one echo reply per request (none duplicated), from
the pinged address to the guest, with the guest's identifier, the request's
sequence number and data, valid IP and ICMP/ICMPv6 checksums.  A target
prefixed with '!' must get no reply at all.

Usage:
  icmp_peer.py --socket PATH [--count N] [--timeout S] [--expect-none]
               [--guest4 A] [--guest6 A] [--id N] TARGET...

Exit status 0 if every check passed; 1 with "FAIL: ..." on stderr otherwise.
Every wait is bounded.
"""

import argparse
import ipaddress
import os
import select
import socket
import struct
import sys
import time

GUEST_MAC = bytes.fromhex("525400123456")
PASST_MAC = bytes.fromhex("9a559a559a55")


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def echo_msg(v6, ident, seq, data, src=None, dst=None):
    typ = 128 if v6 else 8
    msg = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    if v6:
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(msg), 58)
        cs = csum16(pseudo + msg)
    else:
        cs = csum16(msg)
    return msg[:2] + struct.pack("!H", cs) + msg[4:]


def frame(v6, src, dst, msg):
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(msg), 58, 64) + src.packed + dst.packed
        return PASST_MAC + GUEST_MAC + b"\x86\xdd" + ip + msg
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(msg), 0x1234, 0x4000, 64, 1, 0,
                      src.packed, dst.packed)
    hdr = hdr[:10] + struct.pack("!H", csum16(hdr)) + hdr[12:]
    return PASST_MAC + GUEST_MAC + b"\x08\x00" + hdr + msg


class Peer:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def send(self, f):
        self.s.sendall(struct.pack("!I", len(f)) + f)

    def recv(self, deadline):
        """The next frame, or None at the deadline."""
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack("!I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    f = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            d = self.s.recv(65536)
            check(d, "passt closed the socket")
            self.buf += d


def parse_reply(f):
    """(v6, src, dst, type, id, seq, data) of an ICMP/ICMPv6 frame, else None;
    raises on bad checksums."""
    if len(f) < 14:
        return None
    et = struct.unpack("!H", f[12:14])[0]
    p = f[14:]
    if et == 0x0800 and len(p) >= 20 and p[9] == 1:
        ihl = (p[0] & 15) * 4
        tot = struct.unpack("!H", p[2:4])[0]
        check(csum16(p[:ihl]) == 0, "IPv4 header checksum")
        msg = p[ihl:tot]
        check(csum16(msg) == 0, "ICMP checksum")
        src, dst = ipaddress.IPv4Address(p[12:16]), ipaddress.IPv4Address(p[16:20])
        v6 = False
    elif et == 0x86DD and len(p) >= 40 and p[6] == 58:
        plen = struct.unpack("!H", p[4:6])[0]
        src, dst = ipaddress.IPv6Address(p[8:24]), ipaddress.IPv6Address(p[24:40])
        msg = p[40:40 + plen]
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(msg), 58)
        check(csum16(pseudo + msg) == 0, "ICMPv6 checksum")
        v6 = True
    else:
        return None
    if len(msg) < 8:
        return None
    typ, _code, _cs, ident, seq = struct.unpack("!BBHHH", msg[:8])
    return v6, src, dst, typ, ident, seq, msg[8:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--guest4", default="198.51.100.1")
    ap.add_argument("--guest6", default="2001:db8::1")
    ap.add_argument("--id", type=int, default=0x4242)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    peer = Peer(a.socket)
    g4 = ipaddress.IPv4Address(a.guest4)
    g6 = ipaddress.IPv6Address(a.guest6)
    try:
        for t in a.targets:
            silent = t.startswith("!")
            dst = ipaddress.ip_address(t.lstrip("!"))
            v6 = dst.version == 6
            src = g6 if v6 else g4
            sent = {}
            for seq in range(1, a.count + 1):
                data = os.urandom(8) + bytes(range(seq, seq + 48))
                sent[seq] = data
                peer.send(frame(v6, src, dst, echo_msg(v6, a.id, seq, data, src, dst)))
            got = {}
            deadline = time.monotonic() + a.timeout
            # Wait the whole timeout when nothing should come (or for late
            # duplicates: a short grace after the last expected reply).
            while True:
                f = peer.recv(deadline)
                if f is None:
                    break
                r = parse_reply(f)
                if r is None:
                    continue
                rv6, rsrc, rdst, typ, ident, seq, data = r
                if rv6 != v6 or rsrc != dst:
                    continue
                check(not silent, "%s: a reply, expected none" % dst)
                check(typ == (129 if v6 else 0), "%s: type %d, expected an echo reply" % (dst, typ))
                check(rdst == src, "%s: reply to %s, expected %s" % (dst, rdst, src))
                check(ident == a.id, "%s: identifier %#x, expected %#x" % (dst, ident, a.id))
                check(seq in sent, "%s: reply with sequence %d we never sent" % (dst, seq))
                check(data == sent[seq], "%s: seq %d: the data differs" % (dst, seq))
                check(seq not in got, "%s: seq %d answered twice" % (dst, seq))
                got[seq] = True
                if len(got) == len(sent):
                    deadline = min(deadline, time.monotonic() + 0.3)
            if silent:
                print("ok: %s: no reply" % dst, flush=True)
            else:
                check(len(got) == len(sent), "%s: %d of %d requests answered" % (dst, len(got), len(sent)))
                print("ok: %s: %d replies, identifier, sequence numbers, data and checksums right"
                      % (dst, len(got)), flush=True)
    except CheckFailed as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
