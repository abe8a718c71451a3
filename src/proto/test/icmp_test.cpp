// proto::Icmp against the simulator's socket model (ping sockets answered
// by remote hosts after their latency) and, for the failure paths, against
// a mocked HostNet.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/deadline_heap.hpp"
#include "core/flow_table.hpp"
#include "ports/test/mocks.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/icmp.hpp"
#include "proto/test/icmp_frames.hpp"
#include "sim/hostnet.hpp"
#include "sim/world.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace passt::proto {
namespace {

using test::Echo;
using test::echo_frame;
using test::echoes;
using test::kGuestMac;

using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

const Ipv4Addr kGuest4 = Ipv4Addr::of(192, 0, 2, 1);
const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
const Ipv4Addr kMapGuest4 = Ipv4Addr::of(192, 0, 2, 253);
const Ipv4Addr kRemote4 = Ipv4Addr::of(203, 0, 113, 5);
const Ipv4Addr kRemote4b = Ipv4Addr::of(203, 0, 113, 6);
const Ipv6Addr kGuest6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Addr kGuestLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Addr kRemote6{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}};

core::NetInfo test_net() {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = kGuest4;
  n.v4.gateway = kGw4;
  n.v4.our_tap_addr = kGw4;
  n.v4.map_host_loopback = kGw4;
  n.v4.map_guest_addr = kMapGuest4;
  n.v6.enabled = true;
  n.v6.addr = kGuest6;
  n.v6.gateway = kLl6;
  n.v6.our_tap_ll = kLl6;
  n.v6.map_host_loopback = kLl6;
  return n;
}

class CaptureTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    for (Bytes f : frames) sent.emplace_back(f.begin(), f.end());
    return frames.size();
  }
  bool connected() const noexcept override { return true; }
  std::vector<std::vector<u8>> sent;
};

// The engine's part, cut down: the flow table, the deadline heap, the
// reaper and the tap queue around one proto::Icmp, driven by the world.
class Harness final : public ports::EventSink {
 public:
  Harness(sim::World& w, ports::HostNet& host, core::NetInfo net, u32 flows = 16,
          IcmpOptions opt = {})
      : net_(std::move(net)),
        out_(tap, 64, 1 << 20),
        flows_(flows, SipKey{1, 2}),
        timers_(flows),
        reaper_(flows),
        icmp_(net_, host, out_, guest_, flows_, timers_, reaper_, opt),
        w_(w) {
    guest_.mac = kGuestMac;
  }

  // One guest frame, handled and flushed like an engine batch.
  bool inject(const std::vector<u8>& frame) {
    auto pf = wire::parse_frame(Bytes(frame));
    EXPECT_TRUE(pf.ok());
    EXPECT_TRUE(pf && wire::frame_checksums_ok(*pf));
    bool ok = pf && icmp_.tap_echo(*pf, w_.now());
    flush(w_.now());
    return ok;
  }

  void on_tap_frames(std::span<const Bytes>, Instant) noexcept override {}
  void on_tap_state(bool, Instant) noexcept override {}
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override {
    const core::EpollRef r = core::EpollRef::unpack(ref);
    EXPECT_EQ(r.type, core::RefType::ping);
    if (r.type == core::RefType::ping) icmp_.sock_event(r.sidx(), events, now);
  }
  void on_deadline(Instant now) noexcept override {
    while (!timers_.empty() && timers_.top_time() <= now) {
      const u32 id = timers_.top_id();
      icmp_.timer(core::FlowIdx{id}, now);
      EXPECT_TRUE(!timers_.contains(id) || timers_.get(id) > now);
      if (timers_.contains(id) && timers_.get(id) <= now) timers_.clear(id);
    }
  }
  void flush(Instant) noexcept override {
    out_.flush();
    reaper_.drain([this](core::FlowIdx i) noexcept {
      timers_.clear(i.v);
      flows_.release(i);
    });
  }
  Instant next_deadline() const noexcept override { return timers_.top_time(); }

