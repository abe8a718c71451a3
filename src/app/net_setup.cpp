#include "app/net_setup.hpp"

#include <cstdarg>
#include <cstdio>

namespace passt::app {

namespace {

__attribute__((format(printf, 1, 2))) std::string fmt(const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof(buf), f, ap);
  va_end(ap);
  return buf;
}

// Adds a resolver from resolv.conf.  A loopback resolver (a local stub such
// as 127.0.0.53) is unreachable from the guest: hand out the address that
// maps to the host's loopback instead, and remember it as the DNS match.
template <class Addr, class Info>
void add_resolver(Info& info, const Addr& ns, const std::optional<Addr>& map_lo) {
  if (!info.dns_host) info.dns_host = ns;
  Addr use = ns;
  if (ns.is_loopback() || (map_lo && ns == *map_lo)) {
    if (!map_lo) return;
    if (!info.dns_match) info.dns_match = *map_lo;
    use = *info.dns_match;
  }
  for (const Addr& a : info.dns)
    if (a == use) return;
  (void)info.dns.push(use);
}

}  // namespace

u8 classful_prefix(Ipv4Addr a) noexcept {
  u8 top = a.b[0];
  if (top < 128) return 8;
  if (top < 192) return 16;
  if (top < 224) return 24;
  return 32;
}

