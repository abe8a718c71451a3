// Helpers shared by the Linux adapter tests: a recording EventSink, a test
// network namespace, and bounded waits (no fixed sleeps).
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <thread>
#include <cstdint>
#include <vector>

#include "linux/clock.hpp"
#include "linux/event_loop.hpp"
#include "ports/events.hpp"
#include "ports/port_scan.hpp"

namespace passt::os::test {

// A ports::PortScan result: one bit per port.
using PortBits = std::array<u64, ports::kPortWords>;
inline bool has_port(const PortBits& w, u16 port) { return ((w[port >> 6] >> (port & 63)) & 1) != 0; }
inline std::size_t port_count(const PortBits& w) {
  std::size_t n = 0;
  for (u64 x : w) n += static_cast<std::size_t>(__builtin_popcountll(x));
  return n;
}

struct SocketEvent {
  u64 ref;
  u32 events;
};

// Counts without storing (nothing allocated per event).
class CountingSink final : public ports::EventSink {
 public:
  void on_tap_frames(std::span<const Bytes> f, Instant) noexcept override { frames += f.size(); }
  void on_tap_state(bool, Instant) noexcept override { states++; }
  void on_socket_event(u64, u32, Instant) noexcept override { events++; }
  void on_deadline(Instant) noexcept override { deadline = Instant::never(); }
  void flush(Instant) noexcept override {}
  Instant next_deadline() const noexcept override { return deadline; }
  std::size_t frames = 0;
  int states = 0;
  int events = 0;
  Instant deadline = Instant::never();
};

// Calls of the global operator new so far in this test binary (alloc_test.cpp
// replaces it with a counting one for all of unit_linux).
long allocations() noexcept;

// Records everything; the deadline and a stop-on-deadline hook are settable.
class RecordingSink final : public ports::EventSink {
 public:
  void on_tap_frames(std::span<const Bytes> batch, Instant) noexcept override {
    batches.push_back(batch.size());
    for (Bytes f : batch) {
      frames.emplace_back(f.begin(), f.end());
      addrs.push_back(reinterpret_cast<std::uintptr_t>(f.data()));
    }
  }
  void on_tap_state(bool up, Instant) noexcept override { states.push_back(up); }
  void on_socket_event(u64 ref, u32 events, Instant) noexcept override {
    socket_events.push_back({ref, events});
  }
  void on_deadline(Instant now) noexcept override {
    deadline_calls.push_back(now);
    // Called early would be a loop bug: record it for the test to check.
    if (now < deadline) early_deadline = true;
    deadline = next_after_deadline;
    if (loop_to_stop != nullptr) loop_to_stop->stop();
  }
  void flush(Instant) noexcept override { flushes++; }
  Instant next_deadline() const noexcept override { return deadline; }

  std::vector<std::vector<u8>> frames;
  std::vector<std::uintptr_t> addrs;  // where each frame was in the adapter's memory
  std::vector<std::size_t> batches;
  std::vector<bool> states;
  std::vector<SocketEvent> socket_events;
  std::vector<Instant> deadline_calls;
  Instant deadline = Instant::never();
  Instant next_after_deadline = Instant::never();
  bool early_deadline = false;
  int flushes = 0;
  EventLoop* loop_to_stop = nullptr;
};

// Polls one fd for `events` with a bounded timeout; true if ready.
inline bool wait_fd(int fd, short events, int timeout_ms = 2000) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Runs the loop until `done()` or the time bound passes.
template <class Pred>
bool run_until(EventLoop& loop, ports::EventSink& sink, Pred done,
               Duration bound = Duration::seconds(3)) {
  const Instant end = monotonic_now() + bound;
  while (!done()) {
    if (monotonic_now() >= end) return false;
    if (!loop.run_once(sink, Duration::millis(20))) return false;
  }
  return true;
}

// A fresh network namespace with `lo` up and ping sockets allowed for every
// group, made by a helper thread (namespaces are per thread).  Returns an fd
// for it, or -1 if this environment cannot create namespaces.
inline int make_test_netns() {
  int fd = -1;
  std::thread t([&fd] {
    if (::unshare(CLONE_NEWNET) < 0) return;
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "lo");
      if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        (void)::ioctl(s, SIOCSIFFLAGS, &ifr);
      }
      ::close(s);
    }
    int p = ::open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
    if (p >= 0) {
      const char range[] = "0 2147483647";
      (void)!::write(p, range, sizeof(range) - 1);
      ::close(p);
    }
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  });
  t.join();
  return fd;
}

}  // namespace passt::os::test
