#include "sim/services_scenario.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <string>

#include "engine/engine.hpp"
#include "wire/arp.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ndp.hpp"

namespace passt::sim {

namespace {

// --- drawing a plan ----------------------------------------------------------------------

constexpr Ipv4Addr kDoc4[] = {Ipv4Addr::of(192, 0, 2, 0), Ipv4Addr::of(198, 51, 100, 0),
                              Ipv4Addr::of(203, 0, 113, 0)};

u32 host_mask(u8 prefix) noexcept { return prefix >= 32 ? 0 : 0xffffffffu >> prefix; }

// A host address of `net`/`prefix` inside the documentation /24 `doc` (the
// subnet may be larger than the /24 or inside it), neither the subnet's
// network nor its broadcast address.
Ipv4Addr draw_host4(Prng& rng, Ipv4Addr doc, Ipv4Addr net, u8 prefix) noexcept {
  for (;;) {
    u32 a = doc.to_u32() | static_cast<u32>(rng.range(1, 254));
    if (prefix > 24) a = (net.to_u32() & ~host_mask(prefix)) | (a & host_mask(prefix));
    const u32 h = a & host_mask(prefix);
    if (h != 0 && h != host_mask(prefix)) return Ipv4Addr::from_u32(a);
  }
}

Ipv6Addr draw_doc6(Prng& rng) noexcept {
  Ipv6Addr a{{0x20, 0x01, 0x0d, 0xb8}};
  for (std::size_t i = 4; i < 16; i++) a.b[i] = static_cast<u8>(rng.next_u32());
  if (rng.chance(300000))
    for (std::size_t i = 8; i < 15; i++) a.b[i] = 0;  // a short "::N" host part now and then
  if (a.b[15] == 0) a.b[15] = 1;
  return a;
}

Ipv6Addr draw_ll(Prng& rng) noexcept {
  Ipv6Addr a{{0xfe, 0x80}};
  if (rng.chance(500000)) {
    a.b[15] = static_cast<u8>(rng.range(1, 255));
  } else {
    for (std::size_t i = 8; i < 16; i++) a.b[i] = static_cast<u8>(rng.next_u32());
  }
  return a;
}

MacAddr draw_mac(Prng& rng) noexcept {
  MacAddr m;
  for (u8& b : m.b) b = static_cast<u8>(rng.next_u32());
  m.b[0] = static_cast<u8>((m.b[0] & 0xfc) | 0x02);  // locally administered unicast
  return m;
}

std::string draw_label(Prng& rng, std::size_t min_len, std::size_t max_len) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  const std::size_t n = rng.range(min_len, max_len);
  std::string s;
  for (std::size_t i = 0; i < n; i++) {
    const bool edge = i == 0 || i + 1 == n;
    if (!edge && rng.chance(80000))
      s += '-';
    else
      s += kChars[rng.below(edge ? 26 : 36)];
  }
  return s;
}

std::string draw_domain(Prng& rng, bool long_names) {
  static constexpr const char* kSuffixes[] = {"example", "example.com", "example.org",
                                              "corp.example.net", "test", "lab.example"};
  std::string d;
  const std::size_t labels = long_names ? rng.range(2, 5) : rng.range(0, 2);
  for (std::size_t i = 0; i < labels; i++) {
    d += draw_label(rng, 1, long_names ? 63 : 12);
    d += '.';
  }
  if (rng.chance(700000)) {
    d += kSuffixes[rng.below(sizeof(kSuffixes) / sizeof(kSuffixes[0]))];
  } else {
    d += draw_label(rng, 2, 10);
    d += ".example";
  }
  return d;
}

void draw_net4(Prng& rng, core::NetInfo& n) noexcept {
  core::Net4Info& v4 = n.v4;
  v4.enabled = true;
  const Ipv4Addr doc = kDoc4[rng.below(3)];
  v4.prefix_len = static_cast<u8>(rng.range(8, 30));
  const Ipv4Addr base = draw_host4(rng, doc, doc, 24);
  v4.addr = draw_host4(rng, doc, base, v4.prefix_len);
  const bool inside = rng.chance(650000);
  for (;;) {
    Ipv4Addr gw;
    if (inside) {
      gw = draw_host4(rng, doc, v4.addr, v4.prefix_len);
    } else if (v4.prefix_len > 24 && rng.chance(500000)) {
      gw = draw_host4(rng, doc, doc, 24);  // same /24, outside a small subnet
    } else {
      gw = draw_host4(rng, kDoc4[rng.below(3)], Ipv4Addr{}, 24);
    }
    if (gw == v4.addr || gw.in_subnet(v4.addr, v4.prefix_len) != inside) continue;
    v4.gateway = gw;
    break;
  }
  // passt's address on the link is normally the gateway's.
  v4.our_tap_addr = v4.gateway;
  if (rng.chance(150000)) {
    do {
      v4.our_tap_addr = draw_host4(rng, kDoc4[rng.below(3)], Ipv4Addr{}, 24);
    } while (v4.our_tap_addr == v4.addr);
  }
  const u64 ndns = rng.range(0, core::kMaxDnsServers);
  for (u64 i = 0; i < ndns; i++) (void)v4.dns.push(draw_host4(rng, kDoc4[rng.below(3)], Ipv4Addr{}, 24));
}

void draw_net6(Prng& rng, const MacAddr& guest_mac, core::NetInfo& n) noexcept {
  core::Net6Info& v6 = n.v6;
  v6.enabled = true;
  for (;;) {
    v6.addr = draw_doc6(rng);
    // Keep the DHCPv6 address apart from the SLAAC one.
    if (!(RefGuest::with_iid(v6.addr, guest_mac) == v6.addr)) break;
  }
  v6.prefix_len = 64;
  if (rng.chance(500000)) {
    v6.gateway = draw_ll(rng);
    v6.our_tap_ll = v6.gateway;  // passt impersonates a link-local gateway
  } else {
    v6.gateway = draw_doc6(rng);
    v6.our_tap_ll = draw_ll(rng);  // the host's link-local address
  }
  const u64 ndns = rng.range(0, core::kMaxDnsServers);
  for (u64 i = 0; i < ndns; i++) (void)v6.dns.push(draw_doc6(rng));
}

constexpr u32 kScales[] = {1000, 5000, 20000, 100000};

}  // namespace

const char* liveness_restart_name(LivenessRestart r) noexcept {
  switch (r) {
    case LivenessRestart::none: return "none";
    case LivenessRestart::reboot: return "reboot";
    case LivenessRestart::fresh: return "fresh";
  }
  return "?";
}

