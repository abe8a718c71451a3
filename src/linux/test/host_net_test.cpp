#include "linux/host_net.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockOpt;
using ports::SockType;
using test::RecordingSink;
using test::wait_fd;

SockAddr v4(Ipv4Addr a, u16 port) { return {InAny::from(a), port, 0}; }
SockAddr v6(const Ipv6Addr& a, u16 port) { return {InAny::from(a), port, 0}; }

Bytes as_bytes(const std::string& s) {
  return Bytes(reinterpret_cast<const u8*>(s.data()), s.size());
}
std::string as_string(const std::vector<u8>& v, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(v.data()), n);
}

bool have_ipv6() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return ok;
}

class HostNetTest : public ::testing::TestWithParam<LinuxHostNet::PeekMode> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop.init());
    LinuxHostNet::Options o;
    o.peek_mode = GetParam();
    net = std::make_unique<LinuxHostNet>(loop, o);
    Status s = net->init();
    if (s.err() == Err::not_supported) GTEST_SKIP() << "no SO_PEEK_OFF for TCP";
    ASSERT_TRUE(s);
  }
  void TearDown() override {
    for (Sock s : socks) net->close(s);
  }
  Sock track(Result<Sock> r) {
    EXPECT_TRUE(r) << err_name(r.err());
    if (!r) return {};
    socks.push_back(*r);
    return *r;
  }
  // A connected loopback TCP pair: {client, accepted}.
  std::pair<Sock, Sock> tcp_pair(Family fam = Family::v4) {
    Sock l = track(net->socket(Netns::host, fam, SockType::tcp));
    SockAddr any = fam == Family::v4 ? v4(Ipv4Addr::loopback(), 0) : v6(Ipv6Addr::loopback(), 0);
    EXPECT_TRUE(net->bind(l, any));
    EXPECT_TRUE(net->listen(l, 16));
    auto la = net->local_addr(l);
    EXPECT_TRUE(la);
    Sock c = track(net->socket(Netns::host, fam, SockType::tcp));
    Status cs = net->connect(c, *la);
    EXPECT_TRUE(cs.ok() || cs.err() == Err::in_progress) << err_name(cs.err());
    EXPECT_TRUE(wait_fd(l.v, POLLIN));
    SockAddr peer;
    Sock a = track(net->accept(l, &peer));
    EXPECT_TRUE(wait_fd(c.v, POLLOUT));
    EXPECT_EQ(net->take_error(c), Err::none);
    EXPECT_TRUE(peer.addr.is_loopback());
    // No Nagle: a second write must not wait for a (delayed) ACK, so data is
    // in the peer's queue as soon as send() returns.
    EXPECT_TRUE(net->set_opt(c, SockOpt::tcp_nodelay, 1));
    EXPECT_TRUE(net->set_opt(a, SockOpt::tcp_nodelay, 1));
    return {c, a};
  }
  // Sends all of `data` and waits until the receiver holds it all.
  void send_all(Sock from, Sock to, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      ASSERT_TRUE(wait_fd(from.v, POLLOUT));
      Bytes chunk = as_bytes(data).subspan(off);
      auto r = net->send(from, std::span<const Bytes>(&chunk, 1), false);
      ASSERT_TRUE(r) << err_name(r.err());
      off += *r;
    }
    // Loopback delivers synchronously in practice; bound the wait anyway.
    int avail = 0;
    const Instant end = monotonic_now() + Duration::seconds(2);
    while (monotonic_now() < end) {
      ASSERT_EQ(::ioctl(to.v, FIONREAD, &avail), 0);
      if (static_cast<std::size_t>(avail) >= data.size()) return;
      ::poll(nullptr, 0, 1);  // bounded retry, not a synchronisation sleep
    }
    FAIL() << "data did not arrive";
  }

  MonotonicClock clock;
  EventLoop loop{clock};
  std::unique_ptr<LinuxHostNet> net;
  std::vector<Sock> socks;
};

