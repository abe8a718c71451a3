#include "linux/netlink.hpp"

#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstring>
#include <vector>

#include "linux/test/ns_fixture.hpp"

namespace passt::os {
namespace {

using test::a4;
using test::a6;
using test::find_addr;
using test::find_route;
using test::TestNs;

// --- Pure parts: builder and parsers -------------------------------------------------

// Appends one attribute by hand (host byte order, as netlink is).
void attr(std::vector<u8>& m, u16 type, const void* data, u16 len, u16 claimed_len = 0) {
  u16 l = claimed_len != 0 ? claimed_len : static_cast<u16>(4 + len);
  std::size_t at = m.size();
  m.resize(at + 4);
  std::memcpy(m.data() + at, &l, 2);
  std::memcpy(m.data() + at + 2, &type, 2);
  const auto* p = static_cast<const u8*>(data);
  m.insert(m.end(), p, p + len);
  while (m.size() % 4 != 0) m.push_back(0);
}

template <class T>
std::vector<u8> header(const T& h) {
  std::vector<u8> m(sizeof(T));
  std::memcpy(m.data(), &h, sizeof(T));
  return m;
}

TEST(NlBuilder, AlignsAndNests) {
  std::vector<u8> buf(256, 0xee);
  NlBuilder b(MutBytes(buf.data(), buf.size()));
  b.start(RTM_NEWLINK, 0);
  EXPECT_EQ(b.size(), 16u);
  b.put_u8(1, 7);  // 5 bytes -> 8
  EXPECT_EQ(b.size(), 24u);
  std::size_t n = b.begin_nest(2);
  b.put_str(3, "abc");  // 4 + 4
  b.put_u32(4, 9);      // 8
  b.end_nest(n);
  EXPECT_EQ(b.size(), 24u + 4 + 8 + 8);
  u16 nest_len = 0;
  u16 nest_type = 0;
  std::memcpy(&nest_len, buf.data() + 24, 2);
  std::memcpy(&nest_type, buf.data() + 26, 2);
  EXPECT_EQ(nest_len, 20u);
  EXPECT_EQ(nest_type, 2u | NLA_F_NESTED);
  EXPECT_EQ(buf[21], 0u);  // padding is zeroed
  EXPECT_EQ(std::memcmp(buf.data() + 32, "abc", 4), 0);
  EXPECT_FALSE(b.overflowed());
}

TEST(NlBuilder, OverflowIsSticky) {
  std::vector<u8> buf(24);
  NlBuilder b(MutBytes(buf.data(), buf.size()));
  b.start(RTM_NEWLINK, 0);
  b.put_u32(1, 1);  // 24: exactly full
  EXPECT_FALSE(b.overflowed());
  b.put_u8(2, 1);
  EXPECT_TRUE(b.overflowed());
  std::size_t before = b.size();
  b.put_str(3, "x");
  EXPECT_EQ(b.size(), before);
  EXPECT_TRUE(b.overflowed());
  b.start(RTM_NEWLINK, 0);  // a new message clears it
  EXPECT_FALSE(b.overflowed());
}

TEST(NlParse, Link) {
  ifinfomsg ifi{};
  ifi.ifi_index = 7;
  ifi.ifi_flags = IFF_UP | IFF_NOARP;
  ifi.ifi_type = 1;
  auto m = header(ifi);
  attr(m, IFLA_IFNAME, "eth0", 5);
  u32 mtu = 1500;
  attr(m, IFLA_MTU, &mtu, 4);
  const u8 mac[6] = {2, 0, 0, 0, 0, 9};
  attr(m, IFLA_ADDRESS, mac, 6);
  attr(m, 999, "zz", 2);  // unknown: skipped
  auto l = nl::parse_link(Bytes(m));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->index, 7u);
  EXPECT_EQ(l->name, "eth0");
  EXPECT_EQ(l->mtu, 1500u);
  ASSERT_TRUE(l->has_mac);
  EXPECT_EQ(l->mac, MacAddr::load(mac));
  EXPECT_TRUE(l->up());
  EXPECT_TRUE(l->noarp());
  EXPECT_FALSE(l->loopback());

