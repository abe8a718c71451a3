#include "wire/icmpv6.hpp"

#include <algorithm>
#include <cstring>

#include "util/endian.hpp"
#include "wire/checksum.hpp"

namespace passt::wire {

Result<Icmpv6View> Icmpv6View::parse(Bytes msg) noexcept {
  if (msg.size() < kIcmpv6HeaderLen) return Err::truncated;
  return Icmpv6View(msg);
}

u16 Icmpv6View::checksum() const noexcept { return load_be16(b_.data() + 2); }

bool icmpv6_checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst, Bytes msg) noexcept {
  if (msg.size() < kIcmpv6HeaderLen) return false;
  return l4_checksum_v6(src, dst, kIpProtoIcmpv6, msg) == 0;
}

Status icmpv6_fill_checksum(const Ipv6Addr& src, const Ipv6Addr& dst, MutBytes msg) noexcept {
  if (msg.size() < kIcmpv6HeaderLen) return Err::truncated;
  store_be16(msg.data() + 2, 0);
  store_be16(msg.data() + 2, l4_checksum_v6(src, dst, kIpProtoIcmpv6, Bytes(msg)));
  return {};
}

Result<Icmpv6EchoRepr> Icmpv6EchoRepr::from(const Icmpv6View& v) noexcept {
  if (v.type() != icmpv6_type::echo_request && v.type() != icmpv6_type::echo_reply)
    return Err::not_supported;
  if (v.code() != 0) return Err::malformed;
  Bytes b = v.bytes();
  if (b.size() < kIcmpv6EchoHeaderLen) return Err::truncated;
  Icmpv6EchoRepr r;
  r.is_request = v.type() == icmpv6_type::echo_request;
  r.ident = load_be16(b.data() + 4);
  r.seq = load_be16(b.data() + 6);
  r.data = b.subspan(kIcmpv6EchoHeaderLen);
  return r;
}

Status Icmpv6EchoRepr::emit(MutBytes out, const Ipv6Addr& src,
                            const Ipv6Addr& dst) const noexcept {
  if (out.size() < length()) return Err::truncated;
  u8* p = out.data();
  if (!data.empty() && data.data() != p + kIcmpv6EchoHeaderLen)
    std::memmove(p + kIcmpv6EchoHeaderLen, data.data(), data.size());
  p[0] = type();
  p[1] = 0;
  store_be16(p + 2, 0);
  store_be16(p + 4, ident);
  store_be16(p + 6, seq);
  return icmpv6_fill_checksum(src, dst, out.first(length()));
}

bool operator==(const Icmpv6EchoRepr& a, const Icmpv6EchoRepr& b) noexcept {
  return a.is_request == b.is_request && a.ident == b.ident && a.seq == b.seq &&
         std::ranges::equal(a.data, b.data);
}

}  // namespace passt::wire
