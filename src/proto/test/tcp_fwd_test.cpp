// proto::TcpFwd: listeners from the -t rules and -T ports, the automatic
// directions' rebinding, and where accepted connections go (tap path,
// hand-offs to the splice mover), against a mocked HostNet.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "core/deadline_heap.hpp"
#include "core/flow_table.hpp"
#include "ports/test/mocks.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/tcp.hpp"
#include "proto/tcp_fwd.hpp"

namespace passt::proto {
namespace {

using ::testing::_;
using ::testing::AnyNumber;
using ::testing::NiceMock;
using ::testing::Return;
using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockOpt;

class CountingTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    sent += frames.size();
    return frames.size();
  }
  bool connected() const noexcept override { return true; }
  std::size_t sent = 0;
};

class ZeroEntropy final : public ports::Entropy {
 public:
  void fill(MutBytes out) noexcept override {
    for (auto& b : out) b = 0;
  }
};

class FakeSink final : public SpliceSink {
 public:
  bool start(const SpliceRequest& r, Instant) noexcept override {
    reqs.push_back(r);
    return result;
  }
  std::vector<SpliceRequest> reqs;
  bool result = true;
};

InAny a4(u8 a, u8 b, u8 c, u8 d) { return InAny::from(Ipv4Addr::of(a, b, c, d)); }
InAny a6(const char* s) { return InAny::from(*parse_ipv6(s)); }

constexpr u64 ref(u32 slot) { return core::EpollRef{core::RefType::tcp_listen, slot}.pack(); }

struct Rig {
  core::Config cfg;
  core::NetInfo net;
  NiceMock<ports::MockHostNet> host;
  ZeroEntropy entropy;
  CountingTap tap;
  TapOut out{tap, 16, 1 << 16};
  GuestL2 guest;
  core::FlowTable flows{16, SipKey{1, 2}};
  core::DeadlineHeap timers{16};
  FlowReaper reaper{16};
  i32 next_fd = 10;
  std::vector<std::pair<Sock, Netns>> sockets;
  std::unique_ptr<Tcp> tcp;
  std::unique_ptr<TcpFwd> fwd;