TEST_P(HostNetTest, TcpConnectAcceptAndV4MappedPeers) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  auto la = net->local_addr(c);
  ASSERT_TRUE(la);
  EXPECT_TRUE(la->addr.is_v4());
  EXPECT_EQ(la->addr.v4(), Ipv4Addr::loopback());
  EXPECT_NE(la->port, 0);

  if (!have_ipv6()) GTEST_SKIP() << "no IPv6 loopback";
  // Dual-stack listener: an IPv4 client shows up v4-mapped, as InAny's v4.
  Sock l = track(net->socket(Netns::host, Family::v6, SockType::tcp));
  ASSERT_TRUE(net->set_opt(l, SockOpt::v6only, 0));
  ASSERT_TRUE(net->bind(l, v6(Ipv6Addr::any(), 0)));
  ASSERT_TRUE(net->listen(l, 4));
  auto port = net->local_addr(l)->port;
  Sock c4 = track(net->socket(Netns::host, Family::v4, SockType::tcp));
  Status cs = net->connect(c4, v4(Ipv4Addr::loopback(), port));
  ASSERT_TRUE(cs.ok() || cs.err() == Err::in_progress);
  ASSERT_TRUE(wait_fd(l.v, POLLIN));
  SockAddr peer;
  Sock a4 = track(net->accept(l, &peer));
  EXPECT_TRUE(peer.addr.is_v4());
  EXPECT_EQ(peer.addr.v4(), Ipv4Addr::loopback());
  EXPECT_EQ(peer.port, net->local_addr(c4)->port);
  auto local = net->local_addr(a4);
  ASSERT_TRUE(local);
  EXPECT_TRUE(local->addr.is_v4());  // v4-mapped local address reported as v4
  EXPECT_EQ(local->family(), Family::v4);

  // A real IPv6 peer stays IPv6.
  Sock c6 = track(net->socket(Netns::host, Family::v6, SockType::tcp));
  cs = net->connect(c6, v6(Ipv6Addr::loopback(), port));
  ASSERT_TRUE(cs.ok() || cs.err() == Err::in_progress);
  ASSERT_TRUE(wait_fd(l.v, POLLIN));
  track(net->accept(l, &peer));
  EXPECT_FALSE(peer.addr.is_v4());
  EXPECT_EQ(peer.addr.v6(), Ipv6Addr::loopback());

  // An IPv6 address on an IPv4 socket is refused before the kernel sees it.
  Sock c5 = track(net->socket(Netns::host, Family::v4, SockType::tcp));
  EXPECT_EQ(net->connect(c5, v6(Ipv6Addr::loopback(), port)).err(), Err::invalid);
}

TEST_P(HostNetTest, ConnectRefusedShowsUpAsPendingError) {
  // Find a free port by binding and closing.
  Sock t = track(net->socket(Netns::host, Family::v4, SockType::tcp));
  ASSERT_TRUE(net->bind(t, v4(Ipv4Addr::loopback(), 0)));
  u16 port = net->local_addr(t)->port;
  Sock c = track(net->socket(Netns::host, Family::v4, SockType::tcp));
  Status cs = net->connect(c, v4(Ipv4Addr::loopback(), port));
  if (cs.ok()) GTEST_FAIL() << "connected to a port nobody listens on";
  if (cs.err() == Err::in_progress) {
    ASSERT_TRUE(wait_fd(c.v, POLLOUT));
    EXPECT_EQ(net->take_error(c), Err::conn_refused);
    EXPECT_EQ(net->take_error(c), Err::none);  // reading clears it
  } else {
    EXPECT_EQ(cs.err(), Err::conn_refused);
  }
}

TEST_P(HostNetTest, PeekAtOffsetDiscardAndRecv) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  const std::string data = "0123456789abcdefghijklmnopqrstuvwxyz";
  send_all(c, a, data);
  std::vector<u8> buf(64);
  auto peek = [&](std::size_t off, std::size_t len) {
    MutBytes b(buf.data(), len);
    auto r = net->peek(a, off, std::span<const MutBytes>(&b, 1));
    EXPECT_TRUE(r) << err_name(r.err());
    return r ? as_string(buf, *r) : std::string("<err>");
  };
  EXPECT_EQ(peek(0, 4), "0123");
  EXPECT_EQ(peek(4, 4), "4567");   // continues where the kernel offset is
  EXPECT_EQ(peek(4, 4), "4567");   // same explicit offset again
  EXPECT_EQ(peek(2, 3), "234");    // backwards
  EXPECT_EQ(peek(30, 64), "uvwxyz");
  EXPECT_EQ(peek(36, 8), "");      // nothing beyond: 0, not an error
  EXPECT_EQ(peek(100, 8), "");

  // Scatter into two buffers.
  std::vector<u8> x(3), y(3);
  std::array<MutBytes, 2> iov{MutBytes(x), MutBytes(y)};
  auto r = net->peek(a, 10, iov);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 6u);
  EXPECT_EQ(as_string(x, 3) + as_string(y, 3), "abcdef");

  // discard() drops the head: offsets are relative to the new head.
  EXPECT_EQ(peek(8, 4), "89ab");  // kernel offset now 12
  auto d = net->discard(a, 5);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, 5u);
  EXPECT_EQ(peek(0, 4), "5678");
  EXPECT_EQ(peek(7, 4), "cdef");  // leaves the kernel offset at 11
  ASSERT_TRUE(net->discard(a, 3));  // head "8", kernel offset 8
  EXPECT_EQ(peek(8, 4), "ghij");    // equal to the kernel's: no setsockopt needed
  EXPECT_EQ(peek(0, 2), "89");     // kernel offset 2
  ASSERT_TRUE(net->discard(a, 1));  // kernel offset 1, head "9"
  EXPECT_EQ(peek(2, 2), "bc");      // equals the offset before the discard
  ASSERT_TRUE(net->discard(a, 1));  // head "a"

  // Consuming recv moves offsets too.
  MutBytes rb(buf.data(), 4);
  auto rr = net->recv(a, std::span<const MutBytes>(&rb, 1));
  ASSERT_TRUE(rr);
  EXPECT_EQ(as_string(buf, *rr), "abcd");
  EXPECT_EQ(peek(0, 3), "efg");
  EXPECT_EQ(peek(2, 3), "ghi");

  // End of stream: peek beyond the data is 0 and stays 0.
  ASSERT_TRUE(net->shutdown_write(c));
  ASSERT_TRUE(wait_fd(a.v, POLLRDHUP));
  EXPECT_EQ(peek(0, 64), "efghijklmnopqrstuvwxyz");
  EXPECT_EQ(peek(22, 8), "");
  auto all = net->discard(a, 1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 22u);
  EXPECT_EQ(peek(0, 8), "");
}

