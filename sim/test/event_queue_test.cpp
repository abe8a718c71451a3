#include "sim/event_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sim/prng.hpp"

namespace passt::sim {
namespace {

Event at(i64 ns, u32 tag) {
  Event e;
  e.at = Instant::from_nanos(ns);
  e.a = tag;
  return e;
}

TEST(EventQueue, OrdersByTimeThenInsertion) {
  EventQueue q(16);
  ASSERT_TRUE(q.push(at(30, 1)));
  ASSERT_TRUE(q.push(at(10, 2)));
  ASSERT_TRUE(q.push(at(20, 3)));
  ASSERT_TRUE(q.push(at(10, 4)));
  ASSERT_TRUE(q.push(at(10, 5)));
  std::vector<u32> order;
  while (!q.empty()) order.push_back(q.pop().a);
  EXPECT_EQ(order, (std::vector<u32>{2, 4, 5, 3, 1}));
}

TEST(EventQueue, CapacityIsFixed) {
  EventQueue q(3);
  EXPECT_TRUE(q.push(at(1, 0)));
  EXPECT_TRUE(q.push(at(2, 0)));
  EXPECT_TRUE(q.push(at(3, 0)));
  EXPECT_FALSE(q.push(at(0, 0)));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.top().at.ns, 1);
  EXPECT_EQ(q.peak(), 3u);
}

TEST(EventQueue, MatchesASortedReference) {
  Prng rng(99);
  EventQueue q(512);
  struct Ref {
    i64 t;
    u64 seq;
  };
  std::vector<Ref> ref;
  u64 seq = 0;
  for (int round = 0; round < 2000; round++) {
    if (ref.size() < 500 && (ref.empty() || rng.chance(600000))) {
      const i64 t = static_cast<i64>(rng.below(50));
      ASSERT_TRUE(q.push(at(t, static_cast<u32>(seq))));
      ref.push_back({t, seq++});
    } else {
      auto it = std::min_element(ref.begin(), ref.end(), [](const Ref& x, const Ref& y) {
        return x.t < y.t || (x.t == y.t && x.seq < y.seq);
      });
      const Event e = q.pop();
      EXPECT_EQ(e.at.ns, it->t);
      EXPECT_EQ(e.a, static_cast<u32>(it->seq));
      ref.erase(it);
    }
  }
}

}  // namespace
}  // namespace passt::sim
