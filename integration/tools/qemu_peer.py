#!/usr/bin/env python3
"""Plays qemu's side of passt's socket: `-netdev stream` framing (each
Ethernet frame prefixed by its length, 32-bit big endian) over a UNIX stream
socket or an inherited socketpair.

It builds guest frames by hand (ARP request, DHCP DISCOVER/REQUEST, router
and neighbour solicitations, DHCPv6 SOLICIT/REQUEST), sends them and checks
passt's answers field by field against what upstream passt does (see
docs/integration-tests.md for the list).  Every wait is bounded.

Usage (the expectations describe the outer namespace of lib/common.sh):

  qemu_peer.py services  --socket PATH [expectations] [--split any|body]
  qemu_peer.py clients   --socket PATH [expectations]
  qemu_peer.py one-off   --socket PATH [expectations]
  qemu_peer.py arp       --socket PATH [expectations]   (one ARP exchange)
  qemu_peer.py fd        [expectations] -- PASST ARGS... ('{fd}' is replaced)

Exit status 0 if every check passed; 1 with "FAIL: ..." on stderr otherwise.
"""

import argparse
import ipaddress
import os
import select
import socket
import struct
import subprocess
import sys
import time

GUEST_MAC = bytes.fromhex("525400123456")
GUEST_LL = ipaddress.IPv6Address("fe80::5054:ff:fe12:3456")
BCAST_MAC = b"\xff" * 6
REPLY_TIMEOUT = 3.0        # seconds to wait for any one answer


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def ok(msg):
    print("ok: " + msg, flush=True)


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def parse_mac(s):
    b = bytes.fromhex(s.replace(":", ""))
    if len(b) != 6:
        raise ValueError("bad MAC " + s)
    return b


# --- checksums ---------------------------------------------------------------

def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo4(src, dst, proto, length):
    return src + dst + struct.pack("!BBH", 0, proto, length)


def pseudo6(src, dst, nh, length):
    return src + dst + struct.pack("!I3xB", length, nh)


# --- frame builders ----------------------------------------------------------

def eth(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ttl=64):
    src = ipaddress.IPv4Address(src).packed
    dst = ipaddress.IPv4Address(dst).packed
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum16(hdr)) + hdr[12:]
    return hdr + payload


def udp4(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = csum16(pseudo4(ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed, 17,
                       length) + hdr + payload) or 0xFFFF
    return ipv4(src, dst, 17, hdr[:6] + struct.pack("!H", c) + payload)


def ipv6(src, dst, nh, payload, hlim=255):
    src = ipaddress.IPv6Address(src).packed
    dst = ipaddress.IPv6Address(dst).packed
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hlim) + src + dst + payload


def icmp6(src, dst, typ, code, body):
    msg = struct.pack("!BBH", typ, code, 0) + body
    c = csum16(pseudo6(ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed, 58,
                       len(msg)) + msg)
    return ipv6(src, dst, 58, msg[:2] + struct.pack("!H", c) + msg[4:])


def udp6(src, dst, sport, dport, payload, hlim=1):
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = csum16(pseudo6(ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed, 17,
                       length) + hdr + payload) or 0xFFFF
    return ipv6(src, dst, 17, hdr[:6] + struct.pack("!H", c) + payload, hlim)


def mcast_mac6(addr):
    return b"\x33\x33" + ipaddress.IPv6Address(addr).packed[12:]


def solicited_node(addr):
    return ipaddress.IPv6Address(b"\xff\x02" + b"\0" * 9 + b"\x01\xff" +
                                 ipaddress.IPv6Address(addr).packed[13:])


def arp_request(sha, spa, tpa):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, sha, ipaddress.IPv4Address(spa).packed,
                       b"\0" * 6, ipaddress.IPv4Address(tpa).packed)
    return eth(BCAST_MAC, sha, 0x0806, body)


def dhcp_packet(xid, msgtype, broadcast, extra_opts=b""):
    opts = bytes([53, 1, msgtype])
    opts += bytes([61, 7, 1]) + GUEST_MAC
    # parameter request list: mask, router, DNS, domain, MTU, search, classless routes
    opts += bytes([55, 7, 1, 3, 6, 15, 26, 119, 121])
    opts += extra_opts + bytes([255])
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0,
                        0x8000 if broadcast else 0, b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                        GUEST_MAC + b"\0" * 10, b"", b"")
    payload = bootp + b"\x63\x82\x53\x63" + opts
    payload += b"\0" * max(0, 300 - len(payload))       # BOOTP minimum size
    return eth(BCAST_MAC, GUEST_MAC, 0x0800,
               udp4("0.0.0.0", "255.255.255.255", 68, 67, payload))


