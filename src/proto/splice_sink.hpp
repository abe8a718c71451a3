// The hand-off between the forwarding layer (the -t / -T listeners) and the
// spliced TCP data mover (proto/tcp_splice.hpp): an accepted socket plus
// where its partner must connect.  The mover creates the partner socket (it
// keeps pools of them), connects it and moves the bytes.
#pragma once

#include "core/flow.hpp"
#include "ports/hostnet.hpp"
#include "util/time.hpp"

namespace passt::proto {

// A connection to be joined socket to socket.
struct SpliceRequest {
  ports::Sock accepted;                 // accepted on our listener (initiating side)
  core::Pif ini_pif = core::Pif::none;  // host (-t listener) or splice (-T listener)
  core::FlowSide ini;                   // oaddr:oport our listening address, eaddr:eport the peer
  ports::Netns tgt_ns = ports::Netns::guest;  // where the partner socket lives
  core::Pif tgt_pif = core::Pif::none;  // splice (the namespace) or host
  core::FlowSide tgt;                   // eaddr:eport: connect there; oaddr:oport: bind()
                                        // first unless unspecified / 0
};

// The data mover (pasta's loopback path).  start() takes the accepted
// socket whatever it returns: false means it failed and closed it (RST).
class SpliceSink {
 public:
  virtual ~SpliceSink() = default;
  virtual bool start(const SpliceRequest& req, Instant now) noexcept = 0;
};

}  // namespace passt::proto
