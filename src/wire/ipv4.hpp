// IPv4 header (RFC 791), and the IP protocol numbers shared with IPv6.
//
// parse() checks version, IHL and total length against the buffer once;
// the view is then cut to the total length, so Ethernet padding after a
// short packet never reaches payload().  Options are exposed as raw bytes
// and not interpreted.  The header checksum is not checked by parse(): the
// caller decides (checksum_ok()).
//
// The repr describes the header we emit ourselves: 20 bytes, no options,
// never fragmented (MF clear, offset 0), checksum computed.
#pragma once

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr std::size_t kIpv4HeaderLen = 20;
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;
inline constexpr std::size_t kIpv4MaxTotalLen = 65535;

// IANA protocol / next-header numbers.
namespace ipproto {
inline constexpr u8 hopopts = 0;
inline constexpr u8 icmp = 1;
inline constexpr u8 tcp = 6;
inline constexpr u8 udp = 17;
inline constexpr u8 routing = 43;
inline constexpr u8 fragment = 44;
inline constexpr u8 esp = 50;
inline constexpr u8 ah = 51;
inline constexpr u8 icmpv6 = 58;
inline constexpr u8 none = 59;
inline constexpr u8 dstopts = 60;
inline constexpr u8 mobility = 135;
inline constexpr u8 hip = 139;
inline constexpr u8 shim6 = 140;
inline constexpr u8 experiment1 = 253;
inline constexpr u8 experiment2 = 254;
}  // namespace ipproto

class Ipv4View {
 public:
  // Err::truncated: shorter than 20 bytes, than IHL*4 or than total length.
  // Err::malformed: version != 4, IHL < 5, or total length < IHL*4.
  static Result<Ipv4View> parse(Bytes b) noexcept;

  u8 version() const noexcept { return static_cast<u8>(b_[0] >> 4); }
  u8 ihl() const noexcept { return static_cast<u8>(b_[0] & 0x0f); }  // 32-bit words
  std::size_t header_len() const noexcept { return static_cast<std::size_t>(ihl()) * 4; }
  u8 tos() const noexcept { return b_[1]; }
  u8 dscp() const noexcept { return static_cast<u8>(b_[1] >> 2); }
  u8 ecn() const noexcept { return static_cast<u8>(b_[1] & 3); }
  u16 total_len() const noexcept;
  u16 ident() const noexcept;
  bool reserved_flag() const noexcept { return (b_[6] & 0x80) != 0; }
  bool dont_fragment() const noexcept { return (b_[6] & 0x40) != 0; }
  bool more_fragments() const noexcept { return (b_[6] & 0x20) != 0; }
  u16 frag_offset() const noexcept;  // in 8-byte units
  // MF set or a non-zero offset: this packet is a piece of a larger one.
  bool is_fragment() const noexcept { return more_fragments() || frag_offset() != 0; }
  u8 ttl() const noexcept { return b_[8]; }
  u8 protocol() const noexcept { return b_[9]; }
  u16 checksum() const noexcept;
  Ipv4Addr src() const noexcept { return Ipv4Addr::load(b_.data() + 12); }
  Ipv4Addr dst() const noexcept { return Ipv4Addr::load(b_.data() + 16); }
  // Raw options, header_len() - 20 bytes (possibly empty).
  Bytes options() const noexcept { return b_.subspan(kIpv4HeaderLen, header_len() - kIpv4HeaderLen); }
  Bytes header() const noexcept { return b_.first(header_len()); }
  // From the end of the header to total_len().
  Bytes payload() const noexcept { return b_.subspan(header_len()); }
  // The whole packet, total_len() bytes.
  Bytes bytes() const noexcept { return b_; }
  // The header checksum (options included) verifies.
  bool checksum_ok() const noexcept;

 private:
  explicit Ipv4View(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

struct Ipv4Repr {
  Ipv4Addr src;
  Ipv4Addr dst;
  u8 protocol = 0;
  u8 ttl = 255;  // what passt uses for frames to the guest
  u8 tos = 0;
  u16 ident = 0;
  bool dont_fragment = false;
  u16 payload_len = 0;  // bytes after the header

  // Keeps the fields above; drops options, MF, fragment offset, the
  // reserved flag and the checksum (see docs/wire-contract.md).
  static Ipv4Repr from(const Ipv4View& v) noexcept;
  static constexpr std::size_t header_len() noexcept { return kIpv4HeaderLen; }
  std::size_t total_len() const noexcept { return kIpv4HeaderLen + payload_len; }
  // Writes exactly header_len() bytes, checksum included.  The payload is
  // not touched.  Err::truncated if `out` is shorter than the header;
  // Err::invalid if 20 + payload_len exceeds 65535.
  Status emit(MutBytes out) const noexcept;
  bool operator==(const Ipv4Repr&) const noexcept = default;
};

}  // namespace passt::wire
