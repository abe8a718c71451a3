#include "linux/qemu_stream.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "linux/sandbox_fdlimit.hpp"
#include "linux/test/sandbox_child.hpp"
#include "linux/test/test_support.hpp"
#include "util/endian.hpp"

namespace passt::os {
namespace {

using test::RecordingSink;
using test::run_until;
using test::wait_fd;
using Frames = std::vector<std::vector<u8>>;

std::vector<u8> frame(std::size_t len, u32 seed) {
  std::vector<u8> f(len);
  for (std::size_t i = 0; i < len; i++) f[i] = static_cast<u8>(seed * 31 + i * 7 + (i >> 8));
  return f;
}

// The qemu wire form: [be32 length][frame]...
std::vector<u8> serialise(const Frames& frames) {
  std::vector<u8> out;
  for (const auto& f : frames) {
    u8 h[4];
    store_be32(h, static_cast<u32>(f.size()));
    out.insert(out.end(), h, h + 4);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

std::vector<u8> with_length(u32 len, std::size_t body) {
  std::vector<u8> out(4 + body, 0xab);
  store_be32(out.data(), len);
  return out;
}

// Reassembles a stream, as qemu does.
class Parser {
 public:
  void feed(const u8* p, std::size_t n) {
    buf_.insert(buf_.end(), p, p + n);
    std::size_t off = 0;
    while (buf_.size() - off >= 4) {
      u32 len = load_be32(buf_.data() + off);
      if (buf_.size() - off - 4 < len) break;
      frames.emplace_back(buf_.begin() + static_cast<std::ptrdiff_t>(off + 4),
                          buf_.begin() + static_cast<std::ptrdiff_t>(off + 4 + len));
      off += 4 + len;
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(off));
  }
  std::size_t pending() const { return buf_.size(); }
  Frames frames;

 private:
  std::vector<u8> buf_;
};

bool write_all(int fd, const u8* p, std::size_t n) {
  while (n > 0) {
    if (!wait_fd(fd, POLLOUT)) return false;
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

class QemuStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop.init()); }
  // A stream attached to one end of a fresh socketpair; peer is the other.
  std::unique_ptr<QemuStream> attached(QemuStream::Options o = {}) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    auto q = std::make_unique<QemuStream>(loop, o);
    EXPECT_TRUE(q->init());
    EXPECT_TRUE(q->attach(sv[0]));
    if (peer >= 0) ::close(peer);
    peer = sv[1];
    return q;
  }
  void TearDown() override {
    if (peer >= 0) ::close(peer);
  }
  MonotonicClock clock;
  EventLoop loop{clock};
  RecordingSink sink;
  int peer = -1;
};

// --- receive -------------------------------------------------------------------

TEST_F(QemuStreamTest, SplitAtEveryByteBoundary) {
  const Frames good = {frame(14, 1), frame(15, 2), frame(64, 3), frame(14, 9), frame(100, 4)};
  const std::vector<u8> wire = serialise(good);
  for (std::size_t k = 0; k <= wire.size(); k++) {
    RecordingSink s;
    auto q = attached({.buf_bytes = 1 << 17});
    ASSERT_TRUE(write_all(peer, wire.data(), k));
    ASSERT_TRUE(loop.run_once(s, Duration::zero()));
    // Exactly the frames wholly inside the first k bytes are out already.
    std::size_t whole = 0, off = 0;
    for (const auto& f : good) {
      if (off + 4 + f.size() > k) break;
      off += 4 + f.size();
      whole++;
    }
    ASSERT_EQ(s.frames.size(), whole) << "split at " << k;
    if (k < wire.size()) {
      ASSERT_TRUE(write_all(peer, wire.data() + k, wire.size() - k));
      ASSERT_TRUE(loop.run_once(s, Duration::seconds(1)));
    }
    ASSERT_EQ(s.frames, good) << "split at " << k;
    EXPECT_TRUE(s.states.empty());
    EXPECT_TRUE(q->connected());
  }
}

TEST_F(QemuStreamTest, WriterDribblingOneByteAtATime) {
  auto q = attached();
  Frames sent;
  for (u32 i = 0; i < 40; i++) sent.push_back(frame(14 + (i * 37) % 200, i));
  const std::vector<u8> wire = serialise(sent);
  int small = 1;  // the kernel rounds it up to its minimum
  ASSERT_EQ(::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  std::thread writer([&] {
    for (u8 b : wire)
      if (!write_all(peer, &b, 1)) return;
  });
  bool ok = run_until(loop, sink, [&] { return sink.frames.size() == sent.size(); },
                      Duration::seconds(4));
  writer.join();
  ASSERT_TRUE(ok);
  EXPECT_EQ(sink.frames, sent);
  EXPECT_GT(sink.batches.size(), 1u);
}

TEST_F(QemuStreamTest, LargeFramesCarriedOverInASmallBuffer) {
  // The smallest buffer: one maximum frame plus its prefix.  Frames larger
  // than half of it are always split across reads and moved to the front.
  auto q = attached({.buf_bytes = 4 + QemuStream::kMaxFrame + 1});
  Frames sent = {frame(60000, 1), frame(65535, 2), frame(14, 3), frame(33333, 4), frame(65535, 5)};
  const std::vector<u8> wire = serialise(sent);
  std::thread writer([&] { write_all(peer, wire.data(), wire.size()); });
  bool ok = run_until(loop, sink, [&] { return sink.frames.size() == sent.size(); });
  writer.join();
  ASSERT_TRUE(ok);
  EXPECT_EQ(sink.frames, sent);
  EXPECT_TRUE(q->connected());
}

TEST_F(QemuStreamTest, DeliversInChunksOfMaxFrames) {
  auto q = attached({.buf_bytes = 1 << 17, .max_frames = 2});
  Frames sent = {frame(20, 1), frame(21, 2), frame(22, 3), frame(23, 4), frame(24, 5)};
  const std::vector<u8> wire = serialise(sent);
  ASSERT_TRUE(write_all(peer, wire.data(), wire.size()));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  EXPECT_EQ(sink.frames, sent);
  EXPECT_EQ(sink.batches, (std::vector<std::size_t>{2, 2, 1}));
}

TEST_F(QemuStreamTest, LengthLimitsAreInclusive) {
  auto q = attached();
  Frames sent = {frame(14, 1), frame(65535, 2)};
  const std::vector<u8> wire = serialise(sent);
  std::thread writer([&] { write_all(peer, wire.data(), wire.size()); });
  bool ok = run_until(loop, sink, [&] { return sink.frames.size() == 2; });
  writer.join();
  ASSERT_TRUE(ok);
  EXPECT_EQ(sink.frames, sent);
  EXPECT_TRUE(q->connected());
}

TEST_F(QemuStreamTest, UndersizeLengthResetsTheConnection) {
  for (u32 bad : {0u, 1u, 13u}) {
    RecordingSink s;
    auto q = attached();
    std::vector<u8> wire = serialise({frame(30, 1)});
    std::vector<u8> tail = with_length(bad, 20);
    wire.insert(wire.end(), tail.begin(), tail.end());
    ASSERT_TRUE(write_all(peer, wire.data(), wire.size()));
    ASSERT_TRUE(loop.run_once(s, Duration::seconds(1)));
    EXPECT_EQ(s.frames.size(), 1u) << bad;  // the good frame before it still counts
    EXPECT_EQ(s.states, std::vector<bool>{false}) << bad;
    EXPECT_FALSE(q->connected());
    EXPECT_EQ(q->stats().resets, 1u);
    ASSERT_TRUE(wait_fd(peer, POLLIN));
    u8 b;
    EXPECT_EQ(::read(peer, &b, 1), 0);  // qemu sees EOF
  }
}

TEST_F(QemuStreamTest, OversizeLengthResetsBeforeTheFrameArrives) {
  auto q = attached();
  std::vector<u8> hdr = with_length(65536, 0);  // just the prefix: no need to wait for the body
  ASSERT_TRUE(write_all(peer, hdr.data(), hdr.size()));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  EXPECT_EQ(sink.states, std::vector<bool>{false});
  EXPECT_TRUE(sink.frames.empty());
  EXPECT_FALSE(q->connected());
  // And a huge one split across the prefix bytes.
  RecordingSink s2;
  auto q2 = attached();
  std::vector<u8> huge = with_length(0xffffffffu, 0);
  ASSERT_TRUE(write_all(peer, huge.data(), 2));
  ASSERT_TRUE(loop.run_once(s2, Duration::zero()));
  EXPECT_TRUE(q2->connected());
  ASSERT_TRUE(write_all(peer, huge.data() + 2, 2));
  ASSERT_TRUE(loop.run_once(s2, Duration::seconds(1)));
  EXPECT_FALSE(q2->connected());
  EXPECT_EQ(s2.states, std::vector<bool>{false});
}

TEST_F(QemuStreamTest, PeerCloseIsADisconnect) {
  auto q = attached();
  std::vector<u8> wire = serialise({frame(50, 1)});
  ASSERT_TRUE(write_all(peer, wire.data(), wire.size()));
  ::close(peer);
  peer = -1;
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.states.empty(); }));
  EXPECT_EQ(sink.frames.size(), 1u);  // data before the FIN is delivered
  EXPECT_EQ(sink.states, std::vector<bool>{false});
  EXPECT_FALSE(q->connected());
  EXPECT_FALSE(loop.stopping());
}

