// Properties of the simulator's building blocks: the byte ring against a
// reference deque, the event queue's ordering, the PRNG helpers' ranges,
// seed parsing, pattern streams, and the link's self-checks under arbitrary
// fault settings (with determinism: one seed, one trace).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "sim/event_queue.hpp"
#include "sim/guest.hpp"
#include "sim/link.hpp"
#include "sim/pattern.hpp"
#include "sim/prng.hpp"
#include "sim/ring.hpp"

namespace passt::sim {
namespace {

RC_GTEST_PROP(SimProp, ByteRingMatchesADeque, ()) {
  const auto cap = *rc::gen::inRange<std::size_t>(1, 300);
  std::vector<u8> storage(cap);
  ByteRing ring;
  ring.init(storage.data(), cap);
  std::deque<u8> ref;
  const auto ops = *rc::gen::inRange(1, 60);
  for (int i = 0; i < ops; i++) {
    const int op = *rc::gen::inRange(0, 3);
    if (op == 0) {
      const auto data = *rc::gen::container<std::vector<u8>>(*rc::gen::inRange<std::size_t>(0, 120),
                                                            rc::gen::arbitrary<u8>());
      const std::size_t n = ring.push(Bytes(data));
      RC_ASSERT(n == std::min(data.size(), cap - ref.size()));
      ref.insert(ref.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    } else if (op == 1) {
      const auto off = *rc::gen::inRange<std::size_t>(0, cap + 2);
      std::vector<u8> out(*rc::gen::inRange<std::size_t>(0, 150));
      const std::size_t n = ring.peek(off, MutBytes(out));
      const std::size_t want = off < ref.size() ? std::min(out.size(), ref.size() - off) : 0;
      RC_ASSERT(n == want);
      for (std::size_t k = 0; k < n; k++) RC_ASSERT(out[k] == ref[off + k]);
    } else {
      const auto n = *rc::gen::inRange<std::size_t>(0, cap + 2);
      const std::size_t d = ring.drop(n);
      RC_ASSERT(d == std::min(n, ref.size()));
      ref.erase(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(d));
    }
    RC_ASSERT(ring.size() == ref.size());
  }
}

RC_GTEST_PROP(SimProp, EventQueuePopsInTimeThenScheduleOrder, ()) {
  const auto times = *rc::gen::container<std::vector<u8>>(*rc::gen::inRange<std::size_t>(0, 200),
                                                         rc::gen::arbitrary<u8>());
  EventQueue q(times.size() + 1);
  for (std::size_t i = 0; i < times.size(); i++) {
    Event e;
    e.at = Instant::from_nanos(times[i]);
    e.a = static_cast<u32>(i);
    RC_ASSERT(q.push(e));
  }
  i64 last_t = -1;
  u32 last_a = 0;
  while (!q.empty()) {
    const Event e = q.pop();
    RC_ASSERT(e.at.ns >= last_t);
    if (e.at.ns == last_t) RC_ASSERT(e.a > last_a);  // FIFO among equal times
    last_t = e.at.ns;
    last_a = e.a;
  }
}

RC_GTEST_PROP(SimProp, PrngHelpersStayInRange, (u64 seed, u64 a, u64 b)) {
  Prng p(seed);
  const u64 n = a == 0 ? 1 : a;
  RC_ASSERT(p.below(n) < n);
  const u64 lo = std::min(a, b), hi = std::max(a, b);
  const u64 v = p.range(lo, hi);
  RC_ASSERT(v >= lo && v <= hi);
  Prng q(seed);
  RC_ASSERT(q.below(n) == Prng(seed).below(n));
}

RC_GTEST_PROP(SimProp, SeedTextRoundTrips, (u64 seed)) {
  RC_ASSERT(parse_seed(std::to_string(seed)) == seed);
  char hex[24];
  std::snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(seed));
  RC_ASSERT(parse_seed(hex) == seed);
}

RC_GTEST_PROP(SimProp, PatternIsSeekableAndChecked, (u64 stream, u32 off32)) {
  const u64 off = off32;
  const auto len = *rc::gen::inRange<std::size_t>(0, 100);
  std::vector<u8> buf(len);
  fill_pattern(stream, off, MutBytes(buf));
  for (std::size_t i = 0; i < len; i++) RC_ASSERT(buf[i] == pattern_byte(stream, off + i));
  RC_ASSERT(check_pattern(stream, off, Bytes(buf)) == len);
  if (len > 0) {
    const auto at = *rc::gen::inRange<std::size_t>(0, len);
    buf[at] ^= static_cast<u8>(1u << *rc::gen::inRange(0, 8));
    RC_ASSERT(check_pattern(stream, off, Bytes(buf)) == at);
  }
}

// Bounces every frame back to the guest unchanged.
class Mirror final : public ports::EventSink {
 public:
  explicit Mirror(ports::TapPort& tap) : tap_(tap) {}
  void on_tap_frames(std::span<const Bytes> frames, Instant) noexcept override { tap_.send(frames); }
  void on_tap_state(bool, Instant) noexcept override {}
  void on_socket_event(u64, u32, Instant) noexcept override {}
  void on_deadline(Instant) noexcept override {}
  void flush(Instant) noexcept override {}
  Instant next_deadline() const noexcept override { return Instant::never(); }

