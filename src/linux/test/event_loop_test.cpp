#include "linux/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "linux/clock.hpp"
#include "linux/os_error.hpp"
#include "linux/test/test_support.hpp"
#include "ports/hostnet.hpp"

namespace passt::os {
namespace {

using test::RecordingSink;

TEST(OsError, MapsErrno) {
  EXPECT_EQ(err_from_errno(0), Err::none);
  EXPECT_EQ(err_from_errno(EAGAIN), Err::again);
  EXPECT_EQ(err_from_errno(EWOULDBLOCK), Err::again);
  EXPECT_EQ(err_from_errno(EINPROGRESS), Err::in_progress);
  EXPECT_EQ(err_from_errno(ECONNREFUSED), Err::conn_refused);
  EXPECT_EQ(err_from_errno(ECONNRESET), Err::conn_reset);
  EXPECT_EQ(err_from_errno(EPIPE), Err::broken_pipe);
  EXPECT_EQ(err_from_errno(EMFILE), Err::too_many_files);
  EXPECT_EQ(err_from_errno(ENFILE), Err::too_many_files);
  EXPECT_EQ(err_from_errno(EPERM), Err::access);
  EXPECT_EQ(err_from_errno(EOPNOTSUPP), Err::not_supported);
  EXPECT_EQ(err_from_errno(ENOPROTOOPT), Err::not_supported);
  EXPECT_EQ(err_from_errno(EAFNOSUPPORT), Err::not_supported);
  EXPECT_EQ(err_from_errno(EBADF), Err::bad_handle);
  EXPECT_EQ(err_from_errno(EMSGSIZE), Err::msg_size);
  EXPECT_EQ(err_from_errno(EIO), Err::io);
  EXPECT_EQ(err_from_errno(EDOM), Err::other);
  errno = 0;
  EXPECT_EQ(last_err(), Err::other);  // failure without errno is still a failure
  errno = ENOENT;
  EXPECT_EQ(last_err(), Err::no_entry);
}

TEST(Clock, MonotonicAndEntropy) {
  MonotonicClock c;
  Instant a = c.now();
  Instant b = c.now();
  EXPECT_GT(a.ns, 0);
  EXPECT_LE(a, b);

  GetrandomEntropy e;
  std::vector<u8> x(4096), y(4096);
  e.fill(x);
  e.fill(y);
  EXPECT_NE(x, y);
  std::vector<u8> big(std::size_t{1} << 20);  // > 256 bytes: may come in short reads
  e.fill(big);
  std::size_t zeros = 0;
  for (u8 v : big) zeros += v == 0;
  EXPECT_LT(zeros, big.size() / 128);  // ~1/256 expected
  e.fill(MutBytes());                   // empty is fine
}

TEST(EventLoop, MapsEventBits) {
  namespace ev = ports::ev;
  EXPECT_EQ(epoll_from_ev(ev::in | ev::out), 0u + EPOLLIN + EPOLLOUT);
  EXPECT_EQ(epoll_from_ev(ev::rdhup | ev::edge), 0u + EPOLLRDHUP + EPOLLET);
  for (u32 bits : {ev::in, ev::out, ev::rdhup, ev::hup, ev::err, ev::edge,
                   ev::in | ev::rdhup | ev::hup | ev::err})
    EXPECT_EQ(ev_from_epoll(epoll_from_ev(bits)), bits);
  EXPECT_EQ(ev_from_epoll(EPOLLPRI), 0u);
}

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop.init());
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  }
  void TearDown() override {
    ::close(sv[0]);
    ::close(sv[1]);
  }
  MonotonicClock clock;
  EventLoop loop{clock};
  RecordingSink sink;
  int sv[2] = {-1, -1};
};

