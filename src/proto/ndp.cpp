#include "proto/ndp.hpp"

#include <array>

#include "util/log.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ndp.hpp"

namespace passt::proto {

namespace {

constexpr u16 kRouterLifetime = 65535;  // RFC 8319: longest lifetime
constexpr i64 kRaMinSeconds = 200;
constexpr i64 kRaMaxSeconds = 600;

bool send_icmp6(TapCtx& ctx, const MacAddr& dst_mac, const Ipv6Addr& src, const Ipv6Addr& dst,
                const wire::NdpRepr& msg) noexcept {
  std::array<u8, 1500> body{};
  if (!msg.check()) return false;
  std::size_t len = msg.length();
  if (len > body.size()) return false;
  if (!msg.emit(MutBytes(body.data(), len), src, dst)) return false;
  MutBytes out = ctx.out.reserve(14 + 40 + len);
  if (out.empty()) return false;
  auto n = build_icmp6(out, ctx.net.our_mac, dst_mac, src, dst, 255, Bytes(body.data(), len));
  if (!n) {
    ctx.out.abandon();
    return false;
  }
  ctx.out.commit(*n);
  return true;
}

wire::NdpRepr make_ra(const core::NetInfo& net) noexcept {
  wire::NdpRepr ra;
  ra.type = wire::icmpv6_type::router_advertisement;
  ra.cur_hop_limit = 255;
  ra.managed = true;
  ra.router_lifetime = kRouterLifetime;
  wire::NdpPrefixInfo pi;
  pi.prefix_len = 64;
  pi.on_link = true;
  pi.autonomous = true;
  pi.prefix = net.v6.addr;
  for (std::size_t i = 8; i < 16; i++) pi.prefix.b[i] = 0;
  (void)ra.options.prefixes.push(pi);
  ra.options.source_ll = net.our_mac;
  if (net.mtu != 0) ra.options.mtu = net.mtu;
  if (net.dhcp_dns && !net.v6.dns.empty()) {
    wire::NdpRdnss r;
    for (const Ipv6Addr& a : net.v6.dns) (void)r.servers.push(a);
    (void)ra.options.rdnss.push(r);
    if (net.dhcp_search) {
      wire::NdpDnssl d;
      for (const std::string& s : net.search) {
        auto n = wire::DnsName::from_text(s);
        if (n && !n->is_root()) (void)d.domains.push(*n);
      }
      if (!d.domains.empty()) (void)ra.options.dnssl.push(d);
    }
  }
  return ra;
}

}  // namespace

bool ndp_handle(TapCtx& ctx, const wire::Frame& f) noexcept {
  const core::NetInfo& net = ctx.net;
  if (!net.ndp || !net.v6.enabled) return false;
  auto v = wire::NdpView::parse(f.l4_bytes);
  if (!v) return false;
  const Ipv6Addr src = f.src.v6();
  const Ipv6Addr dst = f.dst.v6();
  // RFC 4861 validity: hop limit 255 (only a neighbour can send it), valid
  // lengths and options (NdpView::parse), checksum.
  if (!wire::ndp_validate_ip(*v, src, dst, f.hop_limit)) return false;

  if (v->type() == wire::icmpv6_type::neighbor_solicitation) {
    if (src.is_unspecified()) return false;  // DAD probe: nobody is there
    wire::NdpRepr na;
    na.type = wire::icmpv6_type::neighbor_advertisement;
    na.router = true;
    na.solicited = true;
    na.override_flag = true;
    na.target = v->target();
    na.options.target_ll = net.our_mac;
    return send_icmp6(ctx, f.eth_src, net.v6.our_tap_ll, src, na);
  }
  if (v->type() == wire::icmpv6_type::router_solicitation) {
    if (!net.ra) return false;
    wire::NdpRepr ra = make_ra(net);
    Ipv6Addr to = src.is_unspecified() ? Ipv6Addr::all_nodes() : src;
    MacAddr to_mac = src.is_unspecified() ? ipv6_multicast_mac(to) : f.eth_src;
    LOG_DEBUG("NDP: router advertisement to %s", to_text(to).c_str());
    return send_icmp6(ctx, to_mac, net.v6.our_tap_ll, to, ra);
  }
  return false;  // RA, NA from the guest: nothing to do
}

bool ndp_send_unsolicited_ra(TapCtx& ctx) noexcept {
  const core::NetInfo& net = ctx.net;
  if (!net.ndp || !net.ra || !net.v6.enabled || !ctx.out.connected()) return false;
  wire::NdpRepr ra = make_ra(net);
  Ipv6Addr to = Ipv6Addr::all_nodes();
  return send_icmp6(ctx, ipv6_multicast_mac(to), net.v6.our_tap_ll, to, ra);
}

Duration ndp_ra_interval(u32 random) noexcept {
  i64 span_ms = (kRaMaxSeconds - kRaMinSeconds) * 1000;
  return Duration::seconds(kRaMinSeconds) + Duration::millis(static_cast<i64>(random % static_cast<u64>(span_ms)));
}

}  // namespace passt::proto