  const core::FlowTable& flows() const { return flows_; }
  const IcmpStats& stats() const { return icmp_.stats(); }
  core::FlowSidx lookup(const InAny& guest, const InAny& dst, u16 id) const {
    return flows_.lookup(core::FlowKey{guest.is_v4() ? core::L4::icmp : core::L4::icmpv6,
                                       core::Pif::tap, guest, dst, id, id});
  }
  const core::DeadlineHeap& timers() const { return timers_; }

  CaptureTap tap;

 private:
  core::NetInfo net_;
  GuestL2 guest_;
  TapOut out_;
  core::FlowTable flows_;
  core::DeadlineHeap timers_;
  FlowReaper reaper_;
  Icmp icmp_;
  sim::World& w_;
};

struct SimRig {
  explicit SimRig(core::NetInfo net = test_net(), u32 flows = 16, IcmpOptions opt = {})
      : world(11, 1 << 12), host(world, sim::HostNetConfig{}), h(world, host, std::move(net), flows, opt) {
    world.set_sink(&h);
  }
  void run(Duration d) { ASSERT_TRUE(world.run_until(world.now() + d)) << world.failure().reason; }
  std::vector<Echo> take() { return echoes(h.tap.sent, &taken); }

  sim::World world;
  sim::SimHostNet host;
  Harness h;
  std::size_t taken = 0;
};

std::vector<u8> bytes_of(const std::string& s) { return std::vector<u8>(s.begin(), s.end()); }

InAny a4(Ipv4Addr a) { return InAny::from(a); }
InAny a6(Ipv6Addr a) { return InAny::from(a); }

TEST(Icmp, EchoRequestIsRelayedAndTheReplyGetsTheGuestsId) {
  SimRig r;
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(kRemote4), Duration::millis(1)));
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 0x1234, 1, bytes_of("hello, ping"))));
  EXPECT_EQ(r.h.flows().active_count(), 1u);
  EXPECT_EQ(r.host.open_sockets(), 1u);
  EXPECT_TRUE(r.take().empty()) << "nothing before the remote answers";
  r.run(Duration::millis(5));
  auto e = r.take();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].v6);
  EXPECT_EQ(e[0].type, 0);
  EXPECT_EQ(e[0].src, a4(kRemote4)) << "from the pinged address";
  EXPECT_EQ(e[0].dst, a4(kGuest4));
  EXPECT_EQ(e[0].eth_dst, kGuestMac);
  EXPECT_EQ(e[0].id, 0x1234);
  EXPECT_EQ(e[0].seq, 1);
  EXPECT_EQ(e[0].data, bytes_of("hello, ping"));
  EXPECT_EQ(r.h.stats().requests, 1u);
  EXPECT_EQ(r.h.stats().replies, 1u);
  EXPECT_EQ(r.host.totals().pings_answered, 1u);
}

TEST(Icmp, FlowSidesAndTheKernelsIdentifier) {
  SimRig r;
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 7, 1, {})));
  const core::FlowSidx s = r.h.lookup(a4(kGuest4), a4(kRemote4), 7);
  ASSERT_TRUE(s.valid());
  EXPECT_EQ(s.side, core::kIniSide);
  const core::Flow& f = r.h.flows().at(s.idx());
  EXPECT_EQ(f.type, core::FlowType::ping4);
  EXPECT_EQ(f.proto, core::L4::icmp);
  EXPECT_EQ(f.pif[core::kIniSide], core::Pif::tap);
  EXPECT_EQ(f.pif[core::kTgtSide], core::Pif::host);
  EXPECT_EQ(f.side[core::kIniSide], (core::FlowSide{a4(kRemote4), a4(kGuest4), 7, 7}));
  const PingFlow* p = ping_flow_of(f);
  ASSERT_NE(p, nullptr);
  auto la = r.host.local_addr(p->sock);
  ASSERT_TRUE(la);
  EXPECT_NE(la->port, 0) << "bound with id 0: the kernel picked one";
  EXPECT_EQ(f.side[core::kTgtSide], (core::FlowSide{la->addr, a4(kRemote4), la->port, la->port}));
  // The host side is indexed under the kernel's identifier.
  const core::FlowSidx h = r.h.flows().lookup(
      core::FlowKey{core::L4::icmp, core::Pif::host, a4(kRemote4), la->addr, la->port, la->port});
  EXPECT_EQ(h, (core::FlowSidx{s.flow, core::kTgtSide}));
}

