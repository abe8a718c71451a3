// The world's event queue: a binary min-heap ordered by (time, sequence
// number), with its capacity fixed at construction.
//
// Events are small POD records: the actor that handles them, an actor-defined
// kind, and a few integer payload fields (indices into the actor's own fixed
// tables, offsets, lengths).  No callbacks, no captured state: an event can
// be hashed into the trace and printed.
//
// Ties in time are broken by the sequence number assigned at push, so events
// scheduled for the same instant run in the order they were scheduled (FIFO).
#pragma once

#include <memory>

#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::sim {

struct Event {
  Instant at;
  u64 seq = 0;   // assigned by the queue
  u64 c = 0;     // payload (actor-defined)
  u32 a = 0;     // payload (actor-defined), typically a table index
  u32 b = 0;     // payload (actor-defined), typically a generation
  u32 d = 0;     // payload (actor-defined)
  u8 actor = 0;  // World actor id
  u8 kind = 0;   // actor-defined
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity);

  std::size_t capacity() const noexcept { return cap_; }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  // High-water mark, to size capacities from experience.
  std::size_t peak() const noexcept { return peak_; }

  // Assigns e.seq.  Returns false (and stores nothing) when full.
  bool push(Event e) noexcept;
  const Event& top() const noexcept;
  Event pop() noexcept;
  void clear() noexcept { n_ = 0; }

 private:
  static bool before(const Event& x, const Event& y) noexcept {
    return x.at < y.at || (x.at == y.at && x.seq < y.seq);
  }
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;

  std::unique_ptr<Event[]> heap_;
  std::size_t cap_;
  std::size_t n_ = 0;
  std::size_t peak_ = 0;
  u64 next_seq_ = 0;
};

}  // namespace passt::sim
