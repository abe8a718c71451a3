// Strong types for monotonic time.  The core never reads a clock: `now` is
// passed in by the caller (the Clock port's adapter or the simulator).
#pragma once

#include <compare>
#include <limits>

#include "util/types.hpp"

namespace passt {

struct Duration {
  i64 ns = 0;

  static constexpr Duration nanos(i64 v) noexcept { return {v}; }
  static constexpr Duration micros(i64 v) noexcept { return {v * 1000}; }
  static constexpr Duration millis(i64 v) noexcept { return {v * 1000 * 1000}; }
  static constexpr Duration seconds(i64 v) noexcept { return {v * 1000 * 1000 * 1000}; }
  static constexpr Duration zero() noexcept { return {0}; }

  constexpr i64 to_millis() const noexcept { return ns / 1000000; }
  constexpr i64 to_micros() const noexcept { return ns / 1000; }

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the synthesized "<=> 0"
  constexpr auto operator<=>(const Duration&) const noexcept = default;
  constexpr Duration operator+(Duration o) const noexcept { return {ns + o.ns}; }
  constexpr Duration operator-(Duration o) const noexcept { return {ns - o.ns}; }
  constexpr Duration operator*(i64 k) const noexcept { return {ns * k}; }
  constexpr Duration operator/(i64 k) const noexcept { return {ns / k}; }
};

struct Instant {
  i64 ns = 0;  // nanoseconds since an arbitrary epoch (CLOCK_MONOTONIC)

  static constexpr Instant from_nanos(i64 v) noexcept { return {v}; }
  static constexpr Instant never() noexcept { return {std::numeric_limits<i64>::max()}; }
  constexpr bool is_never() const noexcept { return ns == std::numeric_limits<i64>::max(); }

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the synthesized "<=> 0"
  constexpr auto operator<=>(const Instant&) const noexcept = default;
  constexpr Instant operator+(Duration d) const noexcept {
    if (is_never()) return *this;
    return {ns + d.ns};
  }
  constexpr Instant operator-(Duration d) const noexcept { return {ns - d.ns}; }
  constexpr Duration operator-(Instant o) const noexcept { return {ns - o.ns}; }
};

constexpr Instant earliest(Instant a, Instant b) noexcept { return a < b ? a : b; }

}  // namespace passt
