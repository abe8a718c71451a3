// Virtio-net header and the tap checksum rules: the first 10 bytes parse
// and re-emit exactly; the rest is a frame: l4_csum_site() stays inside it,
// and a checksum left to the tap (l4_csum_left), completed as the kernel
// completes NEEDS_CSUM from the pseudo-header sum, verifies as a TCP/UDP
// checksum over the same pseudo-header.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/vnet_hdr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto h = VnetHdr::parse(Bytes(data, size));
  if (!h) {
    PASST_CHECK(size < kVnetHdrLen);
    return 0;
  }
  std::array<u8, kVnetHdrLen> out{};
  PASST_CHECK(h->emit(MutBytes(out)).ok());
  PASST_CHECK(std::memcmp(out.data(), data, kVnetHdrLen) == 0);

  std::vector<u8> f(data + kVnetHdrLen, data + size);
  auto s = l4_csum_site(Bytes(f));
  if (!s) return 0;
  PASST_CHECK(s->offset == 16 || s->offset == 6);
  PASST_CHECK(std::size_t{s->start} + s->offset + 2 <= f.size());
  auto left = l4_csum_left(Bytes(f));
  if (!left) return 0;
  PASST_CHECK(load_be16(f.data() + s->start + s->offset) == 0);
  const VnetHdr n = vnet_needs_csum(*left);
  PASST_CHECK(n.flags == vnet::f_needs_csum && n.csum_start == left->start);
  store_be16(f.data() + left->start + left->offset, static_cast<u16>(left->pseudo));
  const u16 c = Csum().add(Bytes(f).subspan(left->start)).finish();
  store_be16(f.data() + left->start + left->offset, c);
  // Over the whole tail the sum with the pseudo-header is now 0 (verifies).
  PASST_CHECK(Csum().add_partial(left->pseudo).add(Bytes(f).subspan(left->start)).fold() == 0xffff);
  return 0;
}
