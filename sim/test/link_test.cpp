#include "sim/link.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "sim/recording_sink.hpp"
#include "util/endian.hpp"

namespace passt::sim {
namespace {

// A frame carrying a sequence number after the Ethernet header.
struct TestFrame {
  u8 b[64] = {};
  explicit TestFrame(u32 seq) {
    std::memset(b, 0xaa, 12);
    store_be16(b + 12, 0x88b5);
    store_be32(b + 14, seq);
  }
  Bytes bytes() const { return Bytes(b, sizeof(b)); }
};

struct Rig {
  explicit Rig(const LinkConfig& cfg, u64 seed = 1) : w(seed, 1 << 16), link(w, cfg) {
    link.attach_guest(guest);
    w.set_sink(&sink);
    w.add_checker(checker);
  }
  World w;
  SimLink link;
  RecordingGuest guest;
  RecordingSink sink;
  LinkChecker checker{link};
};

LinkConfig quiet_config() {
  LinkConfig c;
  c.mtu = 1500;
  c.pool_frames = 4096;
  c.queue_frames = 4096;
  c.max_batch = 64;
  for (auto& f : c.faults) {
    f.delay = Duration::micros(100);
    f.jitter = Duration::zero();
  }
  return c;
}

TEST(SimLink, DeliversBothWaysAfterTheDelay) {
  LinkConfig c = quiet_config();
  c.faults[0].delay = Duration::millis(2);  // to guest
  c.faults[1].delay = Duration::millis(1);  // to engine
  Rig r(c);
  const Instant t0 = r.w.now();
  TestFrame f(7);
  const Bytes one[1] = {f.bytes()};
  EXPECT_EQ(r.link.send(one), 1u);
  EXPECT_TRUE(r.guest.send(f.bytes()));
  EXPECT_TRUE(r.w.run_until(t0 + Duration::millis(10)));
  ASSERT_EQ(r.guest.count(), 1u);
  EXPECT_EQ(r.guest.rx(0).at, t0 + Duration::millis(2));
  EXPECT_EQ(load_be32(r.guest.rx(0).data + 14), 7u);
  ASSERT_EQ(r.sink.frames(), 1u);
  EXPECT_EQ(r.sink.frame(0).at, t0 + Duration::millis(1));
  EXPECT_EQ(r.sink.flushes(), 1u);
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;
}

TEST(SimLink, JitterNeverReordersWithoutTheReorderFault) {
  LinkConfig c = quiet_config();
  for (auto& f : c.faults) {
    f.delay = Duration::micros(500);
    f.jitter = Duration::micros(400);
  }
  Rig r(c);
  const Instant t0 = r.w.now();
  for (u32 i = 0; i < 60; i++) {
    TestFrame f(i);
    const Bytes one[1] = {f.bytes()};
    ASSERT_EQ(r.link.send(one), 1u);
    r.w.run_until(r.w.now() + Duration::micros(20));
  }
  r.w.run_until(t0 + Duration::seconds(1));
  ASSERT_EQ(r.guest.count(), 60u);
  for (u32 i = 0; i < 60; i++) {
    EXPECT_EQ(load_be32(r.guest.rx(i).data + 14), i);
    EXPECT_LE(r.guest.rx(i).at - t0, Duration::micros(20) * i + Duration::micros(900));
  }
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;
}

// Sends n frames from the guest, spaced so the queue never fills.
void pump_guest(Rig& r, u32 n) {
  for (u32 i = 0; i < n; i++) {
    TestFrame f(i);
    r.guest.send(f.bytes());
    r.w.run_until(r.w.now() + Duration::micros(5));
  }
  r.w.run_until(r.w.now() + Duration::seconds(1));
}

TEST(SimLink, LossRateWithinBounds) {
  LinkConfig c = quiet_config();
  c.faults[1].loss_ppm = 100000;  // 10%
  Rig r(c, 77);
  pump_guest(r, 20000);
  const LinkStats& s = r.link.stats(Dir::to_engine);
  EXPECT_EQ(s.accepted, 20000u);
  EXPECT_GT(s.lost, 1800u);
  EXPECT_LT(s.lost, 2200u);
  EXPECT_EQ(s.delivered + s.lost, 20000u);
  EXPECT_EQ(r.sink.frames(), s.delivered);
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;
}

TEST(SimLink, DuplicationRateWithinBoundsAndCopiesFollowOriginals) {
  LinkConfig c = quiet_config();
  c.faults[1].dup_ppm = 50000;  // 5%
  c.faults[1].jitter = Duration::micros(50);
  Rig r(c, 78);
  pump_guest(r, 20000);
  const LinkStats& s = r.link.stats(Dir::to_engine);
  EXPECT_GT(s.duplicated, 850u);
  EXPECT_LT(s.duplicated, 1150u);
  EXPECT_EQ(s.delivered, 20000u);
  EXPECT_EQ(s.delivered_dups, s.duplicated);
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;  // ordering check included
}

TEST(SimLink, CorruptionFlipsBoundedBits) {
  LinkConfig c = quiet_config();
  c.faults[0].corrupt_ppm = 50000;
  c.faults[0].corrupt_bits_max = 3;
  Rig r(c, 79);
  const Instant t0 = r.w.now();
  u32 corrupted = 0;
  for (u32 i = 0; i < 4000; i++) {
    TestFrame f(i);
    const Bytes one[1] = {f.bytes()};
    ASSERT_EQ(r.link.send(one), 1u);
    r.w.run_until(r.w.now() + Duration::millis(1));  // delivered before the next
    ASSERT_EQ(r.guest.count(), i + 1);
    const auto& rx = r.guest.rx(i);
    int bits = 0;
    for (std::size_t k = 0; k < sizeof(f.b); k++) bits += __builtin_popcount(rx.data[k] ^ f.b[k]);
    EXPECT_LE(bits, 3);
    if (bits > 0) corrupted++;
  }
  (void)t0;
  const LinkStats& s = r.link.stats(Dir::to_guest);
  EXPECT_GT(s.corrupted, 150u);
  EXPECT_LT(s.corrupted, 250u);
  EXPECT_LE(corrupted, s.corrupted);  // two flips of one bit cancel
  EXPECT_GE(corrupted + 5, s.corrupted);
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;
}

TEST(SimLink, ReorderingLetsLaterFramesPass) {
  LinkConfig c = quiet_config();
  c.faults[0].reorder_ppm = 100000;
  c.faults[0].reorder_extra = Duration::millis(2);
  Rig r(c, 80);
  for (u32 i = 0; i < 2000; i++) {
    TestFrame f(i);
    const Bytes one[1] = {f.bytes()};
    ASSERT_EQ(r.link.send(one), 1u);
    r.w.run_until(r.w.now() + Duration::micros(50));
  }
  r.w.run_until(r.w.now() + Duration::seconds(1));
  const LinkStats& s = r.link.stats(Dir::to_guest);
  EXPECT_GT(s.reordered, 150u);
  EXPECT_LT(s.reordered, 250u);
  u32 inversions = 0;
  // RecordingGuest keeps the last 64 frames: count inversions among them
  // and overall arrival totals.
  EXPECT_EQ(r.guest.count(), 2000u);
  for (u64 i = r.guest.count() - RecordingGuest::kSlots + 1; i < r.guest.count(); i++)
    if (load_be32(r.guest.rx(i).data + 14) < load_be32(r.guest.rx(i - 1).data + 14)) inversions++;
  EXPECT_GT(inversions, 0u);
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;
}

TEST(SimLink, BatchesAreBoundedAndFlushed) {
  LinkConfig c = quiet_config();
  c.max_batch = 3;
  Rig r(c);
  for (u32 i = 0; i < 7; i++) {
    TestFrame f(i);
    ASSERT_TRUE(r.guest.send(f.bytes()));
  }
  r.w.run_until(r.w.now() + Duration::millis(1));
  EXPECT_EQ(r.sink.frames(), 7u);
  EXPECT_EQ(r.sink.batches(), 3u);  // 3 + 3 + 1
  EXPECT_EQ(r.sink.max_batch(), 3u);
  EXPECT_EQ(r.sink.flushes(), 3u);
  for (u32 i = 0; i < 7; i++) EXPECT_EQ(load_be32(r.sink.frame(i).head + 14), i);
}

TEST(SimLink, BackPressureReturnsFramesTaken) {
  LinkConfig c = quiet_config();
  c.queue_frames = 4;
  Rig r(c);
  TestFrame f(1);
  const Bytes ten[10] = {f.bytes(), f.bytes(), f.bytes(), f.bytes(), f.bytes(),
                         f.bytes(), f.bytes(), f.bytes(), f.bytes(), f.bytes()};
  EXPECT_EQ(r.link.send(ten), 4u);
  EXPECT_EQ(r.link.stats(Dir::to_guest).refused, 1u);  // stops at the first refusal
  r.w.run_until(r.w.now() + Duration::millis(1));
  EXPECT_EQ(r.link.send(ten), 4u);
  for (int i = 0; i < 4; i++) EXPECT_TRUE(r.guest.send(f.bytes()));
  EXPECT_FALSE(r.guest.send(f.bytes()));
}

TEST(SimLink, DisconnectDropsInFlightAndNotifiesFromTheLoop) {
  LinkConfig c = quiet_config();
  Rig r(c);
  TestFrame f(1);
  const Bytes one[1] = {f.bytes()};
  EXPECT_EQ(r.link.send(one), 1u);
  EXPECT_TRUE(r.guest.send(f.bytes()));
  r.link.set_connected(false);
  EXPECT_FALSE(r.link.connected());
  EXPECT_EQ(r.sink.states(), 0u);  // not re-entrantly inside set_connected
  EXPECT_EQ(r.guest.link_events(), 1u);
  EXPECT_EQ(r.link.send(one), 1u);  // dropped, reported sent
  EXPECT_FALSE(r.guest.send(f.bytes()));
  r.w.step();  // the poll delivers the state change
  ASSERT_EQ(r.sink.states(), 1u);
  EXPECT_FALSE(r.sink.state(0));
  r.w.run_until(r.w.now() + Duration::millis(10));
  EXPECT_EQ(r.guest.count(), 0u);
  EXPECT_EQ(r.sink.frames(), 0u);
  EXPECT_EQ(r.link.stats(Dir::to_guest).flushed, 1u);
  EXPECT_EQ(r.link.stats(Dir::to_guest).down_drops, 1u);
  EXPECT_EQ(r.link.stats(Dir::to_engine).flushed, 1u);
  r.link.set_connected(true);
  r.w.run_until(r.w.now() + Duration::millis(1));
  ASSERT_EQ(r.sink.states(), 2u);
  EXPECT_TRUE(r.sink.state(1));
  EXPECT_EQ(r.link.send(one), 1u);
  r.w.run_until(r.w.now() + Duration::millis(1));
  EXPECT_EQ(r.guest.count(), 1u);
  EXPECT_FALSE(r.w.failed()) << r.w.failure().reason;
}

TEST(SimLink, OversizeEngineFrameFailsTheChecker) {
  LinkConfig c = quiet_config();
  c.mtu = 100;
  Rig r(c);
  u8 big[200] = {};
  const Bytes one[1] = {Bytes(big, sizeof(big))};
  EXPECT_EQ(r.link.send(one), 1u);
  EXPECT_NE(r.link.violation(), nullptr);
  TestFrame f(1);
  r.guest.send(f.bytes());  // any event runs the checkers
  r.w.run_until(r.w.now() + Duration::millis(1));
  ASSERT_TRUE(r.w.failed());
  EXPECT_STREQ(r.w.failure().source, "link");
  EXPECT_NE(std::strstr(r.w.failure().reason, "200-byte"), nullptr);
}

}  // namespace
}  // namespace passt::sim
