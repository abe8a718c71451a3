#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

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

// Captured from Linux 6.x on a veth pair (checksum offload off).
// 10.0.0.1:48396 -> 10.0.0.2:8080 SYN: MSS 1240, SACK-permitted, TS, NOP, WS 10.
const std::vector<u8> kSyn4 = hex(
    "bd0c1f90a18300a400000000a002fbe013dd0000020404d80402080afb9eaab5000000000103030a");
// Pure ACKs of the same connection, before and after 57 bytes were sent.
const std::vector<u8> kAck4a =
    hex("bd0c1f90a18300a594f1ddd38010003f744400000101080afb9eaab570bde59a");
const std::vector<u8> kAck4b =
    hex("bd0c1f90a18300de94f1de0c8010003f73d200000101080afb9eaab570bde59a");
// PSH+ACK carrying "hello, echo server\n" x 3.
const std::vector<u8> kData4 = hex(
    "bd0c1f90a18300a594f1ddd38018003f210200000101080afb9eaab570bde59a68656c6c6f2c206563"
    "686f207365727665720a68656c6c6f2c206563686f207365727665720a68656c6c6f2c206563686f"
    "207365727665720a");
// RST+ACK 10.0.0.2:9 -> 10.0.0.1:59284 (no options).
const std::vector<u8> kRst4 = hex("0009e79400000000bf120c8e50140000e88f0000");
// fd00::1 -> fd00::2 SYN, and two ACKs.
const std::vector<u8> kSyn6 = hex(
    "cc261f90bc6a5aa100000000a002fc945aba0000020404c40402080a5bbd9919000000000103030a");
const std::vector<u8> kAck6a =
    hex("cc261f90bc6a5aa251a25e0f80100040c8b900000101080a5bbd9919142cf846");
const std::vector<u8> kAck6b =
    hex("cc261f90bc6a5adb51a25e4880100040c84700000101080a5bbd9919142cf846");

std::vector<u8> segment_with_options(const std::vector<u8>& opts) {
  std::vector<u8> s = {0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x10, 0xff, 0xff, 0, 0, 0, 0};
  s[12] = static_cast<u8>((5 + opts.size() / 4) << 4);
  s.insert(s.end(), opts.begin(), opts.end());
  return s;
}

TEST(Tcp, ParsesCapturedSyn) {
  auto v = TcpView::parse(Bytes(kSyn4));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src_port(), 48396);
  EXPECT_EQ(v->dst_port(), 8080);
  EXPECT_EQ(v->seq(), Seq{0xa18300a4});
  EXPECT_EQ(v->ack(), Seq{0});
  EXPECT_EQ(v->data_offset(), 10);
  EXPECT_EQ(v->header_len(), 40u);
  EXPECT_EQ(v->flags(), tcp_flag::syn);
  EXPECT_TRUE(v->has(tcp_flag::syn));
  EXPECT_FALSE(v->has(tcp_flag::ack));
  EXPECT_EQ(v->reserved(), 0);
  EXPECT_EQ(v->window(), 64480);
  EXPECT_EQ(v->urgent(), 0);
  EXPECT_EQ(v->options().size(), 20u);
  EXPECT_TRUE(v->payload().empty());
  EXPECT_TRUE(v->checksum_ok(kA4, kB4));
  EXPECT_FALSE(v->checksum_ok(kA4, Ipv4Addr::of(10, 0, 0, 3)));

  TcpRepr r = TcpRepr::from(*v);
  EXPECT_EQ(r.options.mss, std::optional<u16>(1240));
  EXPECT_EQ(r.options.wscale, std::optional<u8>(10));
  EXPECT_TRUE(r.options.sack_permitted);
  ASSERT_TRUE(r.options.timestamps);
  EXPECT_EQ(r.options.timestamps->val, 0xfb9eaab5u);
  EXPECT_EQ(r.options.timestamps->ecr, 0u);
  EXPECT_EQ(r.options.sack_count, 0);
  EXPECT_EQ(r.options.unknown_count(), 0u);
  EXPECT_FALSE(r.options.malformed);
}