 private:
  ports::TapPort& tap_;
};

// Sends numbered frames from the guest side at random times.
class Sender final : public Actor {
 public:
  Sender(World& w, SimLink& link, RecordingGuest& g, u32 n) : w_(w), link_(link), g_(g), n_(n) {
    me_ = w.add_actor(*this);
    w.schedule(w.now(), me_, 1);
  }
  const char* name() const noexcept override { return "sender"; }
  void on_event(const Event&) noexcept override {
    u8 f[80] = {};
    std::memset(f, 0x02, 12);
    f[12] = 0x88;
    f[13] = 0xb5;
    f[14] = static_cast<u8>(sent_);
    (void)g_.send(Bytes(f, 14 + 1 + w_.rng().below(60)));
    if (++sent_ < n_) w_.schedule_in(Duration::micros(static_cast<i64>(w_.rng().below(300))), me_, 1);
    if (sent_ % 17 == 0) link_.set_connected(!link_.connected());
  }

 private:
  World& w_;
  SimLink& link_;
  RecordingGuest& g_;
  u32 n_;
  u32 sent_ = 0;
  u8 me_ = 0;
};

struct LinkRun {
  bool ok = false;
  u64 hash = 0;
  u64 delivered = 0;
};

LinkRun run_link(u64 seed, const LinkConfig& cfg) {
  World w(seed, 1 << 13);
  SimLink link(w, cfg);
  RecordingGuest guest;
  link.attach_guest(guest);
  Mirror m(link);
  w.set_sink(&m);
  LinkChecker c(link);
  w.add_checker(c);
  Sender s(w, link, guest, 120);
  w.run_until(w.now() + Duration::seconds(2));
  link.set_connected(true);
  w.run_until(w.now() + Duration::seconds(1));
  return {!w.failed(), w.trace_hash(), guest.count()};
}

RC_GTEST_PROP(SimProp, LinkSelfChecksHoldUnderAnyFaultsAndRunsRepeat, (u64 seed)) {
  LinkConfig cfg;
  cfg.mtu = 1500;
  cfg.pool_frames = *rc::gen::inRange<u32>(4, 64);
  cfg.queue_frames = *rc::gen::inRange<u32>(1, 64);
  cfg.max_batch = *rc::gen::inRange<u32>(1, 16);
  for (auto& f : cfg.faults) {
    f.delay = Duration::micros(*rc::gen::inRange<i64>(0, 2000));
    f.jitter = Duration::micros(*rc::gen::inRange<i64>(0, 2000));
    f.loss_ppm = *rc::gen::inRange<u32>(0, 1000001);
    f.dup_ppm = *rc::gen::inRange<u32>(0, 1000001);
    f.reorder_ppm = *rc::gen::inRange<u32>(0, 1000001);
    f.reorder_extra = Duration::micros(*rc::gen::inRange<i64>(1, 3000));
    f.corrupt_ppm = *rc::gen::inRange<u32>(0, 1000001);
    f.corrupt_bits_max = *rc::gen::inRange<u32>(0, 20);
  }
  const LinkRun a = run_link(seed, cfg);
  const LinkRun b = run_link(seed, cfg);
  RC_ASSERT(a.ok);
  RC_ASSERT(a.hash == b.hash);
  RC_ASSERT(a.delivered == b.delivered);
}

}  // namespace
}  // namespace passt::sim
