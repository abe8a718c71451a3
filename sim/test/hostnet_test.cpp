#include "sim/hostnet.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sim/pattern.hpp"
#include "sim/recording_sink.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"

namespace passt::sim {
namespace {

using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockType;
namespace ev = ports::ev;

SockAddr v4(u8 a, u8 b, u8 c, u8 d, u16 port) { return {InAny::from(Ipv4Addr::of(a, b, c, d)), port, 0}; }

HostNetConfig small_config() {
  HostNetConfig c;
  c.max_sockets = 16;
  c.max_conns = 16;
  c.max_dgram_socks = 8;
  c.buf_cap = 65536;
  c.sndbuf_default = 16384;
  c.rcvbuf_default = 65536;
  c.unknown_latency = Duration::millis(1);
  return c;
}

struct Rig {
  explicit Rig(const HostNetConfig& cfg = small_config()) : w(1, 1 << 15), net(w, cfg) {
    w.set_sink(&sink);
    w.add_checker(checker);
  }
  void run(Duration d) { EXPECT_TRUE(w.run_until(w.now() + d)) << w.failure().source << ": " << w.failure().reason; }
  Sock tcp(Family f = Family::v4) {
    auto s = net.socket(Netns::host, f, SockType::tcp);
    EXPECT_TRUE(s.ok());
    return *s;
  }
  World w;
  SimHostNet net;
  RecordingSink sink;
  HostNetChecker checker{net};
};

PeerSpec peer(PeerKind k, u64 bytes = 0) {
  PeerSpec p;
  p.kind = k;
  p.latency = Duration::millis(1);
  p.bandwidth = 10000000;
  p.bytes = bytes;
  p.rcvbuf = 65536;
  p.sndbuf = 65536;
  return p;
}

// Writes `n` bytes of `stream` from offset `off`; returns bytes taken.
std::size_t send_pattern(SimHostNet& net, Sock s, u64 stream, u64 off, std::size_t n) {
  std::vector<u8> buf(n);
  fill_pattern(stream, off, MutBytes(buf));
  const Bytes iov[1] = {Bytes(buf)};
  auto r = net.send(s, iov, false);
  return r.ok() ? *r : 0;
}

TEST(SimHostNet, ConnectToNothingIsRefusedAfterARoundTrip) {
  Rig r;
  Sock s = r.tcp();
  EXPECT_EQ(s.v, SimHostNet::kFdBase);
  // Edge-triggered: this passive sink never consumes readiness, and a
  // level-triggered socket would (rightly) be reported as a livelock.
  ASSERT_TRUE(r.net.watch(s, ev::out | ev::in | ev::edge, 7).ok());
  EXPECT_EQ(r.net.connect(s, v4(203, 0, 113, 9, 80)).err(), Err::in_progress);
  EXPECT_EQ(r.net.connect(s, v4(203, 0, 113, 9, 80)).err(), Err::already);
  EXPECT_EQ(r.net.take_error(s), Err::none);
  r.sink.clear_sock_events();
  r.run(Duration::micros(1900));
  EXPECT_EQ(r.sink.sock_events(), 0u);  // RST not back yet (2 x 1 ms)
  r.run(Duration::micros(200));
  ASSERT_GE(r.sink.sock_events(), 1u);
  EXPECT_EQ(r.sink.sock_event(0).ref, 7u);
  EXPECT_EQ(r.sink.sock_event(0).events & (ev::out | ev::err | ev::hup), ev::out | ev::err | ev::hup);
  EXPECT_EQ(r.net.take_error(s), Err::conn_refused);
  EXPECT_EQ(r.net.take_error(s), Err::none);
  EXPECT_EQ(r.net.totals().refused, 1u);
  r.net.close(s);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, EchoPeerStreamWithPeekAtOffsetDiscardAndFin) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 1, 7);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::echo)).ok());
  Sock s = r.tcp();
  ASSERT_TRUE(r.net.watch(s, ev::in | ev::out | ev::rdhup | ev::edge, 1).ok());
  EXPECT_EQ(r.net.connect(s, at).err(), Err::in_progress);
  EXPECT_EQ(r.net.send(s, {}, false).err(), Err::again);  // not yet connected
  EXPECT_EQ(r.net.watch(s, ev::in, u64{1} << 63).err(), Err::invalid);  // reserved bit
  r.run(Duration::millis(3));
  EXPECT_NE(r.sink.events_for(1) & ev::out, 0u);
  EXPECT_EQ(r.net.take_error(s), Err::none);
  auto la = r.net.local_addr(s);
  ASSERT_TRUE(la.ok());
  EXPECT_GE(la->port, 32768);
  EXPECT_EQ(send_pattern(r.net, s, 42, 0, 1000), 1000u);
  EXPECT_EQ(r.net.send_queue(s).value_or(0), 1000u);
  r.run(Duration::millis(5));
  // Peek the first 600, then the rest at offset 600, without consuming.
  u8 a[600], b[600];
  const MutBytes ia[1] = {MutBytes(a, sizeof(a))};
  const MutBytes ib[1] = {MutBytes(b, sizeof(b))};
  EXPECT_EQ(r.net.peek(s, 0, ia).value_or(0), 600u);
  EXPECT_EQ(r.net.peek(s, 600, ib).value_or(0), 400u);
  EXPECT_EQ(r.net.peek(s, 1000, ib).value_or(99), 0u);  // nothing beyond
  EXPECT_EQ(check_pattern(42, 0, Bytes(a, 600)), 600u);
  EXPECT_EQ(check_pattern(42, 600, Bytes(b, 400)), 400u);
  EXPECT_EQ(r.net.discard(s, 250).value_or(0), 250u);
  EXPECT_EQ(r.net.peek(s, 0, ia).value_or(0), 600u);
  EXPECT_EQ(check_pattern(42, 250, Bytes(a, 600)), 600u);
  EXPECT_EQ(r.net.discard(s, 5000).value_or(0), 750u);
  EXPECT_EQ(r.net.peek(s, 0, ia).value_or(99), 0u);  // empty and open: 0, like LinuxHostNet
  EXPECT_EQ(r.net.discard(s, 1).err(), Err::again);
  auto ti = r.net.tcp_info(s);
  ASSERT_TRUE(ti.ok());
  EXPECT_EQ(ti->state, 1);  // ESTABLISHED
  EXPECT_TRUE(ti->has_bytes_acked);
  EXPECT_EQ(ti->bytes_acked, 1000u);
  EXPECT_EQ(ti->snd_wnd, 65536u);
  EXPECT_EQ(ti->rtt_us, 2000u);
  EXPECT_EQ(r.net.send_queue(s).value_or(99), 0u);
  // Our FIN; the echo peer answers with its own.
  ASSERT_TRUE(r.net.shutdown_write(s).ok());
  EXPECT_EQ(r.net.send(s, {}, false).err(), Err::broken_pipe);
  r.run(Duration::millis(5));
  EXPECT_NE(r.sink.events_for(1) & ev::rdhup, 0u);
  EXPECT_EQ(r.net.peek(s, 0, ia).value_or(99), 0u);  // end of stream
  EXPECT_EQ(r.net.readiness(s) & ev::hup, ev::hup);
  EXPECT_EQ(r.net.tcp_info(s)->state, 6);  // TIME_WAIT: we closed first
  r.net.close(s);
  EXPECT_EQ(r.net.live_conns(), 0u);
  EXPECT_EQ(r.net.totals().peers_done, 1u);
}

