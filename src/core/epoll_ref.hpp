// Socket readiness references: what the engine gives HostNet::watch() as
// `ref` and gets back with every readiness event, so that an event needs no
// lookup table to find its owner (passt's epoll_ref, without the fd: the
// adapter already knows the fd).
//
// Layout of the 64-bit ref:
//
//   63      62..40     39..32   31..0
//   0       zero       type     data
//
// Bit 63 stays clear: it is reserved for the Linux event loop's own fds
// (ports::HostNet::watch).  `data` depends on the type: a packed flow side
// (core::FlowSidx::pack()) for sockets owned by a flow, an index into the
// owner's table for listeners.  Ref 0 (type none) is never handed out, so a
// zeroed ref is recognisably "nobody's".
//
// Protocols add their types here; values are never reused.
#pragma once

#include "core/flow.hpp"
#include "util/types.hpp"

namespace passt::core {

enum class RefType : u8 {
  none = 0,
  tcp = 1,         // a connected TCP socket: data = FlowSidx (the host side)
  tcp_listen = 2,  // a TCP listener (-t / -T): data = listener index
  // Reserved for later protocols (not yet dispatched by the engine):
  tcp_splice = 3,
  udp_listen = 4,
  udp_reply = 5,
  ping = 6,
};

struct EpollRef {
  RefType type = RefType::none;
  u32 data = 0;

  constexpr u64 pack() const noexcept {
    return (static_cast<u64>(type) << 32) | static_cast<u64>(data);
  }
  // Any bit outside type and data makes the ref invalid (type none).
  static constexpr EpollRef unpack(u64 v) noexcept {
    if ((v >> 40) != 0) return EpollRef{};
    return EpollRef{static_cast<RefType>(static_cast<u8>(v >> 32)), static_cast<u32>(v)};
  }
  static constexpr EpollRef flow(RefType t, FlowSidx s) noexcept { return EpollRef{t, s.pack()}; }
  constexpr FlowSidx sidx() const noexcept { return FlowSidx::unpack(data); }
  constexpr bool operator==(const EpollRef&) const noexcept = default;
};

static_assert(EpollRef{RefType::ping, ~0u}.pack() < (u64{1} << 63), "bit 63 is reserved");

}  // namespace passt::core