TEST(Icmp, Icmpv6EchoWithPseudoHeaderChecksum) {
  SimRig r;
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a6(kRemote6), Duration::millis(2)));
  ASSERT_TRUE(r.h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 0xbeef, 9, bytes_of("v6 data"))));
  const core::FlowSidx s = r.h.lookup(a6(kGuest6), a6(kRemote6), 0xbeef);
  ASSERT_TRUE(s.valid());
  EXPECT_EQ(r.h.flows().at(s.idx()).type, core::FlowType::ping6);
  r.run(Duration::millis(10));
  auto e = r.take();  // checksums verified in echoes()
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].v6);
  EXPECT_EQ(e[0].type, 129);
  EXPECT_EQ(e[0].src, a6(kRemote6));
  EXPECT_EQ(e[0].dst, a6(kGuest6));
  EXPECT_EQ(e[0].id, 0xbeef);
  EXPECT_EQ(e[0].seq, 9);
  EXPECT_EQ(e[0].data, bytes_of("v6 data"));
}

TEST(Icmp, GatewayReachesTheHostsLoopback) {
  SimRig r;
  // Only the loopback answers: the request must have been sent there.
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(Ipv4Addr::loopback()), Duration::micros(10)));
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a6(Ipv6Addr::loopback()), Duration::micros(10)));
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kGw4), 1, 1, bytes_of("gw4"))));
  ASSERT_TRUE(r.h.inject(echo_frame(a6(kGuestLl6), a6(kLl6), 1, 1, bytes_of("gw6"))));
  r.run(Duration::millis(1));
  auto e = r.take();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].src, a4(kGw4)) << "the reply comes from the address the guest pinged";
  EXPECT_EQ(e[0].dst, a4(kGuest4));
  EXPECT_EQ(e[1].src, a6(kLl6));
  EXPECT_EQ(e[1].dst, a6(kGuestLl6));
  const core::Flow& f = r.h.flows().at(r.h.lookup(a4(kGuest4), a4(kGw4), 1).idx());
  EXPECT_EQ(f.side[core::kTgtSide].eaddr, a4(Ipv4Addr::loopback()));
}

TEST(Icmp, MapGuestAddrReachesTheHostsOwnAddress) {
  SimRig r;
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(kGuest4), Duration::micros(10)));
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kMapGuest4), 3, 4, {})));
  r.run(Duration::millis(1));
  auto e = r.take();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].src, a4(kMapGuest4));
  EXPECT_EQ(e[0].id, 3);
}

TEST(Icmp, OneFlowPerSourceDestinationAndId) {
  SimRig r;
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  struct K {
    InAny src, dst;
    u16 id;
  };
  const K keys[] = {{a4(kGuest4), a4(kRemote4), 100}, {a4(kGuest4), a4(kRemote4), 101},
                    {a4(kGuest4), a4(kRemote4b), 100}, {a6(kGuest6), a6(kRemote6), 100},
                    {a6(kGuestLl6), a6(kRemote6), 100}};
  for (u16 seq = 1; seq <= 3; seq++)
    for (std::size_t k = 0; k < 5; k++)
      ASSERT_TRUE(r.h.inject(echo_frame(keys[k].src, keys[k].dst, keys[k].id, seq,
                                        std::vector<u8>(k + 1, static_cast<u8>(k)))));
  EXPECT_EQ(r.h.flows().active_count(), 5u);
  EXPECT_EQ(r.host.open_sockets(), 5u);
  EXPECT_EQ(r.h.stats().flows_opened, 5u);
  r.run(Duration::millis(5));
  auto e = r.take();
  ASSERT_EQ(e.size(), 15u);
  for (const Echo& x : e) {
    // The payload says which flow the request was sent on.
    ASSERT_FALSE(x.data.empty());
    const K& k = keys[x.data.size() - 1];
    EXPECT_EQ(x.dst, k.src);
    EXPECT_EQ(x.src, k.dst);
    EXPECT_EQ(x.id, k.id);
    EXPECT_EQ(x.data, std::vector<u8>(x.data.size(), x.data[0]));
  }
}

