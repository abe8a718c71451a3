#include "app/net_setup.hpp"

#include <gtest/gtest.h>

namespace passt::app {
namespace {

os::HostTemplate host() {
  os::HostTemplate t;
  t.v4.usable = true;
  t.v4.ifindex = 2;
  t.v4.ifname = "up0";
  t.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
  t.v4.prefix_len = 24;
  t.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
  t.v6.usable = true;
  t.v6.ifindex = 2;
  t.v6.ifname = "up0";
  t.v6.addr = *parse_ipv6("2001:db8::1");
  t.v6.prefix_len = 64;
  t.v6.ll = *parse_ipv6("fe80::1:2");
  t.v6.gateway = *parse_ipv6("2001:db8::ff");
  return t;
}

core::ResolvConf resolv(std::string_view text) { return core::parse_resolv_conf(text); }

TEST(NetSetup, CopiesTheTemplate) {
  core::Config cfg;
  auto r = build_net_info(cfg, host(), resolv("nameserver 198.51.100.53\nnameserver 2001:db8::53\nsearch example.org\n"), 7);
  ASSERT_TRUE(r.error.empty());
  const auto& n = r.net;
  EXPECT_TRUE(n.v4.enabled);
  EXPECT_EQ(n.v4.addr, Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_EQ(n.v4.prefix_len, 24);
  EXPECT_EQ(n.v4.gateway, Ipv4Addr::of(198, 51, 100, 254));
  EXPECT_EQ(n.v4.our_tap_addr, n.v4.gateway);
  EXPECT_EQ(n.v4.map_host_loopback, n.v4.gateway);
  ASSERT_EQ(n.v4.dns.size(), 1u);
  EXPECT_EQ(n.v4.dns[0], Ipv4Addr::of(198, 51, 100, 53));
  EXPECT_EQ(n.v4.dns_host, Ipv4Addr::of(198, 51, 100, 53));
  EXPECT_TRUE(n.v6.enabled);
  EXPECT_EQ(to_text(n.v6.addr).view(), "2001:db8::1");
  EXPECT_EQ(to_text(n.v6.our_tap_ll).view(), "fe80::1:2");  // host's link-local
  ASSERT_EQ(n.search.size(), 1u);
  EXPECT_EQ(n.search[0], "example.org");
  EXPECT_TRUE(n.dhcp && n.ndp && n.dhcpv6 && n.ra);
  EXPECT_EQ(n.duid_time, 7u);
  EXPECT_EQ(n.mtu, 65520);
}

TEST(NetSetup, LoopbackResolverMapsToGateway) {
  core::Config cfg;
  auto r = build_net_info(cfg, host(), resolv("nameserver 127.0.0.53\n"), 0);
  ASSERT_EQ(r.net.v4.dns.size(), 1u);
  EXPECT_EQ(r.net.v4.dns[0], Ipv4Addr::of(198, 51, 100, 254));
  EXPECT_EQ(r.net.v4.dns_match, Ipv4Addr::of(198, 51, 100, 254));
  EXPECT_EQ(r.net.v4.dns_host, Ipv4Addr::of(127, 0, 0, 53));
}

TEST(NetSetup, LoopbackResolverDroppedWithoutMapping) {
  core::Config cfg;
  cfg.no_map_gw = true;
  auto r = build_net_info(cfg, host(), resolv("nameserver 127.0.0.53\n"), 0);
  EXPECT_TRUE(r.net.v4.dns.empty());
  EXPECT_FALSE(r.net.v4.map_host_loopback.has_value());
}

TEST(NetSetup, OptionsOverrideAndClassfulPrefix) {
  core::Config cfg;
  cfg.ip4.addr = Ipv4Addr::of(10, 0, 2, 100);
  cfg.ip4.gateway = Ipv4Addr::of(10, 0, 2, 2);
  auto r = build_net_info(cfg, host(), resolv(""), 0);
  EXPECT_EQ(r.net.v4.addr, Ipv4Addr::of(10, 0, 2, 100));
  EXPECT_EQ(r.net.v4.prefix_len, 8);  // class A, no -n
  EXPECT_EQ(r.net.v4.gateway, Ipv4Addr::of(10, 0, 2, 2));
  cfg.ip4.prefix_len = 24;
  r = build_net_info(cfg, host(), resolv(""), 0);
  EXPECT_EQ(r.net.v4.prefix_len, 24);
  EXPECT_EQ(classful_prefix(Ipv4Addr::of(172, 16, 0, 1)), 16);
  EXPECT_EQ(classful_prefix(Ipv4Addr::of(192, 168, 0, 1)), 24);
  EXPECT_EQ(classful_prefix(Ipv4Addr::of(224, 0, 0, 1)), 32);
}

TEST(NetSetup, FamiliesAndServiceSwitches) {
  core::Config cfg;
  cfg.ipv4_only = true;
  cfg.config_net = true;
  cfg.no_dhcp_dns = true;
  auto r = build_net_info(cfg, host(), resolv("nameserver 198.51.100.53\n"), 0);
  EXPECT_TRUE(r.net.v4.enabled);
  EXPECT_FALSE(r.net.v6.enabled);
  EXPECT_FALSE(r.net.ra);
  EXPECT_FALSE(r.net.dhcp_dns);
  EXPECT_FALSE(r.net.ndp);
}

TEST(NetSetup, LocalModeWithoutTemplate) {
  core::Config cfg;
  os::HostTemplate t;
  t.local_mode = true;
  auto r = build_net_info(cfg, t, resolv(""), 0);
  ASSERT_TRUE(r.error.empty());
  EXPECT_EQ(r.net.v4.addr, Ipv4Addr::of(169, 254, 2, 1));
  EXPECT_EQ(r.net.v4.prefix_len, 16);
  EXPECT_EQ(r.net.v4.gateway, Ipv4Addr::of(169, 254, 2, 2));
  EXPECT_EQ(to_text(r.net.v6.gateway).view(), "fe80::1");
}

TEST(NetSetup, DnsGivenAndDisabled) {
  core::Config cfg;
  (void)cfg.ip4.dns.push(Ipv4Addr::of(203, 0, 113, 9));
  auto r = build_net_info(cfg, host(), resolv("nameserver 198.51.100.53\n"), 0);
  ASSERT_EQ(r.net.v4.dns.size(), 1u);
  EXPECT_EQ(r.net.v4.dns[0], Ipv4Addr::of(203, 0, 113, 9));
  cfg.no_dns = true;
  r = build_net_info(cfg, host(), resolv("nameserver 198.51.100.53\n"), 0);
  EXPECT_TRUE(r.net.v4.dns.empty());
  EXPECT_FALSE(r.net.dhcp_dns);
}

}  // namespace
}  // namespace passt::app
