// VhostUser against a front end played by the test: the vhost-user
// messages qemu sends, over a socketpair, with the guest's memory in a
// memfd that both sides map, and eventfds for kicks and interrupts.  The
// test writes descriptors and rings as a guest driver would.
#include "linux/vhost_user.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "linux/clock.hpp"
#include "linux/sandbox_fdlimit.hpp"
#include "linux/test/sandbox_child.hpp"
#include "linux/test/test_support.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::os {
namespace {

namespace vu = wire::vhost_user;
namespace vq = wire::virtio;
using test::RecordingSink;
using test::run_until;

constexpr u64 kMemSize = u64{1} << 20;
constexpr u64 kMapOffset = 64 * 1024;      // the region starts this far into the memfd
constexpr u64 kRegion = kMemSize - kMapOffset;
constexpr u64 kGpa = 0x40000000;           // guest physical address of the region
constexpr u32 kNum = 64;                   // queue size
// Layout inside the region (offsets from its start).
constexpr u64 kRing[2] = {0x0000, 0x2000};  // desc at +0, avail at +0x400, used at +0x800
constexpr u64 kBufs = 0x10000;              // buffers from here on

std::vector<u8> pattern(std::size_t len, u32 seed) {
  std::vector<u8> f(len);
  for (std::size_t i = 0; i < len; i++) f[i] = static_cast<u8>(seed * 13 + i * 7 + (i >> 8));
  return f;
}

// A TCP/IPv4 frame as the engine builds it for a port that offloads
// checksums: checksum field 0 (`left`), or the full checksum.
std::vector<u8> tcp_frame(std::size_t n, bool left) {
  const auto a = Ipv4Addr::of(198, 51, 100, 1);
  const auto b = Ipv4Addr::of(198, 51, 100, 2);
  std::vector<u8> f(wire::kEthHeaderLen + wire::kIpv4HeaderLen + wire::kTcpHeaderLen + n);
  MutBytes m(f);
  EXPECT_TRUE((wire::EthernetRepr{MacAddr{{2, 0, 0, 0, 0, 1}}, MacAddr{{2, 0, 0, 0, 0, 2}},
                                  wire::ethertype::ipv4}
                   .emit(m)));
  wire::Ipv4Repr ip;
  ip.src = a;
  ip.dst = b;
  ip.protocol = wire::ipproto::tcp;
  ip.payload_len = static_cast<u16>(wire::kTcpHeaderLen + n);
  EXPECT_TRUE(ip.emit(m.subspan(wire::kEthHeaderLen)));
  const std::vector<u8> pl = pattern(n, 11);
  std::copy(pl.begin(), pl.end(), f.end() - static_cast<long>(n));
  wire::TcpRepr t;
  t.src_port = 80;
  t.dst_port = 40000;
  t.seq = Seq{7};
  t.flags = wire::tcp_flag::ack;
  t.window = 1000;
  t.payload_len = n;
  EXPECT_TRUE(t.emit(m.subspan(wire::kEthHeaderLen + wire::kIpv4HeaderLen), a, b));
  if (left) store_be16(f.data() + 34 + 16, 0);
  return f;
}

class VhostUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop.init());
    memfd = ::memfd_create("guest", MFD_CLOEXEC);
    ASSERT_GE(memfd, 0);
    ASSERT_EQ(::ftruncate(memfd, static_cast<off_t>(kMemSize)), 0);
    void* m = ::mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    ASSERT_NE(m, MAP_FAILED);
    map = static_cast<u8*>(m);
    region = map + kMapOffset;
    for (int& k : kick) k = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    for (int& c : call) c = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  void TearDown() override {
    vh.reset();
    if (fe >= 0) ::close(fe);
    ::munmap(map, kMemSize);
    ::close(memfd);
    for (int k : kick) ::close(k);
    for (int c : call) ::close(c);
  }

  void attach(VhostUser::Options o = {}) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    vh = std::make_unique<VhostUser>(loop, o);
    ASSERT_TRUE(vh->init());
    ASSERT_TRUE(vh->attach(sv[0]));
    fe = sv[1];
  }

  // The front end's address of a region offset (what qemu would send).
  u64 uva(u64 off) const { return reinterpret_cast<std::uintptr_t>(region) + off; }

  bool send_msg(u32 req, u32 flags, const std::vector<u8>& payload, const std::vector<int>& fds = {}) {
    std::vector<u8> m(vu::kHdrLen + payload.size());
    vu::Header{req, vu::kVersion | flags, static_cast<u32>(payload.size())}.emit(m.data());
    if (!payload.empty()) std::memcpy(m.data() + vu::kHdrLen, payload.data(), payload.size());
    iovec iov{m.data(), m.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) u8 ctl[CMSG_SPACE(sizeof(int) * 8)]{};
    if (!fds.empty()) {
      mh.msg_control = ctl;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    return ::sendmsg(fe, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(m.size());
  }

  // Runs the loop until a reply arrives; its payload (empty on failure).
  std::vector<u8> reply(u32 req) {
    std::vector<u8> out;
    u8 h[vu::kHdrLen];
    bool got = run_until(loop, sink, [&] {
      return ::recv(fe, h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof(h));
    });
    if (!got) return out;
    EXPECT_EQ(::recv(fe, h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
    auto hdr = vu::Header::parse(Bytes(h, sizeof(h)));
    EXPECT_TRUE(hdr);
    if (!hdr) return out;
    EXPECT_EQ(hdr->request, req);
    EXPECT_EQ(hdr->flags, vu::kVersion | vu::kFlagReply);
    out.resize(hdr->size);
    if (hdr->size > 0) {
      EXPECT_EQ(::recv(fe, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    }
    return out;
  }
  static u64 as_u64(const std::vector<u8>& p) { return p.size() == 8 ? load_le64(p.data()) : ~u64{0}; }
  static std::vector<u8> u64_payload(u64 v) {
    std::vector<u8> p(8);
    store_le64(p.data(), v);
    return p;
  }
  static std::vector<u8> state(u32 index, u32 num) {
    std::vector<u8> p(8);
    vu::VringState{index, num}.emit(p.data());
    return p;
  }
  // A request with NEED_REPLY: the REPLY_ACK status (0: done).
  u64 acked(u32 req, const std::vector<u8>& payload, const std::vector<int>& fds = {}) {
    EXPECT_TRUE(send_msg(req, vu::kFlagNeedReply, payload, fds));
    return as_u64(reply(req));
  }

  std::vector<u8> mem_table() const {
    std::vector<u8> p(8 + 32);
    store_le32(p.data(), 1);
    store_le64(p.data() + 8, kGpa);
    store_le64(p.data() + 16, kRegion);
    store_le64(p.data() + 24, uva(0));
    store_le64(p.data() + 32, kMapOffset);
    return p;
  }
  std::vector<u8> vring_addr(u32 q) const {
    std::vector<u8> p(40);
    store_le32(p.data(), q);
    store_le64(p.data() + 8, uva(kRing[q]));
    store_le64(p.data() + 16, uva(kRing[q] + 0x800));
    store_le64(p.data() + 24, uva(kRing[q] + 0x400));
    return p;
  }

  // qemu's sequence up to running queues.
  void handshake(u64 features = VhostUser::kFeatures) {
    ASSERT_TRUE(send_msg(vu::req::get_features, 0, {}));
    ASSERT_EQ(as_u64(reply(vu::req::get_features)), VhostUser::kFeatures);
    ASSERT_TRUE(send_msg(vu::req::get_protocol_features, 0, {}));
    ASSERT_EQ(as_u64(reply(vu::req::get_protocol_features)), VhostUser::kProtocolFeatures);
    ASSERT_TRUE(send_msg(vu::req::set_protocol_features, 0, u64_payload(vu::pf::reply_ack)));
    ASSERT_EQ(acked(vu::req::set_owner, {}), 0u);
    ASSERT_EQ(acked(vu::req::set_features, u64_payload(features)), 0u);
    ASSERT_EQ(acked(vu::req::set_mem_table, mem_table(), {memfd}), 0u);
    for (u32 q = 0; q < 2; q++) {
      ASSERT_EQ(acked(vu::req::set_vring_num, state(q, kNum)), 0u);
      ASSERT_EQ(acked(vu::req::set_vring_base, state(q, 0)), 0u);
      ASSERT_EQ(acked(vu::req::set_vring_addr, vring_addr(q)), 0u);
      ASSERT_EQ(acked(vu::req::set_vring_kick, u64_payload(q), {kick[q]}), 0u);
      ASSERT_EQ(acked(vu::req::set_vring_call, u64_payload(q), {call[q]}), 0u);
      ASSERT_EQ(acked(vu::req::set_vring_enable, state(q, 1)), 0u);
    }
  }

  // --- the guest driver's side of the rings ---
  u8* desc(u32 q, u16 i) { return region + kRing[q] + 16u * i; }
  u8* avail(u32 q) { return region + kRing[q] + 0x400; }
  u8* used(u32 q) { return region + kRing[q] + 0x800; }
  u16 used_idx(u32 q) { return load_le16(used(q) + 2); }
  std::pair<u32, u32> used_elem(u32 q, u16 i) {
    const u8* e = used(q) + 4 + 8 * (i % kNum);
    return {load_le32(e), load_le32(e + 4)};
  }
  void set_desc(u32 q, u16 i, u64 off, u32 len, u16 flags, u16 next = 0) {
    store_le64(desc(q, i), kGpa + off);
    store_le32(desc(q, i) + 8, len);
    store_le16(desc(q, i) + 12, flags);
    store_le16(desc(q, i) + 14, next);
  }
  void make_available(u32 q, u16 head) {
    const u16 idx = load_le16(avail(q) + 2);
    store_le16(avail(q) + 4 + 2 * (idx % kNum), head);
    store_le16(avail(q) + 2, static_cast<u16>(idx + 1));
  }
  void kick_queue(u32 q) {
    const u64 one = 1;
    ASSERT_EQ(::write(kick[q], &one, 8), 8);
  }
  u64 interrupts(u32 q) {
    u64 v = 0;
    return ::read(call[q], &v, 8) == 8 ? v : 0;
  }
  // A frame from the guest in descriptor `head` (and head+1: the header
  // and the frame in separate buffers, as Linux's virtio-net sends them).
  void guest_sends(u16 head, const std::vector<u8>& f, u64 at, u8 gso_type = 0) {
    std::memset(region + at, 0, vq::kNetHdrLen);
    region[at + 1] = gso_type;
    std::memcpy(region + at + 64, f.data(), f.size());
    set_desc(1, head, at, vq::kNetHdrLen, vq::desc_f_next, static_cast<u16>(head + 1));
    set_desc(1, static_cast<u16>(head + 1), at + 64, static_cast<u32>(f.size()), 0);
    make_available(1, head);
  }
  // `n` receive buffers of `len` bytes, descriptors first..first+n-1.
  void guest_posts(u16 first, u16 n, u32 len) {
    for (u16 i = 0; i < n; i++) {
      const u16 d = static_cast<u16>(first + i);
      set_desc(0, d, kBufs + 0x8000 + u64{d} * 0x1000, len, vq::desc_f_write);
      make_available(0, d);
    }
  }

  MonotonicClock clock;
  EventLoop loop{clock};
  RecordingSink sink;
  std::unique_ptr<VhostUser> vh;
  int fe = -1;
  int memfd = -1;
  u8* map = nullptr;
  u8* region = nullptr;
  int kick[2] = {-1, -1};
  int call[2] = {-1, -1};
};

TEST_F(VhostUserTest, HandshakeStartsBothQueues) {
  attach();
  EXPECT_FALSE(vh->queue_running(VhostUser::kRx));
  handshake();
  EXPECT_TRUE(vh->queue_running(VhostUser::kRx));
  EXPECT_TRUE(vh->queue_running(VhostUser::kTx));
  EXPECT_EQ(vh->features(), VhostUser::kFeatures);
  EXPECT_TRUE(vh->connected());
}

TEST_F(VhostUserTest, FeaturesWeDidNotOfferAreRefused) {
  attach();
  ASSERT_TRUE(send_msg(vu::req::set_protocol_features, 0, u64_payload(vu::pf::reply_ack)));
  EXPECT_EQ(acked(vu::req::set_features, u64_payload(VhostUser::kFeatures | vq::f_ring_indirect_desc)), 1u);
  EXPECT_EQ(acked(vu::req::set_features, u64_payload(VhostUser::kFeatures)), 0u);
  // An unknown request with NEED_REPLY gets a failure status, not silence.
  EXPECT_EQ(acked(99, {}), 1u);
  EXPECT_TRUE(vh->connected());
}

TEST_F(VhostUserTest, RingsStartDisabledWithProtocolFeaturesUntilEnabled) {
  attach();
  handshake();
  ASSERT_EQ(acked(vu::req::set_vring_enable, state(VhostUser::kRx, 0)), 0u);
  EXPECT_FALSE(vh->queue_running(VhostUser::kRx));
  const std::vector<u8> f = pattern(60, 1);
  const Bytes one[] = {Bytes(f)};
  EXPECT_EQ(vh->send(one), 1u);  // not running: dropped, as with no guest
  EXPECT_EQ(vh->stats().tx_dropped, 1u);
}

TEST_F(VhostUserTest, FrameFromTheGuestReachesTheEngineAndTheChainComesBack) {
  attach();
  handshake();
  const std::vector<u8> f = pattern(1514, 2);
  guest_sends(0, f, kBufs);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.frames.empty(); }));
  ASSERT_EQ(sink.frames.size(), 1u);
  EXPECT_EQ(sink.frames[0], f);
  EXPECT_EQ(used_idx(VhostUser::kTx), 1u);
  EXPECT_EQ(used_elem(VhostUser::kTx, 0), std::make_pair(u32{0}, u32{0}));
  EXPECT_EQ(interrupts(VhostUser::kTx), 1u);
  EXPECT_EQ(vh->stats().rx_frames, 1u);
  // Kicks wanted again once the ring is drained.
  EXPECT_EQ(load_le16(used(VhostUser::kTx)), 0u);
}

TEST_F(VhostUserTest, NoKicksWantedWhileABudgetLeavesChains) {
  attach({.max_frames = 1});
  handshake(VhostUser::kFeatures & ~vq::f_ring_event_idx);
  guest_sends(0, pattern(80, 1), kBufs);
  guest_sends(2, pattern(81, 2), kBufs + 0x1000);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 1; }));
  EXPECT_EQ(load_le16(used(VhostUser::kTx)), vq::used_f_no_notify);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 2; }));
  ASSERT_TRUE(loop.run_once(sink, Duration::millis(10)));
  EXPECT_EQ(load_le16(used(VhostUser::kTx)), 0u);
}

