#include "wire/arp.hpp"

#include "util/endian.hpp"
#include "wire/ethernet.hpp"

namespace passt::wire {

Result<ArpView> ArpView::parse(Bytes b) noexcept {
  if (b.size() < kArpFixedLen) return Err::truncated;
  const std::size_t len = kArpFixedLen + 2 * (static_cast<std::size_t>(b[4]) + b[5]);
  if (b.size() < len) return Err::truncated;
  return ArpView(b.first(len));
}

u16 ArpView::htype() const noexcept { return load_be16(b_.data()); }
u16 ArpView::ptype() const noexcept { return load_be16(b_.data() + 2); }
u16 ArpView::oper() const noexcept { return load_be16(b_.data() + 6); }

bool ArpView::is_eth_ipv4() const noexcept {
  return htype() == arp_htype::ethernet && ptype() == ethertype::ipv4 && hlen() == 6 &&
         plen() == 4;
}

Result<ArpRepr> ArpRepr::from(const ArpView& v) noexcept {
  if (!v.is_eth_ipv4()) return Err::not_supported;
  return ArpRepr{v.oper(), MacAddr::load(v.sha().data()), Ipv4Addr::load(v.spa().data()),
                 MacAddr::load(v.tha().data()), Ipv4Addr::load(v.tpa().data())};
}

Status ArpRepr::emit(MutBytes out) const noexcept {
  if (out.size() < length()) return Err::truncated;
  u8* p = out.data();
  store_be16(p, arp_htype::ethernet);
  store_be16(p + 2, ethertype::ipv4);
  p[4] = 6;
  p[5] = 4;
  store_be16(p + 6, oper);
  sha.store(p + 8);
  spa.store(p + 14);
  tha.store(p + 18);
  tpa.store(p + 24);
  return {};
}

}  // namespace passt::wire
