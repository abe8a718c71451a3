// The flow table: a fixed-size array of flows sized at start-up (at least
// 128k entries, like passt's FLOW_MAX), plus a SipHash-keyed open-addressing
// index from (protocol, pif, addresses, ports) to a flow side.
//
// Entry life cycle and contract
// -----------------------------
//   FREE ──alloc()──▶ NEW ──set_ini()──▶ INI ──set_tgt()──▶ TGT
//                      │                   │                 │
//                      └──── cancel() ◀────┴─────────────────┤
//                                                             ▼
//   FREE ◀──release()── ACTIVE ◀──activate()── TYPED ◀──set_type()
//
//  FREE    Not in use.  No field may be read.  Not in the index.
//  NEW     Allocated; nothing else is valid.  At most one flow is outside
//          FREE/ACTIVE at any time, and never across a return to the event
//          loop: a handler that allocates must activate or cancel before it
//          returns.
//  INI     Initiating side (pif[0], side[0]) filled in.  Not yet indexed.
//  TGT     Target side (pif[1], side[1]) filled in by the forwarding rules.
//  TYPED   Type and type-specific payload initialised; both sides are
//          inserted in the index (sides with pif none are not).
//  ACTIVE  Owned by its protocol handler.  Found by lookups from either
//          side.  Leaves only through release(), which the engine calls from
//          its deferred sweep after the handler marks the flow closed, so a
//          flow pointer taken during an event batch stays valid until the
//          batch ends.
//
// Allocation always takes the lowest free index, which keeps the touched
// part of the table (and the resident memory) as small as the number of
// live flows allows.  At the limit alloc() fails with Err::full and the
// caller drops the packet or resets the connection (their choice, logged).
#pragma once

#include <cstring>
#include <new>
#include <type_traits>

#include "core/flow.hpp"
#include "util/check.hpp"
#include "util/result.hpp"
#include "util/siphash.hpp"
#include "util/types.hpp"

namespace passt::core {

enum class FlowState : u8 { free = 0, new_, ini, tgt, typed, active };
const char* flow_state_name(FlowState s) noexcept;

// Bytes reserved in every entry for the type-specific state (TCP
// connection, UDP flow, ...).  Protocol code static_asserts its struct fits.
inline constexpr std::size_t kFlowPayloadBytes = 112;

struct alignas(16) Flow {
  FlowState state = FlowState::free;
  FlowType type = FlowType::none;
  L4 proto = L4::tcp;
  u8 closing = 0;  // handler asks the deferred sweep to release it
  Pif pif[2] = {Pif::none, Pif::none};
  FlowSide side[2];
  alignas(16) u8 payload[kFlowPayloadBytes] = {};

  template <class T>
  T& as() noexcept {
    static_assert(sizeof(T) <= kFlowPayloadBytes, "flow payload too large");
    static_assert(alignof(T) <= 16, "flow payload over-aligned");
    static_assert(std::is_trivially_destructible_v<T>, "flow payload must be trivially destructible");
    return *std::launder(reinterpret_cast<T*>(payload));
  }
  template <class T>
  const T& as() const noexcept {
    return *std::launder(reinterpret_cast<const T*>(payload));
  }
};

// Lookup key for the index: one side of one flow.
struct FlowKey {
  L4 proto = L4::tcp;
  Pif pif = Pif::none;
  InAny eaddr;
  InAny oaddr;
  u16 eport = 0;
  u16 oport = 0;
  bool operator==(const FlowKey&) const noexcept = default;
};

class FlowTable {
 public:
  // `capacity` entries (>= 1, < 2^31); the index has ceil(2 * capacity /
  // 0.7) buckets.  Allocates everything here; never again.  The memory is
  // obtained zeroed from the allocator and only touched as flows are used.
  FlowTable(u32 capacity, const SipKey& key);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  u32 capacity() const noexcept { return capacity_; }
  u32 active_count() const noexcept { return used_; }

  Flow& at(FlowIdx i) noexcept {
    PASST_CHECK(i.v < capacity_);
    return flows_[i.v];
  }
  const Flow& at(FlowIdx i) const noexcept {
    PASST_CHECK(i.v < capacity_);
    return flows_[i.v];
  }

  // --- life cycle (see the contract above) -------------------------------
  Result<FlowIdx> alloc(L4 proto) noexcept;
  void set_ini(FlowIdx i, Pif pif, const FlowSide& side) noexcept;
  void set_tgt(FlowIdx i, Pif pif, const FlowSide& side) noexcept;
  // Constructs T in the payload and indexes both sides.
  template <class T, class... Args>
  T& set_type(FlowIdx i, FlowType type, Args&&... args) noexcept {
    Flow& f = at(i);
    PASST_CHECK(f.state == FlowState::tgt);
    f.type = type;
    T* p = new (f.payload) T(static_cast<Args&&>(args)...);
    f.state = FlowState::typed;
    index_sides(i);
    return *p;
  }
  void activate(FlowIdx i) noexcept;
  // Rolls back an allocation that did not reach ACTIVE.
  void cancel(FlowIdx i) noexcept;
  // Removes an ACTIVE flow from the index and frees its entry.
  void release(FlowIdx i) noexcept;

  // The flow that is currently outside FREE/ACTIVE, if any.
  FlowIdx pending() const noexcept { return pending_; }

  // --- index --------------------------------------------------------------
  FlowSidx lookup(const FlowKey& k) const noexcept;
  static FlowKey key_of(const Flow& f, unsigned side) noexcept;

  // --- iteration ------------------------------------------------------------
  // Calls fn(FlowIdx, Flow&) for every ACTIVE flow, in index order.  The
  // walk is bounded by the highest index ever allocated.
  template <class Fn>
  void for_each_active(Fn&& fn) noexcept {
    for (u32 i = 0; i < high_water_; i++)
      if (flows_[i].state == FlowState::active) fn(FlowIdx{i}, flows_[i]);
  }

  // Checks every invariant (index consistency, counts, free map).  O(n);
  // for tests and the simulator's checkers.  Returns nullptr when all hold,
  // else a description of the first violation.
  const char* verify() const noexcept;

 private:
  u64 hash(const FlowKey& k) const noexcept;
  void index_sides(FlowIdx i) noexcept;
  void unindex_sides(FlowIdx i) noexcept;
  void index_insert(FlowSidx s) noexcept;
  void index_remove(FlowSidx s) noexcept;
  u32 find_bucket(const FlowKey& k) const noexcept;  // bucket holding k, or nbuckets_
  void mark_used(u32 i) noexcept;
  void mark_free(u32 i) noexcept;

  static constexpr u32 kEmpty = ~0u;

  u32 capacity_;
  u32 nbuckets_;
  SipKey key_;
  Flow* flows_ = nullptr;
  u32* buckets_ = nullptr;     // packed FlowSidx, or kEmpty
  u64* used_map_ = nullptr;    // bit set = entry not FREE
  u32 nwords_ = 0;
  u32 free_hint_ = 0;          // no free entry below word free_hint_
  u32 used_ = 0;
  u32 high_water_ = 0;         // 1 + highest index ever allocated
  FlowIdx pending_{};
};

}  // namespace passt::core
