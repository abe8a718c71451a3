// Shared pieces of the micro-benchmarks: a tap port that takes every frame,
// deterministic filler bytes, and the benchmark names the regression guard
// relates to each other (ci/bench/baseline.json).
#pragma once

#include <benchmark/benchmark.h>
#include <sched.h>

#include <span>
#include <vector>

#include "ports/tap.hpp"
#include "util/types.hpp"

namespace passt::bench {

// Accepts every frame and only counts them: the cost measured is ours, not a
// device's.
class NullTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    for (Bytes f : frames) bytes += f.size();
    sent += frames.size();
    return frames.size();
  }
  bool connected() const noexcept override { return true; }
  u64 sent = 0;
  u64 bytes = 0;
};

// Reproducible, non-trivial bytes (an xorshift stream).
inline std::vector<u8> pattern(std::size_t n, u64 seed = 0x9e3779b97f4a7c15ull) {
  std::vector<u8> v(n);
  u64 x = seed | 1;
  for (std::size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = static_cast<u8>(x);
  }
  return v;
}

// splitmix64: the pseudo-random sequence used to pick keys and addresses.
inline u64 mix64(u64 x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Called right before each timed loop.  Google Benchmark settles the
// iteration count in its first, shortest trials and takes a trial whose wall
// time reached 5 x min_time as final: a trial preempted for 10 ms on a busy
// machine would fix a count of 1.  A task is most likely preempted right
// after a long untimed set-up (its time slice is used up); yielding here
// starts the timed loop on a fresh slice instead.
inline void fresh_slice() noexcept { (void)sched_yield(); }

}  // namespace passt::bench