ServicesPlan draw_services_plan(Prng& rng) noexcept {
  ServicesPlan p;
  core::NetInfo& n = p.net;
  RefGuestConfig& g = p.guest;
  g.mac = draw_mac(rng);
  if (rng.chance(300000)) {
    do {
      n.our_mac = draw_mac(rng);
    } while (n.our_mac == g.mac);
  }
  if (rng.chance(850000)) draw_net4(rng, n);
  if (rng.chance(850000) || !n.v4.enabled) draw_net6(rng, g.mac, n);
  if (rng.chance(200000)) {
    n.mtu = 0;
  } else if (rng.chance(500000)) {
    static constexpr u16 kMtus[] = {1280, 1500, 9000, 65520};
    n.mtu = kMtus[rng.below(4)];
  } else {
    n.mtu = static_cast<u16>(rng.range(1280, 65520));
  }
  const bool long_names = rng.chance(150000);
  const u64 nsearch = rng.range(0, core::kMaxDnsSearch);
  std::size_t text = 0;
  for (u64 i = 0; i < nsearch; i++) {
    std::string d = draw_domain(rng, long_names);
    if (text + d.size() + 1 > core::kMaxDnsSearchLen) break;
    text += d.size() + 1;
    (void)n.search.push(d);
  }
  n.dhcp = rng.chance(800000);
  n.ndp = rng.chance(850000);
  n.ra = rng.chance(800000);
  n.dhcpv6 = rng.chance(800000);
  n.dhcp_dns = rng.chance(800000);
  n.dhcp_search = rng.chance(800000);
  n.duid_time = rng.next_u32();
  {
    // -H / --fqdn, drawn from a copy of the stream so that every earlier
    // seed keeps the scenario it had.
    Prng peek = rng;
    Prng sub = peek.fork(0x686f73746e616d65);  // "hostname"
    if (sub.chance(400000)) n.hostname = draw_label(sub, 1, 20);
    if (sub.chance(400000)) {
      // The command line takes at most 253 characters (a valid name).
      n.fqdn = draw_domain(sub, sub.chance(300000));
      if (n.fqdn.size() > core::kMaxHostnameLen) n.fqdn = draw_domain(sub, false);
    }
  }

  g.v4 = n.v4.enabled || rng.chance(700000);
  g.v6 = n.v6.enabled || rng.chance(700000);
  g.scale_ppm = kScales[rng.below(4)];
  g.max_rt = rng.duration(Duration::millis(200), Duration::seconds(5));
  g.dhcp4 = true;
  g.dhcp4_broadcast = rng.chance(500000);
  g.dhcp4_rapid_commit = rng.chance(250000);
  g.dhcp4_client_id = rng.chance(500000);
  if (rng.chance(800000)) {
    u8 codes[] = {1, 3, 6, 12, 15, 26, 51, 54, 119, 121};
    rng.shuffle(std::span<u8>(codes));
    const u64 k = rng.range(1, sizeof(codes));
    for (u64 i = 0; i < k; i++) (void)g.dhcp4_prl.push(codes[i]);
  }
  g.arp_probe = rng.chance(700000);
  // What --config-net would set when nothing hands it out.
  if (n.v4.enabled && !n.dhcp) {
    g.static_addr4 = n.v4.addr;
    g.static_gw4 = n.v4.gateway;
  }
  if (n.v6.enabled && !(n.ndp && n.ra)) g.static_router6 = n.v6.our_tap_ll;
  g.rs_from_unspecified = rng.chance(300000);
  g.dad_transmits = static_cast<u8>(rng.range(1, 3));
  g.dhcp6 = true;
  g.duid_llt = rng.chance(500000);
  g.duid_time = rng.next_u32();
  g.dhcp6_rapid_commit = rng.chance(300000);
  g.iaid = rng.next_u32();
  static constexpr LivenessRestart kRestarts[] = {LivenessRestart::none, LivenessRestart::none,
                                                  LivenessRestart::reboot, LivenessRestart::reboot,
                                                  LivenessRestart::fresh};
  p.restart = kRestarts[rng.below(5)];
  p.await_unsolicited_ra = n.v6.enabled && n.ndp && n.ra && g.v6 && rng.chance(150000);
  return p;
}

void print_services_plan(std::FILE* out, const ServicesPlan& p) noexcept {
  const core::NetInfo& n = p.net;
  const RefGuestConfig& g = p.guest;
  std::fprintf(out, "    net: our_mac=%s mtu=%u services{dhcp=%d ndp=%d ra=%d dhcpv6=%d dns=%d search=%d}\n",
               to_text(n.our_mac).c_str(), n.mtu, static_cast<int>(n.dhcp), static_cast<int>(n.ndp),
               static_cast<int>(n.ra), static_cast<int>(n.dhcpv6), static_cast<int>(n.dhcp_dns),
               static_cast<int>(n.dhcp_search));
  if (n.v4.enabled) {
    std::fprintf(out, "    v4: addr=%s/%u gw=%s (%s subnet) our=%s dns=", to_text(n.v4.addr).c_str(),
                 n.v4.prefix_len, to_text(n.v4.gateway).c_str(),
                 n.v4.gateway.in_subnet(n.v4.addr, n.v4.prefix_len) ? "in" : "outside",
                 to_text(n.v4.our_tap_addr).c_str());
    for (Ipv4Addr a : n.v4.dns) std::fprintf(out, "%s,", to_text(a).c_str());
    std::fprintf(out, "\n");
  } else {
    std::fprintf(out, "    v4: disabled\n");
  }
  if (n.v6.enabled) {
    std::fprintf(out, "    v6: addr=%s gw=%s our_ll=%s dns=", to_text(n.v6.addr).c_str(),
                 to_text(n.v6.gateway).c_str(), to_text(n.v6.our_tap_ll).c_str());
    for (const Ipv6Addr& a : n.v6.dns) std::fprintf(out, "%s,", to_text(a).c_str());
    std::fprintf(out, " duid_time=%u\n", n.duid_time);
  } else {
    std::fprintf(out, "    v6: disabled\n");
  }
  std::fprintf(out, "    search:");
  for (const std::string& s : n.search) std::fprintf(out, " %s", s.c_str());
  std::fprintf(out, "\n");
  if (!n.hostname.empty() || !n.fqdn.empty())
    std::fprintf(out, "    names: hostname='%s' fqdn='%s'\n", n.hostname.c_str(), n.fqdn.c_str());
  std::fprintf(out,
               "    guest: mac=%s v4=%d v6=%d scale=%gppm max_rt=%s bcast=%d rapid4=%d client_id=%d prl=",
               to_text(g.mac).c_str(), static_cast<int>(g.v4), static_cast<int>(g.v6),
               static_cast<double>(g.scale_ppm), fmt_dur(g.max_rt).buf,
               static_cast<int>(g.dhcp4_broadcast), static_cast<int>(g.dhcp4_rapid_commit),
               static_cast<int>(g.dhcp4_client_id));
  for (u8 c : g.dhcp4_prl) std::fprintf(out, "%u,", c);
  std::fprintf(out,
               " arp_probe=%d static4=%d static6=%d rs_from_any=%d dad=%u duid=%s rapid6=%d iaid=%u "
               "restart=%s\n",
               static_cast<int>(g.arp_probe), static_cast<int>(g.static_gw4.has_value()),
               static_cast<int>(g.static_router6.has_value()), static_cast<int>(g.rs_from_unspecified),
               g.dad_transmits, g.duid_llt ? "llt" : "ll", static_cast<int>(g.dhcp6_rapid_commit), g.iaid,
               liveness_restart_name(p.restart));
  if (p.await_unsolicited_ra) std::fprintf(out, "    liveness: waits for an unsolicited RA\n");
}