  Rig() {
    net.v4.enabled = true;
    net.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
    net.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
    net.v4.our_tap_addr = net.v4.gateway;
    net.v4.map_host_loopback = net.v4.gateway;
    net.v6.enabled = true;
    net.v6.addr = *parse_ipv6("2001:db8::1");
    net.v6.our_tap_ll = *parse_ipv6("fe80::1");
    cfg.fwd_in.tcp.mode = core::FwdMode::spec;
    ON_CALL(host, socket(_, _, _)).WillByDefault([this](Netns ns, Family, ports::SockType) {
      const Sock s{next_fd++};
      sockets.emplace_back(s, ns);
      return Result<Sock>(s);
    });
    ON_CALL(host, set_opt(_, _, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, get_opt(_, _)).WillByDefault(Return(Result<int>(0)));
    ON_CALL(host, bind(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, listen(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, watch(_, _, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, bind_to_device(_, _)).WillByDefault(Return(Status{}));
    ON_CALL(host, connect(_, _)).WillByDefault(Return(Status{Err::in_progress}));
    ON_CALL(host, tcp_info(_)).WillByDefault(Return(Result<ports::TcpInfo>(Err::not_supported)));
    ON_CALL(host, accept(_, _)).WillByDefault(Return(Result<Sock>(Err::again)));
    ON_CALL(host, local_addr(_)).WillByDefault(Return(Result<SockAddr>(Err::not_supported)));
    ON_CALL(host, send_queue(_)).WillByDefault(Return(Result<std::size_t>(std::size_t{0})));
  }
  void rule(u16 first, u16 last, std::optional<InAny> addr = std::nullopt, std::string ifname = "",
            bool weak = false) {
    core::PortBindRule r;
    r.spec = "test";
    r.addr = addr;
    r.ifname = std::move(ifname);
    r.weak = weak;
    r.ports.push_back({first, last});
    for (u32 p = first; p <= last; p++) cfg.fwd_in.tcp.forwarded.set(static_cast<u16>(p));
    cfg.fwd_in.tcp.rules.push_back(r);
  }
  TcpFwd& make() {
    tcp = std::make_unique<Tcp>(cfg, net, host, entropy, out, guest, flows, timers, reaper);
    fwd = std::make_unique<TcpFwd>(cfg, net, host, *tcp, guest);
    return *fwd;
  }
  Status open() {
    make();
    return fwd->open_listeners(core::fwd_maps_from(cfg));
  }
  // The next accept() on any listener returns a new socket from `peer`,
  // locally `local`; then "would block".
  Sock incoming(const SockAddr& peer, const SockAddr& local) {
    const Sock s{next_fd++};
    EXPECT_CALL(host, accept(_, _))
        .WillOnce([peer, s](Sock, SockAddr* p) {
          *p = peer;
          return Result<Sock>(s);
        })
        .WillRepeatedly(Return(Result<Sock>(Err::again)));
    EXPECT_CALL(host, local_addr(s)).WillRepeatedly(Return(Result<SockAddr>(local)));
    return s;
  }
};

// --- listeners from -t rules ---------------------------------------------------------------

TEST(TcpFwdListen, DualStackSocketPerPort) {
  Rig r;
  r.rule(80, 81);
  EXPECT_CALL(r.host, socket(Netns::host, Family::v6, ports::SockType::tcp)).Times(2);
  EXPECT_CALL(r.host, set_opt(_, _, _)).Times(AnyNumber());
  EXPECT_CALL(r.host, set_opt(_, SockOpt::v6only, 0)).Times(2);
  EXPECT_CALL(r.host, set_opt(_, SockOpt::freebind, _)).Times(0);
  EXPECT_CALL(r.host, listen(_, 128)).Times(2);
  // Two slots per port; the dual-stack socket takes the IPv6 one.
  EXPECT_CALL(r.host, watch(_, ports::ev::in, ref(1)));
  EXPECT_CALL(r.host, watch(_, ports::ev::in, ref(3)));
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 2u);
  EXPECT_EQ(r.fwd->slot_count(), 4u);
  EXPECT_TRUE(r.fwd->listener(1).valid());
  EXPECT_FALSE(r.fwd->listener(0).valid());
}

TEST(TcpFwdListen, FallsBackToOneSocketPerFamily) {
  Rig r;
  r.rule(80, 80);
  // The dual-stack bind fails (say, IPv4 port taken): one socket per family.
  EXPECT_CALL(r.host, bind(_, _)).WillOnce(Return(Status{Err::addr_in_use})).WillRepeatedly(Return(Status{}));
  EXPECT_CALL(r.host, set_opt(_, _, _)).Times(AnyNumber());
  EXPECT_CALL(r.host, set_opt(_, SockOpt::v6only, 1)).Times(1);
  EXPECT_CALL(r.host, close(Sock{10}));
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 2u);
}

TEST(TcpFwdListen, EitherFamilyIsEnough) {
  Rig r;
  r.rule(80, 80);
  // Dual stack and IPv4 fail, IPv6 alone binds: the port counts as bound.
  EXPECT_CALL(r.host, bind(_, _))
      .WillOnce(Return(Status{Err::addr_in_use}))
      .WillOnce(Return(Status{Err::addr_in_use}))
      .WillOnce(Return(Status{}));
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 1u);
}

TEST(TcpFwdListen, AddressAndInterface) {
  Rig r;
  r.rule(443, 443, a4(10, 0, 0, 1), "eth0");
  r.rule(22, 22, a6("2001:db8::5"));
  EXPECT_CALL(r.host, socket(_, Family::v4, _)).Times(1);
  EXPECT_CALL(r.host, socket(_, Family::v6, _)).Times(1);
  EXPECT_CALL(r.host, bind_to_device(_, std::string_view("eth0")));
  EXPECT_CALL(r.host, bind(_, SockAddr{a4(10, 0, 0, 1), 443, 0}));
  EXPECT_CALL(r.host, bind(_, SockAddr{a6("2001:db8::5"), 22, 0}));
  EXPECT_CALL(r.host, set_opt(_, _, _)).Times(AnyNumber());
  EXPECT_CALL(r.host, set_opt(_, SockOpt::v6only, 1)).Times(1);
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 2u);
}

