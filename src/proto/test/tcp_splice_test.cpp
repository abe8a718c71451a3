// proto::TcpSplice (the spliced TCP path's state machine), its pools and its
// forwarding decisions, against the in-memory kernel of splice_fake.hpp.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/deadline_heap.hpp"
#include "core/flow_table.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/splice_pool.hpp"
#include "proto/tcp_splice.hpp"
#include "proto/test/splice_fake.hpp"

namespace passt::proto {
namespace {

using ports::Sock;
using ports::SockAddr;
using test::SpliceFakeNet;
namespace ev = ports::ev;
namespace se = splice_ev;

SockAddr v4(u8 a, u8 b, u8 c, u8 d, u16 port) { return SockAddr{InAny::from(Ipv4Addr{{a, b, c, d}}), port, 0}; }
SockAddr v6lo(u16 port) { return SockAddr{InAny::from(Ipv6Addr::loopback()), port, 0}; }

// splitmix64: a deterministic generator (tests may not use <random>).
struct Gen {
  u64 x;
  explicit Gen(u64 seed) : x(seed) {}
  u32 operator()() {
    u64 z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<u32>((z ^ (z >> 31)) >> 16);
  }
};

std::string pattern(std::size_t n, u32 seed) {
  std::string s(n, '\0');
  Gen g(seed);
  for (char& c : s) c = static_cast<char>(g() & 0xff);
  return s;
}

SpliceOptions small_opts() {
  SpliceOptions o;
  o.pipe_pool = 4;
  o.sock_pool = 2;
  o.max_pipe_size = 4096;
  o.min_pipe_size = 512;
  o.move_rounds = 4;
  return o;
}

struct Rig {
  SpliceFakeNet net;
  core::FlowTable flows{16, SipKey{1, 2}};
  core::DeadlineHeap timers{16};
  FlowReaper reaper{16};
  std::unique_ptr<TcpSplice> sp;
  Instant now = Instant::from_nanos(1'000'000'000);

  explicit Rig(const SpliceOptions& o = small_opts()) {
    net.max_pipe_size = 1024;  // the pool settles on 1 KiB pipes
    sp = std::make_unique<TcpSplice>(net, flows, timers, reaper, o);
    sp->init(true, true, true);
  }

  // An accepted connection from 127.0.0.1 on a host listener.
  Sock accepted(SockAddr peer = v4(127, 0, 0, 1, 50000)) {
    Sock a = *net.socket(ports::Netns::host, peer.family(), ports::SockType::tcp);
    net.at(a).conn = SpliceFakeNet::Conn::ok;
    net.at(a).remote = peer;
    net.at(a).local = SockAddr{peer.addr, 8080, 0};
    return a;
  }
  SpliceRequest to_ns(const Sock a, SockAddr tgt = v4(192, 0, 2, 2, 80)) {
    SpliceRequest rq;
    rq.accepted = a;
    rq.ini_pif = core::Pif::host;
    const SockAddr& l = net.at(a).local;
    const SockAddr& p = net.at(a).remote;
    rq.ini = core::FlowSide{l.addr, p.addr, l.port, p.port};
    rq.tgt_ns = ports::Netns::guest;
    rq.tgt_pif = core::Pif::splice;
    rq.tgt.eaddr = tgt.addr;
    rq.tgt.eport = tgt.port;
    rq.tgt.oaddr = tgt.addr.is_v4() ? InAny::from(Ipv4Addr::any()) : InAny::from(Ipv6Addr::any());
    return rq;
  }
  // Starts a connection and completes its connect(); returns the target socket.
  Sock connect(Sock a, SockAddr tgt = v4(192, 0, 2, 2, 80)) {
    EXPECT_TRUE(sp->start(to_ns(a, tgt), now));
    Sock t = target_of(a);
    net.finish_connect(t, true);
    pump();
    return t;
  }
  const SpliceConn* conn_of(Sock a) const {
    const SpliceConn* r = nullptr;
    for (u32 i = 0; i < flows.capacity(); i++) {
      const core::Flow& f = flows.at(core::FlowIdx{i});
      if (const SpliceConn* c = splice_conn_of(f); c != nullptr && c->s[0] == a) r = c;
    }
    return r;
  }
  Sock target_of(Sock a) const {
    const SpliceConn* c = conn_of(a);
    return c != nullptr ? c->s[1] : Sock{};
  }
  // Delivers level-triggered readiness until nothing is pending; fails the
  // test if it never settles (a spinning socket).
  void pump(int max_rounds = 100000) {
    for (int n = 0; n < max_rounds; n++) {
      auto r = net.ready();
      if (r.empty()) return;
      for (auto [ref, events] : r) {
        core::EpollRef er = core::EpollRef::unpack(ref);
        ASSERT_EQ(er.type, core::RefType::tcp_splice);
        sp->sock_event(er.sidx(), events, now);
      }
      flush();
    }
    FAIL() << "readiness never settles";
  }
  void flush() {
    reaper.drain([this](core::FlowIdx i) noexcept {
      timers.clear(i.v);
      flows.release(i);
    });
  }
};

// --- pools ------------------------------------------------------------------------------------

TEST(SplicePipePool, SizesToTheLargestSizeAllTake) {
  SpliceFakeNet net;
  net.max_pipe_size = 1 << 20;
  PipePool pool(net, 8);
  EXPECT_EQ(pool.init(kPipeSizeMax), 8u);
  EXPECT_EQ(pool.pipe_size(), std::size_t{1} << 20);
  EXPECT_EQ(pool.available(), 8u);
  EXPECT_EQ(net.pipes_opened, 8);
  for (auto& [fd, o] : net.objs)
    if (o.kind == SpliceFakeNet::Kind::pipe_rd) {
      EXPECT_EQ(o.cap, std::size_t{1} << 20);
    }
}

TEST(SplicePipePool, KeepsTheDefaultWhenNoSizeIsAccepted) {
  SpliceFakeNet net;
  net.max_pipe_size = 0;  // every F_SETPIPE_SZ refused
  PipePool pool(net, 2);
  EXPECT_EQ(pool.init(kPipeSizeMax), 2u);
  EXPECT_EQ(pool.pipe_size(), std::size_t{65536});  // what the pipes have
}

TEST(SplicePipePool, NoPipesAtAll) {
  SpliceFakeNet net;
  net.pipe_budget = 0;
  PipePool pool(net, 4);
  EXPECT_EQ(pool.init(kPipeSizeMax), 0u);
  EXPECT_EQ(pool.pipe_size(), kPipeSizeMin);
  EXPECT_FALSE(pool.take());
  EXPECT_EQ(pool.stats().open_failed, 2u);
}

TEST(SplicePipePool, TakeFallsBackAndGiveBackRecyclesCleanPipes) {
  SpliceFakeNet net;
  net.max_pipe_size = 4096;
  PipePool pool(net, 2);
  pool.init(8192, 1024);
  EXPECT_EQ(pool.pipe_size(), 4096u);
  auto a = pool.take(), b = pool.take(), c = pool.take();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(pool.stats().taken_pooled, 2u);
  EXPECT_EQ(pool.stats().taken_fresh, 1u);
  EXPECT_EQ(net.at(c->rd).cap, 4096u);  // a fresh pipe is sized too
  pool.give_back(*a, true);
  pool.give_back(*b, false);  // may hold data: closed
  EXPECT_FALSE(net.is_open(b->rd));
  EXPECT_FALSE(net.is_open(b->wr));
  pool.give_back(*c, true);
  EXPECT_EQ(pool.available(), 2u);
  auto d = net.pipe();
  pool.give_back(*d, true);  // the pool is full: closed
  EXPECT_FALSE(net.is_open(d->rd));
  EXPECT_EQ(pool.available(), 2u);
  EXPECT_EQ(pool.stats().recycled, 2u);
  EXPECT_EQ(pool.stats().closed, 2u);
  pool.refill();
  EXPECT_EQ(pool.available(), 2u);
}

TEST(SpliceSockPool, RefillTakeAndFallback) {
  SpliceFakeNet net;
  SockPool pool(net, ports::Netns::guest, ports::Family::v6, 3);
  pool.refill();
  EXPECT_EQ(pool.available(), 3u);
  EXPECT_EQ(net.sockets_opened, 3);
  for (int k = 0; k < 4; k++) {
    auto s = pool.take();
    ASSERT_TRUE(s);
    EXPECT_EQ(net.at(*s).ns, ports::Netns::guest);
    EXPECT_EQ(net.at(*s).fam, ports::Family::v6);
  }
  EXPECT_EQ(pool.stats().taken_pooled, 3u);
  EXPECT_EQ(pool.stats().taken_fresh, 1u);
  net.socket_budget = 1;
  pool.refill();  // stops at the first failure
  EXPECT_EQ(pool.available(), 1u);
  EXPECT_EQ(pool.stats().open_failed, 1u);
}

// --- connections ------------------------------------------------------------------------------

TEST(TcpSplice, InitFillsThePools) {
  Rig r;
  EXPECT_EQ(r.sp->pipes().available(), 4u);
  EXPECT_EQ(r.sp->pipe_size(), 1024u);
  EXPECT_EQ(r.sp->ns_pool(ports::Family::v4).available(), 2u);
  EXPECT_EQ(r.sp->ns_pool(ports::Family::v6).available(), 2u);
}

TEST(TcpSplice, ConnectThenDataBothWays) {
  Rig r;
  Sock a = r.accepted();
  r.net.app_send(a, "early bytes");  // the client talks before the target answers
  ASSERT_TRUE(r.sp->start(r.to_ns(a), r.now));
  Sock t = r.target_of(a);
  ASSERT_TRUE(t.valid());
  EXPECT_EQ(r.net.at(t).ns, ports::Netns::guest);
  EXPECT_EQ(r.net.at(t).remote, v4(192, 0, 2, 2, 80));
  EXPECT_TRUE(r.net.at(a).nodelay);
  EXPECT_TRUE(r.net.at(t).nodelay);
  // Connecting: only the target is watched, for out; nothing moves.
  EXPECT_FALSE(r.net.at(a).watched);
  EXPECT_EQ(r.net.at(t).mask, ev::out);
  EXPECT_TRUE(r.timers.contains(0));
  r.pump();
  EXPECT_EQ(r.net.at(t).delivered, "");
  // The flow: host side (the client) and the namespace side (the kernel's port).
  const core::Flow& f = r.flows.at(core::FlowIdx{0});
  EXPECT_EQ(f.type, core::FlowType::tcp_splice);
  EXPECT_EQ(f.pif[0], core::Pif::host);
  EXPECT_EQ(f.pif[1], core::Pif::splice);
  EXPECT_EQ(f.side[0].eaddr, InAny::from(Ipv4Addr::loopback()));
  EXPECT_EQ(f.side[0].eport, 50000);
  EXPECT_EQ(f.side[1].eaddr, InAny::from(Ipv4Addr{{192, 0, 2, 2}}));
  EXPECT_EQ(f.side[1].eport, 80);
  EXPECT_NE(f.side[1].oport, 0);
  EXPECT_TRUE(r.flows.lookup(core::FlowTable::key_of(f, 1)).valid());

  r.net.finish_connect(t, true);
  r.pump();
  EXPECT_FALSE(r.timers.contains(0));
  EXPECT_EQ(r.net.app_take(t), "early bytes");
  EXPECT_EQ(r.net.at(a).mask, ev::in | ev::rdhup);
  EXPECT_EQ(r.net.at(t).mask, ev::in | ev::rdhup);
  std::string req = pattern(2048, 1), resp = pattern(2048, 2);
  r.net.app_send(a, req);
  r.net.app_send(t, resp);
  r.pump();
  EXPECT_EQ(r.net.app_take(t), req);
  EXPECT_EQ(r.net.app_take(a), resp);
  EXPECT_EQ(r.sp->stats().bytes[0], 2048u + 11u);
  EXPECT_EQ(r.sp->stats().bytes[1], 2048u);
  EXPECT_EQ(r.sp->stats().established, 1u);
  // Each side reported readable and was read until it had nothing more.
  EXPECT_GE(r.sp->stats().wakeups, 2u);
  EXPECT_GE(r.sp->stats().read_again, 2u);
  EXPECT_LE(r.sp->stats().read_again, r.sp->stats().splice_calls);
}

TEST(TcpSplice, ImmediateConnect) {
  Rig r;
  r.net.connect_result = SpliceFakeNet::Conn::ok;
  Sock a = r.accepted();
  r.net.app_send(a, "x");
  ASSERT_TRUE(r.sp->start(r.to_ns(a), r.now));
  Sock t = r.target_of(a);
  EXPECT_EQ(r.net.app_take(t), "x");
  EXPECT_FALSE(r.timers.contains(0));
}

// -T: accepted in the namespace, to the host's loopback, bound to the
// client's own loopback address first (core::fwd_nat_from_splice).
TEST(TcpSplice, TargetOnTheHostBoundToTheClientsLoopbackAddress) {
  Rig r;
  Sock a = r.accepted(v4(127, 0, 0, 3, 40000));
  r.net.at(a).ns = ports::Netns::guest;
  SpliceRequest rq;
  rq.accepted = a;
  rq.ini_pif = core::Pif::splice;
  rq.ini = core::FlowSide{InAny::from(Ipv4Addr::loopback()), InAny::from(Ipv4Addr{{127, 0, 0, 3}}), 8080, 40000};
  rq.tgt_ns = ports::Netns::host;
  rq.tgt_pif = core::Pif::host;
  rq.tgt = core::FlowSide{InAny::from(Ipv4Addr{{127, 0, 0, 3}}), InAny::from(Ipv4Addr::loopback()), 0, 8081};
  ASSERT_TRUE(r.sp->start(rq, r.now));
  Sock t = r.target_of(a);
  EXPECT_EQ(r.net.at(t).ns, ports::Netns::host);
  EXPECT_EQ(r.net.at(t).bound, (SockAddr{InAny::from(Ipv4Addr{{127, 0, 0, 3}}), 0, 0}));
  EXPECT_EQ(r.net.at(t).remote, v4(127, 0, 0, 1, 8081));
  EXPECT_EQ(r.flows.at(core::FlowIdx{0}).pif[0], core::Pif::splice);
  EXPECT_EQ(r.flows.at(core::FlowIdx{0}).pif[1], core::Pif::host);
  // The namespace pool is for -t targets only.
  EXPECT_EQ(r.sp->ns_pool(ports::Family::v4).available(), 2u);
  r.net.finish_connect(t, true);
  r.pump();
  r.net.app_send(a, "ping");
  r.net.app_send(t, "pong");
  r.pump();
  EXPECT_EQ(r.net.app_take(t), "ping");
  EXPECT_EQ(r.net.app_take(a), "pong");
}

TEST(TcpSplice, RefusedTargetResetsTheClient) {
  Rig r;
  Sock a = r.accepted();
  ASSERT_TRUE(r.sp->start(r.to_ns(a), r.now));
  Sock t = r.target_of(a);
  const u32 pipes = r.sp->pipes().available();
  r.net.finish_connect(t, false);
  r.pump();
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_FALSE(r.net.is_open(t));
  EXPECT_TRUE(r.net.at(a).linger_zero);
  EXPECT_EQ(r.sp->stats().connect_failed, 1u);
  EXPECT_EQ(r.flows.active_count(), 0u);
  EXPECT_EQ(r.sp->pipes().available(), pipes + 2);  // empty pipes go back
  EXPECT_EQ(r.flows.verify(), nullptr);
}

TEST(TcpSplice, SynchronousConnectFailure) {
  Rig r;
  r.net.connect_result = SpliceFakeNet::Conn::refused;
  Sock a = r.accepted();
  EXPECT_FALSE(r.sp->start(r.to_ns(a), r.now));
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_TRUE(r.net.at(a).linger_zero);
  EXPECT_EQ(r.flows.active_count(), 0u);
  EXPECT_EQ(r.flows.pending(), core::FlowIdx{});
  EXPECT_EQ(r.sp->pipes().available(), 4u);
}

TEST(TcpSplice, ConnectTimeout) {
  Rig r;
  Sock a = r.accepted();
  ASSERT_TRUE(r.sp->start(r.to_ns(a), r.now));
  ASSERT_TRUE(r.timers.contains(0));
  EXPECT_EQ(r.timers.get(0), r.now + kSpliceConnectTimeout);
  r.sp->timer(core::FlowIdx{0}, r.now + Duration::seconds(1));  // early: re-armed
  EXPECT_EQ(r.timers.get(0), r.now + kSpliceConnectTimeout);
  r.sp->timer(core::FlowIdx{0}, r.now + kSpliceConnectTimeout);
  r.flush();
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_TRUE(r.net.at(a).linger_zero);
  EXPECT_EQ(r.flows.active_count(), 0u);
}

TEST(TcpSplice, NoResources) {
  {
    Rig r;
    r.net.connect_result = SpliceFakeNet::Conn::ok;
    Sock as[3] = {r.accepted(), r.accepted(), r.accepted()};
    r.net.socket_budget = 0;  // the two pooled namespace sockets only
    EXPECT_TRUE(r.sp->start(r.to_ns(as[0]), r.now));
    EXPECT_TRUE(r.sp->start(r.to_ns(as[1]), r.now));
    EXPECT_FALSE(r.sp->start(r.to_ns(as[2]), r.now));
    EXPECT_TRUE(r.net.at(as[2]).linger_zero);
    EXPECT_FALSE(r.net.is_open(as[2]));
    EXPECT_EQ(r.sp->stats().no_resources, 1u);
    EXPECT_EQ(r.flows.active_count(), 2u);
    EXPECT_EQ(r.flows.verify(), nullptr);
  }
  {
    Rig r;
    r.net.pipe_budget = 1;  // 4 pooled + 1
    r.net.connect_result = SpliceFakeNet::Conn::ok;
    for (int k = 0; k < 2; k++) {
      Sock a = r.accepted();
      EXPECT_TRUE(r.sp->start(r.to_ns(a), r.now));
    }
    Sock a = r.accepted();
    EXPECT_FALSE(r.sp->start(r.to_ns(a), r.now));
    EXPECT_EQ(r.sp->pipes().available(), 1u);  // the one it got went back
    EXPECT_EQ(r.flows.active_count(), 2u);
  }
}

TEST(TcpSplice, FlowTableFull) {
  SpliceFakeNet net;
  core::FlowTable flows{1, SipKey{1, 2}};
  core::DeadlineHeap timers{1};
  FlowReaper reaper{1};
  TcpSplice sp(net, flows, timers, reaper, small_opts());
  sp.init(true, false, true);
  auto mk = [&] {
    Sock a = *net.socket(ports::Netns::host, ports::Family::v4, ports::SockType::tcp);
    net.at(a).remote = v4(127, 0, 0, 1, 1);
    return a;
  };
  SpliceRequest rq;
  rq.ini_pif = core::Pif::host;
  rq.tgt_pif = core::Pif::splice;
  rq.tgt.eaddr = InAny::from(Ipv4Addr{{192, 0, 2, 2}});
  rq.tgt.eport = 80;
  rq.accepted = mk();
  EXPECT_TRUE(sp.start(rq, Instant{}));
  Sock b = mk();
  rq.accepted = b;
  EXPECT_FALSE(sp.start(rq, Instant{}));
  EXPECT_TRUE(net.at(b).linger_zero);
  EXPECT_EQ(sp.stats().table_full, 1u);
}

TEST(TcpSplice, WatchFailureResets) {
  Rig r;
  r.net.fail_watch = true;
  Sock a = r.accepted();
  EXPECT_TRUE(r.sp->start(r.to_ns(a), r.now));
  r.flush();
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_TRUE(r.net.at(a).linger_zero);
  EXPECT_EQ(r.flows.active_count(), 0u);
}

// Client sends and half-closes first; the server answers afterwards.
TEST(TcpSplice, HalfCloseClientFirst) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  std::string req = pattern(3000, 3), resp = pattern(5000, 4);
  r.net.app_send(a, req);
  r.net.app_fin(a);
  r.pump();
  EXPECT_EQ(r.net.app_take(t), req);
  EXPECT_TRUE(r.net.at(t).shut_wr);   // the client's FIN, after its data
  EXPECT_FALSE(r.net.at(a).shut_wr);
  EXPECT_FALSE(r.net.at(a).mask & ev::in);  // nothing more to read there
  EXPECT_EQ(r.flows.active_count(), 1u);
  r.net.app_send(t, resp);  // the other direction still works
  r.pump();
  EXPECT_EQ(r.net.app_take(a), resp);
  r.net.app_fin(t);
  r.pump();
  EXPECT_TRUE(r.net.at(a).shut_wr);
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_FALSE(r.net.is_open(t));
  EXPECT_FALSE(r.net.at(a).linger_zero);  // an orderly close
  EXPECT_FALSE(r.net.at(t).linger_zero);
  EXPECT_EQ(r.flows.active_count(), 0u);
  EXPECT_EQ(r.sp->stats().half_closes, 2u);
  EXPECT_EQ(r.sp->pipes().available(), 4u);  // both pipes recycled
}

TEST(TcpSplice, HalfCloseServerFirst) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  std::string resp = pattern(2048, 5), req = pattern(2048, 6);
  r.net.app_send(t, resp);
  r.net.app_fin(t);
  r.pump();
  EXPECT_EQ(r.net.app_take(a), resp);
  EXPECT_TRUE(r.net.at(a).shut_wr);
  r.net.app_send(a, req);
  r.net.app_fin(a);
  r.pump();
  EXPECT_EQ(r.net.app_take(t), req);
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_FALSE(r.net.at(t).linger_zero);
}

// A FIN waits for the bytes before it, even when the writer is slow.
TEST(TcpSplice, FinAfterBackPressuredData) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.at(t).space = 100;
  std::string req = pattern(5000, 7);
  r.net.app_send(a, req);
  r.net.app_fin(a);
  r.pump();
  EXPECT_FALSE(r.net.at(t).shut_wr);
  // Back-pressure: the client is not read while its pipe waits; the target
  // is watched for out.
  EXPECT_FALSE(r.net.at(a).watched);
  EXPECT_EQ(r.net.at(t).mask & ev::out, ev::out);
  EXPECT_GE(r.sp->stats().back_pressure, 1u);
  std::string got;
  for (int n = 0; n < 1000 && got.size() < req.size(); n++) {
    got += r.net.app_take(t, 300);
    r.pump();
  }
  EXPECT_EQ(got, req);
  EXPECT_TRUE(r.net.at(t).shut_wr);
}

