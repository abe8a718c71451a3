// NAT rules between guest and host (upstream-behaviour.md 2.3) and the
// readiness reference encoding.
#include <gtest/gtest.h>

#include "core/epoll_ref.hpp"
#include "core/fwd.hpp"

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