TEST_F(EventLoopTest, DispatchesSocketEventsWithRefThenFlushes) {
  ASSERT_TRUE(loop.watch(sv[0], ports::ev::in, 0x1234'5678'9abcULL));
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  EXPECT_TRUE(sink.socket_events.empty());
  EXPECT_EQ(sink.flushes, 1);

  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.socket_events.size(), 1u);
  EXPECT_EQ(sink.socket_events[0].ref, 0x1234'5678'9abcULL);
  EXPECT_EQ(sink.socket_events[0].events, ports::ev::in);
  EXPECT_EQ(sink.flushes, 2);

  // Modify (registered=false on purpose: EEXIST falls back to MOD).
  ASSERT_TRUE(loop.watch(sv[0], ports::ev::in | ports::ev::out, 7, false));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.socket_events.size(), 2u);
  EXPECT_EQ(sink.socket_events[1].ref, 7u);
  EXPECT_EQ(sink.socket_events[1].events, ports::ev::in | ports::ev::out);

  // A stale "registered" belief falls back to ADD.
  ASSERT_TRUE(loop.unwatch(sv[0]));
  ASSERT_TRUE(loop.watch(sv[0], ports::ev::in, 8, true));
  ASSERT_TRUE(loop.unwatch(sv[0]));
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  EXPECT_EQ(sink.socket_events.size(), 2u);
  EXPECT_EQ(loop.unwatch(sv[0]).err(), Err::no_entry);
}

TEST_F(EventLoopTest, RejectsRefsWithTheInternalBit) {
  EXPECT_EQ(loop.watch(sv[0], ports::ev::in, EventLoop::kInternalBit | 1).err(), Err::invalid);
}

TEST_F(EventLoopTest, ReportsHangupAndRdhup) {
  ASSERT_TRUE(loop.watch(sv[0], ports::ev::in | ports::ev::rdhup, 1));
  ::close(sv[1]);
  sv[1] = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);  // keep TearDown simple
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  ASSERT_EQ(sink.socket_events.size(), 1u);
  u32 e = sink.socket_events[0].events;
  EXPECT_NE(e & ports::ev::rdhup, 0u);
  EXPECT_NE(e & ports::ev::hup, 0u);
}

TEST_F(EventLoopTest, TimerFiresAtTheDeadlineNotBefore) {
  for (int round = 0; round < 3; round++) {
    const Instant start = clock.now();
    sink.deadline = start + Duration::millis(15);
    sink.loop_to_stop = &loop;
    sink.deadline_calls.clear();
    ASSERT_TRUE(loop.run(sink));
    ASSERT_EQ(sink.deadline_calls.size(), 1u);
    EXPECT_FALSE(sink.early_deadline);
    const Duration late = sink.deadline_calls[0] - (start + Duration::millis(15));
    EXPECT_GE(late.ns, 0);
    // Generous: the machine is shared.  Typical lateness is ~0.1 ms.
    EXPECT_LT(late, Duration::millis(100));
  }
}

TEST_F(EventLoopTest, PastDeadlineFiresImmediatelyAndNeverDisarms) {
  sink.deadline = clock.now() - Duration::seconds(1);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(2)));
  EXPECT_EQ(sink.deadline_calls.size(), 1u);
  // next deadline is now never: a short bounded wait sees nothing.
  ASSERT_TRUE(loop.run_once(sink, Duration::millis(5)));
  EXPECT_EQ(sink.deadline_calls.size(), 1u);
  // Moving the deadline earlier re-arms.
  sink.deadline = clock.now() + Duration::seconds(30);
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  sink.deadline = clock.now() + Duration::millis(2);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(2)));
  EXPECT_EQ(sink.deadline_calls.size(), 2u);
  EXPECT_FALSE(sink.early_deadline);
}