// Our option layout is Linux's, so a repr re-emits Linux's segments byte
// for byte, checksum included.
TEST(Tcp, EmitReproducesCapturedSegments) {
  for (const auto* pkt : {&kSyn4, &kAck4a, &kAck4b, &kData4, &kRst4}) {
    TcpRepr r = TcpRepr::from(*TcpView::parse(Bytes(*pkt)));
    EXPECT_EQ(r.length(), pkt->size());
    std::vector<u8> out = *pkt;
    for (std::size_t i = 0; i < r.header_len(); i++) out[i] = 0xcc;
    ASSERT_TRUE(r.emit(MutBytes(out), kA4, kB4));
    EXPECT_EQ(out, *pkt);
  }
  for (const auto* pkt : {&kSyn6, &kAck6a, &kAck6b}) {
    TcpRepr r = TcpRepr::from(*TcpView::parse(Bytes(*pkt)));
    std::vector<u8> out(pkt->size(), 0xcc);
    ASSERT_TRUE(r.emit(MutBytes(out), kA6, kB6));
    EXPECT_EQ(out, *pkt);
    EXPECT_TRUE(TcpView::parse(Bytes(out))->checksum_ok(kA6, kB6));
  }
}

TEST(Tcp, EveryHeaderTruncationIsRejected) {
  for (const auto* pkt : {&kSyn4, &kData4, &kRst4}) {
    const std::size_t hlen = static_cast<std::size_t>((*pkt)[12] >> 4) * 4;
    for (std::size_t n = 0; n < hlen; n++)
      EXPECT_EQ(TcpView::parse(Bytes(*pkt).first(n)).err(), Err::truncated) << n;
    // TCP has no length field: any cut after the header is a shorter payload.
    for (std::size_t n = hlen; n <= pkt->size(); n++) {
      auto v = TcpView::parse(Bytes(*pkt).first(n));
      ASSERT_TRUE(v) << n;
      EXPECT_EQ(v->payload().size(), n - hlen);
    }
  }
}

TEST(Tcp, DataOffsetBounds) {
  std::vector<u8> p = kRst4;
  for (u8 doff = 0; doff < 5; doff++) {
    p[12] = static_cast<u8>(doff << 4);
    EXPECT_EQ(TcpView::parse(Bytes(p)).err(), Err::malformed) << int{doff};
  }
  p[12] = 6 << 4;  // 24 bytes, only 20 present
  EXPECT_EQ(TcpView::parse(Bytes(p)).err(), Err::truncated);
  p.insert(p.end(), {1, 1, 1, 1});
  auto v = TcpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
  EXPECT_EQ(v->options().size(), 4u);
  p[12] = 0xf0;  // 60 bytes
  p.resize(60, 0);
  v = TcpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->options().size(), 40u);
}

TEST(Tcp, ReservedBitsAreExposedButNotKept) {
  std::vector<u8> p = kRst4;
  p[12] |= 0x0f;
  auto v = TcpView::parse(Bytes(p));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->reserved(), 0x0f);
  EXPECT_EQ(v->header_len(), 20u);
  TcpRepr r = TcpRepr::from(*v);
  std::vector<u8> out(20, 0);
  ASSERT_TRUE(r.emit(MutBytes(out)));
  EXPECT_EQ(out[12], 0x50);
}

// --- Options ----------------------------------------------------------------

TEST(TcpOptions, SackBlocks) {
  for (u8 n = 1; n <= 4; n++) {
    std::vector<u8> o = {1, 1, 5, static_cast<u8>(2 + 8 * n)};
    for (u8 k = 0; k < n; k++) {
      std::vector<u8> b(8);
      store_be32(&b[0], 1000u + 100u * k);
      store_be32(&b[4], 1050u + 100u * k);
      o.insert(o.end(), b.begin(), b.end());
    }
    TcpOptions t = TcpOptions::parse(Bytes(o));
    EXPECT_FALSE(t.malformed);
    ASSERT_EQ(t.sack_count, n);
    EXPECT_EQ(t.sack[n - 1].left, Seq{1000u + 100u * (n - 1u)});
    EXPECT_EQ(t.sack[n - 1].right, Seq{1050u + 100u * (n - 1u)});
    // Re-emitted in the same layout.
    std::vector<u8> out(t.length(), 0xcc);
    ASSERT_TRUE(t.emit(MutBytes(out)));
    EXPECT_EQ(out, o);
  }
}

TEST(TcpOptions, UnknownOptionsAreKeptInOrder) {
  // MSS, TFO cookie (34), NOP NOP SACK-permitted, MD5 (19).
  std::vector<u8> o = {2, 4, 5, 0xb4, 34, 10, 0, 1, 2, 3, 4, 5, 6, 7, 1, 1, 4, 2,
                       19, 6, 0xde, 0xad, 0xbe, 0xef};
  TcpOptions t = TcpOptions::parse(Bytes(o));
  EXPECT_FALSE(t.malformed);
  EXPECT_EQ(t.mss, std::optional<u16>(1460));
  EXPECT_TRUE(t.sack_permitted);
  ASSERT_EQ(t.unknown_count(), 2u);
  EXPECT_EQ(t.unknown(0).kind, 34);
  EXPECT_EQ(t.unknown(0).len, 8);
  EXPECT_EQ(t.unknown_data(0)[7], 7);
  EXPECT_EQ(t.unknown(1).kind, 19);
  ASSERT_EQ(t.unknown_data(1).size(), 4u);
  EXPECT_EQ(t.unknown_data(1)[0], 0xde);
  std::vector<u8> out(t.length(), 0xcc);
  ASSERT_TRUE(t.emit(MutBytes(out)));
  EXPECT_EQ(TcpOptions::parse(Bytes(out)), t);
}

