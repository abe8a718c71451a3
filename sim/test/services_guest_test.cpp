// The reference guest's clients against hand-built server messages: what
// they send (fields, options, retransmission timing) and what they accept.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "sim/alloc_counter.hpp"
#include "sim/guest_ref.hpp"
#include "wire/arp.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/ndp.hpp"
#include "wire/udp.hpp"

namespace passt::sim {
namespace {

using Frame = std::vector<u8>;

const MacAddr kGuest{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
const MacAddr kServer{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
const Ipv4Addr kAddr = Ipv4Addr::of(192, 0, 2, 77);
const Ipv4Addr kGw = Ipv4Addr::of(192, 0, 2, 1);
const Ipv6Addr kRouterLl = *parse_ipv6("fe80::1");

class Capture final : public GuestPort {
 public:
  bool guest_send(Bytes f) noexcept override {
    if (!up) return false;
    sent.emplace_back(f.begin(), f.end());
    return true;
  }
  bool link_up() const noexcept override { return up; }
  std::vector<Frame> sent;
  bool up = true;
};

// --- frames as a server would build them (wire reprs only) ------------------------------------

Frame udp4_frame(const MacAddr& dst_mac, Ipv4Addr src, Ipv4Addr dst, u16 sport, u16 dport, const Frame& payload) {
  Frame f(14 + 20 + 8 + payload.size());
  wire::EthernetRepr e{dst_mac, kServer, wire::ethertype::ipv4};
  (void)e.emit(MutBytes(f));
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = 17;
  ip.ttl = 255;
  ip.payload_len = static_cast<u16>(8 + payload.size());
  (void)ip.emit(MutBytes(f).subspan(14));
  std::copy(payload.begin(), payload.end(), f.begin() + 42);
  wire::UdpRepr u{sport, dport, payload.size()};
  (void)u.emit(MutBytes(f).subspan(34), src, dst);
  return f;
}

Frame udp6_frame(const Ipv6Addr& src, const Ipv6Addr& dst, u16 sport, u16 dport, const Frame& payload) {
  Frame f(14 + 40 + 8 + payload.size());
  wire::EthernetRepr e{kGuest, kServer, wire::ethertype::ipv6};
  (void)e.emit(MutBytes(f));
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = 17;
  ip.hop_limit = 255;
  ip.payload_len = static_cast<u16>(8 + payload.size());
  (void)ip.emit(MutBytes(f).subspan(14));
  std::copy(payload.begin(), payload.end(), f.begin() + 62);
  wire::UdpRepr u{sport, dport, payload.size()};
  (void)u.emit(MutBytes(f).subspan(54), src, dst);
  return f;
}

Frame ndp_frame(const wire::NdpRepr& m, const Ipv6Addr& src, const Ipv6Addr& dst, const MacAddr& dst_mac,
                u8 hop = 255) {
  Frame f(14 + 40 + m.length());
  wire::EthernetRepr e{dst_mac, kServer, wire::ethertype::ipv6};
  (void)e.emit(MutBytes(f));
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = 58;
  ip.hop_limit = hop;
  ip.payload_len = static_cast<u16>(m.length());
  (void)ip.emit(MutBytes(f).subspan(14));
  EXPECT_TRUE(m.emit(MutBytes(f).subspan(54), src, dst));
  return f;
}

Frame arp_frame(u16 oper, const MacAddr& sha, Ipv4Addr spa, const MacAddr& tha, Ipv4Addr tpa, const MacAddr& dst) {
  Frame f(42);
  wire::EthernetRepr e{dst, sha, wire::ethertype::arp};
  (void)e.emit(MutBytes(f));
  wire::ArpRepr a{oper, sha, spa, tha, tpa};
  (void)a.emit(MutBytes(f).subspan(14));
  return f;
}

Frame dhcp4_payload(const wire::DhcpRepr& r) {
  Frame p(r.length());
  EXPECT_TRUE(r.emit(MutBytes(p)));
  return p;
}

Frame dhcp6_payload(const wire::Dhcpv6Repr& r) {
  Frame p(r.length());
  EXPECT_TRUE(r.emit(MutBytes(p)));
  return p;
}

wire::DnsName name(const char* s) { return *wire::DnsName::from_text(s); }

// --- the harness ------------------------------------------------------------------------------

struct Harness {
  RefGuestConfig cfg;
  Capture port;
  std::unique_ptr<RefGuest> g;
  Instant now = Instant::from_nanos(1000000000);
  std::size_t seen = 0;  // frames already looked at by next_sent()

  Harness() {
    cfg.mac = kGuest;
    cfg.scale_ppm = 10000;  // 1/100: 4 s -> 40 ms
    cfg.max_rt = Duration::seconds(100);
  }
  void start(u64 seed = 1) {
    g = std::make_unique<RefGuest>(cfg, Prng(seed));
    g->attach(port);
    g->start(now);
  }
  void fire() {
    now = g->next_deadline();
    ASSERT_FALSE(now.is_never());
    g->on_deadline(now);
  }
  void deliver(const Frame& f) { g->on_frame(Bytes(f), now); }
  // Fires timers until the guest sent a new frame matching `want`;
  // returns its index in port.sent (or -1 after `limit` timers).
  template <class Pred>
  long until_sent(Pred want, int limit = 200) {
    for (int i = 0; i < limit; i++) {
      while (seen < port.sent.size()) {
        const std::size_t k = seen++;
        if (want(port.sent[k])) return static_cast<long>(k);
      }
      if (g->next_deadline().is_never()) return -1;
      fire();
    }
    return -1;
  }
};

std::optional<wire::DhcpRepr> as_dhcp4(const Frame& f) {
  auto pf = wire::parse_frame(Bytes(f));
  if (!pf || pf->l4 != wire::L4::udp || pf->dst_port != 67) return std::nullopt;
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
  auto v = wire::DhcpView::parse(pf->payload);
  if (!v) return std::nullopt;
  auto r = wire::DhcpRepr::from(*v);
  if (!r) return std::nullopt;
  return *r;
}

std::optional<wire::Dhcpv6Repr> as_dhcp6(const Frame& f) {
  auto pf = wire::parse_frame(Bytes(f));
  if (!pf || pf->l4 != wire::L4::udp || pf->dst_port != 547) return std::nullopt;
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
  auto v = wire::Dhcpv6View::parse(pf->payload);
  if (!v) return std::nullopt;
  auto r = wire::Dhcpv6Repr::from(*v);
  if (!r) return std::nullopt;
  return *r;
}

std::optional<wire::NdpRepr> as_ndp(const Frame& f, u8 type, Ipv6Addr* src = nullptr, Ipv6Addr* dst = nullptr) {
  auto pf = wire::parse_frame(Bytes(f));
  if (!pf || pf->l4 != wire::L4::icmpv6 || pf->l4_bytes.empty() || pf->l4_bytes[0] != type) return std::nullopt;
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
  EXPECT_EQ(pf->hop_limit, 255);
  auto v = wire::NdpView::parse(pf->l4_bytes);
  if (!v) return std::nullopt;
  EXPECT_TRUE(wire::ndp_validate_ip(*v, pf->src.v6(), pf->dst.v6(), pf->hop_limit));
  if (src) *src = pf->src.v6();
  if (dst) *dst = pf->dst.v6();
  auto r = wire::NdpRepr::from(*v);
  if (!r) return std::nullopt;
  return *r;
}

std::optional<wire::ArpRepr> as_arp(const Frame& f) {
  auto pf = wire::parse_frame(Bytes(f));
  if (!pf || pf->l3 != wire::L3::arp) return std::nullopt;
  auto r = wire::ArpRepr::from(*pf->arp);
  if (!r) return std::nullopt;
  return *r;
}

auto is_dhcp4(u8 type) {
  return [type](const Frame& f) {
    auto r = as_dhcp4(f);
    return r && r->message_type == type;
  };
}
auto is_dhcp6(u8 type) {
  return [type](const Frame& f) {
    auto r = as_dhcp6(f);
    return r && r->msg_type == type;
  };
}
auto is_ndp(u8 type) {
  return [type](const Frame& f) { return as_ndp(f, type).has_value(); };
}

// A server reply to `req` (xid, chaddr, flags copied).
wire::DhcpRepr reply_to(const wire::DhcpRepr& req, u8 type) {
  wire::DhcpRepr r;
  r.op = wire::dhcp_op::reply;
  r.xid = req.xid;
  r.flags = req.flags;
  r.chaddr = req.chaddr;
  r.yiaddr = kAddr;
  r.message_type = type;
  r.server_id = kGw;
  r.subnet_mask = Ipv4Addr::of(255, 255, 240, 0);
  (void)r.routers.push(kGw);
  r.lease_time = wire::kDhcpInfiniteLease;
  return r;
}

Frame dhcp4_frame(const wire::DhcpRepr& r) {
  const bool bc = r.broadcast();
  return udp4_frame(bc ? MacAddr::broadcast() : kGuest, kGw, bc ? Ipv4Addr::broadcast() : r.yiaddr, 67, 68,
                    dhcp4_payload(r));
}

Harness v4_harness() {
  Harness h;
  h.cfg.v6 = false;
  h.cfg.arp_probe = false;
  return h;
}

// --- DHCPv4 ----------------------------------------------------------------------------------

TEST(RefDhcp4, DiscoverAfterTheInitialWait) {
  Harness h = v4_harness();
  h.cfg.dhcp4_broadcast = true;
  h.cfg.dhcp4_client_id = true;
  h.cfg.dhcp4_rapid_commit = true;
  for (u8 c : {u8{1}, u8{3}, u8{6}, u8{119}, u8{121}}) (void)h.cfg.dhcp4_prl.push(c);
  const Instant t0 = h.now;
  h.start();
  // RFC 2131 §4.4.1: 1 to 10 s (scaled by 1/100).
  EXPECT_GE(h.g->next_deadline() - t0, Duration::millis(10));
  EXPECT_LE(h.g->next_deadline() - t0, Duration::millis(100));
  const long i = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  ASSERT_GE(i, 0);
  const Frame& f = h.port.sent[static_cast<std::size_t>(i)];
  auto pf = wire::parse_frame(Bytes(f));
  ASSERT_TRUE(pf);
  EXPECT_EQ(pf->eth_dst, MacAddr::broadcast());
  EXPECT_EQ(pf->eth_src, kGuest);
  EXPECT_EQ(pf->src.v4(), Ipv4Addr::any());
  EXPECT_EQ(pf->dst.v4(), Ipv4Addr::broadcast());
  EXPECT_EQ(pf->src_port, 68);
  auto d = as_dhcp4(f);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->op, wire::dhcp_op::request);
  EXPECT_EQ(d->client_mac(), kGuest);
  EXPECT_TRUE(d->broadcast());
  EXPECT_TRUE(d->rapid_commit);
  ASSERT_TRUE(d->client_id);
  EXPECT_EQ(d->client_id->size(), 7u);
  ASSERT_TRUE(d->parameter_request_list);
  EXPECT_EQ(d->parameter_request_list->size(), 5u);
  EXPECT_EQ((*d->parameter_request_list)[3], 119);
  EXPECT_FALSE(d->requested_ip);
  EXPECT_FALSE(d->server_id);
}

TEST(RefDhcp4, DiscoverRetransmissionsDoubleUpTo64sWithTheSameXid) {
  Harness h = v4_harness();
  h.start(3);
  std::vector<Instant> at;
  std::vector<u32> xids;
  while (at.size() < 8) {
    const long i = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
    ASSERT_GE(i, 0);
    at.push_back(h.now);
    xids.push_back(as_dhcp4(h.port.sent[static_cast<std::size_t>(i)])->xid);
  }
  const i64 want_ms[] = {40, 80, 160, 320, 640, 640, 640};  // 4..64 s scaled, +-1 s scaled
  for (std::size_t k = 1; k < at.size(); k++) {
    const i64 ms = (at[k] - at[k - 1]).to_millis();
    EXPECT_GE(ms, want_ms[k - 1] - 10) << k;
    EXPECT_LE(ms, want_ms[k - 1] + 10) << k;
    EXPECT_EQ(xids[k], xids[0]);
  }
}

TEST(RefDhcp4, FullExchangeWithProbeAnnounceAndGatewayResolution) {
  Harness h = v4_harness();
  h.cfg.arp_probe = true;
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  ASSERT_GE(di, 0);
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  wire::DhcpRepr offer = reply_to(disc, wire::dhcp_msg::offer);
  h.deliver(dhcp4_frame(offer));
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::requesting);
  const long ri = h.until_sent(is_dhcp4(wire::dhcp_msg::request), 1);
  ASSERT_GE(ri, 0);
  const wire::DhcpRepr req = *as_dhcp4(h.port.sent[static_cast<std::size_t>(ri)]);
  EXPECT_EQ(req.xid, disc.xid);
  EXPECT_EQ(req.requested_ip, kAddr);
  EXPECT_EQ(req.server_id, kGw);
  EXPECT_EQ(req.ciaddr, Ipv4Addr::any());

  wire::DhcpRepr ack = reply_to(req, wire::dhcp_msg::ack);
  (void)ack.dns_servers.push(Ipv4Addr::of(198, 51, 100, 53));
  (void)ack.dns_servers.push(Ipv4Addr::of(203, 0, 113, 53));
  ack.mtu = 1400;
  (void)ack.domain_search.push(name("a.example.org"));
  (void)ack.domain_search.push(name("example.org"));
  h.deliver(dhcp4_frame(ack));
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::probing);
  EXPECT_FALSE(h.g->addr4());  // not before the probes

