#include "core/fwd.hpp"

namespace passt::core {

InAny fwd_nat_from_tap(const NetInfo& net, L4 proto, const InAny& dst, u16 dport) noexcept {
  const bool dns_port = (proto == L4::tcp || proto == L4::udp) && (dport == 53 || dport == 853);
  if (dst.is_v4()) {
    const Ipv4Addr d = dst.v4();
    if (dns_port && net.v4.dns_match && net.v4.dns_host && d == *net.v4.dns_match)
      return InAny::from(*net.v4.dns_host);
    if (net.v4.map_host_loopback && d == *net.v4.map_host_loopback)
      return InAny::from(Ipv4Addr::loopback());
    if (net.v4.map_guest_addr && d == *net.v4.map_guest_addr) return InAny::from(net.v4.addr);
    return dst;
  }
  const Ipv6Addr& d = dst.v6();
  if (dns_port && net.v6.dns_match && net.v6.dns_host && d == *net.v6.dns_match)
    return InAny::from(*net.v6.dns_host);
  if (net.v6.map_host_loopback && d == *net.v6.map_host_loopback)
    return InAny::from(Ipv6Addr::loopback());
  if (net.v6.map_guest_addr && d == *net.v6.map_guest_addr) return InAny::from(net.v6.addr);
  return dst;
}

std::optional<InAny> fwd_nat_from_host(const NetInfo& net, const InAny& src, Ipv4Addr seen4,
                                       const Ipv6Addr& seen6) noexcept {
  if (src.is_v4()) {
    const Ipv4Addr s = src.v4();
    if (s == Ipv4Addr::loopback() && net.v4.map_host_loopback)
      return InAny::from(*net.v4.map_host_loopback);
    if (s == net.v4.addr && net.v4.map_guest_addr) return InAny::from(*net.v4.map_guest_addr);
    const bool hidden = s.is_loopback() || s.is_unspecified() || s == net.v4.addr ||
                        (!seen4.is_unspecified() && s == seen4);
    if (hidden) {
      if (net.v4.our_tap_addr.is_unspecified()) return std::nullopt;
      return InAny::from(net.v4.our_tap_addr);
    }
    return src;
  }
  const Ipv6Addr& s = src.v6();
  if (s == Ipv6Addr::loopback() && net.v6.map_host_loopback)
    return InAny::from(*net.v6.map_host_loopback);
  if (s == net.v6.addr && net.v6.map_guest_addr) return InAny::from(*net.v6.map_guest_addr);
  const bool hidden = s.is_loopback() || s.is_unspecified() || s == net.v6.addr ||
                      (!seen6.is_unspecified() && s == seen6);
  if (hidden) {
    if (net.v6.our_tap_ll.is_unspecified()) return std::nullopt;
    return InAny::from(net.v6.our_tap_ll);
  }
  return src;
}

InAny fwd_guest_addr(const NetInfo& net, bool v6, bool link_local_src, Ipv4Addr seen4,
                     const Ipv6Addr& seen6, const Ipv6Addr& seen6_ll) noexcept {
  if (!v6) return InAny::from(seen4.is_unspecified() ? net.v4.addr : seen4);
  if (link_local_src && !seen6_ll.is_unspecified()) return InAny::from(seen6_ll);
  return InAny::from(seen6.is_unspecified() ? net.v6.addr : seen6);
}

}  // namespace passt::core
