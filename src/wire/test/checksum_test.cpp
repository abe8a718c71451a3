#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "util/endian.hpp"
#include "wire/checksum.hpp"

namespace passt::wire {
namespace {

// Straightforward RFC 1071 reference.
u16 reference_sum(Bytes d) {
  u32 s = 0;
  for (std::size_t i = 0; i + 1 < d.size(); i += 2) s += static_cast<u32>((d[i] << 8) | d[i + 1]);
  if (d.size() % 2 != 0) s += static_cast<u32>(d.back() << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<u16>(s);
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 -> sum ddf2.
  const std::array<u8, 8> d = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(Csum().add(Bytes(d)).fold(), 0xddf2);
}

// The bulk routines (AVX2 where the CPU has it, and the portable one) agree
// with the byte-pair reference at every length and alignment up to 64 KiB.
TEST(Checksum, BulkRoutinesMatchReference) {
  std::vector<u8> buf(65536 + 64);
  u32 x = 12345;
  for (u8& b : buf) {
    x = x * 1103515245u + 12345u;
    b = static_cast<u8>(x >> 24);
  }
  // All-ones data: the worst case for carries.
  std::vector<u8> ones(65536 + 64, 0xff);
  for (const std::vector<u8>* v : {&buf, &ones}) {
    for (std::size_t off = 0; off < 8; off++) {
      for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{31}, std::size_t{32},
                              std::size_t{33}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                              std::size_t{95}, std::size_t{1500}, std::size_t{9001},
                              std::size_t{65535}, std::size_t{65536}}) {
        const Bytes d(v->data() + off, len);
        EXPECT_EQ(Csum().add(d).fold(), reference_sum(d)) << "off " << off << " len " << len;
        EXPECT_EQ(csum_words_best_for_test(d), csum_words_scalar_for_test(d)) << off << " " << len;
      }
    }
  }
  const std::string impl = csum_impl_name();
  EXPECT_TRUE(impl == "avx2" || impl == "scalar");
}

TEST(Checksum, KnownIpv4Header) {
  // A well-known example header with checksum b861.
  std::array<u8, 20> h = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                          0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ipv4_header_checksum(Bytes(h)), 0xb861);
  store_be16(&h[10], 0xb861);
  EXPECT_EQ(ipv4_header_checksum(Bytes(h)), 0);
}

TEST(Checksum, ChunkedEqualsWhole) {
  std::vector<u8> d(1001);
  for (std::size_t i = 0; i < d.size(); i++) d[i] = static_cast<u8>(i * 37 + 11);
  u16 whole = Csum().add(Bytes(d)).fold();
  EXPECT_EQ(whole, reference_sum(Bytes(d)));
  for (std::size_t cut1 : {0u, 1u, 3u, 8u, 9u, 500u}) {
    for (std::size_t cut2 : {cut1, cut1 + 1, cut1 + 7, std::size_t{1000}}) {
      Csum c;
      c.add(Bytes(d).subspan(0, cut1));
      c.add(Bytes(d).subspan(cut1, cut2 - cut1));
      c.add(Bytes(d).subspan(cut2));
      EXPECT_EQ(c.fold(), whole) << cut1 << " " << cut2;
    }
  }
}

TEST(Checksum, IncrementalUpdateMatchesRecompute) {
  std::array<u8, 20> h = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                          0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  u16 c = ipv4_header_checksum(Bytes(h));
  u16 c2 = csum_update16(c, 0x0073, 0x05dc);
  store_be16(&h[2], 0x05dc);
  EXPECT_EQ(c2, ipv4_header_checksum(Bytes(h)));
  u16 c3 = csum_update32(c2, 0xc0a800c7, 0x0a000205);
  store_be32(&h[16], 0x0a000205);
  EXPECT_EQ(c3, ipv4_header_checksum(Bytes(h)));
}

TEST(Checksum, PseudoHeaderUdp) {
  // UDP 10.0.0.1:1234 -> 10.0.0.2:80, payload "hi".
  std::array<u8, 10> udp = {0x04, 0xd2, 0x00, 0x50, 0x00, 0x0a, 0x00, 0x00, 'h', 'i'};
  Ipv4Addr s = Ipv4Addr::of(10, 0, 0, 1);
  Ipv4Addr d = Ipv4Addr::of(10, 0, 0, 2);
  u16 c = l4_checksum_v4(s, d, 17, Bytes(udp));
  // Reference: sum of pseudo header + segment computed by hand.
  std::vector<u8> all = {10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 10};
  all.insert(all.end(), udp.begin(), udp.end());
  EXPECT_EQ(c, static_cast<u16>(~reference_sum(Bytes(all))));
  store_be16(&udp[6], c);
  EXPECT_EQ(l4_checksum_v4(s, d, 17, Bytes(udp)), 0);
}

}  // namespace
}  // namespace passt::wire
