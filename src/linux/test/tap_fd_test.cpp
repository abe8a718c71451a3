#include "linux/tap_fd.hpp"

#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "linux/test/test_support.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::os {
namespace {

using test::RecordingSink;

std::vector<u8> frame(std::size_t len, u8 seed) {
  std::vector<u8> f(len);
  for (std::size_t i = 0; i < len; i++) f[i] = static_cast<u8>(seed + i * 3);
  return f;
}

// A SEQPACKET socketpair stands in for the tap: one message per read/write,
// and closing the peer gives the hang-up a vanished device would.
class TapFdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop.init());
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  }
  void TearDown() override {
    if (sv[1] >= 0) ::close(sv[1]);
  }
  std::unique_ptr<TapFd> make(TapFd::Options o = {}) {
    auto t = std::make_unique<TapFd>(loop, o);
    EXPECT_TRUE(t->init());
    EXPECT_TRUE(t->attach(sv[0]));
    return t;
  }
  void put(const std::vector<u8>& f) { ASSERT_EQ(::write(sv[1], f.data(), f.size()), static_cast<ssize_t>(f.size())); }

  MonotonicClock clock;
  EventLoop loop{clock};
  RecordingSink sink;
  int sv[2] = {-1, -1};
};

TEST_F(TapFdTest, ReadsAllQueuedFramesIntoOneBatch) {
  auto tap = make();
  EXPECT_TRUE(tap->connected());
  std::vector<std::vector<u8>> sent = {frame(14, 1), frame(100, 2), frame(1500, 3), frame(65535 + 14, 4)};
  for (auto& f : sent) put(f);
  put(frame(5, 9));  // shorter than an Ethernet header: skipped
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.batches.size(), 1u);
  EXPECT_EQ(sink.batches[0], 4u);
  EXPECT_EQ(sink.frames, sent);
  EXPECT_EQ(tap->stats().rx_frames, 4u);
  EXPECT_EQ(tap->stats().rx_short, 1u);
  EXPECT_EQ(sink.flushes, 1);
}

// Each read lands on a cache-line boundary (the vnet header, if any, first):
// the kernel's copy into the pool runs measurably faster than into packed,
// unaligned frames (docs/performance.md §22).
TEST_F(TapFdTest, FramesAreReadToCacheLineBoundaries) {
  auto tap = make();
  std::vector<std::vector<u8>> sent = {frame(61, 1), frame(1499, 2), frame(14, 3), frame(65535 + 14, 4),
                                       frame(77, 5)};
  for (auto& f : sent) put(f);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.frames, sent);
  for (std::uintptr_t a : sink.addrs) EXPECT_EQ(a % 64, 0u) << a;
}

