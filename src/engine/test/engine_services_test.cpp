// The engine answers ARP, DHCP, NDP and DHCPv6 as upstream passt does.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "util/log.hpp"
#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/ndp.hpp"
#include "wire/udp.hpp"
#include "ports/test/mocks.hpp"
#include "proto/tap_out.hpp"

namespace passt::engine {
namespace {

class CaptureTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    for (Bytes f : frames) sent.emplace_back(f.begin(), f.end());
    return frames.size();
  }
  bool connected() const noexcept override { return true; }
  std::vector<std::vector<u8>> sent;
};

class CountingEntropy final : public ports::Entropy {
 public:
  void fill(MutBytes out) noexcept override {
    for (auto& b : out) b = static_cast<u8>(n++);
  }
  u32 n = 1;
};

const MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

core::NetInfo test_net() {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
  n.v4.prefix_len = 24;
  n.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
  n.v4.our_tap_addr = n.v4.gateway;
  (void)n.v4.dns.push(Ipv4Addr::of(198, 51, 100, 53));
  n.v6.enabled = true;
  n.v6.addr = *parse_ipv6("2001:db8::1");
  n.v6.gateway = *parse_ipv6("fe80::1");
  n.v6.our_tap_ll = *parse_ipv6("fe80::1");
  (void)n.v6.dns.push(*parse_ipv6("2001:db8::53"));
  (void)n.search.push("example.org");
  n.duid_time = 12345;
  return n;
}

struct Fixture {
  core::Config cfg;
  core::NetInfo net = test_net();
  CaptureTap tap;
  CountingEntropy entropy;
  testing::NiceMock<ports::MockHostNet> hostnet;
  ports::Ports ports{tap, hostnet, entropy};
  Engine eng;
  Fixture() : eng(cfg, net, ports, Sizing{1024, 64, 1 << 16}) { eng.start(Instant{}); }
  explicit Fixture(core::NetInfo n)
      : net(std::move(n)), eng(cfg, net, ports, Sizing{1024, 64, 1 << 16}) {
    eng.start(Instant{});
  }

  void inject(const std::vector<u8>& frame) {
    Bytes b(frame);
    eng.on_tap_frames(std::span<const Bytes>(&b, 1), Instant{});
    eng.flush(Instant{});
  }
};

std::vector<u8> udp4_frame(const MacAddr& src_mac, Ipv4Addr src, Ipv4Addr dst, u16 sport,
                           u16 dport, Bytes payload) {
  std::vector<u8> f(14 + 20 + 8 + payload.size());
  auto n = proto::build_udp4(MutBytes(f), src_mac, MacAddr::broadcast(), src, dst, sport, dport,
                             payload);
  EXPECT_TRUE(n);
  return f;
}

std::vector<u8> udp6_frame(const Ipv6Addr& src, const Ipv6Addr& dst, u16 sport, u16 dport,
                           Bytes payload) {
  std::vector<u8> f(14 + 40 + 8 + payload.size());
  auto n = proto::build_udp6(MutBytes(f), kGuestMac, proto::ipv6_multicast_mac(dst), src, dst,
                             sport, dport, payload);
  EXPECT_TRUE(n);
  return f;
}

// The guest asks who has 203.0.113.7 (from 198.51.100.1).
std::vector<u8> arp_who_has_203_0_113_7() {
  wire::ArpRepr q{wire::arp_op::request, kGuestMac, Ipv4Addr::of(198, 51, 100, 1), MacAddr{},
                  Ipv4Addr::of(203, 0, 113, 7)};
  std::array<u8, 28> body{};
  EXPECT_TRUE(q.emit(MutBytes(body)));
  std::vector<u8> f(42);
  EXPECT_TRUE(proto::build_eth(MutBytes(f), kGuestMac, MacAddr::broadcast(), wire::ethertype::arp,
                               Bytes(body)));
  return f;
}

