#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/frame.hpp"

namespace passt::wire {
namespace {

std::vector<u8> hex(std::string_view s) {
  std::vector<u8> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<u8>(nib(s[i]) * 16 + nib(s[i + 1])));
  return out;
}

// Whole frames captured from Linux 6.x on a veth pair (checksum offload off).
const std::vector<u8> kArp =
    hex("ffffffffffffee320f4952d508060001080006040001ee320f4952d50a0000010000000000000a000002");
const std::vector<u8> kSyn4 = hex(
    "e220dbc2390cee320f4952d508004500003cfd564000400629630a0000010a000002bd0c1f90a18300a4"
    "00000000a002fbe013dd0000020404d80402080afb9eaab5000000000103030a");
const std::vector<u8> kRst4 = hex(
    "ee320f4952d5e220dbc2390c08004500002800004000400626ce0a0000020a0000010009e79400000000"
    "bf120c8e50140000e88f0000");
const std::vector<u8> kUdp4 = hex(
    "e220dbc2390cee320f4952d50800450000302ac340004011fbf70a0000010a000002940c14e9001c6bd9"
    "75647020646174616772616d207061796c6f6164");
const std::vector<u8> kUdpNoCsum4 = hex(
    "e220dbc2390cee320f4952d50800450000272ade40004011fbe50a0000010a000002a60214e900130000"
    "6e6f20636865636b73756d");
const std::vector<u8> kLastFrag4 = hex(
    "e220dbc2390cee320f4952d508004500004c2ac5013a40113aa00a0000010a000002c8c9cacbcccdcecf"
    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9"
    "fafbfcfdfeff");
const std::vector<u8> kEcho4 = hex(
    "e220dbc2390cee320f4952d50800450000333d4840004001e97f0a0000010a00000208008d3712340001"
    "70696e67207061796c6f61642030313233343536373839");
const std::vector<u8> kSyn6 = hex(
    "e220dbc2390cee320f4952d586dd6002416600280640fd000000000000000000000000000001fd000000"
    "000000000000000000000002cc261f90bc6a5aa100000000a002fc945aba0000020404c40402080a5bbd"
    "9919000000000103030a");
const std::vector<u8> kUdp6 = hex(
    "e220dbc2390cee320f4952d586dd600bb401001c1140fd000000000000000000000000000001fd000000"
    "000000000000000000000002ebd014e9001c2e1375647020646174616772616d207061796c6f6164");
const std::vector<u8> kMld6 = hex(
    "333300000016e220dbc2390c86dd6000000000380001fe80000000000000e020dbfffec2390cff020000"
    "0000000000000000000000163a000502000001008f00412f0000000204000000ff020000000000000000"
    "0001ffc2390c04000000ff0200000000000000000001ff000002");
const std::vector<u8> kEcho6DstOpts = hex(
    "e220dbc2390cee320f4952d586dd6009fe5100133c40fd000000000000000000000000000001fd000000"
    "0000000000000000000000023a00010400000000800056c656780003647374");
const std::vector<u8> kLastFrag6 = hex(
    "e220dbc2390cee320f4952d586dd600bb40100702c40fd000000000000000000000000000001fd000000"
    "000000000000000000000002110009a0fbe07a3898999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacad"
    "aeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7"
    "d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

const std::vector<const std::vector<u8>*> kAll = {
    &kArp,  &kSyn4, &kRst4, &kUdp4, &kUdpNoCsum4,   &kLastFrag4, &kEcho4,
    &kSyn6, &kUdp6, &kMld6, &kEcho6DstOpts, &kLastFrag6};

const InAny kA4 = InAny::from(Ipv4Addr::of(10, 0, 0, 1));
const InAny kB4 = InAny::from(Ipv4Addr::of(10, 0, 0, 2));
const InAny kA6 = *parse_inany("fd00::1");
const InAny kB6 = *parse_inany("fd00::2");

TEST(Frame, Arp) {
  auto f = parse_frame(Bytes(kArp));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->eth_dst.is_broadcast());
  EXPECT_EQ(f->ethertype, ethertype::arp);
  EXPECT_EQ(f->l3, L3::arp);
  ASSERT_TRUE(f->arp);
  EXPECT_FALSE(f->ip4 || f->ip6);
  EXPECT_EQ(f->arp->oper(), arp_op::request);
  EXPECT_EQ(f->l3_bytes.size(), 28u);
  EXPECT_EQ(f->l4, L4::none);
  EXPECT_TRUE(frame_checksums_ok(*f));
}

TEST(Frame, Tcp4) {
  auto f = parse_frame(Bytes(kSyn4));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l3, L3::ipv4);
  ASSERT_TRUE(f->ip4);
  EXPECT_EQ(f->src, kA4);
  EXPECT_EQ(f->dst, kB4);
  EXPECT_TRUE(f->src.is_v4());
  EXPECT_EQ(f->hop_limit, 64);
  EXPECT_EQ(f->l4_proto, ipproto::tcp);
  EXPECT_FALSE(f->fragment);
  EXPECT_EQ(f->l4, L4::tcp);
  ASSERT_TRUE(f->tcp);
  EXPECT_FALSE(f->udp || f->icmp);
  EXPECT_EQ(f->l4_offset, 34u);
  EXPECT_EQ(f->l4_bytes.size(), 40u);
  EXPECT_EQ(f->l4_bytes.data(), kSyn4.data() + 34);
  EXPECT_EQ(f->src_port, 48396);
  EXPECT_EQ(f->dst_port, 8080);
  EXPECT_TRUE(f->payload.empty());
  EXPECT_TRUE(f->tcp->has(tcp_flag::syn));
  EXPECT_TRUE(frame_checksums_ok(*f));
}