TEST_F(TapFdTest, StopsAtThePoolBoundAndResumes) {
  // Reads continue only while a maximum-size frame still fits: with room for
  // two, 40000-byte frames come two per wake-up.
  int big = 1 << 20;
  ASSERT_EQ(::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
  auto tap = make({.buf_bytes = 2 * TapFd::kMaxFrame, .max_frames = 100});
  std::vector<std::vector<u8>> sent;
  for (u8 i = 0; i < 5; i++) sent.push_back(frame(40000, i));
  for (auto& f : sent) put(f);
  ASSERT_TRUE(test::run_until(loop, sink, [&] { return sink.frames.size() == 5; }));
  EXPECT_EQ(sink.frames, sent);
  EXPECT_EQ(sink.batches, (std::vector<std::size_t>{2, 2, 1}));
}

TEST_F(TapFdTest, StopsAtMaxFrames) {
  auto tap = make({.buf_bytes = std::size_t{1} << 20, .max_frames = 3});
  std::vector<std::vector<u8>> sent;
  for (u8 i = 0; i < 7; i++) sent.push_back(frame(40, i));
  for (auto& f : sent) put(f);
  ASSERT_TRUE(test::run_until(loop, sink, [&] { return sink.frames.size() == 7; }));
  EXPECT_EQ(sink.frames, sent);
  EXPECT_EQ(sink.batches, (std::vector<std::size_t>{3, 3, 1}));
}

TEST_F(TapFdTest, SendsOneFramePerWrite) {
  auto tap = make();
  std::vector<std::vector<u8>> frames = {frame(14, 1), frame(1000, 2), frame(60, 3)};
  std::vector<Bytes> spans(frames.begin(), frames.end());
  EXPECT_EQ(tap->send(spans), 3u);
  EXPECT_EQ(tap->stats().tx_frames, 3u);
  for (auto& f : frames) {
    std::vector<u8> got(70000);
    ssize_t n = ::read(sv[1], got.data(), got.size());
    ASSERT_EQ(n, static_cast<ssize_t>(f.size()));
    got.resize(static_cast<std::size_t>(n));
    EXPECT_EQ(got, f);
  }
}

TEST_F(TapFdTest, DropsFramesWhenTheDeviceIsFull) {
  int small = 4096;
  ASSERT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  auto tap = make();
  std::vector<std::vector<u8>> frames(200, frame(1000, 7));
  std::vector<Bytes> spans(frames.begin(), frames.end());
  EXPECT_EQ(tap->send(spans), 200u);  // dropped frames count as taken
  EXPECT_GT(tap->stats().tx_dropped, 0u);
  EXPECT_GT(tap->stats().tx_frames, 0u);
  EXPECT_EQ(tap->stats().tx_frames + tap->stats().tx_dropped, 200u);
  EXPECT_TRUE(tap->connected());
  EXPECT_EQ(loop.failure(), Err::none);
}

TEST_F(TapFdTest, OtherWriteErrorsAreFatal) {
  auto tap = make();
  ::close(sv[1]);
  sv[1] = -1;
  std::vector<std::vector<u8>> frames(3, frame(100, 1));
  std::vector<Bytes> spans(frames.begin(), frames.end());
  EXPECT_EQ(tap->send(spans), 0u);
  EXPECT_FALSE(tap->connected());
  EXPECT_NE(loop.failure(), Err::none);
  // Not connected any more: frames are dropped and reported as sent.
  EXPECT_EQ(tap->send(spans), 3u);
}

TEST_F(TapFdTest, HangupIsFatalAndReported) {
  auto tap = make();
  put(frame(64, 1));
  ::close(sv[1]);
  sv[1] = -1;
  Status s = loop.run(sink);
  EXPECT_FALSE(s);
  EXPECT_EQ(sink.frames.size(), 1u);  // queued frames are still delivered first
  EXPECT_EQ(sink.states, std::vector<bool>{false});
  EXPECT_FALSE(tap->connected());
  EXPECT_EQ(tap->fd(), -1);
}

TEST_F(TapFdTest, AttachTwiceIsRefused) {
  auto tap = make();
  EXPECT_EQ(tap->attach(sv[1]).err(), Err::is_connected);
}

// A TCP/IPv4 frame (198.51.100.1 -> .2) with `n` payload bytes and
// checksum 0, as the engine leaves it for an offloading tap.
std::vector<u8> tcp4_partial(std::size_t n) {
  std::vector<u8> f(54 + n, 0);
  store_be16(f.data() + 12, 0x0800);
  f[14] = 0x45;
  store_be16(f.data() + 16, static_cast<u16>(40 + n));
  f[22] = 64;
  f[23] = 6;
  store_be32(f.data() + 26, 0xc6336401);
  store_be32(f.data() + 30, 0xc6336402);
  f[46] = 0x50;
  return f;
}

std::vector<u8> with_vnet(const wire::VnetHdr& h, const std::vector<u8>& f) {
  std::vector<u8> out(wire::kVnetHdrLen);
  EXPECT_TRUE(h.emit(MutBytes(out)));
  out.insert(out.end(), f.begin(), f.end());
  return out;
}

TEST_F(TapFdTest, VnetHeaderIsStrippedOnReadAndGsoTypesFiltered) {
  auto tap = std::make_unique<TapFd>(loop);
  ASSERT_TRUE(tap->init());
  ASSERT_TRUE(tap->attach(sv[0], TapFd::Vnet{wire::kVnetHdrLen, true}));
  wire::VnetHdr plain;
  wire::VnetHdr tso;
  tso.flags = wire::vnet::f_needs_csum;
  tso.gso_type = wire::vnet::gso_tcpv4;
  tso.gso_size = 1448;
  tso.hdr_len = 66;
  tso.csum_start = 34;
  tso.csum_offset = 16;
  wire::VnetHdr ufo = tso;
  ufo.gso_type = wire::vnet::gso_udp_l4;
  const auto a = frame(60, 1);
  const auto big = tcp4_partial(64000);  // larger than any MTU but 65520
  put(with_vnet(plain, a));
  put(with_vnet(tso, big));
  put(with_vnet(ufo, frame(3000, 2)));  // never offered: skipped
  put(std::vector<u8>(wire::kVnetHdrLen + 5, 0));  // header and a runt: skipped
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  EXPECT_EQ(sink.frames, (std::vector<std::vector<u8>>{a, big}));
  EXPECT_EQ(tap->stats().rx_gso, 1u);
  EXPECT_EQ(tap->stats().rx_bad_vnet, 1u);
  EXPECT_EQ(tap->stats().rx_short, 1u);
  EXPECT_EQ(tap->attach(sv[1], TapFd::Vnet{12, false}).err(), Err::is_connected);
}

TEST_F(TapFdTest, VnetFramesAreReadToCacheLineBoundaries) {
  auto tap = std::make_unique<TapFd>(loop);
  ASSERT_TRUE(tap->init());
  ASSERT_TRUE(tap->attach(sv[0], TapFd::Vnet{wire::kVnetHdrLen, true}));
  wire::VnetHdr plain;
  for (std::size_t len : {60u, 1501u, 333u}) put(with_vnet(plain, frame(len, 7)));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.addrs.size(), 3u);
  for (std::uintptr_t a : sink.addrs) EXPECT_EQ((a - wire::kVnetHdrLen) % 64, 0u) << a;
}