TEST(TcpSplice, ResetFromTheServerResetsTheClient) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.app_send(a, "hello");
  r.pump();
  r.net.app_rst(t);
  r.pump();
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_FALSE(r.net.is_open(t));
  EXPECT_TRUE(r.net.at(a).linger_zero);
  EXPECT_EQ(r.sp->stats().resets, 1u);
  EXPECT_EQ(r.flows.active_count(), 0u);
}

TEST(TcpSplice, ResetFromTheClientResetsTheServer) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.app_rst(a);
  r.pump();
  EXPECT_TRUE(r.net.at(t).linger_zero);
  EXPECT_FALSE(r.net.is_open(t));
}

TEST(TcpSplice, BrokenPipeOnWriteResets) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.at(t).peer_gone = true;
  r.net.app_send(a, "data for nobody");
  r.pump();
  EXPECT_FALSE(r.net.is_open(a));
  EXPECT_TRUE(r.net.at(a).linger_zero);
  // The pipe held bytes: it is closed, not recycled.
  EXPECT_EQ(r.sp->pipes().available(), 4u - 2u + 1u);
}

TEST(TcpSplice, HangupWhileWaitingToWrite) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.at(t).space = 0;
  r.net.app_send(a, pattern(500, 8));
  r.pump();
  ASSERT_EQ(r.net.at(t).mask & ev::out, ev::out);
  EXPECT_FALSE(r.net.at(a).watched);  // back-pressure
  r.net.app_rst(t);
  r.pump();
  EXPECT_FALSE(r.net.is_open(a));
}

