#include "linux/host_discovery.hpp"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include "linux/test/ns_fixture.hpp"

namespace passt::os {
namespace {

using test::a4;
using test::a6;
using test::TestNs;

NlRoute route(int af, const InAny& dst, u8 plen, u32 oif, u8 type = RTN_UNICAST) {
  NlRoute r;
  r.af = af;
  r.table = RT_TABLE_MAIN;
  r.dst = dst;
  r.has_dst = plen > 0;
  r.dst_len = plen;
  r.oif = oif;
  r.type = type;
  return r;
}

TEST(PickTemplate, DefaultRouteFirstElseAnyNonLinkLocal) {
  std::vector<NlRoute> rs = {
      route(AF_INET, a4(169, 254, 0, 0), 16, 2),     // link-local: skipped
      route(AF_INET, a4(192, 0, 2, 0), 24, 3),
      route(AF_INET, a4(0, 0, 0, 0), 0, 4, RTN_UNREACHABLE),  // not unicast
      route(AF_INET, a4(198, 51, 100, 0), 24, 5),
  };
  std::size_t ndef = 9;
  std::size_t nother = 9;
  EXPECT_EQ(pick_template_ifindex(rs, AF_INET, &ndef, &nother), 3u);
  EXPECT_EQ(ndef, 0u);
  EXPECT_EQ(nother, 2u);

  rs.push_back(route(AF_INET, a4(0, 0, 0, 0), 0, 6));
  rs.push_back(route(AF_INET, a4(0, 0, 0, 0), 0, 7));
  EXPECT_EQ(pick_template_ifindex(rs, AF_INET, &ndef, &nother), 6u);
  EXPECT_EQ(ndef, 2u);

  // Multipath without OIF: the first nexthop's interface.
  NlRoute mp = route(AF_INET, a4(0, 0, 0, 0), 0, 0);
  mp.nexthops = {NlNexthop{8, true, a4(192, 0, 2, 1), 0, 0}, NlNexthop{9, true, a4(192, 0, 2, 2), 9, 0}};
  EXPECT_EQ(pick_template_ifindex({mp}, AF_INET), 8u);

  std::vector<NlRoute> v6 = {route(AF_INET6, a6("fe80::"), 64, 2),
                             route(AF_INET6, a6("fe80::"), 10, 2),
                             route(AF_INET6, a6("2001:db8::"), 32, 3)};
  EXPECT_EQ(pick_template_ifindex(v6, AF_INET6), 3u);
  EXPECT_EQ(pick_template_ifindex(v6, AF_INET), 0u);  // wrong family
  EXPECT_EQ(pick_template_ifindex({}, AF_INET), 0u);
}

TEST(EphemeralRange, Parse) {
  EXPECT_EQ(parse_port_range("32768\t60999\n"), (PortRange{32768, 60999}));
  EXPECT_EQ(parse_port_range("1024 1024"), (PortRange{1024, 1024}));
  EXPECT_EQ(parse_port_range("1   65535\n"), (PortRange{1, 65535}));
  EXPECT_FALSE(parse_port_range(""));
  EXPECT_FALSE(parse_port_range("32768"));
  EXPECT_FALSE(parse_port_range("32768\t"));
  EXPECT_FALSE(parse_port_range("0 100"));
  EXPECT_FALSE(parse_port_range("200 100"));
  EXPECT_FALSE(parse_port_range("100 65536"));
  EXPECT_FALSE(parse_port_range("100 200 300"));
  EXPECT_FALSE(parse_port_range("-1 200"));
  EXPECT_FALSE(parse_port_range("99999999999999999999 1"));
}

TEST(EphemeralRange, ReadsProcOrFallsBack) {
  PortRange r = read_ephemeral_range();
  EXPECT_GE(r.first, 1u);
  EXPECT_LE(r.first, r.last);
  EXPECT_EQ(read_ephemeral_range("/nonexistent/ip_local_port_range"), (PortRange{49152, 65535}));
  EXPECT_EQ(read_ephemeral_range("/proc/self/cmdline"), (PortRange{49152, 65535}));
}

class DiscoveryNs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ns.open()) GTEST_SKIP() << "cannot create network namespaces here";
  }
  TestNs ns;
};

