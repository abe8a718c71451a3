// TapPort: the guest's L2 link, outbound direction.  Inbound frames are
// pushed by the adapter into Engine::on_tap_frames().
//
// Adapters: a tap fd (pasta), qemu's UNIX stream socket with 4-byte
// big-endian length framing (passt), vhost-user later; the simulator's link
// with delay, loss, duplication, reordering and corruption.
#pragma once

#include <span>

#include "util/types.hpp"

namespace passt::ports {

class TapPort {
 public:
  virtual ~TapPort() = default;

  // Sends complete Ethernet frames, in order.  Returns how many of the first
  // frames were taken whole; the rest were not sent at all (no partial
  // frames ever reach the guest: an adapter that writes part of a frame
  // finishes it before returning).  Frames are copied or written out before
  // the call returns: the caller may reuse the buffers immediately.
  virtual std::size_t send(std::span<const Bytes> frames) noexcept = 0;

  // Same, where gso[i] != 0 marks frames[i] as a TCP segment longer than one
  // MSS that the guest's kernel takes whole or cuts into gso[i]-byte
  // payloads (pasta's tap with a virtio-net header, engine::Sizing::tap_gso).
  // Only an engine told that its port does this sends such frames; the
  // default ignores the sizes.
  virtual std::size_t send_gso(std::span<const Bytes> frames, std::span<const u16> gso) noexcept {
    (void)gso;
    return send(frames);
  }

  // Whether send_gso() may carry GSO frames now.  Asked before each TCP
  // send only by an engine told that its port takes them at all
  // (engine::Sizing::tap_gso); a vhost-user guest says so when it
  // negotiates features, so the answer can change between sessions.
  virtual bool takes_gso() const noexcept { return true; }

  // Is a guest attached (qemu connected, tap open)?  Frames sent while not
  // connected are dropped and reported as sent.
  virtual bool connected() const noexcept = 0;
};

}  // namespace passt::ports