  // A name without a terminating NUL stays within the attribute and IFNAMSIZ.
  auto m2 = header(ifi);
  attr(m2, IFLA_IFNAME, "abcdefghijklmnopqrstuvwxyz", 26);
  auto l2 = nl::parse_link(Bytes(m2));
  ASSERT_TRUE(l2);
  EXPECT_EQ(l2->name, "abcdefghijklmno");
  // A 4-byte (tun-less) hardware address is not a MAC.
  auto m3 = header(ifi);
  attr(m3, IFLA_ADDRESS, mac, 4);
  EXPECT_FALSE(nl::parse_link(Bytes(m3))->has_mac);
}

TEST(NlParse, MalformedInputs) {
  ifinfomsg ifi{};
  auto base = header(ifi);
  EXPECT_EQ(nl::parse_link(Bytes(base).subspan(0, 15)).err(), Err::truncated);

  auto m = base;
  attr(m, IFLA_MTU, "\1\2\3\4", 4, /*claimed*/ 3);  // below the header
  EXPECT_EQ(nl::parse_link(Bytes(m)).err(), Err::malformed);
  m = base;
  attr(m, IFLA_MTU, "\1\2\3\4", 4, /*claimed*/ 200);  // beyond the message
  EXPECT_EQ(nl::parse_link(Bytes(m)).err(), Err::malformed);
  m = base;
  attr(m, IFLA_MTU, "\1\2", 2);  // short u32
  EXPECT_EQ(nl::parse_link(Bytes(m)).err(), Err::malformed);
  // Up to 3 trailing bytes are padding, not an error.
  m = base;
  m.insert(m.end(), {0, 0, 0});
  EXPECT_TRUE(nl::parse_link(Bytes(m)));

  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 24;
  auto am = header(ifa);
  attr(am, IFA_ADDRESS, "\1\2\3\4\5", 5);  // wrong length for IPv4
  EXPECT_EQ(nl::parse_addr(Bytes(am)).err(), Err::malformed);
  am = header(ifa);
  EXPECT_EQ(nl::parse_addr(Bytes(am)).err(), Err::malformed);  // no address at all
  ifa.ifa_prefixlen = 33;
  am = header(ifa);
  attr(am, IFA_ADDRESS, "\1\2\3\4", 4);
  EXPECT_EQ(nl::parse_addr(Bytes(am)).err(), Err::malformed);
  ifa.ifa_family = 17;  // AF_PACKET: not ours
  am = header(ifa);
  EXPECT_EQ(nl::parse_addr(Bytes(am)).err(), Err::not_supported);

  rtmsg rtm{};
  rtm.rtm_family = AF_INET6;
  rtm.rtm_dst_len = 129;
  auto rm = header(rtm);
  EXPECT_EQ(nl::parse_route(Bytes(rm)).err(), Err::malformed);
  rtm.rtm_dst_len = 0;
  rm = header(rtm);
  rtnexthop nh{};
  nh.rtnh_len = 200;  // beyond the attribute
  attr(rm, RTA_MULTIPATH, &nh, sizeof(nh));
  EXPECT_EQ(nl::parse_route(Bytes(rm)).err(), Err::malformed);
  rm = header(rtm);
  nh.rtnh_len = 4;  // below its own header
  attr(rm, RTA_MULTIPATH, &nh, sizeof(nh));
  EXPECT_EQ(nl::parse_route(Bytes(rm)).err(), Err::malformed);
}

TEST(NlParse, AddrPrefersLocalAndFlagsAttribute) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 32;
  ifa.ifa_index = 3;
  ifa.ifa_flags = IFA_F_PERMANENT;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  auto m = header(ifa);
  attr(m, IFA_ADDRESS, "\xc6\x33\x64\x01", 4);  // the point-to-point peer
  attr(m, IFA_LOCAL, "\xc6\x33\x64\x02", 4);
  u32 flags = IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE | IFA_F_DEPRECATED;
  attr(m, IFA_FLAGS, &flags, 4);
  auto a = nl::parse_addr(Bytes(m));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->v4(), Ipv4Addr::of(198, 51, 100, 2));
  EXPECT_EQ(a->ifindex, 3u);
  EXPECT_TRUE(a->deprecated());
  EXPECT_TRUE(a->permanent());
  EXPECT_FALSE(a->tentative());
  EXPECT_EQ(a->msg.size(), m.size());
}

