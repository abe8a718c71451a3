#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/ipv6.hpp"

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
// TCP SYN fd00::1 -> fd00::2, flow label 0x24166.
const std::vector<u8> kSyn = hex(
    "6002416600280640fd000000000000000000000000000001fd000000000000000000000000000002"
    "cc261f90bc6a5aa100000000a002fc945aba0000020404c40402080a5bbd9919000000000103030a");
// MLDv2 report: hop-by-hop (router alert, PadN) then ICMPv6.
const std::vector<u8> kMld = hex(
    "6000000000380001fe80000000000000e020dbfffec2390cff020000000000000000000000000016"
    "3a000502000001008f00412f0000000204000000ff0200000000000000000001ffc2390c04000000"
    "ff0200000000000000000001ff000002");
// ICMPv6 echo request behind a destination options header.
const std::vector<u8> kDstOpts = hex(
    "6009fe5100133c40fd000000000000000000000000000001fd000000000000000000000000000002"
    "3a00010400000000800056c656780003647374");

constexpr u8 kUdpSeg[] = {0x9c, 0x40, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, 'e', 'x', 't'};

std::vector<u8> ip6(u8 nh, const std::vector<u8>& rest) {
  std::vector<u8> p = {0x60, 0, 0, 0, 0, 0, nh, 64};
  store_be16(&p[4], static_cast<u16>(rest.size()));
  for (int i = 0; i < 2; i++) {
    const std::vector<u8> a = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               static_cast<u8>(1 + i)};
    p.insert(p.end(), a.begin(), a.end());
  }
  p.insert(p.end(), rest.begin(), rest.end());
  return p;
}

// RFC 6564 layout: (len8 + 1) * 8 bytes, PadN-filled.
std::vector<u8> ext(u8 next, u8 len8 = 0) {
  std::vector<u8> h((len8 + 1u) * 8u, 0);
  h[0] = next;
  h[1] = len8;
  h[2] = 1;
  h[3] = static_cast<u8>(h.size() - 4);
  return h;
}

std::vector<u8> cat(std::initializer_list<std::vector<u8>> parts) {
  std::vector<u8> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const std::vector<u8> kUdp(std::begin(kUdpSeg), std::end(kUdpSeg));

TEST(Ipv6, ParsesCapturedSyn) {
  auto v = Ipv6View::parse(Bytes(kSyn));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version(), 6);
  EXPECT_EQ(v->traffic_class(), 0);
  EXPECT_EQ(v->flow_label(), 0x24166u);
  EXPECT_EQ(v->payload_len(), 40);
  EXPECT_EQ(v->next_header(), ipproto::tcp);
  EXPECT_EQ(v->hop_limit(), 64);
  EXPECT_EQ(v->src(), *parse_ipv6("fd00::1"));
  EXPECT_EQ(v->dst(), *parse_ipv6("fd00::2"));
  EXPECT_EQ(v->payload().size(), 40u);
  auto u = v->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::tcp);
  EXPECT_EQ(u->offset, 40u);
  EXPECT_EQ(u->bytes.size(), 40u);
  EXPECT_EQ(u->ext_headers, 0);
  EXPECT_FALSE(u->fragment);
}

TEST(Ipv6, ReprEmitReproducesCapturedHeader) {
  for (const auto* pkt : {&kSyn, &kMld, &kDstOpts}) {
    auto v = Ipv6View::parse(Bytes(*pkt));
    ASSERT_TRUE(v);
    Ipv6Repr r = Ipv6Repr::from(*v);
    std::vector<u8> out(pkt->size(), 0x5a);
    ASSERT_TRUE(r.emit(MutBytes(out)));
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + 40, pkt->begin()));
    EXPECT_EQ(out[40], 0x5a);
  }
}

TEST(Ipv6, TrafficClassAndFlowLabelBits) {
  Ipv6Repr r;
  r.traffic_class = 0xa5;
  r.flow_label = 0xfffff;
  std::vector<u8> out(40, 0);
  ASSERT_TRUE(r.emit(MutBytes(out)));
  EXPECT_EQ(load_be32(out.data()), 0x6a5fffffu);
  auto v = Ipv6View::parse(Bytes(out));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->traffic_class(), 0xa5);
  EXPECT_EQ(v->flow_label(), 0xfffffu);
  r.flow_label = 0x100000;
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::invalid);
  std::vector<u8> small(39, 0);
  r.flow_label = 0;
  EXPECT_EQ(r.emit(MutBytes(small)).err(), Err::truncated);
}