  // Three probes (sender 0.0.0.0), then two announcements, then the gateway.
  int probes = 0, announces = 0;
  const long gi = h.until_sent([&](const Frame& f) {
    auto a = as_arp(f);
    if (!a) return false;
    if (a->spa.is_unspecified() && a->tpa == kAddr) probes++;
    if (a->spa == kAddr && a->tpa == kAddr) announces++;
    return a->spa == kAddr && a->tpa == kGw;
  });
  ASSERT_GE(gi, 0);
  EXPECT_EQ(probes, 3);
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::bound);
  h.deliver(arp_frame(wire::arp_op::reply, kServer, kGw, kGuest, kAddr, kGuest));
  ASSERT_TRUE(h.g->gateway4_mac());
  EXPECT_EQ(*h.g->gateway4_mac(), kServer);
  (void)h.until_sent([](const Frame&) { return false; }, 10);
  int total_announces = 0;
  for (const Frame& f : h.port.sent)
    if (auto a = as_arp(f); a && a->spa == kAddr && a->tpa == kAddr) total_announces++;
  EXPECT_EQ(total_announces, 2);
  (void)announces;

  const Dhcp4Lease& L = h.g->dhcp4().lease;
  EXPECT_EQ(L.addr, kAddr);
  EXPECT_TRUE(L.mask_present && L.mask_contiguous);
  EXPECT_EQ(L.prefix_len, 20);
  EXPECT_EQ(L.router, kGw);
  EXPECT_TRUE(L.router_reachable);
  EXPECT_FALSE(L.router_from_121);
  EXPECT_EQ(L.server_id, kGw);
  EXPECT_EQ(L.lease, wire::kDhcpInfiniteLease);
  EXPECT_EQ(L.mtu, 1400);
  ASSERT_EQ(L.dns.size(), 2u);
  EXPECT_EQ(L.dns[1], Ipv4Addr::of(203, 0, 113, 53));
  ASSERT_EQ(L.search.size(), 2u);
  EXPECT_EQ(L.search[1], name("example.org"));
  EXPECT_EQ(h.g->counters().dhcp4_acks, 1u);
}

