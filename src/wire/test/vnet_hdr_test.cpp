#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <vector>

#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::wire {
namespace {

const Ipv4Addr kA4 = Ipv4Addr::of(198, 51, 100, 1);
const Ipv4Addr kB4 = Ipv4Addr::of(198, 51, 100, 2);
const Ipv6Addr kA6 = *parse_ipv6("2001:db8::1");
const Ipv6Addr kB6 = *parse_ipv6("2001:db8::2");

std::vector<u8> payload(std::size_t n) {
  std::vector<u8> p(n);
  for (std::size_t i = 0; i < n; i++) p[i] = static_cast<u8>(i * 7 + 3);
  return p;
}

// An Ethernet frame with a TCP or UDP segment carrying `n` payload bytes,
// with its full checksum (or, IPv4 UDP with `no_csum`, checksum 0).
std::vector<u8> frame(bool v6, u8 proto, std::size_t n, bool no_csum = false) {
  const std::size_t ip = v6 ? kIpv6HeaderLen : kIpv4HeaderLen;
  const std::size_t l4h = proto == ipproto::tcp ? kTcpHeaderLen : kUdpHeaderLen;
  std::vector<u8> f(kEthHeaderLen + ip + l4h + n);
  MutBytes b(f);
  EXPECT_TRUE((EthernetRepr{MacAddr{{2, 0, 0, 0, 0, 1}}, MacAddr{{2, 0, 0, 0, 0, 2}},
                            v6 ? ethertype::ipv6 : ethertype::ipv4}
                   .emit(b)));
  auto pl = payload(n);
  std::copy(pl.begin(), pl.end(), f.begin() + static_cast<long>(kEthHeaderLen + ip + l4h));
  MutBytes l4 = b.subspan(kEthHeaderLen + ip);
  const u16 l4len = static_cast<u16>(l4h + n);
  if (!v6) {
    Ipv4Repr r;
    r.src = kA4;
    r.dst = kB4;
    r.protocol = proto;
    r.payload_len = l4len;
    EXPECT_TRUE(r.emit(b.subspan(kEthHeaderLen)));
  } else {
    Ipv6Repr r;
    r.src = kA6;
    r.dst = kB6;
    r.next_header = proto;
    r.payload_len = l4len;
    EXPECT_TRUE(r.emit(b.subspan(kEthHeaderLen)));
  }
  if (proto == ipproto::tcp) {
    TcpRepr t;
    t.src_port = 1000;
    t.dst_port = 2000;
    t.seq = Seq{12345};
    t.flags = tcp_flag::ack;
    t.window = 100;
    t.payload_len = n;
    EXPECT_TRUE(v6 ? t.emit(l4, kA6, kB6) : t.emit(l4, kA4, kB4));
  } else {
    UdpRepr u{1000, 2000, n};
    EXPECT_TRUE(v6 ? u.emit(l4, kA6, kB6) : (no_csum ? u.emit(l4) : u.emit(l4, kA4, kB4)));
  }
  return f;
}

// What the device (or skb_checksum_help) does with a NEEDS_CSUM frame.
void complete(std::vector<u8>& f, const VnetHdr& h) {
  ASSERT_EQ(h.flags & vnet::f_needs_csum, vnet::f_needs_csum);
  const u16 c = Csum().add(Bytes(f).subspan(h.csum_start)).finish();
  store_be16(f.data() + h.csum_start + h.csum_offset, c);
}

TEST(VnetHdr, RoundTripsInHostOrder) {
  VnetHdr h;
  h.flags = vnet::f_needs_csum;
  h.gso_type = vnet::gso_tcpv6 | vnet::gso_ecn;
  h.hdr_len = 0x1234;
  h.gso_size = 1440;
  h.csum_start = 54;
  h.csum_offset = 16;
  u8 b[kVnetHdrLen + 2] = {};
  EXPECT_EQ(h.emit(MutBytes(b, kVnetHdrLen - 1)).err(), Err::truncated);
  ASSERT_TRUE(h.emit(MutBytes(b)));
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[1], 0x84);
  if constexpr (std::endian::native == std::endian::little) {
    EXPECT_EQ(b[2], 0x34);
    EXPECT_EQ(b[3], 0x12);
    EXPECT_EQ(b[6], 54);
    EXPECT_EQ(b[7], 0);
  }
  EXPECT_EQ(b[kVnetHdrLen], 0);  // exactly 10 bytes
  auto p = VnetHdr::parse(Bytes(b, kVnetHdrLen));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, h);
  EXPECT_EQ(VnetHdr::parse(Bytes(b, 9)).err(), Err::truncated);
}

