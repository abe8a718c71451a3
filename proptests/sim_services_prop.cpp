// Properties of the services scenario and the reference guest:
//  * any seed of the `services` scenario ends with the guest holding
//    exactly the configured network (the swarm, with shrinking);
//  * whatever a DHCP ACK or a Router Advertisement says, the guest learns
//    exactly that, with the RFCs' rules applied (RFC 3442 router choice,
//    MTU minimums, SLAAC prefix conditions, RDNSS/DNSSL lifetimes);
//  * the modified EUI-64 address is prefix + MAC with the U/L bit flipped;
//  * the engine's DHCP replies stay within RFC 2131's 576-byte message and
//    hand out a prefix of the search list, whatever its length.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "ports/test/mocks.hpp"
#include "proptests/gen.hpp"
#include "proptests/gen_svc.hpp"
#include "sim/guest_ref.hpp"
#include "sim/runner.hpp"
#include "sim/services_scenario.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace passt::sim {
namespace {

const MacAddr kServer{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};

class Capture final : public GuestPort {
 public:
  bool guest_send(Bytes f) noexcept override {
    sent.emplace_back(f.begin(), f.end());
    return true;
  }
  bool link_up() const noexcept override { return true; }
  std::vector<std::vector<u8>> sent;
};

u32 mask_of(u8 prefix) { return prefix == 0 ? 0u : (prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix)); }

MacAddr unicast_mac() {
  MacAddr m = gen::mac();
  m.b[0] = static_cast<u8>((m.b[0] & 0xfc) | 0x02);
  return m;
}

// Fires the guest's timers until it sent a frame `want` accepts.
template <class Pred>
const std::vector<u8>* run_until(RefGuest& g, Capture& port, Instant& now, Pred want) {
  std::size_t seen = 0;
  for (int i = 0; i < 500; i++) {
    for (; seen < port.sent.size(); seen++)
      if (want(port.sent[seen])) return &port.sent[seen];
    if (g.next_deadline().is_never()) return nullptr;
    now = g.next_deadline();
    g.on_deadline(now);
  }
  return nullptr;
}

std::vector<u8> udp4(const MacAddr& dst_mac, Ipv4Addr src, Ipv4Addr dst, const std::vector<u8>& payload) {
  std::vector<u8> f(42 + payload.size());
  wire::EthernetRepr e{dst_mac, kServer, wire::ethertype::ipv4};
  (void)e.emit(MutBytes(f));
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = 17;
  ip.payload_len = static_cast<u16>(8 + payload.size());
  (void)ip.emit(MutBytes(f).subspan(14));
  std::copy(payload.begin(), payload.end(), f.begin() + 42);
  wire::UdpRepr u{67, 68, payload.size()};
  (void)u.emit(MutBytes(f).subspan(34), src, dst);
  return f;
}

RC_GTEST_PROP(SimServicesProp, AnySeedEndsWithTheConfiguredNetwork, (u64 seed)) {
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = "services";
  const RunResult r = run_seed(seed, opt);
  if (!r.ok)
    RC_FAIL("seed " + std::to_string(seed) + ": " + r.failure.source + ": " + r.failure.reason);
}

RC_GTEST_PROP(SimServicesProp, ModifiedEui64, ()) {
  const MacAddr m = gen::mac();
  Ipv6Addr p = gen::ipv6();
  const Ipv6Addr a = RefGuest::with_iid(p, m);
  for (std::size_t i = 0; i < 8; i++) RC_ASSERT(a.b[i] == p.b[i]);
  RC_ASSERT(a.b[8] == static_cast<u8>(m.b[0] ^ 0x02));
  RC_ASSERT(a.b[9] == m.b[1] && a.b[10] == m.b[2]);
  RC_ASSERT(a.b[11] == 0xff && a.b[12] == 0xfe);
  RC_ASSERT(a.b[13] == m.b[3] && a.b[14] == m.b[4] && a.b[15] == m.b[5]);
  const Ipv6Addr ll = RefGuest::link_local_of(m);
  RC_ASSERT(ll.is_link_local());
  RC_ASSERT(ll.in_subnet(*parse_ipv6("fe80::"), 64));
}