// A seeded random walk of peek/discard/recv against a model of the stream,
// so the cached kernel peek offset is exercised in every order.
TEST_P(HostNetTest, PeekOffsetModelRandomWalk) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  // The stream is an endless pattern, topped up 4 KiB at a time so that at
  // most 8 KiB are outstanding: always inside the receive window, so every
  // byte sent is in the receive queue when send() returns.
  std::string data;
  auto pattern = [](std::size_t i) { return static_cast<char>('!' + (i * 7 + i / 91) % 90); };
  std::size_t head = 0;  // model: bytes consumed so far
  auto top_up = [&] {
    std::string chunk(4096, '\0');
    for (std::size_t i = 0; i < chunk.size(); i++) chunk[i] = pattern(data.size() + i);
    data += chunk;
    std::size_t off = 0;
    while (off < chunk.size()) {
      ASSERT_TRUE(wait_fd(c.v, POLLOUT));
      Bytes b = as_bytes(chunk).subspan(off);
      auto r = net->send(c, std::span<const Bytes>(&b, 1), false);
      ASSERT_TRUE(r);
      off += *r;
    }
    int avail = 0;
    const Instant end = monotonic_now() + Duration::seconds(2);
    while (monotonic_now() < end) {
      ASSERT_EQ(::ioctl(a.v, FIONREAD, &avail), 0);
      if (static_cast<std::size_t>(avail) >= data.size() - head) return;
      ::poll(nullptr, 0, 1);
    }
    FAIL() << "data did not arrive: " << avail << " of " << data.size() - head;
  };
  u64 rng = 0x9e3779b97f4a7c15ULL;
  auto next = [&rng](u64 n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
  };
  std::vector<u8> buf(4096);
  // Where the previous peek ended, relative to the current head: the engine
  // usually continues there (the kernel's own offset), or just past it.
  std::size_t last_end = 0;
  for (int step = 0; step < 3000; step++) {
    if (data.size() - head < 4096) {
      top_up();
      ASSERT_FALSE(HasFatalFailure());
    }
    const std::size_t left = data.size() - head;
    switch (next(4)) {
      case 0:
      case 1: {
        std::size_t off = 0;
        switch (next(4)) {
          case 0: off = next(left + 10); break;
          case 1: off = last_end; break;
          default: off = last_end + next(9); break;
        }
        std::size_t len = 1 + next(buf.size() - 1);
        MutBytes b(buf.data(), len);
        auto r = net->peek(a, off, std::span<const MutBytes>(&b, 1));
        ASSERT_TRUE(r);
        std::size_t want = off >= left ? 0 : std::min(len, left - off);
        ASSERT_EQ(*r, want) << "step " << step;
        ASSERT_EQ(as_string(buf, *r), data.substr(head + std::min(off, left), want)) << "step " << step;
        last_end = off + *r;
        break;
      }
      case 2: {
        std::size_t n = 1 + next(std::min<std::size_t>(left, next(2) == 0 ? 8 : 1500));
        auto r = net->discard(a, n);
        ASSERT_TRUE(r);
        ASSERT_EQ(*r, n);
        head += n;
        last_end = last_end > n ? last_end - n : 0;
        break;
      }
      case 3: {
        std::size_t n = 1 + next(std::min<std::size_t>(left, 300));
        MutBytes b(buf.data(), n);
        auto r = net->recv(a, std::span<const MutBytes>(&b, 1));
        ASSERT_TRUE(r);
        ASSERT_EQ(as_string(buf, *r), data.substr(head, n));
        head += n;
        last_end = last_end > n ? last_end - n : 0;
        break;
      }
    }
  }
}

TEST_P(HostNetTest, LargeOffsetsWithinBounds) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  ASSERT_TRUE(net->set_opt(a, SockOpt::rcvbuf, 4 << 20));
  std::string data(600 * 1024, 'x');
  data[550 * 1024] = 'Y';
  // Writes and reads concurrently are not needed: 600 KiB fits loopback buffers
  // (autotuned); if it does not, the bounded send loop fails the test.
  send_all(c, a, data);
  u8 b = 0;
  MutBytes mb(&b, 1);
  auto r = net->peek(a, 550 * 1024, std::span<const MutBytes>(&mb, 1));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1u);
  EXPECT_EQ(b, 'Y');
  EXPECT_EQ(net->peek(a, net->max_peek_offset() + 1, std::span<const MutBytes>(&mb, 1)).err(),
            Err::invalid);
}

