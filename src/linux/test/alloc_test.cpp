// The data paths of every adapter allocate nothing after construction: a
// counting global operator new proves it for one round of each operation.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#include "linux/host_net.hpp"
#include "linux/qemu_stream.hpp"
#include "linux/tap_fd.hpp"
#include "linux/test/test_support.hpp"
#include "util/endian.hpp"

namespace {
std::atomic<long> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace passt::os {

long test::allocations() noexcept { return g_allocs.load(); }

namespace {

using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockType;

using test::CountingSink;

TEST(NoAllocation, OnEveryDataPath) {
  const int nsfd = test::make_test_netns();  // -1 is fine: the guest path is skipped
  MonotonicClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.init());
  LinuxHostNet net(loop, {.guest_netns_fd = nsfd});
  ASSERT_TRUE(net.init());
  LinuxHostNet net_iov(loop, {.peek_mode = LinuxHostNet::PeekMode::discard_iov});
  ASSERT_TRUE(net_iov.init());
  TapFd tap(loop);
  ASSERT_TRUE(tap.init());
  QemuStream qemu(loop);
  ASSERT_TRUE(qemu.init());
  int tsv[2], qsv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tsv), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qsv), 0);
  ASSERT_TRUE(tap.attach(tsv[0]));
  ASSERT_TRUE(qemu.attach(qsv[0]));
  CountingSink sink;
  std::array<u8, 4096> buf{};
  std::array<u8, 64> frame{};

  const long before = g_allocs.load();

  // TCP over loopback.
  Sock l = *net.socket(Netns::host, Family::v4, SockType::tcp);
  ASSERT_TRUE(net.bind(l, {InAny::from(Ipv4Addr::loopback()), 0, 0}));
  ASSERT_TRUE(net.listen(l, 4));
  SockAddr la = *net.local_addr(l);
  Sock c = *net.socket(Netns::host, Family::v4, SockType::tcp);
  (void)net.connect(c, la);
  ASSERT_TRUE(test::wait_fd(l.v, POLLIN));
  SockAddr peer;
  Sock a = *net.accept(l, &peer);
  ASSERT_TRUE(test::wait_fd(c.v, POLLOUT));
  ASSERT_TRUE(net.set_opt(c, ports::SockOpt::tcp_nodelay, 1));
  Bytes out(buf.data(), 1000);
  ASSERT_TRUE(net.send(c, std::span<const Bytes>(&out, 1), true));
  ASSERT_TRUE(net.send(c, std::span<const Bytes>(&out, 1), false));
  ASSERT_TRUE(test::wait_fd(a.v, POLLIN));
  ASSERT_TRUE(net.watch(a, ports::ev::in, 1));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  MutBytes in(buf.data(), 100);
  (void)net.peek(a, 10, std::span<const MutBytes>(&in, 1));
  (void)net_iov.peek(a, 10, std::span<const MutBytes>(&in, 1));
  (void)net.discard(a, 50);
  (void)net.recv(a, std::span<const MutBytes>(&in, 1));
  (void)net.tcp_info(c);
  (void)net.send_queue(c);
  (void)net.take_error(c);
  (void)net.shutdown_write(c);
  net.unwatch(a);

  // Pipes and splice.
  auto p = *net.pipe();
  (void)net.splice(a, p.wr, 1 << 16, false);
  (void)net.splice(p.rd, c, 1 << 16, true);

  // UDP batches.
  Sock u1 = *net.socket(Netns::host, Family::v4, SockType::udp);
  Sock u2 = *net.socket(Netns::host, Family::v4, SockType::udp);
  ASSERT_TRUE(net.bind(u1, {InAny::from(Ipv4Addr::loopback()), 0, 0}));
  SockAddr ua = *net.local_addr(u1);
  std::array<Bytes, 1> iov{Bytes(buf.data(), 10)};
  std::array<ports::SendSlot, 2> msgs{ports::SendSlot{iov, &ua}, ports::SendSlot{iov, &ua}};
  ASSERT_TRUE(net.send_batch(u2, msgs));
  ASSERT_TRUE(test::wait_fd(u1.v, POLLIN));
  std::array<ports::RecvSlot, 2> slots{ports::RecvSlot{MutBytes(buf.data(), 100), 0, {}},
                                       ports::RecvSlot{MutBytes(buf.data() + 100, 100), 0, {}}};
  ASSERT_TRUE(net.recv_batch(u1, slots));

  // A socket in the guest namespace (clone + setns).
  if (nsfd >= 0) {
    auto g = net.socket(Netns::guest, Family::v4, SockType::udp);
    ASSERT_TRUE(g);
    net.close(*g);
  }

  // Tap: write, then read back through the loop.
  store_be16(frame.data() + 12, 0x0800);
  Bytes fb(frame);
  EXPECT_EQ(tap.send(std::span<const Bytes>(&fb, 1)), 1u);
  ASSERT_EQ(::write(tsv[1], frame.data(), frame.size()), 64);
  // Qemu: send a frame out, and read one in.
  EXPECT_EQ(qemu.send(std::span<const Bytes>(&fb, 1)), 1u);
  u8 wire[4 + 64];
  store_be32(wire, 64);
  std::copy(frame.begin(), frame.end(), wire + 4);
  ASSERT_EQ(::write(qsv[1], wire, sizeof(wire)), static_cast<ssize_t>(sizeof(wire)));
  sink.deadline = clock.now();
  for (int i = 0; i < 20 && sink.frames < 2; i++) ASSERT_TRUE(loop.run_once(sink, Duration::millis(50)));

  for (Sock s : {l, c, a, p.rd, p.wr, u1, u2}) net.close(s);
  const long after = g_allocs.load();
  EXPECT_EQ(after - before, 0);
  EXPECT_EQ(sink.frames, 2u);

  ::close(tsv[1]);
  ::close(qsv[1]);
  if (nsfd >= 0) ::close(nsfd);
}

}  // namespace
}  // namespace passt::os
