#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "util/endian.hpp"
#include "wire/icmpv6.hpp"

namespace passt::wire {
namespace {

Ipv6Addr v6(const char* s) { return parse_ipv6(s).value(); }

// Plain RFC 1071 sum over the pseudo-header and message, written out.
u16 reference_checksum(const Ipv6Addr& src, const Ipv6Addr& dst, Bytes msg) {
  std::vector<u8> all(src.b.begin(), src.b.end());
  all.insert(all.end(), dst.b.begin(), dst.b.end());
  const u32 len = static_cast<u32>(msg.size());
  all.insert(all.end(), {static_cast<u8>(len >> 24), static_cast<u8>(len >> 16),
                         static_cast<u8>(len >> 8), static_cast<u8>(len), 0, 0, 0, 58});
  all.insert(all.end(), msg.begin(), msg.end());
  if (all.size() % 2 != 0) all.push_back(0);
  u32 s = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) s += static_cast<u32>((all[i] << 8) | all[i + 1]);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<u16>(~s);
}

TEST(Icmpv6, ViewNeedsFourBytes) {
  std::array<u8, 3> s{};
  EXPECT_EQ(Icmpv6View::parse(Bytes(s)).err(), Err::truncated);
  std::array<u8, 4> h = {1, 4, 0xab, 0xcd};
  auto v = Icmpv6View::parse(Bytes(h));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->type(), icmpv6_type::dest_unreachable);
  EXPECT_EQ(v->code(), 4);
  EXPECT_EQ(v->checksum(), 0xabcd);
  EXPECT_TRUE(v->body().empty());
  EXPECT_TRUE(icmpv6_is_error(v->type()));
  EXPECT_FALSE(icmpv6_is_error(icmpv6_type::echo_request));
}

// A Router Solicitation captured from Linux (fe80::f8fb:deff:fe3e:23bc ->
// ff02::2): its checksum verifies, and recomputing gives the same value.
TEST(Icmpv6, CapturedChecksumVerifies) {
  std::array<u8, 16> rs = {0x85, 0x00, 0x85, 0x40, 0, 0, 0, 0,
                           0x01, 0x01, 0xfa, 0xfb, 0xde, 0x3e, 0x23, 0xbc};
  const Ipv6Addr src = v6("fe80::f8fb:deff:fe3e:23bc");
  const Ipv6Addr dst = v6("ff02::2");
  EXPECT_TRUE(icmpv6_checksum_ok(src, dst, Bytes(rs)));
  EXPECT_FALSE(icmpv6_checksum_ok(src, v6("ff02::1"), Bytes(rs)));
  rs[2] = 0x12;
  ASSERT_TRUE(icmpv6_fill_checksum(src, dst, MutBytes(rs)));
  EXPECT_EQ(load_be16(&rs[2]), 0x8540);
  EXPECT_FALSE(icmpv6_fill_checksum(src, dst, MutBytes(rs).first(3)));
  EXPECT_FALSE(icmpv6_checksum_ok(src, dst, Bytes(rs).first(3)));
}

TEST(Icmpv6, EchoParse) {
  // Echo request id 0x1234 seq 7, data "ping".
  std::vector<u8> m = {128, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'p', 'i', 'n', 'g'};
  const Ipv6Addr src = v6("2001:db8::1");
  const Ipv6Addr dst = v6("2001:db8::2");
  const u16 want = reference_checksum(src, dst, Bytes(m));
  ASSERT_TRUE(icmpv6_fill_checksum(src, dst, MutBytes(m)));
  EXPECT_EQ(load_be16(&m[2]), want);
  EXPECT_TRUE(icmpv6_checksum_ok(src, dst, Bytes(m)));
  auto v = Icmpv6View::parse(Bytes(m));
  ASSERT_TRUE(v);
  auto e = Icmpv6EchoRepr::from(*v);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->is_request);
  EXPECT_EQ(e->ident, 0x1234);
  EXPECT_EQ(e->seq, 7);
  EXPECT_EQ(e->data.size(), 4u);
  EXPECT_EQ(e->data[0], 'p');
}

TEST(Icmpv6, FillChecksumMatchesReference) {
  std::vector<u8> m = {129, 0, 0x55, 0x55, 0xbe, 0xef, 0x00, 0x01, 1, 2, 3};  // odd length
  const Ipv6Addr src = v6("fe80::1");
  const Ipv6Addr dst = v6("fe80::2");
  std::vector<u8> zeroed = m;
  zeroed[2] = zeroed[3] = 0;
  const u16 want = reference_checksum(src, dst, Bytes(zeroed));
  ASSERT_TRUE(icmpv6_fill_checksum(src, dst, MutBytes(m)));
  EXPECT_EQ(load_be16(&m[2]), want);
}

TEST(Icmpv6, EchoRejects) {
  std::array<u8, 8> m = {128, 1, 0, 0, 0, 1, 0, 1};
  EXPECT_EQ(Icmpv6EchoRepr::from(*Icmpv6View::parse(Bytes(m))).err(), Err::malformed);
  m[1] = 0;
  EXPECT_EQ(Icmpv6EchoRepr::from(*Icmpv6View::parse(Bytes(m).first(7))).err(), Err::truncated);
  m[0] = 135;
  EXPECT_EQ(Icmpv6EchoRepr::from(*Icmpv6View::parse(Bytes(m))).err(), Err::not_supported);
  m[0] = 129;
  EXPECT_TRUE(Icmpv6EchoRepr::from(*Icmpv6View::parse(Bytes(m))).ok());
}

TEST(Icmpv6, EchoEmitRoundTrips) {
  const std::array<u8, 5> data = {9, 8, 7, 6, 5};
  Icmpv6EchoRepr r{false, 0xabcd, 0x0102, Bytes(data)};
  const Ipv6Addr src = v6("2001:db8::a");
  const Ipv6Addr dst = v6("2001:db8::b");
  std::array<u8, 14> out{};
  out[13] = 0x77;
  ASSERT_TRUE(r.emit(MutBytes(out), src, dst));
  EXPECT_EQ(out[13], 0x77);  // exactly length() bytes
  EXPECT_EQ(out[0], icmpv6_type::echo_reply);
  EXPECT_TRUE(icmpv6_checksum_ok(src, dst, Bytes(out).first(r.length())));
  auto back = Icmpv6EchoRepr::from(*Icmpv6View::parse(Bytes(out).first(r.length())));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
  std::array<u8, 12> small{};
  EXPECT_EQ(r.emit(MutBytes(small), src, dst).err(), Err::truncated);
}

TEST(Icmpv6, EchoReplyBuiltInPlace) {
  // The reply reuses the request buffer: data aliases the output.
  std::vector<u8> m = {128, 0, 0, 0, 0, 5, 0, 6, 'x', 'y', 'z'};
  auto req = Icmpv6EchoRepr::from(*Icmpv6View::parse(Bytes(m)));
  ASSERT_TRUE(req);
  Icmpv6EchoRepr rep = *req;
  rep.is_request = false;
  const Ipv6Addr a = v6("fe80::1");
  const Ipv6Addr b = v6("fe80::2");
  ASSERT_TRUE(rep.emit(MutBytes(m), b, a));
  EXPECT_EQ(m[0], icmpv6_type::echo_reply);
  EXPECT_EQ(m[8], 'x');
  EXPECT_EQ(m[10], 'z');
  EXPECT_TRUE(icmpv6_checksum_ok(b, a, Bytes(m)));
}

}  // namespace
}  // namespace passt::wire