NetSetup build_net_info(const core::Config& cfg, const os::HostTemplate& tmpl,
                        const core::ResolvConf& resolv, u32 duid_time) {
  NetSetup out;
  core::NetInfo& n = out.net;
  n.our_mac = cfg.our_mac;
  n.mtu = cfg.mtu;
  n.hostname = cfg.hostname;
  n.fqdn = cfg.fqdn;
  n.duid_time = duid_time;
  n.tcp = !cfg.no_tcp;
  n.udp = !cfg.no_udp;
  n.icmp = !cfg.no_icmp;

  // --- IPv4 ------------------------------------------------------------------
  if (!cfg.ipv6_only) {
    auto& v4 = n.v4;
    const auto& c4 = cfg.ip4;
    if (tmpl.local_mode) {
      v4.addr = c4.addr.value_or(os::LocalMode::kGuest4);
      v4.prefix_len = c4.prefix_len != 0 ? c4.prefix_len : os::LocalMode::kPrefix4;
      v4.gateway = c4.gateway.value_or(os::LocalMode::kGateway4);
      v4.enabled = true;
    } else if (tmpl.v4.usable || c4.addr) {
      std::optional<Ipv4Addr> addr = c4.addr ? c4.addr : tmpl.v4.addr;
      v4.enabled = addr.has_value();
      if (addr) v4.addr = *addr;
      v4.prefix_len = c4.prefix_len;
      if (v4.prefix_len == 0 && !c4.addr && tmpl.v4.addr) v4.prefix_len = tmpl.v4.prefix_len;
      if (v4.prefix_len == 0) v4.prefix_len = classful_prefix(v4.addr);
      if (c4.gateway)
        v4.gateway = *c4.gateway;
      else if (tmpl.v4.gateway)
        v4.gateway = *tmpl.v4.gateway;
    }
    if (v4.enabled) {
      v4.our_tap_addr = v4.gateway;
      v4.map_guest_addr = c4.map_guest_addr;
      v4.outbound = c4.outbound;
      v4.outbound_if = c4.outbound_if;
      if (c4.map_host_loopback)
        v4.map_host_loopback = c4.map_host_loopback;
      else if (!cfg.no_map_gw && !v4.gateway.is_unspecified())
        v4.map_host_loopback = v4.gateway;
      v4.dns_match = c4.dns_match;
      v4.dns_host = c4.dns_host;
    }
  }

  // --- IPv6 ------------------------------------------------------------------
  if (!cfg.ipv4_only) {
    auto& v6 = n.v6;
    const auto& c6 = cfg.ip6;
    if (tmpl.local_mode) {
      v6.enabled = true;
      v6.gateway = c6.gateway.value_or(os::LocalMode::kGateway6);
      if (c6.addr) v6.addr = *c6.addr;
      v6.our_tap_ll = v6.gateway.is_link_local() ? v6.gateway : os::LocalMode::kGateway6;
    } else if (tmpl.v6.usable || c6.addr) {
      std::optional<Ipv6Addr> addr = c6.addr ? c6.addr : tmpl.v6.addr;
      v6.enabled = addr.has_value() && (tmpl.v6.ll.has_value() || (c6.gateway && c6.gateway->is_link_local()));
      if (addr) v6.addr = *addr;
      if (c6.gateway)
        v6.gateway = *c6.gateway;
      else if (tmpl.v6.gateway)
        v6.gateway = *tmpl.v6.gateway;
      // We impersonate the router when it is link-local; otherwise we use
      // the host's own link-local address on the template interface.
      if (v6.gateway.is_link_local())
        v6.our_tap_ll = v6.gateway;
      else if (tmpl.v6.ll)
        v6.our_tap_ll = *tmpl.v6.ll;
    }
    if (v6.enabled) {
      v6.map_guest_addr = c6.map_guest_addr;
      v6.outbound = c6.outbound;
      v6.outbound_if = c6.outbound_if;
      if (c6.map_host_loopback)
        v6.map_host_loopback = c6.map_host_loopback;
      else if (!cfg.no_map_gw && !v6.gateway.is_unspecified())
        v6.map_host_loopback = v6.gateway;
      v6.dns_match = c6.dns_match;
      v6.dns_host = c6.dns_host;
    }
  }
  if (!n.v4.enabled && !n.v6.enabled) {
    out.error = "External interface not usable";
    return out;
  }

  // --- DNS ---------------------------------------------------------------------
  if (!cfg.no_dns) {
    bool given = !cfg.ip4.dns.empty() || !cfg.ip6.dns.empty();
    if (given) {
      for (Ipv4Addr a : cfg.ip4.dns) (void)n.v4.dns.push(a);
      for (const Ipv6Addr& a : cfg.ip6.dns) (void)n.v6.dns.push(a);
    } else {
      if (n.v4.enabled)
        for (Ipv4Addr a : resolv.nameservers4()) add_resolver(n.v4, a, n.v4.map_host_loopback);
      if (n.v6.enabled)
        for (const Ipv6Addr& a : resolv.nameservers6()) add_resolver(n.v6, a, n.v6.map_host_loopback);
      if (resolv.n4 + resolv.n6 == 0) out.warnings.emplace_back("Couldn't get any nameserver address");
    }
  }
  if (!cfg.no_dns_search) {
    if (!cfg.dns_search.empty()) {
      for (const std::string& s : cfg.dns_search) (void)n.search.push(s);
    } else {
      for (const std::string& s : resolv.search_list()) (void)n.search.push(s);
    }
  }

  // --- Services ----------------------------------------------------------------
  n.dhcp = !cfg.no_dhcp && n.v4.enabled && !n.v4.gateway.is_unspecified();
  n.ndp = !cfg.no_ndp && n.v6.enabled;
  n.dhcpv6 = !cfg.no_dhcpv6 && n.v6.enabled && !n.v6.addr.is_unspecified();
  n.ra = !cfg.no_ra && !cfg.config_net;
  n.dhcp_dns = !cfg.no_dhcp_dns && !cfg.no_dns;
  n.dhcp_search = !cfg.no_dhcp_search && !cfg.no_dns_search;
  if (n.dhcp_dns) {
    if (n.v4.enabled && n.dhcp && n.v4.dns.empty())
      out.warnings.emplace_back("No IPv4 nameserver available for DHCP");
    if (n.v6.enabled && ((n.ndp && n.ra) || n.dhcpv6) && n.v6.dns.empty())
      out.warnings.emplace_back("No IPv6 nameserver available for NDP/DHCPv6");
  }

  // --- Summary (upstream prints these at start-up) --------------------------------
  if (n.v4.enabled) {
    out.infos.push_back(fmt("DHCP:%s", n.dhcp ? "" : " (disabled)"));
    out.infos.push_back(fmt("    assign: %s", to_text(n.v4.addr).c_str()));
    Ipv4Addr mask = n.v4.prefix_len == 0
                        ? Ipv4Addr::any()
                        : Ipv4Addr::from_u32(n.v4.prefix_len >= 32 ? 0xffffffffu
                                                                    : ~(0xffffffffu >> n.v4.prefix_len));
    out.infos.push_back(fmt("    mask: %s", to_text(mask).c_str()));
    out.infos.push_back(fmt("    router: %s", to_text(n.v4.gateway).c_str()));
    for (Ipv4Addr a : n.v4.dns) out.infos.push_back(fmt("    DNS: %s", to_text(a).c_str()));
  }
  if (n.v6.enabled) {
    out.infos.push_back(fmt("NDP/DHCPv6:%s", n.ndp || n.dhcpv6 ? "" : " (disabled)"));
    out.infos.push_back(fmt("    assign: %s", to_text(n.v6.addr).c_str()));
    out.infos.push_back(fmt("    router: %s", to_text(n.v6.gateway).c_str()));
    out.infos.push_back(fmt("    our link-local: %s", to_text(n.v6.our_tap_ll).c_str()));
    for (const Ipv6Addr& a : n.v6.dns) out.infos.push_back(fmt("    DNS: %s", to_text(a).c_str()));
  }
  for (const std::string& s : n.search) out.infos.push_back(fmt("DNS search list: %s", s.c_str()));
  return out;
}

}  // namespace passt::app