def router_solicitation():
    body = struct.pack("!I", 0) + bytes([1, 1]) + GUEST_MAC
    return eth(mcast_mac6("ff02::2"), GUEST_MAC, 0x86DD, icmp6(GUEST_LL, "ff02::2", 133, 0, body))


def neighbour_solicitation(target):
    sn = solicited_node(target)
    body = struct.pack("!I", 0) + ipaddress.IPv6Address(target).packed + bytes([1, 1]) + GUEST_MAC
    return eth(mcast_mac6(sn), GUEST_MAC, 0x86DD, icmp6(GUEST_LL, sn, 135, 0, body))


CLIENT_DUID = struct.pack("!HH", 3, 1) + GUEST_MAC          # DUID-LL
IAID = 0x12345678


def d6opt(code, data):
    return struct.pack("!HH", code, len(data)) + data


def dhcpv6_packet(msgtype, xid, extra=b""):
    body = bytes([msgtype]) + xid.to_bytes(3, "big")
    body += d6opt(1, CLIENT_DUID)
    body += d6opt(8, b"\0\0")                                 # elapsed time
    body += d6opt(6, struct.pack("!HH", 23, 24))              # ORO: DNS, domain list
    body += extra
    return eth(mcast_mac6("ff02::1:2"), GUEST_MAC, 0x86DD,
               udp6(GUEST_LL, "ff02::1:2", 546, 547, body))


# --- reply parsing ------------------------------------------------------------

class Frame:
    """A parsed frame: Ethernet, then IPv4/IPv6 + UDP/ICMPv6, or ARP."""

    def __init__(self, raw):
        self.raw = raw
        check(len(raw) >= 14, "frame shorter than an Ethernet header (%d bytes)" % len(raw))
        self.dst, self.src = raw[0:6], raw[6:12]
        self.ethertype = struct.unpack("!H", raw[12:14])[0]
        self.l3 = raw[14:]
        self.proto = None
        self.l4 = None
        if self.ethertype == 0x0800 and len(self.l3) >= 20:
            self.parse4()
        elif self.ethertype == 0x86DD and len(self.l3) >= 40:
            self.parse6()

    def parse4(self):
        ihl = (self.l3[0] & 0xF) * 4
        total = struct.unpack("!H", self.l3[2:4])[0]
        check(self.l3[0] >> 4 == 4 and ihl >= 20 and total <= len(self.l3),
              "malformed IPv4 header in reply")
        check(csum16(self.l3[:ihl]) == 0, "bad IPv4 header checksum in reply")
        self.ip_src = ipaddress.IPv4Address(self.l3[12:16])
        self.ip_dst = ipaddress.IPv4Address(self.l3[16:20])
        self.ttl = self.l3[8]
        self.proto = self.l3[9]
        self.l4 = self.l3[ihl:total]
        if self.proto == 17:
            check(len(self.l4) >= 8, "short UDP header")
            self.sport, self.dport, ulen, c = struct.unpack("!HHHH", self.l4[:8])
            check(ulen == len(self.l4), "UDP length %d != IP payload %d" % (ulen, len(self.l4)))
            if c != 0:   # optional over IPv4 (upstream sends 0)
                check(csum16(pseudo4(self.l3[12:16], self.l3[16:20], 17, ulen) + self.l4) == 0,
                      "bad UDP/IPv4 checksum in reply")
            self.payload = self.l4[8:]

    def parse6(self):
        check(self.l3[0] >> 4 == 6, "malformed IPv6 header in reply")
        plen = struct.unpack("!H", self.l3[4:6])[0]
        check(40 + plen <= len(self.l3), "IPv6 payload length beyond the frame")
        self.proto = self.l3[6]
        self.hlim = self.l3[7]
        self.ip_src = ipaddress.IPv6Address(self.l3[8:24])
        self.ip_dst = ipaddress.IPv6Address(self.l3[24:40])
        self.l4 = self.l3[40:40 + plen]
        if self.proto in (17, 58):
            check(csum16(pseudo6(self.l3[8:24], self.l3[24:40], self.proto, plen) + self.l4) == 0,
                  "bad %s checksum in reply" % ("UDP/IPv6" if self.proto == 17 else "ICMPv6"))
        if self.proto == 17:
            self.sport, self.dport, ulen, _ = struct.unpack("!HHHH", self.l4[:8])
            check(ulen == plen, "UDP length %d != IPv6 payload %d" % (ulen, plen))
            self.payload = self.l4[8:]
        elif self.proto == 58:
            self.icmp_type, self.icmp_code = self.l4[0], self.l4[1]

    def __str__(self):
        return "%s > %s type 0x%04x len %d" % (mac_str(self.src), mac_str(self.dst),
                                               self.ethertype, len(self.raw))


