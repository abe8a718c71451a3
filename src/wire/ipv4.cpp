#include "wire/ipv4.hpp"

#include "util/endian.hpp"
#include "wire/checksum.hpp"

namespace passt::wire {

Result<Ipv4View> Ipv4View::parse(Bytes b) noexcept {
  if (b.size() < kIpv4HeaderLen) return Err::truncated;
  if ((b[0] >> 4) != 4) return Err::malformed;
  const std::size_t hlen = static_cast<std::size_t>(b[0] & 0x0f) * 4;
  if (hlen < kIpv4HeaderLen) return Err::malformed;
  if (hlen > b.size()) return Err::truncated;
  const std::size_t tot = load_be16(b.data() + 2);
  if (tot < hlen) return Err::malformed;
  if (tot > b.size()) return Err::truncated;
  return Ipv4View(b.first(tot));
}

u16 Ipv4View::total_len() const noexcept { return load_be16(b_.data() + 2); }
u16 Ipv4View::ident() const noexcept { return load_be16(b_.data() + 4); }
u16 Ipv4View::frag_offset() const noexcept {
  return static_cast<u16>(load_be16(b_.data() + 6) & 0x1fff);
}
u16 Ipv4View::checksum() const noexcept { return load_be16(b_.data() + 10); }

bool Ipv4View::checksum_ok() const noexcept { return ipv4_header_checksum(header()) == 0; }

Ipv4Repr Ipv4Repr::from(const Ipv4View& v) noexcept {
  Ipv4Repr r;
  r.src = v.src();
  r.dst = v.dst();
  r.protocol = v.protocol();
  r.ttl = v.ttl();
  r.tos = v.tos();
  r.ident = v.ident();
  r.dont_fragment = v.dont_fragment();
  r.payload_len = static_cast<u16>(v.payload().size());
  return r;
}

Status Ipv4Repr::emit(MutBytes out) const noexcept {
  if (out.size() < kIpv4HeaderLen) return Err::truncated;
  if (total_len() > kIpv4MaxTotalLen) return Err::invalid;
  u8* p = out.data();
  p[0] = 0x45;
  p[1] = tos;
  store_be16(p + 2, static_cast<u16>(total_len()));
  store_be16(p + 4, ident);
  store_be16(p + 6, dont_fragment ? 0x4000 : 0);
  p[8] = ttl;
  p[9] = protocol;
  store_be16(p + 10, 0);
  src.store(p + 12);
  dst.store(p + 16);
  store_be16(p + 10, ipv4_header_checksum(Bytes(p, kIpv4HeaderLen)));
  return {};
}

}  // namespace passt::wire
