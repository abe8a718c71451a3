#include "linux/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "linux/os_error.hpp"
#include "ports/hostnet.hpp"
#include "util/check.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

// Internal epoll data: kInternalBit | gen << 16 | index.  The timerfd uses
// an index no handler can have.
constexpr u64 kTimerIndex = 0xffff;

constexpr u64 internal_data(u16 gen, u64 index) noexcept {
  return EventLoop::kInternalBit | (static_cast<u64>(gen) << 16) | index;
}

struct BitMap {
  u32 ev;
  u32 ep;
};
constexpr BitMap kBits[] = {
    {ports::ev::in, EPOLLIN},       {ports::ev::out, EPOLLOUT}, {ports::ev::rdhup, EPOLLRDHUP},
    {ports::ev::hup, EPOLLHUP},     {ports::ev::err, EPOLLERR},
    {ports::ev::edge, static_cast<u32>(EPOLLET)},
};

}  // namespace

u32 epoll_from_ev(u32 ev) noexcept {
  u32 ep = 0;
  for (const auto& b : kBits)
    if ((ev & b.ev) != 0) ep |= b.ep;
  return ep;
}

u32 ev_from_epoll(u32 epoll_events) noexcept {
  u32 ev = 0;
  for (const auto& b : kBits)
    if ((epoll_events & b.ep) != 0) ev |= b.ev;
  return ev;
}

EventLoop::EventLoop(ports::Clock& clock, Options opt) noexcept : clock_(clock), opt_(opt) {
  if (opt_.max_events == 0) opt_.max_events = 1;
  if (opt_.max_events > kMaxEvents) opt_.max_events = kMaxEvents;
}

EventLoop::~EventLoop() {
  if (tfd_ >= 0) ::close(tfd_);
  if (epfd_ >= 0) ::close(epfd_);
}

Status EventLoop::init() noexcept {
  PASST_CHECK(epfd_ < 0);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return last_err();
  tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd_ < 0) return last_err();
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = internal_data(0, kTimerIndex);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, tfd_, &e) < 0) return last_err();
  return {};
}

Status EventLoop::watch(int fd, u32 events, u64 ref, bool registered) noexcept {
  if ((ref & kInternalBit) != 0 || fd < 0) return Err::invalid;
  epoll_event e{};
  e.events = epoll_from_ev(events);
  e.data.u64 = ref;
  int op = registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(epfd_, op, fd, &e) == 0) return {};
  // Our bookkeeping was stale (e.g. the fd number was reused): try the other.
  if ((op == EPOLL_CTL_ADD && errno == EEXIST) || (op == EPOLL_CTL_MOD && errno == ENOENT)) {
    op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(epfd_, op, fd, &e) == 0) return {};
  }
  return last_err();
}

Status EventLoop::unwatch(int fd) noexcept {
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) < 0) return last_err();
  return {};
}

int EventLoop::find_handler(int fd) const noexcept {
  for (std::size_t i = 0; i < kMaxHandlers; i++)
    if (handlers_[i].h != nullptr && handlers_[i].fd == fd) return static_cast<int>(i);
  return -1;
}

Status EventLoop::add_handler(int fd, u32 events, FdHandler& handler) noexcept {
  if (fd < 0) return Err::invalid;
  if (find_handler(fd) >= 0) return Err::exists;
  for (std::size_t i = 0; i < kMaxHandlers; i++) {
    Handler& slot = handlers_[i];
    if (slot.h != nullptr) continue;
    epoll_event e{};
    e.events = epoll_from_ev(events);
    e.data.u64 = internal_data(slot.gen, i);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &e) < 0) return last_err();
    slot.h = &handler;
    slot.fd = fd;
    return {};
  }
  return Err::full;
}

Status EventLoop::modify_handler(int fd, u32 events) noexcept {
  int i = find_handler(fd);
  if (i < 0) return Err::no_entry;
  epoll_event e{};
  e.events = epoll_from_ev(events);
  e.data.u64 = internal_data(handlers_[static_cast<std::size_t>(i)].gen, static_cast<u64>(i));
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &e) < 0) return last_err();
  return {};
}

void EventLoop::remove_handler(int fd) noexcept {
  int i = find_handler(fd);
  if (i < 0) return;
  Handler& slot = handlers_[static_cast<std::size_t>(i)];
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  if (fd == prio_fd_) prio_fd_ = -1;
  slot.h = nullptr;
  slot.fd = -1;
  slot.gen++;  // events already fetched under the old generation are dropped
}

void EventLoop::set_priority(int fd, Duration gap) noexcept {
  prio_fd_ = find_handler(fd) >= 0 ? fd : -1;
  prio_gap_ = gap;
  prio_served_ = clock_.now();
}