TEST_F(QemuStreamTest, OneOffStopsTheLoop) {
  auto q = attached({.one_off = true});
  ::close(peer);
  peer = -1;
  EXPECT_TRUE(loop.run(sink));  // returns because of the stop, not an error
  EXPECT_EQ(sink.states, std::vector<bool>{false});
}

// --- send ------------------------------------------------------------------------

TEST_F(QemuStreamTest, SendsFramedBatches) {
  auto q = attached();
  Frames frames = {frame(14, 1), frame(1500, 2), frame(60, 3)};
  std::vector<Bytes> spans(frames.begin(), frames.end());
  EXPECT_EQ(q->send(spans), 3u);
  Parser p;
  std::vector<u8> buf(4096);
  while (p.frames.size() < 3) {
    ASSERT_TRUE(wait_fd(peer, POLLIN));
    ssize_t n = ::read(peer, buf.data(), buf.size());
    ASSERT_GT(n, 0);
    p.feed(buf.data(), static_cast<std::size_t>(n));
  }
  EXPECT_EQ(p.frames, frames);
  EXPECT_EQ(p.pending(), 0u);
  EXPECT_EQ(q->stats().tx_frames, 3u);
}

TEST_F(QemuStreamTest, NotConnectedDropsAndReportsSent) {
  QemuStream q(loop);
  ASSERT_TRUE(q.init());
  Frames frames = {frame(14, 1), frame(20, 2)};
  std::vector<Bytes> spans(frames.begin(), frames.end());
  EXPECT_FALSE(q.connected());
  EXPECT_EQ(q.send(spans), 2u);
  EXPECT_EQ(q.stats().tx_dropped, 2u);
}

