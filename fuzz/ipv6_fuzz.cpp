// IPv6: the fixed header round-trips; the extension-header walk stays inside
// the payload, respects its bound, and gives the same answer on a re-emitted
// copy of the packet.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "util/endian.hpp"
#include "wire/ipv6.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = Ipv6View::parse(Bytes(data, size));
  if (!v) {
    PASST_CHECK(size < kIpv6HeaderLen || (data[0] >> 4) != 6 ||
                kIpv6HeaderLen + load_be16(data + 4) > size);
    return 0;
  }
  PASST_CHECK(v->bytes().size() == kIpv6HeaderLen + v->payload_len());
  PASST_CHECK(v->payload().size() == v->payload_len());
  PASST_CHECK(v->flow_label() <= 0xfffffu);
  auto u = v->upper_layer();
  if (u) {
    PASST_CHECK(u->ext_headers <= kIpv6MaxExtHeaders);
    PASST_CHECK(u->offset >= kIpv6HeaderLen && u->offset <= v->bytes().size());
    PASST_CHECK(u->bytes.data() == data + u->offset);
    PASST_CHECK(u->offset + u->bytes.size() == v->bytes().size());
    PASST_CHECK((u->ext_headers == 0) == (u->offset == kIpv6HeaderLen));
    if (!u->fragment) PASST_CHECK(u->frag_offset == 0 && !u->more_fragments);
    if (!u->fragment || u->frag_offset == 0) PASST_CHECK(!ipv6_is_ext_header(u->protocol));
  }

  Ipv6Repr r = Ipv6Repr::from(*v);
  std::vector<u8> out(r.total_len());
  PASST_CHECK(r.emit(MutBytes(out)).ok());
  PASST_CHECK(std::memcmp(out.data(), data, kIpv6HeaderLen) == 0);
  std::memcpy(out.data() + kIpv6HeaderLen, v->payload().data(), v->payload().size());
  auto v2 = Ipv6View::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  PASST_CHECK(Ipv6Repr::from(*v2) == r);
  auto u2 = v2->upper_layer();
  PASST_CHECK(u.ok() == u2.ok());
  if (u) {
    PASST_CHECK(u->protocol == u2->protocol && u->offset == u2->offset &&
                u->ext_headers == u2->ext_headers && u->fragment == u2->fragment &&
                u->frag_offset == u2->frag_offset && u->more_fragments == u2->more_fragments &&
                u->frag_ident == u2->frag_ident);
  } else {
    PASST_CHECK(u.err() == u2.err());
  }
  return 0;
}
