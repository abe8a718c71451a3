// proto::Tcp's listener set-up from the -t rules, against a mocked HostNet.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/deadline_heap.hpp"
#include "core/flow_table.hpp"
#include "ports/test/mocks.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/tcp.hpp"

namespace passt::proto {
namespace {

using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

class NullTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override { return frames.size(); }
  bool connected() const noexcept override { return true; }
};

class ZeroEntropy final : public ports::Entropy {
 public:
  void fill(MutBytes out) noexcept override {
    for (auto& b : out) b = 0;
  }
};

struct Rig {
  core::Config cfg;
  core::NetInfo net;
  NiceMock<ports::MockHostNet> host;
  ZeroEntropy entropy;
  NullTap tap;
  TapOut out{tap, 16, 1 << 16};
  GuestL2 guest;
  core::FlowTable flows{16, SipKey{1, 2}};
  core::DeadlineHeap timers{16};
  FlowReaper reaper{16};
  i32 next_fd = 10;

  Rig() {
    net.v4.enabled = true;
    net.v6.enabled = true;
    cfg.fwd_in.tcp.mode = core::FwdMode::spec;
    ON_CALL(host, socket(_, _, _)).WillByDefault([this](ports::Netns, ports::Family, ports::SockType) {
      return Result<ports::Sock>(ports::Sock{next_fd++});
    });
    ON_CALL(host, set_opt(_, _, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, bind(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, listen(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, watch(_, _, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, bind_to_device(_, _)).WillByDefault(Return(Status{}));
  }
  void rule(u16 first, u16 last, std::optional<InAny> addr = std::nullopt, std::string ifname = "") {
    core::PortBindRule r;
    r.spec = "test";
    r.addr = addr;
    r.ifname = std::move(ifname);
    r.ports.push_back({first, last});
    cfg.fwd_in.tcp.rules.push_back(r);
  }
  Tcp make() { return Tcp(cfg, net, host, entropy, out, guest, flows, timers, reaper); }
};

TEST(TcpListen, DualStackSocketPerPort) {
  Rig r;
  r.rule(80, 81);
  EXPECT_CALL(r.host, socket(ports::Netns::host, ports::Family::v6, ports::SockType::tcp)).Times(2);
  EXPECT_CALL(r.host, set_opt(_, _, _)).Times(::testing::AnyNumber());
  EXPECT_CALL(r.host, set_opt(_, ports::SockOpt::v6only, 0)).Times(2);
  EXPECT_CALL(r.host, listen(_, 128)).Times(2);
  EXPECT_CALL(r.host, watch(_, ports::ev::in, core::EpollRef{core::RefType::tcp_listen, 0}.pack()));
  EXPECT_CALL(r.host, watch(_, ports::ev::in, core::EpollRef{core::RefType::tcp_listen, 1}.pack()));
  Tcp t = r.make();
  EXPECT_TRUE(t.open_listeners());
  EXPECT_EQ(t.listener_count(), 2u);
}

TEST(TcpListen, FallsBackToOneSocketPerFamily) {
  Rig r;
  r.rule(80, 80);
  // The dual-stack bind fails (say, IPv4 port taken): one socket per family.
  EXPECT_CALL(r.host, bind(_, _))
      .WillOnce(Return(Status{Err::addr_in_use}))
      .WillRepeatedly(Return(Status{}));
  EXPECT_CALL(r.host, set_opt(_, _, _)).Times(::testing::AnyNumber());
  EXPECT_CALL(r.host, set_opt(_, ports::SockOpt::v6only, 1)).Times(1);
  EXPECT_CALL(r.host, close(ports::Sock{10}));
  Tcp t = r.make();
  EXPECT_TRUE(t.open_listeners());
  EXPECT_EQ(t.listener_count(), 2u);
}

TEST(TcpListen, AddressAndInterface) {
  Rig r;
  r.rule(443, 443, InAny::from(Ipv4Addr::of(10, 0, 0, 1)), "eth0");
  EXPECT_CALL(r.host, socket(_, ports::Family::v4, _)).Times(1);
  EXPECT_CALL(r.host, bind_to_device(_, std::string_view("eth0")));
  EXPECT_CALL(r.host, bind(_, ports::SockAddr{InAny::from(Ipv4Addr::of(10, 0, 0, 1)), 443, 0}));
  Tcp t = r.make();
  EXPECT_TRUE(t.open_listeners());
  EXPECT_EQ(t.listener_count(), 1u);
}

TEST(TcpListen, NothingWithoutTcp) {
  Rig r;
  r.rule(80, 90);
  r.net.tcp = false;
  EXPECT_CALL(r.host, socket(_, _, _)).Times(0);
  Tcp t = r.make();
  EXPECT_TRUE(t.open_listeners());
  EXPECT_EQ(t.listener_count(), 0u);
}

TEST(TcpListen, WeakRuleWithNothingBoundFails) {
  Rig r;
  r.rule(80, 82);
  r.cfg.fwd_in.tcp.rules[0].weak = true;
  ON_CALL(r.host, bind(_, _)).WillByDefault(Return(Status{Err::access}));
  Tcp t = r.make();
  Status st = t.open_listeners();
  EXPECT_FALSE(st);
  EXPECT_EQ(st.err(), Err::access);
}

}  // namespace
}  // namespace passt::proto