TEST(TcpSplice, MoreFlagOnFullPipeReads) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.app_send(a, pattern(10 * 1024, 9));
  r.pump();
  EXPECT_EQ(r.net.app_take(t).size(), 10u * 1024u);
  EXPECT_GT(r.net.at(t).more_calls, 0);
}

TEST(TcpSplice, EventsForAClosedFlowAreIgnored) {
  Rig r;
  Sock a = r.accepted();
  Sock t = r.connect(a);
  r.net.app_rst(a);
  r.pump();
  r.sp->sock_event(core::FlowSidx{0, 0}, ev::in, r.now);
  r.sp->sock_event(core::FlowSidx{0, 1}, ev::out, r.now);
  r.sp->sock_event(core::FlowSidx{1000, 0}, ev::in, r.now);
  r.sp->timer(core::FlowIdx{0}, r.now);
  EXPECT_FALSE(r.net.is_open(t));
}

TEST(TcpSplice, PeriodicRefillsThePools) {
  Rig r;
  r.net.connect_result = SpliceFakeNet::Conn::ok;
  for (int k = 0; k < 3; k++) {
    Sock a = r.accepted();
    ASSERT_TRUE(r.sp->start(r.to_ns(a), r.now));
  }
  EXPECT_EQ(r.sp->pipes().available(), 0u);
  EXPECT_EQ(r.sp->ns_pool(ports::Family::v4).available(), 0u);
  r.sp->periodic(r.now);
  EXPECT_EQ(r.sp->pipes().available(), 4u);
  EXPECT_EQ(r.sp->ns_pool(ports::Family::v4).available(), 2u);
}

