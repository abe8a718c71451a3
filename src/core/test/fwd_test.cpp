// NAT rules between guest and host (upstream-behaviour.md 2.3) and the
// readiness reference encoding.
#include <gtest/gtest.h>

#include "core/epoll_ref.hpp"
#include "core/fwd.hpp"

#include <initializer_list>

namespace passt::core {
namespace {

NetInfo net() {
  NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = Ipv4Addr::of(192, 0, 2, 1);
  n.v4.our_tap_addr = Ipv4Addr::of(192, 0, 2, 254);
  n.v4.map_host_loopback = Ipv4Addr::of(192, 0, 2, 254);
  n.v4.map_guest_addr = Ipv4Addr::of(192, 0, 2, 253);
  n.v4.dns_match = Ipv4Addr::of(192, 0, 2, 53);
  n.v4.dns_host = Ipv4Addr::of(198, 51, 100, 53);
  n.v6.enabled = true;
  n.v6.addr = *parse_ipv6("2001:db8::1");
  n.v6.our_tap_ll = *parse_ipv6("fe80::1");
  n.v6.map_host_loopback = *parse_ipv6("fe80::1");
  return n;
}

InAny a4(u8 a, u8 b, u8 c, u8 d) { return InAny::from(Ipv4Addr::of(a, b, c, d)); }

TEST(Fwd, FromTap) {
  const NetInfo n = net();
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, a4(192, 0, 2, 53), 53), a4(198, 51, 100, 53));
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, a4(192, 0, 2, 53), 853), a4(198, 51, 100, 53));
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, a4(192, 0, 2, 53), 80), a4(192, 0, 2, 53)) << "not DNS";
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, a4(192, 0, 2, 254), 80), a4(127, 0, 0, 1));
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, a4(192, 0, 2, 253), 80), a4(192, 0, 2, 1));
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, a4(203, 0, 113, 5), 80), a4(203, 0, 113, 5));
  EXPECT_EQ(fwd_nat_from_tap(n, L4::tcp, InAny::from(*parse_ipv6("fe80::1")), 22),
            InAny::from(Ipv6Addr::loopback()));
  NetInfo none = n;
  none.v4.map_host_loopback.reset();
  EXPECT_EQ(fwd_nat_from_tap(none, L4::tcp, a4(192, 0, 2, 254), 80), a4(192, 0, 2, 254));
}

TEST(Fwd, FromHost) {
  const NetInfo n = net();
  const Ipv4Addr seen4 = Ipv4Addr::of(192, 0, 2, 1);
  const Ipv6Addr seen6 = *parse_ipv6("2001:db8::1");
  EXPECT_EQ(fwd_nat_from_host(n, a4(127, 0, 0, 1), seen4, seen6), a4(192, 0, 2, 254));
  EXPECT_EQ(fwd_nat_from_host(n, a4(127, 0, 0, 2), seen4, seen6), a4(192, 0, 2, 254)) << "other loopback";
  EXPECT_EQ(fwd_nat_from_host(n, a4(192, 0, 2, 1), seen4, seen6), a4(192, 0, 2, 253)) << "map_guest_addr";
  EXPECT_EQ(fwd_nat_from_host(n, a4(0, 0, 0, 0), seen4, seen6), a4(192, 0, 2, 254));
  EXPECT_EQ(fwd_nat_from_host(n, a4(203, 0, 113, 9), seen4, seen6), a4(203, 0, 113, 9));
  EXPECT_EQ(fwd_nat_from_host(n, InAny::from(Ipv6Addr::loopback()), seen4, seen6),
            InAny::from(*parse_ipv6("fe80::1")));
  NetInfo bare = n;
  bare.v4.map_guest_addr.reset();
  EXPECT_EQ(fwd_nat_from_host(bare, a4(192, 0, 2, 1), seen4, seen6), a4(192, 0, 2, 254))
      << "the guest's own address is not reachable: the gateway instead";
  bare.v4.our_tap_addr = Ipv4Addr::any();
  bare.v4.map_host_loopback.reset();
  EXPECT_FALSE(fwd_nat_from_host(bare, a4(127, 0, 0, 1), seen4, seen6).has_value()) << "dropped";
}