RC_GTEST_PROP(SimServicesProp, DhcpAckIsLearnedExactly, ()) {
  RefGuestConfig cfg;
  cfg.mac = unicast_mac();
  cfg.v6 = false;
  cfg.arp_probe = false;
  cfg.dhcp4_rapid_commit = true;
  cfg.scale_ppm = 1000;
  RefGuest g(cfg, Prng(*rc::gen::arbitrary<u64>()));
  Capture port;
  g.attach(port);
  Instant now = Instant::from_nanos(1000000000);
  g.start(now);
  const std::vector<u8>* disc = run_until(g, port, now, [](const std::vector<u8>& f) {
    auto pf = wire::parse_frame(Bytes(f));
    return pf && pf->l4 == wire::L4::udp && pf->dst_port == 67;
  });
  RC_ASSERT(disc != nullptr);
  auto pf = wire::parse_frame(Bytes(*disc));
  const auto req = *wire::DhcpRepr::from(*wire::DhcpView::parse(pf->payload));

  wire::DhcpRepr ack;
  ack.op = wire::dhcp_op::reply;
  ack.xid = req.xid;
  ack.chaddr = req.chaddr;
  ack.flags = *rc::gen::arbitrary<bool>() ? wire::kDhcpFlagBroadcast : 0;
  ack.message_type = wire::dhcp_msg::ack;
  ack.rapid_commit = true;
  ack.yiaddr = Ipv4Addr::of(198, 51, 100, *rc::gen::inRange<u8>(1, 255));
  ack.server_id = gen::ipv4();
  const u8 prefix = *rc::gen::inRange<u8>(0, 33);
  const bool contiguous = *rc::gen::inRange(0, 5) != 0;
  const u32 mask = contiguous ? mask_of(prefix) : *rc::gen::arbitrary<u32>();
  const bool with_mask = *rc::gen::inRange(0, 8) != 0;
  if (with_mask) ack.subnet_mask = Ipv4Addr::from_u32(mask);
  ack.routers = gen::list_of<Ipv4Addr, wire::kDhcpMaxAddrs>(3, gen::ipv4);
  const auto nroutes = *rc::gen::inRange(0, 4);
  for (int i = 0; i < nroutes; i++) {
    wire::DhcpRoute rt;
    rt.prefix_len = *rc::gen::elementOf(std::vector<u8>{0, 0, 8, 24, 32});
    rt.dest = Ipv4Addr::from_u32(gen::ipv4().to_u32() & mask_of(rt.prefix_len));
    rt.router = *rc::gen::arbitrary<bool>() ? Ipv4Addr::any() : gen::ipv4();
    RC_ASSERT(ack.classless_routes.push(rt));
  }
  ack.dns_servers = gen::list_of<Ipv4Addr, wire::kDhcpMaxAddrs>(8, gen::ipv4);
  if (*rc::gen::arbitrary<bool>()) ack.mtu = *rc::gen::arbitrary<u16>();
  if (*rc::gen::arbitrary<bool>()) ack.lease_time = *rc::gen::arbitrary<u32>();
  ack.domain_search = gen::dns_list(6, 4, false);
  const bool bc = ack.broadcast();
  std::vector<u8> payload(ack.length());
  RC_ASSERT(ack.emit(MutBytes(payload)).ok());
  const std::vector<u8> f = udp4(bc ? MacAddr::broadcast() : cfg.mac, *ack.server_id,
                                 bc ? Ipv4Addr::broadcast() : ack.yiaddr, payload);
  g.on_frame(Bytes(f), now);

  RC_ASSERT(g.dhcp4().phase == Dhcp4Phase::bound);
  const Dhcp4Lease& L = g.dhcp4().lease;
  RC_ASSERT(L.addr == ack.yiaddr);
  RC_ASSERT(L.mask_present == with_mask);
  if (with_mask) {
    RC_ASSERT(L.mask_contiguous == (mask_of(L.prefix_len) == mask));
    if (contiguous) RC_ASSERT(L.prefix_len == prefix);
  }
  // RFC 3442: with routes, the router is the first default route, option 3
  // is ignored.
  std::optional<Ipv4Addr> want_router;
  if (!ack.classless_routes.empty()) {
    for (const wire::DhcpRoute& rt : ack.classless_routes)
      if (rt.prefix_len == 0 && !want_router) want_router = rt.router;
  } else if (!ack.routers.empty()) {
    want_router = ack.routers[0];
  }
  RC_ASSERT(L.router == want_router);
  RC_ASSERT(L.routes_121 == ack.classless_routes.size());
  RC_ASSERT(L.server_id == ack.server_id);
  RC_ASSERT(L.lease == ack.lease_time);
  if (ack.mtu && *ack.mtu >= 68)
    RC_ASSERT(L.mtu == ack.mtu);
  else
    RC_ASSERT(!L.mtu);
  RC_ASSERT(L.dns == ack.dns_servers);
  RC_ASSERT(L.search == ack.domain_search);
}