core::Config services_config_of(const core::NetInfo& n) {
  core::Config c;
  c.mtu = n.mtu;
  c.our_mac = n.our_mac;
  c.ipv4_only = n.v4.enabled && !n.v6.enabled;
  c.ipv6_only = n.v6.enabled && !n.v4.enabled;
  if (n.v4.enabled) {
    c.ip4.addr = n.v4.addr;
    c.ip4.prefix_len = n.v4.prefix_len;
    c.ip4.gateway = n.v4.gateway;
    for (Ipv4Addr a : n.v4.dns) (void)c.ip4.dns.push(a);
  }
  if (n.v6.enabled) {
    c.ip6.addr = n.v6.addr;
    c.ip6.gateway = n.v6.gateway;
    for (const Ipv6Addr& a : n.v6.dns) (void)c.ip6.dns.push(a);
  }
  for (const std::string& s : n.search) (void)c.dns_search.push(s);
  c.no_dns_search = n.search.empty();
  c.no_dhcp = !n.dhcp;
  c.no_ndp = !n.ndp;
  c.no_ra = !n.ra;
  c.no_dhcpv6 = !n.dhcpv6;
  c.no_dhcp_dns = !n.dhcp_dns;
  c.no_dhcp_search = !n.dhcp_search;
  c.hostname = n.hostname;
  c.fqdn = n.fqdn;
  return c;
}

// --- the checks ----------------------------------------------------------------------------

namespace {

struct Out {
  Out(char* b, std::size_t n) noexcept : buf(b), len(n) {}
  char* buf;
  std::size_t len;
  const char* say(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return buf;
  }
};

// The search list as names (the scenario only draws valid, non-root ones).
wire::DnsNameList names_of(const core::NetInfo& n) noexcept {
  wire::DnsNameList l;
  for (const std::string& s : n.search) {
    auto d = wire::DnsName::from_text(s);
    if (d && !d->is_root()) (void)l.push(*d);
  }
  return l;
}

template <class A, std::size_t N, class L>
bool same_list(const wire::FixedList<A, N>& got, const L& want) noexcept {
  std::size_t i = 0;
  for (const auto& w : want) {
    if (i >= got.size() || !(got[i] == w)) return false;
    i++;
  }
  return i == got.size();
}

bool same_names(const wire::DnsNameList& got, const wire::DnsNameList& want) noexcept {
  return got == want;
}

bool is_prefix(const wire::DnsNameList& got, const wire::DnsNameList& want) noexcept {
  if (got.size() > want.size()) return false;
  for (std::size_t i = 0; i < got.size(); i++)
    if (!(got[i] == want[i])) return false;
  return true;
}

// DHCP keeps its options within 308 bytes (RFC 2131 §2's 576-byte message,
// as upstream), so a long search list is cut.  How many names surely fit:
// the other options' sizes plus the names uncompressed (compression only
// shrinks them), split in 255-byte instances.
std::size_t dhcp4_names_that_fit(const core::NetInfo& n, const RefGuestConfig& gc,
                                 const wire::DnsNameList& names) noexcept {
  std::size_t fixed = 3 + 6 + 6 + 6 + 6 + 1;  // 53, 1, 3, 54, 51, end
  if (n.mtu != 0) fixed += 4;
  if (n.dhcp_dns && !n.v4.dns.empty()) fixed += 2 + 4 * n.v4.dns.size();
  if (!n.v4.gateway.in_subnet(n.v4.addr, n.v4.prefix_len)) fixed += 2 + 9 + 5;  // 121: gw/32, default
  if (gc.dhcp4_rapid_commit) fixed += 2;
  // -H and --fqdn come before the search list: each is sent unless it
  // would overflow the rest on its own (the FQDN is left out first).
  auto with_headers = [](std::size_t len) { return len + 2 * ((len + 254) / 255); };
  std::size_t fqdn = 0;
  if (auto name = wire::DnsName::from_text(n.fqdn); !n.fqdn.empty() && name)
    fqdn = with_headers(3 + name->wire_length());
  std::size_t host = n.hostname.empty() ? 0 : with_headers(n.hostname.size());
  if (fixed + host + fqdn > 308) fqdn = 0;
  if (fixed + host + fqdn > 308) host = 0;
  fixed += host + fqdn;
  std::size_t wire_len = 0;
  std::size_t k = 0;
  for (const wire::DnsName& d : names) {
    wire_len += d.wire_length();
    const std::size_t headers = 2 * ((wire_len + 254) / 255);
    if (fixed + wire_len + headers > 308) break;
    k++;
  }
  return k;
}

// DUID-LLT of our MAC, built independently of the server code.
wire::Dhcpv6Duid expected_duid(const core::NetInfo& n) noexcept {
  wire::Dhcpv6Duid d;
  const u8 head[] = {0, 1, 0, 1, static_cast<u8>(n.duid_time >> 24), static_cast<u8>(n.duid_time >> 16),
                     static_cast<u8>(n.duid_time >> 8), static_cast<u8>(n.duid_time)};
  for (u8 b : head) (void)d.push(b);
  for (u8 b : n.our_mac.b) (void)d.push(b);
  return d;
}

Ipv6Addr prefix64(const Ipv6Addr& a) noexcept {
  Ipv6Addr p = a;
  for (std::size_t i = 8; i < 16; i++) p.b[i] = 0;
  return p;
}

const char* names_text(const wire::DnsNameList& l, char* buf, std::size_t len) noexcept {
  std::size_t at = 0;
  buf[0] = '\0';
  for (const wire::DnsName& n : l) {
    const int w = std::snprintf(buf + at, len - at, "%s%s", at == 0 ? "" : ",", n.text().c_str());
    if (w < 0 || static_cast<std::size_t>(w) >= len - at) break;
    at += static_cast<std::size_t>(w);
  }
  return buf;
}

}  // namespace