TEST(Fwd, GuestAddress) {
  const NetInfo n = net();
  EXPECT_EQ(fwd_guest_addr(n, false, false, Ipv4Addr::any(), {}, {}), a4(192, 0, 2, 1));
  EXPECT_EQ(fwd_guest_addr(n, false, false, Ipv4Addr::of(10, 0, 0, 2), {}, {}), a4(10, 0, 0, 2));
  const Ipv6Addr ll = *parse_ipv6("fe80::5");
  EXPECT_EQ(fwd_guest_addr(n, true, true, {}, {}, ll), InAny::from(ll));
  EXPECT_EQ(fwd_guest_addr(n, true, false, {}, {}, ll), InAny::from(n.v6.addr));
}

// --- flows accepted on our listeners (upstream fwd_nat_from_host/splice) -------

FlowSide accepted(InAny local, u16 lport, InAny peer, u16 pport) { return FlowSide{local, peer, lport, pport}; }

TEST(FwdNat, HostToTapTranslatesTheSource) {
  const NetInfo n = net();
  const GuestSeen seen{};
  FlowSide t;
  // An outside peer keeps its address and port; the guest's assigned
  // address is the destination until it is seen using another.
  ASSERT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(a4(192, 0, 2, 1), 8080, a4(203, 0, 113, 9), 4000), 80,
                              seen, &t),
            Pif::tap);
  EXPECT_EQ(t, (FlowSide{a4(203, 0, 113, 9), a4(192, 0, 2, 1), 4000, 80}));
  GuestSeen s2;
  s2.addr4 = Ipv4Addr::of(10, 0, 0, 2);
  ASSERT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(a4(192, 0, 2, 1), 22, a4(127, 0, 0, 1), 4000), 22, s2, &t),
            Pif::tap);
  EXPECT_EQ(t.oaddr, a4(192, 0, 2, 254)) << "127.0.0.1: map_host_loopback";
  EXPECT_EQ(t.eaddr, a4(10, 0, 0, 2)) << "the address the guest uses";
  ASSERT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(a4(192, 0, 2, 1), 22, a4(10, 0, 0, 2), 4000), 22, s2, &t),
            Pif::tap);
  EXPECT_EQ(t.oaddr, a4(192, 0, 2, 254)) << "the guest's seen address is not reachable";
  // IPv6: ::1 -> map_host_loopback (link-local): the guest's link-local
  // address once seen.
  GuestSeen s6;
  s6.addr6_ll = *parse_ipv6("fe80::abcd");
  const InAny lo6 = InAny::from(Ipv6Addr::loopback());
  ASSERT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(lo6, 22, lo6, 4000), 22, s6, &t), Pif::tap);
  EXPECT_EQ(t.oaddr, InAny::from(*parse_ipv6("fe80::1")));
  EXPECT_EQ(t.eaddr, InAny::from(*parse_ipv6("fe80::abcd")));
  const InAny far6 = InAny::from(*parse_ipv6("2001:db8:9::9"));
  ASSERT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(lo6, 22, far6, 4000), 22, s6, &t), Pif::tap);
  EXPECT_EQ(t.oaddr, far6);
  EXPECT_EQ(t.eaddr, InAny::from(n.v6.addr));
}

TEST(FwdNat, NoMapGwStillGivesTheGatewayAsSource) {
  // --no-map-gw: no map_host_loopback, but 127.0.0.1 is "not reachable" and
  // appears as our address on the link (upstream's fwd_guest_accessible).
  NetInfo n = net();
  n.v4.map_host_loopback.reset();
  FlowSide t;
  ASSERT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(a4(127, 0, 0, 1), 22, a4(127, 0, 0, 1), 1), 22, {}, &t),
            Pif::tap);
  EXPECT_EQ(t.oaddr, a4(192, 0, 2, 254));
  n.v4.our_tap_addr = Ipv4Addr::any();
  EXPECT_EQ(fwd_nat_from_host(n, {}, L4::tcp, accepted(a4(127, 0, 0, 1), 22, a4(127, 0, 0, 1), 1), 22, {}, &t),
            Pif::none);
}