TEST_P(HostNetTest, TcpInfoIsSaneOnLoopback) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  const std::string data(5000, 'z');
  send_all(c, a, data);
  auto ti = net->tcp_info(c);
  ASSERT_TRUE(ti) << err_name(ti.err());
  EXPECT_EQ(ti->state, 1);  // TCP_ESTABLISHED
  EXPECT_GT(ti->snd_mss, 500u);
  EXPECT_GT(ti->snd_cwnd, 0u);
  EXPECT_LE(ti->snd_wscale, 14);
  EXPECT_LE(ti->rcv_wscale, 14);
  EXPECT_TRUE(ti->has_bytes_acked);
  EXPECT_TRUE(ti->has_snd_wnd);
  EXPECT_TRUE(ti->has_min_rtt);
  EXPECT_GT(ti->snd_wnd, 0u);
  // The data was received by the peer kernel, so it is (or soon is) acked.
  for (int i = 0; i < 100 && ti->bytes_acked < data.size(); i++) {
    wait_fd(c.v, POLLPRI, 5);
    ti = net->tcp_info(c);
  }
  EXPECT_GE(ti->bytes_acked, data.size());
  EXPECT_EQ(ti->unacked, 0u);
  EXPECT_LT(ti->rtt_us, 1000000u);
  EXPECT_EQ(ti->total_retrans, 0u);
  auto sq = net->send_queue(c);
  ASSERT_TRUE(sq);
  EXPECT_EQ(*sq, 0u);

  // Not TCP: an error, not garbage.
  Sock u = track(net->socket(Netns::host, Family::v4, SockType::udp));
  EXPECT_FALSE(net->tcp_info(u));
}

TEST_P(HostNetTest, SendQueueGrowsWhenThePeerStopsReading) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  ASSERT_TRUE(net->set_opt(a, SockOpt::rcvbuf, 4096));
  ASSERT_TRUE(net->set_opt(c, SockOpt::sndbuf, 65536));
  std::string chunk(16384, 'q');
  std::size_t sent = 0;
  for (int i = 0; i < 1000; i++) {
    Bytes b = as_bytes(chunk);
    auto r = net->send(c, std::span<const Bytes>(&b, 1), false);
    if (!r) {
      EXPECT_EQ(r.err(), Err::again);
      break;
    }
    sent += *r;
  }
  auto sq = net->send_queue(c);
  ASSERT_TRUE(sq);
  EXPECT_GT(*sq, 0u);
  EXPECT_LE(*sq, sent);
}

TEST_P(HostNetTest, SendGathersAndHonoursMore) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  std::string p1 = "hello ", p2 = "world";
  std::array<Bytes, 2> iov{as_bytes(p1), as_bytes(p2)};
  auto r = net->send(c, iov, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 11u);
  const std::string bang = "!";
  Bytes b3 = as_bytes(bang);
  ASSERT_TRUE(net->send(c, std::span<const Bytes>(&b3, 1), false));
  std::vector<u8> buf(32);
  std::size_t got = 0;
  for (int i = 0; i < 100 && got < 12; i++) {
    wait_fd(a.v, POLLIN, 20);
    MutBytes mb(buf.data() + got, buf.size() - got);
    auto rr = net->recv(a, std::span<const MutBytes>(&mb, 1));
    if (rr) got += *rr;
  }
  EXPECT_EQ(as_string(buf, got), "hello world!");
  // Nothing left: would block.
  MutBytes mb(buf.data(), buf.size());
  EXPECT_EQ(net->recv(a, std::span<const MutBytes>(&mb, 1)).err(), Err::again);
  // The peer goes away: send fails with an error, never SIGPIPE.
  net->close(a);
  socks.erase(std::find(socks.begin(), socks.end(), a));
  Err e = Err::none;
  for (int i = 0; i < 50 && e == Err::none; i++) {
    Bytes b = as_bytes(p1);
    auto s = net->send(c, std::span<const Bytes>(&b, 1), false);
    if (!s) e = s.err();
    else wait_fd(c.v, POLLERR, 10);
  }
  EXPECT_TRUE(e == Err::broken_pipe || e == Err::conn_reset) << err_name(e);
}

