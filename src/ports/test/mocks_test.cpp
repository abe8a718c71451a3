// The mocks compile and can stand in for each port.
#include "ports/test/mocks.hpp"

#include <gtest/gtest.h>

namespace passt::ports {
namespace {

using ::testing::Return;

TEST(Mocks, StandInForPorts) {
  MockTap tap;
  MockHostNet net;
  MockEntropy entropy;
  Ports p{tap, net, entropy};
  EXPECT_CALL(tap, connected()).WillOnce(Return(true));
  EXPECT_TRUE(p.tap.connected());
  EXPECT_CALL(net, socket(Netns::host, Family::v4, SockType::tcp))
      .WillOnce(Return(Result<Sock>(Sock{7})));
  auto s = p.net.socket(Netns::host, Family::v4, SockType::tcp);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->v, 7);
}

}  // namespace
}  // namespace passt::ports