TEST(SimHostNet, SendBufferBoundsWhatSendAccepts) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 1, 9);
  PeerSpec slow = peer(PeerKind::slow_reader);
  slow.read_rate = 1000;  // 1 kB/s
  slow.rcvbuf = 4096;
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, slow).ok());
  Sock s = r.tcp();
  ASSERT_TRUE(r.net.set_opt(s, ports::SockOpt::sndbuf, 4096).ok());
  EXPECT_EQ(r.net.get_opt(s, ports::SockOpt::sndbuf).value_or(0), 8192);  // doubled, like Linux
  ASSERT_TRUE(r.net.set_opt(s, ports::SockOpt::sndbuf, 1 << 30).ok());
  EXPECT_EQ(r.net.get_opt(s, ports::SockOpt::sndbuf).value_or(0), 65536);  // capped
  ASSERT_TRUE(r.net.set_opt(s, ports::SockOpt::sndbuf, 4096).ok());
  EXPECT_EQ(r.net.connect(s, at).err(), Err::in_progress);
  r.run(Duration::millis(3));
  std::size_t total = 0;
  while (true) {
    const std::size_t n = send_pattern(r.net, s, 5, total, 3000);
    if (n == 0) break;
    total += n;
  }
  EXPECT_EQ(total, 8192u);
  EXPECT_EQ(r.net.send(s, {}, false).err(), Err::again);
  r.run(Duration::millis(50));
  // The reader took its window (4096) and reads 1 kB/s: the window closed.
  for (int i = 0; i < 5; i++) {
    const std::size_t n = send_pattern(r.net, s, 5, total, 3000);
    total += n;
    r.run(Duration::millis(10));
  }
  auto ti = r.net.tcp_info(s);
  ASSERT_TRUE(ti.ok());
  EXPECT_LE(ti->bytes_acked, 4096u + 200u);
  EXPECT_LT(ti->snd_wnd, 1000u);
  EXPECT_EQ(r.net.send_queue(s).value_or(0), total - ti->bytes_acked);
  EXPECT_EQ(r.net.readiness(s) & ev::out, 0u);
  // Over time the reader drains it all.
  r.run(Duration::seconds(30));
  ti = r.net.tcp_info(s);
  EXPECT_EQ(ti->bytes_acked, total);
}

