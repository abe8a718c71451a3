// The simulator's only source of randomness: xoshiro256** seeded through
// splitmix64 (Blackman & Vigna).  Integer-only on purpose: standard library
// distributions differ between implementations, and a seed must mean the same
// run everywhere.
//
// Every helper draws a fixed, documented number of words from the stream, so
// adding a draw in one place shifts later draws deterministically (never
// differently on another machine).  Independent concerns (knob derivation,
// link faults, engine entropy) get their own streams via fork() so that
// adding a knob does not perturb the event schedule more than necessary.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "util/check.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::sim {

// One step of splitmix64: advances `state`, returns the next output.
u64 splitmix64(u64& state) noexcept;
// A stateless 64-bit mixer (splitmix64's finaliser).
u64 mix64(u64 z) noexcept;

// Parts per million, the unit of every probability knob.
inline constexpr u32 kPpm = 1000000;

class Prng {
 public:
  explicit Prng(u64 seed) noexcept;

  u64 next() noexcept;
  u32 next_u32() noexcept { return static_cast<u32>(next() >> 32); }

  // Uniform in [0, n); n must be > 0.  Rejection sampling: values in the
  // short final partial block are redrawn, so there is no modulo bias.
  u64 below(u64 n) noexcept;
  // Uniform in [lo, hi] (inclusive); lo <= hi.
  u64 range(u64 lo, u64 hi) noexcept;
  // True with probability ppm / 1e6 (0 never, >= 1e6 always).
  bool chance(u32 ppm) noexcept;
  // Uniform duration in [lo, hi].
  Duration duration(Duration lo, Duration hi) noexcept;

  template <class T>
  T& pick(std::span<T> items) noexcept {
    PASST_CHECK(!items.empty());
    return items[below(items.size())];
  }
  // Fisher-Yates.
  template <class T>
  void shuffle(std::span<T> items) noexcept {
    for (std::size_t i = items.size(); i > 1; i--) {
      std::size_t j = below(i);
      std::swap(items[i - 1], items[j]);
    }
  }

  // An independent stream: seeded from this stream's next output mixed with
  // `label`, so fork(1) and fork(2) differ even when taken at the same point.
  Prng fork(u64 label) noexcept;

 private:
  u64 s_[4]{};
};

// Parses a seed: a decimal u64, "0x" + up to 16 hex digits, or a 40-digit hex
// git commit id, which is folded to a u64 (fold_commit_id).  Anything else is
// rejected.
std::optional<u64> parse_seed(std::string_view text) noexcept;
// Folds 20 bytes of commit id into a seed: each 8-byte big-endian chunk (the
// last is 4 bytes) is xored into the accumulator, which is then mixed.
u64 fold_commit_id(const u8 (&id)[20]) noexcept;

}  // namespace passt::sim