TEST(EngineArp, AnswersAnyAddressWithOurMac) {
  Fixture fx;
  const std::vector<u8> f = arp_who_has_203_0_113_7();
  fx.inject(f);
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  auto pf = wire::parse_frame(Bytes(fx.tap.sent[0]));
  ASSERT_TRUE(pf);
  EXPECT_EQ(pf->eth_dst, kGuestMac);
  auto r = wire::ArpRepr::from(*pf->arp);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->oper, wire::arp_op::reply);
  EXPECT_EQ(r->sha, fx.net.our_mac);
  EXPECT_EQ(r->spa, Ipv4Addr::of(203, 0, 113, 7));
  EXPECT_EQ(r->tpa, Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_EQ(fx.eng.guest().mac, kGuestMac);
}

class TraceCapture final : public LogSink {
 public:
  void write(LogLevel level, std::string_view msg) noexcept override {
    if (level == LogLevel::trace) lines.emplace_back(msg);
  }
  std::vector<std::string> lines;
};

// --trace: one line per frame from the tap and per frame to it; nothing at
// the debug level.
TEST(EngineTrace, EveryFrameBothWaysAtTraceLevelOnly) {
  TraceCapture cap;
  set_log_sink(&cap);
  const LogLevel before = log_level();
  const std::vector<u8> f = arp_who_has_203_0_113_7();
  {
    set_log_level(LogLevel::debug);
    Fixture fx;
    fx.inject(f);
    EXPECT_EQ(fx.tap.sent.size(), 1u);
  }
  EXPECT_TRUE(cap.lines.empty());
  {
    set_log_level(LogLevel::trace);
    Fixture fx;
    fx.inject(f);
    fx.inject({1, 2, 3});
    EXPECT_EQ(fx.tap.sent.size(), 1u);
  }
  set_log_level(before);
  set_log_sink(nullptr);
  EXPECT_EQ(cap.lines, (std::vector<std::string>{
                           "tap in: ARP who-has 203.0.113.7 tell 198.51.100.1",
                           "tap out: ARP reply 203.0.113.7 is-at 9a:55:9a:55:9a:55",
                           "tap in: 3 bytes, not parsed",
                       }));
}

TEST(EngineArp, SilentForOwnAddressAndAnnouncements) {
  Fixture fx;
  for (auto [spa, tpa] : {std::pair{Ipv4Addr::of(0, 0, 0, 0), Ipv4Addr::of(198, 51, 100, 1)},
                          std::pair{Ipv4Addr::of(198, 51, 100, 1), Ipv4Addr::of(198, 51, 100, 1)}}) {
    wire::ArpRepr q{wire::arp_op::request, kGuestMac, spa, MacAddr{}, tpa};
    std::array<u8, 28> body{};
    ASSERT_TRUE(q.emit(MutBytes(body)));
    std::vector<u8> f(42);
    ASSERT_TRUE(proto::build_eth(MutBytes(f), kGuestMac, MacAddr::broadcast(),
                                 wire::ethertype::arp, Bytes(body)));
    fx.inject(f);
  }
  EXPECT_TRUE(fx.tap.sent.empty());
}

std::vector<u8> dhcp_request(u8 type, bool broadcast, std::vector<u8> prl, bool rapid = false) {
  wire::DhcpRepr r;
  r.op = wire::dhcp_op::request;
  r.xid = 0x11223344;
  r.flags = broadcast ? wire::kDhcpFlagBroadcast : 0;
  r.set_client_mac(kGuestMac);
  r.message_type = type;
  if (!prl.empty()) {
    wire::DhcpBlob b;
    for (u8 c : prl) (void)b.push(c);
    r.parameter_request_list = b;
  }
  r.rapid_commit = rapid;
  std::vector<u8> p(r.length());
  EXPECT_TRUE(r.emit(MutBytes(p)));
  return udp4_frame(kGuestMac, Ipv4Addr::any(), Ipv4Addr::broadcast(), 68, 67, Bytes(p));
}

wire::DhcpRepr parse_dhcp_reply(const std::vector<u8>& frame, wire::Frame* out = nullptr) {
  auto pf = wire::parse_frame(Bytes(frame));
  EXPECT_TRUE(pf);
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
  EXPECT_EQ(pf->src_port, 67);
  EXPECT_EQ(pf->dst_port, 68);
  auto v = wire::DhcpView::parse(pf->payload);
  EXPECT_TRUE(v);
  auto r = wire::DhcpRepr::from(*v);
  EXPECT_TRUE(r);
  if (out != nullptr) *out = *pf;
  return *r;
}