TEST(Frame, EthernetPaddingNeverReachesL4) {
  std::vector<u8> padded = kRst4;
  padded.resize(60, 0);
  auto f = parse_frame(Bytes(padded));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l3_bytes.size(), 40u);
  EXPECT_EQ(f->l4_bytes.size(), 20u);
  EXPECT_TRUE(f->payload.empty());
  EXPECT_TRUE(frame_checksums_ok(*f));
}

TEST(Frame, Udp) {
  auto f = parse_frame(Bytes(kUdp4));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::udp);
  ASSERT_TRUE(f->udp);
  EXPECT_EQ(f->src_port, 37900);
  EXPECT_EQ(f->dst_port, 5353);
  EXPECT_EQ(f->payload.size(), 20u);
  EXPECT_TRUE(frame_checksums_ok(*f));

  f = parse_frame(Bytes(kUdpNoCsum4));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->udp->checksum(), 0);
  EXPECT_TRUE(frame_checksums_ok(*f));

  f = parse_frame(Bytes(kUdp6));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l3, L3::ipv6);
  EXPECT_EQ(f->src, kA6);
  EXPECT_EQ(f->dst, kB6);
  EXPECT_FALSE(f->src.is_v4());
  EXPECT_EQ(f->l4, L4::udp);
  EXPECT_EQ(f->l4_offset, 54u);
  EXPECT_EQ(f->payload.size(), 20u);
  EXPECT_TRUE(frame_checksums_ok(*f));
}

TEST(Frame, Icmp) {
  auto f = parse_frame(Bytes(kEcho4));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::icmp);
  ASSERT_TRUE(f->icmp);
  EXPECT_EQ(f->icmp->echo_id(), 0x1234);
  EXPECT_EQ(f->src_port, 0);
  EXPECT_EQ(f->payload.size(), 23u);
  EXPECT_TRUE(frame_checksums_ok(*f));
}

TEST(Frame, Icmpv6IsOnlyIdentified) {
  auto f = parse_frame(Bytes(kMld6));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::icmpv6);
  EXPECT_EQ(f->l4_proto, ipproto::icmpv6);
  EXPECT_EQ(f->l4_offset, 14u + 48);
  EXPECT_EQ(f->l4_bytes.size(), 48u);
  EXPECT_EQ(f->l4_bytes[0], 143);
  EXPECT_FALSE(f->tcp || f->udp || f->icmp);
  EXPECT_TRUE(f->payload.empty());
  EXPECT_EQ(f->hop_limit, 1);
  EXPECT_TRUE(frame_checksums_ok(*f));

  f = parse_frame(Bytes(kEcho6DstOpts));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::icmpv6);
  EXPECT_EQ(f->l4_bytes[0], 128);
  EXPECT_TRUE(frame_checksums_ok(*f));
}

TEST(Frame, FragmentsAreFlaggedNotParsed) {
  for (const auto* pkt : {&kLastFrag4, &kLastFrag6}) {
    auto f = parse_frame(Bytes(*pkt));
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->fragment);
    EXPECT_EQ(f->l4, L4::fragment);
    EXPECT_EQ(f->l4_proto, ipproto::udp);
    EXPECT_FALSE(f->udp);
    EXPECT_EQ(f->src_port, 0);
    EXPECT_TRUE(frame_checksums_ok(*f));
  }
}

TEST(Frame, EveryTruncationIsRejected) {
  for (const auto* pkt : kAll) {
    ASSERT_TRUE(parse_frame(Bytes(*pkt)));
    for (std::size_t n = 0; n < pkt->size(); n++)
      EXPECT_FALSE(parse_frame(Bytes(*pkt).first(n))) << n << " of " << pkt->size();
  }
}

TEST(Frame, ChecksumsCatchCorruption) {
  // Flip one byte of the L4 payload or header, then of the IPv4 header.
  for (const auto* pkt : {&kSyn4, &kUdp4, &kEcho4, &kSyn6, &kUdp6, &kMld6}) {
    std::vector<u8> p = *pkt;
    p.back() ^= 0x40;
    auto f = parse_frame(Bytes(p));
    ASSERT_TRUE(f);
    EXPECT_FALSE(frame_checksums_ok(*f));
  }
  std::vector<u8> p = kSyn4;
  p[14 + 8] ^= 1;  // TTL
  EXPECT_FALSE(frame_checksums_ok(*parse_frame(Bytes(p))));
  // An IPv6 UDP datagram without a checksum is invalid.
  p = kUdp6;
  store_be16(&p[60], 0);
  EXPECT_FALSE(frame_checksums_ok(*parse_frame(Bytes(p))));
}