TEST(Ipv6, EveryTruncationIsRejected) {
  for (const auto* pkt : {&kSyn, &kMld, &kDstOpts})
    for (std::size_t n = 0; n < pkt->size(); n++)
      EXPECT_EQ(Ipv6View::parse(Bytes(*pkt).first(n)).err(), Err::truncated) << n;
}

TEST(Ipv6, PayloadLengthBoundsAndPadding) {
  std::vector<u8> p = kSyn;
  p.resize(p.size() + 7, 0);
  auto v = Ipv6View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), kSyn.size());
  store_be16(&p[4], 47);
  EXPECT_TRUE(Ipv6View::parse(Bytes(p)));
  store_be16(&p[4], 48);
  EXPECT_EQ(Ipv6View::parse(Bytes(p)).err(), Err::truncated);
  store_be16(&p[4], 0);
  v = Ipv6View::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
  p[0] = 0x40;
  EXPECT_EQ(Ipv6View::parse(Bytes(p)).err(), Err::malformed);
}

TEST(Ipv6, HopByHopThenIcmpv6) {
  auto v = Ipv6View::parse(Bytes(kMld));
  ASSERT_TRUE(v);
  auto u = v->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::icmpv6);
  EXPECT_EQ(u->offset, 48u);
  EXPECT_EQ(u->ext_headers, 1);
  ASSERT_EQ(u->bytes.size(), 48u);
  EXPECT_EQ(u->bytes[0], 143);  // MLDv2 report
}

TEST(Ipv6, DestinationOptionsThenIcmpv6) {
  auto u = Ipv6View::parse(Bytes(kDstOpts))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::icmpv6);
  EXPECT_EQ(u->offset, 48u);
  EXPECT_EQ(u->bytes[0], 128);
}

TEST(Ipv6, ChainOfExtensionHeaders) {
  const auto p = ip6(ipproto::hopopts, cat({ext(ipproto::routing), ext(ipproto::dstopts, 2),
                                            ext(ipproto::mobility), ext(ipproto::hip),
                                            ext(ipproto::shim6), ext(ipproto::experiment1),
                                            ext(ipproto::experiment2), ext(ipproto::udp), kUdp}));
  auto u = Ipv6View::parse(Bytes(p))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::udp);
  EXPECT_EQ(u->ext_headers, 8);
  EXPECT_EQ(u->offset, 40u + 7 * 8 + 24);
  EXPECT_EQ(std::vector<u8>(u->bytes.begin(), u->bytes.end()), kUdp);
}

TEST(Ipv6, AuthenticationHeaderCountsFourByteUnits) {
  // AH payload length 4: (4 + 2) * 4 = 24 bytes.
  std::vector<u8> ah(24, 0);
  ah[0] = ipproto::udp;
  ah[1] = 4;
  const auto p = ip6(ipproto::ah, cat({ah, kUdp}));
  auto u = Ipv6View::parse(Bytes(p))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::udp);
  EXPECT_EQ(u->offset, 64u);
  // One 4-byte unit more than the packet holds.
  auto q = p;
  q[41] = 7;  // 36 bytes, only 24 + 11 left
  EXPECT_EQ(Ipv6View::parse(Bytes(q))->upper_layer().err(), Err::truncated);
}

TEST(Ipv6, EspAndNoNextHeaderStopTheWalk) {
  const auto esp = ip6(ipproto::esp, std::vector<u8>(32, 0xab));
  auto u = Ipv6View::parse(Bytes(esp))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::esp);
  EXPECT_EQ(u->offset, 40u);
  EXPECT_EQ(u->bytes.size(), 32u);

  const auto none = ip6(ipproto::dstopts, cat({ext(ipproto::none), {'j', 'u', 'n', 'k'}}));
  u = Ipv6View::parse(Bytes(none))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::none);
  EXPECT_EQ(u->offset, 48u);
  EXPECT_EQ(u->bytes.size(), 4u);

  const auto empty = ip6(ipproto::none, {});
  u = Ipv6View::parse(Bytes(empty))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->protocol, ipproto::none);
  EXPECT_TRUE(u->bytes.empty());
}