TEST(FwdNat, HostLoopbackToTheNamespaceInPasta) {
  const NetInfo n = net();
  FwdNatOpts o;
  o.splice = true;
  GuestSeen seen;
  seen.addr4 = Ipv4Addr::of(192, 0, 2, 7);
  FlowSide t;
  ASSERT_EQ(fwd_nat_from_host(n, o, L4::tcp, accepted(a4(127, 0, 0, 1), 8080, a4(127, 0, 0, 1), 5000), 80, seen, &t),
            Pif::splice);
  EXPECT_EQ(t, (FlowSide{a4(0, 0, 0, 0), a4(192, 0, 2, 7), 0, 80})) << "the namespace's address, not its lo";
  ASSERT_EQ(fwd_nat_from_host(n, o, L4::udp, accepted(a4(127, 0, 0, 1), 53, a4(127, 0, 0, 1), 5000), 53, seen, &t),
            Pif::splice);
  EXPECT_EQ(t.oport, 5000) << "UDP keeps the source port";
  o.host_lo_to_ns_lo = true;
  const InAny lo6 = InAny::from(Ipv6Addr::loopback());
  ASSERT_EQ(fwd_nat_from_host(n, o, L4::tcp, accepted(lo6, 80, lo6, 5000), 80, seen, &t), Pif::splice);
  EXPECT_EQ(t.eaddr, lo6);
  EXPECT_EQ(t.oaddr, InAny::from(Ipv6Addr::any()));
  // Not loopback: the tap path, splice or not.
  EXPECT_EQ(fwd_nat_from_host(n, o, L4::tcp, accepted(a4(192, 0, 2, 1), 80, a4(203, 0, 113, 1), 5000), 80, seen, &t),
            Pif::tap);
}

TEST(FwdNat, NamespaceLoopbackToTheHostsLoopback) {
  FlowSide t;
  ASSERT_EQ(fwd_nat_from_splice(L4::tcp, accepted(a4(127, 0, 0, 1), 5353, a4(127, 0, 0, 3), 4000), 53, &t),
            Pif::host);
  EXPECT_EQ(t, (FlowSide{a4(127, 0, 0, 3), a4(127, 0, 0, 1), 0, 53}));
  ASSERT_EQ(fwd_nat_from_splice(L4::udp, accepted(a4(0, 0, 0, 0), 53, a4(127, 0, 0, 1), 4000), 53, &t), Pif::host);
  EXPECT_EQ(t.oport, 4000);
  const InAny lo6 = InAny::from(Ipv6Addr::loopback());
  ASSERT_EQ(fwd_nat_from_splice(L4::tcp, accepted(lo6, 80, lo6, 4000), 80, &t), Pif::host);
  EXPECT_EQ(t.eaddr, lo6);
  EXPECT_EQ(fwd_nat_from_splice(L4::tcp, accepted(a4(127, 0, 0, 1), 80, a4(192, 0, 2, 1), 4000), 80, &t), Pif::none);
  EXPECT_EQ(fwd_nat_from_splice(L4::tcp, accepted(a4(192, 0, 2, 1), 80, a4(127, 0, 0, 1), 4000), 80, &t), Pif::none);
}

TEST(FwdNat, DnsForwardOnlyForDnsPortsAndProtocols) {
  const NetInfo n = net();
  EXPECT_EQ(fwd_nat_from_tap(n, L4::udp, a4(192, 0, 2, 53), 53), a4(198, 51, 100, 53));
  EXPECT_EQ(fwd_nat_from_tap(n, L4::icmp, a4(192, 0, 2, 53), 53), a4(192, 0, 2, 53));
  NetInfo nohost = n;
  nohost.v4.dns_host.reset();
  EXPECT_EQ(fwd_nat_from_tap(nohost, L4::tcp, a4(192, 0, 2, 53), 53), a4(192, 0, 2, 53));
  // --dns-forward equal to the gateway: DNS goes to dns_host, the rest to
  // the host's loopback.
  NetInfo gw = n;
  gw.v4.dns_match = gw.v4.map_host_loopback;
  EXPECT_EQ(fwd_nat_from_tap(gw, L4::tcp, a4(192, 0, 2, 254), 853), a4(198, 51, 100, 53));
  EXPECT_EQ(fwd_nat_from_tap(gw, L4::tcp, a4(192, 0, 2, 254), 22), a4(127, 0, 0, 1));
}

// --- automatic forwarding -----------------------------------------------------------

Config auto_cfg() {
  Config c;
  c.mode = Mode::pasta;
  for (PortFwd* f : {&c.fwd_in.tcp, &c.fwd_in.udp, &c.fwd_out.tcp, &c.fwd_out.udp}) f->mode = FwdMode::automatic;
  return c;
}

