#include "wire/ethernet.hpp"

#include "util/endian.hpp"

namespace passt::wire {

Result<EthernetView> EthernetView::parse(Bytes frame) noexcept {
  if (frame.size() < kEthHeaderLen) return Err::truncated;
  return EthernetView(frame);
}

u16 EthernetView::ethertype() const noexcept { return load_be16(b_.data() + 12); }

EthernetRepr EthernetRepr::from(const EthernetView& v) noexcept {
  return {v.dst(), v.src(), v.ethertype()};
}

Status EthernetRepr::emit(MutBytes out) const noexcept {
  if (out.size() < kEthHeaderLen) return Err::truncated;
  dst.store(out.data());
  src.store(out.data() + 6);
  store_be16(out.data() + 12, ethertype);
  return {};
}

}  // namespace passt::wire
