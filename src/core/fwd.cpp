#include "core/fwd.hpp"

namespace passt::core {

namespace {

bool is_dns_flow(L4 proto, u16 dport) noexcept {
  return (proto == L4::tcp || proto == L4::udp) && (dport == 53 || dport == 853);
}

InAny any_of(bool v4) noexcept {
  return v4 ? InAny::from(Ipv4Addr::any()) : InAny::from(Ipv6Addr::any());
}

InAny loopback_of(bool v4) noexcept {
  return v4 ? InAny::from(Ipv4Addr::loopback()) : InAny::from(Ipv6Addr::loopback());
}

// Can the guest use `a` (a host-side address) as it is?  Not the host's
// loopback, not "this host" (0.0.0.0 means something else on the wire),
// not the guest's own address, assigned or seen.
bool guest_accessible(const NetInfo& net, const InAny& a, const GuestSeen& seen) noexcept {
  if (a.is_loopback() || a.is_unspecified()) return false;
  if (a.is_v4()) {
    const Ipv4Addr v = a.v4();
    return !(v == net.v4.addr || (!seen.addr4.is_unspecified() && v == seen.addr4));
  }
  const Ipv6Addr& v = a.v6();
  return !(v == net.v6.addr || (!seen.addr6.is_unspecified() && v == seen.addr6));
}

// The source address the guest sees for host peer `src`; nullopt if there
// is none it could answer.
std::optional<InAny> source_to_guest(const NetInfo& net, const InAny& src, const GuestSeen& seen) noexcept {
  if (src.is_v4()) {
    const Ipv4Addr s = src.v4();
    // Exactly 127.0.0.1, not 127.0.0.0/8.
    if (net.v4.map_host_loopback && s == Ipv4Addr::loopback())
      return InAny::from(*net.v4.map_host_loopback);
    if (net.v4.map_guest_addr && s == net.v4.addr) return InAny::from(*net.v4.map_guest_addr);
    if (guest_accessible(net, src, seen)) return src;
    if (net.v4.our_tap_addr.is_unspecified()) return std::nullopt;
    return InAny::from(net.v4.our_tap_addr);
  }
  const Ipv6Addr& s = src.v6();
  if (net.v6.map_host_loopback && s == Ipv6Addr::loopback())
    return InAny::from(*net.v6.map_host_loopback);
  if (net.v6.map_guest_addr && s == net.v6.addr) return InAny::from(*net.v6.map_guest_addr);
  if (guest_accessible(net, src, seen)) return src;
  if (net.v6.our_tap_ll.is_unspecified()) return std::nullopt;
  return InAny::from(net.v6.our_tap_ll);
}

InAny guest_dest(const NetInfo& net, bool v4, bool link_local_src, const GuestSeen& seen) noexcept {
  if (v4) return InAny::from(seen.addr4.is_unspecified() ? net.v4.addr : seen.addr4);
  if (link_local_src && !seen.addr6_ll.is_unspecified()) return InAny::from(seen.addr6_ll);
  return InAny::from(seen.addr6.is_unspecified() ? net.v6.addr : seen.addr6);
}

}  // namespace

InAny fwd_nat_from_tap(const NetInfo& net, L4 proto, const InAny& dst, u16 dport) noexcept {
  const bool dns = is_dns_flow(proto, dport);
  if (dst.is_v4()) {
    const Ipv4Addr d = dst.v4();
    if (dns && net.v4.dns_match && net.v4.dns_host && d == *net.v4.dns_match)
      return InAny::from(*net.v4.dns_host);
    if (net.v4.map_host_loopback && d == *net.v4.map_host_loopback)
      return InAny::from(Ipv4Addr::loopback());
    if (net.v4.map_guest_addr && d == *net.v4.map_guest_addr) return InAny::from(net.v4.addr);
    return dst;
  }
  const Ipv6Addr& d = dst.v6();
  if (dns && net.v6.dns_match && net.v6.dns_host && d == *net.v6.dns_match)
    return InAny::from(*net.v6.dns_host);
  if (net.v6.map_host_loopback && d == *net.v6.map_host_loopback)
    return InAny::from(Ipv6Addr::loopback());
  if (net.v6.map_guest_addr && d == *net.v6.map_guest_addr) return InAny::from(net.v6.addr);
  return dst;
}

Pif fwd_nat_from_host(const NetInfo& net, const FwdNatOpts& opts, L4 proto, const FlowSide& ini,
                      u16 tgt_port, const GuestSeen& seen, FlowSide* tgt) noexcept {
  const bool v4 = ini.eaddr.is_v4();
  const bool l4_ok = proto == L4::tcp || proto == L4::udp;
  tgt->eport = tgt_port;
  if (opts.splice && l4_ok && ini.eaddr.is_loopback()) {
    // Over the namespace's loopback interface, but to its external address
    // by default, so that services bound to the namespace's loopback only
    // are not exposed by accident.
    if (opts.host_lo_to_ns_lo)
      tgt->eaddr = loopback_of(v4);
    else
      tgt->eaddr = guest_dest(net, v4, false, seen);
    tgt->oaddr = any_of(v4);
    tgt->oport = proto == L4::udp ? ini.eport : 0;
    return Pif::splice;
  }
  const std::optional<InAny> src = source_to_guest(net, ini.eaddr, seen);
  if (!src) return Pif::none;
  tgt->oaddr = *src;
  tgt->oport = ini.eport;
  tgt->eaddr = guest_dest(net, src->is_v4(), !src->is_v4() && src->v6().is_link_local(), seen);
  return Pif::tap;
}

Pif fwd_nat_from_splice(L4 proto, const FlowSide& ini, u16 tgt_port, FlowSide* tgt) noexcept {
  if (!ini.eaddr.is_loopback() || (!ini.oaddr.is_loopback() && !ini.oaddr.is_unspecified()))
    return Pif::none;
  const bool v4 = ini.eaddr.is_v4();
  tgt->eaddr = loopback_of(v4);
  tgt->eport = tgt_port;
  // The same loopback address the peer used (127.0.0.2 stays 127.0.0.2).
  tgt->oaddr = ini.eaddr;
  tgt->oport = proto == L4::udp ? ini.eport : 0;
  return Pif::host;
}

std::optional<InAny> fwd_nat_from_host(const NetInfo& net, const InAny& src, Ipv4Addr seen4,
                                       const Ipv6Addr& seen6) noexcept {
  return source_to_guest(net, src, GuestSeen{seen4, seen6, Ipv6Addr{}});
}

InAny fwd_guest_addr(const NetInfo& net, bool v6, bool link_local_src, Ipv4Addr seen4,
                     const Ipv6Addr& seen6, const Ipv6Addr& seen6_ll) noexcept {
  return guest_dest(net, !v6, link_local_src, GuestSeen{seen4, seen6, seen6_ll});
}

// --- Automatic forwarding ----------------------------------------------------------

FwdMaps fwd_maps_from(const Config& cfg) noexcept {
  FwdMaps m;
  auto init = [](const PortFwd& f, PortBitmap& b) noexcept {
    if (f.mode == FwdMode::spec || f.mode == FwdMode::all) b = f.forwarded;
  };
  init(cfg.fwd_in.tcp, m.tcp_in);
  init(cfg.fwd_in.udp, m.udp_in);
  init(cfg.fwd_out.tcp, m.tcp_out);
  init(cfg.fwd_out.udp, m.udp_out);
  return m;
}

bool fwd_auto_any(const Config& cfg) noexcept {
  for (const PortFwd* f : {&cfg.fwd_in.tcp, &cfg.fwd_in.udp, &cfg.fwd_out.tcp, &cfg.fwd_out.udp})
    if (f->mode == FwdMode::automatic) return true;
  return false;
}

unsigned fwd_auto_update(const Config& cfg, const BoundPorts& host, const BoundPorts& ns,
                         FwdMaps& maps) noexcept {
  unsigned changed = 0;
  auto set = [&](PortBitmap& map, const PortBitmap& next, unsigned bit) noexcept {
    if (map == next) return;
    map = next;
    changed |= bit;
  };
  // Upstream's order: TCP outbound, TCP inbound, UDP outbound, UDP inbound.
  if (cfg.fwd_out.tcp.mode == FwdMode::automatic) {
    PortBitmap next = host.tcp;
    next.remove(maps.tcp_in);
    set(maps.tcp_out, next, fwd_changed::tcp_out);
  }
  if (cfg.fwd_in.tcp.mode == FwdMode::automatic) {
    PortBitmap next = ns.tcp;
    next.remove(maps.tcp_out);
    set(maps.tcp_in, next, fwd_changed::tcp_in);
  }
  if (cfg.fwd_out.udp.mode == FwdMode::automatic) {
    PortBitmap next = host.udp;
    next.merge(host.tcp);
    next.remove(maps.udp_in);
    next.remove(maps.tcp_in);
    set(maps.udp_out, next, fwd_changed::udp_out);
  }
  if (cfg.fwd_in.udp.mode == FwdMode::automatic) {
    PortBitmap next = ns.udp;
    next.merge(ns.tcp);
    next.remove(maps.udp_out);
    next.remove(maps.tcp_out);
    set(maps.udp_in, next, fwd_changed::udp_in);
  }
  return changed;
}

const char* fwd_error_text(Err e) noexcept {
  switch (e) {
    case Err::addr_in_use: return "Address already in use";
    case Err::addr_not_avail: return "Cannot assign requested address";
    case Err::access: return "Permission denied";
    case Err::too_many_files: return "Too many open files";
    case Err::invalid: return "Invalid argument";
    case Err::no_entry: return "No such device";  // ENODEV: SO_BINDTODEVICE
    case Err::not_supported: return "Address family not supported by protocol";
    case Err::no_memory: return "Cannot allocate memory";
    case Err::no_buffers: return "No buffer space available";
    default: return err_name(e);
  }
}

}  // namespace passt::core
