#include "linux/tun.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "linux/netlink.hpp"
#include "linux/test/ns_fixture.hpp"

namespace passt::os {
namespace {

class TunNs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ns.open()) GTEST_SKIP() << "cannot create network namespaces here";
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun";
  }
  test::TestNs ns;
};

TEST_F(TunNs, CreatesANamedTapInTheNamespace) {
  auto tap = open_tap(ns.runner.get(), "ptap0");
  ASSERT_TRUE(tap) << err_name(tap.err());
  EXPECT_EQ(tap->name, "ptap0");
  int fl = ::fcntl(tap->fd, F_GETFL);
  EXPECT_NE(fl & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(tap->fd, F_GETFD) & FD_CLOEXEC, 0);

  // It is in the test namespace, with the index and MAC we were told.
  auto l = ns.nl.link(std::string_view("ptap0"));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->index, tap->ifindex);
  EXPECT_EQ(l->mac, tap->mac);
  EXPECT_FALSE(tap->mac.is_zero());
  EXPECT_FALSE(tap->mac.is_multicast());
  EXPECT_FALSE(l->up());

  // Not in ours.
  Netlink here;
  ASSERT_TRUE(here.open());
  auto mine = here.link(std::string_view("ptap0"));
  EXPECT_FALSE(mine && mine->index == tap->ifindex && mine->mac == tap->mac);

  // IFF_NO_PI: reading an empty non-blocking tap is EAGAIN, not a header.
  char b[64];
  EXPECT_LT(::read(tap->fd, b, sizeof(b)), 0);
  EXPECT_EQ(errno, EAGAIN);

  // The interface lives as long as the fd.
  ::close(tap->fd);
  EXPECT_EQ(ns.nl.link(std::string_view("ptap0")).err(), Err::no_entry);
}

TEST_F(TunNs, VnetHeaderAndOffloads) {
  auto plain = open_tap(ns.runner.get(), "plain0");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->vnet_hdr_len, 0u);
  EXPECT_EQ(plain->offloads, 0u);
  ifreq ifr{};
  ASSERT_EQ(::ioctl(plain->fd, TUNGETIFF, &ifr), 0);
  EXPECT_EQ(ifr.ifr_flags & IFF_VNET_HDR, 0);
  ::close(plain->fd);

  auto v = open_tap(ns.runner.get(), "vnet0", true);
  ASSERT_TRUE(v) << err_name(v.err());
  EXPECT_EQ(v->vnet_hdr_len, 10u);
  ASSERT_EQ(::ioctl(v->fd, TUNGETIFF, &ifr), 0);
  EXPECT_NE(ifr.ifr_flags & IFF_VNET_HDR, 0);
  EXPECT_NE(ifr.ifr_flags & IFF_NO_PI, 0);
  int sz = 0;
  ASSERT_EQ(::ioctl(v->fd, TUNGETVNETHDRSZ, &sz), 0);
  EXPECT_EQ(sz, 10);
  // Every kernel since 2.6.27 takes these three.
  EXPECT_EQ(v->offloads, tun_offload::csum | tun_offload::tso4 | tun_offload::tso6);
  static_assert(tun_offload::csum == TUN_F_CSUM && tun_offload::tso4 == TUN_F_TSO4 &&
                tun_offload::tso6 == TUN_F_TSO6);
  ::close(v->fd);
}

TEST_F(TunNs, TemplateNameAndErrors) {
  auto a = open_tap(ns.runner.get(), "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name.rfind("tap", 0), 0u);
  EXPECT_NE(a->name, "tap%d");
  EXPECT_EQ(open_tap(ns.runner.get(), "0123456789abcdef").err(), Err::invalid);
  EXPECT_EQ(open_tap(ns.runner.get(), "a/b").err(), Err::invalid);

  // The name is taken by a tap that is attached already.
  auto b = open_tap(ns.runner.get(), "busy0");
  ASSERT_TRUE(b);
  EXPECT_EQ(open_tap(ns.runner.get(), "busy0").err(), Err::exists);
  // ... or by another kind of interface.
  ASSERT_TRUE(test::add_veth(ns.nl, "veth9", "veth9p"));
  EXPECT_FALSE(open_tap(ns.runner.get(), "veth9"));
  ::close(a->fd);
  ::close(b->fd);
}

}  // namespace
}  // namespace passt::os
