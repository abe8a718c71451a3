// The virtio-net header a tap opened with IFF_VNET_HDR puts in front of
// every frame, and the L4 checksum offload it carries.
//
// Layout (struct virtio_net_hdr, 10 bytes, legacy form: fields in the host's
// byte order, which is what /dev/net/tun uses unless TUNSETVNETLE/BE says
// otherwise):
//   0 flags (NEEDS_CSUM 1, DATA_VALID 2)   1 gso_type (NONE 0, TCPV4 1,
//   UDP 3, TCPV6 4, UDP_L4 5; | ECN 0x80)  2 hdr_len  4 gso_size
//   6 csum_start  8 csum_offset
//
// Checksum offload, both ways (the kernel's virtio_net_hdr_to_skb /
// virtio_net_hdr_from_skb):
//  * NEEDS_CSUM on a frame we write makes its skb CHECKSUM_PARTIAL: the
//    checksum field at csum_start + csum_offset holds the folded
//    pseudo-header sum (not complemented) and whoever needs the real
//    checksum completes it (summing from csum_start to the end).  A socket
//    in the namespace takes a CHECKSUM_PARTIAL segment as verified; a
//    forwarding namespace completes the checksum before it leaves.  This is
//    how the kernel's own loopback and veth traffic travels.  (DATA_VALID
//    is what the kernel sets on frames it gives us; tun ignores it on
//    frames written to it, so it is no way to skip verification.)
//  * Frames we read may carry NEEDS_CSUM: their checksum field holds only
//    the pseudo-header sum.  They must not be verified and their L4 bytes
//    must not be forwarded anywhere that expects a checksum.
//  * gso_type TCPV4/TCPV6 (with TUN_F_TSO4/6 offered) is one TCP segment of
//    up to 64 KiB that the namespace would otherwise have cut at gso_size
//    bytes of payload; its IP length field covers the whole segment.
//
// l4_csum_site() finds the TCP or UDP checksum in a frame as we build them
// (Ethernet, IPv4 without fragmentation or IPv6 without extension headers);
// l4_csum_left() tells the frames whose checksum we left to the tap.
#pragma once

#include <optional>

#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr std::size_t kVnetHdrLen = 10;

namespace vnet {
inline constexpr u8 f_needs_csum = 1;
inline constexpr u8 f_data_valid = 2;
inline constexpr u8 gso_none = 0;
inline constexpr u8 gso_tcpv4 = 1;
inline constexpr u8 gso_udp = 3;
inline constexpr u8 gso_tcpv6 = 4;
inline constexpr u8 gso_udp_l4 = 5;
inline constexpr u8 gso_ecn = 0x80;
}  // namespace vnet

struct VnetHdr {
  u8 flags = 0;
  u8 gso_type = vnet::gso_none;
  u16 hdr_len = 0;
  u16 gso_size = 0;
  u16 csum_start = 0;
  u16 csum_offset = 0;

  // Err::truncated if shorter than kVnetHdrLen.  Any field values are
  // accepted: the reader decides what it handles.
  static Result<VnetHdr> parse(Bytes b) noexcept;
  // Writes exactly kVnetHdrLen bytes; Err::truncated if `out` is shorter.
  Status emit(MutBytes out) const noexcept;
  // The same in little-endian order: virtio 1.x (vhost-user) headers.
  Status emit_le(MutBytes out) const noexcept;
  bool operator==(const VnetHdr&) const noexcept = default;
};

// Where a frame's TCP or UDP checksum lives.
struct L4CsumSite {
  u16 start = 0;     // offset of the L4 header in the frame
  u16 offset = 0;    // of the checksum field within the L4 header (16 TCP, 6 UDP)
  u8 proto = 0;      // ipproto::tcp or ipproto::udp
  bool v6 = false;
  u32 pseudo = 0;    // pseudo-header partial sum for this segment
  u16 len = 0;       // L4 bytes (header and payload; Ethernet padding excluded)
};

// nullopt: not a whole, unfragmented TCP/UDP segment over IPv4 or IPv6
// (without extension headers) whose lengths fit the frame.
std::optional<L4CsumSite> l4_csum_site(Bytes frame) noexcept;

// Frames to a tap that completes checksums: a TCP segment, or a UDP
// datagram over IPv6, whose checksum field is 0 leaves its checksum to the
// reader.  Returns its site; the writer sends vnet_needs_csum(site) and
// the pseudo-header sum (site.pseudo) in place of the 0.  Anything else
// (a computed checksum, IPv4 UDP without one, other protocols) goes as it
// is with a plain header.  A computed TCP checksum that happens to be 0
// is harmless: completed from the pseudo-header sum it comes out 0 again;
// a computed UDP checksum is never 0 (0xffff is sent instead).
std::optional<L4CsumSite> l4_csum_left(Bytes frame) noexcept;
VnetHdr vnet_needs_csum(const L4CsumSite& s) noexcept;
// GSO for a TCP segment whose checksum was left (h from vnet_needs_csum):
// if its payload is longer than gso_size, sets gso_type (TCPV4/TCPV6),
// gso_size and hdr_len (up to the end of the TCP header) and returns true;
// otherwise leaves h alone (a segment within one MSS needs no cutting).
bool vnet_set_tcp_gso(VnetHdr& h, Bytes frame, const L4CsumSite& s, u16 gso_size) noexcept;
// The full checksum of a frame whose checksum was left (its field still 0):
// what a reader that completes it would write (a UDP sum of 0 as 0xffff).
// For a port whose reader cannot complete checksums.
u16 l4_csum_value(Bytes frame, const L4CsumSite& s) noexcept;

}  // namespace passt::wire
