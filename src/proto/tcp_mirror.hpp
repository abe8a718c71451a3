// ACK and window mirroring: the pure part of the TCP translation.
//
// Theory of operation
// -------------------
// passt does not run a TCP stack of its own towards the guest: the ACK
// numbers and windows it advertises to the guest are taken from the host
// kernel's socket, so that the guest's congestion control sees the real
// path (end-to-end ACK semantics) and never sends more than the far end
// can take.  This file computes, from a connection's sequence state and one
// TCP_INFO snapshot, the ACK number and window to put in the next segment
// to the guest.  It does no I/O; src/proto/tcp.cpp fetches the inputs and
// applies the result, and the simulator's checker calls the same function
// to verify every frame.
//
// ACK number.
//   Normally: the guest's initial sequence number + 1 + tcpi_bytes_acked,
//   i.e. exactly the bytes the *remote peer* has acknowledged to the host
//   kernel.  The guest then keeps (and retransmits) everything that could
//   still be lost beyond the host, and its RTT estimate covers the path.
//   Fallback to "everything the host socket accepted" (seq_from_tap) when
//     - the socket's send buffer is small (< 128 KiB): the guest would stall
//       on a buffer that cannot hold a bandwidth-delay product anyway;
//     - the destination is local or its RTT is tiny (<= 10 us): nothing
//       to mirror, ACK at once;
//     - the connection is closing, or the caller forces it (FIN/RST);
//     - TCP_INFO failed or lacks tcpi_bytes_acked (Linux < 4.1).
//   Either way the result never goes below the last ACK sent (the remote
//   side may re-acknowledge less after a mode switch) and never above
//   seq_from_tap (bytes the host socket has not accepted are not ours to
//   acknowledge).
//
// Window.
//   local / low RTT:   tcpi_snd_wnd (the remote's receive window);
//   otherwise:         min(tcpi_snd_wnd, usable part of SO_SNDBUF), where
//                      the usable part is 100 % below 128 KiB, tapering
//                      linearly to 50 % at 4 MiB and staying at 50 % above;
//   no tcpi_snd_wnd (Linux < 5.3) or no TCP_INFO: the SO_SNDBUF estimate.
//   Then capped at 16 MiB (MAX_WS 8), raised to at least 14 600 bytes
//   (RFC 6928's initial window) before the connection is established, and
//   scaled down by our window scale towards the guest (rounding down; a
//   value above 65535 after scaling is clamped).
#pragma once

#include "ports/hostnet.hpp"
#include "util/seq.hpp"
#include "util/types.hpp"

namespace passt::proto {

inline constexpr u32 kSndbufSmall = 128 * 1024;       // SNDBUF_SMALL
inline constexpr u32 kSndbufBig = 4 * 1024 * 1024;    // SNDBUF_BIG
inline constexpr u8 kMaxWs = 8;                       // our largest window scale
inline constexpr u8 kMaxWsFromTap = 14;               // RFC 7323 limit for the guest's
inline constexpr u32 kMaxWindow = 1u << (16 + kMaxWs);  // 16 MiB
inline constexpr u32 kWindowDefault = 14600;          // RFC 6928 initial window
inline constexpr u32 kLowRttUs = 10;                  // "on this host" RTT bound

struct MirrorIn {
  Seq seq_init_from_tap;  // guest's ISN + 1: its first data byte
  Seq seq_from_tap;       // next byte expected from the guest (all before it
                          // were accepted by the host socket; +1 for its FIN)
  Seq seq_ack_to_tap;     // the ACK number sent last
  bool have_info = false;  // tcp_info() succeeded
  ports::TcpInfo info;
  u32 sndbuf = 0;          // SO_SNDBUF, bytes
  bool local = false;      // local destination or low RTT
  bool closing = false;    // a FIN went either way
  bool established = false;
  bool force_seq = false;  // acknowledge everything accepted
  u8 ws_to_tap = 0;        // our window scale towards the guest (0..14)
  // SIOCOUTQ: bytes in the socket's send queue not yet acknowledged by the
  // far end.  With it, the window never offers more than the socket can
  // take: anything the socket refuses is dropped and costs the guest a
  // retransmission (and, without SACK, often a timeout).
  bool have_sendq = false;
  u32 sendq = 0;
  // Upper bound from the tap device's queue (frames x segment size): the
  // guest must not be able to overrun the queue we read it from (0: none).
  u32 wnd_cap = 0;
  // The ACK the window is measured from, when it is already fixed (a checker
  // re-deriving the window of a frame built earlier in the same event);
  // otherwise the ACK computed here.
  bool have_sent_ack = false;
  Seq sent_ack{};
};

struct MirrorOut {
  Seq ack;             // ACK number to send
  u32 wnd = 0;         // window in bytes, before scaling
  u16 wnd_field = 0;   // the segment's window field: min(wnd >> ws, 65535)
  bool ack_is_seq = false;   // a fallback rule chose seq_from_tap
  bool ack_lagging = false;  // ack != seq_from_tap: the guest waits for more
  // The send queue's room, not the far end's window, set the window: it
  // opens when the far end acknowledges, which no socket event tells us,
  // so the handler polls it.
  bool wnd_room_limited = false;
};

// The usable part of a send buffer of `sndbuf` bytes (the taper above).
u32 sndbuf_usable(u32 sndbuf) noexcept;

MirrorOut tcp_mirror(const MirrorIn& in) noexcept;

}  // namespace passt::proto
