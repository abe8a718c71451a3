// ARP: parse succeeds exactly when the addresses fit; accessors stay inside
// the packet; an Ethernet/IPv4 packet re-emits to the same bytes.
#include <array>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz.hpp"
#include "wire/arp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  const Bytes in(data, size);
  auto v = ArpView::parse(in);
  const std::size_t need =
      size >= kArpFixedLen ? kArpFixedLen + 2 * (static_cast<std::size_t>(data[4]) + data[5]) : 0;
  if (!v) {
    PASST_CHECK(size < kArpFixedLen || size < need);
    return 0;
  }
  PASST_CHECK(size >= need && v->bytes().size() == need);
  PASST_CHECK(v->bytes().data() == data);
  const Bytes parts[] = {v->sha(), v->spa(), v->tha(), v->tpa()};
  std::size_t total = kArpFixedLen;
  for (Bytes p : parts) {
    PASST_CHECK(p.data() >= data && p.data() + p.size() <= data + need);
    total += p.size();
  }
  PASST_CHECK(total == need);
  auto r = ArpRepr::from(*v);
  PASST_CHECK(r.ok() == v->is_eth_ipv4());
  if (!r) return 0;
  std::array<u8, kArpEthIpv4Len> out{};
  PASST_CHECK(r->emit(MutBytes(out)).ok());
  PASST_CHECK(std::memcmp(out.data(), data, kArpEthIpv4Len) == 0);
  auto v2 = ArpView::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  auto r2 = ArpRepr::from(*v2);
  PASST_CHECK(r2.ok() && *r2 == *r);
  return 0;
}