TEST(Icmp, FlowExpiresSixtySecondsAfterTheLastRequest) {
  SimRig r;
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(kRemote4), Duration::millis(1)));
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 5, 1, {})));
  r.run(Duration::seconds(30));
  const Instant last = r.world.now();
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 5, 2, {})));
  // The first deadline (60 s after the first request) only moves the timer.
  r.run(Duration::seconds(59));
  EXPECT_EQ(r.h.flows().active_count(), 1u);
  EXPECT_EQ(r.h.timers().get(r.h.lookup(a4(kGuest4), a4(kRemote4), 5).flow), last + kIcmpEchoTimeout);
  ASSERT_TRUE(r.world.run_until(last + kIcmpEchoTimeout - Duration::nanos(1)));
  EXPECT_EQ(r.h.flows().active_count(), 1u);
  ASSERT_TRUE(r.world.run_until(last + kIcmpEchoTimeout));
  EXPECT_EQ(r.h.flows().active_count(), 0u);
  EXPECT_EQ(r.host.open_sockets(), 0u);
  EXPECT_TRUE(r.h.timers().empty());
  EXPECT_EQ(r.h.stats().flows_expired, 1u);
  EXPECT_EQ(r.take().size(), 2u);
  // A new request makes a new flow.
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 5, 3, {})));
  EXPECT_EQ(r.h.flows().active_count(), 1u);
}

TEST(Icmp, RepliesDoNotKeepAFlowAlive) {
  SimRig r;
  // A reply long after the request (the remote is slow): it is still
  // relayed, but the flow's clock started with the request.
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(kRemote4), Duration::seconds(20)));
  const Instant t0 = r.world.now();
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 5, 1, {})));
  r.run(Duration::seconds(41));
  EXPECT_EQ(r.take().size(), 1u);
  ASSERT_TRUE(r.world.run_until(t0 + kIcmpEchoTimeout));
  EXPECT_EQ(r.h.flows().active_count(), 0u);
}

TEST(Icmp, ReplyBeyondTheMtuIsDropped) {
  core::NetInfo n = test_net();
  n.mtu = 1280;
  SimRig r(n);
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  // 20 + 8 + 1252 = 1280: fits; one more byte does not.
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, std::vector<u8>(1252, 1))));
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 2, std::vector<u8>(1253, 2))));
  // IPv6: 40 + 8 + 1232 = 1280.
  ASSERT_TRUE(r.h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 1, 3, std::vector<u8>(1232, 3))));
  ASSERT_TRUE(r.h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 1, 4, std::vector<u8>(1233, 4))));
  r.run(Duration::millis(5));
  auto e = r.take();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].seq, 1);
  EXPECT_EQ(e[1].seq, 3);
  EXPECT_EQ(r.h.stats().reply_too_big, 2u);
  for (const auto& f : r.h.tap.sent) EXPECT_LE(f.size(), 1280u + 14);
}

TEST(Icmp, LargeRepliesWithoutAnMtu) {
  core::NetInfo n = test_net();
  n.mtu = 0;
  SimRig r(n);
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  // The largest IPv4 echo: 65535 - 20 - 8 bytes of data.
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, std::vector<u8>(65507, 7))));
  ASSERT_TRUE(r.h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 1, 2, std::vector<u8>(60000, 8))));
  r.run(Duration::millis(5));
  auto e = r.take();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].data.size(), 65507u);
  EXPECT_EQ(e[1].data.size(), 60000u);
}