TEST(TcpOptions, EolEndsTheList) {
  const std::vector<u8> o = {2, 4, 5, 0xb4, 0, 3, 3, 7};
  TcpOptions t = TcpOptions::parse(Bytes(o));
  EXPECT_FALSE(t.malformed);
  EXPECT_EQ(t.mss, std::optional<u16>(1460));
  EXPECT_FALSE(t.wscale);
}

TEST(TcpOptions, LengthErrorsStopTheWalk) {
  struct Case {
    std::vector<u8> opts;
    bool mss_kept;
  };
  const Case cases[] = {
      {{2, 4, 5, 0xb4, 30, 0, 3, 3}, true},     // length 0
      {{2, 4, 5, 0xb4, 30, 1, 3, 3}, true},     // length 1
      {{2, 4, 5, 0xb4, 30, 9, 0, 0}, true},     // runs past the end
      {{2, 4, 5, 0xb4, 1, 1, 1, 30}, true},     // no room for a length byte
      {{2, 3, 5, 1}, false},                    // MSS length 3
      {{2, 5, 5, 1, 0, 0, 0, 0}, false},        // MSS length 5
      {{2, 4, 5, 0xb4, 3, 4, 14, 0}, true},     // WS length 4
      {{2, 4, 5, 0xb4, 4, 3, 0, 0}, true},      // SACK-permitted length 3
      {{2, 4, 5, 0xb4, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true},  // TS length 9
      {{5, 2, 2, 4, 5, 0xb4, 0, 0}, false},     // SACK with no blocks
      {{5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},  // SACK length 9
  };
  for (const Case& c : cases) {
    TcpOptions t = TcpOptions::parse(Bytes(c.opts));
    EXPECT_TRUE(t.malformed);
    EXPECT_EQ(t.mss.has_value(), c.mss_kept);
    EXPECT_FALSE(t.wscale);
    EXPECT_EQ(t.sack_count, 0);
    // The segment itself still parses.
    const auto seg = segment_with_options(c.opts);
    auto v = TcpView::parse(Bytes(seg));
    ASSERT_TRUE(v);
    EXPECT_TRUE(TcpRepr::from(*v).options.malformed);
  }
}

TEST(TcpOptions, LaterDuplicatesWin) {
  const std::vector<u8> o = {2, 4, 5, 0xb4, 2, 4, 0x10, 0x00};
  EXPECT_EQ(TcpOptions::parse(Bytes(o)).mss, std::optional<u16>(0x1000));
}

TEST(TcpOptions, FortyBytesOfOptions) {
  TcpOptions t;
  t.mss = 65495;
  t.wscale = 14;
  t.sack_permitted = true;
  t.timestamps = TcpTimestamps{1, 2};
  ASSERT_TRUE(t.add_unknown(253, std::vector<u8>(18, 9)));
  EXPECT_EQ(t.length(), 40u);  // 4 + 12 + 4 + 20
  TcpRepr r;
  r.options = t;
  EXPECT_EQ(r.header_len(), 60u);
  std::vector<u8> out(60, 0);
  ASSERT_TRUE(r.emit(MutBytes(out), kA4, kB4));
  auto v = TcpView::parse(Bytes(out));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header_len(), 60u);
  EXPECT_TRUE(v->checksum_ok(kA4, kB4));
  EXPECT_EQ(TcpRepr::from(*v), r);
  // One byte more does not fit.
  ASSERT_TRUE(r.options.add_unknown(200, {}));
  EXPECT_GT(r.options.length(), kTcpMaxOptionsLen);
  out.resize(100);
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::invalid);
}

