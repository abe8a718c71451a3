// What a protocol handler gets to work with: the network description, the
// guest's learned link state and the outbound frame queue.
#pragma once

#include "core/net_info.hpp"
#include "proto/tap_out.hpp"
#include "util/time.hpp"

namespace passt::proto {

struct TapCtx {
  const core::NetInfo& net;
  GuestL2& guest;
  TapOut& out;
};

}  // namespace passt::proto
