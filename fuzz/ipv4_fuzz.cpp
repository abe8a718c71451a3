// IPv4: parse agrees with the length rules; accessors stay inside the
// packet; the repr re-emits to a header that parses to the same repr, and
// an option-less unfragmented header with a good checksum re-emits to
// exactly the input.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "util/endian.hpp"
#include "wire/ipv4.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = Ipv4View::parse(Bytes(data, size));
  if (!v) {
    const bool bad = size < 20 || (data[0] >> 4) != 4 || (data[0] & 15) < 5 ||
                     static_cast<std::size_t>(data[0] & 15) * 4 > size ||
                     load_be16(data + 2) < (data[0] & 15) * 4 || load_be16(data + 2) > size;
    PASST_CHECK(bad);
    return 0;
  }
  PASST_CHECK(v->version() == 4);
  PASST_CHECK(v->bytes().size() == v->total_len() && v->total_len() <= size);
  PASST_CHECK(v->header_len() >= kIpv4HeaderLen && v->header_len() <= kIpv4MaxHeaderLen);
  PASST_CHECK(v->header().size() + v->payload().size() == v->bytes().size());
  PASST_CHECK(v->options().size() == v->header_len() - kIpv4HeaderLen);
  PASST_CHECK(v->payload().data() == data + v->header_len());
  PASST_CHECK(v->frag_offset() < 8192);
  PASST_CHECK(v->dscp() < 64 && v->ecn() < 4);
  const bool csum_ok = v->checksum_ok();

  Ipv4Repr r = Ipv4Repr::from(*v);
  PASST_CHECK(r.payload_len == v->payload().size());
  std::vector<u8> out(r.total_len());
  PASST_CHECK(r.emit(MutBytes(out)).ok());
  std::memcpy(out.data() + kIpv4HeaderLen, v->payload().data(), v->payload().size());
  auto v2 = Ipv4View::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  PASST_CHECK(v2->checksum_ok());
  PASST_CHECK(!v2->is_fragment() && !v2->reserved_flag());
  PASST_CHECK(Ipv4Repr::from(*v2) == r);
  if (v->header_len() == kIpv4HeaderLen && csum_ok && !v->is_fragment() && !v->reserved_flag()) {
    // Equal but for the checksum's encoding: a header whose other words sum
    // to 0xffff checks with 0xffff or 0x0000 in the field (one's complement
    // has two zeros); we write 0x0000.
    PASST_CHECK(std::memcmp(out.data(), data, 10) == 0);
    PASST_CHECK(std::memcmp(out.data() + 12, data + 12, kIpv4HeaderLen - 12) == 0);
    const u16 in_sum = load_be16(data + 10);
    const u16 out_sum = load_be16(out.data() + 10);
    PASST_CHECK(out_sum == in_sum || (in_sum == 0xffff && out_sum == 0));
  }
  return 0;
}