TEST(TcpFwdListen, InterfaceOnlyIsDualStackOnTheDevice) {
  Rig r;
  r.rule(8080, 8080, std::nullopt, "up0");
  EXPECT_CALL(r.host, bind_to_device(_, std::string_view("up0")));
  EXPECT_CALL(r.host, bind(_, SockAddr{InAny::from(Ipv6Addr::any()), 8080, 0}));
  EXPECT_TRUE(r.open());
}

TEST(TcpFwdListen, AddressOfADisabledFamilyIsSkipped) {
  Rig r;
  r.net.v6.enabled = false;
  r.rule(22, 22, a6("2001:db8::5"));
  r.rule(23, 23);
  EXPECT_CALL(r.host, socket(_, Family::v6, _)).Times(0);
  EXPECT_CALL(r.host, socket(_, Family::v4, _)).Times(1);
  EXPECT_TRUE(r.open());
}

TEST(TcpFwdListen, Freebind) {
  Rig r;
  r.cfg.freebind = true;
  r.rule(80, 80, a4(192, 0, 2, 77));
  EXPECT_CALL(r.host, set_opt(_, _, _)).Times(AnyNumber());
  EXPECT_CALL(r.host, set_opt(_, SockOpt::freebind, 1)).Times(1);
  EXPECT_TRUE(r.open());
}

TEST(TcpFwdListen, NothingWithoutTcp) {
  Rig r;
  r.rule(80, 90);
  r.net.tcp = false;
  EXPECT_CALL(r.host, socket(_, _, _)).Times(0);
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 0u);
}

TEST(TcpFwdListen, StrictRuleStopsAtTheFirstFailure) {
  Rig r;
  r.rule(80, 82);
  r.net.v6.enabled = false;
  EXPECT_CALL(r.host, bind(_, SockAddr{a4(0, 0, 0, 0), 80, 0})).WillOnce(Return(Status{}));
  EXPECT_CALL(r.host, bind(_, SockAddr{a4(0, 0, 0, 0), 81, 0})).WillOnce(Return(Status{Err::access}));
  EXPECT_CALL(r.host, bind(_, SockAddr{a4(0, 0, 0, 0), 82, 0})).Times(0);
  Status st = r.open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.err(), Err::access);
}

TEST(TcpFwdListen, WeakRuleToleratesFailuresUnlessNoneBinds) {
  Rig r;
  r.rule(80, 82, std::nullopt, "", true);
  r.net.v6.enabled = false;
  EXPECT_CALL(r.host, bind(_, _))
      .WillOnce(Return(Status{Err::addr_in_use}))
      .WillOnce(Return(Status{}))
      .WillOnce(Return(Status{Err::access}));
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 1u);

  Rig n;
  n.rule(80, 82, std::nullopt, "", true);
  ON_CALL(n.host, bind(_, _)).WillByDefault(Return(Status{Err::access}));
  Status st = n.open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.err(), Err::access);
}

TEST(TcpFwdListen, WeakRuleOutOfFilesIsFatal) {
  Rig r;
  r.rule(80, 90, std::nullopt, "", true);
  EXPECT_CALL(r.host, socket(_, _, _))
      .WillOnce(Return(Result<Sock>(Sock{10})))
      .WillRepeatedly(Return(Result<Sock>(Err::too_many_files)));
  Status st = r.open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.err(), Err::too_many_files);
}

TEST(TcpFwdListen, ErrorTextsAreGlibcs) {
  EXPECT_STREQ(core::fwd_error_text(Err::addr_in_use), "Address already in use");
  EXPECT_STREQ(core::fwd_error_text(Err::access), "Permission denied");
  EXPECT_STREQ(core::fwd_error_text(Err::addr_not_avail), "Cannot assign requested address");
  EXPECT_STREQ(core::fwd_error_text(Err::no_entry), "No such device");
}

// --- -T (pasta) ----------------------------------------------------------------------------

