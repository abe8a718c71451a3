// The engine's UDP against the simulator's socket model (SimHostNet) in
// virtual time: guest datagrams to remote peers and back, the gateway
// mapped to host loopback, one guest port talking to several peers, -u
// forwards both ways, zero-length datagrams, idle expiry, --no-udp.
#include <gtest/gtest.h>

#include <vector>

#include "engine/test/tcp_rig.hpp"
#include "proto/tap_out.hpp"

namespace passt::engine::test {
namespace {

using ports::Netns;
using ports::SockAddr;

const Ipv4Addr kRemote4 = Ipv4Addr::of(203, 0, 113, 7);
const Ipv6Addr kRemote6{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}};

std::vector<u8> guest_dgram(const Ep& from, const Ep& to, const std::vector<u8>& payload) {
  std::vector<u8> f(14 + 40 + 8 + payload.size());
  const MacAddr ours{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
  Result<std::size_t> n =
      from.addr.is_v4()
          ? proto::build_udp4(MutBytes(f), kGuestMac, ours, from.addr.v4(), to.addr.v4(), from.port, to.port,
                              Bytes(payload))
          : proto::build_udp6(MutBytes(f), kGuestMac, ours, from.addr.v6(), to.addr.v6(), from.port, to.port,
                              Bytes(payload));
  EXPECT_TRUE(n.ok());
  f.resize(n ? *n : 0);
  return f;
}

struct Dgram {
  InAny src;
  InAny dst;
  u16 sport = 0;
  u16 dport = 0;
  std::vector<u8> payload;
  MacAddr eth_dst;
};

// UDP frames the engine sent since the last call.
std::vector<Dgram> take_udp(TcpRig& r, std::size_t* taken) {
  std::vector<Dgram> out;
  for (; *taken < r.tap.sent.size(); (*taken)++) {
    auto pf = wire::parse_frame(Bytes(r.tap.sent[*taken]));
    EXPECT_TRUE(pf.ok());
    if (!pf || pf->l4 != wire::L4::udp) continue;
    EXPECT_TRUE(wire::frame_checksums_ok(*pf));
    out.push_back(Dgram{pf->src, pf->dst, pf->src_port, pf->dst_port,
                        std::vector<u8>(pf->payload.begin(), pf->payload.end()), pf->eth_dst});
  }
  return out;
}

class Recorder final : public sim::UdpPeerObserver {
 public:
  struct Seen {
    SockAddr peer;
    SockAddr from;
    std::vector<u8> payload;
  };
  void on_peer_datagram(Netns, const SockAddr& peer, const SockAddr& from, Bytes payload) noexcept override {
    seen.push_back(Seen{peer, from, std::vector<u8>(payload.begin(), payload.end())});
  }
  std::vector<Seen> seen;
};

TEST(EngineUdp, GuestToRemoteEchoBothFamilies) {
  TcpRig r;
  std::size_t taken = 0;
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, SockAddr{InAny::from(kRemote4), 53, 0}, sim::UdpPeerKind::echo,
                                   Duration::millis(5)).ok());
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, SockAddr{InAny::from(kRemote6), 53, 0}, sim::UdpPeerKind::echo,
                                   Duration::millis(5)).ok());
  Recorder rec;
  r.net().set_udp_observer(&rec);
  const std::vector<u8> big(2048, 0xa5);
  r.inject_batch({guest_dgram({InAny::from(kGuest4), 40000}, {InAny::from(kRemote4), 53}, bytes_of("hello")),
                  guest_dgram({InAny::from(kGuest4), 40000}, {InAny::from(kRemote4), 53}, big),
                  guest_dgram({InAny::from(kGuest4), 40000}, {InAny::from(kRemote4), 53}, {}),
                  guest_dgram({InAny::from(kGuest6), 40001}, {InAny::from(kRemote6), 53}, bytes_of("six"))});
  // One sendmmsg per flow: the peer saw the three IPv4 datagrams in order,
  // from the host with the guest's port.
  ASSERT_EQ(rec.seen.size(), 4u);
  EXPECT_EQ(rec.seen[0].from.port, 40000);
  EXPECT_EQ(rec.seen[1].payload, big);
  EXPECT_TRUE(rec.seen[2].payload.empty());
  EXPECT_EQ(rec.seen[3].from.port, 40001);
  r.run(Duration::millis(50));
  auto d = take_udp(r, &taken);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].src, InAny::from(kRemote4));
  EXPECT_EQ(d[0].sport, 53);
  EXPECT_EQ(d[0].dst, InAny::from(kGuest4));
  EXPECT_EQ(d[0].dport, 40000);
  EXPECT_EQ(d[0].payload, bytes_of("hello"));
  EXPECT_EQ(d[0].eth_dst, kGuestMac);
  EXPECT_EQ(d[1].payload, big);
  EXPECT_TRUE(d[2].payload.empty());
  EXPECT_EQ(d[3].src, InAny::from(kRemote6));
  EXPECT_EQ(d[3].payload, bytes_of("six"));
  EXPECT_EQ(r.eng().udp().stats().flows_from_tap, 2u);
  EXPECT_EQ(r.eng().flows().active_count(), 2u);
  r.net().set_udp_observer(nullptr);
}

