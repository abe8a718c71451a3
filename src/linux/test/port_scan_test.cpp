// The two ports::PortScan adapters, ProcNetScanner (/proc/net) and
// SockDiagScanner (inet_diag netlink dumps), against real sockets in the
// test's own namespace and in namespaces the test creates: each alone, and
// against each other.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <new>
#include <vector>

#include "linux/procnet.hpp"
#include "linux/sock_diag.hpp"
#include "linux/test/ns_fixture.hpp"
#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

using Words = test::PortBits;
constexpr auto has = test::has_port;
constexpr auto count = test::port_count;

sockaddr_storage any_addr(bool v6, socklen_t* sl, u16 port = 0) {
  sockaddr_storage ss{};
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    *sl = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    *sl = sizeof(*a);
  }
  return ss;
}

u16 local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t sl = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) < 0) return 0;
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

// A socket of `type` bound to the wildcard address, port 0 (listening, for
// TCP, unless `listen` is false): its port.
struct Bound {
  int fd = -1;
  u16 port = 0;
  explicit Bound(int type, bool v6 = false, bool listen = true) {
    fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    socklen_t sl = 0;
    sockaddr_storage ss = any_addr(v6, &sl);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0) return;
    if (type == SOCK_STREAM && listen && ::listen(fd, 8) < 0) return;
    port = local_port(fd);
  }
  ~Bound() {
    if (fd >= 0) ::close(fd);
  }
  Bound(const Bound&) = delete;
  Bound& operator=(const Bound&) = delete;
};

// Makes a Bound inside the test namespace.
class BindInNs final : public NsTask {
 public:
  BindInNs(int type, bool v6) : type_(type), v6_(v6) {}
  void run() noexcept override { b = new (storage_) Bound(type_, v6_); }
  Bound* b = nullptr;
  ~BindInNs() override {
    if (b != nullptr) b->~Bound();
  }
  BindInNs(const BindInNs&) = delete;
  BindInNs& operator=(const BindInNs&) = delete;

 private:
  int type_;
  bool v6_;
  alignas(Bound) unsigned char storage_[sizeof(Bound)];
};

template <class Scanner>
class PortScanTest : public ::testing::Test {};
using Scanners = ::testing::Types<ProcNetScanner, SockDiagScanner>;
class ScannerNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, ProcNetScanner> ? "ProcNet" : "SockDiag";
  }
};
TYPED_TEST_SUITE(PortScanTest, Scanners, ScannerNames);

TYPED_TEST(PortScanTest, SeesEachNamespaceSeparately) {
  test::TestNs ns;
  if (!ns.open()) GTEST_SKIP() << "cannot create a network namespace here";
  BindInNs tcp_ns(SOCK_STREAM, false);
  BindInNs udp_ns(SOCK_DGRAM, true);
  ASSERT_TRUE(ns.runner->run(tcp_ns));
  ASSERT_TRUE(ns.runner->run(udp_ns));
  ASSERT_NE(tcp_ns.b->port, 0);
  ASSERT_NE(udp_ns.b->port, 0);
  Bound tcp_host(SOCK_STREAM);
  ASSERT_NE(tcp_host.port, 0);

  TypeParam sc;
  ASSERT_TRUE(sc.open(ns.runner.get()));
  Words w{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w));
  EXPECT_TRUE(has(w, tcp_ns.b->port));
  EXPECT_FALSE(has(w, tcp_host.port));
  EXPECT_EQ(count(w), 1u) << "nothing else listens in a fresh namespace";
  Words u{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::udp, u));
  EXPECT_TRUE(has(u, udp_ns.b->port)) << "IPv6";
  Words h{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::host, ports::SockType::tcp, h));
  EXPECT_TRUE(has(h, tcp_host.port));

  // Asking again follows changes.
  const u16 gone = tcp_ns.b->port;
  tcp_ns.b->~Bound();
  tcp_ns.b = nullptr;
  Words w2{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w2));
  EXPECT_FALSE(has(w2, gone));
  EXPECT_EQ(sc.bound_ports(ports::Netns::guest, ports::SockType::ping, w2).err(), Err::invalid);
}

TYPED_TEST(PortScanTest, FindsManySockets) {
  // More listeners than one read of the /proc file (16 KiB, ~150 bytes a
  // line) or one netlink datagram (32 KiB, ~100 bytes a record) holds.
  test::TestNs ns;
  if (!ns.open()) GTEST_SKIP() << "cannot create a network namespace here";
  constexpr int kN = 500;
  std::vector<BindInNs*> socks(kN);
  for (int i = 0; i < kN; i++) {
    socks[static_cast<std::size_t>(i)] = new BindInNs(SOCK_STREAM, (i & 1) != 0);
    ASSERT_TRUE(ns.runner->run(*socks[static_cast<std::size_t>(i)]));
    ASSERT_NE(socks[static_cast<std::size_t>(i)]->b->port, 0);
  }
  TypeParam sc;
  ASSERT_TRUE(sc.open(ns.runner.get()));
  Words w{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w));
  for (auto* s : socks) EXPECT_TRUE(has(w, s->b->port)) << s->b->port;
  EXPECT_EQ(count(w), static_cast<std::size_t>(kN));
  for (auto* s : socks) delete s;
}