TEST_P(HostNetTest, SocketOptions) {
  Sock t = track(net->socket(Netns::host, Family::v4, SockType::tcp));
  ASSERT_TRUE(net->set_opt(t, SockOpt::sndbuf, 65536));
  EXPECT_GE(*net->get_opt(t, SockOpt::sndbuf), 65536);  // the kernel doubles it
  ASSERT_TRUE(net->set_opt(t, SockOpt::rcvbuf, 32768));
  EXPECT_GE(*net->get_opt(t, SockOpt::rcvbuf), 32768);
  ASSERT_TRUE(net->set_opt(t, SockOpt::reuseaddr, 1));
  EXPECT_EQ(*net->get_opt(t, SockOpt::reuseaddr), 1);
  ASSERT_TRUE(net->set_opt(t, SockOpt::tcp_nodelay, 1));
  EXPECT_EQ(*net->get_opt(t, SockOpt::tcp_nodelay), 1);
  ASSERT_TRUE(net->set_opt(t, SockOpt::tcp_maxseg, 1000));
  EXPECT_TRUE(net->set_opt(t, SockOpt::tcp_quickack, 1));
  ASSERT_TRUE(net->set_opt(t, SockOpt::rcvlowat, 100));
  EXPECT_EQ(*net->get_opt(t, SockOpt::rcvlowat), 100);
  ASSERT_TRUE(net->set_opt(t, SockOpt::freebind, 1));
  EXPECT_EQ(*net->get_opt(t, SockOpt::freebind), 1);
  EXPECT_EQ(*net->get_opt(t, SockOpt::linger_zero), 0);
  ASSERT_TRUE(net->set_opt(t, SockOpt::linger_zero, 0));
  EXPECT_EQ(*net->get_opt(t, SockOpt::linger_zero), 1);
  EXPECT_FALSE(net->set_opt(t, SockOpt::pipe_size, 65536));  // not a pipe

  Sock u = track(net->socket(Netns::host, Family::v4, SockType::udp));
  ASSERT_TRUE(net->set_opt(u, SockOpt::recverr, 1));
  EXPECT_EQ(*net->get_opt(u, SockOpt::recverr), 1);

  // Bind to a device: "lo" exists; an over-long name is refused up front.
  ASSERT_TRUE(net->bind_to_device(u, "lo"));
  EXPECT_EQ(net->bind_to_device(u, "a-name-that-is-too-long").err(), Err::invalid);
  EXPECT_EQ(net->bind_to_device(u, "nosuchdev0").err(), Err::no_entry);
  EXPECT_TRUE(net->bind_to_device(u, ""));  // unbind

  if (!have_ipv6()) return;
  Sock t6 = track(net->socket(Netns::host, Family::v6, SockType::tcp));
  ASSERT_TRUE(net->set_opt(t6, SockOpt::v6only, 1));
  EXPECT_EQ(*net->get_opt(t6, SockOpt::v6only), 1);
  ASSERT_TRUE(net->set_opt(t6, SockOpt::v6only, 0));
  EXPECT_EQ(*net->get_opt(t6, SockOpt::v6only), 0);
  ASSERT_TRUE(net->set_opt(t6, SockOpt::freebind, 1));
  EXPECT_EQ(*net->get_opt(t6, SockOpt::freebind), 1);
  Sock u6 = track(net->socket(Netns::host, Family::v6, SockType::udp));
  ASSERT_TRUE(net->set_opt(u6, SockOpt::recverr, 1));
  EXPECT_EQ(*net->get_opt(u6, SockOpt::recverr), 1);
}

TEST_P(HostNetTest, UdpBatchesWithAddresses) {
  Sock rx = track(net->socket(Netns::host, Family::v4, SockType::udp));
  Sock tx = track(net->socket(Netns::host, Family::v4, SockType::udp));
  ASSERT_TRUE(net->bind(rx, v4(Ipv4Addr::loopback(), 0)));
  ASSERT_TRUE(net->bind(tx, v4(Ipv4Addr::loopback(), 0)));
  const SockAddr rx_addr = *net->local_addr(rx);
  const SockAddr tx_addr = *net->local_addr(tx);

  std::vector<std::string> payloads = {"one", "two-two", "", "four!", std::string(3000, 'f')};
  std::string tail = "+tail";
  std::vector<std::array<Bytes, 2>> iovs(payloads.size());
  std::vector<ports::SendSlot> msgs(payloads.size());
  for (std::size_t i = 0; i < payloads.size(); i++) {
    iovs[i] = {as_bytes(payloads[i]), as_bytes(tail)};
    msgs[i].iov = iovs[i];
    msgs[i].to = &rx_addr;
  }
  auto sent = net->send_batch(tx, msgs);
  ASSERT_TRUE(sent) << err_name(sent.err());
  EXPECT_EQ(*sent, payloads.size());

  ASSERT_TRUE(wait_fd(rx.v, POLLIN));
  std::vector<std::vector<u8>> bufs(8, std::vector<u8>(2048));
  std::vector<ports::RecvSlot> slots(8);
  for (std::size_t i = 0; i < slots.size(); i++) slots[i].buf = bufs[i];
  std::size_t got = 0;
  for (int i = 0; i < 50 && got < payloads.size(); i++) {
    auto r = net->recv_batch(rx, std::span<ports::RecvSlot>(slots).subspan(got));
    if (!r) {
      ASSERT_EQ(r.err(), Err::again);
      wait_fd(rx.v, POLLIN, 20);
      continue;
    }
    got += *r;
  }
  ASSERT_EQ(got, payloads.size());
  for (std::size_t i = 0; i < payloads.size(); i++) {
    std::string want = payloads[i] + tail;
    if (want.size() > 2048) {
      EXPECT_EQ(slots[i].len, 2048u);  // truncated to the slot
      want.resize(2048);
    }
    EXPECT_EQ(as_string(bufs[i], slots[i].len), want) << i;
    EXPECT_EQ(slots[i].peer, tx_addr);
    EXPECT_TRUE(slots[i].peer.addr.is_v4());
  }
  // Empty queue: would block.
  EXPECT_EQ(net->recv_batch(rx, slots).err(), Err::again);
  EXPECT_EQ(*net->recv_batch(rx, std::span<ports::RecvSlot>()), 0u);

  // Connected: no destination needed.
  ASSERT_TRUE(net->connect(tx, rx_addr));
  ports::SendSlot one;
  std::array<Bytes, 1> ov{as_bytes(tail)};
  one.iov = ov;
  ASSERT_EQ(*net->send_batch(tx, std::span<const ports::SendSlot>(&one, 1)), 1u);
  ASSERT_TRUE(wait_fd(rx.v, POLLIN));
  ASSERT_EQ(*net->recv_batch(rx, std::span<ports::RecvSlot>(slots).first(1)), 1u);
  EXPECT_EQ(as_string(bufs[0], slots[0].len), tail);

  // A zero-length slot drops a datagram.
  ASSERT_EQ(*net->send_batch(tx, std::span<const ports::SendSlot>(&one, 1)), 1u);
  ASSERT_TRUE(wait_fd(rx.v, POLLIN));
  ports::RecvSlot drop;
  ASSERT_EQ(*net->recv_batch(rx, std::span<ports::RecvSlot>(&drop, 1)), 1u);
  EXPECT_EQ(drop.len, 0u);
  EXPECT_EQ(net->recv_batch(rx, slots).err(), Err::again);

  // Wrong family for the destination.
  SockAddr bad = v6(Ipv6Addr::loopback(), 9);
  one.to = &bad;
  EXPECT_EQ(net->send_batch(tx, std::span<const ports::SendSlot>(&one, 1)).err(), Err::invalid);
}