TEST(SimHostNet, TcpInfoFieldsFollowTheKernelSwitches) {
  HostNetConfig c = small_config();
  c.has_snd_wnd = false;
  c.has_bytes_acked = false;
  c.has_min_rtt = false;
  Rig r(c);
  const SockAddr at = v4(203, 0, 113, 1, 7);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::sink)).ok());
  Sock s = r.tcp();
  (void)r.net.connect(s, at);
  r.run(Duration::millis(3));
  EXPECT_EQ(send_pattern(r.net, s, 1, 0, 500), 500u);
  r.run(Duration::millis(3));
  auto ti = r.net.tcp_info(s);
  ASSERT_TRUE(ti.ok());
  EXPECT_FALSE(ti->has_snd_wnd);
  EXPECT_FALSE(ti->has_bytes_acked);
  EXPECT_FALSE(ti->has_min_rtt);
  EXPECT_EQ(ti->snd_wnd, 0u);
  EXPECT_EQ(ti->bytes_acked, 0u);
  EXPECT_EQ(ti->min_rtt_us, 0u);
  EXPECT_GT(ti->rtt_us, 0u);
  EXPECT_EQ(ti->snd_mss, 1460u);
  EXPECT_EQ(r.net.send_queue(s).value_or(99), 0u);
}

