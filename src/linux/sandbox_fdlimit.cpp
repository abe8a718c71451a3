#include "linux/sandbox_fdlimit.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "linux/event_loop.hpp"
#include "ports/hostnet.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

int g_reserve = -1;
unsigned long long g_shed = 0;
long long g_last_warn_s = -1000;  // CLOCK_MONOTONIC seconds of the last warning
unsigned long long g_suppressed = 0;
constexpr long long kWarnEvery = 10;

long long monotonic_s() noexcept {
  timespec ts{};
  (void)::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec);
}

}  // namespace

bool fd_reserve_init() noexcept {
  if (g_reserve >= 0) return true;
  for (int fd = 0; fd <= 2 && g_reserve < 0; fd++) g_reserve = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (g_reserve < 0) g_reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return g_reserve >= 0;
}

bool fd_reserve_held() noexcept { return g_reserve >= 0; }

unsigned long long shed_connections() noexcept { return g_shed; }

bool shed_pending_connection(int listener, bool* nothing_pending) noexcept {
  const int saved = errno;
  if (nothing_pending != nullptr) *nothing_pending = false;
  // Never block the loop: a listener that is not non-blocking is left alone.
  const int fl = ::fcntl(listener, F_GETFL);
  if (g_reserve < 0 || fl < 0 || (fl & O_NONBLOCK) == 0) {
    errno = saved;
    return false;
  }
  ::close(g_reserve);
  g_reserve = -1;
  bool shed = false;
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    // A RST rather than an orderly close: nobody will ever serve it.
    // (Harmless on a UNIX socket, which has no lingering.)
    const linger l{1, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd);
    g_shed++;
    shed = true;
  } else if (nothing_pending != nullptr && errno == EAGAIN) {  // (EWOULDBLOCK is EAGAIN on Linux)
    *nothing_pending = true;
  }
  g_reserve = ::fcntl(listener, F_DUPFD_CLOEXEC, 3);
  if (shed) {
    const long long now = monotonic_s();
    if (now - g_last_warn_s >= kWarnEvery) {
      LOG_WARN("Out of file descriptors: resetting a new connection (%llu so far, %llu warnings "
               "suppressed)",
               g_shed, g_suppressed);
      g_last_warn_s = now;
    } else {
      g_suppressed++;
    }
  }
  errno = saved;
  return shed;
}

bool park_listener_at_fd_limit(EventLoop& loop, int listener, bool* parked) noexcept {
  bool none = false;
  if (shed_pending_connection(listener, &none) || none || *parked) return false;
  if (!loop.modify_handler(listener, ports::ev::in | ports::ev::edge)) return false;
  *parked = true;
  return true;
}

void unpark_listener(EventLoop& loop, int listener, bool* parked) noexcept {
  if (!*parked) return;
  (void)loop.modify_handler(listener, ports::ev::in);
  *parked = false;
}

}  // namespace passt::os