TEST_F(VhostUserTest, NoInterruptWhenTheGuestAsksForNone) {
  attach();
  handshake(VhostUser::kFeatures & ~vq::f_ring_event_idx);
  store_le16(avail(VhostUser::kTx), vq::avail_f_no_interrupt);
  guest_sends(0, pattern(100, 3), kBufs);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.frames.empty(); }));
  EXPECT_EQ(used_idx(VhostUser::kTx), 1u);
  EXPECT_EQ(interrupts(VhostUser::kTx), 0u);
}

// EVENT_IDX: kicks are asked for through avail_event (none on the receive
// queue, none while a budget leaves chains), interrupts follow the guest's
// used_event.
TEST_F(VhostUserTest, WithEventIdxKicksAreAskedThroughAvailEvent) {
  attach({.max_frames = 1});
  handshake();
  ASSERT_NE(vh->features() & vq::f_ring_event_idx, 0u);
  auto avail_event = [&](u32 q) { return load_le16(used(q) + 4 + 8 * kNum); };
  EXPECT_EQ(avail_event(VhostUser::kTx), 0u) << "kick me for the first chain";
  EXPECT_EQ(avail_event(VhostUser::kRx), 0xffffu) << "no kicks for receive buffers";
  EXPECT_EQ(load_le16(used(VhostUser::kTx)), 0u) << "flags untouched";
  guest_sends(0, pattern(80, 1), kBufs);
  guest_sends(2, pattern(81, 2), kBufs + 0x1000);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 1; }));
  EXPECT_EQ(avail_event(VhostUser::kTx), 0xffffu) << "draining: no kicks";
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 2; }));
  ASSERT_TRUE(loop.run_once(sink, Duration::millis(10)));
  EXPECT_EQ(avail_event(VhostUser::kTx), 2u) << "drained: kick me for the next one";
}