TEST(EngineDhcp, DiscoverGetsOfferWithEverything) {
  Fixture fx;
  fx.inject(dhcp_request(wire::dhcp_msg::discover, false, {1, 3, 6, 15, 26, 119}));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Frame f;
  wire::DhcpRepr r = parse_dhcp_reply(fx.tap.sent[0], &f);
  EXPECT_EQ(r.op, wire::dhcp_op::reply);
  EXPECT_EQ(r.xid, 0x11223344u);
  EXPECT_EQ(r.message_type, wire::dhcp_msg::offer);
  EXPECT_EQ(r.yiaddr, Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_EQ(r.subnet_mask, Ipv4Addr::of(255, 255, 255, 0));
  ASSERT_EQ(r.routers.size(), 1u);
  EXPECT_EQ(r.routers[0], Ipv4Addr::of(198, 51, 100, 254));
  EXPECT_EQ(r.server_id, Ipv4Addr::of(198, 51, 100, 254));
  EXPECT_EQ(r.lease_time, 0xffffffffu);
  EXPECT_EQ(r.mtu, 65520);
  ASSERT_EQ(r.dns_servers.size(), 1u);
  EXPECT_EQ(r.dns_servers[0], Ipv4Addr::of(198, 51, 100, 53));
  ASSERT_EQ(r.domain_search.size(), 1u);
  EXPECT_EQ(r.domain_search[0].text().view(), "example.org");
  EXPECT_TRUE(r.classless_routes.empty());
  EXPECT_EQ(f.dst.v4(), Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_EQ(f.src.v4(), Ipv4Addr::of(198, 51, 100, 254));
  EXPECT_EQ(f.eth_dst, kGuestMac);
}

TEST(EngineDhcp, RequestGetsAckBroadcastWhenAsked) {
  Fixture fx;
  fx.inject(dhcp_request(wire::dhcp_msg::request, true, {}));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Frame f;
  wire::DhcpRepr r = parse_dhcp_reply(fx.tap.sent[0], &f);
  EXPECT_EQ(r.message_type, wire::dhcp_msg::ack);
  EXPECT_EQ(f.dst.v4(), Ipv4Addr::broadcast());
}

TEST(EngineDhcp, RapidCommitAcksDiscover) {
  Fixture fx;
  fx.inject(dhcp_request(wire::dhcp_msg::discover, false, {}, true));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::DhcpRepr r = parse_dhcp_reply(fx.tap.sent[0]);
  EXPECT_EQ(r.message_type, wire::dhcp_msg::ack);
  EXPECT_TRUE(r.rapid_commit);
}

TEST(EngineDhcp, IgnoresReleaseDeclineInform) {
  Fixture fx;
  for (u8 t : {wire::dhcp_msg::release, wire::dhcp_msg::decline, wire::dhcp_msg::inform})
    fx.inject(dhcp_request(t, false, {}));
  EXPECT_TRUE(fx.tap.sent.empty());
}

TEST(EngineDhcp, RouterOutsideSubnetGetsClasslessRoutes) {
  Fixture fx;
  fx.net.v4.gateway = Ipv4Addr::of(203, 0, 113, 1);
  fx.inject(dhcp_request(wire::dhcp_msg::discover, false, {}));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::DhcpRepr r = parse_dhcp_reply(fx.tap.sent[0]);
  ASSERT_EQ(r.classless_routes.size(), 2u);
  EXPECT_EQ(r.classless_routes[0].dest, Ipv4Addr::of(203, 0, 113, 1));
  EXPECT_EQ(r.classless_routes[0].prefix_len, 32);
  EXPECT_EQ(r.classless_routes[1].prefix_len, 0);
  EXPECT_EQ(r.classless_routes[1].router, Ipv4Addr::of(203, 0, 113, 1));
}

TEST(EngineDhcp, NoDnsWhenTurnedOff) {
  Fixture fx;
  fx.net.dhcp_dns = false;
  fx.net.dhcp_search = false;
  fx.net.mtu = 0;
  fx.inject(dhcp_request(wire::dhcp_msg::discover, false, {}));
  wire::DhcpRepr r = parse_dhcp_reply(fx.tap.sent.at(0));
  EXPECT_TRUE(r.dns_servers.empty());
  EXPECT_TRUE(r.domain_search.empty());
  EXPECT_FALSE(r.mtu.has_value());
}

TEST(EngineDhcp, DisabledSendsNothing) {
  Fixture fx;
  fx.net.dhcp = false;
  fx.inject(dhcp_request(wire::dhcp_msg::discover, false, {}));
  EXPECT_TRUE(fx.tap.sent.empty());
}

std::vector<u8> icmp6_frame(const Ipv6Addr& src, const Ipv6Addr& dst, const wire::NdpRepr& m,
                            u8 hop = 255) {
  std::vector<u8> body(m.length());
  EXPECT_TRUE(m.emit(MutBytes(body), src, dst));
  std::vector<u8> f(14 + 40 + body.size());
  auto n = proto::build_icmp6(MutBytes(f), kGuestMac, proto::ipv6_multicast_mac(dst), src, dst,
                              hop, Bytes(body));
  EXPECT_TRUE(n);
  return f;
}

wire::NdpRepr parse_ndp_reply(const std::vector<u8>& frame, wire::Frame* out = nullptr) {
  auto pf = wire::parse_frame(Bytes(frame));
  EXPECT_TRUE(pf);
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
  EXPECT_EQ(pf->hop_limit, 255);
  auto v = wire::NdpView::parse(pf->l4_bytes);
  EXPECT_TRUE(v);
  auto r = wire::NdpRepr::from(*v);
  EXPECT_TRUE(r);
  if (out != nullptr) *out = *pf;
  return *r;
}

TEST(EngineNdp, SolicitationForAnyTargetGetsAdvertisement) {
  Fixture fx;
  const Ipv6Addr src = *parse_ipv6("fe80::5054:ff:fe12:3456");
  const Ipv6Addr target = *parse_ipv6("2001:db8::ff");
  wire::NdpRepr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = target;
  ns.options.source_ll = kGuestMac;
  fx.inject(icmp6_frame(src, target.solicited_node(), ns));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Frame f;
  wire::NdpRepr na = parse_ndp_reply(fx.tap.sent[0], &f);
  EXPECT_EQ(na.type, wire::icmpv6_type::neighbor_advertisement);
  EXPECT_EQ(na.target, target);
  EXPECT_TRUE(na.router && na.solicited && na.override_flag);
  EXPECT_EQ(na.options.target_ll, fx.net.our_mac);
  EXPECT_EQ(f.dst.v6(), src);
  EXPECT_EQ(f.src.v6(), fx.net.v6.our_tap_ll);
}

TEST(EngineNdp, DadProbeIsNotAnswered) {
  Fixture fx;
  const Ipv6Addr target = *parse_ipv6("2001:db8::1");
  wire::NdpRepr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = target;
  fx.inject(icmp6_frame(Ipv6Addr::any(), target.solicited_node(), ns));
  EXPECT_TRUE(fx.tap.sent.empty());
}

TEST(EngineNdp, RouterSolicitationGetsFullAdvertisement) {
  Fixture fx;
  const Ipv6Addr src = *parse_ipv6("fe80::5054:ff:fe12:3456");
  wire::NdpRepr rs;
  rs.type = wire::icmpv6_type::router_solicitation;
  rs.options.source_ll = kGuestMac;
  fx.inject(icmp6_frame(src, Ipv6Addr::all_routers(), rs));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::NdpRepr ra = parse_ndp_reply(fx.tap.sent[0]);
  EXPECT_EQ(ra.type, wire::icmpv6_type::router_advertisement);
  EXPECT_TRUE(ra.managed);
  EXPECT_EQ(ra.router_lifetime, 65535);
  ASSERT_EQ(ra.options.prefixes.size(), 1u);
  EXPECT_EQ(to_text(ra.options.prefixes[0].prefix).view(), "2001:db8::");
  EXPECT_EQ(ra.options.prefixes[0].prefix_len, 64);
  EXPECT_EQ(ra.options.mtu, 65520u);
  EXPECT_EQ(ra.options.source_ll, fx.net.our_mac);
  ASSERT_EQ(ra.options.rdnss.size(), 1u);
  EXPECT_EQ(to_text(ra.options.rdnss[0].servers[0]).view(), "2001:db8::53");
  ASSERT_EQ(ra.options.dnssl.size(), 1u);
}

TEST(EngineNdp, WrongHopLimitIgnored) {
  Fixture fx;
  wire::NdpRepr rs;
  rs.type = wire::icmpv6_type::router_solicitation;
  fx.inject(icmp6_frame(*parse_ipv6("fe80::2"), Ipv6Addr::all_routers(), rs, 64));
  EXPECT_TRUE(fx.tap.sent.empty());
}

TEST(EngineNdp, UnsolicitedRaOnTimer) {
  Fixture fx;
  Instant first = fx.eng.next_deadline();
  ASSERT_FALSE(first.is_never());
  EXPECT_GE(first - Instant{}, Duration::seconds(200));
  EXPECT_LT(first - Instant{}, Duration::seconds(600));
  fx.eng.on_deadline(first);  // first expiry only schedules
  fx.eng.flush(first);
  EXPECT_TRUE(fx.tap.sent.empty());
  Instant second = fx.eng.next_deadline();
  fx.eng.on_deadline(second);
  fx.eng.flush(second);
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Frame f;
  parse_ndp_reply(fx.tap.sent[0], &f);
  EXPECT_EQ(f.dst.v6(), Ipv6Addr::all_nodes());
}

std::vector<u8> dhcpv6_msg(u8 type, bool with_sid, const Ipv6Addr* ia_addr, bool ia = true,
                           u32 duid_time = 12345,
                           const std::optional<wire::Dhcpv6Fqdn>& fqdn = std::nullopt) {
  wire::Dhcpv6Repr r;
  r.fqdn = fqdn;
  r.msg_type = type;
  r.xid = 0xabcdef;
  wire::Dhcpv6Duid cid = wire::dhcpv6_duid_llt(kGuestMac, 99);
  r.client_id = cid;
  if (with_sid) r.server_id = wire::dhcpv6_duid_llt(core::kDefaultOurMac, duid_time);
  if (ia) {
    wire::Dhcpv6Ia i;
    i.iaid = 7;
    if (ia_addr != nullptr) {
      wire::Dhcpv6IaAddr a;
      a.addr = *ia_addr;
      (void)i.addrs.push(a);
    }
    (void)r.ia_na.push(i);
  }
  std::vector<u8> p(r.length());
  EXPECT_TRUE(r.emit(MutBytes(p)));
  return udp6_frame(*parse_ipv6("fe80::5054:ff:fe12:3456"), wire::kDhcpv6AllServers, 546, 547,
                    Bytes(p));
}

wire::Dhcpv6Repr parse_v6_reply(const std::vector<u8>& frame) {
  auto pf = wire::parse_frame(Bytes(frame));
  EXPECT_TRUE(pf);
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
  EXPECT_EQ(pf->src_port, 547);
  EXPECT_EQ(pf->dst_port, 546);
  EXPECT_EQ(to_text(pf->dst.v6()).view(), "fe80::5054:ff:fe12:3456");
  auto v = wire::Dhcpv6View::parse(pf->payload);
  EXPECT_TRUE(v);
  auto r = wire::Dhcpv6Repr::from(*v);
  EXPECT_TRUE(r);
  return *r;
}

TEST(EngineDhcpv6, SolicitAdvertiseRequestReply) {
  Fixture fx;
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Dhcpv6Repr adv = parse_v6_reply(fx.tap.sent[0]);
  EXPECT_EQ(adv.msg_type, wire::dhcpv6_msg::advertise);
  EXPECT_EQ(adv.xid, 0xabcdefu);
  ASSERT_TRUE(adv.server_id);
  EXPECT_EQ(*adv.server_id, wire::dhcpv6_duid_llt(fx.net.our_mac, 12345));
  ASSERT_EQ(adv.ia_na.size(), 1u);
  EXPECT_EQ(adv.ia_na[0].iaid, 7u);
  ASSERT_EQ(adv.ia_na[0].addrs.size(), 1u);
  EXPECT_EQ(to_text(adv.ia_na[0].addrs[0].addr).view(), "2001:db8::1");
  ASSERT_EQ(adv.dns_servers.size(), 1u);
  ASSERT_EQ(adv.domain_list.size(), 1u);

  Ipv6Addr ours = fx.net.v6.addr;
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::request, true, &ours));
  ASSERT_EQ(fx.tap.sent.size(), 2u);
  wire::Dhcpv6Repr rep = parse_v6_reply(fx.tap.sent[1]);
  EXPECT_EQ(rep.msg_type, wire::dhcpv6_msg::reply);
  ASSERT_EQ(rep.ia_na.size(), 1u);
  EXPECT_EQ(rep.ia_na[0].addrs[0].addr, ours);
  EXPECT_FALSE(rep.status.has_value());
}