TEST_F(EventLoopTest, ADeadlineMovingLaterKeepsTheTimerArmedEarlier) {
  // A deadline pushed back at every iteration (a per-connection timer that
  // each segment restarts) re-arms the timerfd once per expiry, not once
  // per iteration; the early expiry finds nothing due and re-arms to the
  // real deadline, which is still met, never anticipated.
  const Instant start = clock.now();
  sink.deadline = start + Duration::millis(20);
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  const u64 arms = loop.timer_arms();
  EXPECT_GE(arms, 1u);
  for (int i = 1; i <= 10; i++) {
    sink.deadline = start + Duration::millis(20 + 3 * i);
    ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  }
  EXPECT_EQ(loop.timer_arms(), arms) << "moved later: no re-arm";
  sink.loop_to_stop = &loop;
  ASSERT_TRUE(loop.run(sink));  // bounded: the deadline is 50 ms away
  ASSERT_EQ(sink.deadline_calls.size(), 1u);
  EXPECT_FALSE(sink.early_deadline);
  EXPECT_GE((sink.deadline_calls[0] - start).ns, Duration::millis(50).ns);
  EXPECT_EQ(loop.timer_arms(), arms + 1) << "one re-arm, after the early expiry";
  // Moving a deadline earlier than the armed one re-arms at once.
  sink.loop_to_stop = nullptr;
  sink.deadline = clock.now() + Duration::seconds(30);
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  const u64 before = loop.timer_arms();
  sink.deadline = clock.now() + Duration::millis(2);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(2)));
  EXPECT_EQ(loop.timer_arms(), before + 1);
  EXPECT_EQ(sink.deadline_calls.size(), 2u);
  EXPECT_FALSE(sink.early_deadline);
}

TEST_F(EventLoopTest, MaxIterationsBoundsRun) {
  EventLoop bounded(clock, {.max_events = 1, .max_iterations = 3});
  ASSERT_TRUE(bounded.init());
  sink.deadline = clock.now() - Duration::seconds(1);
  sink.next_after_deadline = sink.deadline;  // always due: every wait returns at once
  ASSERT_TRUE(bounded.run(sink));
  EXPECT_EQ(bounded.iterations(), 3u);
}

class Recorder final : public FdHandler {
 public:
  void on_fd_event(int fd, u32 events, Instant, ports::EventSink&) noexcept override {
    calls++;
    last_fd = fd;
    last_events = events;
    char b[64];
    (void)!::read(fd, b, sizeof(b));
    if (remove_other != nullptr) loop->remove_handler(other_fd);
    if (fail_with != Err::none) loop->fail(fail_with);
    if (stop) loop->stop();
  }
  int calls = 0;
  int last_fd = -1;
  u32 last_events = 0;
  EventLoop* loop = nullptr;
  Recorder* remove_other = nullptr;
  int other_fd = -1;
  Err fail_with = Err::none;
  bool stop = false;
};

TEST_F(EventLoopTest, HandlersGetTheirFd) {
  Recorder r;
  r.loop = &loop;
  ASSERT_TRUE(loop.add_handler(sv[0], ports::ev::in, r));
  EXPECT_EQ(loop.add_handler(sv[0], ports::ev::in, r).err(), Err::exists);
  ASSERT_EQ(::write(sv[1], "ab", 2), 2);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.last_fd, sv[0]);
  EXPECT_EQ(r.last_events, ports::ev::in);
  EXPECT_TRUE(sink.socket_events.empty());
  ASSERT_TRUE(loop.modify_handler(sv[0], ports::ev::out));
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));
  EXPECT_EQ(r.calls, 2);
  EXPECT_EQ(r.last_events, ports::ev::out);
  loop.remove_handler(sv[0]);
  ASSERT_TRUE(loop.run_once(sink, Duration::zero()));
  EXPECT_EQ(r.calls, 2);
}

TEST_F(EventLoopTest, HandlerRemovedInTheSameBatchIsNotCalled) {
  int sv2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv2), 0);
  Recorder a, b;
  a.loop = b.loop = &loop;
  a.remove_other = &b;
  a.other_fd = sv2[0];
  b.remove_other = &a;
  b.other_fd = sv[0];
  ASSERT_TRUE(loop.add_handler(sv[0], ports::ev::in, a));
  ASSERT_TRUE(loop.add_handler(sv2[0], ports::ev::in, b));
  ASSERT_EQ(::write(sv[1], "a", 1), 1);
  ASSERT_EQ(::write(sv2[1], "b", 1), 1);
  ASSERT_TRUE(loop.run_once(sink, Duration::seconds(1)));  // both ready: one batch
  EXPECT_EQ(a.calls + b.calls, 1);
  loop.remove_handler(sv[0]);
  loop.remove_handler(sv2[0]);
  ::close(sv2[0]);
  ::close(sv2[1]);
}

