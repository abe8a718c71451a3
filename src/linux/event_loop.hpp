// The process's single event loop: one epoll set, one timerfd.
//
// Theory of operation
//  * Every fd the process waits on is in one epoll set.  Each registration
//    carries a 64-bit value (epoll_data.u64):
//      - HostNet sockets carry the engine's `ref` verbatim (bit 63 clear);
//      - internal fds (the timerfd, tap adapters, the qemu listener, later a
//        signalfd/inotify/pidfd) carry bit 63 set, a 16-bit generation and
//        an index into a small fixed handler table.
//    Dispatch is therefore O(1) and needs no per-fd lookup.  The generation
//    makes an event that was already fetched for a handler removed earlier
//    in the same batch harmless (it is dropped).  Socket events that were
//    fetched before unwatch() in the same batch are still delivered: the
//    engine validates its refs anyway.
//  * Time: the sink's next_deadline() is read before every wait and, when
//    it moved earlier than what the timer holds (or the timer is not armed),
//    written into one timerfd (TFD_TIMER_ABSTIME against CLOCK_MONOTONIC,
//    the MonotonicClock's clock).  A deadline that moved later leaves the
//    timer armed early: it expires, nothing is due yet, and the next
//    iteration arms the real deadline (one re-arm per expiry, not per
//    iteration).  epoll_wait itself has no timeout, so precision is the
//    timerfd's (hrtimer, microseconds).
//  * One iteration: [re-arm timer] epoll_wait(max_events) -> now = clock ->
//    dispatch every event in order (socket -> on_socket_event with EPOLL*
//    mapped to ports::ev bits; internal fd -> its FdHandler; timerfd -> just
//    drained) -> on_deadline(now) if now >= next_deadline() -> flush(now).
//  * Bounds: at most Options::max_events (<= kMaxEvents) events per wait,
//    kMaxHandlers internal fds, and Options::max_iterations iterations per
//    run() (0 = unbounded).  stop() or fail() ends run() after the current
//    iteration.
#pragma once

#include <array>

#include "ports/clock.hpp"
#include "ports/events.hpp"
#include "util/result.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::os {

// EPOLL* <-> ports::ev bit translation (ev::edge <-> EPOLLET).
u32 epoll_from_ev(u32 ev) noexcept;
u32 ev_from_epoll(u32 epoll_events) noexcept;

// Callback object for an internal fd registered with EventLoop::add_handler.
// `events` uses ports::ev bits.  The handler may call the sink (it runs from
// the loop, never re-entrantly) and may add/remove handlers and watches.
class FdHandler {
 public:
  virtual ~FdHandler() = default;
  virtual void on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept = 0;
};

// How long the tap adapters' fd may wait behind socket events at most
// (EventLoop::set_priority).
inline constexpr Duration kTapMaxWait = Duration::millis(1);

class EventLoop {
 public:
  static constexpr std::size_t kMaxEvents = 64;
  static constexpr std::size_t kMaxHandlers = 16;
  // Bit 63 of epoll_data.u64 marks internal registrations; socket refs must
  // leave it clear (watch() returns Err::invalid otherwise).
  static constexpr u64 kInternalBit = u64{1} << 63;

  struct Options {
    std::size_t max_events = 8;  // events per epoll_wait (upstream: 8), <= kMaxEvents
    u64 max_iterations = 0;      // per run(); 0 = until stop()/fail()
  };

  explicit EventLoop(ports::Clock& clock) noexcept : EventLoop(clock, Options{}) {}
  EventLoop(ports::Clock& clock, Options opt) noexcept;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set and the timerfd.  Must succeed before any other
  // call.
  Status init() noexcept;

  // --- HostNet sockets -------------------------------------------------------
  // Adds (or, if already present, modifies) interest in `events` (ev bits)
  // with `ref` returned through EventSink::on_socket_event.  `registered` is
  // the caller's belief of whether fd is already in the set; it only picks
  // the first epoll_ctl op (the other is tried on EEXIST/ENOENT).
  Status watch(int fd, u32 events, u64 ref, bool registered = false) noexcept;
  Status unwatch(int fd) noexcept;

  // --- internal fds ----------------------------------------------------------
  // At most kMaxHandlers at once (Err::full beyond).  One handler may own
  // several fds; it is told which one fired.
  Status add_handler(int fd, u32 events, FdHandler& handler) noexcept;
  Status modify_handler(int fd, u32 events) noexcept;
  // Removes fd from the set (before the caller closes it).  Events already
  // fetched for it in the current batch are dropped.
  void remove_handler(int fd) noexcept;
  // Marks a handler's fd (the tap) as one that must not starve.  epoll
  // hands out ready fds in turn, max_events at a time, so with hundreds of
  // busy sockets the tap's turn (every frame from the guest, its ACKs
  // included) comes only after all of them: hundreds of milliseconds with a
  // slow build, enough for the guest's retransmission timer.  When an
  // iteration did not serve this fd and it was last served at least `gap`
  // ago, its handler is called with ev::in after the batch (a spurious call
  // costs the handler one read that finds nothing).  One fd at a time; a
  // removed handler's mark goes with it.
  void set_priority(int fd, Duration gap) noexcept;

  // --- running ---------------------------------------------------------------
  // Iterates until stop(), fail() or max_iterations.  Returns the failure
  // recorded by fail(), or an epoll error, else ok.  Clears the stop flag on
  // entry, so a stopped loop can be run again.
  Status run(ports::EventSink& sink) noexcept;
  // One iteration waiting at most `max_wait` for an event (a negative
  // duration waits until an event or the sink's deadline).  For tests and
  // callers that interleave other work.
  Status run_once(ports::EventSink& sink, Duration max_wait) noexcept;

  void stop() noexcept { stop_ = true; }
  // Records a fatal adapter error (first one wins) and stops the loop: run()
  // returns it.  Used by the tap adapters ("report to the owner").
  void fail(Err e) noexcept;
  bool stopping() const noexcept { return stop_; }
  Err failure() const noexcept { return failure_; }
  u64 iterations() const noexcept { return iterations_; }
  u64 timer_arms() const noexcept { return timer_arms_; }  // timerfd_settime calls

  ports::Clock& clock() noexcept { return clock_; }
  int epoll_fd() const noexcept { return epfd_; }
  int timer_fd() const noexcept { return tfd_; }

 private:
  struct Handler {
    FdHandler* h = nullptr;
    int fd = -1;
    u16 gen = 0;
  };

  Status iterate(ports::EventSink& sink, int timeout_ms) noexcept;
  Status arm_timer(Instant deadline) noexcept;
  void dispatch(u64 data, u32 events, Instant now, ports::EventSink& sink) noexcept;
  int find_handler(int fd) const noexcept;

  ports::Clock& clock_;
  Options opt_;
  int epfd_ = -1;
  int tfd_ = -1;
  Instant armed_ = Instant::never();  // what the timerfd is armed to
  bool stop_ = false;
  Err failure_ = Err::none;
  u64 iterations_ = 0;
  u64 timer_arms_ = 0;
  std::array<Handler, kMaxHandlers> handlers_{};
  int prio_fd_ = -1;
  Duration prio_gap_{};
  Instant prio_served_{};
};

}  // namespace passt::os
