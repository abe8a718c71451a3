// net.ipv4.ping_group_range: parsing, the kernel's group rule, the probe
// and the warning; and the ping-socket facts proto::Icmp relies on, checked
// against the kernel in a test-made network namespace: the socket's bound
// "port" is the identifier on the wire, replies come back as bare ICMP
// messages carrying it, and the socket never sees its own requests.
#include "linux/ping_group.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "linux/clock.hpp"
#include "linux/event_loop.hpp"
#include "linux/host_net.hpp"
#include "linux/test/test_support.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"

namespace passt::os {
namespace {

using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockType;

TEST(PingGroup, ParsesTheKernelsFormat) {
  EXPECT_EQ(parse_ping_group_range("1\t0\n"), (PingGroupRange{1, 0}));
  EXPECT_EQ(parse_ping_group_range("0 2147483647"), (PingGroupRange{0, 2147483647u}));
  EXPECT_EQ(parse_ping_group_range("100  200\n"), (PingGroupRange{100, 200}));
  EXPECT_EQ(parse_ping_group_range("0 4294967295"), (PingGroupRange{0, 4294967295u}));
  EXPECT_FALSE(parse_ping_group_range(""));
  EXPECT_FALSE(parse_ping_group_range("1"));
  EXPECT_FALSE(parse_ping_group_range("1 "));
  EXPECT_FALSE(parse_ping_group_range(" 1 2"));
  EXPECT_FALSE(parse_ping_group_range("1 2 3"));
  EXPECT_FALSE(parse_ping_group_range("1 2\n\n"));
  EXPECT_FALSE(parse_ping_group_range("-1 2"));
  EXPECT_FALSE(parse_ping_group_range("0 4294967296"));
  EXPECT_FALSE(parse_ping_group_range("a b"));
}

TEST(PingGroup, EffectiveOrSupplementaryGroupInRange) {
  const PingGroupRange r{100, 200};
  EXPECT_TRUE(ping_group_allowed(r, 100, {}));
  EXPECT_TRUE(ping_group_allowed(r, 200, {}));
  EXPECT_FALSE(ping_group_allowed(r, 99, {}));
  EXPECT_FALSE(ping_group_allowed(r, 201, {}));
  const u32 groups[] = {5, 150};
  EXPECT_TRUE(ping_group_allowed(r, 0, groups));
  // The default "1 0" is empty: nobody, not even root.
  EXPECT_FALSE(ping_group_allowed(PingGroupRange{}, 0, groups));
  EXPECT_FALSE(ping_group_allowed(PingGroupRange{}, 1, {}));
}

TEST(PingGroup, WarningTexts) {
  EXPECT_EQ(ping_socket_warning(Err::none, PingGroupCheck{}), "");
  PingGroupCheck c;
  c.known = true;
  c.range = PingGroupRange{1, 0};
  c.egid = 1000;
  const std::string w = ping_socket_warning(Err::access, c);
  EXPECT_NE(w.find("\"1 0\""), std::string::npos) << w;
  EXPECT_NE(w.find("group 1000"), std::string::npos) << w;
  EXPECT_NE(w.find("ping_group_range=\"1 1000\""), std::string::npos) << w;
  c.known = false;
  EXPECT_NE(ping_socket_warning(Err::access, c).find("net.ipv4.ping_group_range"), std::string::npos);
  EXPECT_NE(ping_socket_warning(Err::not_supported, c).find("dropped"), std::string::npos);
}

TEST(PingGroup, ReadsTheFile) {
  char path[] = "/tmp/passt-pgr-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string egid = std::to_string(::getegid());
  const std::string text = egid + "\t" + egid + "\n";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  PingGroupCheck c = check_ping_group_range(path);
  EXPECT_TRUE(c.known);
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.egid, ::getegid());
  ::unlink(path);
  c = check_ping_group_range("/nonexistent/ping_group_range");
  EXPECT_FALSE(c.known);
  EXPECT_FALSE(c.allowed);
}

// Runs `body` on a thread inside a fresh network namespace (lo up; the
// range opened to every group by make_test_netns).  False if namespaces
// cannot be made here.
template <class F>
bool in_test_netns(F body) {
  const int ns = test::make_test_netns();
  if (ns < 0) return false;
  std::thread t([&] {
    if (::setns(ns, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "setns";
      return;
    }
    body();
  });
  t.join();
  ::close(ns);
  return true;
}

bool write_range(const char* text) {
  const int fd = ::open(kPingGroupRangePath, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto n = ::write(fd, text, std::strlen(text));
  ::close(fd);
  return n == static_cast<ssize_t>(std::strlen(text));
}

TEST(PingGroup, ProbeFollowsTheRange) {
  const bool ran = in_test_netns([] {
    const Status open = probe_ping_socket(false);
    if (!open && open.err() == Err::not_supported) GTEST_SKIP() << "no ping sockets";
    EXPECT_TRUE(open) << err_name(open.err());
    EXPECT_TRUE(check_ping_group_range().allowed);
    ASSERT_TRUE(write_range("1 0"));
    EXPECT_EQ(probe_ping_socket(false).err(), Err::access);
    EXPECT_EQ(probe_ping_socket(true).err(), Err::access) << "one sysctl for both families";
    const PingGroupCheck c = check_ping_group_range();
    EXPECT_TRUE(c.known);
    EXPECT_FALSE(c.allowed);
    EXPECT_EQ(c.range, (PingGroupRange{1, 0}));
  });
  if (!ran) GTEST_SKIP() << "cannot create network namespaces here";
}

bool wait_in(int fd, int ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// One echo through a ping socket to the loopback, as proto::Icmp does it.
void echo_through_ping_socket(bool v6) {
  MonotonicClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.init());
  LinuxHostNet net(loop, {});
  ASSERT_TRUE(net.init());
  const Family fam = v6 ? Family::v6 : Family::v4;
  auto s = net.socket(Netns::host, fam, SockType::ping);
  ASSERT_TRUE(s) << err_name(s.err());
  const InAny any = v6 ? InAny::from(Ipv6Addr::any()) : InAny::from(Ipv4Addr::any());
  ASSERT_TRUE(net.bind(*s, SockAddr{any, 0, 0}));
  auto la = net.local_addr(*s);
  ASSERT_TRUE(la);
  const u16 kernel_id = la->port;
  EXPECT_NE(kernel_id, 0) << "binding identifier 0 lets the kernel pick one";

  // The guest's message as it wrote it: its own identifier and checksum.
  std::array<u8, 8 + 5> msg{};
  msg[0] = v6 ? 128 : 8;
  store_be16(msg.data() + 4, 0xabcd);
  store_be16(msg.data() + 6, 7);
  const char data[] = "hello";
  std::memcpy(msg.data() + 8, data, 5);
  store_be16(msg.data() + 2, 0x1234);  // wrong on purpose: the kernel recomputes it
  const InAny lo = v6 ? InAny::from(Ipv6Addr::loopback()) : InAny::from(Ipv4Addr::loopback());
  const SockAddr to{lo, 0, 0};
  const Bytes iov[1] = {Bytes(msg)};
  const ports::SendSlot m{std::span<const Bytes>(iov), &to};
  auto sent = net.send_batch(*s, std::span<const ports::SendSlot>(&m, 1));
  ASSERT_TRUE(sent) << err_name(sent.err());
  EXPECT_EQ(*sent, 1u);

  ASSERT_TRUE(wait_in(s->v));
  std::vector<u8> buf(2048);
  ports::RecvSlot slot{MutBytes(buf), 0, {}};
  auto got = net.recv_batch(*s, std::span<ports::RecvSlot>(&slot, 1));
  ASSERT_TRUE(got) << err_name(got.err());
  ASSERT_EQ(*got, 1u);
  // A bare ICMP message (no IP header): an echo reply with the kernel's
  // identifier, our sequence number and data, from the target.
  ASSERT_EQ(slot.len, msg.size());
  EXPECT_EQ(buf[0], v6 ? 129 : 0);
  EXPECT_EQ(buf[1], 0);
  EXPECT_EQ(load_be16(buf.data() + 4), kernel_id);
  EXPECT_EQ(load_be16(buf.data() + 6), 7);
  EXPECT_EQ(std::memcmp(buf.data() + 8, data, 5), 0);
  EXPECT_EQ(slot.peer.addr, lo);
  if (!v6) {
    EXPECT_EQ(wire::Csum().add(Bytes(buf.data(), slot.len)).finish(), 0) << "IPv4: a valid checksum";
  }
  // Only the reply: the request itself never shows up on the socket.
  EXPECT_FALSE(wait_in(s->v, 100));
  auto more = net.recv_batch(*s, std::span<ports::RecvSlot>(&slot, 1));
  EXPECT_FALSE(more);
  EXPECT_EQ(more.err(), Err::again);
  net.close(*s);
}

TEST(PingSocket, EchoThroughTheKernelV4) {
  const bool ran = in_test_netns([] {
    if (probe_ping_socket(false).err() == Err::not_supported) GTEST_SKIP() << "no ping sockets";
    echo_through_ping_socket(false);
  });
  if (!ran) GTEST_SKIP() << "cannot create network namespaces here";
}

TEST(PingSocket, EchoThroughTheKernelV6) {
  const bool ran = in_test_netns([] {
    if (probe_ping_socket(true).err() == Err::not_supported) GTEST_SKIP() << "no ICMPv6 ping sockets";
    echo_through_ping_socket(true);
  });
  if (!ran) GTEST_SKIP() << "cannot create network namespaces here";
}

}  // namespace
}  // namespace passt::os
