// /proc/net/{tcp,udp}{,6} parsing and the scanner, against real sockets in
// the test's own namespace and in a namespace the test creates.
#include "linux/procnet.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <new>
#include <string>

#include "linux/test/ns_fixture.hpp"

namespace passt::os {
namespace {

using Words = std::array<u64, ports::kPortWords>;

bool has(const Words& w, u16 port) { return ((w[port >> 6] >> (port & 63)) & 1) != 0; }
std::size_t count(const Words& w) {
  std::size_t n = 0;
  for (u64 x : w) n += static_cast<std::size_t>(__builtin_popcountll(x));
  return n;
}

TEST(ProcNet, ParsesLines) {
  u16 port = 0;
  u8 st = 0;
  ASSERT_TRUE(parse_proc_net_line(
      "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 "
      "0000000000000000 100 0 0 10 0",
      &port, &st));
  EXPECT_EQ(port, 631);
  EXPECT_EQ(st, 0x0a);
  ASSERT_TRUE(parse_proc_net_line(
      "  12: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
      "00000000:00000000 00:00000000 00000000  1000        0 99 1 0000000000000000 100 0 0 10 0",
      &port, &st));
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(parse_proc_net_line(
      " 1234: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 "
      "5678 2 0000000000000000 0",
      &port, &st));
  EXPECT_EQ(port, 5353);
  EXPECT_EQ(st, 0x07);
  ASSERT_TRUE(parse_proc_net_line("0: 0100007F:FFFF 0100007F:0016 01", &port, &st));
  EXPECT_EQ(port, 65535);
  EXPECT_EQ(st, 0x01);
  for (const char* bad :
       {"", "  sl  local_address rem_address   st tx_queue", "0: 0100007F:0277", "x: 0100007F:0277 00000000:0000 0A",
        "0: 0100007F0277 00000000:0000 0A", "0: 0100007F:10000 00000000:0000 0A", "0: 100007F:0277 00000000:0000 0A",
        "0: 0100007F:0277 00000000:0000 0AB", "0: 0100007F:0277 00000000:0000 ", "0: 0100007F:0277 00000000:0000 0A:",
        "0: 0100007F:g277 00000000:0000 0A"}) {
    EXPECT_FALSE(parse_proc_net_line(bad, &port, &st)) << bad;
  }
}

TEST(ProcNet, ScansTextSkippingTheHeader) {
  const std::string text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
      "   1: 0100007F:0016 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
      "   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n"
      "garbage\n"
      "   3: 00000000:0050 00000000:0000 0A";  // no newline at the end
  Words w{};
  EXPECT_EQ(scan_proc_net_text(text, kProcNetTcpListen, w), 3u);
  EXPECT_TRUE(has(w, 631));
  EXPECT_TRUE(has(w, 80));
  EXPECT_FALSE(has(w, 22)) << "established, not listening";
  EXPECT_EQ(count(w), 2u);
  Words h{};
  EXPECT_EQ(scan_proc_net_text("   0: 0100007F:0277 00000000:0000 0A\n", kProcNetTcpListen, h), 0u)
      << "the first line is the header";
}

// A socket of `type` bound to 0.0.0.0:0 (listening, for TCP): its port.
struct Bound {
  int fd = -1;
  u16 port = 0;
  Bound(int type, bool v6 = false) {
    fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_storage ss{};
    socklen_t sl;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      sl = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      sl = sizeof(*a);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0) return;
    if (type == SOCK_STREAM && ::listen(fd, 1) < 0) return;
    sl = sizeof(ss);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) < 0) return;
    port = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
              : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~Bound() {
    if (fd >= 0) ::close(fd);
  }
};

// Makes sockets inside the test namespace.
class BindInNs final : public NsTask {
 public:
  explicit BindInNs(int type, bool v6) : type_(type), v6_(v6) {}
  void run() noexcept override { b = new (storage_) Bound(type_, v6_); }
  Bound* b = nullptr;
  ~BindInNs() override {
    if (b != nullptr) b->~Bound();
  }

 private:
  int type_;
  bool v6_;
  alignas(Bound) unsigned char storage_[sizeof(Bound)];
};

TEST(ProcNet, ScannerSeesEachNamespaceSeparately) {
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

  ProcNetScanner sc;
  ASSERT_TRUE(sc.open(ns.runner.get()));
  Words w{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w));
  EXPECT_TRUE(has(w, tcp_ns.b->port));
  EXPECT_FALSE(has(w, tcp_host.port));
  EXPECT_EQ(count(w), 1u) << "nothing else listens in a fresh namespace";
  Words u{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::udp, u));
  EXPECT_TRUE(has(u, udp_ns.b->port)) << "IPv6 file";
  Words h{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::host, ports::SockType::tcp, h));
  EXPECT_TRUE(has(h, tcp_host.port));

  // Re-reading follows changes (the files are kept open).
  const u16 gone = tcp_ns.b->port;
  tcp_ns.b->~Bound();
  tcp_ns.b = nullptr;
  Words w2{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w2));
  EXPECT_FALSE(has(w2, gone));
  EXPECT_EQ(sc.bound_ports(ports::Netns::guest, ports::SockType::ping, w2).err(), Err::invalid);
}

TEST(ProcNet, ManySocketsCrossReadBoundaries) {
  // Enough listeners that the file is read in several chunks: every one of
  // them is found.
  test::TestNs ns;
  if (!ns.open()) GTEST_SKIP() << "cannot create a network namespace here";
  constexpr int kN = 300;  // ~150 bytes a line: > 2 buffers of 16 KiB
  std::array<BindInNs*, kN> socks{};
  for (auto& s : socks) {
    s = new BindInNs(SOCK_STREAM, false);
    ASSERT_TRUE(ns.runner->run(*s));
  }
  ProcNetScanner sc;
  ASSERT_TRUE(sc.open(ns.runner.get()));
  Words w{};
  ASSERT_TRUE(sc.bound_ports(ports::Netns::guest, ports::SockType::tcp, w));
  for (auto* s : socks) EXPECT_TRUE(has(w, s->b->port)) << s->b->port;
  EXPECT_EQ(count(w), static_cast<std::size_t>(kN));
  for (auto* s : socks) delete s;
}

}  // namespace
}  // namespace passt::os
