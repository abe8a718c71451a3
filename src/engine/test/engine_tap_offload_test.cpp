// The engine with pasta's tap offloads (Sizing::tap_l4_csum_offload and
// tap_gso, docs/linux-adapters.md "Virtio-net header"): TCP checksums left
// for the tap, GSO frames of many MSS towards the guest, and guest segments
// larger than the MTU (TSO) taken whole.
#include <gtest/gtest.h>

#include "engine/test/tcp_rig.hpp"
#include "proto/tcp.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::engine::test {
namespace {

using sim::PeerKind;
using sim::PeerSpec;

const Ep kRemote{InAny::from(Ipv4Addr::of(203, 0, 113, 5)), 80};
const Ep kGuest{InAny::from(kGuest4), 40000};

core::NetInfo net_mtu(u16 mtu) {
  core::NetInfo n = rig_net();
  n.mtu = mtu;
  return n;
}

// Completes a TCP checksum the way the guest's kernel does for NEEDS_CSUM
// and checks the frame then verifies.
void complete_and_check(std::vector<u8>& f) {
  auto s = wire::l4_csum_left(Bytes(f));
  ASSERT_TRUE(s) << "the checksum is left to the tap";
  store_be16(f.data() + s->start + s->offset, static_cast<u16>(s->pseudo));
  const u16 c = wire::Csum().add(Bytes(f).subspan(s->start)).finish();
  store_be16(f.data() + s->start + s->offset, c);
  auto pf = wire::parse_frame(Bytes(f));
  ASSERT_TRUE(pf);
  EXPECT_TRUE(wire::frame_checksums_ok(*pf));
}

struct Conn {
  Seq isn;
  Seq gsn{1000};
};

Conn handshake(TcpRig& r, u16 mss, u8 ws, u16 window) {
  Conn c;
  r.inject(guest_seg(kGuest, kRemote, tf::syn, Seq{999}, Seq{0}, 65535, {}, mss, ws));
  r.run(Duration::millis(5));
  auto segs = r.take();
  EXPECT_EQ(segs.size(), 1u);
  if (segs.empty()) return c;
  c.isn = segs[0].seq;
  r.inject(guest_seg(kGuest, kRemote, tf::ack, c.gsn, c.isn + 1, window));
  return c;
}

TEST(EngineTapOffload, GsoFramesOfWholeMssAtMtu1500) {
  TcpRig r(net_mtu(1500), {}, 64, {}, rig_opts(), true);
  ASSERT_TRUE(r.net().add_tcp_service(ports::Netns::host, {kRemote.addr, 80, 0},
                                      peer(PeerKind::source, 200000)));
  // The guest announces MSS 1460 and a 1 MiB window.
  const std::size_t before = r.tap.sent.size();  // data may follow the handshake's ACK at once
  Conn c = handshake(r, 1460, 7, 8192);
  r.run(Duration::millis(10));
  auto segs = r.take();  // no frame without a GSO size exceeds the MTU
  ASSERT_GT(r.tap.sent.size(), before);
  u32 bytes = 0;
  std::size_t big = 0;
  Seq next = c.isn + 1;
  for (std::size_t i = before; i < r.tap.sent.size(); i++) {
    auto f = r.tap.sent[i];
    auto pf = wire::parse_frame(Bytes(f));
    ASSERT_TRUE(pf);
    if (pf->l4 != wire::L4::tcp) continue;
    const std::size_t plen = pf->tcp->payload().size();
    if (plen > 1460) {
      big++;
      EXPECT_EQ(r.tap.gso[i], 1460) << "the guest's MSS";
      EXPECT_LE(plen, 44u * 1460u) << "whole MSS, as many as a packet holds";
      EXPECT_LE(f.size() - 14, 65535u);
    }
    if (plen > 0) {
      EXPECT_EQ(pf->tcp->seq(), next);
      next = next + static_cast<u32>(plen);
      bytes += static_cast<u32>(plen);
    }
    complete_and_check(f);
  }
  EXPECT_GT(big, 0u);
  EXPECT_EQ(bytes, 200000u);
  EXPECT_EQ(r.eng().tap_out().dropped_frames(), 0u);
  (void)segs;
}

// A port that does not take GSO frames now (a vhost-user guest without
// GUEST_TSO) gets frames within the MTU, checksums still left; once it
// takes them, the same connection's next frames are GSO frames.
TEST(EngineTapOffload, GsoOnlyWhileThePortTakesIt) {
  TcpRig r(net_mtu(1500), {}, 64, {}, rig_opts(), true);
  r.tap.gso_ok = false;
  ASSERT_TRUE(r.net().add_tcp_service(ports::Netns::host, {kRemote.addr, 80, 0},
                                      peer(PeerKind::source, 400000)));
  Conn c = handshake(r, 1460, 7, 256);  // window 256 << 7: 32 KiB at a time
  r.run(Duration::millis(3));
  (void)r.take();  // every frame without a GSO size within the MTU
  const std::size_t first = r.tap.sent.size();
  ASSERT_GT(first, 0u);
  Seq next = c.isn + 1;
  for (std::size_t i = 0; i < first; i++) {
    EXPECT_EQ(r.tap.gso[i], 0);
    auto f = r.tap.sent[i];
    auto pf = wire::parse_frame(Bytes(f));
    ASSERT_TRUE(pf);
    if (pf->l4 != wire::L4::tcp) continue;
    EXPECT_LE(pf->tcp->payload().size(), 1460u);
    next = next + static_cast<u32>(pf->tcp->payload().size());
    if (!pf->tcp->payload().empty()) complete_and_check(f);
  }
  // The guest acknowledges everything and opens its window: now GSO.
  r.tap.gso_ok = true;
  r.inject(guest_seg(kGuest, kRemote, tf::ack, c.gsn, next, 8192));
  r.run(Duration::millis(10));
  (void)r.take();
  std::size_t big = 0;
  for (std::size_t i = first; i < r.tap.sent.size(); i++) {
    if (r.tap.gso[i] == 0) continue;
    EXPECT_EQ(r.tap.gso[i], 1460);
    big++;
  }
  EXPECT_GT(big, 0u);
}

TEST(EngineTapOffload, NoGsoWhereOneMssFillsAPacket) {
  // MTU 65520: our MSS (61440) is all one packet holds; no GSO sizes.
  TcpRig r(net_mtu(65520), {}, 64, {}, rig_opts(), true);
  ASSERT_TRUE(r.net().add_tcp_service(ports::Netns::host, {kRemote.addr, 80, 0},
                                      peer(PeerKind::source, 300000)));
  (void)handshake(r, 65480, 7, 8192);
  r.run(Duration::millis(10));
  (void)r.take();  // checks every frame against the MTU
  for (u16 g : r.tap.gso) EXPECT_EQ(g, 0);
}

TEST(EngineTapOffload, WithoutTheOffloadChecksumsAreComputedAndFramesFitTheMtu) {
  TcpRig r(net_mtu(1500));
  ASSERT_TRUE(r.net().add_tcp_service(ports::Netns::host, {kRemote.addr, 80, 0},
                                      peer(PeerKind::source, 100000)));
  (void)handshake(r, 1460, 7, 8192);
  r.run(Duration::millis(10));
  auto segs = r.take();  // checksums verified, frames <= MTU
  u32 bytes = 0;
  for (const Seg& s : segs) {
    EXPECT_LE(s.payload.size(), 1460u);
    bytes += static_cast<u32>(s.payload.size());
  }
  EXPECT_EQ(bytes, 100000u);
  for (u16 g : r.tap.gso) EXPECT_EQ(g, 0);
}

TEST(EngineTapOffload, GuestTsoSegmentWithPartialChecksumIsTakenWhole) {
  // The namespace's kernel hands us a 30000-byte segment at MTU 1500 whose
  // checksum field holds only the pseudo-header sum.
  TcpRig r(net_mtu(1500), {}, 64, {}, rig_opts(), true);
  ASSERT_TRUE(r.net().add_tcp_service(ports::Netns::host, {kRemote.addr, 80, 0}, peer(PeerKind::sink)));
  Conn c = handshake(r, 1460, 7, 8192);
  r.run(Duration::millis(2));
  (void)r.take();
  std::vector<u8> data(30000);
  for (std::size_t i = 0; i < data.size(); i++) data[i] = static_cast<u8>(i * 13);
  auto f = guest_seg(kGuest, kRemote, tf::ack | tf::psh, c.gsn, c.isn + 1, 8192, data);
  auto site = wire::l4_csum_site(Bytes(f));
  ASSERT_TRUE(site);
  store_be16(f.data() + site->start + site->offset, static_cast<u16>(site->pseudo));
  r.inject(f);
  r.run(Duration::millis(30));
  auto segs = r.take();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().ack, c.gsn + 30000) << "all of it written to the socket and acknowledged";
  EXPECT_EQ(r.eng().stats().frames_bad_csum, 0u);
}

}  // namespace
}  // namespace passt::engine::test
