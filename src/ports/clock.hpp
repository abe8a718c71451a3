// Clock port: monotonic time.  Only adapters (the event loop, the simulator)
// read it; the engine and protocol code receive `now` as an argument.
#pragma once

#include "util/time.hpp"

namespace passt::ports {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() noexcept = 0;
};

}  // namespace passt::ports