TEST(SimHostNet, SourcePeerSendsThenFin) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 2, 19);
  PeerSpec src = peer(PeerKind::source, 100000);
  src.stream = 77;
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, src).ok());
  Sock s = r.tcp();
  (void)r.net.connect(s, at);
  std::vector<u8> buf(8192);
  u64 got = 0;
  bool eof = false;
  for (int i = 0; i < 1000 && !eof; i++) {
    r.run(Duration::millis(1));
    const MutBytes iov[1] = {MutBytes(buf)};
    auto n = r.net.recv(s, iov);
    if (!n.ok()) {
      ASSERT_EQ(n.err(), Err::again);
      continue;
    }
    if (*n == 0) {
      eof = (r.net.readiness(s) & ev::rdhup) != 0;
      continue;
    }
    ASSERT_EQ(check_pattern(77, got, Bytes(buf.data(), *n)), *n);
    got += *n;
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(got, 100000u);
  EXPECT_EQ(r.net.tcp_info(s)->state, 8);  // CLOSE_WAIT
  r.net.close(s);
  r.run(Duration::millis(10));
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, ResetterResets) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 3, 5);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::resetter, 100)).ok());
  Sock s = r.tcp();
  ASSERT_TRUE(r.net.watch(s, ev::in | ev::edge, 3).ok());
  (void)r.net.connect(s, at);
  r.run(Duration::millis(3));
  EXPECT_EQ(send_pattern(r.net, s, 1, 0, 1000), 1000u);
  r.run(Duration::millis(5));
  EXPECT_EQ(r.sink.events_for(3) & (ev::err | ev::hup), ev::err | ev::hup);  // always reported
  EXPECT_EQ(r.net.send(s, {}, false).err(), Err::conn_reset);
  EXPECT_EQ(r.net.send(s, {}, false).err(), Err::broken_pipe);
  EXPECT_EQ(r.net.tcp_info(s)->state, 7);  // CLOSE
  EXPECT_EQ(r.net.totals().peer_resets, 1u);
  r.net.close(s);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, AcceptRemoteClientAndEchoBack) {
  Rig r;
  Sock l = r.tcp();
  ASSERT_TRUE(r.net.bind(l, v4(0, 0, 0, 0, 8080)).ok());
  ASSERT_TRUE(r.net.listen(l, 4).ok());
  ASSERT_TRUE(r.net.watch(l, ev::in | ev::edge, 100).ok());
  SockAddr peer_out;
  EXPECT_EQ(r.net.accept(l, &peer_out).err(), Err::again);
  PeerSpec cl = peer(PeerKind::client, 5000);
  cl.stream = 9;
  cl.verify = true;
  cl.expect_stream = 9;
  cl.expect_bytes = 5000;
  const SockAddr from = v4(198, 51, 100, 7, 40000);
  ASSERT_TRUE(r.net.connect_remote(Netns::host, from, v4(192, 0, 2, 1, 8080), cl).ok());
  r.run(Duration::millis(3));
  EXPECT_NE(r.sink.events_for(100) & ev::in, 0u);
  auto c = r.net.accept(l, &peer_out);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(peer_out, from);
  EXPECT_EQ(r.net.local_addr(*c)->port, 8080);
  std::vector<u8> buf(65536);
  u64 echoed = 0;
  for (int i = 0; i < 200; i++) {
    r.run(Duration::millis(1));
    const MutBytes iov[1] = {MutBytes(buf)};
    auto n = r.net.recv(*c, iov);
    if (n.ok() && *n > 0) {
      const Bytes out[1] = {Bytes(buf.data(), *n)};
      ASSERT_EQ(r.net.send(*c, out, false).value_or(0), *n);
      echoed += *n;
    }
    if (echoed == 5000 && n.ok() && *n == 0) break;
  }
  EXPECT_EQ(echoed, 5000u);
  ASSERT_TRUE(r.net.shutdown_write(*c).ok());
  r.run(Duration::millis(10));
  EXPECT_EQ(r.net.totals().clients_done, 1u);
  EXPECT_EQ(r.net.totals().peer_mismatches, 0u);
  r.net.close(*c);
  r.net.close(l);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, InboundToNoListenerIsRefused) {
  Rig r;
  ASSERT_TRUE(r.net.connect_remote(Netns::host, v4(198, 51, 100, 7, 1), v4(192, 0, 2, 1, 81),
                                   peer(PeerKind::client, 10))
                  .ok());
  r.run(Duration::millis(5));
  EXPECT_EQ(r.net.totals().inbound_refused, 1u);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, FullBacklogMakesTheClientRetry) {
  Rig r;
  Sock l = r.tcp();
  ASSERT_TRUE(r.net.bind(l, v4(192, 0, 2, 1, 8081)).ok());
  ASSERT_TRUE(r.net.listen(l, 1).ok());
  const SockAddr to = v4(192, 0, 2, 1, 8081);
  ASSERT_TRUE(r.net.connect_remote(Netns::host, v4(198, 51, 100, 1, 1), to, peer(PeerKind::sink)).ok());
  ASSERT_TRUE(r.net.connect_remote(Netns::host, v4(198, 51, 100, 2, 2), to, peer(PeerKind::sink)).ok());
  r.run(Duration::millis(5));
  SockAddr p;
  auto a = r.net.accept(l, &p);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(r.net.accept(l, &p).err(), Err::again);  // the second SYN was dropped
  r.run(Duration::millis(1100));                       // its retry after 1 s
  auto b = r.net.accept(l, &p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(p, v4(198, 51, 100, 2, 2));
}

TEST(SimHostNet, SilentPeerTimesOut) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 4, 22);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::silent)).ok());
  Sock s = r.tcp();
  EXPECT_EQ(r.net.connect(s, at).err(), Err::in_progress);
  r.run(Duration::seconds(100));
  EXPECT_EQ(r.net.take_error(s), Err::none);  // still trying
  r.run(Duration::seconds(30));
  EXPECT_EQ(r.net.take_error(s), Err::timed_out);
  EXPECT_EQ(r.net.totals().timed_out, 1u);
}