PortBitmap ports_of(std::initializer_list<u16> ps) {
  PortBitmap b;
  for (u16 p : ps) b.set(p);
  return b;
}

TEST(FwdAuto, MapsStartFromTheConfiguration) {
  Config c = auto_cfg();
  c.fwd_in.tcp.mode = FwdMode::spec;
  c.fwd_in.tcp.forwarded.set(22);
  c.fwd_out.udp.mode = FwdMode::none;
  c.fwd_out.udp.forwarded.set(53);  // ignored: not spec/all
  const FwdMaps m = fwd_maps_from(c);
  EXPECT_EQ(m.tcp_in, ports_of({22}));
  EXPECT_FALSE(m.udp_out.any());
  EXPECT_TRUE(fwd_auto_any(c));
  Config p;
  EXPECT_FALSE(fwd_auto_any(p));
}

TEST(FwdAuto, FollowsTheOtherSideAndSkipsOurOwn) {
  const Config c = auto_cfg();
  FwdMaps m;
  BoundPorts host, ns;
  host.tcp = ports_of({22, 631});
  host.udp = ports_of({5353});
  ns.tcp = ports_of({8080});
  ns.udp = ports_of({69});
  unsigned ch = fwd_auto_update(c, host, ns, m);
  EXPECT_EQ(ch, fwd_changed::tcp_in | fwd_changed::udp_in | fwd_changed::tcp_out | fwd_changed::udp_out);
  EXPECT_EQ(m.tcp_out, ports_of({22, 631}));
  EXPECT_EQ(m.tcp_in, ports_of({8080}));
  EXPECT_EQ(m.udp_out, ports_of({22, 631, 5353})) << "UDP follows TCP port numbers";
  EXPECT_EQ(m.udp_in, ports_of({69, 8080}));

  // Next scan: our own listeners show up on both sides and stay excluded.
  host.tcp.merge(m.tcp_in);
  host.udp.merge(m.udp_in);
  ns.tcp.merge(m.tcp_out);
  ns.udp.merge(m.udp_out);
  EXPECT_EQ(fwd_auto_update(c, host, ns, m), 0u) << "stable";
  EXPECT_EQ(m.tcp_in, ports_of({8080}));
  EXPECT_EQ(m.tcp_out, ports_of({22, 631}));

  // The namespace closes 8080: it leaves tcp_in (and udp_in) at once.
  ns.tcp.reset(8080);
  host.tcp.reset(8080);  // our listener is not closed yet, but excluded anyway
  ch = fwd_auto_update(c, host, ns, m);
  EXPECT_EQ(ch & fwd_changed::tcp_in, fwd_changed::tcp_in);
  EXPECT_FALSE(m.tcp_in.test(8080));
  EXPECT_FALSE(m.udp_in.test(8080));
}

TEST(FwdAuto, ReverseSpecPortsAreExcludedAndSpecMapsKept) {
  Config c = auto_cfg();
  c.fwd_in.tcp.mode = FwdMode::spec;
  c.fwd_in.tcp.forwarded.set(80);
  FwdMaps m = fwd_maps_from(c);
  BoundPorts host, ns;
  host.tcp = ports_of({80, 443});  // 80 is our -t listener
  ns.tcp = ports_of({9000});
  (void)fwd_auto_update(c, host, ns, m);
  EXPECT_EQ(m.tcp_out, ports_of({443}));
  EXPECT_EQ(m.tcp_in, ports_of({80})) << "spec: not touched";
}

TEST(EpollRef, RoundTripAndReservedBit) {
  const EpollRef r = EpollRef::flow(RefType::tcp, FlowSidx{123456, 1});
  const u64 v = r.pack();
  EXPECT_EQ(v >> 63, 0u);
  EXPECT_EQ(EpollRef::unpack(v), r);
  EXPECT_EQ(EpollRef::unpack(v).sidx(), (FlowSidx{123456, 1}));
  EXPECT_EQ(EpollRef::unpack(EpollRef{RefType::tcp_listen, 7}.pack()).data, 7u);
  EXPECT_EQ(EpollRef::unpack(u64{1} << 63).type, RefType::none) << "foreign bits: nobody's";
  EXPECT_EQ(EpollRef::unpack(0).type, RefType::none);
}

}  // namespace
}  // namespace passt::core
