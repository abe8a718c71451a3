// TCP sequence numbers: 32-bit, compared modulo 2^32 (RFC 793 / RFC 1982).
#pragma once

#include "util/types.hpp"

namespace passt {

struct Seq {
  u32 v = 0;

  constexpr Seq operator+(u32 n) const noexcept { return {v + n}; }
  constexpr Seq operator-(u32 n) const noexcept { return {v - n}; }
  constexpr Seq& operator+=(u32 n) noexcept {
    v += n;
    return *this;
  }
  // Signed distance from o to this (this - o), valid within 2^31.
  constexpr i32 diff(Seq o) const noexcept { return static_cast<i32>(v - o.v); }
  constexpr bool operator==(const Seq&) const noexcept = default;
};

constexpr bool seq_lt(Seq a, Seq b) noexcept { return a.diff(b) < 0; }
constexpr bool seq_le(Seq a, Seq b) noexcept { return a.diff(b) <= 0; }
constexpr bool seq_gt(Seq a, Seq b) noexcept { return a.diff(b) > 0; }
constexpr bool seq_ge(Seq a, Seq b) noexcept { return a.diff(b) >= 0; }
constexpr Seq seq_max(Seq a, Seq b) noexcept { return seq_ge(a, b) ? a : b; }
constexpr Seq seq_min(Seq a, Seq b) noexcept { return seq_le(a, b) ? a : b; }

}  // namespace passt