const char* services_check_guest(const core::NetInfo& n, const RefGuest& g, const GuestCheck& what,
                                 char* buf, std::size_t len) noexcept {
  Out o{buf, len};
  const RefGuestConfig& gc = g.config();
  const RefGuestCounters& c = g.counters();
  const RefGuestCounters& m = g.at_mark();
  std::optional<wire::DnsNameList> parsed;
  if (what.search == nullptr) parsed = names_of(n);
  const wire::DnsNameList& search = what.search != nullptr ? *what.search : *parsed;
  char t1[160];
  char t2[160];

  // --- IPv4 ---
  if (gc.v4) {
    const bool want_dhcp = n.v4.enabled && n.dhcp;
    if (!want_dhcp && c.dhcp4_rx != 0)
      return o.say("DHCPv4 is off (v4 %s, dhcp %s) but the guest got %llu DHCP replies",
                   n.v4.enabled ? "on" : "off", n.dhcp ? "on" : "off",
                   static_cast<unsigned long long>(c.dhcp4_rx));
    const Dhcp4State& d = g.dhcp4();
    if (what.final && want_dhcp && (d.phase != Dhcp4Phase::bound || !d.have_lease))
      return o.say("DHCPv4 client not bound (%s)", dhcp4_phase_name(d.phase));
    if (want_dhcp && d.have_lease && what.config) {
      const Dhcp4Lease& L = d.lease;
      if (!(L.addr == n.v4.addr))
        return o.say("DHCPv4 address %s, configured %s", to_text(L.addr).c_str(), to_text(n.v4.addr).c_str());
      if (!L.mask_present || !L.mask_contiguous || L.prefix_len != n.v4.prefix_len)
        return o.say("DHCPv4 prefix /%u (mask %s, %s), configured /%u", L.prefix_len,
                     L.mask_present ? "present" : "absent", L.mask_contiguous ? "contiguous" : "not contiguous",
                     n.v4.prefix_len);
      if (!L.router || !(*L.router == n.v4.gateway))
        return o.say("DHCPv4 router %s, configured %s", L.router ? to_text(*L.router).c_str() : "none",
                     to_text(n.v4.gateway).c_str());
      if (!L.router_reachable) return o.say("DHCPv4 router %s is not reachable on-link", to_text(*L.router).c_str());
      const bool outside = !n.v4.gateway.in_subnet(n.v4.addr, n.v4.prefix_len);
      if (L.router_from_121 != outside || L.routes_121 != (outside ? 2u : 0u))
        return o.say("DHCPv4 option 121 has %u routes (router %s), gateway is %s the subnet", L.routes_121,
                     L.router_from_121 ? "from 121" : "from option 3", outside ? "outside" : "inside");
      if (!L.server_id || !(*L.server_id == n.v4.our_tap_addr))
        return o.say("DHCPv4 server id %s, expected %s", L.server_id ? to_text(*L.server_id).c_str() : "none",
                     to_text(n.v4.our_tap_addr).c_str());
      if (!L.lease || *L.lease != wire::kDhcpInfiniteLease)
        return o.say("DHCPv4 lease %u, expected infinite", L.lease ? *L.lease : 0u);
      const bool mtu_ok = n.mtu == 0 ? !L.mtu.has_value() : (L.mtu && *L.mtu == n.mtu);
      if (!mtu_ok) return o.say("DHCPv4 MTU %u, configured %u", L.mtu ? *L.mtu : 0u, n.mtu);
      const bool dns_ok = n.dhcp_dns ? same_list(L.dns, n.v4.dns) : L.dns.empty();
      if (!dns_ok)
        return o.say("DHCPv4 DNS: %zu servers (first %s), configured %zu (dhcp_dns %d)", L.dns.size(),
                     L.dns.empty() ? "-" : to_text(L.dns[0]).c_str(), n.v4.dns.size(), static_cast<int>(n.dhcp_dns));
      const std::size_t min_names = n.dhcp_search ? dhcp4_names_that_fit(n, gc, search) : 0;
      const bool search_ok = n.dhcp_search ? is_prefix(L.search, search) && L.search.size() >= min_names
                                           : L.search.empty();
      if (!search_ok)
        return o.say("DHCPv4 search list [%s], configured [%s] (dhcp_search %d, at least %zu names fit)",
                     names_text(L.search, t1, sizeof(t1)), names_text(search, t2, sizeof(t2)),
                     static_cast<int>(n.dhcp_search),
                     min_names);
    }
    const std::optional<Ipv4Addr> gw = g.gateway4();
    if (what.final && n.v4.enabled && gw) {
      if (!g.gateway4_mac()) return o.say("gateway %s not resolved by ARP", to_text(*gw).c_str());
    }
    if (what.config && g.gateway4_mac() && !(*g.gateway4_mac() == n.our_mac))
      return o.say("ARP: gateway %s is at %s, expected %s", gw ? to_text(*gw).c_str() : "?",
                   to_text(*g.gateway4_mac()).c_str(), to_text(n.our_mac).c_str());
    if (what.dad && c.arp_conflicts - (what.final ? m.arp_conflicts : 0) != 0)
      return o.say("ARP probe conflict: something claimed the guest's address (%llu)",
                   static_cast<unsigned long long>(c.arp_conflicts));
  }

  // --- IPv6 ---
  if (gc.v6) {
    const bool want_ndp = n.v6.enabled && n.ndp;
    const bool want_ra = want_ndp && n.ra;
    const bool want_d6 = n.v6.enabled && n.dhcpv6;
    if (!want_ra && c.ra_rx != 0)
      return o.say("RA is off (v6 %d, ndp %d, ra %d) but the guest got %llu RAs", static_cast<int>(n.v6.enabled),
                   static_cast<int>(n.ndp), static_cast<int>(n.ra),
                   static_cast<unsigned long long>(c.ra_rx));
    if (!want_ndp && c.na_rx != 0)
      return o.say("NDP is off (v6 %d, ndp %d) but the guest got %llu NAs", static_cast<int>(n.v6.enabled),
                   static_cast<int>(n.ndp),
                   static_cast<unsigned long long>(c.na_rx));
    if (!want_d6 && c.dhcp6_rx != 0)
      return o.say("DHCPv6 is off (v6 %d, dhcpv6 %d) but the guest got %llu replies", static_cast<int>(n.v6.enabled),
                   static_cast<int>(n.dhcpv6),
                   static_cast<unsigned long long>(c.dhcp6_rx));
    if (what.dad && c.dad_failures - (what.final ? m.dad_failures : 0) != 0)
      return o.say("DAD failed %llu times: something answered the guest's probes",
                   static_cast<unsigned long long>(c.dad_failures));
    if (what.final && g.link_local().state != AddrState::preferred)
      return o.say("link-local address %s is %s", to_text(g.link_local().addr).c_str(),
                   addr_state_name(g.link_local().state));
    const RaState& ra = g.ra();
    if (what.final && want_ra && !ra.received) return o.say("no router advertisement received");
    if (want_ra && ra.received && what.config) {
      if (!(ra.router == n.v6.our_tap_ll))
        return o.say("RA router %s, expected %s", to_text(ra.router).c_str(), to_text(n.v6.our_tap_ll).c_str());
      if (ra.router_lifetime != 65535 || !ra.managed || ra.other)
        return o.say("RA router lifetime %u, M=%d O=%d; expected 65535, M=1 O=0", ra.router_lifetime,
                     static_cast<int>(ra.managed),
                     static_cast<int>(ra.other));
      if (!ra.router_mac || !(*ra.router_mac == n.our_mac))
        return o.say("RA source link-layer address %s, expected %s",
                     ra.router_mac ? to_text(*ra.router_mac).c_str() : "none", to_text(n.our_mac).c_str());
      const bool mtu_ok = n.mtu == 0 ? !ra.mtu.has_value() : (ra.mtu && *ra.mtu == n.mtu);
      if (!mtu_ok) return o.say("RA MTU %u, configured %u", ra.mtu ? *ra.mtu : 0u, n.mtu);
      const Ipv6Addr want_prefix = prefix64(n.v6.addr);
      if (!ra.prefix_seen || !(ra.prefix == want_prefix) || ra.prefix_len != 64)
        return o.say("RA prefix %s/%u, expected %s/64", ra.prefix_seen ? to_text(ra.prefix).c_str() : "none",
                     ra.prefix_len, to_text(want_prefix).c_str());
      if (ra.valid != wire::kNdpInfiniteLifetime || ra.preferred != wire::kNdpInfiniteLifetime)
        return o.say("RA prefix lifetimes %u/%u, expected infinite", ra.valid, ra.preferred);
      const bool rdnss_on = n.dhcp_dns && !n.v6.dns.empty();
      const bool rdnss_ok = rdnss_on ? same_list(ra.rdnss, n.v6.dns) : ra.rdnss.empty();
      if (!rdnss_ok)
        return o.say("RDNSS: %zu servers (first %s), configured %zu (dhcp_dns %d)", ra.rdnss.size(),
                     ra.rdnss.empty() ? "-" : to_text(ra.rdnss[0]).c_str(), n.v6.dns.size(),
                     static_cast<int>(n.dhcp_dns));
      const bool dnssl_ok = rdnss_on && n.dhcp_search ? same_names(ra.dnssl, search) : ra.dnssl.empty();
      if (!dnssl_ok)
        return o.say("DNSSL [%s], expected [%s] (rdnss %d, dhcp_search %d)", names_text(ra.dnssl, t1, sizeof(t1)),
                     names_text(search, t2, sizeof(t2)), static_cast<int>(rdnss_on), static_cast<int>(n.dhcp_search));
      const Addr6& s = g.slaac();
      const Ipv6Addr want_slaac = RefGuest::with_iid(want_prefix, gc.mac);
      if (what.final && s.state != AddrState::preferred)
        return o.say("SLAAC address %s is %s", to_text(s.addr).c_str(), addr_state_name(s.state));
      if (s.state != AddrState::none && !(s.addr == want_slaac))
        return o.say("SLAAC address %s, expected %s", to_text(s.addr).c_str(), to_text(want_slaac).c_str());
    }
    const std::optional<Ipv6Addr> r6 = g.router6();
    if (what.final && want_ndp && r6 && !g.router6_mac_na())
      return o.say("router %s not resolved by neighbour solicitation", to_text(*r6).c_str());
    if (what.config && g.router6_mac_na() &&
        (!(*g.router6_mac_na() == n.our_mac) || !g.router6_is_router()))
      return o.say("NA: router is at %s (R=%d), expected %s (R=1)", to_text(*g.router6_mac_na()).c_str(),
                   static_cast<int>(g.router6_is_router()), to_text(n.our_mac).c_str());
    const Dhcp6State& d6 = g.dhcp6();
    if (what.final && want_d6 && (d6.phase != Dhcp6Phase::bound || !d6.have_lease))
      return o.say("DHCPv6 client not bound (%s)", dhcp6_phase_name(d6.phase));
    if (want_d6 && d6.have_lease && what.config) {
      const Dhcp6Lease& L = d6.lease;
      if (!(L.addr == n.v6.addr))
        return o.say("DHCPv6 address %s, configured %s", to_text(L.addr).c_str(), to_text(n.v6.addr).c_str());
      if (L.valid != wire::kDhcpv6Infinity || L.preferred != wire::kDhcpv6Infinity ||
          L.t1 != wire::kDhcpv6Infinity || L.t2 != wire::kDhcpv6Infinity)
        return o.say("DHCPv6 lifetimes %u/%u T1/T2 %u/%u, expected infinite", L.preferred, L.valid, L.t1, L.t2);
      if (!(L.server_id == expected_duid(n))) return o.say("DHCPv6 server DUID is not the DUID-LLT of our MAC");
      const bool dns_ok = n.dhcp_dns ? same_list(L.dns, n.v6.dns) : L.dns.empty();
      if (!dns_ok)
        return o.say("DHCPv6 DNS: %zu servers (first %s), configured %zu (dhcp_dns %d)", L.dns.size(),
                     L.dns.empty() ? "-" : to_text(L.dns[0]).c_str(), n.v6.dns.size(), static_cast<int>(n.dhcp_dns));
      const bool dom_ok = n.dhcp_search ? same_names(L.domains, search) : L.domains.empty();
      if (!dom_ok)
        return o.say("DHCPv6 domain list [%s], configured [%s] (dhcp_search %d)",
                     names_text(L.domains, t1, sizeof(t1)), names_text(search, t2, sizeof(t2)),
                     static_cast<int>(n.dhcp_search));
      // --fqdn: option 39 in every reply, flags 0 (the guest asks for no
      // server update); the reply always has room for it here (the search
      // list is bounded by kMaxDnsSearchLen).
      if (n.fqdn.empty() != !L.fqdn.has_value())
        return o.say("DHCPv6 FQDN option %s, --fqdn '%s'", L.fqdn ? "present" : "absent", n.fqdn.c_str());
      if (L.fqdn) {
        auto want = wire::DnsName::from_text(n.fqdn);
        const bool same = want && L.fqdn->name.size() == want->wire().size() &&
                          std::equal(want->wire().begin(), want->wire().end(), L.fqdn->name.begin());
        if (!same || L.fqdn->flags != 0)
          return o.say("DHCPv6 FQDN flags %u, name %zu bytes, --fqdn '%s'", L.fqdn->flags, L.fqdn->name.size(),
                       n.fqdn.c_str());
      }
      if (what.final && g.dhcp6_addr().state != AddrState::preferred)
        return o.say("DHCPv6 address %s is %s", to_text(L.addr).c_str(), addr_state_name(g.dhcp6_addr().state));
    }
  }
  return nullptr;
}