TEST(TcpFwdListen, OutboundPortsOnTheNamespacesLoopback) {
  Rig r;
  r.cfg.mode = core::Mode::pasta;
  r.cfg.fwd_in.tcp.mode = core::FwdMode::none;
  r.cfg.fwd_out.tcp.mode = core::FwdMode::spec;
  r.cfg.fwd_out.tcp.forwarded.set(5000);
  EXPECT_CALL(r.host, socket(Netns::guest, Family::v4, _)).Times(1);
  EXPECT_CALL(r.host, socket(Netns::guest, Family::v6, _)).Times(1);
  EXPECT_CALL(r.host, socket(Netns::host, _, _)).Times(0);
  EXPECT_CALL(r.host, bind(_, SockAddr{a4(127, 0, 0, 1), 5000, 0}));
  // A failure in the namespace is not fatal.
  EXPECT_CALL(r.host, bind(_, SockAddr{InAny::from(Ipv6Addr::loopback()), 5000, 0}))
      .WillOnce(Return(Status{Err::addr_in_use}));
  EXPECT_TRUE(r.open());
  EXPECT_EQ(r.fwd->stats().listeners, 1u);
}

TEST(TcpFwdListen, OutboundIgnoredInPasst) {
  Rig r;
  r.cfg.fwd_out.tcp.mode = core::FwdMode::spec;
  r.cfg.fwd_out.tcp.forwarded.set(5000);
  r.cfg.fwd_in.tcp.mode = core::FwdMode::none;
  EXPECT_CALL(r.host, socket(_, _, _)).Times(0);
  EXPECT_TRUE(r.open());
}

// --- automatic directions ----------------------------------------------------------------

TEST(TcpFwdAuto, ListenersFollowTheMaps) {
  Rig r;
  r.cfg.mode = core::Mode::pasta;
  r.cfg.fwd_in.tcp.mode = core::FwdMode::automatic;
  r.cfg.fwd_out.tcp.mode = core::FwdMode::automatic;
  core::FwdMaps maps;
  maps.tcp_in.set(8080);
  maps.tcp_out.set(53);
  r.make();
  EXPECT_TRUE(r.fwd->open_listeners(maps));
  EXPECT_EQ(r.fwd->auto_bound(false, 8080), 3u) << "dual stack on the host";
  EXPECT_EQ(r.fwd->auto_bound(true, 53), 3u) << "127.0.0.1 and ::1 in the namespace";
  EXPECT_EQ(r.fwd->stats().listeners, 3u);
  ASSERT_EQ(r.sockets.size(), 3u);
  EXPECT_EQ(r.sockets[0].second, Netns::host);
  EXPECT_EQ(r.sockets[1].second, Netns::guest);

  // 8080 goes, 8081 comes; 53 stays (no new socket).
  const Sock old = r.sockets[0].first;
  EXPECT_CALL(r.host, unwatch(old));
  EXPECT_CALL(r.host, close(old));
  maps.tcp_in.reset(8080);
  maps.tcp_in.set(8081);
  r.fwd->rebind(maps);
  EXPECT_EQ(r.fwd->auto_bound(false, 8080), 0u);
  EXPECT_EQ(r.fwd->auto_bound(false, 8081), 3u);
  EXPECT_EQ(r.sockets.size(), 4u);
  EXPECT_EQ(r.fwd->stats().auto_closed, 1u);

  // A port the other direction forwards is never bound (our own
  // listener); the other direction's listeners stay.
  maps.tcp_in.set(53);
  EXPECT_CALL(r.host, close(_)).Times(0);
  r.fwd->rebind(maps);
  EXPECT_EQ(r.fwd->auto_bound(false, 53), 0u);
  EXPECT_EQ(r.fwd->auto_bound(true, 53), 3u);
}

TEST(TcpFwdAuto, FailedBindsAreRetried) {
  Rig r;
  r.cfg.mode = core::Mode::pasta;
  r.cfg.fwd_in.tcp.mode = core::FwdMode::automatic;
  r.net.v6.enabled = false;
  core::FwdMaps maps;
  maps.tcp_in.set(8080);
  r.make();
  EXPECT_CALL(r.host, bind(_, _)).WillOnce(Return(Status{Err::addr_in_use})).WillRepeatedly(Return(Status{}));
  EXPECT_TRUE(r.fwd->open_listeners(maps)) << "never fatal";
  EXPECT_EQ(r.fwd->auto_bound(false, 8080), 0u);
  EXPECT_EQ(r.fwd->stats().auto_failed, 1u);
  r.fwd->rebind(maps);
  EXPECT_EQ(r.fwd->auto_bound(false, 8080), 1u);
}