RC_GTEST_PROP(SimServicesProp, RouterAdvertisementIsLearnedExactly, ()) {
  RefGuestConfig cfg;
  cfg.mac = unicast_mac();
  cfg.v4 = false;
  cfg.dhcp6 = false;
  cfg.scale_ppm = 1000;
  RefGuest g(cfg, Prng(*rc::gen::arbitrary<u64>()));
  Capture port;
  g.attach(port);
  Instant now = Instant::from_nanos(1000000000);
  g.start(now);
  RC_ASSERT(run_until(g, port, now, [](const std::vector<u8>& f) {
              auto pf = wire::parse_frame(Bytes(f));
              return pf && pf->l4 == wire::L4::icmpv6 && pf->l4_bytes[0] == wire::icmpv6_type::router_solicitation;
            }) != nullptr);

  wire::NdpRepr ra;
  ra.type = wire::icmpv6_type::router_advertisement;
  ra.managed = *rc::gen::arbitrary<bool>();
  ra.other_config = *rc::gen::arbitrary<bool>();
  ra.router_lifetime = *rc::gen::arbitrary<u16>();
  if (*rc::gen::arbitrary<bool>()) ra.options.source_ll = unicast_mac();
  if (*rc::gen::arbitrary<bool>())
    ra.options.mtu = *rc::gen::oneOf(rc::gen::inRange<u32>(1000, 70000), rc::gen::arbitrary<u32>());
  wire::NdpPrefixInfo pi;
  pi.prefix_len = *rc::gen::elementOf(std::vector<u8>{64, 64, 64, 48, 80, 128});
  pi.autonomous = *rc::gen::inRange(0, 4) != 0;
  pi.on_link = *rc::gen::arbitrary<bool>();
  pi.valid_lifetime = *rc::gen::elementOf(std::vector<u32>{0, 100, 3600, wire::kNdpInfiniteLifetime});
  pi.preferred_lifetime = *rc::gen::elementOf(std::vector<u32>{0, 100, 3600, wire::kNdpInfiniteLifetime});
  pi.prefix = *rc::gen::inRange(0, 8) == 0 ? *parse_ipv6("fe80::") : gen::ipv6();
  for (std::size_t i = 8; i < 16; i++) pi.prefix.b[i] = 0;
  const bool with_prefix = *rc::gen::inRange(0, 6) != 0;
  if (with_prefix) (void)ra.options.prefixes.push(pi);
  const auto nrdnss = *rc::gen::inRange(0, 3);
  for (int i = 0; i < nrdnss; i++) {
    wire::NdpRdnss r;
    r.lifetime = *rc::gen::elementOf(std::vector<u32>{0, 600, wire::kNdpInfiniteLifetime});
    r.servers = gen::list_of<Ipv6Addr, wire::kNdpMaxRdnssServers>(3, gen::ipv6);
    if (r.servers.empty()) (void)r.servers.push(gen::ipv6());
    (void)ra.options.rdnss.push(r);
  }
  const bool with_dnssl = *rc::gen::arbitrary<bool>();
  if (with_dnssl) {
    wire::NdpDnssl d;
    d.lifetime = *rc::gen::elementOf(std::vector<u32>{0, 600, wire::kNdpInfiniteLifetime});
    d.domains = gen::dns_list(4, 3, false);
    if (d.domains.empty()) (void)d.domains.push(*wire::DnsName::from_text("example.org"));
    (void)ra.options.dnssl.push(d);
  }
  const Ipv6Addr src = *parse_ipv6("fe80::1");
  const Ipv6Addr dst = g.link_local().state == AddrState::preferred ? g.link_local().addr : Ipv6Addr::all_nodes();
  std::vector<u8> f(54 + ra.length());
  wire::EthernetRepr e{dst.is_multicast() ? MacAddr{{0x33, 0x33, 0, 0, 0, 1}} : cfg.mac, kServer,
                       wire::ethertype::ipv6};
  (void)e.emit(MutBytes(f));
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = 58;
  ip.hop_limit = 255;
  ip.payload_len = static_cast<u16>(ra.length());
  (void)ip.emit(MutBytes(f).subspan(14));
  RC_ASSERT(ra.emit(MutBytes(f).subspan(54), src, dst).ok());
  g.on_frame(Bytes(f), now);

  const RaState& s = g.ra();
  RC_ASSERT(s.received);
  RC_ASSERT(s.router == src);
  RC_ASSERT(s.router_lifetime == ra.router_lifetime);
  RC_ASSERT(s.managed == ra.managed && s.other == ra.other_config);
  RC_ASSERT(s.router_mac == ra.options.source_ll);
  const bool mtu_ok = ra.options.mtu && *ra.options.mtu >= 1280 && *ra.options.mtu <= 65535;
  RC_ASSERT(s.mtu.has_value() == mtu_ok);
  if (mtu_ok) RC_ASSERT(*s.mtu == *ra.options.mtu);
  const bool slaac = with_prefix && pi.autonomous && pi.prefix_len == 64 && !pi.prefix.is_link_local() &&
                     pi.valid_lifetime > 0 && pi.preferred_lifetime <= pi.valid_lifetime;
  RC_ASSERT(s.prefix_seen == slaac);
  RC_ASSERT((g.slaac().state != AddrState::none) == slaac);
  if (slaac) RC_ASSERT(g.slaac().addr == RefGuest::with_iid(pi.prefix, cfg.mac));
  wire::FixedList<Ipv6Addr, 16> want_dns;
  for (const wire::NdpRdnss& r : ra.options.rdnss)
    if (r.lifetime != 0)
      for (const Ipv6Addr& a : r.servers) (void)want_dns.push(a);
  RC_ASSERT(s.rdnss == want_dns);
  wire::DnsNameList want_dnssl;
  if (with_dnssl && ra.options.dnssl[0].lifetime != 0) want_dnssl = ra.options.dnssl[0].domains;
  RC_ASSERT(s.dnssl == want_dnssl);
}