bool services_guest_complete(const ServicesPlan& plan, const RefGuest& g, char* why, std::size_t len) noexcept {
  const core::NetInfo& n = plan.net;
  Out o{why, len};
  const RefGuestConfig& gc = g.config();
  const RefGuestCounters& c = g.counters();
  const RefGuestCounters& m = g.at_mark();
  constexpr u64 kUnanswered = 3;  // asks after the faults stopped, for a service that is off
  if (gc.v4) {
    const bool want_dhcp = n.v4.enabled && n.dhcp;
    const Dhcp4State& d = g.dhcp4();
    if (want_dhcp) {
      if (d.phase != Dhcp4Phase::bound) return o.say("v4: DHCP %s", dhcp4_phase_name(d.phase)), false;
      if (d.lease.router && !g.gateway4_mac()) return o.say("v4: resolving the gateway"), false;
    } else {
      if (c.dhcp4_discovers - m.dhcp4_discovers < kUnanswered)
        return o.say("v4: %llu unanswered DISCOVERs since the faults stopped",
                     static_cast<unsigned long long>(c.dhcp4_discovers - m.dhcp4_discovers)),
               false;
      if (n.v4.enabled && g.gateway4() && !g.gateway4_mac()) return o.say("v4: resolving the static gateway"), false;
    }
  }
  if (gc.v6) {
    const bool want_ndp = n.v6.enabled && n.ndp;
    const bool want_ra = want_ndp && n.ra;
    const bool want_d6 = n.v6.enabled && n.dhcpv6;
    if (g.link_local().state != AddrState::preferred)
      return o.say("v6: link-local %s", addr_state_name(g.link_local().state)), false;
    if (want_ra) {
      if (!g.ra().received) return o.say("v6: waiting for an RA"), false;
      if (g.slaac().state != AddrState::preferred)
        return o.say("v6: SLAAC address %s", addr_state_name(g.slaac().state)), false;
      // passt's RA timer: the first expiry (200-600 s) only re-arms, the
      // second sends.
      if (plan.await_unsolicited_ra && c.ra_unsolicited == m.ra_unsolicited)
        return o.say("v6: waiting for an unsolicited RA"), false;
    } else if (c.rs - m.rs < kUnanswered) {
      return o.say("v6: %llu unanswered RSs since the faults stopped", static_cast<unsigned long long>(c.rs - m.rs)),
             false;
    }
    if (g.router6()) {
      if (want_ndp && !g.router6_mac_na()) return o.say("v6: resolving the router"), false;
      if (!want_ndp && c.ns_router - m.ns_router < kUnanswered)
        return o.say("v6: %llu unanswered router NSs since the faults stopped",
                     static_cast<unsigned long long>(c.ns_router - m.ns_router)),
               false;
    }
    if (want_d6) {
      if (g.dhcp6().phase != Dhcp6Phase::bound) return o.say("v6: DHCPv6 %s", dhcp6_phase_name(g.dhcp6().phase)), false;
    } else if (c.dhcp6_solicits - m.dhcp6_solicits < kUnanswered) {
      return o.say("v6: %llu unanswered SOLICITs since the faults stopped",
                   static_cast<unsigned long long>(c.dhcp6_solicits - m.dhcp6_solicits)),
             false;
    }
  }
  o.say("complete");
  return true;
}