TEST(EngineUdp, GatewayReachesHostLoopback) {
  TcpRig r;
  std::size_t taken = 0;
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, SockAddr{InAny::from(Ipv4Addr::loopback()), 5353, 0},
                                   sim::UdpPeerKind::echo, Duration::micros(10)).ok());
  r.inject(guest_dgram({InAny::from(kGuest4), 1234}, {InAny::from(kGw4), 5353}, bytes_of("lo")));
  r.run(Duration::millis(5));
  auto d = take_udp(r, &taken);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].src, InAny::from(kGw4));  // the answer comes from where the guest sent
  EXPECT_EQ(d[0].sport, 5353);
}

TEST(EngineUdp, OneGuestPortManyPeers) {
  TcpRig r;
  std::size_t taken = 0;
  const InAny a = InAny::from(Ipv4Addr::of(203, 0, 113, 1));
  const InAny b = InAny::from(Ipv4Addr::of(203, 0, 113, 2));
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, SockAddr{a, 3478, 0}, sim::UdpPeerKind::echo, Duration::millis(2)).ok());
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, SockAddr{b, 3478, 0}, sim::UdpPeerKind::echo, Duration::millis(1)).ok());
  r.inject_batch({guest_dgram({InAny::from(kGuest4), 5000}, {a, 3478}, bytes_of("to-a")),
                  guest_dgram({InAny::from(kGuest4), 5000}, {b, 3478}, bytes_of("to-b"))});
  r.run(Duration::millis(10));
  auto d = take_udp(r, &taken);
  ASSERT_EQ(d.size(), 2u);
  // b answers first (shorter latency); each answer comes from its own peer.
  EXPECT_EQ(d[0].src, b);
  EXPECT_EQ(d[0].payload, bytes_of("to-b"));
  EXPECT_EQ(d[1].src, a);
  EXPECT_EQ(d[1].payload, bytes_of("to-a"));
  EXPECT_EQ(r.eng().flows().active_count(), 2u);
}

