#include "linux/sandbox_fdlimit.hpp"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "linux/clock.hpp"
#include "linux/event_loop.hpp"
#include "linux/host_net.hpp"
#include "linux/test/sandbox_child.hpp"

namespace passt::os {
namespace {

using test::in_child;
using test::Say;

// At RLIMIT_NOFILE a pending connection is reset through the reserve
// descriptor, the reserve is taken back, and a listener with nothing
// pending (or a blocking one) is left alone.
TEST(FdLimit, PendingConnectionIsResetAtTheLimit) {
  auto out = in_child([](const Say& say) {
    rlimit rl{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) return 2;
    if (!fd_reserve_init() || !fd_reserve_held()) return 3;
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || ::listen(l, 8) < 0 ||
        ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) < 0)
      return 4;
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) return 5;
    // Use up every descriptor.
    while (::fcntl(0, F_DUPFD_CLOEXEC, 3) >= 0) {
    }
    if (errno != EMFILE) return 6;
    if (::accept4(l, nullptr, nullptr, SOCK_CLOEXEC) >= 0 || errno != EMFILE) return 7;
    errno = EMFILE;
    if (!shed_pending_connection(l)) {
      say("nothing shed");
      return 1;
    }
    if (errno != EMFILE) return 8;  // preserved
    if (!fd_reserve_held() || shed_connections() != 1) return 9;
    char b;
    if (::recv(c, &b, 1, 0) != -1 || errno != ECONNRESET) {
      say("client: %s", std::strerror(errno));
      return 1;
    }
    // Nothing pending: accept() says EAGAIN, nothing shed, reserve kept.
    if (shed_pending_connection(l) || !fd_reserve_held()) return 10;
    // A blocking listener is never accepted on from here.
    const int fl = ::fcntl(l, F_GETFL);
    (void)::fcntl(l, F_SETFL, fl & ~O_NONBLOCK);
    if (shed_pending_connection(l)) return 11;
    return 0;
  });
  EXPECT_TRUE(out.ok()) << out.describe();
}

// Through the HostNet port: the reset connection is reported as consumed
// (Err::conn_aborted), so that the core goes on accepting instead of
// pausing the listener; then, the backlog empty, "would block" (the kernel
// says EMFILE before it looks at the backlog).
TEST(FdLimit, AcceptAtTheLimitReportsTheConnectionAsAborted) {
  auto out = in_child([](const Say& say) {
    rlimit rl{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) return 2;
    if (!fd_reserve_init()) return 3;
    MonotonicClock clock;
    EventLoop loop(clock);
    if (!loop.init()) return 4;
    LinuxHostNet net(loop, {});
    if (!net.init()) return 5;
    auto l = net.socket(ports::Netns::host, ports::Family::v4, ports::SockType::tcp);
    if (!l || !net.bind(*l, {InAny::from(Ipv4Addr::loopback()), 0, 0}) || !net.listen(*l, 8))
      return 6;
    auto local = net.local_addr(*l);
    if (!local) return 7;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(local->port);
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) return 8;
    while (::fcntl(0, F_DUPFD_CLOEXEC, 3) >= 0) {
    }
    auto r = net.accept(*l, nullptr);
    if (r || r.err() != Err::conn_aborted) {
      say("first accept: %s", r ? "a socket" : err_name(r.err()));
      return 1;
    }
    r = net.accept(*l, nullptr);
    if (r || r.err() != Err::again) {
      say("second accept: %s", r ? "a socket" : err_name(r.err()));
      return 1;
    }
    char b;
    if (::recv(c, &b, 1, 0) != -1 || errno != ECONNRESET) return 9;
    return 0;
  });
  EXPECT_TRUE(out.ok()) << out.describe();
}

}  // namespace
}  // namespace passt::os