// --- engine output checker -----------------------------------------------------------------

void EngineOutputCheck::violate(const char* fmt, ...) noexcept {
  if (violation_[0] != '\0') return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(violation_, sizeof(violation_), fmt, ap);
  va_end(ap);
}

bool EngineOutputCheck::answerable(const Ipv6Addr& t) const noexcept {
  const std::size_t n = n_targets_ < kTargets ? n_targets_ : kTargets;
  for (std::size_t i = 0; i < n; i++)
    if (targets_[i] == t) return true;
  return false;
}

void EngineOutputCheck::note_input(Bytes frame) noexcept {
  // A Neighbour Solicitation from a real source (not a DAD probe) may be
  // answered, whatever its target; corruption can turn a probe into one,
  // so remember what the engine actually got (checksums not required).
  auto pf = wire::parse_frame(frame);
  if (!pf || pf->l3 != wire::L3::ipv6 || pf->l4 != wire::L4::icmpv6) return;
  if (pf->l4_bytes.size() < wire::kNdpNsLen || pf->l4_bytes[0] != wire::icmpv6_type::neighbor_solicitation) return;
  if (pf->src.v6().is_unspecified()) return;
  targets_[n_targets_ % kTargets] = Ipv6Addr::load(pf->l4_bytes.data() + 8);
  n_targets_++;
}

std::size_t EngineOutputCheck::send(std::span<const Bytes> frames) noexcept {
  for (Bytes f : frames) inspect(f);
  return inner_.send(frames);
}