TEST_F(VhostUserTest, WithEventIdxTheGuestSaysWhenToInterrupt) {
  attach();
  handshake();
  auto used_event = [&](u32 q, u16 v) { store_le16(avail(q) + 4 + 2 * kNum, v); };
  store_le16(avail(VhostUser::kTx), vq::avail_f_no_interrupt);  // ignored with EVENT_IDX
  used_event(VhostUser::kTx, 0);
  guest_sends(0, pattern(100, 3), kBufs);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 1; }));
  EXPECT_EQ(interrupts(VhostUser::kTx), 1u);
  // The guest wants the next interrupt once index 3 is used: not for the
  // second chain, then for the third and fourth (one batch).
  used_event(VhostUser::kTx, 3);
  guest_sends(2, pattern(101, 4), kBufs + 0x1000);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 2; }));
  EXPECT_EQ(interrupts(VhostUser::kTx), 0u);
  guest_sends(4, pattern(102, 5), kBufs + 0x2000);
  guest_sends(6, pattern(103, 6), kBufs + 0x3000);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 4; }));
  EXPECT_EQ(used_idx(VhostUser::kTx), 4u);
  EXPECT_EQ(interrupts(VhostUser::kTx), 1u);
}

TEST_F(VhostUserTest, ChainsTooShortForAFrameAreReturnedUnread) {
  attach();
  handshake();
  set_desc(1, 0, kBufs, vq::kNetHdrLen + 13, 0);  // one byte short of an Ethernet header
  make_available(1, 0);
  guest_sends(1, pattern(64, 4), kBufs + 0x1000);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return used_idx(VhostUser::kTx) == 2; }));
  ASSERT_EQ(sink.frames.size(), 1u);
  EXPECT_EQ(sink.frames[0], pattern(64, 4));
  EXPECT_EQ(vh->stats().rx_oversize, 1u);
}