TEST(TcpFwdAuto, SpecDirectionsAreLeftAlone) {
  Rig r;
  r.rule(80, 80);
  r.make();
  core::FwdMaps maps = core::fwd_maps_from(r.cfg);
  EXPECT_TRUE(r.fwd->open_listeners(maps));
  EXPECT_CALL(r.host, close(_)).Times(0);
  r.fwd->rebind(core::FwdMaps{});
  EXPECT_EQ(r.fwd->stats().listeners, 1u);
}

// --- accepted connections ---------------------------------------------------------------------

TEST(TcpFwdAccept, ToTheGuestWithTheSourcePreserved) {
  Rig r;
  r.rule(8080, 8080);
  r.cfg.fwd_in.tcp.set_delta(8080, static_cast<u16>(80 - 8080));
  ASSERT_TRUE(r.open());
  r.incoming({a4(203, 0, 113, 7), 5555, 0}, {a4(198, 51, 100, 1), 8080, 0});
  r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(1));
  EXPECT_EQ(r.fwd->stats().to_tap, 1u);
  ASSERT_EQ(r.flows.active_count(), 1u);
  const core::Flow& f = r.flows.at(core::FlowIdx{0});
  EXPECT_EQ(f.pif[core::kIniSide], core::Pif::host);
  EXPECT_EQ(f.pif[core::kTgtSide], core::Pif::tap);
  EXPECT_EQ(f.side[core::kTgtSide].oaddr, a4(203, 0, 113, 7)) << "source preserved";
  EXPECT_EQ(f.side[core::kTgtSide].oport, 5555);
  EXPECT_EQ(f.side[core::kTgtSide].eaddr, a4(198, 51, 100, 1));
  EXPECT_EQ(f.side[core::kTgtSide].eport, 80) << "translated";
  r.out.flush();
  EXPECT_EQ(r.tap.sent, 1u) << "the SYN";
}

TEST(TcpFwdAccept, HostLoopbackAppearsAsTheGateway) {
  Rig r;
  r.rule(22, 22);
  ASSERT_TRUE(r.open());
  r.incoming({a4(127, 0, 0, 1), 40000, 0}, {a4(127, 0, 0, 1), 22, 0});
  r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(1));
  ASSERT_EQ(r.flows.active_count(), 1u);
  EXPECT_EQ(r.flows.at(core::FlowIdx{0}).side[core::kTgtSide].oaddr, a4(198, 51, 100, 254));
}

TEST(TcpFwdAccept, NoSourceTheGuestCouldAnswerIsRefused) {
  Rig r;
  r.net.v4.our_tap_addr = Ipv4Addr::any();
  r.net.v4.map_host_loopback.reset();
  r.rule(22, 22);
  ASSERT_TRUE(r.open());
  const Sock s = r.incoming({a4(127, 0, 0, 1), 40000, 0}, {a4(127, 0, 0, 1), 22, 0});
  EXPECT_CALL(r.host, set_opt(s, SockOpt::linger_zero, 1));
  EXPECT_CALL(r.host, close(s));
  r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(1));
  EXPECT_EQ(r.flows.active_count(), 0u);
  EXPECT_EQ(r.fwd->stats().refused, 1u);
}

TEST(TcpFwdAccept, PastaLoopbackPeerGoesToTheMover) {
  Rig r;
  r.cfg.mode = core::Mode::pasta;
  r.rule(8080, 8080);
  r.cfg.fwd_in.tcp.set_delta(8080, static_cast<u16>(80 - 8080));
  FakeSink sink;
  r.make();
  r.fwd->set_splice_sink(&sink);
  ASSERT_TRUE(r.fwd->open_listeners(core::fwd_maps_from(r.cfg)));
  r.guest.addr4_seen = Ipv4Addr::of(198, 51, 100, 1);
  const Sock s = r.incoming({a4(127, 0, 0, 1), 40000, 0}, {a4(127, 0, 0, 1), 8080, 0});
  EXPECT_CALL(r.host, connect(_, _)).Times(0);  // the mover's business
  r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(1));
  ASSERT_EQ(sink.reqs.size(), 1u);
  const SpliceRequest& q = sink.reqs[0];
  EXPECT_EQ(q.accepted, s);
  EXPECT_EQ(q.ini_pif, core::Pif::host);
  EXPECT_EQ(q.tgt_pif, core::Pif::splice);
  EXPECT_EQ(q.tgt_ns, Netns::guest);
  EXPECT_EQ(q.ini, (core::FlowSide{a4(127, 0, 0, 1), a4(127, 0, 0, 1), 8080, 40000}));
  EXPECT_EQ(q.tgt.eaddr, a4(198, 51, 100, 1)) << "the namespace's address";
  EXPECT_EQ(q.tgt.eport, 80);
  EXPECT_TRUE(q.tgt.oaddr.is_unspecified());
  EXPECT_EQ(r.flows.active_count(), 0u) << "nothing for the tap path";
  EXPECT_EQ(r.fwd->stats().spliced, 1u);

  // --host-lo-to-ns-lo: to the namespace's loopback instead.
  r.cfg.host_lo_to_ns_lo = true;
  r.incoming({a4(127, 0, 0, 1), 40001, 0}, {a4(127, 0, 0, 1), 8080, 0});
  sink.result = false;
  r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(2));
  ASSERT_EQ(sink.reqs.size(), 2u);
  EXPECT_EQ(sink.reqs[1].tgt.eaddr, a4(127, 0, 0, 1));
  EXPECT_EQ(r.fwd->stats().refused, 1u) << "the mover failed";
}

