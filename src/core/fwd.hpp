// Forwarding / NAT rules between the guest (tap), the host and pasta's
// namespace (upstream passt's fwd.c, upstream-behaviour.md 1.5, 1.7, 2.3),
// as pure functions of the network description.  Used by the L4 protocol
// handlers when a flow is created, and by the automatic port scans.
//
// Theory of operation
// -------------------
// A flow has an initiating side and a target side (core/flow.hpp).  Which
// pif the target is on, and with which addresses, depends only on where the
// flow came from:
//
//   from      how                         target                  function
//   TAP       guest connects / sends      HOST socket             fwd_nat_from_tap
//   HOST      accepted on a -t listener   TAP, or SPLICE (pasta,  fwd_nat_from_host
//             (or -u datagram)            loopback source)
//   SPLICE    accepted on a -T listener   HOST loopback           fwd_nat_from_splice
//             in pasta's namespace
//
// Translations towards the guest hide what the guest cannot reach: the
// host's loopback appears as --map-host-loopback (the gateway by default),
// the guest's own (copied) address as --map-guest-addr, anything else the
// guest could not answer as our address on the link.  Towards the host,
// the same addresses are mapped back, and DNS to --dns-forward goes to
// --dns-host.
//
// Port numbers: an inbound flow to port P goes to P + delta(P) (mod 2^16)
// of the direction's table (Config::fwd_in / fwd_out); "auto" never
// translates.
//
// Automatic forwarding (pasta "auto"): every second the bound ports of the
// other side are read (ports::PortScan), and fwd_auto_update() recomputes
// the forwarded maps, leaving out the ports we forward in the reverse
// direction ourselves (those are our own listeners, seen by the scan).
#pragma once

#include <optional>

#include "core/config.hpp"
#include "core/flow.hpp"
#include "core/net_info.hpp"
#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::core {

// --- Guest-initiated flows -----------------------------------------------------

// A flow from the guest to `dst`:`dport`: where the host socket connects.
//  1. TCP/UDP to port 53 or 853 for dns_match  -> dns_host
//  2. map_host_loopback                        -> 127.0.0.1 / ::1
//  3. map_guest_addr                           -> the guest's address (the
//                                                 host's own, copied)
//  4. anything else                            -> unchanged
// The host-side source is -o (bound by the caller) or the kernel's choice,
// the source port the kernel's (TCP) or the guest's (UDP).
InAny fwd_nat_from_tap(const NetInfo& net, L4 proto, const InAny& dst, u16 dport) noexcept;

// --- Flows accepted on our listeners ---------------------------------------------

// What the guest was last seen using (upstream addr_seen / addr_ll_seen);
// unspecified until then.
struct GuestSeen {
  Ipv4Addr addr4;
  Ipv6Addr addr6;
  Ipv6Addr addr6_ll;
};

struct FwdNatOpts {
  // pasta with the loopback bypass: loopback-sourced connections on a host
  // listener go to the namespace through a socket pair (not --no-splice,
  // and a data mover is available).
  bool splice = false;
  bool host_lo_to_ns_lo = false;  // --host-lo-to-ns-lo
};

// A connection accepted on a host listener (-t), or a datagram on a -u
// socket.  `ini`: oaddr:oport the listening (local) address and port,
// eaddr:eport the peer.  `tgt_port`: oport translated (PortFwd::target()).
// Returns the target pif and fills `tgt` (oaddr:oport our end, eaddr:eport
// the far end on that pif):
//  * SPLICE (opts.splice, loopback peer, TCP/UDP): to the namespace's
//    address the guest was last seen using (or its loopback with
//    --host-lo-to-ns-lo), from any address; kernel-chosen source port for
//    TCP, the peer's for UDP.
//  * TAP, with the source translated:
//      127.0.0.1 / ::1 exactly        -> map_host_loopback (if set)
//      the guest's assigned address   -> map_guest_addr (if set)
//      not reachable by the guest (other loopback, unspecified, the guest's
//      own or last-seen address)      -> our address on the link (IPv4) or
//                                        our link-local address (IPv6)
//      anything else                  -> unchanged (the peer's address is
//                                        preserved)
//    source port kept; destination: the guest's last-seen address
//    (link-local towards a link-local source), else its assigned one.
//  * none: not forwardable (no source address the guest could answer).
Pif fwd_nat_from_host(const NetInfo& net, const FwdNatOpts& opts, L4 proto, const FlowSide& ini,
                      u16 tgt_port, const GuestSeen& seen, FlowSide* tgt) noexcept;

// A connection accepted on a -T listener (pasta's namespace, loopback
// only), or a -U datagram: to the host's loopback of the same family at
// `tgt_port`, from the same loopback address the peer used (port: the
// kernel's for TCP, the peer's for UDP).  none unless both the peer and
// our address are loopback (ours may be unspecified).
Pif fwd_nat_from_splice(L4 proto, const FlowSide& ini, u16 tgt_port, FlowSide* tgt) noexcept;

// Older helpers in terms of the above (kept for the protocol handlers
// written against them).
// The source the guest sees for a host peer `src`, or nullopt: dropped.
std::optional<InAny> fwd_nat_from_host(const NetInfo& net, const InAny& src, Ipv4Addr seen4,
                                       const Ipv6Addr& seen6) noexcept;
// The guest address a host->guest flow goes to.
InAny fwd_guest_addr(const NetInfo& net, bool v6, bool link_local_src, Ipv4Addr seen4,
                     const Ipv6Addr& seen6, const Ipv6Addr& seen6_ll) noexcept;

// --- Automatic forwarding ------------------------------------------------------------

// The ports forwarded right now, per direction and protocol: the
// configured bitmaps for spec / all, following the scans for auto, empty
// for none.
struct FwdMaps {
  PortBitmap tcp_in;
  PortBitmap udp_in;
  PortBitmap tcp_out;
  PortBitmap udp_out;
  bool operator==(const FwdMaps&) const noexcept = default;
};

FwdMaps fwd_maps_from(const Config& cfg) noexcept;

// Is any direction/protocol in automatic mode?
bool fwd_auto_any(const Config& cfg) noexcept;

// What one scan found bound in one namespace: TCP sockets in LISTEN, UDP
// sockets unconnected.
struct BoundPorts {
  PortBitmap tcp;
  PortBitmap udp;
};

// Which maps fwd_auto_update() changed.
namespace fwd_changed {
inline constexpr unsigned tcp_in = 1u << 0;
inline constexpr unsigned udp_in = 1u << 1;
inline constexpr unsigned tcp_out = 1u << 2;
inline constexpr unsigned udp_out = 1u << 3;
}  // namespace fwd_changed

// Recomputes the automatic maps from one scan of each namespace (upstream
// fwd_scan_ports_tcp/udp): outbound from the host's bound ports, inbound
// from the namespace's, in that order, each leaving out what the reverse
// direction forwards (our own listeners).  UDP also follows bound TCP port
// numbers (iperf3-style protocols), leaving out both reverse maps.
// Directions not in automatic mode are left alone.  Returns fwd_changed
// bits.
unsigned fwd_auto_update(const Config& cfg, const BoundPorts& host, const BoundPorts& ns,
                         FwdMaps& maps) noexcept;

// --- Messages ---------------------------------------------------------------------------

// glibc's strerror() text for the errors binding a port can give, so that
// "Failed to bind port N (TEXT) for option ..." reads as upstream's.
const char* fwd_error_text(Err e) noexcept;

}  // namespace passt::core