TEST_F(VhostUserTest, AWakeUpTakesAtMostMaxFramesAndKicksItselfForTheRest) {
  attach({.max_frames = 2});
  handshake();
  for (u16 i = 0; i < 5; i++) guest_sends(static_cast<u16>(2 * i), pattern(80, i), kBufs + 0x1000u * i);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  EXPECT_EQ(sink.frames.size(), 2u);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 5; }));
  for (u32 i = 0; i < 5; i++) EXPECT_EQ(sink.frames[i], pattern(80, i));
}

TEST_F(VhostUserTest, FramesToTheGuestFillMergeableBuffersInOrder) {
  attach();
  handshake();
  guest_posts(0, 4, 1536);
  const std::vector<u8> f = pattern(3100, 5);
  const Bytes one[] = {Bytes(f)};
  ASSERT_EQ(vh->send(one), 1u);
  // 12 + 3100 bytes: two whole buffers and 40 bytes of a third.
  ASSERT_EQ(used_idx(VhostUser::kRx), 3u);
  EXPECT_EQ(used_elem(VhostUser::kRx, 0), std::make_pair(u32{0}, u32{1536}));
  EXPECT_EQ(used_elem(VhostUser::kRx, 1), std::make_pair(u32{1}, u32{1536}));
  EXPECT_EQ(used_elem(VhostUser::kRx, 2), std::make_pair(u32{2}, u32{40}));
  std::vector<u8> got;
  for (u16 d = 0; d < 3; d++) {
    const u8* b = region + kBufs + 0x8000 + u64{d} * 0x1000;
    got.insert(got.end(), b, b + used_elem(VhostUser::kRx, d).second);
  }
  ASSERT_EQ(got.size(), 12u + f.size());
  EXPECT_EQ(load_le16(got.data() + vq::kNetHdrNumBuffers), 3u);
  EXPECT_EQ(std::vector<u8>(got.begin(), got.begin() + 10), std::vector<u8>(10, 0));
  EXPECT_EQ(std::vector<u8>(got.begin() + 12, got.end()), f);
  EXPECT_EQ(interrupts(VhostUser::kRx), 1u);

  // One buffer left: a 2000-byte frame does not fit and takes nothing.
  const std::vector<u8> g = pattern(2000, 6);
  const Bytes two[] = {Bytes(g)};
  EXPECT_EQ(vh->send(two), 0u);
  EXPECT_EQ(used_idx(VhostUser::kRx), 3u);
  EXPECT_EQ(vh->stats().tx_no_buffers, 1u);
  // More buffers: now it goes, into the one left and a new one.
  guest_posts(4, 1, 1536);
  EXPECT_EQ(vh->send(two), 1u);
  EXPECT_EQ(used_idx(VhostUser::kRx), 5u);
  EXPECT_EQ(used_elem(VhostUser::kRx, 3).first, 3u);
  EXPECT_EQ(used_elem(VhostUser::kRx, 4).first, 4u);
}