TEST(TcpFwdAccept, WithoutAMoverOrWithNoSpliceLoopbackTakesTheTapPath) {
  for (bool no_splice : {false, true}) {
    Rig r;
    r.cfg.mode = core::Mode::pasta;
    r.cfg.no_splice = no_splice;
    r.rule(22, 22);
    FakeSink sink;
    r.make();
    if (no_splice) r.fwd->set_splice_sink(&sink);
    ASSERT_TRUE(r.fwd->open_listeners(core::fwd_maps_from(r.cfg)));
    r.incoming({a4(127, 0, 0, 1), 40000, 0}, {a4(127, 0, 0, 1), 22, 0});
    r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(1));
    EXPECT_TRUE(sink.reqs.empty());
    EXPECT_EQ(r.flows.active_count(), 1u) << no_splice;
  }
}

struct OutRig : Rig {
  FakeSink sink;
  OutRig() {
    cfg.mode = core::Mode::pasta;
    cfg.fwd_in.tcp.mode = core::FwdMode::none;
    cfg.fwd_out.tcp.mode = core::FwdMode::spec;
    cfg.fwd_out.tcp.forwarded.set(5353);
    cfg.fwd_out.tcp.set_delta(5353, static_cast<u16>(53 - 5353));
  }
};

TEST(TcpFwdAccept, NamespaceListenerGoesToTheHostsLoopback) {
  OutRig r;
  r.make();
  r.fwd->set_splice_sink(&r.sink);
  ASSERT_TRUE(r.fwd->open_listeners(core::fwd_maps_from(r.cfg)));
  const Sock s = r.incoming({a4(127, 0, 0, 2), 40000, 0}, {a4(127, 0, 0, 1), 5353, 0});
  r.fwd->listen_event(0, ports::ev::in, Instant::from_nanos(1));
  ASSERT_EQ(r.sink.reqs.size(), 1u);
  const SpliceRequest& q = r.sink.reqs[0];
  EXPECT_EQ(q.accepted, s);
  EXPECT_EQ(q.ini_pif, core::Pif::splice);
  EXPECT_EQ(q.tgt_pif, core::Pif::host);
  EXPECT_EQ(q.tgt_ns, Netns::host);
  // From the same loopback address as the peer, to the translated port.
  EXPECT_EQ(q.tgt, (core::FlowSide{a4(127, 0, 0, 2), a4(127, 0, 0, 1), 0, 53}));
}

TEST(TcpFwdAccept, NamespaceListenerRefusesNonLoopbackPeers) {
  OutRig r;
  r.make();
  r.fwd->set_splice_sink(&r.sink);
  ASSERT_TRUE(r.fwd->open_listeners(core::fwd_maps_from(r.cfg)));
  const Sock s = r.incoming({a4(192, 0, 2, 9), 40000, 0}, {a4(127, 0, 0, 1), 5353, 0});
  EXPECT_CALL(r.host, close(s));
  r.fwd->listen_event(0, ports::ev::in, Instant::from_nanos(1));
  EXPECT_TRUE(r.sink.reqs.empty());
  EXPECT_EQ(r.fwd->stats().refused, 1u);
}

