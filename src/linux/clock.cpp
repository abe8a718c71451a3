#include "linux/clock.hpp"

#include <sys/random.h>

#include <cerrno>
#include <ctime>

#include "util/check.hpp"

namespace passt::os {

Instant monotonic_now() noexcept {
  timespec ts{};
  // CLOCK_MONOTONIC cannot fail with a valid pointer.
  int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
  PASST_CHECK(rc == 0);
  const i64 sec = ts.tv_sec;  // time_t is 64-bit on every target we build
  const i64 nsec = ts.tv_nsec;
  return Instant::from_nanos(sec * 1000000000 + nsec);
}

Instant MonotonicClock::now() noexcept { return monotonic_now(); }

void GetrandomEntropy::fill(MutBytes out) noexcept {
  std::size_t done = 0;
  // Bound: each iteration either makes progress or was interrupted; a
  // non-EINTR failure stops the process.
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      PASST_CHECK(errno == EINTR);
      continue;
    }
    PASST_CHECK(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace passt::os