TEST_F(TapFdTest, VnetHeaderOnWriteMarksPartialChecksums) {
  for (bool partial : {true, false}) {
    auto tap = std::make_unique<TapFd>(loop);
    ASSERT_TRUE(tap->init());
    int p[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p), 0);
    ASSERT_TRUE(tap->attach(p[0], TapFd::Vnet{wire::kVnetHdrLen, partial}));
    auto full = tcp4_partial(100);
    store_be16(full.data() + 50, 0x1234);  // a checksum: passed on as it is
    const std::vector<std::vector<u8>> frames = {tcp4_partial(100), frame(42, 3), full};
    std::vector<Bytes> spans(frames.begin(), frames.end());
    EXPECT_EQ(tap->send(spans), 3u);
    EXPECT_EQ(tap->stats().tx_frames, 3u);
    for (std::size_t i = 0; i < frames.size(); i++) {
      std::vector<u8> got(70000);
      ssize_t n = ::read(p[1], got.data(), got.size());
      ASSERT_EQ(n, static_cast<ssize_t>(wire::kVnetHdrLen + frames[i].size()));
      got.resize(static_cast<std::size_t>(n));
      auto h = wire::VnetHdr::parse(Bytes(got));
      ASSERT_TRUE(h);
      wire::VnetHdr want;
      if (partial && i == 0) {
        want.flags = wire::vnet::f_needs_csum;
        want.csum_start = 34;
        want.csum_offset = 16;
      }
      EXPECT_EQ(*h, want);
      auto expect = frames[i];
      if (partial && i == 0)  // the pseudo-header sum, spliced in
        store_be16(expect.data() + 50,
                   static_cast<u16>(wire::pseudo_header_v4(Ipv4Addr::of(198, 51, 100, 1),
                                                           Ipv4Addr::of(198, 51, 100, 2), 6, 120)));
      EXPECT_EQ(std::vector<u8>(got.begin() + wire::kVnetHdrLen, got.end()), expect);
    }
    tap->detach();
    ::close(p[1]);
  }
}