TEST(RefDhcp4, IgnoresRepliesThatAreNotForIt) {
  Harness h = v4_harness();
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  ASSERT_GE(di, 0);
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  wire::DhcpRepr o = reply_to(disc, wire::dhcp_msg::offer);
  {
    wire::DhcpRepr bad = o;
    bad.xid ^= 1;
    h.deliver(dhcp4_frame(bad));
  }
  {
    wire::DhcpRepr bad = o;
    bad.chaddr[5] ^= 1;
    h.deliver(dhcp4_frame(bad));
  }
  {
    wire::DhcpRepr bad = o;
    bad.server_id.reset();
    h.deliver(dhcp4_frame(bad));
  }
  {
    wire::DhcpRepr bad = o;
    bad.message_type.reset();  // BOOTP
    h.deliver(dhcp4_frame(bad));
  }
  {
    wire::DhcpRepr bad = o;
    bad.message_type = wire::dhcp_msg::ack;  // ACK in SELECTING without rapid commit
    h.deliver(dhcp4_frame(bad));
  }
  EXPECT_EQ(h.g->counters().dhcp4_ignored, 5u);
  {
    Frame f = dhcp4_frame(o);
    f[60] ^= 0x10;  // inside the DHCP payload: the UDP checksum fails
    h.deliver(f);
    EXPECT_EQ(h.g->counters().rx_bad_checksum, 1u);
  }
  {
    Frame f = dhcp4_frame(o);
    f[5] ^= 0x01;  // another host's unicast MAC
    h.deliver(f);
    EXPECT_EQ(h.g->counters().rx_not_for_us, 1u);
  }
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::selecting);
  h.deliver(dhcp4_frame(o));
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::requesting);
}

TEST(RefDhcp4, ClasslessRoutesOverrideTheRouterOption) {
  Harness h = v4_harness();
  h.cfg.dhcp4_rapid_commit = true;
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  ASSERT_GE(di, 0);
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  ASSERT_TRUE(disc.rapid_commit);
  wire::DhcpRepr ack = reply_to(disc, wire::dhcp_msg::ack);
  ack.rapid_commit = true;
  const Ipv4Addr far = Ipv4Addr::of(203, 0, 113, 1);
  ack.subnet_mask = Ipv4Addr::of(255, 255, 255, 0);
  ack.routers.clear();
  (void)ack.routers.push(Ipv4Addr::of(192, 0, 2, 254));  // must be ignored (RFC 3442)
  (void)ack.classless_routes.push(wire::DhcpRoute{far, 32, Ipv4Addr::any()});
  (void)ack.classless_routes.push(wire::DhcpRoute{Ipv4Addr::any(), 0, far});
  h.deliver(dhcp4_frame(ack));
  ASSERT_EQ(h.g->dhcp4().phase, Dhcp4Phase::bound);  // rapid commit, no probing
  const Dhcp4Lease& L = h.g->dhcp4().lease;
  EXPECT_EQ(L.router, far);
  EXPECT_TRUE(L.router_from_121);
  EXPECT_TRUE(L.router_reachable);
  EXPECT_EQ(L.routes_121, 2u);
  EXPECT_FALSE(L.mtu);
  EXPECT_EQ(h.g->counters().dhcp4_requests, 0u);
}