// GUEST_CSUM: a checksum the engine left goes to the guest as NEEDS_CSUM,
// the field holding the pseudo-header sum; completed the way the guest's
// kernel does, it is the full checksum.  Frames with a checksum go as they
// are.
TEST_F(VhostUserTest, LeftChecksumsGoToAGuestThatCompletesThem) {
  attach();
  handshake();
  ASSERT_NE(vh->features() & vq::f_net_guest_csum, 0u);
  guest_posts(0, 2, 4096);
  const std::vector<u8> full = tcp_frame(1000, false);
  const std::vector<u8> left = tcp_frame(1000, true);
  const Bytes fs[] = {Bytes(left), Bytes(full)};
  ASSERT_EQ(vh->send(fs), 2u);
  ASSERT_EQ(used_idx(VhostUser::kRx), 2u);
  const u8* b = region + kBufs + 0x8000;
  ASSERT_EQ(used_elem(VhostUser::kRx, 0).second, 12u + left.size());
  EXPECT_EQ(b[0], wire::vnet::f_needs_csum);
  EXPECT_EQ(b[1], wire::vnet::gso_none);
  EXPECT_EQ(load_le16(b + 6), 34u);  // csum_start
  EXPECT_EQ(load_le16(b + 8), 16u);  // csum_offset
  EXPECT_EQ(load_le16(b + 10), 1u);  // num_buffers
  std::vector<u8> got(b + 12, b + 12 + left.size());
  const auto site = wire::l4_csum_site(Bytes(left));
  ASSERT_TRUE(site);
  EXPECT_EQ(load_be16(got.data() + 50), static_cast<u16>(site->pseudo));
  store_be16(got.data() + 50, wire::Csum().add(Bytes(got).subspan(34)).finish());
  EXPECT_EQ(got, full);
  // The second frame had its checksum: a plain header, the frame unchanged.
  const u8* c = region + kBufs + 0x9000;
  EXPECT_EQ(c[0], 0u);
  EXPECT_EQ(std::vector<u8>(c + 12, c + 12 + full.size()), full);
  EXPECT_EQ(vh->stats().tx_csum_left, 1u);
  EXPECT_EQ(vh->stats().tx_csum_done, 0u);
}

