// Entropy port: random bytes for the SipHash key and ISN secrets.
// Production: getrandom(2).  Simulator: the seeded PRNG.
#pragma once

#include "util/types.hpp"

namespace passt::ports {

class Entropy {
 public:
  virtual ~Entropy() = default;
  virtual void fill(MutBytes out) noexcept = 0;
};

}  // namespace passt::ports
