// The engine's single inbound surface, as seen by adapters.
//
// The event loop (src/linux) and the simulator (sim/) call these and nothing
// else; the engine implements them.  Every call carries `now`.  After each
// batch of events the adapter calls flush() (deferred work, such as sending
// the TCP frames queued while handling the batch), then sleeps until the
// next event or next_deadline(), calling on_deadline() when it passes.
#pragma once

#include <span>

#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::ports {

class EventSink {
 public:
  virtual ~EventSink() = default;

  // Complete Ethernet frames received from the guest, in arrival order.  The
  // spans are valid only during the call.
  virtual void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept = 0;
  // The guest link came up (qemu connected, tap ready) or went down.
  virtual void on_tap_state(bool connected, Instant now) noexcept = 0;
  // Readiness on a socket registered with HostNet::watch(s, events, ref).
  virtual void on_socket_event(u64 ref, u32 events, Instant now) noexcept = 0;
  // Called once `now` >= next_deadline().
  virtual void on_deadline(Instant now) noexcept = 0;
  // End of a batch of events: flush deferred output.
  virtual void flush(Instant now) noexcept = 0;
  // Earliest time on_deadline() is needed; Instant::never() if none.
  virtual Instant next_deadline() const noexcept = 0;
};

}  // namespace passt::ports