// The tap must not wait behind a long run of busy sockets: epoll hands out
// ready fds in turn, max_events at a time.  Here one event per wait and four
// sockets that stay readable (never drained): without the mark the tap's
// handler runs once per five iterations, with it (gap 0) in every one.
TEST_F(EventLoopTest, PriorityFdIsServedAfterEveryBatchThatSkippedIt) {
  for (const bool marked : {false, true}) {
    EventLoop one{clock, EventLoop::Options{1, 0}};
    ASSERT_TRUE(one.init());
    int busy[4][2];
    for (std::size_t k = 0; k < 4; k++) {
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, busy[k]), 0);
      ASSERT_EQ(::write(busy[k][1], "x", 1), 1);
      ASSERT_TRUE(one.watch(busy[k][0], ports::ev::in, 100 + k));
    }
    Recorder tap;
    ASSERT_TRUE(one.add_handler(sv[0], ports::ev::in, tap));
    if (marked) one.set_priority(sv[0], Duration::zero());
    RecordingSink s;
    for (int it = 0; it < 20; it++) ASSERT_TRUE(one.run_once(s, Duration::seconds(1)));
    if (marked) {
      EXPECT_EQ(tap.calls, 20) << "called after every batch that did not include it";
      EXPECT_EQ(tap.last_events, ports::ev::in);
      EXPECT_EQ(s.socket_events.size(), 20u) << "the sockets still get their turns";
    } else {
      EXPECT_EQ(tap.calls, 0) << "nothing to read: epoll never reports it";
      EXPECT_EQ(s.socket_events.size(), 20u);
    }
    // A large gap: no extra calls.  Removing the handler drops the mark.
    one.set_priority(sv[0], Duration::seconds(3600));
    const int before = tap.calls;
    for (int it = 0; it < 5; it++) ASSERT_TRUE(one.run_once(s, Duration::seconds(1)));
    EXPECT_EQ(tap.calls, before);
    one.set_priority(sv[0], Duration::zero());
    one.remove_handler(sv[0]);
    for (int it = 0; it < 5; it++) ASSERT_TRUE(one.run_once(s, Duration::seconds(1)));
    EXPECT_EQ(tap.calls, before);
    for (auto& b : busy) {
      ::close(b[0]);
      ::close(b[1]);
    }
  }
}

TEST_F(EventLoopTest, HandlerTableIsBounded) {
  Recorder r;
  std::vector<int> fds;
  for (std::size_t i = 0; i < EventLoop::kMaxHandlers; i++) {
    fds.push_back(::dup(sv[0]));
    ASSERT_TRUE(loop.add_handler(fds.back(), ports::ev::in, r));
  }
  fds.push_back(::dup(sv[0]));
  EXPECT_EQ(loop.add_handler(fds.back(), ports::ev::in, r).err(), Err::full);
  for (int fd : fds) {
    loop.remove_handler(fd);
    ::close(fd);
  }
}

TEST_F(EventLoopTest, FailStopsRunAndIsReported) {
  Recorder r;
  r.loop = &loop;
  r.fail_with = Err::io;
  ASSERT_TRUE(loop.add_handler(sv[0], ports::ev::in, r));
  ASSERT_EQ(::write(sv[1], "a", 1), 1);
  Status s = loop.run(sink);
  EXPECT_EQ(s.err(), Err::io);
  EXPECT_EQ(loop.failure(), Err::io);
  EXPECT_EQ(sink.flushes, 1);  // the batch still ends with a flush
  loop.remove_handler(sv[0]);
}

TEST_F(EventLoopTest, StopFromHandler) {
  Recorder r;
  r.loop = &loop;
  r.stop = true;
  ASSERT_TRUE(loop.add_handler(sv[0], ports::ev::in, r));
  ASSERT_EQ(::write(sv[1], "a", 1), 1);
  EXPECT_TRUE(loop.run(sink));
  EXPECT_EQ(r.calls, 1);
  loop.remove_handler(sv[0]);
}

}  // namespace
}  // namespace passt::os