// Without GUEST_CSUM we complete the checksum ourselves, also when the
// frame (and so the checksum field) is split over mergeable buffers.
TEST_F(VhostUserTest, AGuestWithoutGuestCsumGetsFullChecksums) {
  attach();
  handshake(VhostUser::kFeatures & ~vq::f_net_guest_csum);
  guest_posts(0, 8, 49);  // 12 + 37: the checksum field (50, 51) straddles buffers 1 and 2
  const std::vector<u8> full = tcp_frame(300, false);
  const std::vector<u8> left = tcp_frame(300, true);
  const Bytes fs[] = {Bytes(left)};
  ASSERT_EQ(vh->send(fs), 1u);
  const u16 n = used_idx(VhostUser::kRx);
  ASSERT_EQ(n, (12u + left.size() + 48u) / 49u);
  std::vector<u8> got;
  for (u16 d = 0; d < n; d++) {
    const u8* b = region + kBufs + 0x8000 + u64{d} * 0x1000;
    got.insert(got.end(), b, b + used_elem(VhostUser::kRx, d).second);
  }
  ASSERT_EQ(got.size(), 12u + full.size());
  EXPECT_EQ(got[0], 0u);  // no NEEDS_CSUM
  EXPECT_EQ(load_le16(got.data() + 10), n);
  EXPECT_EQ(std::vector<u8>(got.begin() + 12, got.end()), full);
  EXPECT_EQ(vh->stats().tx_csum_done, 1u);
}

// GUEST_TSO4/6 (with GUEST_CSUM): a TCP frame of several MSS goes whole,
// its header telling the guest the MSS; a guest without them says it takes
// no GSO frames, and a GSO size handed anyway is not passed on.
class VhostUserGsoTest : public VhostUserTest {
 protected:
  void run(bool tso) {
    attach();
    handshake(tso ? VhostUser::kFeatures : VhostUser::kFeatures & ~vq::f_net_guest_tso6);
    EXPECT_EQ(vh->takes_gso(), tso);
    guest_posts(0, 16, 4096);
    const std::vector<u8> big = tcp_frame(20000, true);
    const std::vector<u8> small = tcp_frame(1000, true);
    const Bytes fs[] = {Bytes(big), Bytes(small)};
    const u16 mss[] = {1448, 1448};
    ASSERT_EQ(vh->send_gso(fs, mss), 2u);
    const u8* b = region + kBufs + 0x8000;
    EXPECT_EQ(b[0], wire::vnet::f_needs_csum);
    EXPECT_EQ(b[1], tso ? wire::vnet::gso_tcpv4 : wire::vnet::gso_none);
    EXPECT_EQ(load_le16(b + 2), tso ? 54u : 0u);    // hdr_len: Ethernet, IPv4, TCP
    EXPECT_EQ(load_le16(b + 4), tso ? 1448u : 0u);  // gso_size
    EXPECT_EQ(load_le16(b + 10), 5u);               // 12 + 20054 bytes in 4096-byte buffers
    // The frame within one MSS needs no cutting: no GSO type.
    const u8* c = region + kBufs + 0x8000 + 5 * 0x1000;
    EXPECT_EQ(c[0], wire::vnet::f_needs_csum);
    EXPECT_EQ(c[1], wire::vnet::gso_none);
    EXPECT_EQ(vh->stats().tx_gso, tso ? 1u : 0u);
  }
};

TEST_F(VhostUserGsoTest, FramesOfSeveralMssGoWholeToAGuestThatTakesThem) { run(true); }
TEST_F(VhostUserGsoTest, AGuestWithoutGuestTsoTakesNoGsoFrames) { run(false); }