// Short writes: a tiny send buffer and a reader taking a few bytes at a time.
// Every frame must arrive whole, in order, with no gap or duplicate, whatever
// the sender's partial writes were.
TEST_F(QemuStreamTest, PartialWritesNeverBreakFraming) {
  auto q = attached({.finish_timeout = Duration::seconds(2)});
  int small = 1;
  ASSERT_EQ(::setsockopt(q->client_fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  Frames frames;
  std::size_t total = 0;
  for (u32 i = 0; i < 300; i++) {
    frames.push_back(frame(14 + (i * 997) % 3000, i));
    total += 4 + frames.back().size();
  }
  Parser p;
  std::atomic<bool> reader_failed{false};
  std::thread reader([&] {
    std::vector<u8> buf(64);
    std::size_t got = 0;
    std::size_t step = 1;
    while (got < total) {
      if (!wait_fd(peer, POLLIN, 3000)) {
        reader_failed = true;
        return;
      }
      step = step % 61 + 1;  // read sizes cycle through 1..61 bytes
      ssize_t n = ::read(peer, buf.data(), step);
      if (n <= 0) {
        reader_failed = true;
        return;
      }
      p.feed(buf.data(), static_cast<std::size_t>(n));
      got += static_cast<std::size_t>(n);
    }
  });
  std::vector<Bytes> spans(frames.begin(), frames.end());
  std::size_t done = 0;
  const Instant end = monotonic_now() + Duration::seconds(4);
  while (done < spans.size() && monotonic_now() < end && q->connected()) {
    done += q->send(std::span<const Bytes>(spans).subspan(done));
    if (done < spans.size()) wait_fd(q->client_fd(), POLLOUT, 100);
  }
  reader.join();
  ASSERT_FALSE(reader_failed);
  EXPECT_EQ(done, spans.size());
  EXPECT_TRUE(q->connected());
  EXPECT_EQ(p.frames, frames);
  EXPECT_EQ(p.pending(), 0u);
  EXPECT_GT(q->stats().partial_finished, 0u);  // the test did exercise the path
  EXPECT_EQ(q->stats().tx_frames, frames.size());
}

TEST_F(QemuStreamTest, UnfinishableFrameResetsTheConnection) {
  // Nobody reads: the finishing loop gives up at its bound and shuts the
  // connection down; the loop then reports the link as down.
  auto q = attached({.finish_timeout = Duration::millis(30)});
  int small = 1;
  ASSERT_EQ(::setsockopt(q->client_fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  Frames frames(50, frame(3001, 1));
  std::vector<Bytes> spans(frames.begin(), frames.end());
  std::size_t sent = q->send(spans);
  EXPECT_LT(sent, frames.size());
  EXPECT_FALSE(q->connected());
  EXPECT_EQ(q->stats().resets, 1u);
  EXPECT_EQ(q->send(spans), frames.size());  // dropped now
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.states.empty(); }));
  EXPECT_EQ(sink.states, std::vector<bool>{false});
  EXPECT_EQ(q->client_fd(), -1);
  // What qemu got is whole frames, then EOF.
  Parser p;
  std::vector<u8> buf(65536);
  for (;;) {
    ssize_t n = ::read(peer, buf.data(), buf.size());
    if (n <= 0) break;
    p.feed(buf.data(), static_cast<std::size_t>(n));
  }
  EXPECT_EQ(p.frames.size(), sent);
}

// The client socket's buffers are raised to what net.core.{w,r}mem_max allow
// (the kernel doubles the value it grants): with the default, a burst of
// three 64 KiB frames filled the socket (docs/performance.md, section 12).
int sock_buf(int fd, int opt) {
  int v = 0;
  socklen_t l = sizeof(v);
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, opt, &v, &l), 0);
  return v;
}