TEST_P(HostNetTest, UdpIcmpErrorsAreTakenAndDrained) {
  Sock t = track(net->socket(Netns::host, Family::v4, SockType::udp));
  ASSERT_TRUE(net->bind(t, v4(Ipv4Addr::loopback(), 0)));
  const SockAddr closed = *net->local_addr(t);
  net->close(t);
  socks.erase(std::find(socks.begin(), socks.end(), t));

  Sock u = track(net->socket(Netns::host, Family::v4, SockType::udp));
  ASSERT_TRUE(net->set_opt(u, SockOpt::recverr, 1));
  std::string msg = "anyone?";
  std::array<Bytes, 1> iov{as_bytes(msg)};
  ports::SendSlot m{iov, &closed};
  // Each datagram draws an ICMP port unreachable.  Loopback delivers it at
  // once, so a later send may itself fail with the pending error: fine.
  for (int i = 0; i < 3; i++) {
    (void)net->send_batch(u, std::span<const ports::SendSlot>(&m, 1));
    ASSERT_TRUE(wait_fd(u.v, POLLERR));
  }
  EXPECT_EQ(net->take_error(u), Err::conn_refused);
  // The error queue is empty now: no more EPOLLERR busy loop.
  EXPECT_FALSE(wait_fd(u.v, POLLERR, 0));
  EXPECT_EQ(net->take_error(u), Err::none);
}

TEST_P(HostNetTest, UdpDualStackSendsV4Mapped) {
  if (!have_ipv6()) GTEST_SKIP() << "no IPv6 loopback";
  Sock s6 = track(net->socket(Netns::host, Family::v6, SockType::udp));
  ASSERT_TRUE(net->set_opt(s6, SockOpt::v6only, 0));
  ASSERT_TRUE(net->bind(s6, v6(Ipv6Addr::any(), 0)));
  Sock s4 = track(net->socket(Netns::host, Family::v4, SockType::udp));
  ASSERT_TRUE(net->bind(s4, v4(Ipv4Addr::loopback(), 0)));
  const SockAddr to4 = *net->local_addr(s4);
  const SockAddr to6 = v4(Ipv4Addr::loopback(), net->local_addr(s6)->port);

  std::string msg = "ping";
  std::array<Bytes, 1> iov{as_bytes(msg)};
  ports::SendSlot m{iov, &to4};  // IPv4 destination through the IPv6 socket
  ASSERT_EQ(*net->send_batch(s6, std::span<const ports::SendSlot>(&m, 1)), 1u);
  ASSERT_TRUE(wait_fd(s4.v, POLLIN));
  std::vector<u8> buf(64);
  ports::RecvSlot slot{buf, 0, {}};
  ASSERT_EQ(*net->recv_batch(s4, std::span<ports::RecvSlot>(&slot, 1)), 1u);
  EXPECT_EQ(as_string(buf, slot.len), msg);

  m.to = &to6;  // and back: the IPv6 socket reports the IPv4 peer v4-mapped
  ASSERT_EQ(*net->send_batch(s4, std::span<const ports::SendSlot>(&m, 1)), 1u);
  ASSERT_TRUE(wait_fd(s6.v, POLLIN));
  ASSERT_EQ(*net->recv_batch(s6, std::span<ports::RecvSlot>(&slot, 1)), 1u);
  EXPECT_TRUE(slot.peer.addr.is_v4());
  EXPECT_EQ(slot.peer, to4);
}