TEST(Ipv6, Fragments) {
  // First fragment: offset 0, M set: the walk continues into UDP.
  const std::vector<u8> first = {ipproto::udp, 0, 0x00, 0x01, 0xfb, 0xe0, 0x7a, 0x38};
  auto p = ip6(ipproto::fragment, cat({first, kUdp}));
  auto u = Ipv6View::parse(Bytes(p))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->fragment);
  EXPECT_EQ(u->frag_offset, 0);
  EXPECT_TRUE(u->more_fragments);
  EXPECT_EQ(u->frag_ident, 0xfbe07a38u);
  EXPECT_EQ(u->protocol, ipproto::udp);
  EXPECT_EQ(u->offset, 48u);

  // Later fragment (captured: offset 2464 bytes, last): the walk stops.
  const std::vector<u8> later = {ipproto::dstopts, 0, 0x09, 0xa0, 0xfb, 0xe0, 0x7a, 0x38};
  p = ip6(ipproto::fragment, cat({later, ext(ipproto::udp), kUdp}));
  u = Ipv6View::parse(Bytes(p))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->fragment);
  EXPECT_EQ(u->frag_offset, 308);
  EXPECT_FALSE(u->more_fragments);
  EXPECT_EQ(u->protocol, ipproto::dstopts);  // not walked: fragment data
  EXPECT_EQ(u->offset, 48u);
  EXPECT_EQ(u->ext_headers, 1);

  // Fragment header cut short.
  p = ip6(ipproto::fragment, {ipproto::udp, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(Ipv6View::parse(Bytes(p))->upper_layer().err(), Err::truncated);
}

TEST(Ipv6, WalkIsBounded) {
  auto chain = [](std::size_t n) {
    std::vector<u8> rest;
    for (std::size_t i = 0; i < n; i++) {
      auto h = ext(i + 1 == n ? ipproto::udp : ipproto::dstopts);
      rest.insert(rest.end(), h.begin(), h.end());
    }
    rest.insert(rest.end(), kUdp.begin(), kUdp.end());
    return ip6(ipproto::dstopts, rest);
  };
  const auto ok = chain(kIpv6MaxExtHeaders);
  auto u = Ipv6View::parse(Bytes(ok))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->ext_headers, kIpv6MaxExtHeaders);
  EXPECT_EQ(u->protocol, ipproto::udp);
  const auto too_many = chain(kIpv6MaxExtHeaders + 1);
  EXPECT_EQ(Ipv6View::parse(Bytes(too_many))->upper_layer().err(), Err::not_supported);
}

TEST(Ipv6, HopByHopOnlyFirst) {
  const auto p = ip6(ipproto::dstopts, cat({ext(ipproto::hopopts), ext(ipproto::udp), kUdp}));
  EXPECT_EQ(Ipv6View::parse(Bytes(p))->upper_layer().err(), Err::malformed);
}

TEST(Ipv6, ExtensionHeaderTruncationAtEveryLength) {
  // A 24-byte destination options header followed by UDP.
  const auto full = cat({ext(ipproto::udp, 2), kUdp});
  for (std::size_t n = 0; n < 24; n++) {
    const auto p = ip6(ipproto::dstopts, std::vector<u8>(full.begin(), full.begin() + static_cast<long>(n)));
    auto v = Ipv6View::parse(Bytes(p));
    ASSERT_TRUE(v);
    EXPECT_EQ(v->upper_layer().err(), Err::truncated) << n;
  }
  const auto p = ip6(ipproto::dstopts, std::vector<u8>(full.begin(), full.begin() + 24));
  auto u = Ipv6View::parse(Bytes(p))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->bytes.empty());  // the UDP header itself is L4's problem
}

TEST(Ipv6, LargestExtensionHeader) {
  const auto p = ip6(ipproto::dstopts, cat({ext(ipproto::udp, 255), kUdp}));
  auto u = Ipv6View::parse(Bytes(p))->upper_layer();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->offset, 40u + 2048);
  EXPECT_EQ(u->bytes.size(), kUdp.size());
}

}  // namespace
}  // namespace passt::wire