TEST(Frame, UnsupportedEthertypes) {
  std::vector<u8> vlan = kUdp4;
  const std::vector<u8> tag = {0x81, 0x00, 0x00, 0x0a};
  vlan.insert(vlan.begin() + 12, tag.begin(), tag.end());
  EXPECT_EQ(parse_frame(Bytes(vlan)).err(), Err::not_supported);
  std::vector<u8> lldp = kArp;
  store_be16(&lldp[12], 0x88cc);
  EXPECT_EQ(parse_frame(Bytes(lldp)).err(), Err::not_supported);
}

TEST(Frame, MalformedL4RejectsTheFrame) {
  std::vector<u8> p = kSyn4;
  p[34 + 12] = 0x40;  // data offset 4
  EXPECT_EQ(parse_frame(Bytes(p)).err(), Err::malformed);
  p = kUdp4;
  store_be16(&p[34 + 4], 29);  // one more than the IP payload
  EXPECT_EQ(parse_frame(Bytes(p)).err(), Err::truncated);
  p = kUdp4;
  store_be16(&p[34 + 4], 7);
  EXPECT_EQ(parse_frame(Bytes(p)).err(), Err::malformed);
  p = kArp;
  p[14 + 5] = 5;  // plen 5 needs two more bytes
  EXPECT_EQ(parse_frame(Bytes(p)).err(), Err::truncated);
}

TEST(Frame, CrossFamilyIcmpIsOther) {
  std::vector<u8> p = kEcho4;
  p[14 + 9] = ipproto::icmpv6;
  auto f = parse_frame(Bytes(p));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::other);
  EXPECT_EQ(f->l4_bytes.size(), 31u);
  EXPECT_FALSE(frame_checksums_ok(*f));  // the IPv4 header changed

  p = kUdp6;
  p[14 + 6] = ipproto::icmp;
  f = parse_frame(Bytes(p));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::other);
  EXPECT_EQ(f->l4_proto, ipproto::icmp);
}

TEST(Frame, BadExtensionChainRejectsTheFrame) {
  std::vector<u8> p = kEcho6DstOpts;
  p[54 + 1] = 2;  // destination options now 24 bytes, past the 19-byte payload
  EXPECT_EQ(parse_frame(Bytes(p)).err(), Err::truncated);
  p = kEcho6DstOpts;
  p[54] = ipproto::esp;
  auto f = parse_frame(Bytes(p));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->l4, L4::other);
  EXPECT_EQ(f->l4_proto, ipproto::esp);
  EXPECT_EQ(f->l4_offset, 62u);
}

// --trace: one line per frame, no heap, cut to the buffer.
std::string summary(const std::vector<u8>& frame) {
  auto f = parse_frame(Bytes(frame));
  EXPECT_TRUE(f);
  std::array<char, kFrameSummaryLen> buf{};
  const std::size_t n = frame_summary(*f, buf.data(), buf.size());
  EXPECT_EQ(n, std::strlen(buf.data()));
  return buf.data();
}

TEST(FrameSummary, OneLinePerKind) {
  EXPECT_EQ(summary(kArp), "ARP who-has 10.0.0.2 tell 10.0.0.1");
  EXPECT_EQ(summary(kSyn4), "IPv4 TCP 10.0.0.1:48396 > 10.0.0.2:8080 [S] seq 2709717156 ack 0 win 64480 len 0");
  EXPECT_EQ(summary(kRst4), "IPv4 TCP 10.0.0.2:9 > 10.0.0.1:59284 [R.] seq 0 ack 3205631118 win 0 len 0");
  EXPECT_EQ(summary(kUdp4), "IPv4 UDP 10.0.0.1:37900 > 10.0.0.2:5353 len 20");
  EXPECT_EQ(summary(kEcho4), "IPv4 ICMP 10.0.0.1 > 10.0.0.2 type 8 code 0 len 31");
  EXPECT_EQ(summary(kSyn6),
            "IPv6 TCP [fd00::1]:52262 > [fd00::2]:8080 [S] seq 3161086625 ack 0 win 64660 len 0");
  EXPECT_EQ(summary(kUdp6), "IPv6 UDP [fd00::1]:60368 > [fd00::2]:5353 len 20");
  EXPECT_EQ(summary(kMld6), "IPv6 ICMPv6 fe80::e020:dbff:fec2:390c > ff02::16 type 143 code 0 len 48");
  EXPECT_EQ(summary(kLastFrag4), "IPv4 fragment 10.0.0.1 > 10.0.0.2 proto 17 len 56");
}

TEST(FrameSummary, CutToTheBufferAndTerminated) {
  auto f = parse_frame(Bytes(kSyn6));
  ASSERT_TRUE(f);
  std::array<char, 16> small{};
  small.fill('x');
  const std::size_t n = frame_summary(*f, small.data(), small.size());
  EXPECT_EQ(n, 15u);
  EXPECT_EQ(std::string(small.data()), "IPv6 TCP [fd00:");
  EXPECT_EQ(frame_summary(*f, small.data(), 0), 0u);
}

}  // namespace
}  // namespace passt::wire