TEST(Icmp, EveryReplyIsRelayedOnceByDefault) {
  SimRig r;
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(kRemote4), Duration::millis(1)));
  // The guest repeats a sequence number (a retry, or a duplicated frame):
  // each request gets its reply.
  for (int k = 0; k < 3; k++) ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 2, 77, {})));
  r.run(Duration::millis(5));
  EXPECT_EQ(r.take().size(), 3u);
  EXPECT_EQ(r.h.stats().reply_repeated, 0u);
}

TEST(Icmp, UpstreamsRepeatedSequenceFilter) {
  IcmpOptions o;
  o.drop_repeated_seq = true;
  SimRig r(test_net(), 16, o);
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, a4(kRemote4), Duration::millis(1)));
  for (u16 seq : std::initializer_list<u16>{1, 1, 2, 1, 1})
    ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 2, seq, {})));
  r.run(Duration::millis(5));
  auto e = r.take();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].seq, 1);
  EXPECT_EQ(e[1].seq, 2);
  EXPECT_EQ(e[2].seq, 1);
  EXPECT_EQ(r.h.stats().reply_repeated, 2u);
}

TEST(Icmp, TableFullDropsTheRequest) {
  SimRig r(test_net(), 1);
  ASSERT_TRUE(r.host.add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {})));
  EXPECT_FALSE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 2, 1, {})));
  EXPECT_EQ(r.h.stats().table_full, 1u);
  EXPECT_FALSE(r.h.flows().pending().valid());
  EXPECT_EQ(r.host.open_sockets(), 1u);
  // The existing flow still works.
  ASSERT_TRUE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 2, {})));
  r.run(Duration::millis(5));
  auto e = r.take();
  ASSERT_EQ(e.size(), 2u);
  for (const Echo& x : e) EXPECT_EQ(x.id, 1);
}

TEST(Icmp, OnlyEchoRequestsAreRelayed) {
  SimRig r;
  EXPECT_FALSE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {}, false)));
  EXPECT_FALSE(r.h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {}, true, 1)));
  EXPECT_FALSE(r.h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 1, 1, {}, false)));
  EXPECT_FALSE(r.h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 1, 1, {}, true, 3)));
  EXPECT_EQ(r.h.stats().not_request, 4u);
  EXPECT_EQ(r.h.flows().active_count(), 0u);
  EXPECT_EQ(r.host.open_sockets(), 0u);
}

TEST(Icmp, TargetsWithoutAUnicastOwnerAreDropped) {
  core::NetInfo n = test_net();
  n.v6.map_host_loopback.reset();
  SimRig r(n);
  EXPECT_FALSE(r.h.inject(echo_frame(a4(kGuest4), a4(Ipv4Addr::of(224, 0, 0, 1)), 1, 1, {})));
  EXPECT_FALSE(r.h.inject(echo_frame(a4(kGuest4), a4(Ipv4Addr::broadcast()), 1, 1, {})));
  EXPECT_FALSE(r.h.inject(echo_frame(a4(kGuest4), a4(Ipv4Addr::any()), 1, 1, {})));
  const Ipv6Addr all_nodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  EXPECT_FALSE(r.h.inject(echo_frame(a6(kGuest6), a6(all_nodes), 1, 1, {})));
  // A link-local target needs an interface: only the mapped gateway works.
  EXPECT_FALSE(r.h.inject(echo_frame(a6(kGuestLl6), a6(kLl6), 1, 1, {})));
  EXPECT_FALSE(r.h.inject(echo_frame(a4(Ipv4Addr::any()), a4(kRemote4), 1, 1, {})));
  EXPECT_EQ(r.h.stats().bad_addr, 6u);
  EXPECT_EQ(r.h.flows().active_count(), 0u);
}

// --- failure paths, with a mocked HostNet ------------------------------------------------