TEST(VnetHdr, EmitsLittleEndianForVirtio1) {
  VnetHdr h;
  h.flags = vnet::f_needs_csum;
  h.gso_type = vnet::gso_tcpv4;
  h.hdr_len = 0x0136;
  h.gso_size = 0x05a8;
  h.csum_start = 34;
  h.csum_offset = 16;
  u8 b[kVnetHdrLen + 1] = {};
  ASSERT_TRUE(h.emit_le(MutBytes(b, sizeof(b))));
  const u8 want[kVnetHdrLen] = {1, 1, 0x36, 0x01, 0xa8, 0x05, 34, 0, 16, 0};
  EXPECT_TRUE(std::equal(want, want + kVnetHdrLen, b));
  EXPECT_EQ(b[kVnetHdrLen], 0);
  EXPECT_EQ(h.emit_le(MutBytes(b, 9)).err(), Err::truncated);
}

TEST(VnetHdr, FindsTheL4ChecksumOfOurFrames) {
  auto t4 = frame(false, ipproto::tcp, 100);
  auto s = l4_csum_site(Bytes(t4));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->start, 34);
  EXPECT_EQ(s->offset, 16);
  EXPECT_FALSE(s->v6);
  EXPECT_EQ(s->pseudo, pseudo_header_v4(kA4, kB4, ipproto::tcp, 120));
  auto u6 = frame(true, ipproto::udp, 33);
  s = l4_csum_site(Bytes(u6));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->start, 54);
  EXPECT_EQ(s->offset, 6);
  EXPECT_TRUE(s->v6);
  EXPECT_EQ(s->pseudo, pseudo_header_v6(kA6, kB6, ipproto::udp, 41));
}

TEST(VnetHdr, RejectsWhatHasNoWholeSegment) {
  auto t4 = frame(false, ipproto::tcp, 10);
  // Truncated frame (IP length beyond it).
  EXPECT_FALSE(l4_csum_site(Bytes(t4).first(t4.size() - 1)));
  // A fragment.
  auto fr = t4;
  store_be16(fr.data() + 14 + 6, 0x2000);
  EXPECT_FALSE(l4_csum_site(Bytes(fr)));
  // ICMP, ARP, a short frame.
  auto ic = t4;
  ic[14 + 9] = ipproto::icmp;
  EXPECT_FALSE(l4_csum_site(Bytes(ic)));
  auto arp = t4;
  store_be16(arp.data() + 12, ethertype::arp);
  EXPECT_FALSE(l4_csum_site(Bytes(arp)));
  EXPECT_FALSE(l4_csum_site(Bytes(t4).first(13)));
  // A TCP segment shorter than its header.
  auto tiny = frame(false, ipproto::udp, 0);
  tiny[14 + 9] = ipproto::tcp;
  EXPECT_FALSE(l4_csum_site(Bytes(tiny)));
}

