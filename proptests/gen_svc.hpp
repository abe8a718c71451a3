// rapidcheck generators for the service-protocol reprs (NDP, DHCP, DHCPv6,
// DNS names).  Every generated repr passes its check(), so emit must
// succeed; names share labels from a small pool so that compression has
// suffixes to find.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "proptests/gen.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/dns_name.hpp"
#include "wire/ndp.hpp"

namespace passt::gen {

template <std::size_t N>
inline wire::FixedBytes<N> bytes_upto(std::size_t max) {
  const auto n = *rc::gen::inRange<std::size_t>(0, max + 1);
  wire::FixedBytes<N> b;
  for (std::size_t i = 0; i < n; i++) RC_ASSERT(b.push(*rc::gen::arbitrary<u8>()));
  return b;
}

template <std::size_t N>
inline wire::FixedBytes<N> bytes_between(std::size_t min, std::size_t max) {
  const auto n = *rc::gen::inRange<std::size_t>(min, max + 1);
  wire::FixedBytes<N> b;
  for (std::size_t i = 0; i < n; i++) RC_ASSERT(b.push(*rc::gen::arbitrary<u8>()));
  return b;
}

// A label: mostly from a small shared pool, sometimes random bytes (any
// byte value, lengths up to 63).
inline std::vector<u8> dns_label() {
  static const std::vector<std::vector<u8>> pool = {
      {'c', 'o', 'm'}, {'e', 'x', 'a', 'm', 'p', 'l', 'e'}, {'o', 'r', 'g'}, {'a'}, {'A'},
      {'l', 'a', 'b'}, {'i', 'n', 't', 'e', 'r', 'n', 'a', 'l'}};
  if (*rc::gen::inRange(0, 4) != 0) return *rc::gen::elementOf(pool);
  const auto n = *rc::gen::inRange<std::size_t>(1, 64);
  std::vector<u8> l(n);
  for (auto& c : l) c = *rc::gen::arbitrary<u8>();
  return l;
}

// A name of up to `max_labels` labels that fits 255 bytes.  Root is allowed
// only if `allow_root`.
inline wire::DnsName dns_name(std::size_t max_labels = 6, bool allow_root = true) {
  const std::size_t min = allow_root ? 0 : 1;
  const auto want = *rc::gen::inRange<std::size_t>(min, max_labels + 1);
  std::vector<u8> w;
  for (std::size_t i = 0; i < want; i++) {
    auto l = dns_label();
    if (w.size() + 1 + l.size() + 1 > wire::kDnsMaxName) break;
    w.push_back(static_cast<u8>(l.size()));
    w.insert(w.end(), l.begin(), l.end());
  }
  if (w.empty() && !allow_root) w = {1, 'x'};
  w.push_back(0);
  auto n = wire::DnsName::from_wire(Bytes(w));
  RC_ASSERT(n.ok());
  return *n;
}

inline wire::DnsNameList dns_list(std::size_t max_names, std::size_t max_labels,
                                  bool allow_root) {
  wire::DnsNameList l;
  const auto n = *rc::gen::inRange<std::size_t>(0, max_names + 1);
  for (std::size_t i = 0; i < n; i++) RC_ASSERT(l.push(dns_name(max_labels, allow_root)));
  return l;
}

template <class T, std::size_t N, class G>
inline wire::FixedList<T, N> list_of(std::size_t max, G g) {
  wire::FixedList<T, N> l;
  const auto n = *rc::gen::inRange<std::size_t>(0, max + 1);
  for (std::size_t i = 0; i < n; i++) RC_ASSERT(l.push(g()));
  return l;
}

template <class T>
inline std::optional<T> maybe(T v) {
  if (*rc::gen::arbitrary<bool>()) return v;
  return std::nullopt;
}

// --- NDP ---------------------------------------------------------------------

inline wire::NdpRepr ndp_repr() {
  using namespace wire;
  NdpRepr r;
  r.type = *rc::gen::inRange<u8>(133, 137);
  r.cur_hop_limit = *rc::gen::arbitrary<u8>();
  r.managed = *rc::gen::arbitrary<bool>();
  r.other_config = *rc::gen::arbitrary<bool>();
  r.router_lifetime = *rc::gen::arbitrary<u16>();
  r.reachable_time = *rc::gen::arbitrary<u32>();
  r.retrans_timer = *rc::gen::arbitrary<u32>();
  r.target = ipv6();
  r.router = *rc::gen::arbitrary<bool>();
  r.solicited = *rc::gen::arbitrary<bool>();
  r.override_flag = *rc::gen::arbitrary<bool>();
  auto& o = r.options;
  o.source_ll = maybe(mac());
  o.target_ll = maybe(mac());
  o.mtu = maybe(*rc::gen::arbitrary<u32>());
  o.prefixes = list_of<NdpPrefixInfo, kNdpMaxPrefixes>(kNdpMaxPrefixes, [] {
    NdpPrefixInfo p;
    p.prefix_len = *rc::gen::arbitrary<u8>();
    p.on_link = *rc::gen::arbitrary<bool>();
    p.autonomous = *rc::gen::arbitrary<bool>();
    p.valid_lifetime = *rc::gen::arbitrary<u32>();
    p.preferred_lifetime = *rc::gen::arbitrary<u32>();
    p.prefix = ipv6();
    return p;
  });
  o.rdnss = list_of<NdpRdnss, kNdpMaxRdnss>(kNdpMaxRdnss, [] {
    NdpRdnss d;
    d.lifetime = *rc::gen::arbitrary<u32>();
    const auto n = *rc::gen::inRange<std::size_t>(1, kNdpMaxRdnssServers + 1);
    for (std::size_t i = 0; i < n; i++) RC_ASSERT(d.servers.push(ipv6()));
    return d;
  });
  o.dnssl = list_of<NdpDnssl, kNdpMaxDnssl>(kNdpMaxDnssl, [] {
    NdpDnssl d;
    d.lifetime = *rc::gen::arbitrary<u32>();
    const auto n = *rc::gen::inRange<std::size_t>(1, 5);  // <= 4 x 255 fits 255 units
    for (std::size_t i = 0; i < n; i++) RC_ASSERT(d.domains.push(dns_name(6, false)));
    return d;
  });
  o.unknown = list_of<NdpRawOption, kNdpMaxUnknown>(kNdpMaxUnknown, [] {
    static const std::vector<u8> typed = {1, 2, 3, 5, 25, 31};
    NdpRawOption u;
    u.type = *rc::gen::suchThat(rc::gen::arbitrary<u8>(), [](u8 t) {
      return std::find(typed.begin(), typed.end(), t) == typed.end();
    });
    const auto units = *rc::gen::inRange<std::size_t>(1, 33);
    for (std::size_t i = 0; i < units * 8 - 2; i++) RC_ASSERT(u.data.push(*rc::gen::arbitrary<u8>()));
    return u;
  });
  return r;
}

// --- DHCP --------------------------------------------------------------------

inline bool dhcp_typed(u8 c) {
  static const std::vector<u8> typed = {1, 3, 6, 12, 15, 26, 50, 51, 53, 54, 55, 57, 61, 80, 119, 121};
  return std::find(typed.begin(), typed.end(), c) != typed.end();
}

inline wire::DhcpRepr dhcp_repr() {
  using namespace wire;
  DhcpRepr r;
  r.op = *rc::gen::arbitrary<u8>();
  r.htype = *rc::gen::arbitrary<u8>();
  r.hlen = *rc::gen::arbitrary<u8>();
  r.hops = *rc::gen::arbitrary<u8>();
  r.xid = *rc::gen::arbitrary<u32>();
  r.secs = *rc::gen::arbitrary<u16>();
  r.flags = *rc::gen::arbitrary<u16>();
  r.ciaddr = ipv4();
  r.yiaddr = ipv4();
  r.siaddr = ipv4();
  r.giaddr = ipv4();
  for (auto& b : r.chaddr) b = *rc::gen::arbitrary<u8>();
  for (auto& b : r.sname) b = *rc::gen::arbitrary<u8>();
  for (auto& b : r.file) b = *rc::gen::arbitrary<u8>();
  r.message_type = maybe(*rc::gen::arbitrary<u8>());
  r.subnet_mask = maybe(ipv4());
  r.routers = list_of<Ipv4Addr, kDhcpMaxAddrs>(kDhcpMaxAddrs, ipv4);
  r.dns_servers = list_of<Ipv4Addr, kDhcpMaxAddrs>(kDhcpMaxAddrs, ipv4);
  r.hostname = maybe(bytes_upto<kDhcpMaxBlob>(kDhcpMaxBlob));
  r.domain_name = maybe(bytes_upto<kDhcpMaxBlob>(40));
  r.mtu = maybe(*rc::gen::arbitrary<u16>());
  r.requested_ip = maybe(ipv4());
  r.lease_time = maybe(*rc::gen::arbitrary<u32>());
  r.server_id = maybe(ipv4());
  r.parameter_request_list = maybe(bytes_upto<kDhcpMaxBlob>(30));
  r.max_message_size = maybe(*rc::gen::arbitrary<u16>());
  r.client_id = maybe(bytes_upto<kDhcpMaxBlob>(20));
  r.rapid_commit = *rc::gen::arbitrary<bool>();
  r.domain_search = dns_list(kDnsMaxListNames, 8, true);
  r.classless_routes = list_of<DhcpRoute, kDhcpMaxRoutes>(kDhcpMaxRoutes, [] {
    DhcpRoute rt;
    rt.prefix_len = *rc::gen::inRange<u8>(0, 33);
    const Ipv4Addr d = ipv4();
    for (std::size_t i = 0; i < (rt.prefix_len + 7u) / 8; i++) rt.dest.b[i] = d.b[i];
    rt.router = ipv4();
    return rt;
  });
  const auto n_other = *rc::gen::inRange<std::size_t>(0, 5);
  std::vector<u8> used;
  for (std::size_t i = 0; i < n_other; i++) {
    DhcpRawOption o;
    o.code = *rc::gen::suchThat(rc::gen::inRange<u8>(1, 255), [&used](u8 c) {
      return !dhcp_typed(c) && std::find(used.begin(), used.end(), c) == used.end();
    });
    used.push_back(o.code);
    o.data = bytes_upto<kDhcpMaxBlob>(kDhcpMaxBlob);
    RC_ASSERT(r.other.push(o));
  }
  return r;
}

// --- DHCPv6 ------------------------------------------------------------------

inline wire::Dhcpv6Status dhcpv6_status() {
  wire::Dhcpv6Status s;
  s.code = *rc::gen::arbitrary<u16>();
  s.message = bytes_upto<wire::kDhcpv6MaxStatusMsg>(wire::kDhcpv6MaxStatusMsg);
  return s;
}

inline wire::Dhcpv6Ia dhcpv6_ia(bool na) {
  using namespace wire;
  Dhcpv6Ia ia;
  ia.iaid = *rc::gen::arbitrary<u32>();
  if (na) {
    ia.t1 = *rc::gen::arbitrary<u32>();
    ia.t2 = *rc::gen::arbitrary<u32>();
  }
  ia.addrs = list_of<Dhcpv6IaAddr, kDhcpv6MaxIaAddrs>(kDhcpv6MaxIaAddrs, [] {
    Dhcpv6IaAddr a;
    a.addr = ipv6();
    a.preferred = *rc::gen::arbitrary<u32>();
    a.valid = *rc::gen::arbitrary<u32>();
    a.status = maybe(dhcpv6_status());
    return a;
  });
  ia.status = maybe(dhcpv6_status());
  return ia;
}

inline wire::Dhcpv6Repr dhcpv6_repr() {
  using namespace wire;
  Dhcpv6Repr r;
  r.msg_type = *rc::gen::suchThat(rc::gen::arbitrary<u8>(), [](u8 t) { return t != 12 && t != 13; });
  r.xid = *rc::gen::inRange<u32>(0, 0x1000000);
  r.client_id = maybe(bytes_between<kDhcpv6MaxDuid>(kDhcpv6MinDuid, kDhcpv6MaxDuid));
  r.server_id = maybe(bytes_between<kDhcpv6MaxDuid>(kDhcpv6MinDuid, kDhcpv6MaxDuid));
  r.ia_na = list_of<Dhcpv6Ia, kDhcpv6MaxIaNa>(kDhcpv6MaxIaNa, [] { return dhcpv6_ia(true); });
  r.ia_ta = list_of<Dhcpv6Ia, kDhcpv6MaxIaTa>(kDhcpv6MaxIaTa, [] { return dhcpv6_ia(false); });
  if (*rc::gen::arbitrary<bool>())
    r.oro = list_of<u16, kDhcpv6MaxOro>(kDhcpv6MaxOro, [] { return *rc::gen::arbitrary<u16>(); });
  r.elapsed_time = maybe(*rc::gen::arbitrary<u16>());
  r.status = maybe(dhcpv6_status());
  r.rapid_commit = *rc::gen::arbitrary<bool>();
  r.dns_servers = list_of<Ipv6Addr, kDhcpv6MaxDns>(kDhcpv6MaxDns, ipv6);
  r.domain_list = dns_list(kDnsMaxListNames, 6, true);
  if (*rc::gen::arbitrary<bool>()) {
    Dhcpv6Fqdn f;
    f.flags = *rc::gen::arbitrary<u8>();
    f.name = bytes_upto<255>(255);
    r.fqdn = f;
  }
  r.other = list_of<Dhcpv6RawOption, kDhcpv6MaxOther>(kDhcpv6MaxOther, [] {
    static const std::vector<u16> typed = {1, 2, 3, 4, 6, 8, 13, 14, 23, 24, 39};
    Dhcpv6RawOption o;
    o.code = *rc::gen::suchThat(rc::gen::arbitrary<u16>(), [](u16 c) {
      return std::find(typed.begin(), typed.end(), c) == typed.end();
    });
    o.data = bytes_upto<kDhcpv6MaxRawData>(64);
    return o;
  });
  return r;
}

}  // namespace passt::gen