class CaptureLog final : public LogSink {
 public:
  void write(LogLevel level, std::string_view msg) noexcept override {
    if (level <= LogLevel::warning) lines.emplace_back(msg);
  }
  std::vector<std::string> lines;
};

struct MockRig {
  NiceMock<ports::MockHostNet> host;
  sim::World world{3, 1 << 10};
  core::NetInfo net = test_net();
  std::optional<Harness> h;
  i32 next_fd = 20;

  MockRig() {
    ON_CALL(host, socket(_, _, _)).WillByDefault([this](ports::Netns, ports::Family, ports::SockType) {
      return Result<ports::Sock>(ports::Sock{next_fd++});
    });
    ON_CALL(host, bind(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, bind_to_device(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, watch(_, _, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, local_addr(_)).WillByDefault(Return(Result<ports::SockAddr>(ports::SockAddr{a4(Ipv4Addr::any()), 4242, 0})));
    ON_CALL(host, send_batch(_, _)).WillByDefault(Return(Result<std::size_t>(std::size_t{1})));
    ON_CALL(host, recv_batch(_, _)).WillByDefault(Return(Result<std::size_t>(Err::again)));
    ON_CALL(host, take_error(_)).WillByDefault(Return(Err::none));
  }
  Harness& make() {
    h.emplace(world, host, net);
    return *h;
  }
};

TEST(IcmpMock, PermissionDeniedIsWarnedOnce) {
  MockRig m;
  CaptureLog log;
  set_log_sink(&log);
  EXPECT_CALL(m.host, socket(ports::Netns::host, ports::Family::v4, ports::SockType::ping))
      .WillRepeatedly(Return(Result<ports::Sock>(Err::access)));
  Harness& h = m.make();
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {})));
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 2, {})));
  ASSERT_TRUE(m.world.run_until(m.world.now() + Duration::seconds(30)));
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 3, {})));
  set_log_sink(nullptr);
  EXPECT_EQ(h.stats().sock_failed, 3u);
  EXPECT_EQ(h.flows().active_count(), 0u);
  EXPECT_FALSE(h.flows().pending().valid());
  ASSERT_EQ(log.lines.size(), 1u) << "warned once, then quiet";
  EXPECT_NE(log.lines[0].find("ping_group_range"), std::string::npos) << log.lines[0];
}

TEST(IcmpMock, OtherSocketFailuresAreWarnedRateLimited) {
  MockRig m;
  CaptureLog log;
  set_log_sink(&log);
  EXPECT_CALL(m.host, socket(ports::Netns::host, ports::Family::v4, ports::SockType::ping))
      .WillRepeatedly(Return(Result<ports::Sock>(Err::too_many_files)));
  Harness& h = m.make();
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {})));
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 2, {})));
  ASSERT_TRUE(m.world.run_until(m.world.now() + Duration::seconds(11)));
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 3, {})));
  set_log_sink(nullptr);
  EXPECT_EQ(h.stats().sock_failed, 3u);
  EXPECT_EQ(log.lines.size(), 2u) << "one warning per 10 s";
}

TEST(IcmpMock, OutboundAddressAndInterface) {
  MockRig m;
  m.net.v4.outbound = Ipv4Addr::of(198, 51, 100, 7);
  m.net.v4.outbound_if = "up1";
  m.net.v6.outbound_if = "up6";
  EXPECT_CALL(m.host, bind_to_device(ports::Sock{20}, std::string_view("up1")));
  EXPECT_CALL(m.host, bind(ports::Sock{20}, ports::SockAddr{a4(Ipv4Addr::of(198, 51, 100, 7)), 0, 0}));
  EXPECT_CALL(m.host, bind_to_device(ports::Sock{21}, std::string_view("up6")));
  EXPECT_CALL(m.host, bind(ports::Sock{21}, ports::SockAddr{a6(Ipv6Addr::any()), 0, 0}));
  EXPECT_CALL(m.host, watch(ports::Sock{20}, ports::ev::in,
                            core::EpollRef::flow(core::RefType::ping, core::FlowSidx{0, 1}).pack()));
  EXPECT_CALL(m.host, watch(ports::Sock{21}, ports::ev::in,
                            core::EpollRef::flow(core::RefType::ping, core::FlowSidx{1, 1}).pack()));
  Harness& h = m.make();
  EXPECT_TRUE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {})));
  EXPECT_TRUE(h.inject(echo_frame(a6(kGuest6), a6(kRemote6), 1, 1, {})));
}

