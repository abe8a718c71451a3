// Internet checksum (RFC 1071), the IPv4 header checksum, TCP/UDP/ICMPv6
// pseudo-header checksums, and incremental update (RFC 1624).
#pragma once

#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::wire {

// Running one's-complement sum.  Chunks of any length (odd included) can be
// added in sequence: the result equals the sum over their concatenation.
class Csum {
 public:
  Csum& add(Bytes data) noexcept;
  Csum& add_u16(u16 host_order) noexcept;
  Csum& add_u32(u32 host_order) noexcept;
  // Add a partial sum produced by another Csum (e.g. a cached pseudo-header),
  // at an even byte offset.
  Csum& add_partial(u32 folded) noexcept;
  // Folded 16-bit sum (not complemented).
  u16 fold() const noexcept;
  // The value to put in a checksum field: ~fold().
  u16 finish() const noexcept { return static_cast<u16>(~fold()); }

 private:
  u64 sum_ = 0;
  bool odd_ = false;  // an odd number of bytes has been added so far
};

// Which bulk summing routine the running CPU got ("avx2" or "scalar").
const char* csum_impl_name() noexcept;
// For tests: the folded native-order sum of the first (size & ~31) bytes,
// by the portable routine and by the one chosen at run time.
u16 csum_words_scalar_for_test(Bytes data) noexcept;
u16 csum_words_best_for_test(Bytes data) noexcept;

// IPv4 header checksum over `hdr` (its checksum field must be zero, or the
// result is used for verification: a valid header gives 0).
u16 ipv4_header_checksum(Bytes hdr) noexcept;

// Pseudo-header partial sums (not complemented), for TCP/UDP/ICMPv6.
u32 pseudo_header_v4(Ipv4Addr src, Ipv4Addr dst, u8 proto, u32 l4_len) noexcept;
u32 pseudo_header_v6(const Ipv6Addr& src, const Ipv6Addr& dst, u8 next_header,
                     u32 l4_len) noexcept;

// Full L4 checksum: pseudo-header plus the L4 header and payload in `l4`
// (whose checksum field must be zero when computing; a correct segment
// verifies to 0 when the field is left in place).
u16 l4_checksum_v4(Ipv4Addr src, Ipv4Addr dst, u8 proto, Bytes l4) noexcept;
u16 l4_checksum_v6(const Ipv6Addr& src, const Ipv6Addr& dst, u8 next_header, Bytes l4) noexcept;

// RFC 1624 eqn. 3: new checksum after a 16-bit field changes from old_val to
// new_val, given the old checksum field value.
u16 csum_update16(u16 old_csum, u16 old_val, u16 new_val) noexcept;
u16 csum_update32(u16 old_csum, u32 old_val, u32 new_val) noexcept;

}  // namespace passt::wire
