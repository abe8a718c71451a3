// ICMPv4: any 8+ bytes parse; the generic repr re-emits to a message that
// parses to the same repr with a valid checksum (and, if the input's
// checksum was valid, to exactly the input); echo reprs likewise.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/icmp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = IcmpView::parse(Bytes(data, size));
  if (!v) {
    PASST_CHECK(size < kIcmpHeaderLen);
    return 0;
  }
  PASST_CHECK(v->bytes().size() == size);
  PASST_CHECK(v->payload().size() == size - kIcmpHeaderLen);
  PASST_CHECK(v->rest() == ((static_cast<u32>(v->echo_id()) << 16) | v->echo_seq()));
  const bool csum_ok = v->checksum_ok();

  IcmpRepr r = IcmpRepr::from(*v);
  std::vector<u8> out(data, data + size);
  PASST_CHECK(r.emit(MutBytes(out)).ok());
  auto v2 = IcmpView::parse(Bytes(out));
  PASST_CHECK(v2.ok() && v2->checksum_ok());
  PASST_CHECK(IcmpRepr::from(*v2) == r);
  // 0x0000 and 0xffff are both valid when the rest sums to zero.
  if (csum_ok && v->checksum() != 0xffff && v->checksum() != 0)
    PASST_CHECK(std::memcmp(out.data(), data, size) == 0);

  auto e = IcmpEchoRepr::from(*v);
  PASST_CHECK(e.ok() == (v->is_echo() && v->code() == 0));
  if (e) {
    std::vector<u8> eo(data, data + size);
    PASST_CHECK(e->emit(MutBytes(eo)).ok());
    auto v3 = IcmpView::parse(Bytes(eo));
    PASST_CHECK(v3.ok() && v3->checksum_ok());
    auto e3 = IcmpEchoRepr::from(*v3);
    PASST_CHECK(e3.ok() && *e3 == *e);
    PASST_CHECK(eo == out);
  }
  return 0;
}
