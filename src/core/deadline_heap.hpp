// An indexed binary min-heap of (deadline, id), sized at start-up.
//
// Each id (a flow index, or a small fixed set of engine timers) has at most
// one deadline; set() inserts or moves it in O(log n), clear() removes it.
// The engine's next_deadline() is top(); there are no per-connection timer
// file descriptors as in passt: one timerfd serves the whole process.
#pragma once

#include <cstdlib>

#include "util/check.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::core {

class DeadlineHeap {
 public:
  explicit DeadlineHeap(u32 capacity)
      : cap_(capacity),
        heap_(static_cast<Node*>(std::calloc(capacity, sizeof(Node)))),
        pos_(static_cast<u32*>(std::calloc(capacity, sizeof(u32)))) {
    PASST_CHECK(heap_ != nullptr && pos_ != nullptr);
  }
  ~DeadlineHeap() {
    std::free(heap_);
    std::free(pos_);
  }
  DeadlineHeap(const DeadlineHeap&) = delete;
  DeadlineHeap& operator=(const DeadlineHeap&) = delete;

  u32 size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  Instant top_time() const noexcept { return n_ == 0 ? Instant::never() : heap_[0].t; }
  u32 top_id() const noexcept {
    PASST_CHECK(n_ > 0);
    return heap_[0].id;
  }
  // pos_ holds slot+1, so zeroed memory means "not in the heap".
  bool contains(u32 id) const noexcept { return id < cap_ && pos_[id] != 0; }
  Instant get(u32 id) const noexcept {
    return contains(id) ? heap_[pos_[id] - 1].t : Instant::never();
  }

  void set(u32 id, Instant t) noexcept {
    PASST_CHECK(id < cap_);
    if (t.is_never()) {
      clear(id);
      return;
    }
    if (pos_[id] == 0) {
      u32 slot = n_++;
      heap_[slot] = Node{t, id};
      pos_[id] = slot + 1;
      up(slot);
      return;
    }
    u32 slot = pos_[id] - 1;
    Instant old = heap_[slot].t;
    heap_[slot].t = t;
    if (t < old)
      up(slot);
    else
      down(slot);
  }

  void clear(u32 id) noexcept {
    if (!contains(id)) return;
    u32 slot = pos_[id] - 1;
    pos_[id] = 0;
    n_--;
    if (slot == n_) return;
    heap_[slot] = heap_[n_];
    pos_[heap_[slot].id] = slot + 1;
    up(slot);
    down(pos_[heap_[slot].id] - 1);
  }

  // Checks the heap property and the position index; nullptr if fine.
  const char* verify() const noexcept {
    for (u32 i = 0; i < n_; i++) {
      if (pos_[heap_[i].id] != i + 1) return "deadline heap position index wrong";
      if (i > 0 && heap_[(i - 1) / 2].t > heap_[i].t) return "deadline heap order violated";
    }
    return nullptr;
  }

 private:
  struct Node {
    Instant t;
    u32 id;
  };
  void swap_nodes(u32 a, u32 b) noexcept {
    Node tmp = heap_[a];
    heap_[a] = heap_[b];
    heap_[b] = tmp;
    pos_[heap_[a].id] = a + 1;
    pos_[heap_[b].id] = b + 1;
  }
  void up(u32 i) noexcept {
    while (i > 0) {
      u32 p = (i - 1) / 2;
      if (!(heap_[i].t < heap_[p].t)) break;
      swap_nodes(i, p);
      i = p;
    }
  }
  void down(u32 i) noexcept {
    for (;;) {
      u32 l = 2 * i + 1;
      u32 r = l + 1;
      u32 m = i;
      if (l < n_ && heap_[l].t < heap_[m].t) m = l;
      if (r < n_ && heap_[r].t < heap_[m].t) m = r;
      if (m == i) return;
      swap_nodes(i, m);
      i = m;
    }
  }

  u32 cap_;
  u32 n_ = 0;
  Node* heap_;
  u32* pos_;
};

}  // namespace passt::core