TEST(TcpFwdAccept, NamespaceListenerWithoutAMoverRefuses) {
  OutRig r;
  ASSERT_TRUE(r.open());
  const Sock s = r.incoming({a4(127, 0, 0, 1), 40000, 0}, {a4(127, 0, 0, 1), 5353, 0});
  EXPECT_CALL(r.host, connect(_, _)).Times(0);
  EXPECT_CALL(r.host, set_opt(s, SockOpt::linger_zero, 1));
  EXPECT_CALL(r.host, close(s));
  r.fwd->listen_event(0, ports::ev::in, Instant::from_nanos(1));
  EXPECT_EQ(r.fwd->stats().refused, 1u);
}

// Out of file descriptors: the connection stays queued and the listener
// readable, so it must stop being watched for a while, else the event loop
// spins (found by fuzz_engine: the simulator's livelock check).
TEST(TcpFwdAccept, ListenerRestsAfterAcceptRunsOutOfFiles) {
  Rig r;
  r.rule(8080, 8080);
  ASSERT_TRUE(r.open());
  const Sock l = r.fwd->listener(1);
  const Instant t0 = Instant::from_nanos(1000);
  EXPECT_CALL(r.host, accept(l, _)).WillOnce(Return(Result<Sock>(Err::too_many_files)));
  EXPECT_CALL(r.host, watch(l, 0u, ref(1))).WillOnce(Return(Status{}));
  r.fwd->listen_event(1, ports::ev::in, t0);
  EXPECT_EQ(r.fwd->stats().accept_paused, 1u);
  EXPECT_EQ(r.fwd->resume_at(), t0 + kAcceptPause);
  ::testing::Mock::VerifyAndClearExpectations(&r.host);

  EXPECT_CALL(r.host, watch(_, _, _)).Times(0);
  r.fwd->resume(t0 + kAcceptPause - Duration::nanos(1));  // not yet
  ::testing::Mock::VerifyAndClearExpectations(&r.host);
  EXPECT_CALL(r.host, watch(l, ports::ev::in, ref(1))).WillOnce(Return(Status{}));
  r.fwd->resume(t0 + kAcceptPause);
  EXPECT_TRUE(r.fwd->resume_at().is_never());
  ::testing::Mock::VerifyAndClearExpectations(&r.host);
  EXPECT_CALL(r.host, watch(_, _, _)).Times(0);
  r.fwd->resume(t0 + kAcceptPause * 2);  // nothing left to re-arm
}

// A connection-specific error consumed that connection: the next one is
// accepted in the same event and the listener is not paused.
TEST(TcpFwdAccept, AConnectionAbortedDoesNotStopTheListener) {
  Rig r;
  r.rule(8080, 8080);
  ASSERT_TRUE(r.open());
  const Sock s{100};
  EXPECT_CALL(r.host, accept(_, _))
      .WillOnce(Return(Result<Sock>(Err::conn_aborted)))
      .WillOnce([s](Sock, SockAddr* p) {
        *p = {a4(203, 0, 113, 7), 5555, 0};
        return Result<Sock>(s);
      })
      .WillRepeatedly(Return(Result<Sock>(Err::again)));
  EXPECT_CALL(r.host, local_addr(s)).WillRepeatedly(Return(Result<SockAddr>(SockAddr{a4(198, 51, 100, 1), 8080, 0})));
  EXPECT_CALL(r.host, watch(_, _, _)).Times(AnyNumber());  // the accepted socket
  EXPECT_CALL(r.host, watch(r.fwd->listener(1), _, _)).Times(0);
  r.fwd->listen_event(1, ports::ev::in, Instant::from_nanos(1));
  EXPECT_EQ(r.fwd->stats().accepted, 1u);
  EXPECT_EQ(r.fwd->stats().accept_paused, 0u);
  EXPECT_TRUE(r.fwd->resume_at().is_never());
}

TEST(TcpFwdAccept, SpuriousEventsAreHarmless) {
  OutRig r;
  ASSERT_TRUE(r.open());
  EXPECT_CALL(r.host, accept(_, _)).Times(0);
  r.fwd->listen_event(1000, ports::ev::in, Instant::from_nanos(1));
  r.fwd->listen_event(0, ports::ev::out, Instant::from_nanos(1));
}

}  // namespace
}  // namespace passt::proto