TEST(RefDhcp4, ConcatenatesASplitSearchOption) {
  // A list longer than 255 bytes goes out as several option 119 instances
  // (RFC 3396); the client puts them back together.
  Harness h = v4_harness();
  h.cfg.dhcp4_rapid_commit = true;
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  wire::DhcpRepr ack = reply_to(disc, wire::dhcp_msg::ack);
  ack.rapid_commit = true;
  const char* names[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.one.example",
                         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.two.example",
                         "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.three.example",
                         "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.four.example",
                         "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.five.example"};
  for (const char* n : names) (void)ack.domain_search.push(name(n));
  const Frame p = dhcp4_payload(ack);
  int instances = 0;
  auto v = wire::DhcpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  wire::DhcpOptionIter it = v->option_iter();
  wire::DhcpOptionView o;
  while (it.next(o)) instances += o.code == 119;
  ASSERT_GE(instances, 2);
  h.deliver(udp4_frame(kGuest, kGw, kAddr, 67, 68, p));
  ASSERT_EQ(h.g->dhcp4().phase, Dhcp4Phase::bound);
  EXPECT_EQ(h.g->dhcp4().lease.search, ack.domain_search);
}

TEST(RefDhcp4, NakSendsItBackToInit) {
  Harness h = v4_harness();
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  h.deliver(dhcp4_frame(reply_to(disc, wire::dhcp_msg::offer)));
  const long ri = h.until_sent(is_dhcp4(wire::dhcp_msg::request), 1);
  ASSERT_GE(ri, 0);
  wire::DhcpRepr nak = reply_to(*as_dhcp4(h.port.sent[static_cast<std::size_t>(ri)]), wire::dhcp_msg::nak);
  nak.yiaddr = Ipv4Addr::any();
  nak.flags = wire::kDhcpFlagBroadcast;
  h.deliver(udp4_frame(MacAddr::broadcast(), kGw, Ipv4Addr::broadcast(), 67, 68, dhcp4_payload(nak)));
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::init);
  EXPECT_EQ(h.g->counters().dhcp4_naks, 1u);
  const long d2 = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  ASSERT_GE(d2, 0);
  EXPECT_NE(as_dhcp4(h.port.sent[static_cast<std::size_t>(d2)])->xid, disc.xid);
}

TEST(RefDhcp4, RequestRetriesThenStartsOver) {
  Harness h = v4_harness();
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  h.deliver(dhcp4_frame(reply_to(disc, wire::dhcp_msg::offer)));
  int requests = 0;
  const long d2 = h.until_sent([&](const Frame& f) {
    auto d = as_dhcp4(f);
    if (d && d->message_type == wire::dhcp_msg::request) requests++;
    return d && d->message_type == wire::dhcp_msg::discover;
  });
  ASSERT_GE(d2, 0);
  EXPECT_EQ(requests, 5);  // the first and four retransmissions
}

TEST(RefDhcp4, ArpConflictDeclines) {
  Harness h = v4_harness();
  h.cfg.arp_probe = true;
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  const wire::DhcpRepr disc = *as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]);
  h.deliver(dhcp4_frame(reply_to(disc, wire::dhcp_msg::offer)));
  const long ri = h.until_sent(is_dhcp4(wire::dhcp_msg::request), 1);
  h.deliver(dhcp4_frame(reply_to(*as_dhcp4(h.port.sent[static_cast<std::size_t>(ri)]), wire::dhcp_msg::ack)));
  ASSERT_EQ(h.g->dhcp4().phase, Dhcp4Phase::probing);
  const MacAddr other{{0x02, 0, 0, 0, 0, 0x99}};
  h.deliver(arp_frame(wire::arp_op::reply, other, kAddr, kGuest, Ipv4Addr::any(), kGuest));
  EXPECT_EQ(h.g->counters().arp_conflicts, 1u);
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::declined);
  const Frame& last = h.port.sent.back();
  auto dec = as_dhcp4(last);
  ASSERT_TRUE(dec);
  EXPECT_EQ(dec->message_type, wire::dhcp_msg::decline);
  EXPECT_EQ(dec->requested_ip, kAddr);
  EXPECT_EQ(dec->server_id, kGw);
}

TEST(RefDhcp4, InitRebootAfterTheLinkComesBack) {
  Harness h = v4_harness();
  h.cfg.dhcp4_rapid_commit = true;
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  wire::DhcpRepr ack = reply_to(*as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]), wire::dhcp_msg::ack);
  ack.rapid_commit = true;
  h.deliver(dhcp4_frame(ack));
  ASSERT_EQ(h.g->dhcp4().phase, Dhcp4Phase::bound);
  h.g->on_link(false, h.now);
  h.g->on_link(true, h.now);
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::rebooting);
  auto req = as_dhcp4(h.port.sent.back());
  ASSERT_TRUE(req);
  EXPECT_EQ(req->message_type, wire::dhcp_msg::request);
  EXPECT_EQ(req->requested_ip, kAddr);
  EXPECT_FALSE(req->server_id);
  EXPECT_EQ(req->ciaddr, Ipv4Addr::any());
  // The ACK's contents replace the old lease.
  wire::DhcpRepr ack2 = reply_to(*req, wire::dhcp_msg::ack);
  ack2.mtu = 9000;
  h.deliver(dhcp4_frame(ack2));
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::bound);
  EXPECT_EQ(h.g->dhcp4().lease.mtu, 9000);
}

TEST(RefDhcp4, RenewsAFiniteLeaseAtT1) {
  Harness h = v4_harness();
  h.cfg.dhcp4_rapid_commit = true;
  h.start();
  const long di = h.until_sent(is_dhcp4(wire::dhcp_msg::discover));
  wire::DhcpRepr ack = reply_to(*as_dhcp4(h.port.sent[static_cast<std::size_t>(di)]), wire::dhcp_msg::ack);
  ack.rapid_commit = true;
  ack.lease_time = 100;
  h.deliver(dhcp4_frame(ack));
  ASSERT_EQ(h.g->dhcp4().phase, Dhcp4Phase::bound);
  const Instant bound_at = h.now;
  const long ri = h.until_sent(is_dhcp4(wire::dhcp_msg::request));
  ASSERT_GE(ri, 0);
  EXPECT_NEAR(static_cast<double>((h.now - bound_at).to_millis()), 510.0, 5.0);  // (100/2 + 1) s / 100
  auto req = as_dhcp4(h.port.sent[static_cast<std::size_t>(ri)]);
  EXPECT_EQ(req->ciaddr, kAddr);
  EXPECT_FALSE(req->requested_ip);
  EXPECT_FALSE(req->server_id);
  auto pf = wire::parse_frame(Bytes(h.port.sent[static_cast<std::size_t>(ri)]));
  EXPECT_EQ(pf->dst.v4(), kGw);  // unicast to the server
  EXPECT_EQ(h.g->dhcp4().phase, Dhcp4Phase::renewing);
}

