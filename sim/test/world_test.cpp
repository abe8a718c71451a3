#include "sim/world.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "sim/alloc_counter.hpp"
#include "sim/recording_sink.hpp"
#include "sim/runner.hpp"

namespace passt::sim {
namespace {

// Records the order of its events; may allocate on request.
class Recorder final : public Actor {
 public:
  const char* name() const noexcept override { return "recorder"; }
  void on_event(const Event& e) noexcept override {
    if (n < 64) {
      seen[n] = e.a;
      when[n] = e.at;
    }
    n++;
    if (e.kind == 9) leak = new int(5);  // a deliberate allocation
  }
  u32 seen[64] = {};
  Instant when[64];
  std::size_t n = 0;
  int* leak = nullptr;
};

TEST(World, RunsEventsInTimeThenScheduleOrder) {
  World w(1, 64);
  Recorder r;
  const u8 id = w.add_actor(r);
  const Instant t0 = w.now();
  w.schedule(t0 + Duration::millis(3), id, 1, 30);
  w.schedule(t0 + Duration::millis(1), id, 1, 10);
  w.schedule(t0 + Duration::millis(1), id, 1, 11);
  w.schedule(t0 + Duration::millis(2), id, 1, 20);
  EXPECT_TRUE(w.run_until(t0 + Duration::millis(10)));
  ASSERT_EQ(r.n, 4u);
  EXPECT_EQ(r.seen[0], 10u);
  EXPECT_EQ(r.seen[1], 11u);
  EXPECT_EQ(r.seen[2], 20u);
  EXPECT_EQ(r.seen[3], 30u);
  EXPECT_EQ(r.when[0], t0 + Duration::millis(1));
  EXPECT_EQ(r.when[3], t0 + Duration::millis(3));
  EXPECT_EQ(w.now(), t0 + Duration::millis(10));
  EXPECT_EQ(w.events(), 4u);
}

TEST(World, RunUntilStopsBeforeLaterEvents) {
  World w(1, 64);
  Recorder r;
  const u8 id = w.add_actor(r);
  const Instant t0 = w.now();
  w.schedule(t0 + Duration::millis(5), id, 1, 1);
  w.run_until(t0 + Duration::millis(4));
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(w.now(), t0 + Duration::millis(4));
  EXPECT_FALSE(w.run_until_idle(t0 + Duration::millis(4), 100));  // limit before the event
  EXPECT_TRUE(w.run_until_idle(t0 + Duration::seconds(1), 100));
  EXPECT_EQ(r.n, 1u);
  EXPECT_EQ(w.step(), StepResult::idle);
}

TEST(World, FullQueueFailsTheRun) {
  World w(1, 2);
  Recorder r;
  const u8 id = w.add_actor(r);
  EXPECT_TRUE(w.schedule(w.now(), id, 1));
  EXPECT_TRUE(w.schedule(w.now(), id, 1));
  EXPECT_FALSE(w.schedule(w.now(), id, 1));
  EXPECT_TRUE(w.failed());
  EXPECT_NE(std::strstr(w.failure().reason, "queue full"), nullptr);
}

class FailAt final : public Checker {
 public:
  explicit FailAt(u64 n) : n_(n) {}
  const char* name() const noexcept override { return "fail-at"; }
  const char* check(World& w) noexcept override {
    return w.events() >= n_ ? "the fifth event is forbidden" : nullptr;
  }

