// The bundle of ports the engine is constructed with.
#pragma once

#include "ports/clock.hpp"
#include "ports/entropy.hpp"
#include "ports/events.hpp"
#include "ports/hostnet.hpp"
#include "ports/tap.hpp"

namespace passt::ports {

struct Ports {
  TapPort& tap;
  HostNet& net;
  Entropy& entropy;
};

}  // namespace passt::ports
