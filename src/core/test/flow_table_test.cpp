#include "core/flow_table.hpp"

#include <gtest/gtest.h>

#include "core/deadline_heap.hpp"

namespace passt::core {
namespace {

struct Payload {
  u32 a = 0;
  u32 b = 0;
};

FlowSide side(u8 e, u16 eport, u8 o, u16 oport) {
  return FlowSide{InAny::from(Ipv4Addr::of(10, 0, 0, e)), InAny::from(Ipv4Addr::of(10, 0, 1, o)),
                  oport, eport};
}

FlowIdx make(FlowTable& t, u16 port) {
  auto r = t.alloc(L4::tcp);
  EXPECT_TRUE(r);
  FlowIdx i = *r;
  t.set_ini(i, Pif::tap, side(1, port, 2, 80));
  t.set_tgt(i, Pif::host, side(3, 80, 4, port));
  t.set_type<Payload>(i, FlowType::tcp, Payload{port, 1});
  t.activate(i);
  return i;
}

TEST(FlowTable, LifecycleAndLookupFromBothSides) {
  FlowTable t(128, SipKey{1, 2});
  FlowIdx i = make(t, 1000);
  EXPECT_EQ(i.v, 0u);
  EXPECT_EQ(t.active_count(), 1u);
  FlowSidx s0 = t.lookup(FlowTable::key_of(t.at(i), 0));
  FlowSidx s1 = t.lookup(FlowTable::key_of(t.at(i), 1));
  EXPECT_EQ(s0, (FlowSidx{0, 0}));
  EXPECT_EQ(s1, (FlowSidx{0, 1}));
  EXPECT_EQ(t.at(i).as<Payload>().a, 1000u);
  FlowKey miss = FlowTable::key_of(t.at(i), 0);
  miss.eport = 1;
  EXPECT_FALSE(t.lookup(miss).valid());
  EXPECT_EQ(t.verify(), nullptr);
  t.release(i);
  EXPECT_FALSE(t.lookup(FlowTable::key_of(t.at(i), 0)).valid());
  EXPECT_EQ(t.active_count(), 0u);
  EXPECT_EQ(t.verify(), nullptr);
}

TEST(FlowTable, AllocTakesLowestFreeIndex) {
  FlowTable t(200, SipKey{3, 4});
  for (u16 p = 0; p < 150; p++) EXPECT_EQ(make(t, p).v, p);
  t.release(FlowIdx{130});
  t.release(FlowIdx{7});
  t.release(FlowIdx{64});
  EXPECT_EQ(make(t, 1007).v, 7u);
  EXPECT_EQ(make(t, 1064).v, 64u);
  EXPECT_EQ(make(t, 1130).v, 130u);
  EXPECT_EQ(make(t, 1150).v, 150u);
  EXPECT_EQ(t.verify(), nullptr);
}

TEST(FlowTable, FullTableReportsFull) {
  FlowTable t(70, SipKey{5, 6});
  for (u16 p = 0; p < 70; p++) make(t, p);
  auto r = t.alloc(L4::udp);
  EXPECT_EQ(r.err(), Err::full);
  t.release(FlowIdx{69});
  EXPECT_TRUE(t.alloc(L4::udp));
}

TEST(FlowTable, CancelRollsBackAtEveryStage) {
  FlowTable t(16, SipKey{7, 8});
  for (int stage = 0; stage < 4; stage++) {
    auto r = t.alloc(L4::udp);
    ASSERT_TRUE(r);
    if (stage >= 1) t.set_ini(*r, Pif::tap, side(1, 5, 2, 6));
    if (stage >= 2) t.set_tgt(*r, Pif::host, side(3, 6, 4, 5));
    if (stage >= 3) t.set_type<Payload>(*r, FlowType::udp);
    EXPECT_EQ(t.pending(), *r);
    t.cancel(*r);
    EXPECT_FALSE(t.pending().valid());
    EXPECT_EQ(t.active_count(), 0u);
    EXPECT_EQ(t.verify(), nullptr);
  }
}

TEST(FlowTable, DeletionKeepsCollidingEntriesReachable) {
  // A small table makes long probe sequences; delete in many orders.
  for (u32 round = 0; round < 20; round++) {
    FlowTable t(40, SipKey{round, round * 7});
    for (u16 p = 0; p < 40; p++) make(t, p);
    for (u32 k = 0; k < 40; k++) {
      u32 victim = (k * 17 + round) % 40;
      if (t.at(FlowIdx{victim}).state != FlowState::active) continue;
      t.release(FlowIdx{victim});
      ASSERT_EQ(t.verify(), nullptr) << "round " << round << " k " << k;
      for (u32 j = 0; j < 40; j++) {
        const Flow& f = t.at(FlowIdx{j});
        if (f.state != FlowState::active) continue;
        ASSERT_EQ(t.lookup(FlowTable::key_of(f, 1)), (FlowSidx{j, 1}));
      }
    }
  }
}

TEST(FlowTable, DefaultCapacityTouchesLittleMemory) {
  // 128k entries are allocated but only the used ones are written.
  FlowTable t(131072, SipKey{9, 9});
  EXPECT_EQ(t.capacity(), 131072u);
  make(t, 1);
  EXPECT_EQ(t.verify(), nullptr);
}

TEST(DeadlineHeap, OrdersAndMoves) {
  DeadlineHeap h(10);
  EXPECT_TRUE(h.top_time().is_never());
  h.set(3, Instant::from_nanos(30));
  h.set(1, Instant::from_nanos(10));
  h.set(7, Instant::from_nanos(70));
  EXPECT_EQ(h.top_id(), 1u);
  h.set(7, Instant::from_nanos(5));
  EXPECT_EQ(h.top_id(), 7u);
  h.set(7, Instant::from_nanos(50));
  EXPECT_EQ(h.top_id(), 1u);
  h.clear(1);
  EXPECT_EQ(h.top_id(), 3u);
  EXPECT_EQ(h.get(7).ns, 50);
  EXPECT_FALSE(h.contains(1));
  h.set(3, Instant::never());
  EXPECT_EQ(h.top_id(), 7u);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.verify(), nullptr);
}

}  // namespace
}  // namespace passt::core
