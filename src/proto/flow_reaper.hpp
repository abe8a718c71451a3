// Deferred flow release.  A protocol handler that is done with a flow marks
// it closing (core::Flow::closing) and hands its index to the reaper; the
// engine drains the reaper at the end of the event batch (EventSink::flush),
// releasing each flow in the table and clearing its timer.  So a flow
// reference taken during a batch stays valid until the batch ends (the flow
// table contract), and a flow is never freed under a handler's feet.
//
// Capacity: one slot per flow-table entry, so defer() cannot overflow (a
// flow is deferred at most once: the closing mark guards it).
#pragma once

#include <cstdlib>

#include "core/flow_table.hpp"
#include "util/check.hpp"
#include "util/types.hpp"

namespace passt::proto {

class FlowReaper {
 public:
  explicit FlowReaper(u32 capacity)
      : cap_(capacity), list_(static_cast<u32*>(std::calloc(capacity, sizeof(u32)))) {
    PASST_CHECK(list_ != nullptr);
  }
  ~FlowReaper() { std::free(list_); }
  FlowReaper(const FlowReaper&) = delete;
  FlowReaper& operator=(const FlowReaper&) = delete;

  // Marks `f` (index `i`) closing and queues it; a second call is a no-op.
  void defer(core::FlowIdx i, core::Flow& f) noexcept {
    if (f.closing != 0) return;
    f.closing = 1;
    PASST_CHECK(n_ < cap_);
    list_[n_++] = i.v;
  }
  u32 pending() const noexcept { return n_; }

  // Calls fn(FlowIdx) for every queued flow, in order, then empties the list.
  template <class Fn>
  void drain(Fn&& fn) noexcept {
    for (u32 k = 0; k < n_; k++) fn(core::FlowIdx{list_[k]});
    n_ = 0;
  }

 private:
  u32 cap_;
  u32* list_;
  u32 n_ = 0;
};

}  // namespace passt::proto
