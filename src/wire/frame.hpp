// Whole-frame parse: Ethernet -> (ARP | IPv4 | IPv6) -> (TCP | UDP | ICMP |
// ICMPv6 | other), the engine's first step for every frame from the tap.
//
// parse_frame() runs each layer's view parse on the bytes the layer below
// hands out (IP payloads already cut to the IP length, so Ethernet padding
// never reaches L4) and fails with that layer's Err if any is malformed.
// It is structural only: no address policy, no checksums (see
// frame_checksums_ok()), no reassembly.
//
//   * Ethertypes other than ARP, IPv4, IPv6 (802.1Q tags included):
//     Err::not_supported.
//   * Fragments (IPv4 MF or offset != 0; IPv6 with a fragment header):
//     l4 = L4::fragment, no L4 view is parsed (a first fragment's L4
//     length fields describe the whole datagram, later ones have no header).
//   * IPv6 extension headers are skipped as Ipv6View::upper_layer() says;
//     ESP and "no next header" give L4::other.
//   * ICMPv6 (next header 58 over IPv6) is only identified: l4_bytes is
//     handed to the ICMPv6 helpers, which validate it.
//   * Any other protocol: L4::other, l4_bytes set.
#pragma once

#include <optional>

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"

namespace passt::wire {

enum class L3 : u8 { arp, ipv4, ipv6 };
enum class L4 : u8 { none, tcp, udp, icmp, icmpv6, fragment, other };

struct Frame {
  // Ethernet.
  MacAddr eth_dst;
  MacAddr eth_src;
  u16 ethertype = 0;

  // L3: exactly one of arp/ip4/ip6 is set, matching l3.
  L3 l3 = L3::arp;
  Bytes l3_bytes;  // the ARP or IP packet, cut to its own length
  std::optional<ArpView> arp;
  std::optional<Ipv4View> ip4;
  std::optional<Ipv6View> ip6;

  // IP only (l3 != arp); IPv4 addresses are v4-mapped.
  InAny src;
  InAny dst;
  u8 hop_limit = 0;  // IPv4 TTL or IPv6 hop limit
  u8 l4_proto = 0;   // IPv4 protocol, or IPv6 final next header
  bool fragment = false;

  // L4: l4 == none for ARP.  At most one of tcp/udp/icmp is set.
  L4 l4 = L4::none;
  std::size_t l4_offset = 0;  // from the start of the frame
  Bytes l4_bytes;             // L4 header + payload
  std::optional<TcpView> tcp;
  std::optional<UdpView> udp;
  std::optional<IcmpView> icmp;
  u16 src_port = 0;  // TCP/UDP, else 0
  u16 dst_port = 0;
  Bytes payload;     // after the TCP/UDP/ICMP header; empty otherwise
};

Result<Frame> parse_frame(Bytes frame) noexcept;

// The IPv4 header checksum, and the L4 checksum for TCP, UDP (an IPv4 zero
// checksum counts as valid, an IPv6 one does not), ICMP and ICMPv6.  True
// for ARP; fragments and other protocols only check the IPv4 header.
bool frame_checksums_ok(const Frame& f) noexcept;

// One line describing a parsed frame, for --trace: "IPv4 TCP a:p > b:q [S.]
// seq S ack A win W len N", "IPv6 UDP [a]:p > [b]:q len N", "IPv4 ICMP a >
// b type T code C len N" (the whole ICMP message), "ARP who-has X tell Y",
// "IPv4 fragment a > b proto P len N" (the IP payload).  Written into `out`
// (NUL-terminated, cut to `len`), no heap; returns the characters written.
inline constexpr std::size_t kFrameSummaryLen = 160;
std::size_t frame_summary(const Frame& f, char* out, std::size_t len) noexcept;

}  // namespace passt::wire