TEST(IcmpMock, BindFailuresAreTolerated) {
  MockRig m;
  m.net.v4.outbound_if = "nope0";
  EXPECT_CALL(m.host, bind_to_device(_, _)).WillOnce(Return(Status{Err::no_entry}));
  EXPECT_CALL(m.host, bind(_, _)).WillOnce(Return(Status{Err::addr_not_avail}));
  EXPECT_CALL(m.host, send_batch(ports::Sock{20}, _)).Times(1);
  Harness& h = m.make();
  EXPECT_TRUE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {})));
  EXPECT_EQ(h.flows().active_count(), 1u);
}

TEST(IcmpMock, TheWholeMessageGoesToTheTarget) {
  MockRig m;
  std::vector<u8> sent;
  ports::SockAddr to;
  EXPECT_CALL(m.host, send_batch(_, _))
      .WillOnce([&](ports::Sock, std::span<const ports::SendSlot> msgs) {
        EXPECT_EQ(msgs.size(), 1u);
        for (Bytes b : msgs[0].iov) sent.insert(sent.end(), b.begin(), b.end());
        to = *msgs[0].to;
        return Result<std::size_t>(std::size_t{1});
      });
  Harness& h = m.make();
  const auto f = echo_frame(a4(kGuest4), a4(kGw4), 0xabcd, 3, bytes_of("xyz"));
  EXPECT_TRUE(h.inject(f));
  // As the guest wrote it: header (its id and checksum) and data.
  EXPECT_EQ(sent, std::vector<u8>(f.begin() + 34, f.end()));
  EXPECT_EQ(to.addr, a4(Ipv4Addr::loopback()));
}

TEST(IcmpMock, SendFailureKeepsTheFlow) {
  MockRig m;
  EXPECT_CALL(m.host, send_batch(_, _)).WillOnce(Return(Result<std::size_t>(Err::net_unreach)));
  Harness& h = m.make();
  EXPECT_FALSE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 1, 1, {})));
  EXPECT_EQ(h.stats().send_failed, 1u);
  EXPECT_EQ(h.flows().active_count(), 1u);
}

TEST(IcmpMock, RepliesFromAnotherAddressAreDropped) {
  MockRig m;
  Harness& h = m.make();
  ASSERT_TRUE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 9, 1, {})));
  // One receive brings a reply from elsewhere and then the right one.
  EXPECT_CALL(m.host, recv_batch(_, _))
      .WillOnce([](ports::Sock, std::span<ports::RecvSlot> slots) {
        const Ipv4Addr from[2] = {Ipv4Addr::of(198, 51, 100, 9), kRemote4};
        for (std::size_t s = 0; s < 2; s++) {
          const u8 msg[8] = {0, 0, 0, 0, 0x10, 0x92, 0, 1};  // kernel id 4242
          for (std::size_t k = 0; k < 8; k++) slots[s].buf[k] = msg[k];
          slots[s].len = 8;
          slots[s].peer = ports::SockAddr{a4(from[s]), 0, 0};
        }
        return Result<std::size_t>(std::size_t{2});
      })
      .WillRepeatedly(Return(Result<std::size_t>(Err::again)));
  h.on_socket_event(core::EpollRef::flow(core::RefType::ping, core::FlowSidx{0, 1}).pack(),
                    ports::ev::in, m.world.now());
  h.flush(m.world.now());
  EXPECT_EQ(h.stats().reply_foreign, 1u);
  std::size_t taken = 0;
  auto e = echoes(h.tap.sent, &taken);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].id, 9);
  EXPECT_EQ(e[0].src, a4(kRemote4));
}

