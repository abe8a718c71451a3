#include "wire/vnet_hdr.hpp"

#include <bit>

#include "util/addr.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"

namespace passt::wire {

namespace {

// The legacy header is in the host's byte order.
constexpr bool kLittle = std::endian::native == std::endian::little;

u16 load_host16(const u8* p) noexcept {
  return kLittle ? static_cast<u16>(p[0] | (p[1] << 8)) : load_be16(p);
}
void store_host16(u8* p, u16 v) noexcept {
  if (kLittle) {
    p[0] = static_cast<u8>(v);
    p[1] = static_cast<u8>(v >> 8);
  } else {
    store_be16(p, v);
  }
}

}  // namespace

Result<VnetHdr> VnetHdr::parse(Bytes b) noexcept {
  if (b.size() < kVnetHdrLen) return Err::truncated;
  const u8* p = b.data();
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = load_host16(p + 2);
  h.gso_size = load_host16(p + 4);
  h.csum_start = load_host16(p + 6);
  h.csum_offset = load_host16(p + 8);
  return h;
}

namespace {
template <class Store16>
Status emit_with(const VnetHdr& h, MutBytes out, Store16 store) noexcept {
  if (out.size() < kVnetHdrLen) return Err::truncated;
  u8* p = out.data();
  p[0] = h.flags;
  p[1] = h.gso_type;
  store(p + 2, h.hdr_len);
  store(p + 4, h.gso_size);
  store(p + 6, h.csum_start);
  store(p + 8, h.csum_offset);
  return {};
}
}  // namespace

Status VnetHdr::emit(MutBytes out) const noexcept { return emit_with(*this, out, store_host16); }
Status VnetHdr::emit_le(MutBytes out) const noexcept { return emit_with(*this, out, store_le16); }

std::optional<L4CsumSite> l4_csum_site(Bytes f) noexcept {
  if (f.size() < kEthHeaderLen) return std::nullopt;
  const u8* p = f.data();
  const u16 et = load_be16(p + 12);
  const std::size_t l3 = kEthHeaderLen;
  L4CsumSite s;
  std::size_t l4_len = 0;
  if (et == ethertype::ipv4) {
    if (f.size() < l3 + kIpv4HeaderLen || (p[l3] >> 4) != 4) return std::nullopt;
    const std::size_t ihl = static_cast<std::size_t>(p[l3] & 0xf) * 4;
    const std::size_t total = load_be16(p + l3 + 2);
    // Fragments (MF or an offset) carry no whole segment.
    if (ihl < kIpv4HeaderLen || total < ihl || f.size() < l3 + total ||
        (load_be16(p + l3 + 6) & 0x3fff) != 0)
      return std::nullopt;
    s.proto = p[l3 + 9];
    s.start = static_cast<u16>(l3 + ihl);
    l4_len = total - ihl;
    if (s.proto == ipproto::tcp || s.proto == ipproto::udp)
      s.pseudo = pseudo_header_v4(Ipv4Addr::load(p + l3 + 12), Ipv4Addr::load(p + l3 + 16), s.proto,
                                  static_cast<u32>(l4_len));
  } else if (et == ethertype::ipv6) {
    if (f.size() < l3 + kIpv6HeaderLen || (p[l3] >> 4) != 6) return std::nullopt;
    l4_len = load_be16(p + l3 + 4);
    if (f.size() < l3 + kIpv6HeaderLen + l4_len) return std::nullopt;
    s.proto = p[l3 + 6];
    s.v6 = true;
    s.start = static_cast<u16>(l3 + kIpv6HeaderLen);
    if (s.proto == ipproto::tcp || s.proto == ipproto::udp)
      s.pseudo = pseudo_header_v6(Ipv6Addr::load(p + l3 + 8), Ipv6Addr::load(p + l3 + 24), s.proto,
                                  static_cast<u32>(l4_len));
  } else {
    return std::nullopt;
  }
  if (s.proto == ipproto::tcp) {
    if (l4_len < kTcpHeaderLen) return std::nullopt;
    s.offset = 16;
  } else if (s.proto == ipproto::udp) {
    if (l4_len < kUdpHeaderLen) return std::nullopt;
    s.offset = 6;
  } else {
    return std::nullopt;
  }
  s.len = static_cast<u16>(l4_len);
  return s;
}

std::optional<L4CsumSite> l4_csum_left(Bytes frame) noexcept {
  auto s = l4_csum_site(frame);
  if (!s || load_be16(frame.data() + s->start + s->offset) != 0) return std::nullopt;
  if (s->proto == ipproto::udp && !s->v6) return std::nullopt;  // "no checksum"
  return s;
}

VnetHdr vnet_needs_csum(const L4CsumSite& s) noexcept {
  VnetHdr h;
  h.flags = vnet::f_needs_csum;
  h.csum_start = s.start;
  h.csum_offset = s.offset;
  return h;
}

bool vnet_set_tcp_gso(VnetHdr& h, Bytes frame, const L4CsumSite& s, u16 gso_size) noexcept {
  if (s.proto != ipproto::tcp || gso_size == 0) return false;
  const std::size_t l4hdr = static_cast<std::size_t>(frame[s.start + 12] >> 4) * 4;
  if (l4hdr < kTcpHeaderLen || l4hdr > s.len || s.len - l4hdr <= gso_size) return false;
  h.gso_type = s.v6 ? vnet::gso_tcpv6 : vnet::gso_tcpv4;
  h.gso_size = gso_size;
  h.hdr_len = static_cast<u16>(s.start + l4hdr);
  return true;
}

u16 l4_csum_value(Bytes frame, const L4CsumSite& s) noexcept {
  const u16 v = Csum().add_partial(s.pseudo).add(frame.subspan(s.start, s.len)).finish();
  return (v == 0 && s.proto == ipproto::udp) ? 0xffff : v;
}

}  // namespace passt::wire
