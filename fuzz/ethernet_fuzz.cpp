// Ethernet header: parse, and if it parses, the repr round-trips exactly.
#include <array>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz.hpp"
#include "wire/ethernet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = EthernetView::parse(Bytes(data, size));
  if (!v) {
    PASST_CHECK(size < kEthHeaderLen);
    return 0;
  }
  EthernetRepr r = EthernetRepr::from(*v);
  std::array<u8, kEthHeaderLen> out{};
  PASST_CHECK(r.emit(MutBytes(out)).ok());
  PASST_CHECK(std::memcmp(out.data(), data, kEthHeaderLen) == 0);
  return 0;
}