TEST(NlParse, MultipathAndBestGateway) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_type = RTN_UNICAST;
  auto m = header(rtm);
  std::vector<u8> mp;
  auto hop = [&mp](int ifindex, u8 hops, const char* gw) {
    rtnexthop h{};
    h.rtnh_len = 16;
    h.rtnh_hops = hops;
    h.rtnh_ifindex = ifindex;
    std::size_t at = mp.size();
    mp.resize(at + sizeof(h));
    std::memcpy(mp.data() + at, &h, sizeof(h));
    attr(mp, RTA_GATEWAY, gw, 4);
  };
  hop(2, 0, "\xc6\x33\x64\x0a");
  hop(3, 4, "\xc6\x33\x64\x0b");
  hop(2, 4, "\xc6\x33\x64\x0c");  // equal weight: the first one wins
  attr(m, RTA_MULTIPATH, mp.data(), static_cast<u16>(mp.size()));
  u32 table = RT_TABLE_MAIN;
  attr(m, RTA_TABLE, &table, 4);
  auto r = nl::parse_route(Bytes(m));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->nexthops.size(), 3u);
  EXPECT_TRUE(r->is_default());
  EXPECT_EQ(r->oif, 0u);
  EXPECT_TRUE(r->uses(3));
  EXPECT_FALSE(r->uses(4));
  ASSERT_NE(r->best_gateway(), nullptr);
  EXPECT_EQ(r->best_gateway()->v4(), Ipv4Addr::of(198, 51, 100, 11));
  EXPECT_EQ(r->best_oif(), 3u);
}

// --- In test namespaces -------------------------------------------------------------------

class NetlinkNs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ns.open()) GTEST_SKIP() << "cannot create network namespaces here";
  }
  TestNs ns;
};

TEST(NetlinkInit, ReadsTheCallersNamespaceWithoutWriting) {
  Netlink nl;
  ASSERT_TRUE(nl.open());
  auto links = nl.links();
  ASSERT_TRUE(links);
  bool lo = false;
  for (const NlLink& l : *links) lo = lo || (l.loopback() && l.name == "lo");
  EXPECT_TRUE(lo);
  auto r = nl.routes(AF_INET);
  EXPECT_TRUE(r);
  EXPECT_EQ(nl.routes(AF_UNSPEC).err(), Err::invalid);
}

TEST_F(NetlinkNs, FreshNamespaceHasOnlyLoopback) {
  EXPECT_TRUE(ns.nl.strict());  // Linux >= 4.20
  auto links = ns.nl.links();
  ASSERT_TRUE(links);
  ASSERT_EQ(links->size(), 1u);
  const NlLink& lo = links->front();
  EXPECT_EQ(lo.name, "lo");
  EXPECT_TRUE(lo.loopback());
  EXPECT_FALSE(lo.up());
  EXPECT_EQ(lo.mtu, 65536u);
  auto by_name = ns.nl.link(std::string_view("lo"));
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->index, lo.index);
  auto by_index = ns.nl.link(lo.index);
  ASSERT_TRUE(by_index);
  EXPECT_EQ(by_index->name, "lo");
  EXPECT_EQ(ns.nl.link(std::string_view("nope0")).err(), Err::no_entry);
  EXPECT_EQ(ns.nl.link(u32{4242}).err(), Err::no_entry);
  EXPECT_EQ(ns.nl.link(std::string_view("0123456789abcdef")).err(), Err::invalid);
  auto r4 = ns.nl.routes(AF_INET);
  ASSERT_TRUE(r4);
  EXPECT_TRUE(r4->empty());  // the local table is not dumped
}

TEST_F(NetlinkNs, LinkSetters) {
  ASSERT_TRUE(test::add_veth(ns.nl, "va", "vb"));
  u32 va = ns.ifindex("va");
  ASSERT_NE(va, 0u);
  const MacAddr mac{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
  ASSERT_TRUE(ns.nl.set_mtu(va, 1280));
  ASSERT_TRUE(ns.nl.set_mac(va, mac));
  ASSERT_TRUE(ns.nl.set_noarp(va, true));
  ASSERT_TRUE(ns.nl.set_link_up(va, true));
  auto l = ns.nl.link(va);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mtu, 1280u);
  EXPECT_EQ(l->mac, mac);
  EXPECT_TRUE(l->noarp());
  EXPECT_TRUE(l->up());
  ASSERT_TRUE(ns.nl.set_noarp(va, false));
  ASSERT_TRUE(ns.nl.set_link_up(va, false));
  l = ns.nl.link(va);
  EXPECT_FALSE(l->noarp());
  EXPECT_FALSE(l->up());
  EXPECT_EQ(l->mtu, 1280u);  // untouched by flag changes

  // Error ACKs come back as errors, with the raw errno.
  EXPECT_EQ(ns.nl.set_mtu(va, 70000).err(), Err::invalid);
  EXPECT_EQ(ns.nl.last_errno(), EINVAL);
  EXPECT_EQ(ns.nl.set_link_up(4242, true).err(), Err::no_entry);
  EXPECT_EQ(ns.nl.last_errno(), ENODEV);
  EXPECT_EQ(test::add_veth(ns.nl, "va", "vc").err(), Err::exists);
  // The socket stays usable after errors (stale answers are skipped).
  EXPECT_TRUE(ns.nl.link(va));
}

