// ICMPv6: the header view never reads out of bounds; echo messages that
// parse re-emit (checksum included) to bytes that parse to the same repr.
#include <cstdint>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/icmpv6.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  const Bytes in(data, size);
  auto v = Icmpv6View::parse(in);
  if (!v) {
    PASST_CHECK(size < kIcmpv6HeaderLen);
    return 0;
  }
  PASST_CHECK(v->body().size() + kIcmpv6HeaderLen == size);
  const Ipv6Addr src = parse_ipv6("fe80::1").value();
  const Ipv6Addr dst = parse_ipv6("2001:db8::2").value();
  // Filling the checksum into a copy always makes it verify.
  std::vector<u8> copy(in.begin(), in.end());
  PASST_CHECK(icmpv6_fill_checksum(src, dst, MutBytes(copy)).ok());
  PASST_CHECK(icmpv6_checksum_ok(src, dst, Bytes(copy)));

  auto e = Icmpv6EchoRepr::from(*v);
  if (!e) return 0;
  PASST_CHECK(e->length() == size);
  std::vector<u8> out(e->length());
  PASST_CHECK(e->emit(MutBytes(out), src, dst).ok());
  PASST_CHECK(icmpv6_checksum_ok(src, dst, Bytes(out)));
  auto v2 = Icmpv6View::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  auto e2 = Icmpv6EchoRepr::from(*v2);
  PASST_CHECK(e2.ok());
  PASST_CHECK(*e2 == *e);
  return 0;
}