TEST(TcpOptions, AddUnknownLimits) {
  TcpOptions t;
  for (int k : {0, 1, 2, 3, 4, 5, 8})
    EXPECT_EQ(t.add_unknown(static_cast<u8>(k), {}).err(), Err::invalid) << k;
  EXPECT_EQ(t.add_unknown(99, std::vector<u8>(39, 0)).err(), Err::invalid);
  for (std::size_t i = 0; i < kTcpMaxUnknownOptions; i++) ASSERT_TRUE(t.add_unknown(99, {}));
  EXPECT_EQ(t.add_unknown(99, {}).err(), Err::full);
  TcpOptions d;
  ASSERT_TRUE(d.add_unknown(99, std::vector<u8>(38, 0)));
  EXPECT_EQ(d.add_unknown(98, std::vector<u8>(3, 0)).err(), Err::full);
  ASSERT_TRUE(d.add_unknown(98, std::vector<u8>(2, 0)));
}

TEST(TcpOptions, TooManySackBlocksCannotBeEmitted) {
  TcpRepr r;
  r.options.sack_count = 5;
  std::vector<u8> out(100, 0);
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::invalid);
}

TEST(TcpOptions, NopsOnly) {
  const std::vector<u8> o(40, 1);
  TcpOptions t = TcpOptions::parse(Bytes(o));
  EXPECT_FALSE(t.malformed);
  EXPECT_EQ(t, TcpOptions{});
  EXPECT_EQ(t.length(), 0u);
}

TEST(Tcp, EmitNeedsRoomForThePayload) {
  TcpRepr r;
  r.options.mss = 1460;
  r.payload_len = 10;
  std::vector<u8> out(33, 0xee);
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::truncated);
  for (u8 b : out) EXPECT_EQ(b, 0xee);
  r.payload_len = SIZE_MAX - 23;  // length() would wrap to 0
  EXPECT_EQ(r.emit(MutBytes(out)).err(), Err::truncated);
  for (u8 b : out) EXPECT_EQ(b, 0xee);
  r.payload_len = 10;
  out.resize(34);
  EXPECT_TRUE(r.emit(MutBytes(out)));
}

// --- Data-path patch ----------------------------------------------------------

TEST(TcpPatch, TurnsOneCapturedAckIntoTheNext) {
  std::vector<u8> seg = kAck4a;
  const TcpPatch p{Seq{0xa18300de}, Seq{0x94f1de0c}, tcp_flag::ack, 0x3f};
  ASSERT_TRUE(tcp_patch(MutBytes(seg), p, kA4, kB4));
  EXPECT_EQ(seg, kAck4b);

  std::vector<u8> seg6 = kAck6a;
  const TcpPatch p6{Seq{0xbc6a5adb}, Seq{0x51a25e48}, tcp_flag::ack, 0x40};
  ASSERT_TRUE(tcp_patch(MutBytes(seg6), p6, kA6, kB6));
  EXPECT_EQ(seg6, kAck6b);
}

TEST(TcpPatch, CoversThePayloadAndMatchesPrecomputedPseudoHeader) {
  std::vector<u8> a = kData4;
  std::vector<u8> b = kData4;
  const TcpPatch p{Seq{7}, Seq{9}, tcp_flag::ack | tcp_flag::psh | tcp_flag::fin, 1234};
  ASSERT_TRUE(tcp_patch(MutBytes(a), p, kA4, kB4));
  ASSERT_TRUE(tcp_patch(MutBytes(b), p,
                        pseudo_header_v4(kA4, kB4, 6, static_cast<u32>(b.size()))));
  EXPECT_EQ(a, b);
  auto v = TcpView::parse(Bytes(a));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->checksum_ok(kA4, kB4));
  EXPECT_EQ(v->seq(), Seq{7});
  EXPECT_EQ(v->ack(), Seq{9});
  EXPECT_EQ(v->flags(), p.flags);
  EXPECT_EQ(v->window(), 1234);
  EXPECT_EQ(TcpRepr::from(*v).options.timestamps->val, 0xfb9eaab5u);  // untouched
  a[40] ^= 1;
  EXPECT_FALSE(TcpView::parse(Bytes(a))->checksum_ok(kA4, kB4));
}

TEST(TcpPatch, RejectsWhatIsNotATcpHeader) {
  std::vector<u8> seg = kSyn4;
  const TcpPatch p{};
  EXPECT_EQ(tcp_patch(MutBytes(seg).first(39), p, kA4, kB4).err(), Err::truncated);
  EXPECT_EQ(tcp_patch(MutBytes(seg).first(19), p, kA4, kB4).err(), Err::truncated);
  seg[12] = 0x40;
  EXPECT_EQ(tcp_patch(MutBytes(seg), p, kA4, kB4).err(), Err::malformed);
  EXPECT_EQ(std::vector<u8>(seg.begin() + 13, seg.end()),
            std::vector<u8>(kSyn4.begin() + 13, kSyn4.end()));  // nothing written
}

}  // namespace
}  // namespace passt::wire