long sysctl_long(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  long v = -1;
  if (std::fscanf(f, "%ld", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

void expect_raised_buffers(int fd) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const int def_snd = sock_buf(sv[0], SO_SNDBUF);
  const int def_rcv = sock_buf(sv[0], SO_RCVBUF);
  ::close(sv[0]);
  ::close(sv[1]);
  const long wmax = sysctl_long("/proc/sys/net/core/wmem_max");
  const long rmax = sysctl_long("/proc/sys/net/core/rmem_max");
  if (wmax > 0) {
    EXPECT_EQ(sock_buf(fd, SO_SNDBUF), 2 * wmax);
  }
  if (rmax > 0) {
    EXPECT_EQ(sock_buf(fd, SO_RCVBUF), 2 * rmax);
  }
  if (wmax <= 0 || 2 * wmax > def_snd) {
    EXPECT_GT(sock_buf(fd, SO_SNDBUF), def_snd);
  }
  if (rmax <= 0 || 2 * rmax > def_rcv) {
    EXPECT_GT(sock_buf(fd, SO_RCVBUF), def_rcv);
  }
}

TEST_F(QemuStreamTest, AttachRaisesTheSocketBuffers) {
  auto q = attached();
  expect_raised_buffers(q->client_fd());
}

// --- listening ---------------------------------------------------------------------

class QemuListenTest : public QemuStreamTest {
 protected:
  void SetUp() override {
    QemuStreamTest::SetUp();
    char tmpl[] = "/tmp/passt-qemu-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/sock";
  }
  void TearDown() override {
    ::unlink(path.c_str());
    ::unlink((dir + "/stale").c_str());
    ::rmdir(dir.c_str());
    QemuStreamTest::TearDown();
  }
  int connect_client(const std::string& p) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, p.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    return fd;
  }
  std::string dir, path;
};

TEST_F(QemuListenTest, AcceptsOneClientAtATime) {
  QemuStream q(loop);
  ASSERT_TRUE(q.init());
  ASSERT_TRUE(q.listen(path.c_str()));
  EXPECT_FALSE(q.connected());

  int c1 = connect_client(path);
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.states.empty(); }));
  EXPECT_EQ(sink.states, std::vector<bool>{true});
  EXPECT_TRUE(q.connected());
  expect_raised_buffers(q.client_fd());

  // A second client is accepted and closed at once.
  int c2 = connect_client(path);
  ASSERT_TRUE(run_until(loop, sink, [&] { return q.stats().rejected == 1; }));
  ASSERT_TRUE(wait_fd(c2, POLLIN));
  u8 b;
  EXPECT_EQ(::read(c2, &b, 1), 0);
  ::close(c2);
  EXPECT_TRUE(q.connected());

  // Frames flow from the first.
  std::vector<u8> wire = serialise({frame(42, 1)});
  ASSERT_TRUE(write_all(c1, wire.data(), wire.size()));
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.frames.size() == 1; }));

  // It leaves; the next one is welcome.
  ::close(c1);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.states.size() == 2; }));
  EXPECT_EQ(sink.states, (std::vector<bool>{true, false}));
  int c3 = connect_client(path);
  ASSERT_TRUE(run_until(loop, sink, [&] { return sink.states.size() == 3; }));
  EXPECT_EQ(sink.states, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(q.stats().clients, 2u);
  ::close(c3);
}

