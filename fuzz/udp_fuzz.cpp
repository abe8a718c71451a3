// UDP: parse agrees with the length rules and cuts to the length field; the
// repr re-emits (with v4 and v6 checksums, and without) to datagrams that
// parse to the same repr and verify.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "util/endian.hpp"
#include "wire/udp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  const Ipv4Addr s4 = Ipv4Addr::of(10, 0, 0, 1);
  const Ipv4Addr d4 = Ipv4Addr::of(10, 0, 0, 2);
  const Ipv6Addr s6 = *parse_ipv6("fd00::1");
  const Ipv6Addr d6 = *parse_ipv6("fd00::2");
  auto v = UdpView::parse(Bytes(data, size));
  if (!v) {
    PASST_CHECK(size < kUdpHeaderLen || load_be16(data + 4) < kUdpHeaderLen ||
                load_be16(data + 4) > size);
    return 0;
  }
  PASST_CHECK(v->bytes().size() == v->length() && v->length() <= size);
  PASST_CHECK(v->payload().size() + kUdpHeaderLen == v->length());
  const bool ok4 = v->checksum_ok(s4, d4);
  const bool ok6 = v->checksum_ok(s6, d6);
  if (v->checksum() == 0) PASST_CHECK(ok4 && !ok6);

  UdpRepr r = UdpRepr::from(*v);
  PASST_CHECK(r.length() == v->length());
  std::vector<u8> out(v->bytes().begin(), v->bytes().end());
  PASST_CHECK(r.emit(MutBytes(out), s4, d4).ok());
  auto v4 = UdpView::parse(Bytes(out));
  PASST_CHECK(v4.ok() && v4->checksum() != 0 && v4->checksum_ok(s4, d4));
  PASST_CHECK(UdpRepr::from(*v4) == r);
  if (ok4 && v->checksum() != 0) PASST_CHECK(std::memcmp(out.data(), data, out.size()) == 0);

  PASST_CHECK(r.emit(MutBytes(out), s6, d6).ok());
  auto v6 = UdpView::parse(Bytes(out));
  PASST_CHECK(v6.ok() && v6->checksum() != 0 && v6->checksum_ok(s6, d6));
  PASST_CHECK(UdpRepr::from(*v6) == r);
  if (ok6) PASST_CHECK(std::memcmp(out.data(), data, out.size()) == 0);

  PASST_CHECK(r.emit(MutBytes(out)).ok());
  auto v0 = UdpView::parse(Bytes(out));
  PASST_CHECK(v0.ok() && v0->checksum() == 0 && v0->checksum_ok(s4, d4));
  PASST_CHECK(UdpRepr::from(*v0) == r);
  return 0;
}