// Frames whose checksum we leave (field 0), completed the way the kernel
// completes a NEEDS_CSUM frame from the pseudo-header sum, carry the
// checksum we would have computed in full.
TEST(VnetHdr, LeftChecksumCompletesToTheFullOne) {
  for (bool v6 : {false, true}) {
    for (u8 proto : {ipproto::tcp, ipproto::udp}) {
      for (std::size_t n : {0u, 1u, 1460u, 65000u}) {
        SCOPED_TRACE(testing::Message() << v6 << " " << int{proto} << " " << n);
        auto full = frame(v6, proto, n);
        // A computed checksum is not left to the reader.
        EXPECT_FALSE(l4_csum_left(Bytes(full)));
        auto f = full;
        const std::size_t site = (v6 ? 54u : 34u) + (proto == ipproto::tcp ? 16u : 6u);
        store_be16(f.data() + site, 0);
        auto s = l4_csum_left(Bytes(f));
        if (proto == ipproto::udp && !v6) {
          EXPECT_FALSE(s);  // IPv4 UDP checksum 0 means "none"
          continue;
        }
        ASSERT_TRUE(s);
        VnetHdr h = vnet_needs_csum(*s);
        EXPECT_EQ(h.gso_type, vnet::gso_none);
        EXPECT_EQ(h.csum_start, site - h.csum_offset);
        EXPECT_NE(s->pseudo, 0u);
        store_be16(f.data() + site, static_cast<u16>(s->pseudo));
        complete(f, h);
        if (proto == ipproto::udp && load_be16(f.data() + site) == 0)
          store_be16(f.data() + site, 0xffff);  // as the kernel does for UDP
        EXPECT_EQ(f, full);
      }
    }
  }
}

// A port that cannot leave the checksum to its reader (a vhost-user guest
// without GUEST_CSUM) completes it itself: the value is the full checksum,
// whatever padding follows the segment in the frame.
TEST(VnetHdr, LeftChecksumValueIsTheFullOne) {
  for (bool v6 : {false, true}) {
    for (u8 proto : {ipproto::tcp, ipproto::udp}) {
      for (std::size_t n : {0u, 1u, 1460u, 65000u}) {
        if (proto == ipproto::udp && !v6) continue;
        SCOPED_TRACE(testing::Message() << v6 << " " << int{proto} << " " << n);
        const auto full = frame(v6, proto, n);
        const std::size_t site = (v6 ? 54u : 34u) + (proto == ipproto::tcp ? 16u : 6u);
        auto f = full;
        store_be16(f.data() + site, 0);
        f.insert(f.end(), {0xde, 0xad, 0xbe});  // Ethernet padding: not summed
        auto s = l4_csum_left(Bytes(f));
        ASSERT_TRUE(s);
        EXPECT_EQ(s->len, full.size() - s->start);
        EXPECT_EQ(l4_csum_value(Bytes(f), *s), load_be16(full.data() + site));
      }
    }
  }
  // A UDP sum that comes out 0 is sent as 0xffff (0 would mean "none"):
  // the two payload bytes (one 16-bit word) chosen to make the sum 0xffff.
  auto u = frame(true, ipproto::udp, 2);
  const std::size_t site = 54 + 6;
  store_be16(u.data() + site, 0);
  store_be16(u.data() + u.size() - 2, 0);
  auto s = l4_csum_left(Bytes(u));
  ASSERT_TRUE(s);
  const u16 rest = Csum().add_partial(s->pseudo).add(Bytes(u).subspan(s->start)).fold();
  store_be16(u.data() + u.size() - 2, static_cast<u16>(0xffff - rest));
  ASSERT_EQ(Csum().add_partial(s->pseudo).add(Bytes(u).subspan(s->start)).finish(), 0);
  EXPECT_EQ(l4_csum_value(Bytes(u), *s), 0xffff);
}

TEST(VnetHdr, OtherProtocolsAreNotLeft) {
  auto t = frame(false, ipproto::tcp, 20);
  store_be16(t.data() + 50, 0);
  t[14 + 9] = ipproto::icmp;
  EXPECT_FALSE(l4_csum_left(Bytes(t)));
}

}  // namespace
}  // namespace passt::wire
