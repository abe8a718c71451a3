// Limits (docs/security.md, "Limits"): the real engine against the
// simulator's socket model, driven to each bound a hostile or broken guest
// can push it to.  Each test checks the defined behaviour at the bound
// (RST, drop, one rate-limited log line), that nothing is allocated while
// there (the allocation counter armed around every engine call), and that
// the engine does not spin (simulator events stay bounded) and recovers.
//
// The real binaries meet the same bounds in integration/test_limits.sh
// (file descriptors, SYN floods, a guest that never reads); the flow table
// itself (131072 entries) cannot be filled there: RLIMIT_NOFILE runs out
// first, so this is where a full table is tested.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"
#include "engine/test/tcp_rig.hpp"
#include "proto/tap_out.hpp"
#include "sim/alloc_counter.hpp"
#include "sim/hostnet.hpp"
#include "sim/world.hpp"
#include "wire/frame.hpp"

namespace passt::sim {
namespace {

using engine::test::Ep;
using engine::test::guest_seg;
using engine::test::kGuest4;
using engine::test::rig_net;
using engine::test::rig_opts;
namespace tf = wire::tcp_flag;

// Counts what the engine sends the guest, allocating nothing.
class CountingTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    if (!accept) {
      refused += frames.size();
      return 0;
    }
    for (const Bytes& b : frames) {
      frames_++;
      auto f = wire::parse_frame(b);
      if (!f || f->l4 != wire::L4::tcp) continue;
      const u8 fl = f->tcp->flags();
      if ((fl & tf::rst) != 0) rst++;
      else if ((fl & (tf::syn | tf::ack)) == (tf::syn | tf::ack)) {
        synack++;
        synack_seq = f->tcp->seq();
      }
      else if (!f->payload.empty()) data++;
    }
    return frames.size();
  }
  bool connected() const noexcept override { return true; }

  bool accept = true;
  u64 frames_ = 0, rst = 0, synack = 0, data = 0, refused = 0;
  Seq synack_seq;
};

// Counts log lines that contain `needle`.
class CountingLog final : public LogSink {
 public:
  explicit CountingLog(const char* needle) : needle_(needle) { set_log_sink(this); }
  ~CountingLog() override { set_log_sink(nullptr); }
  void write(LogLevel, std::string_view msg) noexcept override {
    if (msg.find(needle_) != std::string_view::npos) hits++;
  }
  u64 hits = 0;

 private:
  std::string_view needle_;
};

struct Rig {
  explicit Rig(u32 flows, HostNetConfig ncfg = {})
      : net(rig_net()), world(11, 1 << 16), hostnet(world, ncfg) {
    cfg.mtu = net.mtu;
    eng = std::make_unique<engine::Engine>(cfg, net, ports::Ports{tap, hostnet, world},
                                           engine::Sizing{flows, 256, 1 << 20}, rig_opts());
    world.set_sink(eng.get());
    eng->start(world.now());
  }
  // Injects pre-built frames in batches of 256 with the counter armed.
  void inject(const std::vector<std::vector<u8>>& frames) {
    std::vector<Bytes> v;
    for (const auto& f : frames) v.emplace_back(f);
    alloc::ArmGuard armed;
    for (std::size_t i = 0; i < v.size(); i += 256) {
      const std::size_t n = v.size() - i < 256 ? v.size() - i : 256;
      eng->on_tap_frames(std::span<const Bytes>(v.data() + i, n), world.now());
      eng->flush(world.now());
    }
  }
  // Virtual time passes, with the world's allocation check armed.
  void run(Duration d) {
    world.arm_allocation_check();
    ASSERT_TRUE(world.run_until(world.now() + d)) << world.failure().reason;
    world.disarm_allocation_check();
  }
  std::size_t active() const { return eng->flows().active_count(); }
  const proto::TcpStats& stats() const { return eng->tcp().stats(); }
  const proto::UdpStats& udp() const { return eng->udp().stats(); }

  core::Config cfg;
  core::NetInfo net;
  World world;
  SimHostNet hostnet;
  CountingTap tap;
  std::unique_ptr<engine::Engine> eng;
};

PeerSpec peer(PeerKind k, u64 bytes = 0) {
  PeerSpec p;
  p.kind = k;
  p.latency = Duration::millis(1);
  p.bytes = bytes;
  return p;
}

