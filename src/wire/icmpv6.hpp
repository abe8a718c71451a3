// ICMPv6 (RFC 4443): the common 4-byte header, the pseudo-header checksum,
// and Echo Request/Reply.
//
// Theory of operation
// -------------------
// Everything here starts at the ICMPv6 message (the IPv6 payload once
// extension headers are skipped).  Icmpv6View::parse only checks that the
// 4-byte header is there; the message body is whatever follows, up to the
// end of the span the caller gives (the caller has already cut the span to
// the IPv6 payload length).  The checksum covers the IPv6 pseudo-header
// (source, destination, upper-layer length = the span's size, next header
// 58) and the whole message (RFC 4443 §2.3, RFC 8200 §8.1); parse does not
// verify it, because only the caller knows the addresses: use
// icmpv6_checksum_ok().
//
// Echo messages (types 128/129) have a 4-byte body header: identifier and
// sequence number, then arbitrary data.  Icmpv6EchoRepr::from requires code
// 0, like Linux ping sockets do (a non-zero code is EINVAL there).
// NDP messages (types 133-137) are in wire/ndp.hpp.
#pragma once

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr u8 kIpProtoIcmpv6 = 58;
inline constexpr std::size_t kIcmpv6HeaderLen = 4;
inline constexpr std::size_t kIcmpv6EchoHeaderLen = 8;

namespace icmpv6_type {
inline constexpr u8 dest_unreachable = 1;
inline constexpr u8 packet_too_big = 2;
inline constexpr u8 time_exceeded = 3;
inline constexpr u8 parameter_problem = 4;
inline constexpr u8 echo_request = 128;
inline constexpr u8 echo_reply = 129;
inline constexpr u8 router_solicitation = 133;
inline constexpr u8 router_advertisement = 134;
inline constexpr u8 neighbor_solicitation = 135;
inline constexpr u8 neighbor_advertisement = 136;
inline constexpr u8 redirect = 137;
}  // namespace icmpv6_type

// Error messages have the high bit of the type clear (RFC 4443 §2.1).
constexpr bool icmpv6_is_error(u8 type) noexcept { return type < 128; }

class Icmpv6View {
 public:
  // Err::truncated below 4 bytes.  Nothing else is checked.
  static Result<Icmpv6View> parse(Bytes msg) noexcept;

  u8 type() const noexcept { return b_[0]; }
  u8 code() const noexcept { return b_[1]; }
  u16 checksum() const noexcept;
  // Everything after the 4-byte header.
  Bytes body() const noexcept { return b_.subspan(kIcmpv6HeaderLen); }
  Bytes bytes() const noexcept { return b_; }

 private:
  explicit Icmpv6View(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

// True if `msg` (checksum field in place) sums to zero with the pseudo-header
// for src -> dst.
bool icmpv6_checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst, Bytes msg) noexcept;
// Computes the checksum of `msg` for src -> dst and stores it at bytes 2-3
// (whatever they held before is ignored).  Err::truncated below 4 bytes.
Status icmpv6_fill_checksum(const Ipv6Addr& src, const Ipv6Addr& dst, MutBytes msg) noexcept;

// Echo Request / Echo Reply.  `data` is borrowed from the parsed buffer (or
// from the caller, when emitting): it must outlive the repr.
struct Icmpv6EchoRepr {
  bool is_request = true;
  u16 ident = 0;
  u16 seq = 0;
  Bytes data;

  // Err::not_supported unless type 128/129, Err::malformed if code != 0,
  // Err::truncated below 8 bytes.
  static Result<Icmpv6EchoRepr> from(const Icmpv6View& v) noexcept;
  u8 type() const noexcept {
    return is_request ? icmpv6_type::echo_request : icmpv6_type::echo_reply;
  }
  std::size_t length() const noexcept { return kIcmpv6EchoHeaderLen + data.size(); }
  // Writes exactly length() bytes, checksum filled in for src -> dst.
  // Err::truncated (nothing written) if `out` is too short.  `data` may
  // alias `out` (e.g. a reply built in place over the request): it is moved
  // before the header is written.
  Status emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;

  friend bool operator==(const Icmpv6EchoRepr& a, const Icmpv6EchoRepr& b) noexcept;
};

}  // namespace passt::wire