TEST_F(DiscoveryNs, TemplateFromDefaultRoute) {
  std::string e = test::build_template(ns.nl);
  ASSERT_TRUE(e.empty()) << e;
  const u32 ti = ns.ifindex("tmpl0");
  ASSERT_TRUE(test::wait_ll(ns.nl, ti));
  auto link = ns.nl.link(ti);
  ASSERT_TRUE(link);

  auto t = discover_host(ns.nl, {});
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->local_mode);
  const HostTemplate4& v4 = t->v4;
  EXPECT_TRUE(v4.usable);
  EXPECT_EQ(v4.ifindex, ti);
  EXPECT_EQ(v4.ifname, "tmpl0");
  ASSERT_TRUE(v4.addr);
  EXPECT_EQ(*v4.addr, Ipv4Addr::of(198, 51, 100, 130));  // the longest prefix
  EXPECT_EQ(v4.prefix_len, 25u);
  ASSERT_TRUE(v4.gateway);
  EXPECT_EQ(*v4.gateway, Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_EQ(v4.mtu, 1400u);
  ASSERT_TRUE(v4.mac);
  EXPECT_EQ(*v4.mac, link->mac);

  const HostTemplate6& v6 = t->v6;
  EXPECT_TRUE(v6.usable);
  EXPECT_EQ(v6.ifindex, ti);
  ASSERT_TRUE(v6.addr);
  // /96 is longer but deprecated; /64 beats /56.
  EXPECT_EQ(*v6.addr, *parse_ipv6("2001:db8:1::2"));
  EXPECT_EQ(v6.prefix_len, 64u);
  ASSERT_TRUE(v6.ll);
  EXPECT_TRUE(v6.ll->is_link_local());
  ASSERT_TRUE(v6.gateway);
  EXPECT_EQ(*v6.gateway, *parse_ipv6("2001:db8:1::1"));
  EXPECT_EQ(t->ns_ifname(), "tmpl0");
}

TEST_F(DiscoveryNs, NamedInterfaceWins) {
  std::string e = test::build_template(ns.nl);
  ASSERT_TRUE(e.empty()) << e;
  DiscoveryRequest req;
  req.ifname = "tpeer0";
  auto t = discover_host(ns.nl, req);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->v4.ifname, "tpeer0");
  EXPECT_FALSE(t->v4.addr);
  EXPECT_FALSE(t->v4.gateway);  // the default route leaves through tmpl0
  EXPECT_FALSE(t->v4.usable);
  EXPECT_FALSE(t->v6.addr);
  EXPECT_FALSE(t->v6.usable);
  EXPECT_TRUE(t->local_mode);
  EXPECT_EQ(t->ns_ifname(), "tap0");

  // -a given: the address need not come from the host.
  req.addr4_given = true;
  t = discover_host(ns.nl, req);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->v4.usable);
  EXPECT_FALSE(t->local_mode);
  EXPECT_EQ(t->ns_ifname(), "tpeer0");

  req.ifname = "missing0";
  EXPECT_EQ(discover_host(ns.nl, req).err(), Err::no_entry);
}

TEST_F(DiscoveryNs, OutboundInterfacePerFamily) {
  std::string e = test::build_template(ns.nl);
  ASSERT_TRUE(e.empty()) << e;
  ASSERT_TRUE(test::wait_ll(ns.nl, ns.ifindex("tmpl0")));
  DiscoveryRequest req;
  req.outbound_if4 = "tpeer0";
  auto t = discover_host(ns.nl, req);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->v4.ifname, "tpeer0");
  EXPECT_EQ(t->v6.ifname, "tmpl0");  // IPv6 still from its default route
  EXPECT_TRUE(t->v6.usable);
}

