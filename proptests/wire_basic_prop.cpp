// Round-trip and algebraic properties of the basic wire pieces.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <vector>

#include "proptests/gen.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"

namespace passt::wire {
namespace {

RC_GTEST_PROP(EthernetProp, ReprRoundTrips, ()) {
  EthernetRepr r{gen::mac(), gen::mac(), *rc::gen::arbitrary<u16>()};
  std::array<u8, kEthHeaderLen> buf{};
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  auto v = EthernetView::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(EthernetRepr::from(*v) == r);
}

RC_GTEST_PROP(ChecksumProp, SplitAnywhereGivesSameSum, (const std::vector<u8>& data)) {
  const auto cut = *rc::gen::inRange<std::size_t>(0, data.size() + 1);
  Csum whole;
  whole.add(Bytes(data));
  Csum parts;
  parts.add(Bytes(data).subspan(0, cut)).add(Bytes(data).subspan(cut));
  RC_ASSERT(whole.fold() == parts.fold());
}

RC_GTEST_PROP(ChecksumProp, FilledInChecksumVerifies, (const std::vector<u8>& payload)) {
  // Any even-length header with its checksum placed at offset 0 verifies.
  std::vector<u8> d(payload);
  if (d.size() % 2 != 0) d.push_back(0);
  d.insert(d.begin(), {0, 0});
  u16 c = Csum().add(Bytes(d)).finish();
  d[0] = static_cast<u8>(c >> 8);
  d[1] = static_cast<u8>(c);
  RC_ASSERT(Csum().add(Bytes(d)).fold() == 0xffff);
}

RC_GTEST_PROP(ChecksumProp, IncrementalUpdateEqualsRecompute, (const std::vector<u8>& payload)) {
  std::vector<u8> d(payload);
  if (d.size() % 2 != 0) d.push_back(0);
  if (d.size() < 4) d.resize(4);
  const auto idx = *rc::gen::inRange<std::size_t>(0, d.size() / 2) * 2;
  const u16 nv = *rc::gen::arbitrary<u16>();
  u16 c = Csum().add(Bytes(d)).finish();
  u16 ov = static_cast<u16>((d[idx] << 8) | d[idx + 1]);
  d[idx] = static_cast<u8>(nv >> 8);
  d[idx + 1] = static_cast<u8>(nv);
  u16 upd = csum_update16(c, ov, nv);
  u16 re = Csum().add(Bytes(d)).finish();
  // 0x0000 and 0xffff are the same number in one's complement.
  RC_ASSERT((upd == re) || (upd == 0xffff && re == 0) || (upd == 0 && re == 0xffff));
}

}  // namespace
}  // namespace passt::wire