TEST(EngineDhcpv6, OtherAddressIsNotOnLink) {
  Fixture fx;
  Ipv6Addr other = *parse_ipv6("2001:db8:5::9");
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::request, true, &other));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Dhcpv6Repr rep = parse_v6_reply(fx.tap.sent[0]);
  ASSERT_TRUE(rep.status);
  EXPECT_EQ(rep.status->code, wire::dhcpv6_status::not_on_link);
}

TEST(EngineDhcpv6, ForeignServerIdIgnored) {
  Fixture fx;
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::request, true, nullptr, true, 777));
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, true, nullptr));
  EXPECT_TRUE(fx.tap.sent.empty());
}

TEST(EngineDhcpv6, InformationRequestHasNoIa) {
  Fixture fx;
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::information_request, false, nullptr, false));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Dhcpv6Repr rep = parse_v6_reply(fx.tap.sent[0]);
  EXPECT_TRUE(rep.ia_na.empty());
  EXPECT_EQ(rep.dns_servers.size(), 1u);
}

core::NetInfo net_with_fqdn() {
  core::NetInfo n = test_net();
  n.hostname = "vm1";
  n.fqdn = "vm1.example.com";
  return n;
}

// "vm1.example.com" in DNS wire format.
const std::vector<u8> kVm1Wire{3, 'v', 'm', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};

