#include "sim/world.hpp"

#include "sim/alloc_counter.hpp"
#include "util/check.hpp"

namespace passt::sim {

namespace {
// Trace tags (first word mixed for each traced item).
constexpr u64 kTraceEvent = 0x45;
constexpr u64 kTracePoll = 0x50;
constexpr u64 kTraceDeadline = 0x44;
constexpr u64 kTraceActorDeadline = 0x41;
}  // namespace

Prng seed_stream(u64 seed, u64 label) noexcept { return Prng(seed).fork(label); }

World::World(u64 seed, std::size_t event_capacity)
    : seed_(seed),
      rng_(seed_stream(seed, stream::world)),
      entropy_(seed_stream(seed, stream::entropy)),
      queue_(event_capacity) {}

void World::fill(MutBytes out) noexcept {
  std::size_t i = 0;
  while (i < out.size()) {
    u64 w = entropy_.next();
    for (std::size_t k = 0; k < 8 && i < out.size(); k++, i++) out[i] = static_cast<u8>(w >> (8 * k));
  }
}

u8 World::add_actor(Actor& a) noexcept {
  PASST_CHECK(n_actors_ < kMaxActors);
  actors_[n_actors_] = &a;
  return static_cast<u8>(n_actors_++);
}

void World::add_feed(EngineFeed& f) noexcept {
  PASST_CHECK(n_feeds_ < kMaxFeeds);
  feeds_[n_feeds_++] = &f;
}

void World::add_checker(Checker& c) noexcept {
  PASST_CHECK(n_checkers_ < kMaxCheckers);
  checkers_[n_checkers_++] = &c;
}

void World::arm_allocation_check() noexcept {
  alloc::clear_violations();
  alloc::arm();
  alloc_armed_ = true;
}

void World::disarm_allocation_check() noexcept {
  alloc::disarm();
  alloc_armed_ = false;
}

void World::trace(u64 tag, u64 v) noexcept {
  trace_ = mix64(trace_ ^ mix64(tag * 0x9e3779b97f4a7c15ULL + v));
}

bool World::schedule(Instant at, u8 actor, u8 kind, u32 a, u32 b, u64 c, u32 d) noexcept {
  PASST_CHECK(actor < n_actors_);
  Event e;
  e.at = at < now_ ? now_ : at;
  e.actor = actor;
  e.kind = kind;
  e.a = a;
  e.b = b;
  e.c = c;
  e.d = d;
  if (!queue_.push(e)) {
    fail("world", "event queue full (capacity %zu) scheduling kind %u for actor %s",
         queue_.capacity(), kind, actors_[actor]->name());
    return false;
  }
  return true;
}

void World::fail(const char* source, const char* fmt, ...) noexcept {
  if (failure_.failed) return;  // keep the first
  failure_.failed = true;
  failure_.event = events_;
  failure_.at = now_;
  failure_.phase = phase_;
  std::snprintf(failure_.source, sizeof(failure_.source), "%s", source);
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(failure_.reason, sizeof(failure_.reason), fmt, ap);
  va_end(ap);
}

bool World::due_actor(Instant t, std::size_t* which) const noexcept {
  for (std::size_t i = 0; i < n_actors_; i++) {
    if (actors_[i]->next_deadline() <= t) {
      *which = i;
      return true;
    }
  }
  return false;
}

bool World::engine_ready() const noexcept {
  if (sink_ == nullptr) return false;
  for (std::size_t i = 0; i < n_feeds_; i++)
    if (feeds_[i]->has_work(now_)) return true;
  return sink_->next_deadline() <= now_;
}

Instant World::next_time() const noexcept {
  Instant t = Instant::never();
  if (!queue_.empty()) t = earliest(t, queue_.top().at);
  for (std::size_t i = 0; i < n_actors_; i++) t = earliest(t, actors_[i]->next_deadline());
  if (sink_ != nullptr) {
    t = earliest(t, sink_->next_deadline());
    for (std::size_t i = 0; i < n_feeds_; i++)
      if (feeds_[i]->has_work(now_)) t = earliest(t, now_);
  }
  return t;
}

void World::poll_engine() noexcept {
  polls_++;
  if (last_poll_at_ == now_) {
    if (++polls_at_instant_ > kMaxPollsPerInstant) {
      const char* last = nullptr;
      for (std::size_t i = 0; i < n_feeds_ && last == nullptr; i++) last = feeds_[i]->last_delivery();
      fail("world",
           "livelock: %llu engine polls at the same instant without time advancing "
           "(readiness or a deadline the engine never consumes; engine deadline %s; last: %s)",
           static_cast<unsigned long long>(polls_at_instant_),
           sink_->next_deadline() <= now_ ? "due" : "not due", last != nullptr ? last : "-");
      return;
    }
  } else {
    last_poll_at_ = now_;
    polls_at_instant_ = 1;
  }
  trace(kTracePoll, static_cast<u64>(now_.ns));
  for (std::size_t i = 0; i < n_feeds_; i++)
    if (feeds_[i]->has_work(now_)) feeds_[i]->deliver(*sink_, now_);
  if (sink_->next_deadline() <= now_) {
    trace(kTraceDeadline, static_cast<u64>(now_.ns));
    sink_->on_deadline(now_);
  }
  sink_->flush(now_);
}

void World::after_event() noexcept {
  events_++;
  if (alloc_armed_ && alloc::stats().armed_allocs > 0) {
    fail("alloc", "%llu heap allocation(s) after init, the first of %zu bytes "
         "(break on passt::sim::alloc::on_violation to find it)",
         static_cast<unsigned long long>(alloc::stats().armed_allocs), alloc::stats().first_size);
    return;
  }
  for (std::size_t i = 0; i < n_checkers_ && !failure_.failed; i++) {
    if (const char* why = checkers_[i]->check(*this)) fail(checkers_[i]->name(), "%s", why);
  }
  if (budget_ != 0 && events_ > budget_)
    fail("world", "event budget of %llu exhausted", static_cast<unsigned long long>(budget_));
}

StepResult World::step() noexcept {
  if (failure_.failed) return StepResult::failed;
  if (!queue_.empty() && queue_.top().at <= now_) {
    Event e = queue_.pop();
    trace(kTraceEvent, (static_cast<u64>(e.actor) << 56) ^ (static_cast<u64>(e.kind) << 48) ^
                           (static_cast<u64>(e.a) << 24) ^ e.b ^ mix64(e.c + e.d));
    actors_[e.actor]->on_event(e);
    after_event();
    return failure_.failed ? StepResult::failed : StepResult::event;
  }
  std::size_t who = 0;
  if (due_actor(now_, &who)) {
    trace(kTraceActorDeadline, who);
    actors_[who]->on_deadline(now_);
    after_event();
    return failure_.failed ? StepResult::failed : StepResult::event;
  }
  if (engine_ready()) {
    poll_engine();
    after_event();
    return failure_.failed ? StepResult::failed : StepResult::event;
  }
  Instant next = next_time();
  if (next.is_never()) return StepResult::idle;
  PASST_CHECK(next > now_);
  now_ = next;
  return StepResult::advanced;
}

bool World::run_until(Instant t) noexcept {
  while (!failure_.failed) {
    if (next_time() > t) {
      if (now_ < t) now_ = t;
      return true;
    }
    step();
  }
  return false;
}

bool World::run_until_idle(Instant limit, u64 max_events) noexcept {
  const u64 stop_at = events_ + max_events;
  while (!failure_.failed) {
    Instant next = next_time();
    if (next.is_never()) return true;
    if (next > limit || events_ >= stop_at) return false;
    step();
  }
  return false;
}

}  // namespace passt::sim
