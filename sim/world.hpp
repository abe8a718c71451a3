// The simulated world: virtual clock, seeded PRNG streams, the event queue,
// the actors that handle events, the engine (any ports::EventSink) and the
// checkers that run after every event.
//
// Theory of operation
// -------------------
// Time only moves when nothing is due.  One call to step() does exactly one
// of these, in this order of priority:
//   1. pop the earliest queued event if it is due (at <= now) and hand it to
//      its actor (link arrivals, socket model transitions, scenario actions);
//   2. call on_deadline() of an actor whose own deadline is due (guests);
//   3. poll the engine, as the Linux epoll loop would: if a feed has work
//      (tap frames or link state from the SimLink, readiness from
//      SimHostNet) or the engine's next_deadline() has passed, deliver the
//      feeds' events, then on_deadline() if due, then flush();
//   4. otherwise advance the clock to the earliest of: the next queued event,
//      the actors' deadlines and the engine's next_deadline().
// Steps 1-3 are "events": after each, the allocation counter and every
// registered checker run; the first failure stops the world and is kept with
// the event number and virtual time.
//
// The engine is never called from inside a port call: ports only change
// model state and queue events, and the world delivers from step 3.  The
// engine takes zero virtual time.
//
// A step-3 poll at the same instant as the previous one, repeated more than
// kMaxPollsPerInstant times, is a livelock (e.g. level-triggered readiness
// that the engine never consumes) and fails the run.
#pragma once

#include <cstdarg>
#include <cstdio>

#include "ports/clock.hpp"
#include "ports/entropy.hpp"
#include "ports/events.hpp"
#include "sim/event_queue.hpp"
#include "sim/prng.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::sim {

class World;

// A safety property evaluated after every event.
class Checker {
 public:
  virtual ~Checker() = default;
  virtual const char* name() const noexcept = 0;
  // nullptr when the property holds, else the reason.  The string must stay
  // valid until the next call (static text, or a buffer the checker owns).
  virtual const char* check(World& w) noexcept = 0;
};

// Something that owns queued events (and optionally a deadline).
class Actor {
 public:
  virtual ~Actor() = default;
  virtual const char* name() const noexcept = 0;
  virtual void on_event(const Event& e) noexcept = 0;
  virtual Instant next_deadline() const noexcept { return Instant::never(); }
  virtual void on_deadline(Instant now) noexcept { (void)now; }
};

// A source of engine inbound work, polled by the world's step 3.
class EngineFeed {
 public:
  virtual ~EngineFeed() = default;
  virtual bool has_work(Instant now) const noexcept = 0;
  virtual void deliver(ports::EventSink& sink, Instant now) noexcept = 0;
  // What it delivered last (for a livelock report); nullptr if nothing.
  virtual const char* last_delivery() noexcept { return nullptr; }
};

// Labels of the independent PRNG streams derived from one seed.
namespace stream {
inline constexpr u64 knobs = 1;
inline constexpr u64 world = 2;
inline constexpr u64 entropy = 3;
inline constexpr u64 link = 4;
inline constexpr u64 hostnet = 5;
inline constexpr u64 guest = 6;
inline constexpr u64 scenario = 7;
}  // namespace stream
// The stream `label` of `seed` (fresh: independent of any other draw).
Prng seed_stream(u64 seed, u64 label) noexcept;

struct Failure {
  bool failed = false;
  u64 event = 0;
  Instant at;
  const char* phase = "";
  char source[40] = {};
  char reason[320] = {};
};

enum class StepResult : u8 { event, advanced, idle, failed };

class World final : public ports::Clock, public ports::Entropy {
 public:
  static constexpr std::size_t kMaxActors = 16;
  static constexpr std::size_t kMaxFeeds = 4;
  static constexpr std::size_t kMaxCheckers = 32;
  static constexpr u64 kMaxPollsPerInstant = 20000;
  // Virtual time starts here (not 0, so "zero" timestamps stand out).
  static constexpr Instant kEpoch = Instant::from_nanos(1000000000LL);

