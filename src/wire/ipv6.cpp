#include "wire/ipv6.hpp"

#include "util/endian.hpp"

namespace passt::wire {

bool ipv6_is_ext_header(u8 next_header) noexcept {
  switch (next_header) {
    case ipproto::hopopts:
    case ipproto::routing:
    case ipproto::fragment:
    case ipproto::ah:
    case ipproto::dstopts:
    case ipproto::mobility:
    case ipproto::hip:
    case ipproto::shim6:
    case ipproto::experiment1:
    case ipproto::experiment2:
      return true;
    default:
      return false;
  }
}

Result<Ipv6View> Ipv6View::parse(Bytes b) noexcept {
  if (b.size() < kIpv6HeaderLen) return Err::truncated;
  if ((b[0] >> 4) != 6) return Err::malformed;
  const std::size_t len = kIpv6HeaderLen + load_be16(b.data() + 4);
  if (len > b.size()) return Err::truncated;
  return Ipv6View(b.first(len));
}

u8 Ipv6View::traffic_class() const noexcept {
  return static_cast<u8>(((b_[0] & 0x0f) << 4) | (b_[1] >> 4));
}
u32 Ipv6View::flow_label() const noexcept { return load_be32(b_.data()) & 0xfffffu; }
u16 Ipv6View::payload_len() const noexcept { return load_be16(b_.data() + 4); }

Result<Ipv6UpperLayer> Ipv6View::upper_layer() const noexcept {
  Ipv6UpperLayer u;
  u8 nh = next_header();
  std::size_t off = kIpv6HeaderLen;
  const std::size_t end = b_.size();
  // Bounded: each iteration consumes one header; the count is capped.
  for (;;) {
    if (!ipv6_is_ext_header(nh)) break;  // upper layer, ESP or 59
    if (nh == ipproto::hopopts && u.ext_headers != 0) return Err::malformed;
    if (u.ext_headers == kIpv6MaxExtHeaders) return Err::not_supported;
    if (end - off < 8) return Err::truncated;
    const u8* h = b_.data() + off;
    std::size_t hlen = 0;
    if (nh == ipproto::fragment) {
      hlen = kIpv6FragHeaderLen;
    } else if (nh == ipproto::ah) {
      hlen = (static_cast<std::size_t>(h[1]) + 2) * 4;
    } else {
      hlen = (static_cast<std::size_t>(h[1]) + 1) * 8;
    }
    if (end - off < hlen) return Err::truncated;
    const u8 next = h[0];
    u.ext_headers++;
    off += hlen;
    bool stop = false;
    if (nh == ipproto::fragment) {
      const u16 fo = load_be16(h + 2);
      u.fragment = true;
      u.frag_offset = static_cast<u16>(fo >> 3);
      u.more_fragments = (fo & 1) != 0;
      u.frag_ident = load_be32(h + 4);
      // Not the first fragment: what follows is the middle of the
      // fragmentable part, not a header.
      stop = u.frag_offset != 0;
    }
    nh = next;
    if (stop) break;
  }
  u.protocol = nh;
  u.offset = off;
  u.bytes = b_.subspan(off);
  return u;
}

Ipv6Repr Ipv6Repr::from(const Ipv6View& v) noexcept {
  Ipv6Repr r;
  r.src = v.src();
  r.dst = v.dst();
  r.next_header = v.next_header();
  r.hop_limit = v.hop_limit();
  r.traffic_class = v.traffic_class();
  r.flow_label = v.flow_label();
  r.payload_len = v.payload_len();
  return r;
}

Status Ipv6Repr::emit(MutBytes out) const noexcept {
  if (out.size() < kIpv6HeaderLen) return Err::truncated;
  if (flow_label > 0xfffffu) return Err::invalid;
  u8* p = out.data();
  store_be32(p, (6u << 28) | (static_cast<u32>(traffic_class) << 20) | flow_label);
  store_be16(p + 4, payload_len);
  p[6] = next_header;
  p[7] = hop_limit;
  src.store(p + 8);
  dst.store(p + 24);
  return {};
}

}  // namespace passt::wire
