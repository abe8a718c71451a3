// The guest side of the simulated link.
//
// A GuestStack is whatever sits at the far end of the SimLink: the trivial
// guests below for tests, the echo-scenario guest, and (later) the reference
// guest with ARP/NDP, DHCP/DHCPv6 and TCP clients.  It receives frames from
// the link and sends frames through a GuestPort.  Its timers are polled by
// the world through the link (next_deadline / on_deadline).
#pragma once

#include <memory>

#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::sim {

// What a guest uses to transmit (implemented by SimLink).
class GuestPort {
 public:
  virtual ~GuestPort() = default;
  // Queues one frame towards the engine.  False if the link refused it (down,
  // or its queue is full); a frame lost to a fault still returns true.
  virtual bool guest_send(Bytes frame) noexcept = 0;
  virtual bool link_up() const noexcept = 0;
};

class GuestStack {
 public:
  virtual ~GuestStack() = default;
  // Called once when attached to a link.
  virtual void attach(GuestPort& port) noexcept { (void)port; }
  // A frame arrived from the engine.  `frame` is valid only during the call.
  virtual void on_frame(Bytes frame, Instant now) noexcept = 0;
  // The link went down or came back.
  virtual void on_link(bool up, Instant now) noexcept {
    (void)up;
    (void)now;
  }
  virtual Instant next_deadline() const noexcept { return Instant::never(); }
  virtual void on_deadline(Instant now) noexcept { (void)now; }
};

// A trivial guest for tests: remembers the last kSlots frames it received
// (truncated to kMaxLen bytes) and can send on request.
class RecordingGuest final : public GuestStack {
 public:
  static constexpr std::size_t kSlots = 64;
  static constexpr std::size_t kMaxLen = 2048;

  struct Rx {
    Instant at;
    std::size_t len = 0;  // original length
    u8 data[kMaxLen] = {};
  };

  RecordingGuest() : rx_(new Rx[kSlots]) {}

  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override {
    Rx& r = rx_[count_ % kSlots];
    r.at = now;
    r.len = frame.size();
    std::size_t n = frame.size() < kMaxLen ? frame.size() : kMaxLen;
    for (std::size_t i = 0; i < n; i++) r.data[i] = frame[i];
    count_++;
  }
  void on_link(bool up, Instant now) noexcept override {
    (void)now;
    link_events_++;
    last_up_ = up;
  }
  bool send(Bytes frame) noexcept { return port_ != nullptr && port_->guest_send(frame); }

  u64 count() const noexcept { return count_; }
  // The i-th received frame (i < count, and within the last kSlots).
  const Rx& rx(u64 i) const noexcept { return rx_[i % kSlots]; }
  u64 link_events() const noexcept { return link_events_; }
  bool last_up() const noexcept { return last_up_; }

 private:
  GuestPort* port_ = nullptr;
  std::unique_ptr<Rx[]> rx_;
  u64 count_ = 0;
  u64 link_events_ = 0;
  bool last_up_ = true;
};

}  // namespace passt::sim
