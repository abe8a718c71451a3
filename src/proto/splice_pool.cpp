#include "proto/splice_pool.hpp"

#include <cstdlib>
#include <new>

#include "util/check.hpp"
#include "util/log.hpp"

namespace passt::proto {

namespace {

template <class T>
T* alloc_slots(u32 n) {
  void* p = std::calloc(n > 0 ? n : 1, sizeof(T));
  PASST_CHECK(p != nullptr);
  T* t = static_cast<T*>(p);
  for (u32 k = 0; k < n; k++) new (&t[k]) T();
  return t;
}

}  // namespace

// --- PipePool ---------------------------------------------------------------------------

PipePool::PipePool(ports::HostNet& host, u32 capacity)
    : host_(host), cap_(capacity), pipes_(alloc_slots<ports::PipeEnds>(capacity)) {}

PipePool::~PipePool() {
  for (u32 k = 0; k < n_; k++) close_pipe(pipes_[k]);
  std::free(pipes_);
}

void PipePool::close_pipe(ports::PipeEnds p) noexcept {
  host_.close(p.rd);
  host_.close(p.wr);
}

u32 PipePool::init(std::size_t max_size, std::size_t min_size) noexcept {
  while (n_ < cap_) {
    auto p = host_.pipe();
    if (!p) {
      stats_.open_failed++;
      LOG_WARN("splice: can't open pipes (%s), %u pooled", err_name(p.err()), n_);
      break;
    }
    pipes_[n_++] = *p;
  }
  // The largest size every pooled pipe takes (halving: a refusal is the
  // per-pipe maximum or the per-user page budget).
  bool found = false;
  std::size_t size = max_size;
  for (; n_ > 0 && size >= min_size && size > 0; size /= 2) {
    bool all = true;
    for (u32 k = 0; k < n_ && all; k++)
      all = host_.set_opt(pipes_[k].wr, ports::SockOpt::pipe_size, static_cast<int>(size)).ok();
    if (all) {
      found = true;
      break;
    }
  }
  if (!found) {
    // Keep what the kernel gives by default (normally 64 KiB: 16 pages).
    size = kPipeSizeMin;
    if (n_ > 0) {
      auto got = host_.get_opt(pipes_[0].wr, ports::SockOpt::pipe_size);
      if (got && *got > 0) size = static_cast<std::size_t>(*got);
    }
  }
  size_ = size;
  return n_;
}

Result<ports::PipeEnds> PipePool::open_sized() noexcept {
  auto p = host_.pipe();
  if (!p) {
    stats_.open_failed++;
    return p.err();
  }
  if (!host_.set_opt(p->wr, ports::SockOpt::pipe_size, static_cast<int>(size_)))
    stats_.resize_failed++;
  return *p;
}

void PipePool::refill() noexcept {
  while (n_ < cap_) {
    auto p = open_sized();
    if (!p) return;
    pipes_[n_++] = *p;
  }
}

Result<ports::PipeEnds> PipePool::take() noexcept {
  if (n_ > 0) {
    stats_.taken_pooled++;
    return pipes_[--n_];
  }
  auto p = open_sized();
  if (p) stats_.taken_fresh++;
  return p;
}

void PipePool::give_back(ports::PipeEnds p, bool clean) noexcept {
  if (!p.rd.valid() && !p.wr.valid()) return;
  if (clean && n_ < cap_ && p.rd.valid() && p.wr.valid()) {
    pipes_[n_++] = p;
    stats_.recycled++;
    return;
  }
  close_pipe(p);
  stats_.closed++;
}

// --- SockPool -------------------------------------------------------------------------------

SockPool::SockPool(ports::HostNet& host, ports::Netns ns, ports::Family fam, u32 capacity)
    : host_(host), ns_(ns), fam_(fam), cap_(capacity), socks_(alloc_slots<ports::Sock>(capacity)) {}

SockPool::~SockPool() {
  for (u32 k = 0; k < n_; k++) host_.close(socks_[k]);
  std::free(socks_);
}

void SockPool::refill() noexcept {
  while (n_ < cap_) {
    auto s = host_.socket(ns_, fam_, ports::SockType::tcp);
    if (!s) {
      stats_.open_failed++;
      return;
    }
    socks_[n_++] = *s;
  }
}

Result<ports::Sock> SockPool::take() noexcept {
  if (n_ > 0) {
    stats_.taken_pooled++;
    return socks_[--n_];
  }
  auto s = host_.socket(ns_, fam_, ports::SockType::tcp);
  if (s)
    stats_.taken_fresh++;
  else
    stats_.open_failed++;
  return s;
}

}  // namespace passt::proto
