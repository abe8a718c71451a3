// Flows: one entry per connection or datagram association, with two sides.
//
// Vocabulary (kept from passt so its readers feel at home):
//  * pif: the "passt interface" a side lives on: TAP (the guest's L2 link),
//    HOST (an L4 socket in the host's namespace), SPLICE (an L4 socket inside
//    pasta's namespace, for the loopback fast path).
//  * flowside: the addresses and ports of one side as seen from us:
//    `oaddr:oport` is our end ("own"), `eaddr:eport` the far end
//    ("endpoint").  On the TAP side of a guest-initiated TCP connection,
//    eaddr:eport is the guest's socket and oaddr:oport what it connected to.
//  * INISIDE (0) is the side that initiated the flow, TGTSIDE (1) the target.
#pragma once

#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::core {

enum class Pif : u8 { none = 0, host, tap, splice };
const char* pif_name(Pif p) noexcept;

enum class FlowType : u8 { none = 0, tcp, tcp_splice, ping4, ping6, udp };
const char* flow_type_name(FlowType t) noexcept;

// L4 protocol numbers used in hash keys.
enum class L4 : u8 { tcp = 6, udp = 17, icmp = 1, icmpv6 = 58 };

inline constexpr unsigned kIniSide = 0;
inline constexpr unsigned kTgtSide = 1;

struct FlowSide {
  InAny oaddr;  // our address on this side
  InAny eaddr;  // endpoint address
  u16 oport = 0;
  u16 eport = 0;
  bool operator==(const FlowSide&) const noexcept = default;
};

// Index of a flow in the table.
struct FlowIdx {
  u32 v = ~0u;
  constexpr bool valid() const noexcept { return v != ~0u; }
  constexpr bool operator==(const FlowIdx&) const noexcept = default;
};

// A flow and one of its sides ("sidx" in passt).
struct FlowSidx {
  u32 flow = ~0u;
  u8 side = 0;
  constexpr bool valid() const noexcept { return flow != ~0u; }
  constexpr FlowIdx idx() const noexcept { return {flow}; }
  constexpr bool operator==(const FlowSidx&) const noexcept = default;
  // Packed into 32 bits for hash buckets and event refs: bit 31 = side.
  constexpr u32 pack() const noexcept { return flow | (static_cast<u32>(side) << 31); }
  static constexpr FlowSidx unpack(u32 v) noexcept {
    return {v & 0x7fffffffu, static_cast<u8>(v >> 31)};
  }
};

}  // namespace passt::core
