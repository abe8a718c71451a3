#include "proto/dhcp.hpp"

#include <array>

#include "util/log.hpp"
#include "wire/dhcp.hpp"

namespace passt::proto {

namespace {

// The BOOTP fixed part, the cookie and 308 bytes of options: 548 bytes, or
// 576 with the IPv4 and UDP headers.
constexpr std::size_t kDhcpMaxReply = wire::kDhcpOptionsOffset + 308;

Ipv4Addr mask_of(u8 prefix_len) noexcept {
  if (prefix_len == 0) return Ipv4Addr::any();
  if (prefix_len >= 32) return Ipv4Addr::broadcast();
  return Ipv4Addr::from_u32(~(0xffffffffu >> prefix_len));
}

bool fill_blob(wire::DhcpBlob& b, std::string_view s) noexcept {
  for (char c : s)
    if (!b.push(static_cast<u8>(c))) return false;
  return true;
}

// RFC 4702 client FQDN option value: flags (S=1: the server updates DNS,
// which we don't, so 0 with E=1 for wire format), two deprecated RCODE
// bytes, then the name in DNS wire format.
bool fill_fqdn(wire::DhcpBlob& b, std::string_view fqdn) noexcept {
  auto name = wire::DnsName::from_text(fqdn);
  if (!name) return false;
  if (!b.push(0x04) || !b.push(0xff) || !b.push(0xff)) return false;
  for (u8 x : name->wire())
    if (!b.push(x)) return false;
  return true;
}

}  // namespace

bool dhcp_handle(TapCtx& ctx, const wire::Frame& f) noexcept {
  const core::NetInfo& net = ctx.net;
  if (!net.dhcp || !net.v4.enabled) return false;
  auto v = wire::DhcpView::parse(f.payload);
  if (!v) return false;
  if (v->op() != wire::dhcp_op::request) return false;

  std::optional<u8> type = v->message_type();
  u8 reply_type = wire::dhcp_msg::ack;  // BOOTP (no message type) and REQUEST
  bool rapid = false;
  if (type && *type == wire::dhcp_msg::discover) {
    rapid = v->find(wire::dhcp_opt::rapid_commit).has_value();
    reply_type = rapid ? wire::dhcp_msg::ack : wire::dhcp_msg::offer;
  } else if (type && *type != wire::dhcp_msg::request) {
    return false;  // DECLINE, RELEASE, INFORM and anything else: ignored
  }

  wire::DhcpRepr r;
  r.op = wire::dhcp_op::reply;
  r.htype = v->htype();
  r.hlen = v->hlen();
  r.hops = 0;
  r.xid = v->xid();
  r.secs = 0;
  r.flags = v->flags();
  r.ciaddr = v->ciaddr();
  r.yiaddr = net.v4.addr;
  r.siaddr = Ipv4Addr::any();
  r.giaddr = v->giaddr();
  Bytes ch = v->chaddr();
  for (std::size_t i = 0; i < r.chaddr.size(); i++) r.chaddr[i] = ch[i];

  r.message_type = reply_type;
  r.subnet_mask = mask_of(net.v4.prefix_len);
  r.server_id = net.v4.our_tap_addr;
  r.lease_time = wire::kDhcpInfiniteLease;
  if (!net.v4.gateway.is_unspecified()) (void)r.routers.push(net.v4.gateway);
  if (net.mtu != 0) r.mtu = net.mtu;
  if (rapid) r.rapid_commit = true;
  if (net.dhcp_dns)
    for (Ipv4Addr a : net.v4.dns) (void)r.dns_servers.push(a);
  if (!net.hostname.empty()) {
    wire::DhcpBlob b;
    if (fill_blob(b, net.hostname)) r.hostname = b;
  }
  if (!net.fqdn.empty()) {
    wire::DhcpRawOption o;
    o.code = 81;
    if (fill_fqdn(o.data, net.fqdn)) (void)r.other.push(o);
  }
  // A router outside the guest's subnet is unreachable without a route to
  // it: RFC 3442 routes "gateway/32 on-link" plus "default via gateway".
  // (With option 121 present clients ignore option 3, so both are needed.)
  if (!net.v4.gateway.is_unspecified() &&
      !net.v4.gateway.in_subnet(net.v4.addr, net.v4.prefix_len)) {
    (void)r.classless_routes.push(wire::DhcpRoute{net.v4.gateway, 32, Ipv4Addr::any()});
    (void)r.classless_routes.push(wire::DhcpRoute{Ipv4Addr::any(), 0, net.v4.gateway});
  }

  // RFC 2131 §2: a client need only take a 576-byte message (312 bytes of
  // options with the cookie).  Like passt, keep the options within that:
  // an FQDN, then a hostname, that would overflow on its own is left out;
  // the search list gets the room the other options leave and ends after
  // the last domain that fits.  This also keeps the reply within any MTU
  // of 576 bytes or more.
  if (r.length() > kDhcpMaxReply) {
    for (std::size_t i = 0; i < r.other.size(); i++)
      if (r.other[i].code == 81) {
        wire::DhcpRawOptions keep;
        for (const wire::DhcpRawOption& o : r.other)
          if (o.code != 81) (void)keep.push(o);
        r.other = keep;
        break;
      }
  }
  if (r.length() > kDhcpMaxReply) r.hostname.reset();
  if (net.dhcp_search) {
    for (const std::string& d : net.search) {
      auto n = wire::DnsName::from_text(d);
      if (!n || n->is_root()) continue;
      if (!r.domain_search.push(*n)) break;
      if (r.length() > kDhcpMaxReply) {
        wire::DnsNameList fits;
        for (std::size_t i = 0; i + 1 < r.domain_search.size(); i++) (void)fits.push(r.domain_search[i]);
        r.domain_search = fits;
        break;
      }
    }
  }

  Bytes priority;
  if (auto prl = v->find(wire::dhcp_opt::parameter_request_list)) priority = *prl;

  std::array<u8, 1500> payload{};
  if (!r.check()) return false;
  std::size_t len = r.length();
  if (len > payload.size()) return false;
  if (!r.emit(MutBytes(payload.data(), len), priority)) return false;

  Ipv4Addr dst = r.broadcast() ? Ipv4Addr::broadcast() : net.v4.addr;
  MacAddr dst_mac = r.broadcast() ? MacAddr::broadcast() : f.eth_src;
  MutBytes out = ctx.out.reserve(14 + 20 + 8 + len);
  if (out.empty()) return false;
  auto n = build_udp4(out, net.our_mac, dst_mac, net.v4.our_tap_addr, dst, wire::kDhcpServerPort,
                      wire::kDhcpClientPort, Bytes(payload.data(), len));
  if (!n) {
    ctx.out.abandon();
    return false;
  }
  ctx.out.commit(*n);
  LOG_DEBUG("DHCP: %s to %s", reply_type == wire::dhcp_msg::offer ? "offer" : "ack",
            to_text(dst).c_str());
  return true;
}

}  // namespace passt::proto
