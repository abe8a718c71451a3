#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/icmp.hpp"

namespace passt::wire {
namespace {

std::vector<u8> hex(std::string_view s) {
  std::vector<u8> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<u8>(nib(s[i]) * 16 + nib(s[i + 1])));
  return out;
}

// Captured from Linux on a veth pair (IP header stripped).
const std::vector<u8> kEchoRequest =
    hex("08008d371234000170696e67207061796c6f61642030313233343536373839");
const std::vector<u8> kEchoReply =
    hex("000095371234000170696e67207061796c6f61642030313233343536373839");
const std::vector<u8> kEmptyEcho = hex("0800e5c912340002");
// Port unreachable, quoting the offending IPv4 header and 8 bytes of UDP.
const std::vector<u8> kPortUnreach = hex(
    "030311240000000045000027668640004011c03d0a0000020a00000114e9a6020013f5c06e6f2063"
    "6865636b73756d");

TEST(Icmp, ParsesCapturedEcho) {
  auto v = IcmpView::parse(Bytes(kEchoRequest));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->type(), icmp_type::echo_request);
  EXPECT_EQ(v->code(), 0);
  EXPECT_EQ(v->checksum(), 0x8d37);
  EXPECT_EQ(v->rest(), 0x12340001u);
  EXPECT_TRUE(v->is_echo());
  EXPECT_EQ(v->echo_id(), 0x1234);
  EXPECT_EQ(v->echo_seq(), 1);
  EXPECT_EQ(v->payload().size(), 23u);
  EXPECT_TRUE(v->checksum_ok());
  auto r = IcmpEchoRepr::from(*v);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->request);
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->seq, 1);
  EXPECT_EQ(r->payload_len, 23u);
}

TEST(Icmp, EchoEmitReproducesCapturedBytes) {
  for (const auto* pkt : {&kEchoRequest, &kEchoReply, &kEmptyEcho}) {
    auto v = IcmpView::parse(Bytes(*pkt));
    ASSERT_TRUE(v);
    auto r = IcmpEchoRepr::from(*v);
    ASSERT_TRUE(r);
    // Payload in place, header area scribbled over.
    std::vector<u8> out = *pkt;
    for (std::size_t i = 0; i < 8; i++) out[i] = 0xcc;
    out.push_back(0x5a);
    ASSERT_TRUE(r->emit(MutBytes(out)));
    EXPECT_EQ(std::vector<u8>(out.begin(), out.end() - 1), *pkt);
    EXPECT_EQ(out.back(), 0x5a);
  }
}

TEST(Icmp, GenericReprRoundTripsAnError) {
  auto v = IcmpView::parse(Bytes(kPortUnreach));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->checksum_ok());
  EXPECT_FALSE(v->is_echo());
  EXPECT_EQ(IcmpEchoRepr::from(*v).err(), Err::not_supported);
  IcmpRepr r = IcmpRepr::from(*v);
  EXPECT_EQ(r.type, icmp_type::dest_unreach);
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.rest, 0u);
  EXPECT_EQ(r.payload_len, 39u);
  std::vector<u8> out = kPortUnreach;
  store_be16(&out[2], 0);
  ASSERT_TRUE(r.emit(MutBytes(out)));
  EXPECT_EQ(out, kPortUnreach);
}

TEST(Icmp, EveryTruncationOfTheHeaderIsRejected) {
  for (std::size_t n = 0; n < kIcmpHeaderLen; n++)
    EXPECT_EQ(IcmpView::parse(Bytes(kEchoRequest).first(n)).err(), Err::truncated) << n;
  auto v = IcmpView::parse(Bytes(kEchoRequest).first(kIcmpHeaderLen));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
}

TEST(Icmp, EchoWithNonZeroCodeIsMalformed) {
  std::vector<u8> p = kEchoRequest;
  p[1] = 1;
  EXPECT_EQ(IcmpEchoRepr::from(*IcmpView::parse(Bytes(p))).err(), Err::malformed);
  EXPECT_FALSE(IcmpView::parse(Bytes(p))->checksum_ok());
}

TEST(Icmp, ChecksumOverOddLengthPayload) {
  IcmpEchoRepr r{false, 7, 9, 3};
  std::vector<u8> out = {0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
  ASSERT_TRUE(r.emit(MutBytes(out)));
  auto v = IcmpView::parse(Bytes(out));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->checksum_ok());
  EXPECT_EQ(v->type(), icmp_type::echo_reply);
  out[10] ^= 0x10;
  EXPECT_FALSE(IcmpView::parse(Bytes(out))->checksum_ok());
}

TEST(Icmp, EmitNeedsRoomForThePayload) {
  IcmpEchoRepr r{true, 1, 1, 4};
  std::vector<u8> out(11, 0xee);
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::truncated);
  for (u8 b : out) EXPECT_EQ(b, 0xee);
  r.payload_len = SIZE_MAX;  // length() would wrap
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::truncated);
  for (u8 b : out) EXPECT_EQ(b, 0xee);
}

}  // namespace
}  // namespace passt::wire
