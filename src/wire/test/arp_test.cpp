#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"

namespace passt::wire {
namespace {

std::vector<u8> hex(std::string_view s) {
  std::vector<u8> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<u8>(nib(s[i]) * 16 + nib(s[i + 1])));
  return out;
}

// ARP request and reply captured on a veth pair (Linux 6.x): the ARP part
// of the frame (after the 14-byte Ethernet header).
const std::vector<u8> kRequest =
    hex("0001080006040001ee320f4952d50a0000010000000000000a000002");
const std::vector<u8> kReply =
    hex("0001080006040002e220dbc2390c0a000002ee320f4952d50a000001");

TEST(Arp, ParsesCapturedRequest) {
  auto v = ArpView::parse(Bytes(kRequest));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->htype(), arp_htype::ethernet);
  EXPECT_EQ(v->ptype(), ethertype::ipv4);
  EXPECT_EQ(v->hlen(), 6);
  EXPECT_EQ(v->plen(), 4);
  EXPECT_EQ(v->oper(), arp_op::request);
  EXPECT_TRUE(v->is_eth_ipv4());
  EXPECT_EQ(v->bytes().size(), kArpEthIpv4Len);
  auto r = ArpRepr::from(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->oper, arp_op::request);
  EXPECT_EQ(r->sha, (MacAddr{{0xee, 0x32, 0x0f, 0x49, 0x52, 0xd5}}));
  EXPECT_EQ(r->spa, Ipv4Addr::of(10, 0, 0, 1));
  EXPECT_TRUE(r->tha.is_zero());
  EXPECT_EQ(r->tpa, Ipv4Addr::of(10, 0, 0, 2));
}

TEST(Arp, EmitReproducesCapturedBytes) {
  for (const auto* pkt : {&kRequest, &kReply}) {
    auto v = ArpView::parse(Bytes(*pkt));
    ASSERT_TRUE(v);
    auto r = ArpRepr::from(*v);
    ASSERT_TRUE(r);
    std::vector<u8> out(ArpRepr::length() + 1, 0x5a);
    ASSERT_TRUE(r->emit(MutBytes(out)));
    EXPECT_EQ(std::vector<u8>(out.begin(), out.end() - 1), *pkt);
    EXPECT_EQ(out.back(), 0x5a);  // exactly length() bytes written
  }
}

TEST(Arp, EveryTruncationIsRejected) {
  for (std::size_t n = 0; n < kRequest.size(); n++)
    EXPECT_EQ(ArpView::parse(Bytes(kRequest).first(n)).err(), Err::truncated) << n;
}

TEST(Arp, EthernetPaddingIsNotPartOfThePacket) {
  std::vector<u8> padded = kRequest;
  padded.resize(46, 0);  // 60-byte minimum Ethernet frame
  auto v = ArpView::parse(Bytes(padded));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), kArpEthIpv4Len);
  EXPECT_EQ(v->tpa().size(), 4u);
}

TEST(Arp, OtherAddressSizesParseButHaveNoRepr) {
  // htype 6, ptype IPv6, hlen 8, plen 16: 8 + 2 * 24 = 56 bytes.
  std::vector<u8> p = {0, 6, 0x86, 0xdd, 8, 16, 0, 1};
  for (u8 i = 0; i < 48; i++) p.push_back(i);
  auto v = ArpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->is_eth_ipv4());
  EXPECT_EQ(v->sha().size(), 8u);
  EXPECT_EQ(v->spa().size(), 16u);
  EXPECT_EQ(v->tha().size(), 8u);
  EXPECT_EQ(v->tpa().size(), 16u);
  EXPECT_EQ(v->tha()[0], 24);
  EXPECT_EQ(v->tpa()[15], 47);
  EXPECT_EQ(ArpRepr::from(*v).err(), Err::not_supported);
  for (std::size_t n = 0; n < p.size(); n++)
    EXPECT_EQ(ArpView::parse(Bytes(p).first(n)).err(), Err::truncated) << n;
}

TEST(Arp, ZeroAddressSizes) {
  const std::vector<u8> p = {0, 1, 8, 0, 0, 0, 0, 1};
  auto v = ArpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->sha().empty());
  EXPECT_TRUE(v->tpa().empty());
  EXPECT_EQ(ArpRepr::from(*v).err(), Err::not_supported);
}

TEST(Arp, OffByOneAddressSize) {
  // plen 5 needs 30 bytes; the 28 we have are one address byte short twice.
  std::vector<u8> p = kRequest;
  p[5] = 5;
  EXPECT_EQ(ArpView::parse(Bytes(p)).err(), Err::truncated);
  p.resize(30, 0);
  auto v = ArpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->is_eth_ipv4());
}

TEST(Arp, EachNonEthIpv4FieldBlocksTheRepr) {
  for (std::size_t field : {0u, 2u}) {
    std::vector<u8> p = kRequest;
    store_be16(&p[field], 0x0006);
    auto v = ArpView::parse(Bytes(p));
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->is_eth_ipv4());
  }
}

TEST(Arp, EmitIntoShortBufferWritesNothing) {
  ArpRepr r{arp_op::reply, MacAddr{{1, 2, 3, 4, 5, 6}}, Ipv4Addr::of(1, 2, 3, 4),
            MacAddr{{6, 5, 4, 3, 2, 1}}, Ipv4Addr::of(4, 3, 2, 1)};
  std::vector<u8> out(ArpRepr::length() - 1, 0xee);
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::truncated);
  for (u8 b : out) EXPECT_EQ(b, 0xee);
}

}  // namespace
}  // namespace passt::wire