TEST_F(TapFdTest, GsoSizesMarkLongTcpFrames) {
  auto tap = std::make_unique<TapFd>(loop);
  ASSERT_TRUE(tap->init());
  int big = 1 << 20;
  ASSERT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
  ASSERT_TRUE(tap->attach(sv[0], TapFd::Vnet{wire::kVnetHdrLen, true}));
  // 4380 bytes of payload at GSO size 1460: GSO; 1460: not (one segment);
  // a non-TCP frame with a size: plain.
  const std::vector<std::vector<u8>> frames = {tcp4_partial(4380), tcp4_partial(1460), frame(60, 1)};
  std::vector<Bytes> spans(frames.begin(), frames.end());
  const u16 sizes[] = {1460, 1460, 1460};
  EXPECT_EQ(tap->send_gso(spans, sizes), 3u);
  EXPECT_EQ(tap->stats().tx_gso, 1u);
  std::vector<wire::VnetHdr> got;
  for (std::size_t i = 0; i < frames.size(); i++) {
    std::vector<u8> b(70000);
    ssize_t n = ::read(sv[1], b.data(), b.size());
    ASSERT_EQ(n, static_cast<ssize_t>(wire::kVnetHdrLen + frames[i].size()));
    got.push_back(*wire::VnetHdr::parse(Bytes(b)));
  }
  EXPECT_EQ(got[0].gso_type, wire::vnet::gso_tcpv4);
  EXPECT_EQ(got[0].gso_size, 1460);
  EXPECT_EQ(got[0].hdr_len, 54);
  EXPECT_EQ(got[0].flags, wire::vnet::f_needs_csum);
  EXPECT_EQ(got[1].gso_type, wire::vnet::gso_none);
  EXPECT_EQ(got[1].flags, wire::vnet::f_needs_csum);
  EXPECT_EQ(got[2], wire::VnetHdr{});
}

// A real tap device in a namespace of our own: the kernel answers an ARP
// request we write, and the reply comes back through the adapter.
TEST(TapFdReal, KernelAnswersArpThroughATap) {
  int tapfd = -1;
  int nsfd = -1;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) < 0) return;
    nsfd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strcpy(ifr.ifr_name, "ptap0");
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
      ::close(fd);
      return;
    }
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1
    std::memcpy(&ifr.ifr_addr, &sa, sizeof(sa));
    bool ok = ::ioctl(s, SIOCSIFADDR, &ifr) == 0;
    sa.sin_addr.s_addr = htonl(0xffffff00);
    std::memcpy(&ifr.ifr_netmask, &sa, sizeof(sa));
    ok = ok && ::ioctl(s, SIOCSIFNETMASK, &ifr) == 0;
    ok = ok && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    ::close(s);
    if (!ok) {
      ::close(fd);
      return;
    }
    tapfd = fd;
  });
  t.join();
  if (nsfd >= 0) ::close(nsfd);  // the tap fd keeps the namespace alive
  if (tapfd < 0) GTEST_SKIP() << "cannot create a tap device in a namespace here";

  MonotonicClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.init());
  TapFd tap(loop);
  ASSERT_TRUE(tap.init());
  ASSERT_TRUE(tap.attach(tapfd));

  // ARP who-has 10.0.0.1 tell 10.0.0.2, from 02:00:00:00:00:02.
  const u8 mac[6] = {2, 0, 0, 0, 0, 2};
  std::vector<u8> f(42, 0);
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, mac, 6);
  store_be16(f.data() + 12, 0x0806);
  u8* a = f.data() + 14;
  store_be16(a, 1);
  store_be16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  store_be16(a + 6, 1);  // request
  std::memcpy(a + 8, mac, 6);
  store_be32(a + 14, 0x0a000002);
  store_be32(a + 24, 0x0a000001);
  Bytes fb(f);
  ASSERT_EQ(tap.send(std::span<const Bytes>(&fb, 1)), 1u);
  EXPECT_EQ(tap.stats().tx_frames, 1u);

  RecordingSink sink;
  auto is_reply = [&] {
    for (auto& r : sink.frames)
      if (r.size() >= 42 && load_be16(r.data() + 12) == 0x0806 && load_be16(r.data() + 20) == 2 &&
          std::memcmp(r.data(), mac, 6) == 0 && load_be32(r.data() + 28) == 0x0a000001)
        return true;
    return false;
  };
  EXPECT_TRUE(test::run_until(loop, sink, is_reply));
  tap.detach();
}

}  // namespace
}  // namespace passt::os
