#include "wire/icmp.hpp"

#include "util/endian.hpp"
#include "wire/checksum.hpp"

namespace passt::wire {

Result<IcmpView> IcmpView::parse(Bytes b) noexcept {
  if (b.size() < kIcmpHeaderLen) return Err::truncated;
  return IcmpView(b);
}

u16 IcmpView::checksum() const noexcept { return load_be16(b_.data() + 2); }
u32 IcmpView::rest() const noexcept { return load_be32(b_.data() + 4); }
u16 IcmpView::echo_id() const noexcept { return load_be16(b_.data() + 4); }
u16 IcmpView::echo_seq() const noexcept { return load_be16(b_.data() + 6); }
bool IcmpView::checksum_ok() const noexcept { return Csum().add(b_).finish() == 0; }

IcmpRepr IcmpRepr::from(const IcmpView& v) noexcept {
  return {v.type(), v.code(), v.rest(), v.payload().size()};
}

Status IcmpRepr::emit(MutBytes out) const noexcept {
  // Written so that an absurd payload_len cannot wrap length().
  if (out.size() < kIcmpHeaderLen || out.size() - kIcmpHeaderLen < payload_len)
    return Err::truncated;
  u8* p = out.data();
  p[0] = type;
  p[1] = code;
  store_be16(p + 2, 0);
  store_be32(p + 4, rest);
  store_be16(p + 2, Csum().add(Bytes(p, length())).finish());
  return {};
}

Result<IcmpEchoRepr> IcmpEchoRepr::from(const IcmpView& v) noexcept {
  if (!v.is_echo()) return Err::not_supported;
  if (v.code() != 0) return Err::malformed;
  return IcmpEchoRepr{v.type() == icmp_type::echo_request, v.echo_id(), v.echo_seq(),
                      v.payload().size()};
}

Status IcmpEchoRepr::emit(MutBytes out) const noexcept {
  const IcmpRepr r{request ? icmp_type::echo_request : icmp_type::echo_reply, 0,
                   (static_cast<u32>(id) << 16) | seq, payload_len};
  return r.emit(out);
}

}  // namespace passt::wire