TEST_F(NetlinkNs, AddressesAndDefaultRoutes) {
  ASSERT_TRUE(test::add_veth(ns.nl, "va", "vb"));
  u32 va = ns.ifindex("va");
  u32 vb = ns.ifindex("vb");
  ASSERT_TRUE(ns.nl.set_link_up(va, true));
  ASSERT_TRUE(ns.nl.set_link_up(vb, true));
  ASSERT_TRUE(ns.nl.add_addr(va, AF_INET, a4(198, 51, 100, 7), 24));
  ASSERT_TRUE(ns.nl.add_addr(va, AF_INET6, a6("2001:db8::7"), 64));
  ASSERT_TRUE(ns.nl.add_addr(vb, AF_INET, a4(192, 0, 2, 7), 25));
  EXPECT_EQ(ns.nl.add_addr(va, AF_INET, a4(198, 51, 100, 7), 24).err(), Err::exists);
  EXPECT_EQ(ns.nl.last_errno(), EEXIST);
  EXPECT_EQ(ns.nl.add_addr(va, AF_INET, a4(198, 51, 100, 7), 33).err(), Err::invalid);

  auto v4 = ns.nl.addrs(AF_INET, va);
  ASSERT_TRUE(v4);
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ(v4->front().v4(), Ipv4Addr::of(198, 51, 100, 7));
  EXPECT_EQ(v4->front().prefix_len, 24u);
  EXPECT_EQ(v4->front().ifindex, va);
  EXPECT_EQ(v4->front().scope, RT_SCOPE_UNIVERSE);

  auto v6 = ns.nl.addrs(AF_INET6, va);
  ASSERT_TRUE(v6);
  const NlAddr* g = find_addr(*v6, a6("2001:db8::7"));
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->nodad());
  EXPECT_FALSE(g->tentative());
  EXPECT_EQ(g->prefix_len, 64u);
  ASSERT_TRUE(test::wait_ll(ns.nl, va));
  v6 = ns.nl.addrs(AF_INET6, va);
  ASSERT_TRUE(v6);
  bool ll = false;
  for (const NlAddr& a : *v6) ll = ll || (a.link_scope() && a.v6().is_link_local());
  EXPECT_TRUE(ll);

  auto all = ns.nl.addrs(AF_UNSPEC);
  ASSERT_TRUE(all);
  EXPECT_NE(find_addr(*all, a4(192, 0, 2, 7)), nullptr);
  EXPECT_NE(find_addr(*all, a6("2001:db8::7")), nullptr);

  ASSERT_TRUE(ns.nl.add_default_route(va, AF_INET, a4(198, 51, 100, 1)));
  ASSERT_TRUE(ns.nl.add_default_route(va, AF_INET6, a6("fe80::1")));
  EXPECT_EQ(ns.nl.add_default_route(va, AF_INET, a4(198, 51, 100, 1)).err(), Err::exists);
  // A gateway on no connected network.
  EXPECT_EQ(ns.nl.add_default_route(vb, AF_INET, a4(203, 0, 113, 1)).err(), Err::net_unreach);

  auto r4 = ns.nl.routes(AF_INET);
  ASSERT_TRUE(r4);
  const NlRoute* d4 = find_route(*r4, {}, 0);
  ASSERT_NE(d4, nullptr);
  EXPECT_EQ(d4->oif, va);
  ASSERT_TRUE(d4->has_gw);
  EXPECT_EQ(d4->gw.v4(), Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_EQ(d4->protocol, RTPROT_BOOT);
  EXPECT_EQ(d4->table, u32{RT_TABLE_MAIN});
  for (const NlRoute& r : *r4) EXPECT_EQ(r.table, u32{RT_TABLE_MAIN});
  auto r6 = ns.nl.routes(AF_INET6);
  ASSERT_TRUE(r6);
  const NlRoute* d6 = find_route(*r6, {}, 0);
  ASSERT_NE(d6, nullptr);
  EXPECT_EQ(d6->gw.v6(), *parse_ipv6("fe80::1"));
  for (const NlRoute& r : *r6) EXPECT_EQ(r.table, u32{RT_TABLE_MAIN});  // no local table
}