// Frames both ways, with checksums left, GSO and the event index, allocate
// nothing (the release binary aborts on an allocation after start-up).
TEST_F(VhostUserTest, DataPathsAllocateNothing) {
  attach();
  handshake();
  guest_posts(0, 16, 4096);
  const std::vector<u8> big = tcp_frame(20000, true);
  const std::vector<u8> small = tcp_frame(1000, true);
  const std::vector<u8> full = tcp_frame(1000, false);
  const Bytes fs[] = {Bytes(big), Bytes(small), Bytes(full)};
  const u16 mss[] = {1448, 1448, 0};
  guest_sends(0, big, kBufs, wire::vnet::gso_tcpv4);  // up to kBufs + 0x4e98
  guest_sends(2, small, kBufs + 0x5000);              // the receive buffers start at + 0x8000
  test::CountingSink counting;
  const long before = test::allocations();
  EXPECT_EQ(vh->send_gso(fs, mss), 3u);
  EXPECT_EQ(vh->send(std::span<const Bytes>(fs + 1, 1)), 1u);
  kick_queue(VhostUser::kTx);
  const bool got = run_until(loop, counting, [&] { return counting.frames == 2; });
  const long after = test::allocations();
  EXPECT_TRUE(got);
  EXPECT_EQ(after - before, 0);
  EXPECT_EQ(vh->stats().tx_gso, 1u);
  EXPECT_EQ(vh->stats().rx_gso, 1u);
}

// HOST_TSO4/6: TCP segments beyond the MTU come with a GSO type and reach
// the engine as they are; a GSO type we did not offer (UDP) is dropped and
// its chain returned.
TEST_F(VhostUserTest, TsoSegmentsFromTheGuestPassOtherGsoTypesDoNot) {
  attach();
  handshake();
  const std::vector<u8> big = tcp_frame(20000, true);
  guest_sends(0, big, kBufs, wire::vnet::gso_tcpv4);
  guest_sends(2, pattern(200, 3), kBufs + 0x8000, wire::vnet::gso_udp);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return used_idx(VhostUser::kTx) == 2; }));
  ASSERT_EQ(sink.frames.size(), 1u);
  EXPECT_EQ(sink.frames[0], big);
  EXPECT_EQ(vh->stats().rx_gso, 1u);
  EXPECT_EQ(vh->stats().rx_csum_left, 0u);
  EXPECT_EQ(vh->stats().rx_bad_gso, 1u);
}

TEST_F(VhostUserTest, ManyFramesOnePublishOneInterrupt) {
  attach();
  handshake();
  guest_posts(0, 16, 2048);
  std::vector<std::vector<u8>> fs;
  std::vector<Bytes> bs;
  for (u32 i = 0; i < 10; i++) fs.push_back(pattern(100 + i, i));
  for (const auto& f : fs) bs.emplace_back(f);
  EXPECT_EQ(vh->send(bs), 10u);
  EXPECT_EQ(used_idx(VhostUser::kRx), 10u);
  EXPECT_EQ(interrupts(VhostUser::kRx), 1u);
}

TEST_F(VhostUserTest, ACorruptRingStopsThatQueueOnly) {
  attach();
  handshake();
  make_available(VhostUser::kTx, kNum + 3);  // a head beyond the ring
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return vh->stats().broken == 1; }));
  EXPECT_FALSE(vh->queue_running(VhostUser::kTx));
  EXPECT_TRUE(vh->queue_running(VhostUser::kRx));
  EXPECT_TRUE(sink.frames.empty());
  EXPECT_TRUE(vh->connected());
}

TEST_F(VhostUserTest, GetVringBaseStopsTheQueueAndTellsWhereItStopped) {
  attach();
  handshake();
  guest_sends(0, pattern(70, 7), kBufs);
  guest_sends(2, pattern(71, 8), kBufs + 0x1000);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 2; }));
  ASSERT_TRUE(send_msg(vu::req::get_vring_base, 0, state(VhostUser::kTx, 0)));
  const std::vector<u8> r = reply(vu::req::get_vring_base);
  ASSERT_EQ(r.size(), 8u);
  EXPECT_EQ(load_le32(r.data()), VhostUser::kTx);
  EXPECT_EQ(load_le32(r.data() + 4), 2u);
  EXPECT_FALSE(vh->queue_running(VhostUser::kTx));
}

TEST_F(VhostUserTest, ANewMemoryTableMovesTheRings) {
  attach();
  handshake();
  // The same memory again (qemu re-sends the table on changes): the rings
  // are translated again and keep working.
  ASSERT_EQ(acked(vu::req::set_mem_table, mem_table(), {memfd}), 0u);
  guest_sends(0, pattern(90, 9), kBufs);
  kick_queue(VhostUser::kTx);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 1; }));
  // A table without the rings' memory: the queue cannot be mapped, the
  // request fails... and nothing is read from stale pointers.
  std::vector<u8> t = mem_table();
  store_le64(t.data() + 24, uva(0) + (u64{1} << 40));  // a different front-end address
  EXPECT_EQ(acked(vu::req::set_mem_table, t, {memfd}), 0u);
  EXPECT_FALSE(vh->queue_running(VhostUser::kTx));
}

