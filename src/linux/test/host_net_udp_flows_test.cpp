// The kernel behaviour proto::Udp builds its flows on, through
// LinuxHostNet (and modelled by the simulator's SimHostNet):
//  * several sockets bound to one (any, port) with SO_REUSEADDR, each
//    connected to another peer: each gets its own peer's datagrams only;
//  * an unconnected socket on that port (a listener) gets everybody else's;
//  * zero-length datagrams survive sendmmsg/recvmmsg;
//  * one recvmmsg returns many datagrams.
#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "linux/host_net.hpp"
#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockOpt;
using ports::SockType;
using test::wait_fd;

SockAddr lo(u16 port) { return {InAny::from(Ipv4Addr::loopback()), port, 0}; }
SockAddr any(u16 port) { return {InAny::from(Ipv4Addr::any()), port, 0}; }

class UdpFlowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop.init());
    net = std::make_unique<LinuxHostNet>(loop, LinuxHostNet::Options{});
    ASSERT_TRUE(net->init());
  }
  void TearDown() override {
    for (Sock s : socks) net->close(s);
  }
  Sock udp() {
    auto r = net->socket(Netns::host, Family::v4, SockType::udp);
    EXPECT_TRUE(r) << err_name(r.err());
    socks.push_back(*r);
    return *r;
  }
  // A peer bound to loopback on an ephemeral port.
  std::pair<Sock, SockAddr> peer() {
    Sock s = udp();
    EXPECT_TRUE(net->bind(s, lo(0)));
    return {s, *net->local_addr(s)};
  }
  void send(Sock s, const std::string& msg, const SockAddr* to) {
    Bytes b(reinterpret_cast<const u8*>(msg.data()), msg.size());
    ports::SendSlot m{std::span<const Bytes>(&b, 1), to};
    auto r = net->send_batch(s, std::span<const ports::SendSlot>(&m, 1));
    ASSERT_TRUE(r) << err_name(r.err());
    ASSERT_EQ(*r, 1u);
  }
  // Everything queued on `s` (bounded wait for the first datagram).
  std::vector<std::pair<std::string, SockAddr>> drain(Sock s, int wait_ms = 200) {
    std::vector<std::pair<std::string, SockAddr>> out;
    if (!wait_fd(s.v, POLLIN, wait_ms)) return out;
    std::vector<std::vector<u8>> bufs(16, std::vector<u8>(256));
    std::array<ports::RecvSlot, 16> slots;
    for (;;) {
      for (std::size_t i = 0; i < slots.size(); i++) slots[i] = ports::RecvSlot{bufs[i], 0, {}};
      auto r = net->recv_batch(s, slots);
      if (!r) break;
      for (std::size_t i = 0; i < *r; i++)
        out.emplace_back(std::string(reinterpret_cast<const char*>(bufs[i].data()), slots[i].len), slots[i].peer);
    }
    return out;
  }

  MonotonicClock clock;
  EventLoop loop{clock};
  std::unique_ptr<LinuxHostNet> net;
  std::vector<Sock> socks;
};

TEST_F(UdpFlowsTest, ConnectedSocketsSharingAPortEachGetTheirPeer) {
  auto [pa, a] = peer();
  auto [pb, b] = peer();
  auto [pc, c] = peer();
  // The "listener" first, then two flow sockets on the same port.
  Sock l = udp();
  ASSERT_TRUE(net->set_opt(l, SockOpt::reuseaddr, 1));
  ASSERT_TRUE(net->bind(l, any(0)));
  const u16 port = net->local_addr(l)->port;
  Sock fa = udp();
  Sock fb = udp();
  for (Sock f : {fa, fb}) ASSERT_TRUE(net->set_opt(f, SockOpt::reuseaddr, 1));
  ASSERT_TRUE(net->bind(fa, any(port)));
  ASSERT_TRUE(net->bind(fb, any(port)));
  ASSERT_TRUE(net->connect(fa, a));
  ASSERT_TRUE(net->connect(fb, b));

  const SockAddr to = lo(port);
  send(pa, "from-a", &to);
  send(pb, "from-b", &to);
  send(pc, "from-c", &to);
  auto ga = drain(fa);
  auto gb = drain(fb);
  auto gl = drain(l);
  ASSERT_EQ(ga.size(), 1u);
  EXPECT_EQ(ga[0].first, "from-a");
  EXPECT_EQ(ga[0].second, a);
  ASSERT_EQ(gb.size(), 1u);
  EXPECT_EQ(gb[0].first, "from-b");
  ASSERT_EQ(gl.size(), 1u);
  EXPECT_EQ(gl[0].first, "from-c");
  EXPECT_EQ(gl[0].second, c);

  // Replies: each flow socket sends from the shared port, without an address.
  send(fa, "to-a", nullptr);
  auto ra = drain(pa);
  ASSERT_EQ(ra.size(), 1u);
  EXPECT_EQ(ra[0].second.port, port);
}

TEST_F(UdpFlowsTest, ZeroLengthAndManyDatagramsPerCall) {
  auto [rx, rx_addr] = peer();
  Sock tx = udp();
  ASSERT_TRUE(net->connect(tx, rx_addr));
  std::vector<std::string> msgs;
  for (int i = 0; i < 40; i++) msgs.push_back(i % 5 == 0 ? std::string() : "m" + std::to_string(i));
  std::vector<Bytes> iov;
  for (const auto& m : msgs) iov.emplace_back(reinterpret_cast<const u8*>(m.data()), m.size());
  std::vector<ports::SendSlot> slots;
  for (const Bytes& b : iov) slots.push_back(ports::SendSlot{std::span<const Bytes>(&b, 1), nullptr});
  auto r = net->send_batch(tx, slots);
  ASSERT_TRUE(r) << err_name(r.err());
  ASSERT_EQ(*r, msgs.size());
  ASSERT_TRUE(wait_fd(rx.v, POLLIN));
  std::vector<std::vector<u8>> bufs(64, std::vector<u8>(64));
  std::vector<ports::RecvSlot> rs(64);
  for (std::size_t i = 0; i < rs.size(); i++) rs[i] = ports::RecvSlot{bufs[i], 0, {}};
  auto n = net->recv_batch(rx, rs);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, msgs.size());  // all of them in one call
  for (std::size_t i = 0; i < msgs.size(); i++)
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bufs[i].data()), rs[i].len), msgs[i]) << i;
}

}  // namespace
}  // namespace passt::os