TEST(SimHostNet, CloseWithUnsentDataStillDeliversThenFin) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 5, 25);
  PeerSpec sink = peer(PeerKind::sink);
  sink.verify = true;
  sink.expect_stream = 3;
  sink.expect_bytes = 16000;
  sink.bandwidth = 100000;  // slow link: most is unsent at close()
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, sink).ok());
  Sock s = r.tcp();
  (void)r.net.connect(s, at);
  r.run(Duration::millis(3));
  EXPECT_EQ(send_pattern(r.net, s, 3, 0, 16000), 16000u);
  r.net.close(s);
  EXPECT_EQ(r.net.open_sockets(), 0u);
  EXPECT_EQ(r.net.live_conns(), 1u);  // orphaned, still sending
  r.run(Duration::seconds(1));
  EXPECT_EQ(r.net.totals().peer_verified, 16000u);
  EXPECT_EQ(r.net.totals().peers_done, 1u);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, CloseWithUnreadDataResets) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 6, 26);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::source, 1000)).ok());
  Sock s = r.tcp();
  (void)r.net.connect(s, at);
  r.run(Duration::millis(5));
  EXPECT_GT(r.net.readiness(s) & ev::in, 0u);
  r.net.close(s);  // 1000 bytes unread: RST, not FIN
  r.run(Duration::millis(5));
  EXPECT_EQ(r.net.totals().peers_done, 0u);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, LocalConnectionBetweenTwoSockets) {
  Rig r;
  Sock l = r.tcp();
  ASSERT_TRUE(r.net.bind(l, v4(127, 0, 0, 1, 9000)).ok());
  ASSERT_TRUE(r.net.listen(l, 8).ok());
  Sock c = r.tcp();
  EXPECT_EQ(r.net.connect(c, v4(127, 0, 0, 1, 9000)).err(), Err::in_progress);
  r.run(Duration::millis(1));
  SockAddr p;
  auto a = r.net.accept(l, &p);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(p, *r.net.local_addr(c));
  EXPECT_EQ(send_pattern(r.net, c, 8, 0, 3000), 3000u);
  r.run(Duration::millis(1));
  u8 buf[4000];
  const MutBytes iov[1] = {MutBytes(buf, sizeof(buf))};
  EXPECT_EQ(r.net.recv(*a, iov).value_or(0), 3000u);
  EXPECT_EQ(check_pattern(8, 0, Bytes(buf, 3000)), 3000u);
  r.net.close(c);
  r.run(Duration::millis(1));
  EXPECT_EQ(r.net.recv(*a, iov).value_or(99), 0u);
  EXPECT_NE(r.net.readiness(*a) & ev::rdhup, 0u);
  r.net.close(*a);
  r.run(Duration::millis(1));
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, HandlesAreReusedLowestFirstAndBindConflicts) {
  Rig r;
  Sock a = r.tcp(), b = r.tcp();
  EXPECT_EQ(b.v, a.v + 1);
  r.net.close(a);
  Sock c = r.tcp();
  EXPECT_EQ(c.v, a.v);
  ASSERT_TRUE(r.net.bind(b, v4(0, 0, 0, 0, 5000)).ok());
  EXPECT_EQ(r.net.bind(c, v4(192, 0, 2, 1, 5000)).err(), Err::addr_in_use);
  Sock d = r.tcp(Family::v6);
  EXPECT_EQ(r.net.bind(d, {InAny::from(Ipv6Addr::any()), 5000, 0}).err(), Err::addr_in_use);  // dual stack
  Sock e = r.tcp(Family::v6);
  ASSERT_TRUE(r.net.set_opt(e, ports::SockOpt::v6only, 1).ok());
  EXPECT_TRUE(r.net.bind(e, {InAny::from(Ipv6Addr::any()), 5000, 0}).ok());
  EXPECT_EQ(r.net.bind(c, {InAny::from(Ipv6Addr::loopback()), 1, 0}).err(), Err::invalid);  // v4 socket
  EXPECT_EQ(r.net.send(Sock{99}, {}, false).err(), Err::bad_handle);
  EXPECT_EQ(r.net.pipe().err(), Err::not_supported);
}

