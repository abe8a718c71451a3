// Host template discovery: which host interface the guest's configuration is
// copied from, and what is on it (upstream-behaviour.md §1.3, §3.10).
//
// Theory of operation
//  * Per address family, the template interface is, in this order: the
//    name given with -i; the --outbound-if4/6 name; the OIF of the first
//    default route of the main table; the first interface carrying any other
//    main-table route whose destination is not link-local.  Only unicast
//    routes count (upstream also counts unreachable/blackhole routes, which
//    on IPv6 sit on `lo`; the outcome differs only when such a route comes
//    first).  A multipath route's interface is its first nexthop's.
//  * On that interface:
//      IPv4 address: the one with the longest prefix (first of equals);
//      IPv6 address: the longest-prefix global-scope address that is neither
//        deprecated nor DAD-failed;
//      IPv6 link-local: the first that is neither tentative nor deprecated,
//        else the first;
//      gateway: of the first default route leaving through it (multipath:
//        the nexthop with the highest weight);
//      MTU and MAC of the link.
//  * A family is usable when it has a template interface, an address (ours
//    or given with -a) and, for IPv6, a link-local address (or a link-local
//    gateway, which upstream then uses as its own tap-side address).
//    Neither family usable (after -4/-6) is "local mode": the guest gets
//    169.254.2.1/16 with gateway 169.254.2.2, IPv6 gateway fe80::1, and the
//    pasta interface is called tap0; nothing is copied.
//  * Everything is read through a Netlink socket, so the same code
//    discovers the init namespace or any test namespace.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "linux/netlink.hpp"
#include "util/addr.hpp"
#include "util/result.hpp"

namespace passt::os {

struct LocalMode {
  static constexpr Ipv4Addr kGuest4 = Ipv4Addr::of(169, 254, 2, 1);
  static constexpr u8 kPrefix4 = 16;
  static constexpr Ipv4Addr kGateway4 = Ipv4Addr::of(169, 254, 2, 2);
  static constexpr Ipv6Addr kGateway6 = {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  static constexpr std::string_view kIfname = "tap0";
};

struct HostTemplate4 {
  bool usable = false;
  u32 ifindex = 0;  // 0: no template interface
  std::string ifname;
  std::optional<Ipv4Addr> addr;
  u8 prefix_len = 0;  // of addr
  std::optional<Ipv4Addr> gateway;
  u32 mtu = 0;
  std::optional<MacAddr> mac;
};

struct HostTemplate6 {
  bool usable = false;
  u32 ifindex = 0;
  std::string ifname;
  std::optional<Ipv6Addr> addr;  // global
  u8 prefix_len = 0;
  std::optional<Ipv6Addr> ll;    // link-local
  std::optional<Ipv6Addr> gateway;
  u32 mtu = 0;
  std::optional<MacAddr> mac;
};

struct HostTemplate {
  HostTemplate4 v4;
  HostTemplate6 v6;
  bool local_mode = false;  // neither family usable

  // pasta's default namespace interface name (-I): the template's name
  // (IPv4's, else IPv6's), else tap0.
  std::string ns_ifname() const;
};

struct DiscoveryRequest {
  bool want4 = true;  // false with -6
  bool want6 = true;  // false with -4
  std::string ifname;       // -i (both families)
  std::string outbound_if4; // --outbound-if4
  std::string outbound_if6; // --outbound-if6
  bool addr4_given = false; // -a for IPv4: no host address needed
  bool addr6_given = false;
};

// Err::no_entry if a named interface does not exist; netlink errors as is.
// A family without a template is not an error (usable = false).
Result<HostTemplate> discover_host(Netlink& nl, const DiscoveryRequest& req);

// The template interface for one family from a main-table route dump (the
// rule above); 0 if none.  `ndefault`/`nother` count the candidates (for
// upstream's "picked first" messages).
u32 pick_template_ifindex(const std::vector<NlRoute>& routes, int af, std::size_t* ndefault = nullptr,
                          std::size_t* nother = nullptr) noexcept;

// --- Ephemeral ports -------------------------------------------------------------------------

struct PortRange {
  u16 first = 49152;  // RFC 6335 dynamic ports: upstream's fallback
  u16 last = 65535;
  bool operator==(const PortRange&) const noexcept = default;
};

// "FIRST<blanks>LAST[\n]" with 1 <= FIRST <= LAST <= 65535.
std::optional<PortRange> parse_port_range(std::string_view s) noexcept;
// /proc/sys/net/ipv4/ip_local_port_range of the caller's namespace, or the
// fallback if it cannot be read or parsed.
PortRange read_ephemeral_range(const char* path = "/proc/sys/net/ipv4/ip_local_port_range") noexcept;

}  // namespace passt::os
