// The engine's spliced TCP path (pasta): proto::TcpFwd hands a -t
// listener's loopback client, and every -T connection, to proto::TcpSplice;
// other clients and --no-splice take the tap path; readiness, deadlines and
// the pool timer reach the splicer.  Against the in-memory kernel of
// src/proto/test/splice_fake.hpp.
#include <gtest/gtest.h>

#include <vector>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "engine/engine.hpp"
#include "proto/test/splice_fake.hpp"

namespace passt::engine {
namespace {

using ports::Sock;
using ports::SockAddr;
using proto::test::SpliceFakeNet;

class CountTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    n += frames.size();
    return frames.size();
  }
  bool connected() const noexcept override { return true; }
  std::size_t n = 0;
};

class ZeroEntropy final : public ports::Entropy {
 public:
  void fill(MutBytes out) noexcept override {
    for (auto& b : out) b = 0;
  }
};

SockAddr lo4(u16 port) { return SockAddr{InAny::from(Ipv4Addr::loopback()), port, 0}; }

struct Rig {
  core::Config cfg;
  core::NetInfo net;
  SpliceFakeNet host;
  CountTap tap;
  ZeroEntropy entropy;
  std::unique_ptr<Engine> eng;
  Instant now = Instant::from_nanos(1'000'000'000);

  explicit Rig(bool no_splice = false, core::Mode mode = core::Mode::pasta, bool outbound = false) {
    cfg.mode = mode;
    cfg.no_splice = no_splice || mode == core::Mode::passt;
    cfg.fwd_in.tcp.mode = core::FwdMode::spec;
    core::PortBindRule r;
    r.option = 't';
    r.spec = "8080";
    r.ports.push_back({8080, 8080});
    cfg.fwd_in.tcp.rules.push_back(r);
    cfg.fwd_in.tcp.forwarded.set(8080);
    cfg.fwd_in.tcp.set_delta(8080, static_cast<u16>(80 - 8080));
    cfg.fwd_out.tcp.mode = core::FwdMode::none;
    if (outbound) {  // -T 9090:9091
      cfg.fwd_out.tcp.mode = core::FwdMode::spec;
      cfg.fwd_out.tcp.forwarded.set(9090);
      cfg.fwd_out.tcp.set_delta(9090, 1);
    }
    net.v4.enabled = true;
    net.v4.addr = Ipv4Addr{{192, 0, 2, 2}};
    net.v4.our_tap_addr = Ipv4Addr{{192, 0, 2, 1}};
    net.v4.map_host_loopback = Ipv4Addr{{192, 0, 2, 1}};
    Sizing sz;
    sz.flows = 64;
    sz.tap_batch_frames = 16;
    sz.tap_arena = 1 << 18;
    proto::TcpOptions to;
    to.probe_local = false;
    eng = std::make_unique<Engine>(cfg, net, ports::Ports{tap, host, entropy}, sz, to);
    EXPECT_TRUE(eng->open_listeners());
    eng->start(now);
  }
  Sock listener(ports::Netns ns = ports::Netns::host) const {
    for (const auto& [fd, o] : host.objs)
      if (o.kind == SpliceFakeNet::Kind::listener && o.ns == ns) return Sock{fd};
    return Sock{};
  }
  // A client connects to the listener; the engine accepts it.
  Sock connect_client(const SockAddr& peer, ports::Netns ns = ports::Netns::host) {
    const Sock l = listener(ns);
    const int fd = host.queue_accept(l, peer);
    eng->on_socket_event(host.at(l).ref, ports::ev::in, now);
    eng->flush(now);
    return Sock{fd};
  }
  void pump() {
    for (int n = 0; n < 10000; n++) {
      auto r = host.ready();
      if (r.empty()) return;
      for (auto [ref, events] : r) eng->on_socket_event(ref, events, now);
      eng->flush(now);
    }
    FAIL() << "readiness never settles";
  }
  Sock target_of(Sock a) const {
    for (u32 i = 0; i < eng->flows().capacity(); i++)
      if (const proto::SpliceConn* c = proto::splice_conn_of(eng->flows().at(core::FlowIdx{i}));
          c != nullptr && c->s[0] == a)
        return c->s[1];
    return Sock{};
  }
};

TEST(EngineSplice, LoopbackClientIsSplicedToTheNamespace) {
  Rig r;
  EXPECT_EQ(r.eng->splice().pipes().available(), 32u);
  EXPECT_EQ(r.eng->splice().ns_pool(ports::Family::v4).available(), 32u);
  Sock a = r.connect_client(lo4(50000));
  Sock t = r.target_of(a);
  ASSERT_TRUE(t.valid());
  EXPECT_EQ(r.host.at(t).ns, ports::Netns::guest);
  EXPECT_EQ(r.host.at(t).remote, (SockAddr{InAny::from(Ipv4Addr{{192, 0, 2, 2}}), 80, 0}));
  EXPECT_EQ(r.tap.n, 0u);  // no frame: no SYN to the guest
  r.host.finish_connect(t, true);
  r.pump();
  r.host.app_send(a, "GET /");
  r.host.app_fin(a);
  r.pump();
  EXPECT_EQ(r.host.app_take(t), "GET /");
  r.host.app_send(t, "200 OK");
  r.host.app_fin(t);
  r.pump();
  EXPECT_EQ(r.host.app_take(a), "200 OK");
  EXPECT_FALSE(r.host.is_open(a));
  EXPECT_EQ(r.eng->flows().active_count(), 0u);
  EXPECT_EQ(r.eng->splice().stats().conns_closed, 1u);
  EXPECT_EQ(r.tap.n, 0u);
}

TEST(EngineSplice, OtherClientsAndNoSpliceTakeTheTapPath) {
  {
    Rig r;
    r.connect_client(SockAddr{InAny::from(Ipv4Addr{{198, 51, 100, 7}}), 40000, 0});
    EXPECT_EQ(r.eng->splice().stats().conns, 0u);
    EXPECT_EQ(r.eng->tcp().stats().conns_from_sock, 1u);
    EXPECT_GE(r.tap.n, 1u);  // the SYN to the guest
  }
  {
    Rig r(true);
    r.connect_client(lo4(40000));
    EXPECT_EQ(r.eng->splice().stats().conns, 0u);
    EXPECT_EQ(r.eng->tcp().stats().conns_from_sock, 1u);
    EXPECT_EQ(r.eng->splice().pipes().available(), 0u);  // nothing opened
    EXPECT_GE(r.tap.n, 1u);
  }
  {
    Rig r(false, core::Mode::passt);
    r.connect_client(lo4(40000));
    EXPECT_EQ(r.eng->splice().stats().conns, 0u);
    EXPECT_EQ(r.eng->tcp().stats().conns_from_sock, 1u);
  }
}

TEST(EngineSplice, OutboundConnectionsGoToTheHostLoopback) {
  Rig r(true, core::Mode::pasta, true);  // --no-splice does not apply to -T
  const Sock l = r.listener(ports::Netns::guest);
  ASSERT_TRUE(l.valid());
  EXPECT_EQ(r.host.at(l).bound, lo4(9090));
  Sock a = r.connect_client(SockAddr{InAny::from(Ipv4Addr{{127, 0, 0, 7}}), 40000, 0}, ports::Netns::guest);
  Sock t = r.target_of(a);
  ASSERT_TRUE(t.valid());
  EXPECT_EQ(r.host.at(t).ns, ports::Netns::host);
  EXPECT_EQ(r.host.at(t).remote, lo4(9091));
  EXPECT_EQ(r.host.at(t).bound, (SockAddr{InAny::from(Ipv4Addr{{127, 0, 0, 7}}), 0, 0}));
  EXPECT_EQ(r.eng->splice().ns_pool(ports::Family::v4).available(), 0u);  // --no-splice: no -t partners
  r.host.finish_connect(t, true);
  r.pump();
  r.host.app_send(t, "hello from the host");
  r.pump();
  EXPECT_EQ(r.host.app_take(a), "hello from the host");
  EXPECT_EQ(r.eng->tcp_fwd().stats().spliced, 1u);
}

TEST(EngineSplice, ConnectTimeoutThroughTheDeadline) {
  Rig r;
  Sock a = r.connect_client(lo4(50000));
  ASSERT_TRUE(r.target_of(a).valid());
  const Instant t = r.now + proto::kSpliceConnectTimeout;
  EXPECT_LE(r.eng->next_deadline(), t);
  for (int n = 0; n < 100 && r.eng->next_deadline() <= t; n++) r.eng->on_deadline(r.eng->next_deadline());
  r.eng->flush(t);
  EXPECT_FALSE(r.host.is_open(a));
  EXPECT_TRUE(r.host.at(a).linger_zero);
  EXPECT_EQ(r.eng->splice().stats().connect_failed, 1u);
  EXPECT_EQ(r.eng->flows().active_count(), 0u);
}

TEST(EngineSplice, PoolTimerRefills) {
  Rig r;
  r.host.connect_result = SpliceFakeNet::Conn::ok;
  for (u16 k = 0; k < 20; k++) r.connect_client(lo4(static_cast<u16>(50000 + k)));
  EXPECT_EQ(r.eng->splice().stats().conns, 20u);
  EXPECT_EQ(r.eng->splice().pipes().available(), 0u);
  EXPECT_EQ(r.eng->splice().ns_pool(ports::Family::v4).available(), 12u);
  const Instant t = r.now + proto::kSplicePoolInterval;
  r.eng->on_deadline(t);
  EXPECT_EQ(r.eng->splice().pipes().available(), 32u);
  EXPECT_EQ(r.eng->splice().ns_pool(ports::Family::v4).available(), 32u);
  EXPECT_GT(r.eng->next_deadline(), t);  // re-armed
}

}  // namespace
}  // namespace passt::engine