// RFC 4704: with --fqdn, every reply carries the Client FQDN option.  We do
// no DNS updates, so S stays 0; as upstream, N stays 0 too.
TEST(EngineDhcpv6, FqdnInEveryReplyWhenConfigured) {
  Fixture fx(net_with_fqdn());
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr));
  Ipv6Addr ours = fx.net.v6.addr;
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::request, true, &ours));
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::information_request, false, nullptr, false));
  ASSERT_EQ(fx.tap.sent.size(), 3u);
  for (const auto& frame : fx.tap.sent) {
    wire::Dhcpv6Repr rep = parse_v6_reply(frame);
    ASSERT_TRUE(rep.fqdn);
    EXPECT_EQ(rep.fqdn->flags, 0);
    EXPECT_EQ(std::vector<u8>(rep.fqdn->name.span().begin(), rep.fqdn->name.span().end()),
              kVm1Wire);
  }
}

// A client asking us to update its AAAA record (S=1) is told that we
// overrode that (O=1, S=0), as upstream answers.
TEST(EngineDhcpv6, FqdnServerUpdateRequestIsOverridden) {
  Fixture fx(net_with_fqdn());
  wire::Dhcpv6Fqdn asked;
  asked.flags = 0x01;  // S
  const u8 name[] = {5, 'g', 'u', 'e', 's', 't', 0};
  ASSERT_TRUE(asked.name.assign(Bytes(name, sizeof(name))));
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr, true, 12345, asked));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Dhcpv6Repr rep = parse_v6_reply(fx.tap.sent[0]);
  ASSERT_TRUE(rep.fqdn);
  EXPECT_EQ(rep.fqdn->flags, 0x02);
  EXPECT_EQ(std::vector<u8>(rep.fqdn->name.span().begin(), rep.fqdn->name.span().end()),
            kVm1Wire);

  // Without S (the client updates DNS itself), the flags stay 0.
  asked.flags = 0x00;
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr, true, 12345, asked));
  ASSERT_EQ(fx.tap.sent.size(), 2u);
  rep = parse_v6_reply(fx.tap.sent[1]);
  ASSERT_TRUE(rep.fqdn);
  EXPECT_EQ(rep.fqdn->flags, 0);
}