// At the descriptor limit with no reserve descriptor to shed a pending
// connection with (sandbox_fdlimit.hpp), the listener is watched
// edge-triggered: the loop sleeps instead of being woken for that
// connection at every iteration, and the next connection, once descriptors
// are free again, brings the pending one in.
TEST_F(QemuListenTest, AtTheFdLimitWithoutAReserveTheListenerWaits) {
  auto out = test::in_child([&](const test::Say& say) {
    if (fd_reserve_held()) return 77;
    MonotonicClock clock2;
    EventLoop loop2{clock2};
    RecordingSink sink2;
    if (!loop2.init()) return 2;
    QemuStream q(loop2);
    if (!q.init() || !q.listen(path.c_str())) return 3;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, path.c_str());
    // A client comes and goes while descriptors are free (UBSan's first
    // check of each dynamic type needs a pipe, which it could not have at
    // the limit).
    const int c0 = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c0 < 0 || ::connect(c0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 4;
    if (!run_until(loop2, sink2, [&] { return q.connected(); })) return 4;
    ::close(c0);
    if (!run_until(loop2, sink2, [&] { return !q.connected(); })) return 4;
    const int c1 = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int c2 = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c1 < 0 || c2 < 0) return 4;
    rlimit rl{64, 64};
    if (::getrlimit(RLIMIT_NOFILE, &rl) < 0) return 5;
    rl.rlim_cur = 64;
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) return 5;
    std::vector<int> filler;
    for (int fd; (fd = ::fcntl(0, F_DUPFD_CLOEXEC, 3)) >= 0;) filler.push_back(fd);
    if (::connect(c1, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 6;
    // Level-triggered, each of 8 iterations would try again; edge-triggered,
    // the switch itself reports the pending connection once more.
    for (int i = 0; i < 8; i++) (void)loop2.run_once(sink2, Duration::millis(20));
    if (q.stats().accept_at_limit > 2 || q.stats().listener_waits != 1) {
      say("accept() at the limit %llu times, listener waits %llu",
          static_cast<unsigned long long>(q.stats().accept_at_limit),
          static_cast<unsigned long long>(q.stats().listener_waits));
      return 1;
    }
    if (q.connected()) return 7;
    for (int fd : filler) ::close(fd);
    if (::connect(c2, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 8;
    if (!run_until(loop2, sink2, [&] { return q.connected() && q.stats().rejected == 1; })) {
      say("after the limit: connected %d, rejected %llu", q.connected() ? 1 : 0,
          static_cast<unsigned long long>(q.stats().rejected));
      return 1;
    }
    // Level-triggered again: a third client is turned away at once.
    const int c3 = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c3 < 0 || ::connect(c3, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 9;
    if (!run_until(loop2, sink2, [&] { return q.stats().rejected == 2; })) return 10;
    return 0;
  });
  if (out.exited(77)) GTEST_SKIP() << "the fd reserve is held in this process";
  EXPECT_TRUE(out.ok()) << out.describe();
}

TEST_F(QemuListenTest, ProbeFindsALiveServerAndReplacesAStaleFile) {
  QemuStream q1(loop);
  ASSERT_TRUE(q1.init());
  ASSERT_TRUE(q1.listen(path.c_str()));
  QemuStream q2(loop);
  ASSERT_TRUE(q2.init());
  EXPECT_EQ(q2.listen(path.c_str()).err(), Err::addr_in_use);

  // A socket file nobody listens on any more is stale: reused.
  const std::string stale = dir + "/stale";
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, stale.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ::close(s);
  struct stat st{};
  ASSERT_EQ(::stat(stale.c_str(), &st), 0);
  EXPECT_TRUE(q2.listen(stale.c_str()));
  int c = connect_client(stale);
  ASSERT_TRUE(run_until(loop, sink, [&] { return !sink.states.empty(); }));
  EXPECT_TRUE(q2.connected());
  ::close(c);

  QemuStream q3(loop);
  ASSERT_TRUE(q3.init());
  EXPECT_EQ(q3.listen("").err(), Err::invalid);
  EXPECT_EQ(q3.listen(std::string(200, 'x').c_str()).err(), Err::invalid);
}

}  // namespace
}  // namespace passt::os