// The engine's DHCP replies, whatever the search list: within 576 bytes,
// and the guest gets a prefix of the list (all of it when it fits).
class VecTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    for (Bytes f : frames) sent.emplace_back(f.begin(), f.end());
    return frames.size();
  }
  bool connected() const noexcept override { return true; }
  std::vector<std::vector<u8>> sent;
};

class SeqEntropy final : public ports::Entropy {
 public:
  void fill(MutBytes out) noexcept override {
    for (auto& b : out) b = static_cast<u8>(n++);
  }
  u32 n = 1;
};

RC_GTEST_PROP(SimServicesProp, EngineDhcpRepliesFitAndCarryASearchListPrefix, ()) {
  core::NetInfo net;
  net.v4.enabled = true;
  net.v4.addr = Ipv4Addr::of(192, 0, 2, 10);
  net.v4.prefix_len = *rc::gen::inRange<u8>(8, 31);
  net.v4.gateway = *rc::gen::arbitrary<bool>() ? Ipv4Addr::of(192, 0, 2, 1) : Ipv4Addr::of(203, 0, 113, 1);
  net.v4.our_tap_addr = net.v4.gateway;
  const auto ndns = *rc::gen::inRange(0, 4);
  for (int i = 0; i < ndns; i++) (void)net.v4.dns.push(gen::ipv4());
  net.mtu = *rc::gen::elementOf(std::vector<u16>{0, 1280, 1500, 65520});
  const auto nsearch = *rc::gen::inRange(0, 7);
  std::size_t text = 0;
  for (int i = 0; i < nsearch; i++) {
    std::string s;
    const auto labels = *rc::gen::inRange(1, 5);
    for (int l = 0; l < labels; l++) {
      const auto len = *rc::gen::inRange(1, 64);
      s += std::string(static_cast<std::size_t>(len), static_cast<char>('a' + (i + l) % 26));
      s += '.';
    }
    s += "example";
    if (s.size() > 253 || text + s.size() + 1 > core::kMaxDnsSearchLen) break;
    text += s.size() + 1;
    (void)net.search.push(s);
  }
  const core::Config cfg = services_config_of(net);
  VecTap tap;
  SeqEntropy entropy;
  testing::NiceMock<ports::MockHostNet> hostnet;
  engine::Engine eng(cfg, net, ports::Ports{tap, hostnet, entropy}, engine::Sizing{16, 16, 1u << 16});
  Instant now = Instant::from_nanos(1000000000);
  eng.start(now);

  RefGuestConfig gc;
  gc.v6 = false;
  gc.arp_probe = false;
  gc.dhcp4_rapid_commit = *rc::gen::arbitrary<bool>();
  RefGuest g(gc, Prng(7));
  Capture port;
  g.attach(port);
  g.start(now);
  for (int round = 0; round < 50 && g.dhcp4().phase != Dhcp4Phase::bound; round++) {
    now = g.next_deadline();
    g.on_deadline(now);
    for (const auto& f : port.sent) {
      Bytes b(f);
      eng.on_tap_frames(std::span<const Bytes>(&b, 1), now);
    }
    port.sent.clear();
    eng.flush(now);
    for (const auto& f : tap.sent) {
      auto pf = wire::parse_frame(Bytes(f));
      RC_ASSERT(pf.ok());
      if (pf->l4 == wire::L4::udp && pf->src_port == 67) RC_ASSERT(pf->payload.size() <= 548u);
      g.on_frame(Bytes(f), now);
    }
    tap.sent.clear();
  }
  RC_ASSERT(g.dhcp4().phase == Dhcp4Phase::bound);
  wire::DnsNameList want;
  for (const std::string& s : net.search) (void)want.push(*wire::DnsName::from_text(s));
  const wire::DnsNameList& got = g.dhcp4().lease.search;
  RC_ASSERT(got.size() <= want.size());
  for (std::size_t i = 0; i < got.size(); i++) RC_ASSERT(got[i] == want[i]);
  // Uncompressed, with the other options and 255-byte instance headers:
  // whatever surely fits must be there.
  std::size_t fixed = 3 + 6 + 6 + 6 + 6 + 1 + (net.mtu != 0 ? 4 : 0) +
                      (net.v4.dns.empty() ? 0 : 2 + 4 * net.v4.dns.size()) +
                      (net.v4.gateway.in_subnet(net.v4.addr, net.v4.prefix_len) ? 0 : 16) +
                      (gc.dhcp4_rapid_commit ? 2 : 0);
  std::size_t wire_len = 0, fit = 0;
  for (const wire::DnsName& n : want) {
    wire_len += n.wire_length();
    if (fixed + wire_len + 2 * ((wire_len + 254) / 255) > 308) break;
    fit++;
  }
  RC_ASSERT(got.size() >= fit);
}

}  // namespace
}  // namespace passt::sim
