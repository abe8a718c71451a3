// Forwarding / NAT rules between the guest (tap) and the host (upstream
// passt's fwd.c, upstream-behaviour.md section 2.3), as pure functions of
// the network description.  Used by the L4 protocol handlers when a flow is
// created.
#pragma once

#include <optional>

#include "core/flow.hpp"
#include "core/net_info.hpp"
#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::core {

// A flow from the guest to `dst`:`dport`: where the host socket connects.
//  1. TCP/UDP to port 53 or 853 for dns_match  -> dns_host
//  2. map_host_loopback                        -> 127.0.0.1 / ::1
//  3. map_guest_addr                           -> the guest's address (the
//                                                 host's own, copied)
//  4. anything else                            -> unchanged
InAny fwd_nat_from_tap(const NetInfo& net, L4 proto, const InAny& dst, u16 dport) noexcept;

// A connection accepted from `src` on a host listener, going to the guest:
// the source address the guest sees, or nullopt if the flow must be dropped.
//  * 127.0.0.1 / ::1                 -> map_host_loopback (if set)
//  * the guest's assigned address    -> map_guest_addr (if set)
//  * not reachable by the guest (other loopback, unspecified, the guest's
//    own or last-seen address)       -> our address on the link (IPv4) or
//    our link-local address (IPv6); nullopt if we have none
//  * anything else                   -> unchanged
// `seen4`/`seen6`: the guest's last-seen addresses.
std::optional<InAny> fwd_nat_from_host(const NetInfo& net, const InAny& src, Ipv4Addr seen4,
                                       const Ipv6Addr& seen6) noexcept;

// The guest address a host->guest flow goes to: the last address the guest
// used (link-local towards a link-local source, IPv6), else its assigned
// address.
InAny fwd_guest_addr(const NetInfo& net, bool v6, bool link_local_src, Ipv4Addr seen4,
                     const Ipv6Addr& seen6, const Ipv6Addr& seen6_ll) noexcept;

}  // namespace passt::core