TEST(EngineUdp, InboundForwardBothWays) {
  core::Config cfg;
  cfg.fwd_in.udp.mode = core::FwdMode::spec;
  core::PortBindRule rule;
  rule.option = 'u';
  rule.spec = "5000:5001";
  rule.ports.push_back({5000, 5000});
  cfg.fwd_in.udp.rules.push_back(rule);
  cfg.fwd_in.udp.forwarded.set(5000);
  cfg.fwd_in.udp.set_delta(5000, 1);
  TcpRig r(rig_net(), cfg);
  ASSERT_TRUE(r.listen_status);
  EXPECT_EQ(r.eng().udp().listener_count(), 1u);
  std::size_t taken = 0;
  const SockAddr client{InAny::from(kRemote4), 6000, 0};
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, client, sim::UdpPeerKind::sink, Duration::millis(1)).ok());
  Recorder rec;
  r.net().set_udp_observer(&rec);
  const std::vector<u8> q = bytes_of("query");
  ASSERT_TRUE(r.net().inject_datagram(Netns::host, client, SockAddr{InAny::from(kGuest4), 5000, 0}, Bytes(q),
                                      Duration::millis(1)).ok());
  ASSERT_TRUE(r.net().inject_datagram(Netns::host, SockAddr{InAny::from(Ipv4Addr::loopback()), 6001, 0},
                                      SockAddr{InAny::from(Ipv4Addr::loopback()), 5000, 0}, Bytes{},
                                      Duration::millis(1)).ok());
  r.run(Duration::millis(5));
  auto d = take_udp(r, &taken);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].src, InAny::from(kRemote4));
  EXPECT_EQ(d[0].dport, 5001);
  EXPECT_EQ(d[0].payload, q);
  EXPECT_EQ(d[0].eth_dst, MacAddr::broadcast());  // the guest never talked: as upstream
  EXPECT_EQ(d[1].src, InAny::from(kGw4));  // 127.0.0.1 appears as the gateway
  EXPECT_TRUE(d[1].payload.empty());
  // The guest answers: the client gets it from the forwarded port.
  r.inject(guest_dgram({InAny::from(kGuest4), 5001}, {InAny::from(kRemote4), 6000}, bytes_of("answer")));
  ASSERT_EQ(rec.seen.size(), 1u);
  EXPECT_EQ(rec.seen[0].peer, client);
  EXPECT_EQ(rec.seen[0].from.port, 5000);
  EXPECT_EQ(rec.seen[0].payload, bytes_of("answer"));
  EXPECT_EQ(r.eng().udp().stats().flows_from_sock, 2u);
  r.net().set_udp_observer(nullptr);
}

TEST(EngineUdp, IdleFlowsExpireAfter180Seconds) {
  TcpRig r;
  ASSERT_TRUE(r.net().add_udp_peer(Netns::host, SockAddr{InAny::from(kRemote4), 53, 0}, sim::UdpPeerKind::echo,
                                   Duration::millis(1)).ok());
  const u32 socks0 = r.net().open_sockets();
  r.inject(guest_dgram({InAny::from(kGuest4), 40000}, {InAny::from(kRemote4), 53}, bytes_of("x")));
  EXPECT_EQ(r.eng().flows().active_count(), 1u);
  EXPECT_EQ(r.net().open_sockets(), socks0 + 1);
  // Traffic at +100 s keeps the flow until +280 s.
  r.run(Duration::seconds(100));
  r.inject(guest_dgram({InAny::from(kGuest4), 40000}, {InAny::from(kRemote4), 53}, bytes_of("y")));
  r.run(Duration::seconds(179));
  EXPECT_EQ(r.eng().flows().active_count(), 1u);
  r.run(Duration::seconds(2));
  EXPECT_EQ(r.eng().flows().active_count(), 0u);
  EXPECT_EQ(r.net().open_sockets(), socks0);
  EXPECT_EQ(r.eng().udp().stats().flows_expired, 1u);
  EXPECT_EQ(r.eng().flows().verify(), nullptr);
  EXPECT_EQ(r.eng().timers().verify(), nullptr);
}

TEST(EngineUdp, NoUdpDropsGuestDatagrams) {
  core::NetInfo n = rig_net();
  n.udp = false;
  TcpRig r(n);
  r.inject(guest_dgram({InAny::from(kGuest4), 40000}, {InAny::from(kRemote4), 53}, bytes_of("x")));
  EXPECT_EQ(r.eng().flows().active_count(), 0u);
  EXPECT_EQ(r.eng().stats().frames_dropped, 1u);
}

}  // namespace
}  // namespace passt::engine::test
