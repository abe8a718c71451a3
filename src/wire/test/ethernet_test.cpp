#include <gtest/gtest.h>

#include <array>

#include "wire/ethernet.hpp"

namespace passt::wire {
namespace {

TEST(Ethernet, ParsesHeader) {
  const std::array<u8, 16> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00,
                                0x12, 0x34, 0x56, 0x08, 0x06, 0xaa, 0xbb};
  auto v = EthernetView::parse(Bytes(f));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->dst().is_broadcast());
  EXPECT_EQ(v->src(), (MacAddr{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}}));
  EXPECT_EQ(v->ethertype(), ethertype::arp);
  EXPECT_EQ(v->payload().size(), 2u);
}

TEST(Ethernet, RejectsShortFrames) {
  std::array<u8, 13> f{};
  EXPECT_EQ(EthernetView::parse(Bytes(f)).err(), Err::truncated);
  EXPECT_EQ(EthernetView::parse(Bytes()).err(), Err::truncated);
}

TEST(Ethernet, EmitWritesExactlyTheHeader) {
  EthernetRepr r{MacAddr{{1, 2, 3, 4, 5, 6}}, MacAddr{{7, 8, 9, 10, 11, 12}}, ethertype::ipv6};
  std::array<u8, 15> buf{};
  buf[14] = 0x77;
  ASSERT_TRUE(r.emit(MutBytes(buf)));
  EXPECT_EQ(buf[14], 0x77);  // nothing past the header
  auto v = EthernetView::parse(Bytes(buf));
  ASSERT_TRUE(v);
  EXPECT_EQ(EthernetRepr::from(*v), r);
  std::array<u8, 13> small{};
  EXPECT_FALSE(r.emit(MutBytes(small)));
}

}  // namespace
}  // namespace passt::wire
