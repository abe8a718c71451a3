#include "wire/udp.hpp"

#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace passt::wire {

namespace {

// RFC 768: a computed checksum of zero is transmitted as all ones.
u16 nonzero(u16 c) noexcept { return c == 0 ? 0xffff : c; }

}  // namespace

Result<UdpView> UdpView::parse(Bytes b) noexcept {
  if (b.size() < kUdpHeaderLen) return Err::truncated;
  const std::size_t len = load_be16(b.data() + 4);
  if (len < kUdpHeaderLen) return Err::malformed;
  if (len > b.size()) return Err::truncated;
  return UdpView(b.first(len));
}

u16 UdpView::src_port() const noexcept { return load_be16(b_.data()); }
u16 UdpView::dst_port() const noexcept { return load_be16(b_.data() + 2); }
u16 UdpView::length() const noexcept { return load_be16(b_.data() + 4); }
u16 UdpView::checksum() const noexcept { return load_be16(b_.data() + 6); }

bool UdpView::checksum_ok(Ipv4Addr src, Ipv4Addr dst) const noexcept {
  if (checksum() == 0) return true;
  return l4_checksum_v4(src, dst, ipproto::udp, b_) == 0;
}

bool UdpView::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept {
  if (checksum() == 0) return false;
  return l4_checksum_v6(src, dst, ipproto::udp, b_) == 0;
}

UdpRepr UdpRepr::from(const UdpView& v) noexcept {
  return {v.src_port(), v.dst_port(), v.payload().size()};
}

Status UdpRepr::emit_header(MutBytes out) const noexcept {
  if (payload_len > kUdpMaxPayload) return Err::invalid;
  if (out.size() < length()) return Err::truncated;
  u8* p = out.data();
  store_be16(p, src_port);
  store_be16(p + 2, dst_port);
  store_be16(p + 4, static_cast<u16>(length()));
  store_be16(p + 6, 0);
  return {};
}

Status UdpRepr::emit(MutBytes out) const noexcept { return emit_header(out); }

Status UdpRepr::emit(MutBytes out, Ipv4Addr src, Ipv4Addr dst) const noexcept {
  if (Status s = emit_header(out); !s) return s;
  const u16 c = nonzero(l4_checksum_v4(src, dst, ipproto::udp, Bytes(out.first(length()))));
  store_be16(out.data() + 6, c);
  return {};
}

Status UdpRepr::emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept {
  if (Status s = emit_header(out); !s) return s;
  const u16 c = nonzero(l4_checksum_v6(src, dst, ipproto::udp, Bytes(out.first(length()))));
  store_be16(out.data() + 6, c);
  return {};
}

}  // namespace passt::wire
