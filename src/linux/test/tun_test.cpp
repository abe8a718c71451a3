#include "linux/tun.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
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