void EventLoop::fail(Err e) noexcept {
  if (failure_ == Err::none) failure_ = e == Err::none ? Err::other : e;
  stop_ = true;
}

Status EventLoop::arm_timer(Instant deadline) noexcept {
  if (deadline == armed_) return {};
  // Lazy: a timer already armed earlier than the deadline stays as it is.
  // It expires early, the iteration finds nothing due (on_deadline() is
  // only called once the deadline has come) and the next one arms the real
  // deadline.  A deadline that every event pushes back (a connection's
  // timer restarted by each segment) so costs one timerfd_settime() per
  // expiry instead of one per iteration.
  if (!armed_.is_never() && armed_ < deadline) return {};
  itimerspec its{};
  if (!deadline.is_never()) {
    // it_value all-zero would disarm: an (impossible) deadline at or before
    // the clock's epoch becomes 1 ns, which has passed anyway.
    i64 ns = deadline.ns > 0 ? deadline.ns : 1;
    its.it_value.tv_sec = ns / 1000000000;  // time_t and long are 64-bit here
    its.it_value.tv_nsec = ns % 1000000000;
  }
  if (timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &its, nullptr) < 0) return last_err();
  timer_arms_++;
  armed_ = deadline;
  return {};
}

void EventLoop::dispatch(u64 data, u32 events, Instant now, ports::EventSink& sink) noexcept {
  if ((data & kInternalBit) == 0) {
    sink.on_socket_event(data, ev_from_epoll(events), now);
    return;
  }
  u64 index = data & 0xffff;
  if (index == kTimerIndex) {
    // Drain the expiration count; the deadline check after the batch does
    // the work.  The one-shot timer is now disarmed.
    u64 expirations = 0;
    ssize_t n = ::read(tfd_, &expirations, sizeof(expirations));
    (void)n;
    armed_ = Instant::never();
    return;
  }
  if (index >= kMaxHandlers) return;
  Handler& slot = handlers_[index];
  u16 gen = static_cast<u16>(data >> 16);
  if (slot.h == nullptr || slot.gen != gen) return;  // removed in this batch
  if (slot.fd == prio_fd_) prio_served_ = now;
  slot.h->on_fd_event(slot.fd, ev_from_epoll(events), now, sink);
}

Status EventLoop::iterate(ports::EventSink& sink, int timeout_ms) noexcept {
  PASST_CHECK(epfd_ >= 0);
  if (Status s = arm_timer(sink.next_deadline()); !s) return s;

  // Not zeroed (768 bytes per iteration on the hot path): epoll_wait()
  // writes the first n entries, and only those are read.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  std::array<epoll_event, kMaxEvents> events;
  int n = epoll_wait(epfd_, events.data(), static_cast<int>(opt_.max_events), timeout_ms);
  iterations_++;
  if (n < 0) {
    if (errno == EINTR) return {};
    return last_err();
  }
  Instant now = clock_.now();
  for (int i = 0; i < n; i++) {
    const epoll_event& e = events[static_cast<std::size_t>(i)];
    dispatch(e.data.u64, e.events, now, sink);
  }
  if (prio_fd_ >= 0 && n > 0 && prio_served_ < now) {
    // The batch did not include the priority fd: serve it if its last turn
    // is too long ago (clock read after the batch: the batch itself may be
    // what took long).
    const Instant t = clock_.now();
    const int h = find_handler(prio_fd_);
    if (h >= 0 && t - prio_served_ >= prio_gap_) {
      prio_served_ = t;
      Handler& slot = handlers_[static_cast<std::size_t>(h)];
      slot.h->on_fd_event(slot.fd, ports::ev::in, t, sink);
      now = t;
    }
  }
  if (now >= sink.next_deadline()) sink.on_deadline(now);
  sink.flush(now);
  return {};
}

Status EventLoop::run_once(ports::EventSink& sink, Duration max_wait) noexcept {
  int timeout_ms = -1;
  if (max_wait.ns >= 0) {
    i64 ms = (max_wait.ns + 999999) / 1000000;  // round up: never spin
    timeout_ms = ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
  }
  return iterate(sink, timeout_ms);
}

Status EventLoop::run(ports::EventSink& sink) noexcept {
  stop_ = false;
  u64 done = 0;
  while (!stop_) {
    if (opt_.max_iterations != 0 && done >= opt_.max_iterations) break;
    if (Status s = iterate(sink, -1); !s) {
      LOG_ERR("event loop: epoll_wait: %s", err_name(s.err()));
      return s;
    }
    done++;
  }
  if (failure_ != Err::none) return failure_;
  return {};
}

}  // namespace passt::os
