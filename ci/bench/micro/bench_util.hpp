// Shared pieces of the micro-benchmarks: a tap port that takes every frame,
// deterministic filler bytes, and the benchmark names the regression guard
// relates to each other (ci/bench/baseline.json).
#pragma once

#include <benchmark/benchmark.h>

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

}  // namespace passt::bench
