// The services scenario: seeds pass against the real engine, and every
// check bites when the engine is given a configuration other than the one
// the guest is checked against (or when its output is wrong).
#include "sim/services_scenario.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sim/runner.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/ndp.hpp"
#include "wire/udp.hpp"

namespace passt::sim {
namespace {

RunResult run(u64 seed, const char* scenario) {
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = scenario;
  return run_seed(seed, opt);
}

TEST(ServicesScenario, IsRegistered) {
  const ScenarioEntry* e = find_scenario("services");
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ(e->name, "services");
}

TEST(ServicesScenario, FirstSeedsPass) {
  for (u64 seed = 1; seed <= 60; seed++) {
    const RunResult r = run(seed, "services");
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
    EXPECT_STREQ(r.scenario, "services");
  }
}

TEST(ServicesScenario, SameSeedSameTrace) {
  const RunResult a = run(77, "services");
  const RunResult b = run(77, "services");
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
}

// Plans draw every service and family; over seeds each is seen on and off,
// the gateway both inside and outside the subnet, MTU 0 and not.
TEST(ServicesPlan, SwarmCoversTheConfigurationSpace) {
  int v4 = 0, v6 = 0, dhcp = 0, ra = 0, ndp = 0, d6 = 0, dns = 0, search = 0, outside = 0, mtu0 = 0,
      many_search = 0, dns3 = 0, restart_none = 0, restart_fresh = 0;
  constexpr int kN = 400;
  for (u64 s = 1; s <= kN; s++) {
    Prng rng(s);
    const ServicesPlan p = draw_services_plan(rng);
    const core::NetInfo& n = p.net;
    v4 += n.v4.enabled;
    v6 += n.v6.enabled;
    ASSERT_TRUE(n.v4.enabled || n.v6.enabled);
    dhcp += n.dhcp;
    ra += n.ra;
    ndp += n.ndp;
    d6 += n.dhcpv6;
    dns += n.dhcp_dns;
    search += n.dhcp_search;
    mtu0 += n.mtu == 0;
    many_search += n.search.size() >= 5;
    restart_none += p.restart == LivenessRestart::none;
    restart_fresh += p.restart == LivenessRestart::fresh;
    if (n.v4.enabled) {
      ASSERT_GE(n.v4.prefix_len, 8);
      ASSERT_LE(n.v4.prefix_len, 30);
      ASSERT_FALSE(n.v4.addr == n.v4.gateway);
      outside += !n.v4.gateway.in_subnet(n.v4.addr, n.v4.prefix_len);
      dns3 += n.v4.dns.size() == 3;
      // Documentation ranges.
      const Ipv4Addr a = n.v4.addr;
      ASSERT_TRUE(a.in_subnet(Ipv4Addr::of(192, 0, 2, 0), 24) || a.in_subnet(Ipv4Addr::of(198, 51, 100, 0), 24) ||
                  a.in_subnet(Ipv4Addr::of(203, 0, 113, 0), 24))
          << to_text(a).c_str();
    }
    if (n.v6.enabled) {
      ASSERT_TRUE(n.v6.addr.in_subnet(*parse_ipv6("2001:db8::"), 32));
      ASSERT_TRUE(n.v6.our_tap_ll.is_link_local());
    }
    if (n.mtu != 0) {
      ASSERT_GE(n.mtu, 1280);
      ASSERT_LE(n.mtu, 65520);
    }
    ASSERT_FALSE(p.guest.mac == n.our_mac);
    ASSERT_FALSE(p.guest.mac.is_multicast());
  }
  for (int x : {v4, v6, dhcp, ra, ndp, d6, dns, search, outside, mtu0, many_search, dns3, restart_none,
                restart_fresh}) {
    EXPECT_GT(x, 0);
    EXPECT_LT(x, kN);
  }
}

TEST(ServicesPlan, ConfigMirrorsNetInfo) {
  Prng rng(5);
  const ServicesPlan p = draw_services_plan(rng);
  const core::Config c = services_config_of(p.net);
  EXPECT_EQ(c.mtu, p.net.mtu);
  EXPECT_EQ(c.no_dhcp, !p.net.dhcp);
  EXPECT_EQ(c.no_ra, !p.net.ra);
  EXPECT_EQ(c.dns_search.size(), p.net.search.size());
  if (p.net.v4.enabled) {
    EXPECT_EQ(*c.ip4.addr, p.net.v4.addr);
  }
}

// --- the checks bite ---------------------------------------------------------------------------

// Every service on, both families: the sabotaged runs must fail.
void all_on(ServicesPlan& p) {
  Prng rng(0x5eed);
  if (!p.net.v4.enabled) {
    p.net.v4.enabled = true;
    p.net.v4.addr = Ipv4Addr::of(192, 0, 2, 10);
    p.net.v4.prefix_len = 24;
    p.net.v4.gateway = Ipv4Addr::of(192, 0, 2, 1);
    p.net.v4.our_tap_addr = p.net.v4.gateway;
  }
  if (!p.net.v6.enabled) {
    p.net.v6.enabled = true;
    p.net.v6.addr = *parse_ipv6("2001:db8:1:2::77");
    p.net.v6.gateway = *parse_ipv6("fe80::1");
    p.net.v6.our_tap_ll = p.net.v6.gateway;
  }
  if (p.net.v4.dns.empty()) (void)p.net.v4.dns.push(Ipv4Addr::of(198, 51, 100, 53));
  if (p.net.v6.dns.empty()) (void)p.net.v6.dns.push(*parse_ipv6("2001:db8::53"));
  if (p.net.search.empty()) (void)p.net.search.push("example.org");
  if (p.net.mtu == 0) p.net.mtu = 1500;
  p.net.dhcp = p.net.ndp = p.net.ra = p.net.dhcpv6 = p.net.dhcp_dns = p.net.dhcp_search = true;
  p.guest.v4 = p.guest.v6 = true;
  p.guest.static_addr4.reset();
  p.guest.static_gw4.reset();
  p.guest.static_router6.reset();
}

struct Sabotage {
  const char* name;
  void (*mutate)(core::NetInfo&);
  const char* expect;  // in the failure reason: one of these '|'-separated words
};

bool mentions_one_of(const std::string& why, const char* words) {
  std::string w(words);
  std::size_t at = 0;
  for (;;) {
    const std::size_t bar = w.find('|', at);
    if (why.find(w.substr(at, bar == std::string::npos ? std::string::npos : bar - at)) != std::string::npos)
      return true;
    if (bar == std::string::npos) return false;
    at = bar + 1;
  }
}

const Sabotage kSabotages[] = {
    {"bad-addr4", [](core::NetInfo& n) { n.v4.addr = Ipv4Addr::from_u32(n.v4.addr.to_u32() ^ 1); },
     "DHCPv4 address"},
    {"bad-prefix4", [](core::NetInfo& n) { n.v4.prefix_len = n.v4.prefix_len == 30 ? 29 : 30; }, "prefix"},
    {"bad-gw4", [](core::NetInfo& n) { n.v4.gateway = Ipv4Addr::of(203, 0, 113, 99); }, "router"},
    {"bad-dns4", [](core::NetInfo& n) { (void)n.v4.dns.push(Ipv4Addr::of(203, 0, 113, 1)); }, "DNS"},
    {"no-dns4", [](core::NetInfo& n) { n.v4.dns.clear(); }, "DNS"},
    {"bad-mtu", [](core::NetInfo& n) { n.mtu = 1400; }, "MTU"},
    {"bad-search", [](core::NetInfo& n) { (void)n.search.push("wrong.example"); }, "search|DNSSL|domain"},
    {"bad-addr6", [](core::NetInfo& n) { n.v6.addr.b[15] ^= 1; }, "address"},
    {"bad-prefix6", [](core::NetInfo& n) { n.v6.addr.b[7] ^= 1; }, "prefix|address"},
    {"bad-dns6", [](core::NetInfo& n) { n.v6.dns.clear(); }, "DNS"},
    {"bad-router6", [](core::NetInfo& n) { n.v6.our_tap_ll.b[15] ^= 2; }, "router"},
    {"bad-mac", [](core::NetInfo& n) { n.our_mac.b[5] ^= 1; }, "engine-out"},
    {"no-dhcp-dns", [](core::NetInfo& n) { n.dhcp_dns = false; }, "DNS"},
    {"no-search", [](core::NetInfo& n) { n.dhcp_search = false; }, "search|DNSSL|domain"},
    {"bad-duid", [](core::NetInfo& n) { n.duid_time ^= 1; }, "DUID"},
};

// Registered once per process; the mutation is picked by index.
const Sabotage* g_sabotage = nullptr;

void apply_sabotage(core::NetInfo& n) {
  if (g_sabotage != nullptr) g_sabotage->mutate(n);
}

std::unique_ptr<Scenario> make_sabotaged() {
  ServicesHooks h;
  h.adjust_plan = &all_on;
  h.mutate_engine_net = &apply_sabotage;
  return make_services_scenario(h);
}

std::unique_ptr<Scenario> make_all_on() {
  ServicesHooks h;
  h.adjust_plan = &all_on;
  return make_services_scenario(h);
}

void register_test_scenarios() {
  static bool done = false;
  if (done) return;
  done = true;
  ASSERT_TRUE(register_scenario({"services-sabotaged", "test: engine given another NetInfo", &make_sabotaged}));
  ASSERT_TRUE(register_scenario({"services-all-on", "test: every service on", &make_all_on}));
}

TEST(ServicesChecks, AllOnPasses) {
  register_test_scenarios();
  for (u64 seed = 1; seed <= 20; seed++) {
    const RunResult r = run(seed, "services-all-on");
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
  }
}

TEST(ServicesChecks, WrongEngineConfigurationFails) {
  register_test_scenarios();
  for (const Sabotage& s : kSabotages) {
    g_sabotage = &s;
    for (u64 seed = 1; seed <= 5; seed++) {
      const RunResult r = run(seed, "services-sabotaged");
      EXPECT_FALSE(r.ok) << s.name << " seed " << seed << " passed";
      const std::string why = std::string(r.failure.source) + ": " + r.failure.reason;
      EXPECT_TRUE(mentions_one_of(why, s.expect)) << s.name << " seed " << seed << ": " << why;
    }
  }
  g_sabotage = nullptr;
}

// A service the engine answers although it should be off is caught, both at
// the engine's output and by the guest.
void dhcp_off_expected(ServicesPlan& p) {
  all_on(p);
  p.net.dhcp = false;
  p.net.dhcpv6 = false;
  p.net.ra = false;
  p.guest.static_addr4 = p.net.v4.addr;
  p.guest.static_gw4 = p.net.v4.gateway;
  p.guest.static_router6 = p.net.v6.our_tap_ll;
}
void services_on(core::NetInfo& n) { n.dhcp = n.dhcpv6 = n.ra = true; }

std::unique_ptr<Scenario> make_answers_when_off() {
  ServicesHooks h;
  h.adjust_plan = &dhcp_off_expected;
  h.mutate_engine_net = &services_on;
  return make_services_scenario(h);
}
std::unique_ptr<Scenario> make_off_ok() {
  ServicesHooks h;
  h.adjust_plan = &dhcp_off_expected;
  return make_services_scenario(h);
}

TEST(ServicesChecks, ServicesSwitchedOffStayQuiet) {
  ASSERT_TRUE(register_scenario({"services-off-ok", "test: services off", &make_off_ok}));
  ASSERT_TRUE(register_scenario({"services-off-answered", "test: services answered when off", &make_answers_when_off}));
  for (u64 seed = 1; seed <= 8; seed++) {
    const RunResult ok = run(seed, "services-off-ok");
    EXPECT_TRUE(ok.ok) << "seed " << seed << ": " << ok.failure.source << ": " << ok.failure.reason;
    const RunResult bad = run(seed, "services-off-answered");
    EXPECT_FALSE(bad.ok) << "seed " << seed;
    EXPECT_STREQ(bad.failure.source, "engine-out") << bad.failure.reason;
    EXPECT_NE(std::strstr(bad.failure.reason, "off"), nullptr) << bad.failure.reason;
  }
}

// Regression: with a long search list the DHCP reply grew past the MTU
// (1297 bytes at MTU 1280, seeds 1-3 of this plan) and past RFC 2131's
// 576-byte message; the engine now leaves out the names that do not fit.
void long_search(ServicesPlan& p) {
  all_on(p);
  p.net.mtu = 1280;
  p.net.search.clear();
  for (char c = 'a'; c < 'e'; c++) {
    std::string s;
    for (int l = 0; l < 4; l++) s += std::string(58, c) + static_cast<char>('0' + l) + ".";
    (void)p.net.search.push(s + "example");
  }
}
std::unique_ptr<Scenario> make_long_search() {
  ServicesHooks h;
  h.adjust_plan = &long_search;
  return make_services_scenario(h);
}

// Seeds that once failed, kept forever (with --scenario services).
TEST(ServicesRegression, Seeds) {
  struct Regression {
    u64 seed;
    const char* what;
  };
  static constexpr Regression kSeeds[] = {
      {17, "engine DHCP message of 994 bytes (long search list), over RFC 2131's 548"},
      {1866945733932843, "a corrupted DHCPv6 Reply passed the checksum (T1 bit 27 and a compensating "
                         "flip); a rebooted client kept its T1: corruption now forces a fresh restart"},
  };
  for (const Regression& r : kSeeds) {
    const RunResult res = run(r.seed, "services");
    EXPECT_TRUE(res.ok) << "seed " << r.seed << " (" << r.what << "): " << res.failure.reason;
  }
}

TEST(ServicesRegression, LongSearchListStaysWithinTheDhcpMessageLimit) {
  ASSERT_TRUE(register_scenario({"services-long-search", "test: 4 x 250-byte domains, MTU 1280",
                                 &make_long_search}));
  for (u64 seed = 1; seed <= 6; seed++) {
    const RunResult r = run(seed, "services-long-search");
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
  }
}

// --- the engine output checker on hand-made frames ----------------------------------------------

class NullTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override { return frames.size(); }
  bool connected() const noexcept override { return true; }
};

core::NetInfo checker_net() {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = Ipv4Addr::of(192, 0, 2, 7);
  n.v4.gateway = Ipv4Addr::of(192, 0, 2, 1);
  n.v4.our_tap_addr = n.v4.gateway;
  n.v6.enabled = true;
  n.v6.addr = *parse_ipv6("2001:db8::7");
  n.v6.our_tap_ll = *parse_ipv6("fe80::1");
  n.mtu = 1500;
  return n;
}

std::vector<u8> arp_reply(const core::NetInfo& n, Ipv4Addr spa) {
  std::vector<u8> f(14 + 28);
  wire::EthernetRepr e{MacAddr::broadcast(), n.our_mac, wire::ethertype::arp};
  (void)e.emit(MutBytes(f));
  wire::ArpRepr a{wire::arp_op::reply, n.our_mac, spa, MacAddr{{2, 0, 0, 0, 0, 1}}, Ipv4Addr::of(192, 0, 2, 7)};
  (void)a.emit(MutBytes(f).subspan(14));
  return f;
}

std::vector<u8> na_frame(const core::NetInfo& n, const Ipv6Addr& target, const Ipv6Addr& dst) {
  wire::NdpRepr na;
  na.type = wire::icmpv6_type::neighbor_advertisement;
  na.target = target;
  na.router = true;
  na.solicited = !dst.is_multicast();
  na.options.target_ll = n.our_mac;
  std::vector<u8> f(14 + 40 + na.length());
  wire::EthernetRepr e{MacAddr{{2, 0, 0, 0, 0, 1}}, n.our_mac, wire::ethertype::ipv6};
  (void)e.emit(MutBytes(f));
  wire::Ipv6Repr ip;
  ip.src = n.v6.our_tap_ll;
  ip.dst = dst;
  ip.next_header = 58;
  ip.hop_limit = 255;
  ip.payload_len = static_cast<u16>(na.length());
  (void)ip.emit(MutBytes(f).subspan(14));
  (void)na.emit(MutBytes(f).subspan(54), ip.src, ip.dst);
  return f;
}

TEST(EngineOutputCheck, AcceptsGoodFramesAndFlagsBadOnes) {
  const core::NetInfo n = checker_net();
  NullTap tap;
  {
    EngineOutputCheck c(tap, n);
    c.inspect(Bytes(arp_reply(n, Ipv4Addr::of(192, 0, 2, 1))));
    c.inspect(Bytes(na_frame(n, *parse_ipv6("fe80::1"), *parse_ipv6("fe80::2"))));
    EXPECT_EQ(c.violation(), nullptr);
  }
  {  // claims the guest's address
    EngineOutputCheck c(tap, n);
    c.inspect(Bytes(arp_reply(n, n.v4.addr)));
    ASSERT_NE(c.violation(), nullptr);
    EXPECT_NE(std::strstr(c.violation(), "guest's address"), nullptr);
  }
  {  // corrupted checksum
    EngineOutputCheck c(tap, n);
    auto f = na_frame(n, *parse_ipv6("fe80::1"), *parse_ipv6("fe80::2"));
    f.back() ^= 0x40;
    c.inspect(Bytes(f));
    ASSERT_NE(c.violation(), nullptr);
    EXPECT_NE(std::strstr(c.violation(), "checksum"), nullptr);
  }
  {  // too big for the MTU
    EngineOutputCheck c(tap, n);
    std::vector<u8> big(1515);
    c.inspect(Bytes(big));
    ASSERT_NE(c.violation(), nullptr);
    EXPECT_NE(std::strstr(c.violation(), "MTU"), nullptr);
  }
  {  // an NA to all-nodes: the answer to a DAD probe
    EngineOutputCheck c(tap, n);
    c.inspect(Bytes(na_frame(n, *parse_ipv6("fe80::99"), Ipv6Addr::all_nodes())));
    ASSERT_NE(c.violation(), nullptr);
    EXPECT_NE(std::strstr(c.violation(), "DAD"), nullptr);
  }
}

TEST(EngineOutputCheck, FlagsAnAnswerToTheGuestsDadProbe) {
  const core::NetInfo n = checker_net();
  NullTap tap;
  RefGuestConfig gc;
  gc.v4 = false;
  RefGuest g(gc, Prng(1));
  g.start(Instant::from_nanos(1000));  // the link-local address is now tentative
  const Ipv6Addr ll = RefGuest::link_local_of(gc.mac);
  ASSERT_TRUE(g.ever_probed(ll));
  EngineOutputCheck c(tap, n);
  c.set_guest(&g);
  c.inspect(Bytes(na_frame(n, ll, ll)));
  ASSERT_NE(c.violation(), nullptr);
  EXPECT_NE(std::strstr(c.violation(), "DAD probe"), nullptr);

  // Not if the engine saw a real solicitation for that target (corruption
  // can turn a probe into one).
  EngineOutputCheck c2(tap, n);
  c2.set_guest(&g);
  wire::NdpRepr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = ll;
  std::vector<u8> f(14 + 40 + ns.length());
  wire::EthernetRepr e{n.our_mac, gc.mac, wire::ethertype::ipv6};
  (void)e.emit(MutBytes(f));
  wire::Ipv6Repr ip;
  ip.src = *parse_ipv6("fe80::abcd");
  ip.dst = ll.solicited_node();
  ip.next_header = 58;
  ip.hop_limit = 255;
  ip.payload_len = static_cast<u16>(ns.length());
  (void)ip.emit(MutBytes(f).subspan(14));
  (void)ns.emit(MutBytes(f).subspan(54), ip.src, ip.dst);
  c2.note_input(Bytes(f));
  c2.inspect(Bytes(na_frame(n, ll, *parse_ipv6("fe80::abcd"))));
  EXPECT_EQ(c2.violation(), nullptr);
}

}  // namespace
}  // namespace passt::sim