const Ep kSilent{InAny::from(Ipv4Addr::of(203, 0, 113, 7)), 80};
const Ep kEcho{InAny::from(Ipv4Addr::of(203, 0, 113, 8)), 80};
const Ep kSource{InAny::from(Ipv4Addr::of(203, 0, 113, 9)), 80};
const Ep kUdpSink{InAny::from(Ipv4Addr::of(203, 0, 113, 11)), 5353};

std::vector<std::vector<u8>> syns(u32 n, const Ep& to, u16 first_port = 1024) {
  std::vector<std::vector<u8>> v;
  for (u32 i = 0; i < n; i++)
    v.push_back(guest_seg(Ep{InAny::from(kGuest4), static_cast<u16>(first_port + i)}, to, tf::syn,
                          Seq{1000 + i}, Seq{0}, 29200, {}, 1460));
  return v;
}

// n guest datagrams of 32 bytes, each from its own source port (n flows).
std::vector<std::vector<u8>> dgrams(u32 n, const Ep& to, u16 first_port = 1024) {
  const MacAddr ours{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
  const std::vector<u8> payload(32, 0x5a);
  std::vector<std::vector<u8>> v;
  for (u32 i = 0; i < n; i++) {
    std::vector<u8> f(14 + 20 + 8 + payload.size());
    auto len = proto::build_udp4(MutBytes(f), engine::test::kGuestMac, ours, kGuest4, to.addr.v4(),
                                 static_cast<u16>(first_port + i), to.port, Bytes(payload));
    EXPECT_TRUE(len.ok());
    f.resize(len ? *len : 0);
    v.push_back(std::move(f));
  }
  return v;
}

u64 allocs() { return alloc::stats().armed_allocs; }

TEST(Limits, AllocationCounterIsHooked) {
  ASSERT_TRUE(alloc::hooked()) << "unit_sim must link the counting operator new";
}

// A SYN flood from the guest to a place that never answers fills the flow
// table: every SYN beyond it is answered RST+ACK at once, one warning per
// 10 s, no allocation.  The held flows wait for connect() to time out (the
// kernel's: SYN retries 1+2+...+64 s, as upstream: no timer of ours for an
// outbound handshake), each then answered RST+ACK, and the table is empty
// again; a new connection is served.
TEST(Limits, SynFloodFillsTheFlowTable) {
  HostNetConfig nc;
  nc.max_sockets = 512;
  nc.max_conns = 512;
  Rig r(64, nc);
  ASSERT_TRUE(r.hostnet.add_tcp_service(ports::Netns::host, {kSilent.addr, 80, 0}, peer(PeerKind::silent)));
  ASSERT_TRUE(r.hostnet.add_tcp_service(ports::Netns::host, {kEcho.addr, 80, 0}, peer(PeerKind::echo)));
  CountingLog warn("flow table full");
  const u64 a0 = allocs();
  auto flood = syns(5000, kSilent);
  r.inject(flood);
  EXPECT_EQ(allocs(), a0) << "allocated during the flood";
  EXPECT_EQ(r.active(), 64u);
  EXPECT_EQ(r.stats().table_full, 5000u - 64);
  EXPECT_EQ(r.tap.rst, 5000u - 64) << "each SYN beyond the table gets RST+ACK";
  EXPECT_EQ(warn.hits, 1u) << "the warning is rate-limited";

  // Another flood 11 s later, the table still full: one more warning.
  r.run(Duration::seconds(11));
  r.inject(syns(5000, kSilent, 20000));
  EXPECT_EQ(warn.hits, 2u);
  EXPECT_EQ(r.tap.rst, 2 * 5000u - 64);

  const u64 ev0 = r.world.events();
  r.run(Duration::seconds(130));  // connect() gives up after 127 s
  EXPECT_EQ(r.active(), 0u);
  EXPECT_EQ(r.stats().connect_failed, 64u);
  EXPECT_EQ(r.tap.rst, 2 * 5000u) << "a RST for each failed connect()";
  EXPECT_LT(r.world.events() - ev0, 5000u) << "no busy loop while the table is full";

  // Recovered: a connection to the echo service gets its SYN+ACK.
  const u64 sa = r.tap.synack;
  r.inject(syns(1, kEcho, 40000));
  r.run(Duration::millis(20));
  EXPECT_EQ(r.tap.synack, sa + 1);
  EXPECT_EQ(allocs(), a0);
}

// Sockets (the real binary: file descriptors) run out before the flow
// table: socket() fails and the SYN is answered RST+ACK; once the held
// connect()s time out everything is free again.
TEST(Limits, SocketsExhausted) {
  HostNetConfig nc;
  nc.max_sockets = 32;
  nc.max_conns = 32;
  Rig r(1024, nc);
  ASSERT_TRUE(r.hostnet.add_tcp_service(ports::Netns::host, {kSilent.addr, 80, 0}, peer(PeerKind::silent)));
  ASSERT_TRUE(r.hostnet.add_tcp_service(ports::Netns::host, {kEcho.addr, 80, 0}, peer(PeerKind::echo)));
  const u64 a0 = allocs();
  r.inject(syns(500, kSilent));
  EXPECT_EQ(allocs(), a0);
  const std::size_t held = r.active();
  EXPECT_GT(held, 0u);
  EXPECT_LE(held, 32u);
  EXPECT_EQ(r.stats().table_full, 0u);
  EXPECT_EQ(r.stats().connect_failed, 500u - held);
  EXPECT_EQ(r.tap.rst, 500u - held) << "each SYN without a socket gets RST+ACK";
  r.run(Duration::seconds(130));
  EXPECT_EQ(r.active(), 0u);
  const u64 sa = r.tap.synack;
  r.inject(syns(1, kEcho, 40000));
  r.run(Duration::millis(20));
  EXPECT_EQ(r.tap.synack, sa + 1) << "sockets are free again";
  EXPECT_EQ(allocs(), a0);
}

// A SYN flood to ports nobody listens on: each SYN is answered RST+ACK
// (refused, or the table full while a batch's first 64 wait for their
// refusal), and nothing accumulates.
TEST(Limits, SynFloodToClosedPortsLeavesNothingBehind) {
  HostNetConfig nc;
  nc.max_sockets = 64;
  Rig r(64, nc);
  const u64 a0 = allocs();
  const Ep closed{InAny::from(Ipv4Addr::of(203, 0, 113, 10)), 81};
  for (int round = 0; round < 5; round++) {
    r.inject(syns(2000, closed, static_cast<u16>(1024 + round * 2000)));
    r.run(Duration::millis(50));
    EXPECT_EQ(r.active(), 0u) << "round " << round;
  }
  EXPECT_EQ(r.tap.rst, 10000u);
  EXPECT_EQ(r.stats().table_full + r.stats().connect_failed, 10000u);
  EXPECT_EQ(allocs(), a0);
}

// A guest that never reads (the tap takes no frame) while the far end
// sends without end: the flow stalls (nothing is buffered on our side: the
// socket's queue is the buffer), the engine does not spin, nothing is
// allocated; the connection is eventually reset (retransmission limit) or
// left stalled, never more; and new connections are served once the guest
// reads again.
TEST(Limits, GuestThatNeverReads) {
  Rig r(64);
  ASSERT_TRUE(r.hostnet.add_tcp_service(ports::Netns::host, {kSource.addr, 80, 0},
                                        peer(PeerKind::source, 1ull << 40)));
  ASSERT_TRUE(r.hostnet.add_tcp_service(ports::Netns::host, {kEcho.addr, 80, 0}, peer(PeerKind::echo)));
  const Ep g{InAny::from(kGuest4), 40000};
  r.inject({guest_seg(g, kSource, tf::syn, Seq{999}, Seq{0}, 65535, {}, 1460)});
  r.run(Duration::millis(20));
  ASSERT_EQ(r.tap.synack, 1u);
  // The guest completes the handshake, then stops reading.
  r.inject({guest_seg(g, kSource, tf::ack, Seq{1000}, r.tap.synack_seq + 1, 65535)});
  r.run(Duration::millis(20));
  EXPECT_GT(r.tap.data, 0u) << "data flows while the guest reads";
  r.tap.accept = false;
  const u64 a0 = allocs();
  const u64 ev0 = r.world.events();
  r.run(Duration::seconds(120));
  EXPECT_EQ(allocs(), a0);
  // Two minutes of a stalled flow: timers and socket events only (about
  // 120 a second, the 10 ms ACK timer), no spin.
  EXPECT_LT(r.world.events() - ev0, 60000u);
  EXPECT_LE(r.active(), 1u);
  EXPECT_GT(r.tap.refused, 0u) << "the engine did try to send";
  std::printf("never-reading guest, 120 s: %llu frames refused, %llu events, flows %zu, "
              "retransmission-limit resets %llu\n",
              static_cast<unsigned long long>(r.tap.refused),
              static_cast<unsigned long long>(r.world.events() - ev0), r.active(),
              static_cast<unsigned long long>(r.stats().retrans_limit));
  // The guest reads again: new connections work.
  r.tap.accept = true;
  const u64 sa = r.tap.synack;
  r.inject(syns(1, kEcho, 41000));
  r.run(Duration::millis(20));
  EXPECT_EQ(r.tap.synack, sa + 1);
}

// Thousands of UDP flows from the guest (one per source port) against a
// table of 64: the first 64 datagrams open flows, every later one is
// dropped (UdpStats::table_full), one warning per 10 s, no allocation; the
// flows expire after 180 s idle (as upstream) and the table serves again.
TEST(Limits, ThousandsOfUdpFlowsFillTheTable) {
  HostNetConfig nc;
  nc.max_dgram_socks = 128;
  Rig r(64, nc);
  ASSERT_TRUE(r.hostnet.add_udp_peer(ports::Netns::host, {kUdpSink.addr, kUdpSink.port, 0},
                                     UdpPeerKind::sink, Duration::millis(1)));
  CountingLog warn("UDP: flow table full");
  const u64 a0 = allocs();
  r.inject(dgrams(5000, kUdpSink));
  EXPECT_EQ(allocs(), a0) << "allocated during the flood";
  EXPECT_EQ(r.active(), 64u);
  EXPECT_EQ(r.udp().flows_from_tap, 64u);
  EXPECT_EQ(r.udp().table_full, 5000u - 64);
  EXPECT_EQ(r.udp().dgrams_from_tap, 64u);
  EXPECT_EQ(warn.hits, 1u) << "the warning is rate-limited";

  // 11 s later, the table still full: one more warning, still no flow.
  r.run(Duration::seconds(11));
  r.inject(dgrams(5000, kUdpSink, 20000));
  EXPECT_EQ(warn.hits, 2u);
  EXPECT_EQ(r.udp().table_full, 2 * 5000u - 64);
  EXPECT_EQ(r.active(), 64u);

  const u64 ev0 = r.world.events();
  r.run(Duration::seconds(200));  // idle expiry: 180 s
  EXPECT_EQ(r.active(), 0u);
  EXPECT_EQ(r.udp().flows_expired, 64u);
  EXPECT_LT(r.world.events() - ev0, 5000u) << "no busy loop while the table is full";

  // Recovered: a new flow reaches the peer.
  r.inject(dgrams(1, kUdpSink, 40000));
  r.run(Duration::millis(20));
  EXPECT_EQ(r.udp().flows_from_tap, 65u);
  EXPECT_EQ(r.udp().dgrams_from_tap, 65u);
  EXPECT_EQ(allocs(), a0);
}

// Sockets run out before the flow table: each datagram that would need a
// new socket is dropped (UdpStats::dropped_sock), nothing is held, and the
// sockets come back with the idle expiry.
TEST(Limits, UdpSocketsExhausted) {
  HostNetConfig nc;
  nc.max_dgram_socks = 16;
  Rig r(1024, nc);
  ASSERT_TRUE(r.hostnet.add_udp_peer(ports::Netns::host, {kUdpSink.addr, kUdpSink.port, 0},
                                     UdpPeerKind::sink, Duration::millis(1)));
  const u64 a0 = allocs();
  r.inject(dgrams(3000, kUdpSink));
  EXPECT_EQ(allocs(), a0);
  const std::size_t held = r.active();
  EXPECT_GT(held, 0u);
  EXPECT_LE(held, 16u);
  EXPECT_EQ(r.udp().table_full, 0u);
  EXPECT_EQ(r.udp().dropped_sock, 3000u - held);
  r.run(Duration::seconds(200));
  EXPECT_EQ(r.active(), 0u);
  r.inject(dgrams(1, kUdpSink, 40000));
  r.run(Duration::millis(20));
  EXPECT_EQ(r.udp().dgrams_from_tap, held + 1) << "sockets are free again";
  EXPECT_EQ(allocs(), a0);
}

}  // namespace
}  // namespace passt::sim
