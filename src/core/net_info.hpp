// NetInfo: what we tell the guest and how we translate its traffic, after
// the command line and host discovery have been combined (src/app does
// that).  The protocol handlers read only this and core::Config's
// forwarding tables: they never see how a value was obtained.
#pragma once

#include <optional>
#include <string>

#include "core/config.hpp"
#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::core {

struct Net4Info {
  bool enabled = false;
  Ipv4Addr addr;          // the guest's address (DHCP yiaddr)
  u8 prefix_len = 24;
  Ipv4Addr gateway;       // DHCP router option (passt: guest_gw)
  Ipv4Addr our_tap_addr;  // our address on the link: DHCP server id, source of replies
  BoundedList<Ipv4Addr, kMaxDnsServers> dns;  // DNS servers handed to the guest
  std::optional<Ipv4Addr> map_host_loopback;  // guest -> this address reaches host 127.0.0.1
  std::optional<Ipv4Addr> map_guest_addr;     // guest -> this address reaches the host's addr
  std::optional<Ipv4Addr> dns_match;          // --dns-forward
  std::optional<Ipv4Addr> dns_host;           // where dns_match traffic goes
  std::optional<Ipv4Addr> outbound;           // -o
  std::string outbound_if;                    // --outbound-if4
};

struct Net6Info {
  bool enabled = false;
  Ipv6Addr addr;          // the guest's address (DHCPv6 IA_NA; RA prefix = addr/64)
  u8 prefix_len = 64;
  Ipv6Addr gateway;       // router: RA source if link-local
  Ipv6Addr our_tap_ll;    // our link-local: source of NA, RA, DHCPv6
  BoundedList<Ipv6Addr, kMaxDnsServers> dns;
  std::optional<Ipv6Addr> map_host_loopback;
  std::optional<Ipv6Addr> map_guest_addr;
  std::optional<Ipv6Addr> dns_match;
  std::optional<Ipv6Addr> dns_host;
  std::optional<Ipv6Addr> outbound;
  std::string outbound_if;
};

struct NetInfo {
  MacAddr our_mac = kDefaultOurMac;
  u16 mtu = kDefaultMtu;  // 0: no MTU options are sent
  Net4Info v4;
  Net6Info v6;
  BoundedList<std::string, kMaxDnsSearch> search;  // search domains handed out
  std::string hostname;                            // DHCP 12
  std::string fqdn;                                // DHCP 81 / DHCPv6 39

  // Services (already combined with the implications upstream applies,
  // e.g. no DHCP without an IPv4 gateway, no RA with --config-net).
  bool dhcp = true;
  bool ndp = true;
  bool dhcpv6 = true;
  bool ra = true;
  bool dhcp_dns = true;     // send DNS servers (DHCP 6, RDNSS, DHCPv6 23)
  bool dhcp_search = true;  // send the search list (DHCP 119, DNSSL, DHCPv6 24)
  bool tcp = true;
  bool udp = true;
  bool icmp = true;

  // Frames of the tap device's queue towards us that TCP windows offered to
  // the guest may fill together (pasta: a quarter of the tap's txqueuelen;
  // 0: no such queue, e.g. passt's stream socket): the windows are capped
  // so that neither one flow nor many together overrun it.
  u32 tap_queue_frames = 0;

  // Seconds since 2000-01-01 at start-up: the time in our DHCPv6 DUID-LLT.
  u32 duid_time = 0;
};

}  // namespace passt::core
