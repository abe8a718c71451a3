#include "proto/dhcpv6.hpp"

#include <array>
#include <optional>

#include "util/log.hpp"
#include "wire/dhcpv6.hpp"

namespace passt::proto {

namespace {

using namespace wire;

bool names_other_address(const FixedList<Dhcpv6Ia, kDhcpv6MaxIaNa>& ias,
                         const Ipv6Addr& ours) noexcept {
  for (const Dhcpv6Ia& ia : ias)
    for (const Dhcpv6IaAddr& a : ia.addrs)
      if (!(a.addr == ours)) return true;
  return false;
}

// RFC 4704 flags: S (the server updates the AAAA record), O (the server
// overrode the client's S), N (nobody updates).
constexpr u8 kFqdnFlagS = 0x01;
constexpr u8 kFqdnFlagO = 0x02;

// The Client FQDN option for a configured --fqdn, in every reply, as
// upstream sends it.  We update no DNS, so S is 0; a client that asked for
// S=1 is told we overrode it (O=1).  A name that is not a valid DNS name
// (the command line only bounds its length) is left out.
std::optional<Dhcpv6Fqdn> reply_fqdn(const core::NetInfo& net,
                                     const std::optional<Dhcpv6Fqdn>& asked) noexcept {
  if (net.fqdn.empty()) return std::nullopt;
  auto name = DnsName::from_text(net.fqdn);
  if (!name || name->is_root()) return std::nullopt;
  Dhcpv6Fqdn o;
  if (asked && (asked->flags & kFqdnFlagS) != 0) o.flags = kFqdnFlagO;
  if (!o.name.assign(name->wire())) return std::nullopt;
  return o;
}

}  // namespace

bool dhcpv6_handle(TapCtx& ctx, const Frame& f) noexcept {
  const core::NetInfo& net = ctx.net;
  if (!net.dhcpv6 || !net.v6.enabled) return false;
  if (!f.dst.v6().is_multicast()) return false;
  auto v = Dhcpv6View::parse(f.payload);
  if (!v) return false;
  auto req = Dhcpv6Repr::from(*v);
  if (!req || !req->client_id) return false;

  const Dhcpv6Duid our_id = dhcpv6_duid_llt(net.our_mac, net.duid_time);
  const bool has_sid = req->server_id.has_value();
  const bool sid_ours = has_sid && *req->server_id == our_id;
  if (has_sid && !sid_ours) return false;

  Dhcpv6Repr rep;
  rep.xid = req->xid;
  rep.server_id = our_id;
  rep.client_id = req->client_id;
  bool with_ia = true;
  switch (req->msg_type) {
    case dhcpv6_msg::solicit:
      if (has_sid) return false;
      rep.msg_type = dhcpv6_msg::advertise;
      break;
    case dhcpv6_msg::request:
    case dhcpv6_msg::renew:
      if (!sid_ours) return false;
      rep.msg_type = dhcpv6_msg::reply;
      break;
    case dhcpv6_msg::rebind:
    case dhcpv6_msg::confirm:
      if (has_sid) return false;
      rep.msg_type = dhcpv6_msg::reply;
      break;
    case dhcpv6_msg::information_request:
      if (!req->ia_na.empty() || !req->ia_ta.empty()) return false;
      rep.msg_type = dhcpv6_msg::reply;
      with_ia = false;
      break;
    default:
      return false;
  }

  bool not_on_link = req->msg_type != dhcpv6_msg::solicit &&
                     req->msg_type != dhcpv6_msg::information_request &&
                     names_other_address(req->ia_na, net.v6.addr);
  if (not_on_link) {
    rep.status = Dhcpv6Status::make(dhcpv6_status::not_on_link, "Prefix not appropriate for link.");
    for (const Dhcpv6Ia& ia : req->ia_na) {
      Dhcpv6Ia echo = ia;
      echo.status.reset();
      (void)rep.ia_na.push(echo);
    }
  } else if (with_ia && req->msg_type != dhcpv6_msg::confirm) {
    for (const Dhcpv6Ia& ia : req->ia_na) {
      Dhcpv6Ia out;
      out.iaid = ia.iaid;
      out.t1 = kDhcpv6Infinity;
      out.t2 = kDhcpv6Infinity;
      Dhcpv6IaAddr a;
      a.addr = net.v6.addr;
      (void)out.addrs.push(a);
      (void)rep.ia_na.push(out);
    }
  } else if (req->msg_type == dhcpv6_msg::confirm) {
    rep.status = Dhcpv6Status::make(dhcpv6_status::success, "");
  }
  if (net.dhcp_dns)
    for (const Ipv6Addr& a : net.v6.dns) (void)rep.dns_servers.push(a);
  if (net.dhcp_search)
    for (const std::string& s : net.search) {
      auto n = DnsName::from_text(s);
      if (n && !n->is_root()) (void)rep.domain_list.push(*n);
    }
  rep.fqdn = reply_fqdn(net, req->fqdn);

  if (!rep.check()) return false;
  std::array<u8, 1500> payload{};
  std::size_t len = rep.length();
  if (len > payload.size() && rep.fqdn) {
    // Long search domains come first; the name is what is left out.
    rep.fqdn.reset();
    len = rep.length();
  }
  if (len > payload.size()) return false;
  if (!rep.emit(MutBytes(payload.data(), len))) return false;

  const Ipv6Addr to = f.src.v6();
  MutBytes out = ctx.out.reserve(14 + 40 + 8 + len);
  if (out.empty()) return false;
  auto n = build_udp6(out, net.our_mac, f.eth_src, net.v6.our_tap_ll, to, kDhcpv6ServerPort,
                      kDhcpv6ClientPort, Bytes(payload.data(), len), req->xid);
  if (!n) {
    ctx.out.abandon();
    return false;
  }
  ctx.out.commit(*n);
  LOG_DEBUG("DHCPv6: reply type %u to %s", rep.msg_type, to_text(to).c_str());
  return true;
}

}  // namespace passt::proto
