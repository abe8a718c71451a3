// The engine's ICMP dispatch: echo frames from the tap to proto::Icmp,
// ping socket events back, flow deadlines, --no-icmp; against the
// simulator's socket model (the rig of engine_tcp_test).
#include <gtest/gtest.h>

#include "engine/test/tcp_rig.hpp"
#include "proto/icmp.hpp"
#include "proto/test/icmp_frames.hpp"

namespace passt::engine::test {
namespace {

using proto::test::Echo;
using proto::test::echo_frame;
using proto::test::echoes;

const InAny kRemote4 = InAny::from(Ipv4Addr::of(203, 0, 113, 5));
const InAny kRemote6 = InAny::from(Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}});

std::vector<Echo> take_echoes(TcpRig& r, std::size_t* taken) { return echoes(r.tap.sent, taken); }

TEST(EngineIcmp, EchoBothFamilies) {
  TcpRig r;
  ASSERT_TRUE(r.net().add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  r.inject(echo_frame(InAny::from(kGuest4), kRemote4, 0x4444, 1, {1, 2, 3}));
  r.inject(echo_frame(InAny::from(kGuest6), kRemote6, 0x6666, 2, {4, 5, 6}));
  EXPECT_EQ(r.eng().flows().active_count(), 2u);
  r.run(Duration::millis(5));
  std::size_t taken = 0;
  auto e = take_echoes(r, &taken);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].src, kRemote4);
  EXPECT_EQ(e[0].id, 0x4444);
  EXPECT_EQ(e[0].type, 0);
  EXPECT_EQ(e[0].eth_dst, kGuestMac) << "learnt from the request";
  EXPECT_EQ(e[1].src, kRemote6);
  EXPECT_EQ(e[1].id, 0x6666);
  EXPECT_EQ(e[1].type, 129);
  EXPECT_EQ(r.eng().icmp().stats().replies, 2u);
  EXPECT_EQ(r.eng().stats().frames_dropped, 0u);
}

TEST(EngineIcmp, GatewayPingReachesTheHostLoopback) {
  TcpRig r;
  ASSERT_TRUE(r.net().add_ping_host(ports::Netns::host, InAny::from(Ipv4Addr::loopback()), Duration::micros(5)));
  ASSERT_TRUE(r.net().add_ping_host(ports::Netns::host, InAny::from(Ipv6Addr::loopback()), Duration::micros(5)));
  r.inject(echo_frame(InAny::from(kGuest4), InAny::from(kGw4), 1, 1, {}));
  r.inject(echo_frame(InAny::from(kGuest6), InAny::from(kLl6), 1, 1, {}));
  r.run(Duration::millis(1));
  std::size_t taken = 0;
  auto e = take_echoes(r, &taken);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].src, InAny::from(kGw4));
  EXPECT_EQ(e[1].src, InAny::from(kLl6));
}

TEST(EngineIcmp, NoIcmpDropsEchoRequests) {
  core::NetInfo n = rig_net();
  n.icmp = false;
  TcpRig r(n);
  ASSERT_TRUE(r.net().add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  r.inject(echo_frame(InAny::from(kGuest4), kRemote4, 1, 1, {}));
  r.inject(echo_frame(InAny::from(kGuest6), kRemote6, 1, 1, {}));
  r.run(Duration::millis(5));
  EXPECT_EQ(r.eng().flows().active_count(), 0u);
  EXPECT_TRUE(r.tap.sent.empty());
  EXPECT_EQ(r.eng().stats().frames_dropped, 2u);
  EXPECT_EQ(r.net().open_sockets(), 0u);
}

TEST(EngineIcmp, EchoRepliesFromTheGuestAreDropped) {
  TcpRig r;
  r.inject(echo_frame(InAny::from(kGuest4), kRemote4, 1, 1, {}, false));
  r.inject(echo_frame(InAny::from(kGuest6), kRemote6, 1, 1, {}, false));
  EXPECT_EQ(r.eng().flows().active_count(), 0u);
  EXPECT_EQ(r.eng().stats().frames_dropped, 2u);
  EXPECT_EQ(r.eng().icmp().stats().not_request, 2u);
}

TEST(EngineIcmp, FlowExpiresThroughTheEnginesDeadlines) {
  TcpRig r;
  ASSERT_TRUE(r.net().add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  const Instant t0 = r.now();
  r.inject(echo_frame(InAny::from(kGuest4), kRemote4, 1, 1, {}));
  EXPECT_EQ(r.eng().next_deadline(), t0 + proto::kIcmpEchoTimeout);
  ASSERT_TRUE(r.world().run_until(t0 + proto::kIcmpEchoTimeout - Duration::nanos(1)));
  EXPECT_EQ(r.eng().flows().active_count(), 1u);
  ASSERT_TRUE(r.world().run_until(t0 + proto::kIcmpEchoTimeout));
  EXPECT_EQ(r.eng().flows().active_count(), 0u);
  EXPECT_EQ(r.net().open_sockets(), 0u);
  EXPECT_EQ(r.eng().next_deadline(), Instant::never());
  EXPECT_EQ(r.eng().flows().verify(), nullptr);
}

TEST(EngineIcmp, PingAndTcpFlowsShareTheTableAndTheHeap) {
  TcpRig r;
  ASSERT_TRUE(r.net().add_ping_host(ports::Netns::host, InAny{}, Duration::millis(1)));
  ASSERT_TRUE(r.net().add_tcp_service(ports::Netns::host, {kRemote4, 80, 0}, sim::PeerSpec{}));
  r.inject(guest_seg({InAny::from(kGuest4), 40000}, {kRemote4, 80}, tf::syn, Seq{1}, Seq{0}, 65535, {}, 1460));
  r.inject(echo_frame(InAny::from(kGuest4), kRemote4, 80, 1, {}));
  EXPECT_EQ(r.eng().flows().active_count(), 2u);
  r.run(Duration::seconds(61));
  // The ping flow expired; the TCP flow (never completed by the guest) is
  // handled by TCP's own timers.
  const core::FlowSidx p = r.eng().flows().lookup(
      core::FlowKey{core::L4::icmp, core::Pif::tap, InAny::from(kGuest4), kRemote4, 80, 80});
  EXPECT_FALSE(p.valid());
  EXPECT_EQ(r.eng().icmp().stats().flows_expired, 1u);
  EXPECT_EQ(r.eng().timers().verify(), nullptr);
}

}  // namespace
}  // namespace passt::engine::test