TEST_P(HostNetTest, PipesAndSplice) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  auto p = net->pipe();
  ASSERT_TRUE(p);
  socks.push_back(p->rd);
  socks.push_back(p->wr);
  ASSERT_TRUE(net->set_opt(p->wr, SockOpt::pipe_size, 1 << 16));
  EXPECT_GE(*net->get_opt(p->rd, SockOpt::pipe_size), 1 << 16);
  EXPECT_EQ(::fcntl(p->rd.v, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_NE(::fcntl(p->wr.v, F_GETFL) & O_NONBLOCK, 0);

  const std::string data = "spliced bytes";
  send_all(c, a, data);
  auto r = net->splice(a, p->wr, 1 << 16, false);  // socket -> pipe
  ASSERT_TRUE(r) << err_name(r.err());
  EXPECT_EQ(*r, data.size());
  EXPECT_EQ(net->splice(a, p->wr, 1 << 16, false).err(), Err::again);  // socket empty

  Sock c2, a2;
  std::tie(c2, a2) = tcp_pair();
  r = net->splice(p->rd, c2, 1 << 16, true);  // pipe -> other socket, MORE
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, data.size());
  ASSERT_TRUE(net->shutdown_write(c2));  // pushes the corked data
  std::vector<u8> buf(64);
  std::size_t got = 0;
  for (int i = 0; i < 100; i++) {
    wait_fd(a2.v, POLLIN, 20);
    MutBytes mb(buf.data() + got, buf.size() - got);
    auto rr = net->recv(a2, std::span<const MutBytes>(&mb, 1));
    if (rr && *rr == 0) break;  // EOF
    if (rr) got += *rr;
  }
  EXPECT_EQ(as_string(buf, got), data);
}

TEST_P(HostNetTest, WatchDeliversEventsWithRef) {
  Sock c, a;
  std::tie(c, a) = tcp_pair();
  RecordingSink sink;
  ASSERT_TRUE(net->watch(a, ports::ev::in | ports::ev::rdhup, 0xabcdef));
  ASSERT_TRUE(net->watch(a, ports::ev::in | ports::ev::rdhup, 0xabcdef0));  // modify
  const std::string data = "x";
  send_all(c, a, data);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.socket_events.size(), 1u);
  EXPECT_EQ(sink.socket_events[0].ref, 0xabcdef0u);
  EXPECT_EQ(sink.socket_events[0].events, ports::ev::in);

  ASSERT_TRUE(net->shutdown_write(c));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.socket_events.size(), 2u);
  EXPECT_EQ(sink.socket_events[1].events, ports::ev::in | ports::ev::rdhup);

  net->unwatch(a);
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  EXPECT_EQ(sink.socket_events.size(), 2u);
  // Watch again after unwatch, then close while watched: the set forgets it.
  ASSERT_TRUE(net->watch(a, ports::ev::in, 5));
  Sock dup{::dup(a.v)};
  net->close(a);
  socks.erase(std::find(socks.begin(), socks.end(), a));
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  EXPECT_EQ(sink.socket_events.size(), 2u);  // the dup keeps the socket, not the watch
  ::close(dup.v);
}

TEST_P(HostNetTest, PingSocketsNeedPermissionHere) {
  // The host's ping_group_range may forbid ping sockets; either way the
  // answer is a clean Result.
  auto r = net->socket(Netns::host, Family::v4, SockType::ping);
  if (r) {
    net->close(*r);
  } else {
    EXPECT_TRUE(r.err() == Err::access || r.err() == Err::not_supported) << err_name(r.err());
  }
  EXPECT_EQ(net->socket(Netns::guest, Family::v4, SockType::udp).err(), Err::not_supported);
}

INSTANTIATE_TEST_SUITE_P(PeekModes, HostNetTest,
                         ::testing::Values(LinuxHostNet::PeekMode::peek_off,
                                           LinuxHostNet::PeekMode::discard_iov),
                         [](const auto& param_info) {
                           return param_info.param == LinuxHostNet::PeekMode::peek_off
                                      ? std::string("SoPeekOff")
                                      : std::string("DiscardIov");
                         });

TEST(HostNet, ProbesPeekOffAndSizesTheFdTable) {
  MonotonicClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.init());
  LinuxHostNet net(loop, {});
  ASSERT_TRUE(net.init());
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_EQ(net.fd_table_size(),
            std::min<std::size_t>(rl.rlim_cur, LinuxHostNet::kFdTableMax));
  // Linux >= 6.9 has SO_PEEK_OFF for TCP; older kernels use the fallback.
  RecordProperty("uses_peek_off", net.uses_peek_off() ? "yes" : "no");
}

TEST(HostNet, FdsBeyondTheTableAreRefused) {
  MonotonicClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.init());
  LinuxHostNet net(loop, {.guest_netns_fd = -1, .max_fds = 64, .peek_mode = {}});
  ASSERT_TRUE(net.init());
  std::vector<Sock> open;
  Err last = Err::none;
  for (int i = 0; i < 80; i++) {
    auto r = net.socket(Netns::host, Family::v4, SockType::udp);
    if (!r) {
      last = r.err();
      break;
    }
    EXPECT_LT(r->v, 64);
    open.push_back(*r);
  }
  EXPECT_EQ(last, Err::too_many_files);
  for (Sock s : open) net.close(s);
}