// A reply for the flow of echo_frame(..., id 9, ...) in `slot`, sequence `seq`.
void fill_reply(ports::RecvSlot& slot, u8 seq) {
  const u8 msg[8] = {0, 0, 0, 0, 0x10, 0x92, 0, seq};
  for (std::size_t k = 0; k < 8; k++) slot.buf[k] = msg[k];
  slot.len = 8;
  slot.peer = ports::SockAddr{a4(kRemote4), 0, 0};
}

TEST(IcmpMock, RepliesPerEventAreBounded) {
  // The socket always has more: one event reads replies_per_event of them,
  // in one call, and leaves the rest to the next (level-triggered) event.
  MockRig m;
  Harness& h = m.make();
  ASSERT_TRUE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 9, 1, {})));
  int calls = 0;
  EXPECT_CALL(m.host, recv_batch(_, _)).WillRepeatedly([&](ports::Sock, std::span<ports::RecvSlot> slots) {
    calls++;
    for (std::size_t k = 0; k < slots.size(); k++) fill_reply(slots[k], static_cast<u8>(k));
    return Result<std::size_t>(slots.size());
  });
  h.on_socket_event(core::EpollRef::flow(core::RefType::ping, core::FlowSidx{0, 1}).pack(),
                    ports::ev::in, m.world.now());
  h.flush(m.world.now());
  EXPECT_EQ(calls, 1);
  std::size_t taken = 0;
  EXPECT_EQ(echoes(h.tap.sent, &taken).size(), IcmpOptions{}.replies_per_event);
}

TEST(IcmpMock, ALoneReplyCostsOneReceiveCall) {
  // The usual case: one reply per event.  No second call to find the
  // socket empty (upstream makes one recvfrom() per event too).
  MockRig m;
  Harness& h = m.make();
  ASSERT_TRUE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 9, 1, {})));
  int calls = 0;
  std::size_t offered = 0;
  EXPECT_CALL(m.host, recv_batch(_, _)).WillRepeatedly([&](ports::Sock, std::span<ports::RecvSlot> slots) {
    calls++;
    offered = slots.size();
    fill_reply(slots[0], 1);
    return Result<std::size_t>(std::size_t{1});
  });
  h.on_socket_event(core::EpollRef::flow(core::RefType::ping, core::FlowSidx{0, 1}).pack(),
                    ports::ev::in, m.world.now());
  h.flush(m.world.now());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(offered, std::size_t{IcmpOptions{}.replies_per_event});
  std::size_t taken = 0;
  auto e = echoes(h.tap.sent, &taken);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].id, 9);
}

TEST(IcmpMock, ErrorsAreReadAndHangupsClose) {
  MockRig m;
  Harness& h = m.make();
  ASSERT_TRUE(h.inject(echo_frame(a4(kGuest4), a4(kRemote4), 9, 1, {})));
  const u64 ref = core::EpollRef::flow(core::RefType::ping, core::FlowSidx{0, 1}).pack();
  EXPECT_CALL(m.host, take_error(ports::Sock{20})).WillOnce(Return(Err::host_unreach));
  h.on_socket_event(ref, ports::ev::err, m.world.now());
  EXPECT_EQ(h.stats().sock_errors, 1u);
  EXPECT_EQ(h.flows().active_count(), 1u);
  EXPECT_CALL(m.host, unwatch(ports::Sock{20}));
  EXPECT_CALL(m.host, close(ports::Sock{20}));
  h.on_socket_event(ref, ports::ev::hup, m.world.now());
  h.flush(m.world.now());
  EXPECT_EQ(h.flows().active_count(), 0u);
  EXPECT_TRUE(h.timers().empty());
  // A late event for the released flow is ignored.
  h.on_socket_event(ref, ports::ev::in, m.world.now());
}

}  // namespace
}  // namespace passt::proto