TEST(EngineDhcpv6, NoFqdnUnlessConfigured) {
  Fixture fx;
  wire::Dhcpv6Fqdn asked;
  asked.flags = 0x01;
  const u8 name[] = {5, 'g', 'u', 'e', 's', 't', 0};
  ASSERT_TRUE(asked.name.assign(Bytes(name, sizeof(name))));
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr, true, 12345, asked));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  EXPECT_FALSE(parse_v6_reply(fx.tap.sent[0]).fqdn.has_value());
}

// A reply that would not fit in its buffer with the FQDN goes out without
// it, the search list whole.
TEST(EngineDhcpv6, FqdnLeftOutWhenTheReplyWouldNotFit) {
  core::NetInfo n = net_with_fqdn();
  n.dhcp_search = true;
  n.search.clear();
  std::string label(60, 'x');
  std::string longname = label + "." + label + "." + label + "." + label;  // 245 characters
  for (char c : std::string("abcde")) (void)n.search.push(std::string(1, c) + longname.substr(1));
  n.fqdn = std::string(63, 'f') + "." + std::string(63, 'q') + "." + std::string(63, 'd') + "." +
           std::string(61, 'n');  // 253 characters
  Fixture fx(n);
  fx.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::Dhcpv6Repr rep = parse_v6_reply(fx.tap.sent[0]);
  EXPECT_EQ(rep.domain_list.size(), 5u);
  EXPECT_FALSE(rep.fqdn.has_value());

  // One search domain fewer, and the name fits again.
  core::NetInfo m = n;
  m.search.clear();
  for (char c : std::string("abcd")) (void)m.search.push(std::string(1, c) + longname.substr(1));
  Fixture fy(m);
  fy.inject(dhcpv6_msg(wire::dhcpv6_msg::solicit, false, nullptr));
  ASSERT_EQ(fy.tap.sent.size(), 1u);
  rep = parse_v6_reply(fy.tap.sent[0]);
  EXPECT_EQ(rep.domain_list.size(), 4u);
  ASSERT_TRUE(rep.fqdn.has_value());
  EXPECT_EQ(rep.fqdn->name.size(), 255u);
}