TEST_F(VhostUserTest, MemoryTableWithoutDescriptorsFails) {
  attach();
  ASSERT_TRUE(send_msg(vu::req::set_protocol_features, 0, u64_payload(vu::pf::reply_ack)));
  EXPECT_EQ(acked(vu::req::set_mem_table, mem_table()), 1u);
  EXPECT_TRUE(vh->connected());
}

TEST_F(VhostUserTest, FrontEndLeavingEndsTheSession) {
  attach();
  handshake();
  ::close(fe);
  fe = -1;
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.states.empty(); }));
  EXPECT_EQ(sink.states, std::vector<bool>{false});
  EXPECT_FALSE(vh->connected());
  EXPECT_FALSE(vh->queue_running(VhostUser::kRx));
}

TEST_F(VhostUserTest, AnOversizedPayloadEndsTheSession) {
  attach();
  std::vector<u8> m(vu::kHdrLen);
  store_le32(m.data(), vu::req::set_features);
  store_le32(m.data() + 4, vu::kVersion);
  store_le32(m.data() + 8, vu::kMaxPayload + 1);
  ASSERT_EQ(::send(fe, m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.states.empty(); }));
  EXPECT_FALSE(vh->connected());
}

TEST_F(VhostUserTest, ListenerAcceptsOneFrontEndAtATime) {
  char dir[] = "/tmp/vhost-user-test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/sock";
  VhostUser v(loop, {.one_off = true});
  ASSERT_TRUE(v.init());
  ASSERT_TRUE(v.listen(path.c_str()));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  const auto* addr = reinterpret_cast<const sockaddr*>(&sa);
  int a = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int b = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(a, addr, sizeof(sa)), 0);
  ASSERT_TRUE(run_until(loop, sink, [&] { return v.connected(); }));
  ASSERT_EQ(::connect(b, addr, sizeof(sa)), 0);
  ASSERT_TRUE(run_until(loop, sink, [&] { return v.stats().rejected == 1; }));
  EXPECT_EQ(sink.states, std::vector<bool>{true});
  ::close(a);
  ASSERT_TRUE(run_until(loop, sink, [&] { return loop.stopping(); }));  // --one-off
  EXPECT_EQ(sink.states, (std::vector<bool>{true, false}));
  ::close(b);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

// At the descriptor limit with no reserve (sandbox_fdlimit.hpp) a second
// front end stays pending while the listener waits edge-triggered; when
// the first one leaves, the pending one is taken.
TEST_F(VhostUserTest, AtTheFdLimitWithoutAReserveTheNextFrontEndWaitsItsTurn) {
  char dir[] = "/tmp/vhost-user-test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/sock";
  auto out = test::in_child([&](const test::Say& say) {
    if (fd_reserve_held()) return 77;
    MonotonicClock clock2;
    EventLoop loop2{clock2};
    test::RecordingSink sink2;
    if (!loop2.init()) return 2;
    VhostUser v(loop2);
    if (!v.init() || !v.listen(path.c_str())) return 3;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    const auto* addr = reinterpret_cast<const sockaddr*>(&sa);
    const int a = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int b = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a < 0 || b < 0 || ::connect(a, addr, sizeof(sa)) != 0) return 4;
    if (!run_until(loop2, sink2, [&] { return v.connected(); })) return 5;
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) < 0) return 6;
    rl.rlim_cur = 64;
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) return 6;
    while (::fcntl(0, F_DUPFD_CLOEXEC, 3) >= 0) {
    }
    if (::connect(b, addr, sizeof(sa)) != 0) return 7;
    for (int i = 0; i < 8; i++) (void)loop2.run_once(sink2, Duration::millis(20));
    if (v.stats().accept_at_limit > 2 || v.stats().listener_waits != 1 || v.stats().rejected != 0) {
      say("accept() at the limit %llu times, listener waits %llu, rejected %llu",
          static_cast<unsigned long long>(v.stats().accept_at_limit),
          static_cast<unsigned long long>(v.stats().listener_waits),
          static_cast<unsigned long long>(v.stats().rejected));
      return 1;
    }
    ::close(a);
    if (!run_until(loop2, sink2, [&] { return sink2.states.size() == 3; })) {
      say("states after the first left: %zu", sink2.states.size());
      return 1;
    }
    if (!v.connected() || v.stats().sessions != 2) return 8;
    return 0;
  });
  ::unlink(path.c_str());
  ::rmdir(dir);
  if (out.exited(77)) GTEST_SKIP() << "the fd reserve is held in this process";
  EXPECT_TRUE(out.ok()) << out.describe();
}

}  // namespace
}  // namespace passt::os
