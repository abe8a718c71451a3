// /proc/net/{tcp,udp}{,6} line and text parsing.  The scanner itself, with
// SockDiagScanner, against real sockets: port_scan_test.cpp.
#include "linux/procnet.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

using Words = test::PortBits;
constexpr auto has = test::has_port;
constexpr auto count = test::port_count;

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

}  // namespace
}  // namespace passt::os