void EngineOutputCheck::inspect(Bytes frame) noexcept {
  const u64 i = frames_++;
  const std::size_t max = net_.mtu == 0 ? 65535 + wire::kEthHeaderLen : net_.mtu + wire::kEthHeaderLen;
  if (frame.size() > max) return violate("engine frame #%llu is %zu bytes, over the MTU bound %zu",
                                         static_cast<unsigned long long>(i), frame.size(), max);
  auto pf = wire::parse_frame(frame);
  if (!pf)
    return violate("engine frame #%llu (%zu bytes) does not parse: %s", static_cast<unsigned long long>(i),
                   frame.size(), err_name(pf.err()));
  const wire::Frame& f = *pf;
  if (!wire::frame_checksums_ok(f))
    return violate("engine frame #%llu has a bad checksum", static_cast<unsigned long long>(i));
  if (!(f.eth_src == net_.our_mac))
    return violate("engine frame #%llu comes from %s, not our MAC %s", static_cast<unsigned long long>(i),
                   to_text(f.eth_src).c_str(), to_text(net_.our_mac).c_str());
  if (f.l3 == wire::L3::arp) {
    auto a = wire::ArpRepr::from(*f.arp);
    if (a && a->oper == wire::arp_op::reply && net_.v4.enabled && a->spa == net_.v4.addr)
      return violate("engine ARP reply claims the guest's address %s", to_text(a->spa).c_str());
    return;
  }
  if (f.l3 == wire::L3::ipv4) {
    if (!net_.v4.enabled) return violate("engine sent IPv4 with IPv4 disabled");
    if (f.l4 == wire::L4::udp && f.src_port == wire::kDhcpServerPort) {
      if (!net_.dhcp) return violate("engine answered DHCP with DHCP off");
      // RFC 2131 §2: clients need only accept 576-byte messages.
      if (f.payload.size() > 576 - 28)
        return violate("engine DHCP message of %zu bytes, over RFC 2131's 548", f.payload.size());
    }
    return;
  }
  if (!net_.v6.enabled) return violate("engine sent IPv6 with IPv6 disabled");
  if (f.l4 == wire::L4::udp && f.src_port == wire::kDhcpv6ServerPort && !net_.dhcpv6)
    return violate("engine answered DHCPv6 with DHCPv6 off");
  if (f.l4 != wire::L4::icmpv6 || f.l4_bytes.empty()) return;
  const u8 type = f.l4_bytes[0];
  if (type == wire::icmpv6_type::router_advertisement && !(net_.ndp && net_.ra))
    return violate("engine sent an RA with %s off", net_.ndp ? "RA" : "NDP");
  if (type != wire::icmpv6_type::neighbor_advertisement) return;
  if (!net_.ndp) return violate("engine sent an NA with NDP off");
  auto v = wire::NdpView::parse(f.l4_bytes);
  if (!v) return violate("engine NA does not parse");
  const Ipv6Addr dst = f.dst.v6();
  if (dst.is_unspecified() || dst.is_multicast())
    return violate("engine NA for %s sent to %s (an answer to a DAD probe?)", to_text(v->target()).c_str(),
                   to_text(dst).c_str());
  if (guest_ != nullptr && guest_->ever_probed(v->target()) && !answerable(v->target()))
    return violate("engine answered a DAD probe for %s", to_text(v->target()).c_str());
}

// --- the scenario ----------------------------------------------------------------------------

namespace {

// Forwards everything to the engine, showing the checker what it gets.
class ObservedEngine final : public ports::EventSink {
 public:
  ObservedEngine(engine::Engine& e, EngineOutputCheck& chk) noexcept : e_(e), chk_(chk) {}
  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override {
    for (Bytes f : frames) chk_.note_input(f);
    e_.on_tap_frames(frames, now);
  }
  void on_tap_state(bool connected, Instant now) noexcept override { e_.on_tap_state(connected, now); }
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override { e_.on_socket_event(ref, events, now); }
  void on_deadline(Instant now) noexcept override { e_.on_deadline(now); }
  void flush(Instant now) noexcept override { e_.flush(now); }
  Instant next_deadline() const noexcept override { return e_.next_deadline(); }

 private:
  engine::Engine& e_;
  EngineOutputCheck& chk_;
};

class FlowChecker final : public Checker {
 public:
  explicit FlowChecker(const engine::Engine& e) noexcept : e_(e) {}
  const char* name() const noexcept override { return "flows"; }
  const char* check(World& w) noexcept override {
    (void)w;
    return e_.flows().verify();
  }

 private:
  const engine::Engine& e_;
};

class GuestChecker final : public Checker {
 public:
  GuestChecker(const core::NetInfo& n, const RefGuest& g, const SimLink& l) noexcept
      : n_(n), g_(g), l_(l), search_(names_of(n)) {}
  const char* name() const noexcept override { return "guest"; }
  const char* check(World& w) noexcept override {
    (void)w;
    if (final_) return nullptr;  // the liveness phase checks at the end
    GuestCheck what;
    what.final = false;
    // Ethernet and ARP carry no checksum, and the Internet checksum misses
    // some multi-bit flips: once a corrupted frame reached the guest, what
    // it learned may be wrong until the faults stop.
    const u64 to_guest = l_.stats(Dir::to_guest).corrupted;
    const u64 to_engine = l_.stats(Dir::to_engine).corrupted;
    what.config = to_guest == 0;
    what.dad = to_guest == 0 && to_engine == 0;
    what.search = &search_;
    return services_check_guest(n_, g_, what, buf_, sizeof(buf_));
  }
  void set_final() noexcept { final_ = true; }

 private:
  const core::NetInfo& n_;
  const RefGuest& g_;
  const SimLink& l_;
  const wire::DnsNameList search_;
  bool final_ = false;
  char buf_[320] = {};
};

LinkFaults services_faults(Prng& rng, const LinkFaults& base) noexcept {
  // Loss, duplication and reordering each anywhere below 30 %.
  LinkFaults f = base;
  f.loss_ppm = rng.chance(400000) ? 0 : static_cast<u32>(rng.range(1000, 299999));
  f.dup_ppm = rng.chance(600000) ? 0 : static_cast<u32>(rng.range(1000, 299999));
  f.reorder_ppm = rng.chance(600000) ? 0 : static_cast<u32>(rng.range(1000, 299999));
  f.corrupt_ppm = rng.chance(700000) ? 0 : static_cast<u32>(rng.range(1000, 100000));
  return f;
}

class ServicesScenario final : public Scenario {
 public:
  explicit ServicesScenario(const ServicesHooks& h) noexcept : hooks_(h) {}
  const char* name() const noexcept override { return "services"; }

  void derive(Prng& rng, Knobs& k) noexcept override {
    plan_ = draw_services_plan(rng);
    for (auto& f : k.link.faults) f = services_faults(rng, f);
    // No host sockets here: small tables keep the socket model's per-event
    // checks (and the event queue) cheap.
    k.net.max_sockets = 8;
    k.net.max_conns = 8;
    k.net.max_dgram_socks = 2;
    k.event_capacity = k.implied_event_capacity();
    if (hooks_.adjust_plan != nullptr) hooks_.adjust_plan(plan_);
    if (plan_.net.mtu != 0) k.link.mtu = plan_.net.mtu;
    if (plan_.await_unsolicited_ra) k.liveness = Duration::seconds(1300);
    engine_net_ = plan_.net;
    if (hooks_.mutate_engine_net != nullptr) hooks_.mutate_engine_net(engine_net_);
  }

  void print_knobs(std::FILE* out) const noexcept override { print_services_plan(out, plan_); }