  World(u64 seed, std::size_t event_capacity);
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World() override = default;

  // --- ports implemented by the world ----------------------------------------
  Instant now() noexcept override { return now_; }
  void fill(MutBytes out) noexcept override;  // Entropy: the seed's entropy stream

  // --- set-up (before run) ----------------------------------------------------
  u64 seed() const noexcept { return seed_; }
  Prng& rng() noexcept { return rng_; }
  u8 add_actor(Actor& a) noexcept;
  void add_feed(EngineFeed& f) noexcept;
  void add_checker(Checker& c) noexcept;
  void set_sink(ports::EventSink* sink) noexcept { sink_ = sink; }
  ports::EventSink* sink() const noexcept { return sink_; }
  // Arms the allocation counter: from now on any operator new fails the run.
  void arm_allocation_check() noexcept;
  void disarm_allocation_check() noexcept;
  // Fails the run once more than `n` events were processed (0: no budget).
  void set_event_budget(u64 n) noexcept { budget_ = n; }
  void set_phase(const char* phase) noexcept { phase_ = phase; }
  const char* phase() const noexcept { return phase_; }

  // --- scheduling ---------------------------------------------------------------
  // Queues an event for `actor` at `at` (clamped to now).  A full queue fails
  // the run (capacity is derived from the knobs at init) and returns false.
  bool schedule(Instant at, u8 actor, u8 kind, u32 a = 0, u32 b = 0, u64 c = 0,
                u32 d = 0) noexcept;
  bool schedule_in(Duration dt, u8 actor, u8 kind, u32 a = 0, u32 b = 0, u64 c = 0,
                   u32 d = 0) noexcept {
    return schedule(now_ + dt, actor, kind, a, b, c, d);
  }

  // --- running ------------------------------------------------------------------
  StepResult step() noexcept;
  // Runs until the clock would pass `t` (then sets now = t).  False on failure.
  bool run_until(Instant t) noexcept;
  // Runs until nothing is due and nothing is scheduled (true), or until the
  // clock would pass `limit` or `max_events` more events ran (false).
  bool run_until_idle(Instant limit, u64 max_events) noexcept;
  // Earliest instant something is due (never if idle).
  Instant next_time() const noexcept;

  // --- failure ------------------------------------------------------------------
  void fail(const char* source, const char* fmt, ...) noexcept
      __attribute__((format(printf, 3, 4)));
  bool failed() const noexcept { return failure_.failed; }
  const Failure& failure() const noexcept { return failure_; }

  // --- observation --------------------------------------------------------------
  u64 events() const noexcept { return events_; }
  u64 polls() const noexcept { return polls_; }
  const EventQueue& queue() const noexcept { return queue_; }
  // Running hash of everything that happened (events, engine calls, frame
  // contents): equal seeds must give equal hashes.
  u64 trace_hash() const noexcept { return trace_; }
  void trace(u64 tag, u64 v) noexcept;

 private:
  bool due_actor(Instant t, std::size_t* which) const noexcept;
  bool engine_ready() const noexcept;
  void poll_engine() noexcept;
  void after_event() noexcept;

  u64 seed_;
  Prng rng_;
  Prng entropy_;
  EventQueue queue_;
  Instant now_ = kEpoch;
  ports::EventSink* sink_ = nullptr;
  Actor* actors_[kMaxActors] = {};
  std::size_t n_actors_ = 0;
  EngineFeed* feeds_[kMaxFeeds] = {};
  std::size_t n_feeds_ = 0;
  Checker* checkers_[kMaxCheckers] = {};
  std::size_t n_checkers_ = 0;
  u64 events_ = 0;
  u64 polls_ = 0;
  u64 budget_ = 0;
  Instant last_poll_at_ = Instant::never();
  u64 polls_at_instant_ = 0;
  u64 trace_ = 0xcbf29ce484222325ULL;
  bool alloc_armed_ = false;
  const char* phase_ = "init";
  Failure failure_;
};

}  // namespace passt::sim