// --- SLAAC / NDP -----------------------------------------------------------------------------

Harness v6_harness() {
  Harness h;
  h.cfg.v4 = false;
  h.cfg.dhcp6 = false;
  return h;
}

wire::NdpRepr make_ra() {
  wire::NdpRepr ra;
  ra.type = wire::icmpv6_type::router_advertisement;
  ra.cur_hop_limit = 64;
  ra.managed = true;
  ra.router_lifetime = 1800;
  wire::NdpPrefixInfo pi;
  pi.prefix = *parse_ipv6("2001:db8:1:2::");
  (void)ra.options.prefixes.push(pi);
  ra.options.source_ll = kServer;
  ra.options.mtu = 1400;
  wire::NdpRdnss r;
  (void)r.servers.push(*parse_ipv6("2001:db8::53"));
  (void)r.servers.push(*parse_ipv6("2001:db8::54"));
  (void)ra.options.rdnss.push(r);
  wire::NdpDnssl d;
  (void)d.domains.push(name("example.org"));
  (void)d.domains.push(name("lab.example"));
  (void)ra.options.dnssl.push(d);
  return ra;
}

TEST(RefSlaac, LinkLocalDadThenRouterSolicitation) {
  Harness h = v6_harness();
  h.cfg.dad_transmits = 2;
  h.start();
  const Ipv6Addr ll = RefGuest::link_local_of(kGuest);
  EXPECT_EQ(ll, *parse_ipv6("fe80::11:22ff:fe33:4455"));
  EXPECT_EQ(h.g->link_local().state, AddrState::tentative);
  int dad = 0;
  const long rs = h.until_sent([&](const Frame& f) {
    Ipv6Addr src, dst;
    if (auto ns = as_ndp(f, wire::icmpv6_type::neighbor_solicitation, &src, &dst)) {
      EXPECT_TRUE(src.is_unspecified());
      EXPECT_EQ(dst, ll.solicited_node());
      EXPECT_EQ(ns->target, ll);
      EXPECT_FALSE(ns->options.source_ll);
      auto pf = wire::parse_frame(Bytes(f));
      EXPECT_EQ(pf->eth_dst, (MacAddr{{0x33, 0x33, 0xff, 0x33, 0x44, 0x55}}));
      dad++;
    }
    return as_ndp(f, wire::icmpv6_type::router_solicitation).has_value();
  });
  ASSERT_GE(rs, 0);
  EXPECT_EQ(dad, 2);
  EXPECT_EQ(h.g->link_local().state, AddrState::preferred);
  Ipv6Addr src, dst;
  auto r = as_ndp(h.port.sent[static_cast<std::size_t>(rs)], wire::icmpv6_type::router_solicitation, &src, &dst);
  EXPECT_EQ(src, ll);
  EXPECT_EQ(dst, Ipv6Addr::all_routers());
  EXPECT_EQ(r->options.source_ll, kGuest);
}

TEST(RefSlaac, FirstSolicitationFromTheUnspecifiedAddress) {
  Harness h = v6_harness();
  h.cfg.rs_from_unspecified = true;
  h.start();
  // The RS timer (0..1 s scaled) and the DAD timer race; look at RSs only.
  const long rs = h.until_sent(is_ndp(wire::icmpv6_type::router_solicitation));
  ASSERT_GE(rs, 0);
  Ipv6Addr src, dst;
  auto r = as_ndp(h.port.sent[static_cast<std::size_t>(rs)], wire::icmpv6_type::router_solicitation, &src, &dst);
  if (h.g->link_local().state != AddrState::preferred) {
    EXPECT_TRUE(src.is_unspecified());
    EXPECT_FALSE(r->options.source_ll);  // RFC 4861 §4.1
  }
}

TEST(RefSlaac, SolicitationsBackOff) {
  Harness h = v6_harness();
  h.cfg.max_rt = Duration::millis(500);
  h.start();
  std::vector<Instant> at;
  while (at.size() < 8) {
    ASSERT_GE(h.until_sent(is_ndp(wire::icmpv6_type::router_solicitation)), 0);
    at.push_back(h.now);
  }
  // RFC 7559: 4 s, then doubling (+-10 %), capped here at 500 ms.
  const double want[] = {40, 80, 160, 320, 500, 500, 500};
  for (std::size_t k = 1; k < at.size(); k++) {
    const double ms = static_cast<double>((at[k] - at[k - 1]).ns) / 1e6;
    EXPECT_GE(ms, want[k - 1] * 0.89) << k;
    EXPECT_LE(ms, want[k - 1] * 1.11) << k;
  }
}