  void setup(SimEnv& env) override {
    env_ = &env;
    cfg_ = services_config_of(engine_net_);
    out_check_ = std::make_unique<EngineOutputCheck>(env.link, plan_.net);
    engine_ = std::make_unique<engine::Engine>(cfg_, engine_net_,
                                               ports::Ports{*out_check_, env.net, env.world},
                                               engine::Sizing{64, 64, 1u << 16});
    observed_ = std::make_unique<ObservedEngine>(*engine_, *out_check_);
    guest_ = std::make_unique<RefGuest>(plan_.guest, env.world.rng().fork(stream::guest));
    out_check_->set_guest(guest_.get());
    env.link.attach_guest(*guest_);
    engine_->start(env.world.now());
    guest_->start(env.world.now());
    flow_checker_ = std::make_unique<FlowChecker>(*engine_);
    guest_checker_ = std::make_unique<GuestChecker>(plan_.net, *guest_, env.link);
    env.world.add_checker(*out_check_);
    env.world.add_checker(*flow_checker_);
    env.world.add_checker(*guest_checker_);
  }

  ports::EventSink& sink() noexcept override { return *observed_; }

  void start_liveness(SimEnv& env) noexcept override {
    restart_ = plan_.restart;
    // Unchecked bits (Ethernet, ARP), and flips the Internet checksum misses,
    // may have been corrupted into what the guest believes: it must re-learn
    // everything from scratch.  A reboot is not enough: a DHCPv6 client that
    // reboots confirms its binding, and the Reply to a Confirm carries no
    // lifetimes, so a T1 from a corrupted Reply that passed the checksum
    // would survive (seed 1866945733932843: bit 27 of T1 and a compensating
    // flip).
    if (env.link.stats(Dir::to_guest).corrupted > 0) restart_ = LivenessRestart::fresh;
    if (restart_ != LivenessRestart::none)
      guest_->restart(restart_ == LivenessRestart::fresh ? RestartKind::fresh : RestartKind::reboot,
                      env.world.now());
    guest_->mark();
  }

  bool done(SimEnv& env) noexcept override {
    if (!services_guest_complete(plan_, *guest_, pending_, sizeof(pending_))) return false;
    guest_checker_->set_final();
    GuestCheck what;
    if (const char* why = services_check_guest(plan_.net, *guest_, what, final_buf_, sizeof(final_buf_)))
      env.world.fail("services", "final configuration: %s", why);
    return true;
  }

  const char* pending(SimEnv& env) noexcept override {
    (void)env;
    (void)services_guest_complete(plan_, *guest_, pending_, sizeof(pending_));
    return pending_;
  }

  void print_stats(std::FILE* out) noexcept override {
    const RefGuestCounters& c = guest_->counters();
    const engine::Stats& s = engine_->stats();
    std::fprintf(out,
                 "  services: restart=%s guest rx=%llu bad_csum=%llu not_for_us=%llu | dhcp4 disc=%llu req=%llu "
                 "offers=%llu acks=%llu ignored=%llu | arp req=%llu probes=%llu replies=%llu | rs=%llu ra=%llu/%llu "
                 "ns=%llu/%llu na=%llu dad_fail=%llu | dhcp6 sol=%llu req=%llu cnf=%llu adv=%llu rep=%llu "
                 "ignored=%llu\n",
                 liveness_restart_name(restart_), static_cast<unsigned long long>(c.rx),
                 static_cast<unsigned long long>(c.rx_bad_checksum), static_cast<unsigned long long>(c.rx_not_for_us),
                 static_cast<unsigned long long>(c.dhcp4_discovers), static_cast<unsigned long long>(c.dhcp4_requests),
                 static_cast<unsigned long long>(c.dhcp4_offers), static_cast<unsigned long long>(c.dhcp4_acks),
                 static_cast<unsigned long long>(c.dhcp4_ignored), static_cast<unsigned long long>(c.arp_requests),
                 static_cast<unsigned long long>(c.arp_probes), static_cast<unsigned long long>(c.arp_replies),
                 static_cast<unsigned long long>(c.rs), static_cast<unsigned long long>(c.ra_accepted),
                 static_cast<unsigned long long>(c.ra_unsolicited),
                 static_cast<unsigned long long>(c.ns_router), static_cast<unsigned long long>(c.ns_dad),
                 static_cast<unsigned long long>(c.na_router), static_cast<unsigned long long>(c.dad_failures),
                 static_cast<unsigned long long>(c.dhcp6_solicits), static_cast<unsigned long long>(c.dhcp6_requests),
                 static_cast<unsigned long long>(c.dhcp6_confirms), static_cast<unsigned long long>(c.dhcp6_advertises),
                 static_cast<unsigned long long>(c.dhcp6_replies), static_cast<unsigned long long>(c.dhcp6_ignored));
    std::fprintf(out,
                 "  engine: frames_in=%llu bad=%llu dropped=%llu arp=%llu dhcp=%llu ndp=%llu dhcpv6=%llu "
                 "ra_unsolicited=%llu out=%llu\n",
                 static_cast<unsigned long long>(s.frames_in), static_cast<unsigned long long>(s.frames_bad),
                 static_cast<unsigned long long>(s.frames_dropped), static_cast<unsigned long long>(s.arp_replies),
                 static_cast<unsigned long long>(s.dhcp_replies), static_cast<unsigned long long>(s.ndp_replies),
                 static_cast<unsigned long long>(s.dhcpv6_replies), static_cast<unsigned long long>(s.ra_unsolicited),
                 static_cast<unsigned long long>(out_check_->frames()));
  }

 private:
  ServicesHooks hooks_;
  ServicesPlan plan_;
  core::NetInfo engine_net_;
  core::Config cfg_;
  SimEnv* env_ = nullptr;
  LivenessRestart restart_ = LivenessRestart::none;
  std::unique_ptr<EngineOutputCheck> out_check_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<ObservedEngine> observed_;
  std::unique_ptr<RefGuest> guest_;
  std::unique_ptr<FlowChecker> flow_checker_;
  std::unique_ptr<GuestChecker> guest_checker_;
  char pending_[200] = {};
  char final_buf_[320] = {};
};

std::unique_ptr<Scenario> make_default() { return make_services_scenario(ServicesHooks{}); }

}  // namespace

std::unique_ptr<Scenario> make_services_scenario(const ServicesHooks& hooks) {
  return std::make_unique<ServicesScenario>(hooks);
}

ScenarioEntry services_scenario_entry() noexcept {
  return {"services", "the real engine's ARP/DHCP/NDP/DHCPv6 against the reference guest, drawn configuration",
          &make_default};
}

}  // namespace passt::sim