TEST(HostNet, AdoptTracksForeignFds) {
  MonotonicClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.init());
  LinuxHostNet net(loop, {});
  ASSERT_TRUE(net.init());
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) GTEST_SKIP() << "no IPv6";
  ASSERT_TRUE(net.adopt(Sock{fd}, Family::v6));
  // Family known: IPv6 option level, v4-mapped addresses accepted.
  ASSERT_TRUE(net.set_opt(Sock{fd}, SockOpt::v6only, 0));
  EXPECT_TRUE(net.bind(Sock{fd}, v4(Ipv4Addr::loopback(), 0)));
  EXPECT_EQ(net.watch(Sock{fd}, ports::ev::in, EventLoop::kInternalBit).err(), Err::invalid);
  EXPECT_EQ(net.adopt(Sock{1 << 30}, Family::v4).err(), Err::too_many_files);
  net.close(Sock{fd});
}

// --- the guest namespace -------------------------------------------------------

class GuestNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    nsfd = test::make_test_netns();
    if (nsfd < 0) GTEST_SKIP() << "cannot create a network namespace here";
    ASSERT_TRUE(loop.init());
    net = std::make_unique<LinuxHostNet>(loop, LinuxHostNet::Options{.guest_netns_fd = nsfd});
    ASSERT_TRUE(net->init());
  }
  void TearDown() override {
    net.reset();
    if (nsfd >= 0) ::close(nsfd);
  }
  int nsfd = -1;
  MonotonicClock clock;
  EventLoop loop{clock};
  std::unique_ptr<LinuxHostNet> net;
};

TEST_F(GuestNetns, SocketsLiveInTheGuestNamespace) {
  // A host listener...
  Sock hl = *net->socket(Netns::host, Family::v4, SockType::tcp);
  ASSERT_TRUE(net->bind(hl, v4(Ipv4Addr::loopback(), 0)));
  ASSERT_TRUE(net->listen(hl, 4));
  const u16 port = net->local_addr(hl)->port;
  // ...does not stop a guest socket from binding the same address: another
  // namespace has its own port space.
  Sock gl = *net->socket(Netns::guest, Family::v4, SockType::tcp);
  EXPECT_EQ(::fcntl(gl.v, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_NE(::fcntl(gl.v, F_GETFL) & O_NONBLOCK, 0);
  ASSERT_TRUE(net->bind(gl, v4(Ipv4Addr::loopback(), port)));
  ASSERT_TRUE(net->listen(gl, 4));
  // A guest client reaches the guest listener, not the host's.
  Sock gc = *net->socket(Netns::guest, Family::v4, SockType::tcp);
  Status cs = net->connect(gc, v4(Ipv4Addr::loopback(), port));
  ASSERT_TRUE(cs.ok() || cs.err() == Err::in_progress);
  ASSERT_TRUE(wait_fd(gl.v, POLLIN));
  EXPECT_FALSE(wait_fd(hl.v, POLLIN, 0));
  Sock ga = *net->accept(gl, nullptr);
  for (Sock s : {hl, gl, gc, ga}) net->close(s);
}

TEST_F(GuestNetns, PingSocketEchoOnLoopback) {
  auto r = net->socket(Netns::guest, Family::v4, SockType::ping);
  ASSERT_TRUE(r) << err_name(r.err());
  Sock p = *r;
  // ICMP echo request: type 8, code 0, checksum (the kernel fills it for
  // ping sockets), id (the kernel's), sequence 1, payload.
  std::array<u8, 12> req{8, 0, 0, 0, 0, 0, 0, 1, 'p', 'i', 'n', 'g'};
  SockAddr to = v4(Ipv4Addr::loopback(), 0);
  std::array<Bytes, 1> iov{Bytes(req)};
  ports::SendSlot m{iov, &to};
  ASSERT_EQ(*net->send_batch(p, std::span<const ports::SendSlot>(&m, 1)), 1u);
  ASSERT_TRUE(wait_fd(p.v, POLLIN));
  std::vector<u8> buf(64);
  ports::RecvSlot slot{buf, 0, {}};
  ASSERT_EQ(*net->recv_batch(p, std::span<ports::RecvSlot>(&slot, 1)), 1u);
  ASSERT_EQ(slot.len, req.size());
  EXPECT_EQ(buf[0], 0);  // echo reply
  EXPECT_EQ(buf[7], 1);  // sequence
  EXPECT_EQ(std::memcmp(buf.data() + 8, "ping", 4), 0);
  EXPECT_EQ(slot.peer.addr, InAny::from(Ipv4Addr::loopback()));
  net->close(p);
}

TEST_F(GuestNetns, BadNamespaceFdFails) {
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(devnull, 0);
  LinuxHostNet bad(loop, {.guest_netns_fd = devnull});
  ASSERT_TRUE(bad.init());
  auto r = bad.socket(Netns::guest, Family::v4, SockType::udp);
  EXPECT_EQ(r.err(), Err::invalid);  // setns(): not a namespace
  ::close(devnull);
}

}  // namespace
}  // namespace passt::os
