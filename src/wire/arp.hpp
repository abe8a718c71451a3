// ARP (RFC 826) packets.
//
// The view accepts any hardware/protocol address sizes (as long as the
// addresses fit in the buffer) so the ARP responder can see, and reject, a
// request that is not Ethernet/IPv4.  The repr is Ethernet/IPv4 only: that is
// the only kind passt answers.  Trailing bytes after the addresses (Ethernet
// padding up to 60 bytes) are not part of the packet and are ignored.
#pragma once

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

// Fixed part: htype, ptype, hlen, plen, oper.
inline constexpr std::size_t kArpFixedLen = 8;
// Whole packet for Ethernet/IPv4: 8 + 2 * (6 + 4).
inline constexpr std::size_t kArpEthIpv4Len = 28;

namespace arp_op {
inline constexpr u16 request = 1;
inline constexpr u16 reply = 2;
}  // namespace arp_op

namespace arp_htype {
inline constexpr u16 ethernet = 1;
}  // namespace arp_htype

class ArpView {
 public:
  // Checks that the fixed part and the four addresses (sizes taken from
  // hlen/plen) fit in `b`.  Err::truncated otherwise.
  static Result<ArpView> parse(Bytes b) noexcept;

  u16 htype() const noexcept;
  u16 ptype() const noexcept;
  u8 hlen() const noexcept { return b_[4]; }
  u8 plen() const noexcept { return b_[5]; }
  u16 oper() const noexcept;
  // Raw addresses, of hlen()/plen() bytes each (possibly empty).
  Bytes sha() const noexcept { return b_.subspan(kArpFixedLen, hlen()); }
  Bytes spa() const noexcept { return b_.subspan(kArpFixedLen + hlen(), plen()); }
  Bytes tha() const noexcept { return b_.subspan(kArpFixedLen + hlen() + plen(), hlen()); }
  Bytes tpa() const noexcept {
    return b_.subspan(kArpFixedLen + 2 * static_cast<std::size_t>(hlen()) + plen(), plen());
  }
  // htype 1, ptype 0x0800, hlen 6, plen 4.
  bool is_eth_ipv4() const noexcept;
  // The packet proper (fixed part and addresses), without trailing padding.
  Bytes bytes() const noexcept { return b_; }

 private:
  explicit ArpView(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

// Ethernet/IPv4 ARP packet.
struct ArpRepr {
  u16 oper = 0;
  MacAddr sha;
  Ipv4Addr spa;
  MacAddr tha;
  Ipv4Addr tpa;

  // Err::not_supported unless v.is_eth_ipv4().  Any opcode is kept.
  static Result<ArpRepr> from(const ArpView& v) noexcept;
  static constexpr std::size_t length() noexcept { return kArpEthIpv4Len; }
  // Writes exactly length() bytes; Err::truncated (nothing written) if
  // `out` is shorter.
  Status emit(MutBytes out) const noexcept;
  bool operator==(const ArpRepr&) const noexcept = default;
};

}  // namespace passt::wire