TEST_F(DiscoveryNs, EmptyNamespaceIsLocalMode) {
  auto t = discover_host(ns.nl, {});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->local_mode);
  EXPECT_EQ(t->v4.ifindex, 0u);
  EXPECT_EQ(t->v6.ifindex, 0u);
  EXPECT_EQ(t->ns_ifname(), std::string(LocalMode::kIfname));

  // With lo up, ::1 is a main-table route on lo, but lo has no global or
  // link-local address: still local mode.
  ASSERT_TRUE(ns.nl.set_link_up(ns.ifindex("lo"), true));
  t = discover_host(ns.nl, {});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->local_mode);
  EXPECT_FALSE(t->v6.usable);
  EXPECT_EQ(LocalMode::kGuest4, Ipv4Addr::of(169, 254, 2, 1));
  EXPECT_EQ(LocalMode::kGateway4, Ipv4Addr::of(169, 254, 2, 2));
  EXPECT_EQ(LocalMode::kGateway6, *parse_ipv6("fe80::1"));
}

TEST_F(DiscoveryNs, NonDefaultRouteAndLinkLocalSkipped) {
  ASSERT_TRUE(test::add_veth(ns.nl, "vx", "vxp"));
  ASSERT_TRUE(test::add_veth(ns.nl, "vy", "vyp"));
  const u32 vx = ns.ifindex("vx");
  const u32 vy = ns.ifindex("vy");
  for (const char* n : {"vx", "vxp", "vy", "vyp"}) ASSERT_TRUE(ns.nl.set_link_up(ns.ifindex(n), true));
  ASSERT_TRUE(test::add_route(ns.nl, AF_INET, a4(169, 254, 0, 0), 16, vx, nullptr));
  ASSERT_TRUE(ns.nl.add_addr(vy, AF_INET, a4(198, 51, 100, 2), 24));
  auto t = discover_host(ns.nl, {});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->v4.ifindex, vy);
  EXPECT_TRUE(t->v4.usable);
  EXPECT_FALSE(t->v4.gateway);
  EXPECT_FALSE(t->local_mode);
}

TEST_F(DiscoveryNs, MultipathDefaultGatewayIsTheHeaviest) {
  ASSERT_TRUE(test::add_veth(ns.nl, "va", "vb"));
  const u32 va = ns.ifindex("va");
  ASSERT_TRUE(ns.nl.set_link_up(va, true));
  ASSERT_TRUE(ns.nl.add_addr(va, AF_INET, a4(198, 51, 100, 2), 24));
  ASSERT_TRUE(test::add_route(ns.nl, AF_INET, a4(0, 0, 0, 0), 0, va, nullptr,
                              {{a4(198, 51, 100, 10), 1},
                               {a4(198, 51, 100, 11), 7},
                               {a4(198, 51, 100, 12), 3}}));
  auto t = discover_host(ns.nl, {});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->v4.ifindex, va);
  ASSERT_TRUE(t->v4.gateway);
  EXPECT_EQ(*t->v4.gateway, Ipv4Addr::of(198, 51, 100, 11));
}

TEST_F(DiscoveryNs, FamiliesCanBeSkipped) {
  std::string e = test::build_template(ns.nl);
  ASSERT_TRUE(e.empty()) << e;
  ASSERT_TRUE(test::wait_ll(ns.nl, ns.ifindex("tmpl0")));
  DiscoveryRequest req;
  req.want4 = false;
  auto t = discover_host(ns.nl, req);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->v4.usable);
  EXPECT_EQ(t->v4.ifindex, 0u);
  EXPECT_TRUE(t->v6.usable);
  EXPECT_FALSE(t->local_mode);
  req.want6 = false;
  t = discover_host(ns.nl, req);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->local_mode);
}

}  // namespace
}  // namespace passt::os