TEST_F(NetlinkNs, MultipathWeightsSurviveTheKernel) {
  ASSERT_TRUE(test::add_veth(ns.nl, "va", "vb"));
  u32 va = ns.ifindex("va");
  ASSERT_TRUE(ns.nl.set_link_up(va, true));
  ASSERT_TRUE(ns.nl.add_addr(va, AF_INET, a4(198, 51, 100, 2), 24));
  ASSERT_TRUE(test::add_route(ns.nl, AF_INET, a4(0, 0, 0, 0), 0, va, nullptr,
                              {{a4(198, 51, 100, 10), 1}, {a4(198, 51, 100, 11), 5}}));
  auto r4 = ns.nl.routes(AF_INET);
  ASSERT_TRUE(r4);
  const NlRoute* d = find_route(*r4, {}, 0);
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->nexthops.size(), 2u);
  EXPECT_EQ(d->nexthops[1].hops, 4u);
  ASSERT_NE(d->best_gateway(), nullptr);
  EXPECT_EQ(d->best_gateway()->v4(), Ipv4Addr::of(198, 51, 100, 11));
  EXPECT_EQ(d->best_oif(), va);
}

// The template's addresses and routes copied onto a tap-less veth in a
// second namespace (the full pasta path with a tap is in pasta_ns_test).
TEST_F(NetlinkNs, DupCopiesAddressesAndRoutesWithDependencies) {
  std::string e = test::build_template(ns.nl);
  ASSERT_TRUE(e.empty()) << e;
  const u32 src = ns.ifindex("tmpl0");
  TestNs guest;
  ASSERT_TRUE(guest.open());
  // A veth whose peer stays behind in the template namespace.
  ASSERT_TRUE(test::add_veth(guest.nl, "g0", "gpeer", ns.fd));
  const u32 dst = guest.ifindex("g0");
  ASSERT_NE(dst, 0u);
  ASSERT_TRUE(guest.nl.set_link_up(dst, true));

  DupStats a4s;
  ASSERT_TRUE(addr_dup(ns.nl, src, guest.nl, dst, AF_INET, &a4s));
  EXPECT_EQ(a4s.candidates, 2u);
  EXPECT_EQ(a4s.added, 2u);
  DupStats r4s;
  ASSERT_TRUE(route_dup(ns.nl, src, guest.nl, dst, AF_INET, &r4s));
  // default, 192.0.2.0/24 (dependent), 198.51.100.0/24 + .128/25 (kernel),
  // 203.0.113.0/24; not 192.0.2.128/25 on tpeer0.
  EXPECT_EQ(r4s.candidates, 5u);
  EXPECT_EQ(r4s.unresolved, 0u);
  EXPECT_GE(r4s.passes, 2u);  // 192.0.2.0/24 needed a second pass
  EXPECT_EQ(r4s.added + r4s.existed, 5u);

  auto addrs = guest.nl.addrs(AF_INET, dst);
  ASSERT_TRUE(addrs);
  ASSERT_EQ(addrs->size(), 2u);
  EXPECT_NE(find_addr(*addrs, a4(198, 51, 100, 2)), nullptr);
  EXPECT_NE(find_addr(*addrs, a4(198, 51, 100, 130)), nullptr);
  auto routes = guest.nl.routes(AF_INET);
  ASSERT_TRUE(routes);
  const NlRoute* d = find_route(*routes, {}, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->oif, dst);
  EXPECT_EQ(d->gw.v4(), Ipv4Addr::of(198, 51, 100, 1));
  const NlRoute* dep = find_route(*routes, a4(192, 0, 2, 0), 24);
  ASSERT_NE(dep, nullptr);
  EXPECT_EQ(dep->gw.v4(), Ipv4Addr::of(203, 0, 113, 1));
  EXPECT_EQ(find_route(*routes, a4(192, 0, 2, 128), 25), nullptr);

  DupStats a6s;
  ASSERT_TRUE(addr_dup(ns.nl, src, guest.nl, dst, AF_INET6, &a6s));
  EXPECT_EQ(a6s.candidates, 2u);  // not the link-local, not the deprecated one
  DupStats r6s;
  ASSERT_TRUE(route_dup(ns.nl, src, guest.nl, dst, AF_INET6, &r6s));
  EXPECT_EQ(r6s.unresolved, 0u);
  auto addrs6 = guest.nl.addrs(AF_INET6, dst);
  ASSERT_TRUE(addrs6);
  const NlAddr* c = find_addr(*addrs6, a6("2001:db8:1::2"));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->nodad());
  EXPECT_TRUE(c->permanent());  // lifetimes were not copied
  EXPECT_NE(find_addr(*addrs6, a6("2001:db8:2::2")), nullptr);
  EXPECT_EQ(find_addr(*addrs6, a6("2001:db8:3::2")), nullptr);
  auto routes6 = guest.nl.routes(AF_INET6);
  ASSERT_TRUE(routes6);
  const NlRoute* d6 = find_route(*routes6, {}, 0);
  ASSERT_NE(d6, nullptr);
  EXPECT_EQ(d6->oif, dst);
  EXPECT_EQ(d6->gw.v6(), *parse_ipv6("2001:db8:1::1"));
  const NlRoute* llgw = find_route(*routes6, a6("2001:db8:99::"), 48);
  ASSERT_NE(llgw, nullptr);
  EXPECT_EQ(llgw->gw.v6(), *parse_ipv6("fe80::99"));
  EXPECT_EQ(find_route(*routes6, a6("2001:db8:77::"), 48), nullptr);

  // Copying again: everything exists already, nothing fails.
  ASSERT_TRUE(addr_dup(ns.nl, src, guest.nl, dst, AF_INET, &a4s));
  EXPECT_EQ(a4s.existed, 2u);
  ASSERT_TRUE(route_dup(ns.nl, src, guest.nl, dst, AF_INET, &r4s));
  EXPECT_EQ(r4s.existed, 5u);
  EXPECT_EQ(r4s.passes, 1u);
}

