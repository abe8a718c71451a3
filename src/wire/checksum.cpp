#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace passt::wire {

namespace {

u16 fold64(u64 s) noexcept {
  while ((s >> 16) != 0) s = (s & 0xffff) + (s >> 16);
  return static_cast<u16>(s);
}

}  // namespace

Csum& Csum::add(Bytes data) noexcept {
  const u8* p = data.data();
  std::size_t n = data.size();
  if (n == 0) return *this;
  if (odd_) {
    // The previous chunk ended mid-word: this byte is the low half.
    sum_ += p[0];
    p++;
    n--;
    odd_ = false;
  }
  // Sum 32-bit big-endian words into a 64-bit accumulator; fold at the end.
  u64 s = 0;
  while (n >= 8) {
    u32 a;
    u32 b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    s += a;
    s += b;
    p += 8;
    n -= 8;
  }
  // The loads above were native (little-endian on our targets): fold, then
  // swap the 16-bit result into network order (RFC 1071 byte-order
  // independence).
  {
    u16 f = fold64(s);
    if constexpr (std::endian::native == std::endian::little) {
      f = static_cast<u16>((f >> 8) | (f << 8));
    }
    sum_ += f;
  }
  while (n >= 2) {
    sum_ += static_cast<u32>((p[0] << 8) | p[1]);
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    sum_ += static_cast<u32>(p[0] << 8);
    odd_ = true;
  }
  return *this;
}

Csum& Csum::add_u16(u16 v) noexcept {
  const u8 b[2] = {static_cast<u8>(v >> 8), static_cast<u8>(v)};
  return add(Bytes(b, 2));
}

Csum& Csum::add_u32(u32 v) noexcept {
  const u8 b[4] = {static_cast<u8>(v >> 24), static_cast<u8>(v >> 16), static_cast<u8>(v >> 8),
                   static_cast<u8>(v)};
  return add(Bytes(b, 4));
}

Csum& Csum::add_partial(u32 folded) noexcept {
  // A partial sum stands for word-aligned data: it must be added at an even
  // offset (always true for pseudo-headers, which come first).
  sum_ += folded;
  return *this;
}

u16 Csum::fold() const noexcept { return fold64(sum_); }

u16 ipv4_header_checksum(Bytes hdr) noexcept { return Csum().add(hdr).finish(); }

u32 pseudo_header_v4(Ipv4Addr src, Ipv4Addr dst, u8 proto, u32 l4_len) noexcept {
  Csum c;
  c.add(Bytes(src.b)).add(Bytes(dst.b)).add_u16(proto).add_u16(static_cast<u16>(l4_len));
  return c.fold();
}

u32 pseudo_header_v6(const Ipv6Addr& src, const Ipv6Addr& dst, u8 next_header,
                     u32 l4_len) noexcept {
  Csum c;
  c.add(Bytes(src.b)).add(Bytes(dst.b)).add_u32(l4_len).add_u32(next_header);
  return c.fold();
}

u16 l4_checksum_v4(Ipv4Addr src, Ipv4Addr dst, u8 proto, Bytes l4) noexcept {
  Csum c;
  c.add_partial(pseudo_header_v4(src, dst, proto, static_cast<u32>(l4.size()))).add(l4);
  return c.finish();
}

u16 l4_checksum_v6(const Ipv6Addr& src, const Ipv6Addr& dst, u8 next_header, Bytes l4) noexcept {
  Csum c;
  c.add_partial(pseudo_header_v6(src, dst, next_header, static_cast<u32>(l4.size()))).add(l4);
  return c.finish();
}

u16 csum_update16(u16 old_csum, u16 old_val, u16 new_val) noexcept {
  // HC' = ~(~HC + ~m + m')
  u32 s = static_cast<u16>(~old_csum);
  s += static_cast<u16>(~old_val);
  s += new_val;
  return static_cast<u16>(~fold64(s));
}

u16 csum_update32(u16 old_csum, u32 old_val, u32 new_val) noexcept {
  u16 c = csum_update16(old_csum, static_cast<u16>(old_val >> 16), static_cast<u16>(new_val >> 16));
  return csum_update16(c, static_cast<u16>(old_val), static_cast<u16>(new_val));
}

}  // namespace passt::wire