TEST(SimHostNet, LevelTriggeredRepeatsEdgeTriggeredDoesNot) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 7, 7);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::echo)).ok());
  Sock lt = r.tcp(), et = r.tcp();
  ASSERT_TRUE(r.net.watch(lt, ev::in, 1).ok());
  ASSERT_TRUE(r.net.watch(et, ev::in | ev::edge, 2).ok());
  (void)r.net.connect(lt, at);
  (void)r.net.connect(et, at);
  r.run(Duration::millis(3));
  EXPECT_EQ(send_pattern(r.net, lt, 1, 0, 10), 10u);
  EXPECT_EQ(send_pattern(r.net, et, 1, 0, 10), 10u);
  // Advance until the echo is back, then poll a few times at that instant.
  while (r.sink.events_for(1) == 0 && !r.w.failed()) r.w.step();
  while (r.sink.events_for(2) == 0 && !r.w.failed()) r.w.step();
  for (int i = 0; i < 5; i++) r.w.step();
  u64 nlt = 0, net_ = 0;
  r.sink.events_for(1, &nlt);
  r.sink.events_for(2, &net_);
  EXPECT_GE(nlt, 5u);   // reported at every poll while readable
  EXPECT_EQ(net_, 1u);  // once per wake-up
  // New data wakes the edge-triggered socket again, even though it stayed
  // readable all along.
  EXPECT_EQ(send_pattern(r.net, et, 1, 10, 10), 10u);
  r.net.unwatch(lt);
  r.run(Duration::millis(5));
  r.sink.events_for(2, &net_);
  EXPECT_EQ(net_, 2u);
}

TEST(SimHostNet, EventsAreNeverDeliveredInsidePortCalls) {
  // A handler that calls the port from inside on_socket_event: any nested
  // engine call would show up as a re-entry.
  struct Closer final : RecordingSink::Handler {
    SimHostNet* net = nullptr;
    void on_socket_event(u64 ref, u32 events, Instant) noexcept override {
      Sock s{static_cast<i32>(ref)};
      if ((events & ev::in) != 0) {
        u8 buf[64];
        const MutBytes iov[1] = {MutBytes(buf, sizeof(buf))};
        while (net->recv(s, iov).value_or(0) > 0) {
        }
      }
      if ((events & ev::out) != 0) {
        const u8 x[3] = {1, 2, 3};
        const Bytes iov[1] = {Bytes(x, 3)};
        (void)net->send(s, iov, false);
        (void)net->shutdown_write(s);
        (void)net->watch(s, ev::in | ev::rdhup, static_cast<u64>(s.v));
      }
      if ((events & ev::rdhup) != 0) net->close(s);
    }
  } closer;
  Rig r;
  closer.net = &r.net;
  r.sink.set_handler(&closer);
  const SockAddr at = v4(203, 0, 113, 8, 7);
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, peer(PeerKind::echo)).ok());
  for (int i = 0; i < 4; i++) {
    Sock s = r.tcp();
    ASSERT_TRUE(r.net.watch(s, ev::out, static_cast<u64>(s.v)).ok());
    (void)r.net.connect(s, at);
  }
  r.run(Duration::millis(50));
  EXPECT_EQ(r.sink.reentries(), 0u);
  EXPECT_EQ(r.net.open_sockets(), 0u);
  EXPECT_EQ(r.net.live_conns(), 0u);
}