def dhcp_options(payload):
    check(len(payload) >= 240 and payload[236:240] == b"\x63\x82\x53\x63", "no DHCP magic cookie")
    opts = {}
    order = []
    i = 240
    while i < len(payload):
        code = payload[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        check(i + 1 < len(payload), "truncated DHCP option %d" % code)
        n = payload[i + 1]
        check(i + 2 + n <= len(payload), "DHCP option %d runs past the packet" % code)
        opts[code] = payload[i + 2:i + 2 + n]
        order.append(code)
        i += 2 + n
    else:
        raise CheckFailed("DHCP options not terminated by END (255)")
    return opts, order


def decode_names(data, allow_pointers):
    """RFC 1035 names (DHCP option 119 may use compression pointers, RFC 3397)."""
    names = []
    i = 0
    while i < len(data):
        labels = []
        j = i
        jumped = False
        hops = 0
        while True:
            check(j < len(data), "domain name runs past its option")
            n = data[j]
            if n == 0:
                if not jumped:
                    i = j + 1
                break
            if n & 0xC0 == 0xC0:
                check(allow_pointers, "compression pointer where none is allowed")
                check(j + 1 < len(data), "truncated compression pointer")
                ptr = ((n & 0x3F) << 8) | data[j + 1]
                check(ptr < j, "forward compression pointer")
                hops += 1
                check(hops < 32, "compression pointer loop")
                if not jumped:
                    i = j + 2
                jumped = True
                j = ptr
                continue
            labels.append(data[j + 1:j + 1 + n].decode("ascii"))
            j += 1 + n
        names.append(".".join(labels))
    return names


def ndp_options(data):
    opts = []
    i = 0
    while i < len(data):
        check(i + 2 <= len(data), "truncated NDP option")
        t, n = data[i], data[i + 1] * 8
        check(n > 0 and i + n <= len(data), "bad NDP option length")
        opts.append((t, data[i + 2:i + n]))
        i += n
    return opts


def d6_options(data):
    opts = []
    i = 0
    while i < len(data):
        check(i + 4 <= len(data), "truncated DHCPv6 option")
        code, n = struct.unpack("!HH", data[i:i + 4])
        check(i + 4 + n <= len(data), "DHCPv6 option %d runs past its container" % code)
        opts.append((code, data[i + 4:i + 4 + n]))
        i += 4 + n
    return opts


def d6_get(opts, code):
    found = [v for c, v in opts if c == code]
    return found[0] if found else None


# --- the link -------------------------------------------------------------------

class Link:
    """One connection to passt with qemu's stream framing."""

    # A frame passt must drop without an answer (IEEE local experimental
    # ethertype): in split mode it goes in front of every real frame, so a
    # send() can carry the tail of one frame and the head of the next one.
    FILLER = eth(BCAST_MAC, GUEST_MAC, 0x88B5, b"filler frame, drop me" + b"\0" * 25)

    def __init__(self, sock, split=None):
        self.sock = sock
        self.sock.setblocking(True)
        self.buf = b""
        self.split = split          # None, "any" or "body"
        self.queue = []             # split mode: records not sent yet
        self.sent = 0
        self.sends = 0

    @classmethod
    def connect(cls, path, split=None, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return cls(s, split)
            except OSError:
                s.close()
                if time.monotonic() >= deadline:
                    raise CheckFailed("cannot connect to %s within %.0f s" % (path, timeout))
                time.sleep(0.02)

    def send(self, frame):
        self.sent += 1
        if not self.split:
            self.sock.sendall(struct.pack("!I", len(frame)) + frame)
            self.sends += 1
            return
        self.queue.append(struct.pack("!I", len(self.FILLER)) + self.FILLER)
        self.queue.append(struct.pack("!I", len(frame)) + frame)

    def flush(self):
        """Split mode: the queued records go out in pieces, 2 ms apart.
        "any": uneven pieces cut anywhere, inside the length prefix too.
        "body": each record in two pieces cut 20 bytes in (length prefix and
        Ethernet header whole), a record's second piece in the same send()
        as the next record's first piece."""
        if not self.queue:
            return
        data = b"".join(self.queue)
        cuts = []
        pos = 0
        for rec in self.queue:
            if self.split == "body":
                cuts.append(pos + 20)
            pos += len(rec)
        if self.split == "any":
            pattern = [1, 2, 3, 7, 13, 64, 5, 200]
            i = 0
            while i < len(data):
                i = min(i + pattern[len(cuts) % len(pattern)], len(data))
                cuts.append(i)
        self.queue = []
        i = 0
        for j in cuts + [len(data)]:
            if j <= i:
                continue
            self.sock.sendall(data[i:j])
            self.sends += 1
            i = j
            time.sleep(0.002)

    def recv_frame(self, deadline):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack("!I", self.buf[:4])[0]
                check(14 <= n <= 65535 + 14, "bad length prefix %d from passt" % n)
                if len(self.buf) >= 4 + n:
                    f = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return Frame(f)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            d = self.sock.recv(1 << 16)
            if not d:
                raise CheckFailed("passt closed the connection")
            self.buf += d

    def expect(self, what, match, timeout=REPLY_TIMEOUT):
        """Returns the first frame for which match(frame) is true; other frames
        (e.g. unsolicited router advertisements) are skipped."""
        self.flush()
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            f = self.recv_frame(deadline)
            if f is None:
                raise CheckFailed("no %s within %.0f s (other frames seen: %s)" %
                                  (what, timeout, ", ".join(skipped) or "none"))
            if match(f):
                return f
            skipped.append(str(f))

    def close(self):
        self.flush()
        self.sock.close()


# --- the checks ------------------------------------------------------------------

class Expect:
    def __init__(self, a):
        self.our_mac = parse_mac(a.our_mac) if a.our_mac else None
        self.addr4 = ipaddress.IPv4Address(a.addr4)
        self.gw4 = ipaddress.IPv4Address(a.gw4)
        self.mask4 = ipaddress.IPv4Network("0.0.0.0/%d" % a.prefix4).netmask
        self.dns4 = [ipaddress.IPv4Address(x) for x in a.dns4.split(",") if x]
        self.dns6 = [ipaddress.IPv6Address(x) for x in a.dns6.split(",") if x]
        self.search = [x for x in a.search.split(",") if x]
        self.mtu = a.mtu
        self.addr6 = ipaddress.IPv6Address(a.addr6)
        self.prefix6 = ipaddress.IPv6Network(a.prefix6)
        self.our_ll = ipaddress.IPv6Address(a.our_ll) if a.our_ll else None
        self.ra_lifetime = a.ra_lifetime
        self.prefix_lifetime = a.prefix_lifetime
        self.bcast_flag = not a.ignore_bcast_flag
        self.seen_mac = None

    def our(self, f):
        """passt's MAC: the one given, or else the same in every reply."""
        if self.our_mac is not None:
            check(f.src == self.our_mac, "reply from MAC %s, expected passt's %s" %
                  (mac_str(f.src), mac_str(self.our_mac)))
        elif self.seen_mac is None:
            self.seen_mac = f.src
        else:
            check(f.src == self.seen_mac, "replies from two MACs: %s and %s" %
                  (mac_str(self.seen_mac), mac_str(f.src)))
        return f.src


def do_arp(link, e, target=None):
    target = target or e.gw4
    link.send(arp_request(GUEST_MAC, e.addr4, target))
    f = link.expect("ARP reply for %s" % target,
                    lambda f: f.ethertype == 0x0806 and len(f.l3) >= 28 and f.l3[6:8] == b"\0\2")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack("!HHBBH6s4s6s4s", f.l3[:28])
    check((htype, ptype, hlen, plen) == (1, 0x0800, 6, 4), "ARP reply is not Ethernet/IPv4")
    mac = e.our(f)
    check(f.dst == GUEST_MAC, "ARP reply sent to %s, not to the requester" % mac_str(f.dst))
    check(sha == mac, "ARP sender MAC %s != frame source %s" % (mac_str(sha), mac_str(mac)))
    check(ipaddress.IPv4Address(spa) == ipaddress.IPv4Address(target),
          "ARP reply claims %s, asked for %s" % (ipaddress.IPv4Address(spa), target))
    check(tha == GUEST_MAC and ipaddress.IPv4Address(tpa) == e.addr4,
          "ARP reply target is %s/%s" % (mac_str(tha), ipaddress.IPv4Address(tpa)))
    ok("ARP: %s is-at %s" % (target, mac_str(sha)))


def check_dhcp_reply(f, e, xid, want_type, broadcast):
    opts, order = dhcp_options(f.payload)
    p = f.payload
    check(p[0] == 2, "DHCP op %d, expected BOOTREPLY" % p[0])
    check(struct.unpack("!I", p[4:8])[0] == xid, "DHCP xid not echoed")
    check(p[28:34] == GUEST_MAC, "DHCP chaddr not echoed")
    check(opts.get(53) == bytes([want_type]), "DHCP message type %r, expected %d" %
          (opts.get(53), want_type))
    yiaddr = ipaddress.IPv4Address(p[16:20])
    check(yiaddr == e.addr4, "yiaddr %s, expected %s" % (yiaddr, e.addr4))
    check(f.sport == 67 and f.dport == 68, "DHCP reply ports %d->%d" % (f.sport, f.dport))
    check(f.ip_src == e.gw4, "DHCP reply from %s, expected the gateway %s" % (f.ip_src, e.gw4))
    if broadcast and e.bcast_flag:
        check(f.ip_dst == ipaddress.IPv4Address("255.255.255.255"),
              "broadcast flag set but reply sent to %s" % f.ip_dst)
    else:
        check(f.ip_dst in (e.addr4, ipaddress.IPv4Address("255.255.255.255")),
              "DHCP reply sent to %s" % f.ip_dst)
    check(f.dst in (GUEST_MAC, BCAST_MAC), "DHCP reply to MAC %s" % mac_str(f.dst))
    e.our(f)
    check(opts.get(1) == e.mask4.packed, "subnet mask %r, expected %s" % (opts.get(1), e.mask4))
    check(opts.get(3) == e.gw4.packed, "router %r, expected %s" % (opts.get(3), e.gw4))
    check(opts.get(54) == e.gw4.packed, "server identifier %r, expected %s" % (opts.get(54), e.gw4))
    check(opts.get(51) == b"\xff\xff\xff\xff", "lease time %r, expected infinite" % opts.get(51))
    if e.mtu is None:
        check(26 not in opts, "MTU option sent although disabled")
    else:
        check(opts.get(26) == struct.pack("!H", e.mtu), "MTU option %r, expected %d" %
              (opts.get(26), e.mtu))
    if e.dns4:
        check(opts.get(6) == b"".join(a.packed for a in e.dns4),
              "DNS option %r, expected %s" % (opts.get(6), e.dns4))
    else:
        check(6 not in opts, "DNS option sent although disabled")
    if e.search:
        check(119 in opts, "no domain search option (119)")
        names = decode_names(opts[119], True)
        check(names == e.search, "domain search %s, expected %s" % (names, e.search))
    else:
        check(119 not in opts, "domain search option sent although disabled")
    check(121 not in opts, "classless routes sent although the gateway is on-link")
    return opts


def do_dhcp(link, e, rapid_commit=False):
    xid = 0x1a2b3c4d
    extra = bytes([80, 0]) if rapid_commit else b""
    link.send(dhcp_packet(xid, 1, False, extra))
    match = lambda f: f.proto == 17 and f.ethertype == 0x0800 and f.dport == 68
    f = link.expect("DHCP reply to DISCOVER", match)
    if rapid_commit:
        opts = check_dhcp_reply(f, e, xid, 5, False)
        check(opts.get(80) == b"", "rapid commit not echoed in the ACK")
        ok("DHCP: DISCOVER with rapid commit -> ACK %s" % e.addr4)
        return
    check_dhcp_reply(f, e, xid, 2, False)
    ok("DHCP: DISCOVER -> OFFER %s/%d router %s dns %s search %s mtu %s" %
       (e.addr4, bin(int(e.mask4)).count("1"), e.gw4, [str(x) for x in e.dns4], e.search, e.mtu))
    xid += 1
    req = bytes([50, 4]) + e.addr4.packed + bytes([54, 4]) + e.gw4.packed
    link.send(dhcp_packet(xid, 3, True, req))
    f = link.expect("DHCP reply to REQUEST", match)
    check_dhcp_reply(f, e, xid, 5, True)
    ok("DHCP: REQUEST (broadcast flag) -> ACK to %s" % f.ip_dst)


def check_from_our_ll(f, e, what):
    check(f.ip_src.is_link_local, "%s from %s, not from a link-local address" % (what, f.ip_src))
    if e.our_ll is not None:
        check(f.ip_src == e.our_ll, "%s from %s, expected %s" % (what, f.ip_src, e.our_ll))


def do_ra(link, e):
    link.send(router_solicitation())
    f = link.expect("router advertisement",
                    lambda f: f.ethertype == 0x86DD and f.proto == 58 and f.icmp_type == 134)
    mac = e.our(f)
    check(f.hlim == 255, "RA hop limit %d, must be 255" % f.hlim)
    check(f.icmp_code == 0, "RA code %d" % f.icmp_code)
    check_from_our_ll(f, e, "RA")
    check(f.ip_dst in (GUEST_LL, ipaddress.IPv6Address("ff02::1")), "RA sent to %s" % f.ip_dst)
    cur_hl, flags, lifetime = struct.unpack("!BBH", f.l4[4:8])
    check(flags & 0x80, "RA without the M (managed) flag")
    if e.ra_lifetime is not None:
        check(lifetime == e.ra_lifetime, "router lifetime %d, expected %d" % (lifetime, e.ra_lifetime))
    else:
        check(lifetime > 0, "router lifetime 0: not a default router")
    opts = ndp_options(f.l4[16:])
    kinds = [t for t, _ in opts]
    pi = [v for t, v in opts if t == 3]
    check(len(pi) == 1, "expected one prefix information option, got %d" % len(pi))
    plen, pflags, valid, pref = struct.unpack("!BBII", pi[0][:10])
    prefix = ipaddress.IPv6Network((pi[0][14:30], plen))
    check(prefix == e.prefix6, "prefix %s, expected %s" % (prefix, e.prefix6))
    check(pflags & 0xC0 == 0xC0, "prefix without L and A flags (0x%02x)" % pflags)
    if e.prefix_lifetime is not None:
        check(valid == e.prefix_lifetime and pref == e.prefix_lifetime,
              "prefix lifetimes %d/%d, expected %d" % (valid, pref, e.prefix_lifetime))
    else:
        check(valid > 0 and pref > 0 and pref <= valid, "prefix lifetimes %d/%d" % (valid, pref))
    slla = [v for t, v in opts if t == 1]
    check(slla == [mac], "source link-layer option %s, expected %s" %
          ([mac_str(x) for x in slla], mac_str(mac)))
    mtu = [struct.unpack("!xxI", v)[0] for t, v in opts if t == 5]
    if e.mtu is None:
        check(not mtu, "MTU option %s sent although disabled" % mtu)
    else:
        check(mtu == [e.mtu], "RA MTU option %s, expected [%d]" % (mtu, e.mtu))
    rdnss = [v for t, v in opts if t == 25]
    if e.dns6:
        check(len(rdnss) == 1, "expected one RDNSS option, got %d" % len(rdnss))
        addrs = [ipaddress.IPv6Address(rdnss[0][6 + 16 * i:22 + 16 * i])
                 for i in range((len(rdnss[0]) - 6) // 16)]
        check(addrs == e.dns6, "RDNSS %s, expected %s" % (addrs, e.dns6))
        check(struct.unpack("!I", rdnss[0][2:6])[0] > 0, "RDNSS lifetime 0")
    else:
        check(not rdnss, "RDNSS sent although DNS is disabled")
    dnssl = [v for t, v in opts if t == 31]
    if e.dns6 and e.search:
        check(len(dnssl) == 1, "expected one DNSSL option, got %d" % len(dnssl))
        names = [n for n in decode_names(dnssl[0][6:].rstrip(b"\0") + b"\0", False) if n]
        check(names == e.search, "DNSSL %s, expected %s" % (names, e.search))
    elif not e.search:
        check(not dnssl, "DNSSL sent although search is disabled")
    ok("RA: prefix %s flags M, lifetime %d, mtu %s, rdnss %s, dnssl %s, options %s" %
       (prefix, lifetime, mtu, [str(x) for x in e.dns6] if rdnss else [], e.search if dnssl else [],
        kinds))


def do_ns(link, e, target):
    link.send(neighbour_solicitation(target))
    f = link.expect("neighbour advertisement for %s" % target,
                    lambda f: f.ethertype == 0x86DD and f.proto == 58 and f.icmp_type == 136)
    mac = e.our(f)
    check(f.hlim == 255, "NA hop limit %d, must be 255" % f.hlim)
    check_from_our_ll(f, e, "NA")
    check(f.ip_dst == GUEST_LL, "NA sent to %s, expected the solicitation's source" % f.ip_dst)
    check(f.dst == GUEST_MAC, "NA to MAC %s" % mac_str(f.dst))
    flags = f.l4[4]
    check(flags & 0xE0 == 0xE0, "NA flags 0x%02x, expected R, S and O" % flags)
    tgt = ipaddress.IPv6Address(f.l4[8:24])
    check(tgt == ipaddress.IPv6Address(target), "NA for %s, asked for %s" % (tgt, target))
    tlla = [v for t, v in ndp_options(f.l4[24:]) if t == 2]
    check(tlla == [mac], "target link-layer option %s, expected %s" %
          ([mac_str(x) for x in tlla], mac_str(mac)))
    ok("NDP: NS %s -> NA (R S O) %s" % (target, mac_str(mac)))


def check_dhcpv6_reply(f, e, xid, want_type):
    check(f.sport == 547 and f.dport == 546, "DHCPv6 reply ports %d->%d" % (f.sport, f.dport))
    check_from_our_ll(f, e, "DHCPv6 reply")
    check(f.ip_dst == GUEST_LL, "DHCPv6 reply sent to %s, expected the client's link-local" % f.ip_dst)
    check(f.dst == GUEST_MAC, "DHCPv6 reply to MAC %s" % mac_str(f.dst))
    mac = e.our(f)
    p = f.payload
    check(p[0] == want_type, "DHCPv6 message type %d, expected %d" % (p[0], want_type))
    check(int.from_bytes(p[1:4], "big") == xid, "DHCPv6 transaction id not echoed")
    opts = d6_options(p[4:])
    check(d6_get(opts, 1) == CLIENT_DUID, "client id not echoed")
    sid = d6_get(opts, 2)
    check(sid is not None and len(sid) >= 4, "no server id")
    duid_type, hw = struct.unpack("!HH", sid[:4])
    check(duid_type in (1, 3) and hw == 1, "server DUID type %d hw %d" % (duid_type, hw))
    check(sid.endswith(mac), "server DUID does not end with passt's MAC")
    ia = d6_get(opts, 3)
    check(ia is not None and len(ia) >= 12, "no IA_NA")
    iaid, t1, t2 = struct.unpack("!III", ia[:12])
    check(iaid == IAID, "IAID %08x, expected %08x" % (iaid, IAID))
    sub = d6_options(ia[12:])
    status = d6_get(sub, 13)
    check(status is None or status[:2] == b"\0\0", "IA_NA status %r" % status)
    iaaddr = d6_get(sub, 5)
    check(iaaddr is not None and len(iaaddr) >= 24, "no IAADDR in the IA_NA")
    addr = ipaddress.IPv6Address(iaaddr[:16])
    pref, valid = struct.unpack("!II", iaaddr[16:24])
    check(addr == e.addr6, "IAADDR %s, expected %s" % (addr, e.addr6))
    check(valid > 0 and pref <= valid, "IAADDR lifetimes %d/%d" % (pref, valid))
    if e.prefix_lifetime == 0xFFFFFFFF:
        check((t1, t2, pref, valid) == (0xFFFFFFFF,) * 4,
              "T1/T2/preferred/valid %d/%d/%d/%d, expected infinite" % (t1, t2, pref, valid))
    dns = d6_get(opts, 23)
    if e.dns6:
        check(dns == b"".join(a.packed for a in e.dns6), "DHCPv6 DNS %r, expected %s" % (dns, e.dns6))
    else:
        check(dns is None, "DHCPv6 DNS option sent although disabled")
    dl = d6_get(opts, 24)
    if e.search:
        check(dl is not None, "no DHCPv6 domain list")
        names = decode_names(dl, False)
        check(names == e.search, "DHCPv6 domain list %s, expected %s" % (names, e.search))
    else:
        check(dl is None, "DHCPv6 domain list sent although disabled")
    return sid


def do_dhcpv6(link, e):
    ia = d6opt(3, struct.pack("!III", IAID, 0, 0))
    xid = 0xABCDEF
    link.send(dhcpv6_packet(1, xid, ia))
    match = lambda f: f.ethertype == 0x86DD and f.proto == 17 and f.dport == 546
    f = link.expect("DHCPv6 ADVERTISE", match)
    sid = check_dhcpv6_reply(f, e, xid, 2)
    ok("DHCPv6: SOLICIT -> ADVERTISE %s" % e.addr6)
    xid = 0x123456
    iaaddr = d6opt(5, e.addr6.packed + struct.pack("!II", 0, 0))
    ia = d6opt(3, struct.pack("!III", IAID, 0, 0) + iaaddr)
    link.send(dhcpv6_packet(3, xid, d6opt(2, sid) + ia))
    f = link.expect("DHCPv6 REPLY", match)
    check_dhcpv6_reply(f, e, xid, 7)
    ok("DHCPv6: REQUEST -> REPLY %s" % e.addr6)


def run_services(link, e, a):
    do_arp(link, e)
    do_arp(link, e, "198.51.100.77")         # proxy ARP: any address is passt's
    do_dhcp(link, e)
    if a.rapid_commit:
        do_dhcp(link, e, rapid_commit=True)
    do_ra(link, e)
    do_ns(link, e, a.gw6)
    do_ns(link, e, "2001:db8::1234")
    do_dhcpv6(link, e)


def expect_eof(sock, what, timeout=REPLY_TIMEOUT):
    sock.setblocking(True)
    r, _, _ = select.select([sock], [], [], timeout)
    check(r, "%s: passt did not close it within %.0f s" % (what, timeout))
    try:
        d = sock.recv(4096)
    except ConnectionResetError:
        d = b""
    check(d == b"", "%s: passt sent %d bytes instead of closing" % (what, len(d)))


def cmd_services(a, e):
    link = Link.connect(a.socket, split=a.split)
    run_services(link, e, a)
    if a.split:
        ok("%d frames (and as many fillers) sent in %d pieces" % (link.sent, link.sends))
    link.close()


def cmd_clients(a, e):
    first = Link.connect(a.socket)
    do_arp(first, e)
    # A second client while the first is connected: upstream accepts and
    # closes it at once (qemu then retries with reconnect=N).
    second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    second.connect(a.socket)
    expect_eof(second, "second client")
    second.close()
    ok("second client closed while the first is connected")
    do_arp(first, e)
    ok("first client still served")
    first.close()
    # Reconnect: passt goes back to accepting after the client leaves.
    third = Link.connect(a.socket)
    do_arp(third, e)
    do_dhcp(third, e)
    ok("a new client is served after the first one disconnected")
    third.close()


def cmd_arp(a, e):
    link = Link.connect(a.socket, timeout=a.connect_timeout)
    do_arp(link, e)
    link.close()


def cmd_one_off(a, e):
    link = Link.connect(a.socket)
    do_arp(link, e)
    link.close()
    ok("one-off client done")


def cmd_fd(a, e):
    cmd = a.command
    check(cmd, "fd: no passt command given")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = theirs.fileno()
    check(fd > 2, "socketpair fd %d is not above 2" % fd)
    cmd = [c.replace("{fd}", str(fd)) for c in cmd]
    log = open(a.log, "wb") if a.log else subprocess.DEVNULL
    p = subprocess.Popen(cmd, pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    theirs.close()
    try:
        link = Link(ours)
        run_services(link, e, a)
        link.close()
        ok("services over --fd %d" % fd)
        try:
            rc = p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            raise CheckFailed("passt with --fd (implies --one-off) still runs 3 s after the peer closed")
        check(rc == 0, "passt --fd exited with status %d after the peer closed, expected 0" % rc)
        ok("passt --fd exited 0 after the peer closed")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["services", "clients", "one-off", "fd", "arp"])
    ap.add_argument("--socket")
    ap.add_argument("--connect-timeout", type=float, default=5.0,
                    help="arp: keep retrying connect() this long (0: one attempt)")
    ap.add_argument("--split", choices=["any", "body"],
                    help="send frames in pieces: cut anywhere, or only after the Ethernet header")
    ap.add_argument("--our-mac", help="passt's expected MAC (default: consistent, any)")
    ap.add_argument("--our-ll", help="passt's expected link-local source address")
    ap.add_argument("--addr4", default="198.51.100.1")
    ap.add_argument("--prefix4", type=int, default=24)
    ap.add_argument("--gw4", default="198.51.100.254")
    ap.add_argument("--dns4", default="198.51.100.53", help="comma-separated, '' for none")
    ap.add_argument("--addr6", default="2001:db8::1")
    ap.add_argument("--prefix6", default="2001:db8::/64")
    ap.add_argument("--gw6", default="2001:db8::ff")
    ap.add_argument("--dns6", default="2001:db8::53", help="comma-separated, '' for none")
    ap.add_argument("--search", default="example.org", help="comma-separated, '' for none")
    ap.add_argument("--mtu", default="65520", help="number, or 'none'")
    ap.add_argument("--ra-lifetime", default="65535", help="number, or 'any'")
    ap.add_argument("--prefix-lifetime", default="4294967295", help="number, or 'any'")
    ap.add_argument("--ignore-bcast-flag", action="store_true",
                    help="accept a unicast reply to a request with the broadcast flag")
    ap.add_argument("--rapid-commit", action="store_true", help="also DISCOVER with option 80")
    ap.add_argument("--log", help="fd mode: passt's stdout/stderr go here")
    argv = sys.argv[1:]
    command = []
    if "--" in argv:
        command = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    a = ap.parse_args(argv)
    a.command = command
    a.mtu = None if a.mtu == "none" else int(a.mtu)
    a.ra_lifetime = None if a.ra_lifetime == "any" else int(a.ra_lifetime)
    a.prefix_lifetime = None if a.prefix_lifetime == "any" else int(a.prefix_lifetime)
    if a.mode != "fd" and not a.socket:
        ap.error("--socket is required")
    e = Expect(a)
    try:
        {"services": cmd_services, "clients": cmd_clients, "one-off": cmd_one_off,
         "fd": cmd_fd, "arp": cmd_arp}[a.mode](a, e)
    except CheckFailed as ex:
        print("FAIL: %s" % ex, file=sys.stderr, flush=True)
        return 1
    except OSError as ex:
        print("FAIL: %s" % ex, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
