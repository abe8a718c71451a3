// Production Clock and Entropy adapters.
#pragma once

#include "ports/clock.hpp"
#include "ports/entropy.hpp"

namespace passt::os {

// CLOCK_MONOTONIC, the clock the event loop's timerfd is armed against.
class MonotonicClock final : public ports::Clock {
 public:
  Instant now() noexcept override;
};

// getrandom(2) with flags 0: blocks only until the kernel's pool is first
// initialised.  Retries on EINTR and short reads.  Any other failure is
// fatal (PASST_CHECK): without randomness ISNs and hash keys are guessable.
class GetrandomEntropy final : public ports::Entropy {
 public:
  void fill(MutBytes out) noexcept override;
};

// The same clock as a free function, for adapters that need a bounded wait.
Instant monotonic_now() noexcept;

}  // namespace passt::os