// Inside a namespace with loopback up: sockets in every state the scan must
// tell apart.  Each port is recorded as expected (listening TCP, unconnected
// UDP) or not (bound-only TCP, both ends of an established connection, a
// TIME_WAIT end, connected UDP).
class Zoo final : public NsTask {
 public:
  void run() noexcept override {
    for (bool v6 : {false, true}) {
      keep(SOCK_STREAM, v6, true, &tcp_yes);
      keep(SOCK_STREAM, v6, false, &tcp_no);  // bound, not listening
      keep(SOCK_DGRAM, v6, true, &udp_yes);
      // Established pair and a TIME_WAIT: the client's ephemeral ports.
      const int lfd = keep(SOCK_STREAM, v6, true, &tcp_yes);
      for (int i = 0; i < 2 && lfd >= 0; i++) {
        const int c = connected(SOCK_STREAM, v6, local_port(lfd));
        const int a = c < 0 ? -1 : ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0 || a < 0) {
          failed = true;
          return;
        }
        tcp_no.push_back(local_port(c));
        fds.push_back(a);
        if (i == 0) {
          fds.push_back(c);  // stays established
        } else {
          ::close(c);  // the client closes first: TIME_WAIT on its side
          ::close(a);
          fds.pop_back();
        }
      }
      // A connected UDP socket: not a forwarding candidate.
      const int u = keep(SOCK_DGRAM, v6, true, &udp_yes);
      const int cu = u < 0 ? -1 : connected(SOCK_DGRAM, v6, local_port(u));
      if (cu < 0) {
        failed = true;
        return;
      }
      fds.push_back(cu);
      udp_no.push_back(local_port(cu));
    }
  }
  ~Zoo() override {
    for (int f : fds) ::close(f);
  }

  std::vector<int> fds;
  std::vector<u16> tcp_yes, tcp_no, udp_yes, udp_no;
  bool failed = false;

 private:
  int keep(int type, bool v6, bool listen, std::vector<u16>* ports) {
    auto* b = new Bound(type, v6, listen);
    const int fd = b->fd;
    if (b->port == 0) failed = true;
    ports->push_back(b->port);
    b->fd = -1;
    delete b;
    fds.push_back(fd);
    return fd;
  }
  static int connected(int type, bool v6, u16 port) {
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_storage ss{};
    socklen_t sl = 0;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      a->sin6_port = htons(port);
      sl = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a->sin_port = htons(port);
      sl = sizeof(*a);
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
};

TEST(PortScan, BothScannersReportExactlyTheListeningSockets) {
  test::TestNs ns;
  if (!ns.open()) GTEST_SKIP() << "cannot create a network namespace here";
  ASSERT_TRUE(ns.nl.set_link_up(ns.ifindex("lo"), true));
  Zoo zoo;
  ASSERT_TRUE(ns.runner->run(zoo));
  ASSERT_FALSE(zoo.failed);

  ProcNetScanner proc;
  SockDiagScanner diag;
  ASSERT_TRUE(proc.open(ns.runner.get()));
  ASSERT_TRUE(diag.open(ns.runner.get()));
  for (auto type : {ports::SockType::tcp, ports::SockType::udp}) {
    const bool tcp = type == ports::SockType::tcp;
    Words p{};
    Words d{};
    ASSERT_TRUE(proc.bound_ports(ports::Netns::guest, type, p));
    ASSERT_TRUE(diag.bound_ports(ports::Netns::guest, type, d));
    EXPECT_EQ(p, d) << (tcp ? "tcp" : "udp");
    const auto& yes = tcp ? zoo.tcp_yes : zoo.udp_yes;
    const auto& no = tcp ? zoo.tcp_no : zoo.udp_no;
    for (u16 port : yes) EXPECT_TRUE(has(d, port)) << port;
    for (u16 port : no) EXPECT_FALSE(has(d, port)) << port;
    EXPECT_EQ(count(d), yes.size());
  }
}

TEST(SockDiag, ParsesTheFixedPartOfARecord) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET6;
  m.idiag_state = 10;
  m.id.idiag_sport = htons(8080);
  m.id.idiag_dport = htons(1);
  std::array<u8, sizeof(m) + 8> buf{};
  std::memcpy(buf.data(), &m, sizeof(m));
  DiagRecord r;
  ASSERT_TRUE(parse_inet_diag_msg(Bytes(buf.data(), buf.size()), &r)) << "attributes follow";
  EXPECT_EQ(r.family, AF_INET6);
  EXPECT_EQ(r.state, 10);
  EXPECT_EQ(r.port, 8080);
  EXPECT_FALSE(parse_inet_diag_msg(Bytes(buf.data(), sizeof(m) - 1), &r));
  EXPECT_FALSE(parse_inet_diag_msg(Bytes(), &r));
}

TEST(SockDiag, WithoutANamespaceTheGuestSideIsEmpty) {
  // Opened without a namespace (as ProcNetScanner allows): the guest side
  // reports nothing, without an error.
  SockDiagScanner sc;
  ASSERT_TRUE(sc.open(nullptr));
  Words w{};
  EXPECT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w));
  EXPECT_EQ(count(w), 0u);
}

}  // namespace
}  // namespace passt::os