TEST(RefSlaac, RouterAdvertisementConfiguresEverything) {
  Harness h = v6_harness();
  h.start();
  ASSERT_GE(h.until_sent(is_ndp(wire::icmpv6_type::router_solicitation)), 0);
  const Ipv6Addr ll = RefGuest::link_local_of(kGuest);
  h.deliver(ndp_frame(make_ra(), kRouterLl, ll, kGuest));
  const RaState& ra = h.g->ra();
  ASSERT_TRUE(ra.received);
  EXPECT_EQ(ra.router, kRouterLl);
  EXPECT_EQ(ra.router_lifetime, 1800);
  EXPECT_TRUE(ra.managed);
  EXPECT_EQ(ra.router_mac, kServer);
  EXPECT_EQ(ra.mtu, 1400u);
  EXPECT_EQ(ra.prefix, *parse_ipv6("2001:db8:1:2::"));
  ASSERT_EQ(ra.rdnss.size(), 2u);
  EXPECT_EQ(ra.rdnss[1], *parse_ipv6("2001:db8::54"));
  ASSERT_EQ(ra.dnssl.size(), 2u);
  EXPECT_EQ(ra.dnssl[1], name("lab.example"));
  const Ipv6Addr want = *parse_ipv6("2001:db8:1:2:11:22ff:fe33:4455");
  EXPECT_EQ(h.g->slaac().addr, want);
  EXPECT_EQ(h.g->slaac().state, AddrState::tentative);
  EXPECT_EQ(h.g->router6(), kRouterLl);

  // DAD for the SLAAC address, and a solicitation for the router.
  bool dad = false;
  const long ns = h.until_sent([&](const Frame& f) {
    Ipv6Addr src, dst;
    auto m = as_ndp(f, wire::icmpv6_type::neighbor_solicitation, &src, &dst);
    if (!m) return false;
    if (src.is_unspecified() && m->target == want) dad = true;
    return !src.is_unspecified() && m->target == kRouterLl;
  });
  ASSERT_GE(ns, 0);
  wire::NdpRepr na;
  na.type = wire::icmpv6_type::neighbor_advertisement;
  na.router = na.solicited = na.override_flag = true;
  na.target = kRouterLl;
  na.options.target_ll = kServer;
  h.deliver(ndp_frame(na, kRouterLl, ll, kGuest));
  EXPECT_EQ(h.g->router6_mac_na(), kServer);
  EXPECT_TRUE(h.g->router6_is_router());
  (void)h.until_sent([](const Frame&) { return false; }, 20);
  EXPECT_TRUE(dad);
  EXPECT_EQ(h.g->slaac().state, AddrState::preferred);
  // No more solicitations once an RA came.
  const u64 rs = h.g->counters().rs;
  (void)h.until_sent([](const Frame&) { return false; }, 20);
  EXPECT_EQ(h.g->counters().rs, rs);
}

TEST(RefSlaac, InvalidAdvertisementsAreIgnored) {
  Harness h = v6_harness();
  h.start();
  ASSERT_GE(h.until_sent(is_ndp(wire::icmpv6_type::router_solicitation)), 0);
  const Ipv6Addr ll = RefGuest::link_local_of(kGuest);
  h.deliver(ndp_frame(make_ra(), kRouterLl, ll, kGuest, 64));                       // hop limit
  h.deliver(ndp_frame(make_ra(), *parse_ipv6("2001:db8::1"), ll, kGuest));          // global source
  h.deliver(ndp_frame(make_ra(), kRouterLl, *parse_ipv6("2001:db8::9"), kGuest));   // not to us
  EXPECT_EQ(h.g->counters().ra_ignored, 3u);
  Frame bad = ndp_frame(make_ra(), kRouterLl, ll, kGuest);
  bad[bad.size() - 1] ^= 1;
  h.deliver(bad);
  EXPECT_EQ(h.g->counters().rx_bad_checksum, 1u);
  EXPECT_FALSE(h.g->ra().received);
}

TEST(RefSlaac, PrefixesThatCannotBeUsedForSlaac) {
  Harness h = v6_harness();
  h.start();
  ASSERT_GE(h.until_sent(is_ndp(wire::icmpv6_type::router_solicitation)), 0);
  const Ipv6Addr ll = RefGuest::link_local_of(kGuest);
  wire::NdpRepr ra = make_ra();
  ra.options.mtu.reset();
  wire::NdpPrefixInfo& pi = ra.options.prefixes[0];
  pi.prefix_len = 48;
  h.deliver(ndp_frame(ra, kRouterLl, ll, kGuest));
  pi.prefix_len = 64;
  pi.autonomous = false;
  h.deliver(ndp_frame(ra, kRouterLl, ll, kGuest));
  pi.autonomous = true;
  pi.preferred_lifetime = 100;
  pi.valid_lifetime = 50;
  h.deliver(ndp_frame(ra, kRouterLl, ll, kGuest));
  pi.valid_lifetime = 1000;
  pi.prefix = *parse_ipv6("fe80::");
  h.deliver(ndp_frame(ra, kRouterLl, ll, kGuest));
  EXPECT_FALSE(h.g->ra().prefix_seen);
  EXPECT_EQ(h.g->slaac().state, AddrState::none);
  ra.options.mtu = 1279;  // below the IPv6 minimum: ignored
  h.deliver(ndp_frame(ra, kRouterLl, ll, kGuest));
  EXPECT_FALSE(h.g->ra().mtu);
}

TEST(RefSlaac, DuplicateAddressDetected) {
  Harness h = v6_harness();
  h.start();
  const Ipv6Addr ll = RefGuest::link_local_of(kGuest);
  wire::NdpRepr na;
  na.type = wire::icmpv6_type::neighbor_advertisement;
  na.override_flag = true;
  na.target = ll;
  na.options.target_ll = kServer;
  h.deliver(ndp_frame(na, kRouterLl, Ipv6Addr::all_nodes(), MacAddr{{0x33, 0x33, 0, 0, 0, 1}}));
  EXPECT_EQ(h.g->counters().dad_failures, 1u);
  EXPECT_EQ(h.g->link_local().state, AddrState::duplicate);
  EXPECT_TRUE(h.g->ever_probed(ll));
}

TEST(RefSlaac, AnotherNodesProbeIsAConflict) {
  Harness h = v6_harness();
  h.start();
  const Ipv6Addr ll = RefGuest::link_local_of(kGuest);
  wire::NdpRepr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = ll;
  h.deliver(ndp_frame(ns, Ipv6Addr::any(), ll.solicited_node(), MacAddr{{0x33, 0x33, 0xff, 0x33, 0x44, 0x55}}));
  EXPECT_EQ(h.g->counters().dad_failures, 1u);
}

// --- DHCPv6 ----------------------------------------------------------------------------------

Harness d6_harness() {
  Harness h;
  h.cfg.v4 = false;
  h.cfg.iaid = 0x01020304;
  return h;
}

wire::Dhcpv6Duid server_duid() {
  wire::Dhcpv6Duid d;
  static constexpr u8 kBytes[] = {0, 1, 0, 1, 0, 0, 0, 7, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55};
  for (u8 b : kBytes) (void)d.push(b);
  return d;
}

const Ipv6Addr kLeased = *parse_ipv6("2001:db8:1:2::abcd");