// Many connections at once, random sizes, random reader speeds, random FIN
// orders and times: every byte arrives, in order, exactly once; every
// connection closes in order; nothing leaks; readiness always settles.
TEST(TcpSplice, RandomisedTransfers) {
  for (u32 seed = 1; seed <= 40; seed++) {
    SCOPED_TRACE(seed);
    SpliceOptions o = small_opts();
    o.move_rounds = 1 + seed % 5;
    Rig r(o);
    Gen g(seed);
    struct C {
      Sock a, t;
      std::string up, down;    // what each client / server sends
      std::size_t up_sent = 0, down_sent = 0;
      std::string up_got, down_got;
      bool up_fin = false, down_fin = false;
    };
    std::vector<C> cs(5);
    for (std::size_t k = 0; k < cs.size(); k++) {
      C& c = cs[k];
      c.a = r.accepted(k % 2 ? v6lo(static_cast<u16>(1000 + k)) : v4(127, 0, 0, 1, static_cast<u16>(1000 + k)));
      c.t = r.connect(c.a, k % 2 ? SockAddr{*parse_inany("2001:db8::2"), 80, 0} : v4(192, 0, 2, 2, 80));
      c.up = pattern(g() % 20000, seed * 10 + static_cast<u32>(k));
      c.down = pattern(g() % 20000, seed * 100 + static_cast<u32>(k));
      r.net.at(c.a).space = g() % 3000;
      r.net.at(c.t).space = g() % 3000;
    }
    for (int step = 0; step < 20000; step++) {
      bool busy = false;
      for (C& c : cs) {
        auto send_some = [&](Sock s, const std::string& all, std::size_t& sent, bool& fin) {
          if (sent < all.size()) {
            std::size_t n = std::min<std::size_t>(all.size() - sent, g() % 1500);
            r.net.app_send(s, all.substr(sent, n));
            sent += n;
          } else if (!fin && g() % 4 == 0) {
            r.net.app_fin(s);
            fin = true;
          }
        };
        if (g() % 2) send_some(c.a, c.up, c.up_sent, c.up_fin);
        if (g() % 2) send_some(c.t, c.down, c.down_sent, c.down_fin);
        if (g() % 3) c.up_got += r.net.app_take(c.t, g() % 2000);
        if (g() % 3) c.down_got += r.net.app_take(c.a, g() % 2000);
        busy = busy || r.net.is_open(c.a);
      }
      r.pump();
      if (::testing::Test::HasFatalFailure()) return;
      if (!busy) break;
    }
    for (C& c : cs) {
      c.up_got += r.net.app_take(c.t);
      c.down_got += r.net.app_take(c.a);
      EXPECT_EQ(c.up_got.size(), c.up.size());
      EXPECT_TRUE(c.up_got == c.up);
      EXPECT_TRUE(c.down_got == c.down);
      EXPECT_FALSE(r.net.is_open(c.a));
      EXPECT_FALSE(r.net.is_open(c.t));
      EXPECT_TRUE(r.net.at(c.a).shut_wr && r.net.at(c.t).shut_wr);
      EXPECT_FALSE(r.net.at(c.a).linger_zero || r.net.at(c.t).linger_zero);
    }
    EXPECT_EQ(r.flows.active_count(), 0u);
    EXPECT_EQ(r.flows.verify(), nullptr);
    EXPECT_EQ(r.sp->stats().conns_closed, cs.size());
    EXPECT_EQ(r.sp->stats().resets, 0u);
    // Pipes: nothing open but the pool.
    int open_pipes = 0;
    for (auto& [fd, ob] : r.net.objs)
      if (ob.kind == SpliceFakeNet::Kind::pipe_rd && ob.open) open_pipes++;
    EXPECT_EQ(open_pipes, static_cast<int>(r.sp->pipes().available()));
  }
}

}  // namespace
}  // namespace passt::proto