TEST(SimHostNet, WrongBytesToAVerifyingPeerFailTheChecker) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 9, 9);
  PeerSpec sink = peer(PeerKind::sink);
  sink.verify = true;
  sink.expect_stream = 4;
  ASSERT_TRUE(r.net.add_tcp_service(Netns::host, at, sink).ok());
  Sock s = r.tcp();
  (void)r.net.connect(s, at);
  r.run(Duration::millis(3));
  EXPECT_EQ(send_pattern(r.net, s, 5, 0, 100), 100u);  // stream 5, not 4
  EXPECT_FALSE(r.w.run_until(r.w.now() + Duration::millis(5)));
  EXPECT_STREQ(r.w.failure().source, "hostnet");
  EXPECT_NE(std::strstr(r.w.failure().reason, "byte 0 of stream 4"), nullptr) << r.w.failure().reason;
}

TEST(SimHostNet, UdpEchoPeerAndTruncation) {
  Rig r;
  const SockAddr at = v4(203, 0, 113, 10, 53);
  ASSERT_TRUE(r.net.add_udp_peer(Netns::host, at, UdpPeerKind::echo, Duration::millis(2)).ok());
  auto s = r.net.socket(Netns::host, Family::v4, SockType::udp);
  ASSERT_TRUE(s.ok());
  u8 d1[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  u8 d2[3] = {7, 7, 7};
  const Bytes i1[2] = {Bytes(d1, 4), Bytes(d1 + 4, 6)};
  const Bytes i2[1] = {Bytes(d2, 3)};
  const ports::SendSlot msgs[2] = {{i1, &at}, {i2, &at}};
  EXPECT_EQ(r.net.send_batch(*s, msgs).value_or(0), 2u);
  EXPECT_EQ(r.net.send_batch(*s, std::span<const ports::SendSlot>(msgs, 1).first(0)).value_or(9), 0u);
  ports::RecvSlot slots[4];
  u8 b0[5], b1[16];
  slots[0].buf = MutBytes(b0, sizeof(b0));
  slots[1].buf = MutBytes(b1, sizeof(b1));
  EXPECT_EQ(r.net.recv_batch(*s, std::span<ports::RecvSlot>(slots, 2)).err(), Err::again);
  r.run(Duration::micros(3900));
  EXPECT_EQ(r.net.recv_batch(*s, std::span<ports::RecvSlot>(slots, 2)).err(), Err::again);
  r.run(Duration::micros(200));
  EXPECT_EQ(r.net.recv_batch(*s, std::span<ports::RecvSlot>(slots, 2)).value_or(0), 2u);
  EXPECT_EQ(slots[0].len, 5u);  // truncated
  EXPECT_EQ(std::memcmp(b0, d1, 5), 0);
  EXPECT_EQ(slots[1].len, 3u);
  EXPECT_EQ(slots[0].peer, at);
  // Unconnected send without a destination.
  const ports::SendSlot bad[1] = {{i2, nullptr}};
  EXPECT_EQ(r.net.send_batch(*s, bad).err(), Err::not_connected);
  ASSERT_TRUE(r.net.connect(*s, at).ok());
  EXPECT_EQ(r.net.send_batch(*s, bad).value_or(0), 1u);
}

TEST(SimHostNet, UdpBetweenLocalSocketsAndIcmpError) {
  Rig r;
  auto a = r.net.socket(Netns::host, Family::v4, SockType::udp);
  auto b = r.net.socket(Netns::host, Family::v4, SockType::udp);
  ASSERT_TRUE(r.net.bind(*b, v4(127, 0, 0, 1, 6000)).ok());
  ASSERT_TRUE(r.net.set_opt(*a, ports::SockOpt::recverr, 1).ok());
  ASSERT_TRUE(r.net.watch(*b, ev::in | ev::edge, 5).ok());
  ASSERT_TRUE(r.net.watch(*a, ev::in | ev::edge, 6).ok());
  u8 d[4] = {9, 8, 7, 6};
  const Bytes iov[1] = {Bytes(d, 4)};
  const SockAddr to_b = v4(127, 0, 0, 1, 6000);
  const SockAddr nowhere = v4(127, 0, 0, 1, 6001);
  const ports::SendSlot m[2] = {{iov, &to_b}, {iov, &nowhere}};
  EXPECT_EQ(r.net.send_batch(*a, m).value_or(0), 2u);
  r.run(Duration::millis(5));
  EXPECT_NE(r.sink.events_for(5) & ev::in, 0u);
  EXPECT_NE(r.sink.events_for(6) & ev::err, 0u);  // port unreachable came back
  ports::RecvSlot slot;
  u8 buf[16];
  slot.buf = MutBytes(buf, sizeof(buf));
  EXPECT_EQ(r.net.recv_batch(*b, std::span<ports::RecvSlot>(&slot, 1)).value_or(0), 1u);
  EXPECT_EQ(slot.peer.addr, InAny::from(Ipv4Addr::loopback()));
  EXPECT_EQ(slot.peer.port, r.net.local_addr(*a)->port);
  EXPECT_EQ(r.net.take_error(*a), Err::conn_refused);
}

TEST(SimHostNet, PingSocketGetsEchoReplies) {
  Rig r;
  const InAny host = InAny::from(Ipv4Addr::of(203, 0, 113, 11));
  ASSERT_TRUE(r.net.add_ping_host(Netns::host, host, Duration::millis(1)).ok());
  auto s = r.net.socket(Netns::host, Family::v4, SockType::ping);
  ASSERT_TRUE(s.ok());
  u8 req[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 5, 'h', 'e', 'l', 'l', 'o', '!', '!', '!'};
  const Bytes iov[1] = {Bytes(req, sizeof(req))};
  const SockAddr to{host, 0, 0};
  const ports::SendSlot m[1] = {{iov, &to}};
  EXPECT_EQ(r.net.send_batch(*s, m).value_or(0), 1u);
  u8 notreq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const Bytes iov2[1] = {Bytes(notreq, 8)};
  const ports::SendSlot m2[1] = {{iov2, &to}};
  EXPECT_EQ(r.net.send_batch(*s, m2).err(), Err::invalid);
  r.run(Duration::millis(3));
  ports::RecvSlot slot;
  u8 buf[64];
  slot.buf = MutBytes(buf, sizeof(buf));
  ASSERT_EQ(r.net.recv_batch(*s, std::span<ports::RecvSlot>(&slot, 1)).value_or(0), 1u);
  ASSERT_EQ(slot.len, sizeof(req));
  EXPECT_EQ(buf[0], 0);  // echo reply
  EXPECT_EQ(load_be16(buf + 4), r.net.local_addr(*s)->port);  // identifier = the socket's
  EXPECT_EQ(load_be16(buf + 6), 5);
  EXPECT_EQ(std::memcmp(buf + 8, req + 8, 8), 0);
  EXPECT_EQ(wire::Csum().add(Bytes(buf, slot.len)).fold(), 0xffff);
  EXPECT_EQ(slot.peer.addr, host);
}

}  // namespace
}  // namespace passt::sim