wire::Dhcpv6Repr answer(const wire::Dhcpv6Repr& req, u8 type) {
  wire::Dhcpv6Repr r;
  r.msg_type = type;
  r.xid = req.xid;
  r.client_id = req.client_id;
  r.server_id = server_duid();
  if (!req.ia_na.empty()) {
    wire::Dhcpv6Ia ia;
    ia.iaid = req.ia_na[0].iaid;
    ia.t1 = ia.t2 = wire::kDhcpv6Infinity;
    wire::Dhcpv6IaAddr a;
    a.addr = kLeased;
    (void)ia.addrs.push(a);
    (void)r.ia_na.push(ia);
  }
  (void)r.dns_servers.push(*parse_ipv6("2001:db8::53"));
  (void)r.domain_list.push(name("example.org"));
  return r;
}

Frame d6_frame(const wire::Dhcpv6Repr& r) {
  return udp6_frame(kRouterLl, RefGuest::link_local_of(kGuest), 547, 546, dhcp6_payload(r));
}

TEST(RefDhcp6, SolicitCarriesClientIdIaNaElapsedTimeAndOro) {
  Harness h = d6_harness();
  h.cfg.duid_llt = true;
  h.cfg.duid_time = 0x11223344;
  h.cfg.dhcp6_rapid_commit = true;
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  ASSERT_GE(si, 0);
  EXPECT_EQ(h.g->link_local().state, AddrState::preferred);  // never from a tentative address
  const Frame& f = h.port.sent[static_cast<std::size_t>(si)];
  auto pf = wire::parse_frame(Bytes(f));
  EXPECT_EQ(pf->src.v6(), RefGuest::link_local_of(kGuest));
  EXPECT_EQ(pf->dst.v6(), wire::kDhcpv6AllServers);
  EXPECT_EQ(pf->eth_dst, (MacAddr{{0x33, 0x33, 0, 1, 0, 2}}));
  EXPECT_EQ(pf->src_port, 546);
  auto s = as_dhcp6(f);
  ASSERT_TRUE(s->client_id);
  const u8 llt[] = {0, 1, 0, 1, 0x11, 0x22, 0x33, 0x44, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  ASSERT_EQ(s->client_id->size(), sizeof(llt));
  for (std::size_t i = 0; i < sizeof(llt); i++) EXPECT_EQ((*s->client_id)[i], llt[i]);
  EXPECT_FALSE(s->server_id);
  ASSERT_EQ(s->ia_na.size(), 1u);
  EXPECT_EQ(s->ia_na[0].iaid, 0x01020304u);
  EXPECT_EQ(s->elapsed_time, 0);
  ASSERT_TRUE(s->oro);
  EXPECT_EQ(s->oro->size(), 2u);
  EXPECT_TRUE(s->rapid_commit);
  EXPECT_LT(s->xid, 1u << 24);
}

TEST(RefDhcp6, SolicitRetransmissionFollowsRfc8415) {
  Harness h = d6_harness();
  h.cfg.max_rt = Duration::seconds(100);
  h.start();
  std::vector<Instant> at;
  std::vector<u16> elapsed;
  while (at.size() < 6) {
    const long i = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
    ASSERT_GE(i, 0);
    at.push_back(h.now);
    elapsed.push_back(*as_dhcp6(h.port.sent[static_cast<std::size_t>(i)])->elapsed_time);
  }
  // First RT in (1.0, 1.1] s, then 2 RT +-10 % (scaled by 1/100).
  double prev = static_cast<double>((at[1] - at[0]).ns) / 1e6;
  EXPECT_GT(prev, 10.0);
  EXPECT_LE(prev, 11.0);
  for (std::size_t k = 2; k < at.size(); k++) {
    const double ms = static_cast<double>((at[k] - at[k - 1]).ns) / 1e6;
    EXPECT_GE(ms, prev * 1.9 - 0.01) << k;
    EXPECT_LE(ms, prev * 2.1 + 0.01) << k;
    prev = ms;
  }
  for (std::size_t k = 1; k < elapsed.size(); k++) EXPECT_GT(elapsed[k], elapsed[k - 1]);
}

TEST(RefDhcp6, AdvertisesAreCollectedForTheFirstRt) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  const wire::Dhcpv6Repr sol = *as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]);
  const std::size_t before = h.port.sent.size();
  h.deliver(d6_frame(answer(sol, wire::dhcpv6_msg::advertise)));
  EXPECT_EQ(h.port.sent.size(), before);  // no REQUEST before the first RT ends
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  ASSERT_GE(ri, 0);
  const wire::Dhcpv6Repr req = *as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]);
  EXPECT_NE(req.xid, sol.xid);
  EXPECT_EQ(req.server_id, server_duid());
  ASSERT_EQ(req.ia_na.size(), 1u);
  ASSERT_EQ(req.ia_na[0].addrs.size(), 1u);
  EXPECT_EQ(req.ia_na[0].addrs[0].addr, kLeased);
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::requesting);
}

TEST(RefDhcp6, PreferenceMaxRequestsAtOnce) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  wire::Dhcpv6Repr adv = answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise);
  wire::Dhcpv6RawOption pref;
  pref.code = 7;
  (void)pref.data.push(255);
  (void)adv.other.push(pref);
  h.deliver(d6_frame(adv));
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::requesting);
  EXPECT_TRUE(as_dhcp6(h.port.sent.back()));
}

TEST(RefDhcp6, ReplyBindsAfterDad) {
  Harness h = d6_harness();
  h.cfg.dhcp6 = true;
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  const wire::Dhcpv6Repr req = *as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]);
  h.deliver(d6_frame(answer(req, wire::dhcpv6_msg::reply)));
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::probing);
  EXPECT_TRUE(h.g->ever_probed(kLeased));
  bool dad = false;
  (void)h.until_sent([&](const Frame& f) {
    Ipv6Addr src;
    auto m = as_ndp(f, wire::icmpv6_type::neighbor_solicitation, &src);
    if (m && src.is_unspecified() && m->target == kLeased) dad = true;
    return false;
  }, 30);
  EXPECT_TRUE(dad);
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::bound);
  const Dhcp6Lease& L = h.g->dhcp6().lease;
  EXPECT_EQ(L.addr, kLeased);
  EXPECT_EQ(L.t1, wire::kDhcpv6Infinity);
  EXPECT_EQ(L.server_id, server_duid());
  ASSERT_EQ(L.dns.size(), 1u);
  ASSERT_EQ(L.domains.size(), 1u);
  EXPECT_EQ(h.g->dhcp6_addr().state, AddrState::preferred);
}

