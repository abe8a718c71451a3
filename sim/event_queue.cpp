#include "sim/event_queue.hpp"

#include <utility>

#include "util/check.hpp"

namespace passt::sim {

EventQueue::EventQueue(std::size_t capacity)
    : heap_(new Event[capacity > 0 ? capacity : 1]), cap_(capacity > 0 ? capacity : 1) {}

bool EventQueue::push(Event e) noexcept {
  if (n_ == cap_) return false;
  e.seq = next_seq_++;
  heap_[n_] = e;
  sift_up(n_);
  n_++;
  if (n_ > peak_) peak_ = n_;
  return true;
}

const Event& EventQueue::top() const noexcept {
  PASST_CHECK(n_ > 0);
  return heap_[0];
}

Event EventQueue::pop() noexcept {
  PASST_CHECK(n_ > 0);
  Event e = heap_[0];
  n_--;
  if (n_ > 0) {
    heap_[0] = heap_[n_];
    sift_down(0);
  }
  return e;
}

void EventQueue::sift_up(std::size_t i) noexcept {
  while (i > 0) {
    std::size_t p = (i - 1) / 2;
    if (!before(heap_[i], heap_[p])) break;
    std::swap(heap_[i], heap_[p]);
    i = p;
  }
}

void EventQueue::sift_down(std::size_t i) noexcept {
  for (;;) {
    std::size_t l = 2 * i + 1;
    if (l >= n_) break;
    std::size_t m = l;
    if (l + 1 < n_ && before(heap_[l + 1], heap_[l])) m = l + 1;
    if (!before(heap_[m], heap_[i])) break;
    std::swap(heap_[i], heap_[m]);
    i = m;
  }
}

}  // namespace passt::sim