TEST_F(NetlinkNs, MultipathRouteCopyRewritesEveryNexthop) {
  ASSERT_TRUE(test::add_veth(ns.nl, "va", "vb"));
  u32 va = ns.ifindex("va");
  ASSERT_TRUE(ns.nl.set_link_up(va, true));
  ASSERT_TRUE(ns.nl.add_addr(va, AF_INET, a4(198, 51, 100, 2), 24));
  ASSERT_TRUE(test::add_route(ns.nl, AF_INET, a4(203, 0, 113, 0), 24, va, nullptr,
                              {{a4(198, 51, 100, 10), 2}, {a4(198, 51, 100, 11), 3}}));
  TestNs guest;
  ASSERT_TRUE(guest.open());
  ASSERT_TRUE(test::add_veth(guest.nl, "g0", "gpeer", ns.fd));
  u32 g0 = guest.ifindex("g0");
  ASSERT_TRUE(guest.nl.set_link_up(g0, true));
  ASSERT_TRUE(addr_dup(ns.nl, va, guest.nl, g0, AF_INET));
  ASSERT_TRUE(route_dup(ns.nl, va, guest.nl, g0, AF_INET));
  auto routes = guest.nl.routes(AF_INET);
  ASSERT_TRUE(routes);
  const NlRoute* r = find_route(*routes, a4(203, 0, 113, 0), 24);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->nexthops.size(), 2u);
  for (const NlNexthop& nh : r->nexthops) EXPECT_EQ(nh.ifindex, g0);
  EXPECT_EQ(r->nexthops[0].hops, 1u);
  EXPECT_EQ(r->nexthops[1].hops, 2u);
}

TEST_F(NetlinkNs, LinkLocalNodad) {
  ASSERT_TRUE(test::add_veth(ns.nl, "va", "vb"));
  u32 va = ns.ifindex("va");
  u32 vb = ns.ifindex("vb");
  ASSERT_TRUE(ns.nl.set_link_up(vb, true));
  ASSERT_TRUE(ns.nl.set_link_up(va, true));  // DAD starts: tentative
  ASSERT_TRUE(test::wait_ll(ns.nl, va));
  auto before = ns.nl.addrs(AF_INET6, va);
  ASSERT_TRUE(before);
  ASSERT_FALSE(before->empty());
  ASSERT_TRUE(ns.nl.set_ll_nodad(va));
  auto after = ns.nl.addrs(AF_INET6, va);
  ASSERT_TRUE(after);
  std::size_t lls = 0;
  for (const NlAddr& a : *after) {
    if (!a.link_scope()) continue;
    lls++;
    EXPECT_TRUE(a.nodad());
  }
  EXPECT_EQ(lls, 1u);
}

TEST(NetlinkSocketIn, BadNamespaceFd) {
  NetnsRunner r(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(r.init());
  Netlink nl;
  EXPECT_FALSE(nl.open(&r));
  EXPECT_FALSE(nl.is_open());
  ::close(r.netns_fd());
}

}  // namespace
}  // namespace passt::os
