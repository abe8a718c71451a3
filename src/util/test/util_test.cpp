#include <gtest/gtest.h>

#include "util/addr.hpp"
#include "util/endian.hpp"
#include "util/result.hpp"
#include "util/seq.hpp"
#include "util/siphash.hpp"
#include "util/time.hpp"

namespace passt {
namespace {

TEST(Endian, RoundTrip) {
  u8 b[8] = {};
  store_be16(b, 0x1234);
  EXPECT_EQ(b[0], 0x12);
  EXPECT_EQ(load_be16(b), 0x1234);
  store_be32(b, 0xdeadbeef);
  EXPECT_EQ(b[0], 0xde);
  EXPECT_EQ(load_be32(b), 0xdeadbeefu);
  store_be64(b, 0x0102030405060708ULL);
  EXPECT_EQ(b[7], 8);
  EXPECT_EQ(load_be64(b), 0x0102030405060708ULL);
}

TEST(Seq, WrapAround) {
  Seq a{0xfffffff0u};
  Seq b = a + 0x20;
  EXPECT_EQ(b.v, 0x10u);
  EXPECT_TRUE(seq_lt(a, b));
  EXPECT_TRUE(seq_gt(b, a));
  EXPECT_EQ(b.diff(a), 0x20);
  EXPECT_EQ(seq_max(a, b), b);
}

TEST(Result, ValueAndError) {
  Result<int> ok(5);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 5);
  Result<int> bad(Err::again);
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.err(), Err::again);
  EXPECT_EQ(bad.value_or(7), 7);
  Status s;
  EXPECT_TRUE(s);
  Status e(Err::invalid);
  EXPECT_EQ(e.err(), Err::invalid);
}

TEST(Time, Arithmetic) {
  Instant t = Instant::from_nanos(1000);
  EXPECT_EQ((t + Duration::micros(1)).ns, 2000);
  EXPECT_TRUE((Instant::never() + Duration::seconds(1)).is_never());
  EXPECT_EQ(Duration::seconds(2).to_millis(), 2000);
}

TEST(Addr, ParseIpv4) {
  EXPECT_EQ(parse_ipv4("198.51.100.1"), Ipv4Addr::of(198, 51, 100, 1));
  EXPECT_FALSE(parse_ipv4("198.51.100"));
  EXPECT_FALSE(parse_ipv4("198.51.100.256"));
  EXPECT_FALSE(parse_ipv4("1.2.3.4."));
  EXPECT_FALSE(parse_ipv4("1..3.4"));
  EXPECT_FALSE(parse_ipv4("0001.2.3.4"));
  EXPECT_FALSE(parse_ipv4(""));
}

TEST(Addr, ParseAndFormatIpv6) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"2001:db8::1", "2001:db8::1"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"fe80::5054:ff:fe12:3456", "fe80::5054:ff:fe12:3456"},
      {"2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"},
      {"2001:db8::1:0:0:1", "2001:db8::1:0:0:1"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
      {"1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"},
      {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
      {"64:ff9b::192.0.2.1", "64:ff9b::c000:201"},
  };
  for (const auto& c : cases) {
    auto a = parse_ipv6(c.in);
    ASSERT_TRUE(a) << c.in;
    EXPECT_EQ(to_text(*a).view(), c.out) << c.in;
    auto again = parse_ipv6(to_text(*a).view());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *a);
  }
  for (const char* bad : {":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:", ":1",
                          "g::", "1:2:3:4:5:6:7", "::1.2.3", "1.2.3.4::"}) {
    EXPECT_FALSE(parse_ipv6(bad)) << bad;
  }
}

TEST(Addr, Mac) {
  auto m = parse_mac("9a:55:9A:55:9a:55");
  ASSERT_TRUE(m);
  EXPECT_EQ(to_text(*m).view(), "9a:55:9a:55:9a:55");
  EXPECT_FALSE(parse_mac("9a:55:9a:55:9a"));
  EXPECT_FALSE(parse_mac("9a-55-9a-55-9a-55"));
}

TEST(Addr, InAnyAndSubnets) {
  auto a = parse_inany("10.0.2.15");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(to_text(*a).view(), "10.0.2.15");
  EXPECT_TRUE(Ipv4Addr::of(10, 0, 2, 15).in_subnet(Ipv4Addr::of(10, 0, 0, 0), 8));
  EXPECT_FALSE(Ipv4Addr::of(11, 0, 2, 15).in_subnet(Ipv4Addr::of(10, 0, 0, 0), 8));
  auto p = parse_ipv6("2001:db8::");
  auto x = parse_ipv6("2001:db8::5");
  EXPECT_TRUE(x->in_subnet(*p, 64));
  EXPECT_TRUE(parse_ipv6("fe80::1")->is_link_local());
  EXPECT_EQ(to_text(parse_ipv6("2001:db8::1234:5678")->solicited_node()).view(),
            "ff02::1:ff34:5678");
}

// Reference vectors from the SipHash paper (key 00..0f, message 00..n-1).
TEST(SipHash, ReferenceVectors) {
  std::array<u8, 16> kb{};
  for (u8 i = 0; i < 16; i++) kb[i] = i;
  SipKey key = SipKey::from_bytes(kb);
  u8 msg[64];
  for (u8 i = 0; i < 64; i++) msg[i] = i;
  EXPECT_EQ(siphash24(key, Bytes(msg, 0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(siphash24(key, Bytes(msg, 1)), 0x74f839c593dc67fdULL);
  EXPECT_EQ(siphash24(key, Bytes(msg, 15)), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(siphash24(key, Bytes(msg, 63)), 0x958a324ceb064572ULL);
  // Incremental updates in odd chunks give the same answer.
  SipHasher h(key);
  h.update(Bytes(msg, 3));
  h.update(Bytes(msg + 3, 9));
  h.update(Bytes(msg + 12, 3));
  EXPECT_EQ(h.finish(), 0xa129ca6149be45e5ULL);
}

}  // namespace
}  // namespace passt