// DHCP (v4): option 12 with --hostname, option 81 (RFC 4702) with --fqdn.
TEST(EngineDhcp, HostnameAndFqdnWhenConfigured) {
  Fixture fx(net_with_fqdn());
  fx.inject(dhcp_request(wire::dhcp_msg::discover, false, {1, 3, 6, 12, 81}));
  ASSERT_EQ(fx.tap.sent.size(), 1u);
  wire::DhcpRepr r = parse_dhcp_reply(fx.tap.sent[0], nullptr);
  ASSERT_TRUE(r.hostname);
  EXPECT_EQ(std::string(r.hostname->span().begin(), r.hostname->span().end()), "vm1");
  bool found = false;
  for (const auto& o : r.other) {
    if (o.code != 81) continue;
    found = true;
    std::vector<u8> want{0x04, 0xff, 0xff};
    want.insert(want.end(), kVm1Wire.begin(), kVm1Wire.end());
    EXPECT_EQ(std::vector<u8>(o.data.span().begin(), o.data.span().end()), want);
  }
  EXPECT_TRUE(found);
}

TEST(Engine, GarbageFramesAreCountedNotFatal) {
  Fixture fx;
  std::vector<u8> junk = {1, 2, 3};
  fx.inject(junk);
  std::vector<u8> eth(60, 0);
  eth[12] = 0x08;
  eth[13] = 0x00;  // IPv4 with an all-zero header
  fx.inject(eth);
  EXPECT_EQ(fx.eng.stats().frames_bad, 2u);
  EXPECT_TRUE(fx.tap.sent.empty());
}

}  // namespace
}  // namespace passt::engine
