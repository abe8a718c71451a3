#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/udp.hpp"

namespace passt::wire {
namespace {

std::vector<u8> hex(std::string_view s) {
  std::vector<u8> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<u8>(nib(s[i]) * 16 + nib(s[i + 1])));
  return out;
}

const Ipv4Addr kA4 = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kB4 = Ipv4Addr::of(10, 0, 0, 2);
const Ipv6Addr kA6 = *parse_ipv6("fd00::1");
const Ipv6Addr kB6 = *parse_ipv6("fd00::2");

// Captured from Linux on a veth pair, 10.0.0.1 -> 10.0.0.2 and fd00::1 ->
// fd00::2, port 37900/60368 -> 5353.
const std::vector<u8> kUdp4 = hex("940c14e9001c6bd975647020646174616772616d207061796c6f6164");
const std::vector<u8> kEmpty4 = hex("940c14e9000842e6");
const std::vector<u8> kUdp6 = hex("ebd014e9001c2e1375647020646174616772616d207061796c6f6164");
const std::vector<u8> kEmpty6 = hex("ebd014e900080520");
// SO_NO_CHECK: checksum field 0.
const std::vector<u8> kNoCsum4 = hex("a60214e9001300006e6f20636865636b73756d");

TEST(Udp, ParsesCapturedDatagram) {
  auto v = UdpView::parse(Bytes(kUdp4));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src_port(), 37900);
  EXPECT_EQ(v->dst_port(), 5353);
  EXPECT_EQ(v->length(), 28);
  EXPECT_EQ(v->checksum(), 0x6bd9);
  EXPECT_EQ(v->payload().size(), 20u);
  EXPECT_EQ(v->payload()[0], 'u');
  EXPECT_TRUE(v->checksum_ok(kA4, kB4));
  EXPECT_FALSE(v->checksum_ok(kB4, Ipv4Addr::of(10, 0, 0, 3)));
  auto v6 = UdpView::parse(Bytes(kUdp6));
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->checksum_ok(kA6, kB6));
  EXPECT_FALSE(v6->checksum_ok(kA6, kA6));
}

TEST(Udp, EmitReproducesCapturedDatagrams) {
  for (const auto* pkt : {&kUdp4, &kEmpty4}) {
    UdpRepr r = UdpRepr::from(*UdpView::parse(Bytes(*pkt)));
    std::vector<u8> out = *pkt;
    for (std::size_t i = 0; i < 8; i++) out[i] = 0xcc;
    ASSERT_TRUE(r.emit(MutBytes(out), kA4, kB4));
    EXPECT_EQ(out, *pkt);
  }
  for (const auto* pkt : {&kUdp6, &kEmpty6}) {
    UdpRepr r = UdpRepr::from(*UdpView::parse(Bytes(*pkt)));
    std::vector<u8> out = *pkt;
    for (std::size_t i = 0; i < 8; i++) out[i] = 0xcc;
    ASSERT_TRUE(r.emit(MutBytes(out), kA6, kB6));
    EXPECT_EQ(out, *pkt);
  }
  UdpRepr r = UdpRepr::from(*UdpView::parse(Bytes(kNoCsum4)));
  std::vector<u8> out = kNoCsum4;
  for (std::size_t i = 0; i < 8; i++) out[i] = 0xcc;
  ASSERT_TRUE(r.emit(MutBytes(out)));
  EXPECT_EQ(out, kNoCsum4);
}

TEST(Udp, ZeroChecksumMeansNoneOnlyOverIpv4) {
  auto v = UdpView::parse(Bytes(kNoCsum4));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->checksum(), 0);
  EXPECT_TRUE(v->checksum_ok(kA4, kB4));
  EXPECT_TRUE(v->checksum_ok(kB4, kB4));  // nothing to verify
  EXPECT_FALSE(v->checksum_ok(kA6, kB6));
}

TEST(Udp, ComputedZeroIsSentAsAllOnes) {
  // Choose a payload word that makes the sum come out as zero (see
  // RFC 768): the checksum of an all-zero payload is exactly that word.
  UdpRepr r{1234, 5678, 2};
  std::vector<u8> out(10, 0);
  ASSERT_TRUE(r.emit(MutBytes(out), kA4, kB4));
  const u16 w = load_be16(&out[6]);
  store_be16(&out[8], w);
  ASSERT_TRUE(r.emit(MutBytes(out), kA4, kB4));
  EXPECT_EQ(load_be16(&out[6]), 0xffff);
  EXPECT_TRUE(UdpView::parse(Bytes(out))->checksum_ok(kA4, kB4));
  // The same for IPv6.
  store_be16(&out[8], 0);
  ASSERT_TRUE(r.emit(MutBytes(out), kA6, kB6));
  store_be16(&out[8], load_be16(&out[6]));
  ASSERT_TRUE(r.emit(MutBytes(out), kA6, kB6));
  EXPECT_EQ(load_be16(&out[6]), 0xffff);
  EXPECT_TRUE(UdpView::parse(Bytes(out))->checksum_ok(kA6, kB6));
}

TEST(Udp, EveryTruncationIsRejected) {
  for (const auto* pkt : {&kUdp4, &kEmpty4, &kNoCsum4})
    for (std::size_t n = 0; n < pkt->size(); n++)
      EXPECT_EQ(UdpView::parse(Bytes(*pkt).first(n)).err(), Err::truncated) << n;
}

TEST(Udp, LengthFieldBounds) {
  std::vector<u8> p = kUdp4;
  for (u16 len = 0; len < 8; len++) {
    store_be16(&p[4], len);
    EXPECT_EQ(UdpView::parse(Bytes(p)).err(), Err::malformed) << len;
  }
  store_be16(&p[4], 8);
  auto v = UdpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
  store_be16(&p[4], static_cast<u16>(p.size() + 1));
  EXPECT_EQ(UdpView::parse(Bytes(p)).err(), Err::truncated);
  store_be16(&p[4], static_cast<u16>(p.size()));
  EXPECT_TRUE(UdpView::parse(Bytes(p)));
}

TEST(Udp, BytesPastTheLengthFieldAreNotPayload) {
  std::vector<u8> p = kUdp4;
  p.insert(p.end(), {'x', 'y', 'z'});
  auto v = UdpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), kUdp4.size());
  EXPECT_EQ(v->payload().size(), 20u);
  EXPECT_TRUE(v->checksum_ok(kA4, kB4));
}

TEST(Udp, EmitLimits) {
  UdpRepr r{1, 2, kUdpMaxPayload};
  std::vector<u8> out(r.length(), 0);
  ASSERT_TRUE(r.emit(MutBytes(out), kA6, kB6));
  EXPECT_EQ(load_be16(&out[4]), 65535);
  EXPECT_TRUE(UdpView::parse(Bytes(out))->checksum_ok(kA6, kB6));
  r.payload_len = kUdpMaxPayload + 1;
  out.resize(r.length());
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::invalid);
  r.payload_len = 4;
  std::vector<u8> small(11, 0xee);
  EXPECT_EQ(r.emit(MutBytes(small)).err(), Err::truncated);
  for (u8 b : small) EXPECT_EQ(b, 0xee);
  r.payload_len = SIZE_MAX;  // length() would wrap
  EXPECT_EQ(r.emit(MutBytes(small)).err(), Err::invalid);
  for (u8 b : small) EXPECT_EQ(b, 0xee);
}

}  // namespace
}  // namespace passt::wire