 private:
  u64 n_;
};

TEST(World, CheckerFailureRecordsEventAndTime) {
  World w(1, 64);
  Recorder r;
  FailAt c(5);
  const u8 id = w.add_actor(r);
  w.add_checker(c);
  for (int i = 1; i <= 8; i++) w.schedule(w.now() + Duration::millis(i), id, 1, static_cast<u32>(i));
  EXPECT_FALSE(w.run_until(w.now() + Duration::seconds(1)));
  ASSERT_TRUE(w.failed());
  EXPECT_EQ(w.failure().event, 5u);
  EXPECT_EQ(w.failure().at, World::kEpoch + Duration::millis(5));
  EXPECT_STREQ(w.failure().source, "fail-at");
  EXPECT_STREQ(w.failure().reason, "the fifth event is forbidden");
  EXPECT_EQ(r.n, 5u);  // nothing runs after the failure
  EXPECT_EQ(w.step(), StepResult::failed);
}

TEST(World, EngineDeadlinesAdvanceTimeExactly) {
  World w(1, 64);
  RecordingSink sink;
  w.set_sink(&sink);
  const Instant t = w.now() + Duration::micros(1234);
  sink.set_deadline(t);
  EXPECT_TRUE(w.run_until(w.now() + Duration::seconds(1)));
  EXPECT_EQ(sink.deadline_calls(), 1u);
  EXPECT_EQ(sink.last_deadline_call(), t);
  EXPECT_EQ(sink.flushes(), 1u);  // every poll ends with flush()
  EXPECT_EQ(sink.reentries(), 0u);
}

// An engine whose deadline never moves: the world must call it a livelock
// rather than spin forever.
class StuckSink final : public ports::EventSink {
 public:
  void on_tap_frames(std::span<const Bytes>, Instant) noexcept override {}
  void on_tap_state(bool, Instant) noexcept override {}
  void on_socket_event(u64, u32, Instant) noexcept override {}
  void on_deadline(Instant) noexcept override {}
  void flush(Instant) noexcept override {}
  Instant next_deadline() const noexcept override { return World::kEpoch; }
};

TEST(World, DetectsLivelock) {
  World w(1, 64);
  StuckSink sink;
  w.set_sink(&sink);
  EXPECT_FALSE(w.run_until(w.now() + Duration::seconds(1)));
  EXPECT_NE(std::strstr(w.failure().reason, "livelock"), nullptr);
  EXPECT_EQ(w.failure().at, World::kEpoch);
}

TEST(World, EventBudget) {
  World w(1, 64);
  Recorder r;
  const u8 id = w.add_actor(r);
  for (int i = 0; i < 10; i++) w.schedule(w.now(), id, 1);
  w.set_event_budget(3);
  EXPECT_FALSE(w.run_until(w.now() + Duration::seconds(1)));
  EXPECT_NE(std::strstr(w.failure().reason, "budget"), nullptr);
}

TEST(World, EntropyIsSeeded) {
  World a(5, 4), b(5, 4), c(6, 4);
  u8 x[13], y[13], z[13];
  a.fill(MutBytes(x, sizeof(x)));
  b.fill(MutBytes(y, sizeof(y)));
  c.fill(MutBytes(z, sizeof(z)));
  EXPECT_EQ(std::memcmp(x, y, sizeof(x)), 0);
  EXPECT_NE(std::memcmp(x, z, sizeof(x)), 0);
}

TEST(AllocationCounter, IsLinkedIntoUnitSim) {
  EXPECT_TRUE(alloc::hooked());
  const u64 before = alloc::stats().total;
  auto p = std::make_unique<int>(3);
  EXPECT_GT(alloc::stats().total, before);
}

TEST(AllocationCounter, DeliberateAllocationAfterArmingFailsTheRun) {
  World w(1, 64);
  Recorder r;
  const u8 id = w.add_actor(r);
  w.schedule(w.now() + Duration::millis(1), id, 1);
  w.schedule(w.now() + Duration::millis(2), id, 9);  // allocates
  w.schedule(w.now() + Duration::millis(3), id, 1);
  w.arm_allocation_check();
  const bool ok = w.run_until(w.now() + Duration::seconds(1));
  w.disarm_allocation_check();
  delete r.leak;
  EXPECT_FALSE(ok);
  ASSERT_TRUE(w.failed());
  EXPECT_STREQ(w.failure().source, "alloc");
  EXPECT_EQ(w.failure().event, 2u);
  EXPECT_NE(std::strstr(w.failure().reason, "of 4 bytes"), nullptr) << w.failure().reason;
  EXPECT_EQ(r.n, 2u);
}

TEST(AllocationCounter, GuardArmsAndRestores) {
  EXPECT_FALSE(alloc::armed());
  alloc::clear_violations();
  {
    alloc::ArmGuard g;
    EXPECT_TRUE(alloc::armed());
  }
  EXPECT_FALSE(alloc::armed());
  EXPECT_EQ(alloc::stats().armed_allocs, 0u);
}

TEST(Determinism, SameSeedSameTrace) {
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = "echo";  // other tests register scenarios of their own
  const RunResult a = run_seed(1234, opt);
  const RunResult b = run_seed(1234, opt);
  const RunResult c = run_seed(1235, opt);
  ASSERT_TRUE(a.ok) << a.failure.reason;
  ASSERT_TRUE(c.ok) << c.failure.reason;
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.virtual_time, b.virtual_time);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

}  // namespace
}  // namespace passt::sim
