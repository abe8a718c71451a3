// The flow table behaves like a map from keys to flow sides under any
// sequence of inserts, releases and cancels, and keeps its invariants.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "core/deadline_heap.hpp"
#include "core/flow_table.hpp"

namespace passt::core {
namespace {

struct P {
  u32 tag;
};

RC_GTEST_PROP(FlowTableProp, MatchesModel, ()) {
  const u32 cap = *rc::gen::inRange<u32>(1, 64);
  FlowTable t(cap, SipKey{*rc::gen::arbitrary<u64>(), *rc::gen::arbitrary<u64>()});
  std::map<u32, u16> live;  // flow index -> port used in its keys
  const auto ops = *rc::gen::container<std::vector<u8>>(rc::gen::inRange<u8>(0, 10));
  u16 next_port = 1;
  for (u8 op : ops) {
    if (op < 6) {
      auto r = t.alloc(L4::udp);
      if (live.size() == cap) {
        RC_ASSERT(r.err() == Err::full);
        continue;
      }
      RC_ASSERT(r.ok());
      // Lowest free index.
      u32 expect = 0;
      while (live.count(expect)) expect++;
      RC_ASSERT(r->v == expect);
      u16 port = next_port++;
      FlowSide a{InAny::from(Ipv4Addr::of(10, 0, 0, 1)), InAny::from(Ipv4Addr::of(10, 0, 0, 2)),
                 53, port};
      t.set_ini(*r, Pif::tap, a);
      if (op == 5) {  // abandon half-way
        t.cancel(*r);
        continue;
      }
      FlowSide b{InAny::from(Ipv4Addr::of(1, 2, 3, 4)), InAny::from(Ipv4Addr::of(5, 6, 7, 8)),
                 port, 53};
      t.set_tgt(*r, Pif::host, b);
      t.set_type<P>(*r, FlowType::udp, P{port});
      t.activate(*r);
      live[r->v] = port;
    } else if (!live.empty()) {
      auto it = live.begin();
      std::advance(it, *rc::gen::inRange<std::size_t>(0, live.size()));
      t.release(FlowIdx{it->first});
      live.erase(it);
    }
    RC_ASSERT(t.verify() == nullptr);
    RC_ASSERT(t.active_count() == live.size());
  }
  for (auto [idx, port] : live) {
    const Flow& f = t.at(FlowIdx{idx});
    RC_ASSERT(f.as<P>().tag == port);
    RC_ASSERT(t.lookup(FlowTable::key_of(f, 0)) == (FlowSidx{idx, 0}));
    RC_ASSERT(t.lookup(FlowTable::key_of(f, 1)) == (FlowSidx{idx, 1}));
  }
}

RC_GTEST_PROP(DeadlineHeapProp, TopIsMinimum, ()) {
  DeadlineHeap h(32);
  std::map<u32, i64> model;
  const auto ops = *rc::gen::container<std::vector<std::pair<u8, i64>>>(
      rc::gen::pair(rc::gen::inRange<u8>(0, 40), rc::gen::inRange<i64>(0, 1000)));
  for (auto [id, t] : ops) {
    if (id >= 32) {
      u32 victim = id % 32;
      h.clear(victim);
      model.erase(victim);
    } else {
      h.set(id, Instant::from_nanos(t));
      model[id] = t;
    }
    RC_ASSERT(h.verify() == nullptr);
    RC_ASSERT(h.size() == model.size());
    if (!model.empty()) {
      i64 mn = INT64_MAX;
      for (auto [k, v] : model) mn = std::min(mn, v);
      RC_ASSERT(h.top_time().ns == mn);
    }
  }
}

}  // namespace
}  // namespace passt::core
