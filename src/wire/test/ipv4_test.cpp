#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace passt::wire {
namespace {

std::vector<u8> hex(std::string_view s) {
  std::vector<u8> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<u8>(nib(s[i]) * 16 + nib(s[i + 1])));
  return out;
}

// Captured from Linux on a veth pair (Ethernet header stripped).
// TCP SYN 10.0.0.1 -> 10.0.0.2, DF, id 0xfd56.
const std::vector<u8> kSyn = hex(
    "4500003cfd564000400629630a0000010a000002bd0c1f90a18300a400000000a002fbe013dd0000"
    "020404d80402080afb9eaab5000000000103030a");
// TCP RST+ACK 10.0.0.2 -> 10.0.0.1, id 0.
const std::vector<u8> kRst =
    hex("4500002800004000400626ce0a0000020a0000010009e79400000000bf120c8e50140000e88f0000");
// ICMP echo with a record-route option (IHL 15).
const std::vector<u8> kRecordRoute = hex(
    "4f0000463d5b40004001cf280a0000010a0000020727080a0000010000000000000000000000000000"
    "0000000000000000000000000000000000000008004342424200097272");
// Last fragment of a UDP datagram: offset 314 (2512 bytes), MF clear.
const std::vector<u8> kLastFrag = hex(
    "4500004c2ac5013a40113aa00a0000010a000002c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadb"
    "dcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

TEST(Ipv4, ParsesCapturedSyn) {
  auto v = Ipv4View::parse(Bytes(kSyn));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version(), 4);
  EXPECT_EQ(v->header_len(), 20u);
  EXPECT_EQ(v->tos(), 0);
  EXPECT_EQ(v->total_len(), 60);
  EXPECT_EQ(v->ident(), 0xfd56);
  EXPECT_TRUE(v->dont_fragment());
  EXPECT_FALSE(v->more_fragments());
  EXPECT_FALSE(v->reserved_flag());
  EXPECT_EQ(v->frag_offset(), 0);
  EXPECT_FALSE(v->is_fragment());
  EXPECT_EQ(v->ttl(), 64);
  EXPECT_EQ(v->protocol(), ipproto::tcp);
  EXPECT_EQ(v->checksum(), 0x2963);
  EXPECT_EQ(v->src(), Ipv4Addr::of(10, 0, 0, 1));
  EXPECT_EQ(v->dst(), Ipv4Addr::of(10, 0, 0, 2));
  EXPECT_TRUE(v->options().empty());
  EXPECT_EQ(v->payload().size(), 40u);
  EXPECT_EQ(v->payload()[0], 0xbd);
  EXPECT_TRUE(v->checksum_ok());
}

TEST(Ipv4, ReprEmitReproducesCapturedHeaders) {
  for (const auto* pkt : {&kSyn, &kRst}) {
    auto v = Ipv4View::parse(Bytes(*pkt));
    ASSERT_TRUE(v);
    Ipv4Repr r = Ipv4Repr::from(*v);
    EXPECT_EQ(r.total_len(), pkt->size());
    std::vector<u8> out(pkt->size(), 0x5a);
    ASSERT_TRUE(r.emit(MutBytes(out)));
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + 20, pkt->begin()));
    EXPECT_EQ(out[20], 0x5a);  // the payload is not touched
  }
}

TEST(Ipv4, EveryTruncationIsRejected) {
  for (const auto* pkt : {&kSyn, &kRst, &kRecordRoute, &kLastFrag})
    for (std::size_t n = 0; n < pkt->size(); n++)
      EXPECT_EQ(Ipv4View::parse(Bytes(*pkt).first(n)).err(), Err::truncated) << n;
}

TEST(Ipv4, PaddingIsCutByTotalLength) {
  std::vector<u8> p = kRst;
  p.resize(46, 0);  // minimum Ethernet payload
  auto v = Ipv4View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), 40u);
  EXPECT_EQ(v->payload().size(), 20u);
}

TEST(Ipv4, BadVersionAndIhl) {
  std::vector<u8> p = kRst;
  p[0] = 0x65;
  EXPECT_EQ(Ipv4View::parse(Bytes(p)).err(), Err::malformed);
  for (u8 ihl = 0; ihl < 5; ihl++) {
    p[0] = static_cast<u8>(0x40 | ihl);
    EXPECT_EQ(Ipv4View::parse(Bytes(p)).err(), Err::malformed) << int{ihl};
  }
  // IHL 11 = 44 bytes: more than the 40 we have.
  p[0] = 0x4b;
  EXPECT_EQ(Ipv4View::parse(Bytes(p)).err(), Err::truncated);
  // IHL 10 = 40 bytes = total length: valid, empty payload.
  p[0] = 0x4a;
  auto v = Ipv4View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->options().size(), 20u);
  EXPECT_TRUE(v->payload().empty());
}