TEST(RefDhcp6, IgnoresRepliesForOthers) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  const wire::Dhcpv6Repr req = *as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]);
  wire::Dhcpv6Repr good = answer(req, wire::dhcpv6_msg::reply);
  {
    wire::Dhcpv6Repr bad = good;
    bad.xid ^= 1;
    h.deliver(d6_frame(bad));
  }
  {
    wire::Dhcpv6Repr bad = good;
    (*bad.client_id)[bad.client_id->size() - 1] ^= 1;
    h.deliver(d6_frame(bad));
  }
  {
    wire::Dhcpv6Repr bad = good;
    bad.server_id.reset();
    h.deliver(d6_frame(bad));
  }
  {
    wire::Dhcpv6Repr bad = good;
    (*bad.server_id)[5] ^= 1;  // not the server we asked
    h.deliver(d6_frame(bad));
  }
  EXPECT_EQ(h.g->counters().dhcp6_ignored, 4u);
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::requesting);
  h.deliver(d6_frame(good));
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::probing);
}

TEST(RefDhcp6, NotOnLinkStartsDiscoveryAgain) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  wire::Dhcpv6Repr rep = answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]), wire::dhcpv6_msg::reply);
  rep.status = wire::Dhcpv6Status::make(wire::dhcpv6_status::not_on_link, "no");
  h.deliver(d6_frame(rep));
  EXPECT_EQ(h.g->counters().dhcp6_not_on_link, 1u);
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::soliciting);
  EXPECT_FALSE(h.g->dhcp6().have_lease);
}

TEST(RefDhcp6, RequestGivesUpAfterTenTries) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  int requests = 0;
  const long s2 = h.until_sent([&](const Frame& f) {
    auto d = as_dhcp6(f);
    if (d && d->msg_type == wire::dhcpv6_msg::request) requests++;
    return d && d->msg_type == wire::dhcpv6_msg::solicit;
  });
  ASSERT_GE(s2, 0);
  EXPECT_EQ(requests, 10);  // REQ_MAX_RC
}

TEST(RefDhcp6, ConfirmAfterTheLinkComesBack) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]), wire::dhcpv6_msg::reply)));
  h.g->on_link(false, h.now);
  h.g->on_link(true, h.now);
  const long ci = h.until_sent(is_dhcp6(wire::dhcpv6_msg::confirm));
  ASSERT_GE(ci, 0);
  const wire::Dhcpv6Repr cnf = *as_dhcp6(h.port.sent[static_cast<std::size_t>(ci)]);
  EXPECT_FALSE(cnf.server_id);
  ASSERT_EQ(cnf.ia_na.size(), 1u);
  ASSERT_EQ(cnf.ia_na[0].addrs.size(), 1u);
  EXPECT_EQ(cnf.ia_na[0].addrs[0].addr, kLeased);
  EXPECT_EQ(cnf.ia_na[0].addrs[0].valid, 0u);
  EXPECT_EQ(cnf.ia_na[0].t1, 0u);
  // NotOnLink: start over.
  wire::Dhcpv6Repr no = answer(cnf, wire::dhcpv6_msg::reply);
  no.ia_na.clear();
  no.status = wire::Dhcpv6Status::make(wire::dhcpv6_status::not_on_link, "");
  h.deliver(d6_frame(no));
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::soliciting);
}

TEST(RefDhcp6, ConfirmSuccessKeepsTheAddress) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]), wire::dhcpv6_msg::reply)));
  h.g->restart(RestartKind::reboot, h.now);
  const long ci = h.until_sent(is_dhcp6(wire::dhcpv6_msg::confirm));
  ASSERT_GE(ci, 0);
  wire::Dhcpv6Repr ok = answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(ci)]), wire::dhcpv6_msg::reply);
  ok.ia_na.clear();
  ok.dns_servers.clear();
  ok.status = wire::Dhcpv6Status::make(wire::dhcpv6_status::success, "");
  h.deliver(d6_frame(ok));
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::probing);
  EXPECT_EQ(h.g->dhcp6().lease.addr, kLeased);
  EXPECT_TRUE(h.g->dhcp6().lease.dns.empty());  // the reply's options replace the old ones
  (void)h.until_sent([](const Frame&) { return false; }, 30);
  EXPECT_EQ(h.g->dhcp6().phase, Dhcp6Phase::bound);
}

TEST(RefGuest, FreshRestartForgetsLeases) {
  Harness h = d6_harness();
  h.start();
  const long si = h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(si)]), wire::dhcpv6_msg::advertise)));
  const long ri = h.until_sent(is_dhcp6(wire::dhcpv6_msg::request));
  h.deliver(d6_frame(answer(*as_dhcp6(h.port.sent[static_cast<std::size_t>(ri)]), wire::dhcpv6_msg::reply)));
  h.g->restart(RestartKind::fresh, h.now);
  EXPECT_FALSE(h.g->dhcp6().have_lease);
  EXPECT_GE(h.until_sent(is_dhcp6(wire::dhcpv6_msg::solicit)), 0);
  h.g->mark();
  EXPECT_EQ(h.g->at_mark().dhcp6_solicits, h.g->counters().dhcp6_solicits);
}

TEST(RefGuest, NoAllocationAfterConstruction) {
  class CountingPort final : public GuestPort {
   public:
    bool guest_send(Bytes f) noexcept override {
      if (!f.empty()) n++;
      return true;
    }
    bool link_up() const noexcept override { return true; }
    u64 n = 0;
  };
  if (!alloc::hooked()) GTEST_SKIP() << "allocation hook not linked";
  RefGuestConfig cfg;
  cfg.static_addr4 = kAddr;
  cfg.static_gw4 = kGw;
  cfg.static_router6 = kRouterLl;
  CountingPort port;
  RefGuest g(cfg, Prng(9));
  g.attach(port);
  alloc::clear_violations();
  {
    alloc::ArmGuard armed;
    Instant now = Instant::from_nanos(1000000000);
    g.start(now);
    for (int i = 0; i < 500 && !g.next_deadline().is_never(); i++) {
      now = g.next_deadline();
      g.on_deadline(now);
    }
    g.on_link(false, now);
    g.on_link(true, now);
    g.restart(RestartKind::fresh, now);
  }
  EXPECT_EQ(alloc::stats().armed_allocs, 0u);
  EXPECT_GT(port.n, 50u);
}

}  // namespace
}  // namespace passt::sim