TEST(Ipv4, TotalLengthBounds) {
  std::vector<u8> p = kRst;
  store_be16(&p[2], 19);
  EXPECT_EQ(Ipv4View::parse(Bytes(p)).err(), Err::malformed);
  store_be16(&p[2], 20);
  auto v = Ipv4View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
  store_be16(&p[2], 41);
  EXPECT_EQ(Ipv4View::parse(Bytes(p)).err(), Err::truncated);
  store_be16(&p[2], 40);
  EXPECT_TRUE(Ipv4View::parse(Bytes(p)));
  // Total length must also cover the options.
  p[0] = 0x46;
  store_be16(&p[2], 23);
  EXPECT_EQ(Ipv4View::parse(Bytes(p)).err(), Err::malformed);
}

TEST(Ipv4, OptionsAreExposed) {
  auto v = Ipv4View::parse(Bytes(kRecordRoute));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->ihl(), 15);
  EXPECT_EQ(v->header_len(), 60u);
  ASSERT_EQ(v->options().size(), 40u);
  EXPECT_EQ(v->options()[0], 7);   // record route
  EXPECT_EQ(v->options()[1], 39);  // its length
  EXPECT_EQ(v->payload().size(), 10u);
  EXPECT_EQ(v->payload()[0], 8);  // ICMP echo request
  EXPECT_TRUE(v->checksum_ok());
  // The repr drops options: a 20-byte header for the same payload.
  Ipv4Repr r = Ipv4Repr::from(*v);
  EXPECT_EQ(r.payload_len, 10);
  EXPECT_EQ(r.total_len(), 30u);
}

TEST(Ipv4, FragmentFields) {
  auto v = Ipv4View::parse(Bytes(kLastFrag));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->dont_fragment());
  EXPECT_FALSE(v->more_fragments());
  EXPECT_EQ(v->frag_offset(), 314);
  EXPECT_TRUE(v->is_fragment());
  EXPECT_TRUE(v->checksum_ok());
  std::vector<u8> p = kLastFrag;
  p[6] = 0x20;  // MF, offset 0: a first fragment
  p[7] = 0;
  v = Ipv4View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->more_fragments());
  EXPECT_EQ(v->frag_offset(), 0);
  EXPECT_TRUE(v->is_fragment());
  EXPECT_FALSE(v->checksum_ok());
  p[6] = 0x80;  // the reserved ("evil") bit alone
  v = Ipv4View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->reserved_flag());
  EXPECT_FALSE(v->is_fragment());
}

TEST(Ipv4, ChecksumCatchesEveryHeaderByteFlip) {
  for (std::size_t i = 0; i < 20; i++) {
    std::vector<u8> p = kSyn;
    p[i] ^= 0x01;
    auto v = Ipv4View::parse(Bytes(p));
    if (!v) continue;  // version/IHL/length bytes may no longer parse
    EXPECT_FALSE(v->checksum_ok()) << i;
  }
}

TEST(Ipv4, EmitLimits) {
  Ipv4Repr r;
  r.src = Ipv4Addr::of(192, 0, 2, 1);
  r.dst = Ipv4Addr::of(198, 51, 100, 7);
  r.protocol = ipproto::udp;
  r.ttl = 255;
  r.tos = 0xb8;
  r.ident = 0xbeef;
  r.dont_fragment = true;
  r.payload_len = 65515;
  std::vector<u8> out(20, 0);
  ASSERT_TRUE(r.emit(MutBytes(out)));
  EXPECT_EQ(load_be16(&out[2]), 65535);
  EXPECT_EQ(ipv4_header_checksum(Bytes(out)), 0);
  EXPECT_EQ(out[0], 0x45);
  EXPECT_EQ(out[1], 0xb8);
  EXPECT_EQ(out[6], 0x40);
  EXPECT_EQ(out[8], 255);
  r.payload_len = 65516;
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::invalid);
  r.payload_len = 0;
  std::vector<u8> small(19, 0xee);
  EXPECT_EQ(r.emit(MutBytes(small)).err(), Err::truncated);
  for (u8 b : small) EXPECT_EQ(b, 0xee);
}

}  // namespace
}  // namespace passt::wire
