// The TCP connection record kept in a flow's payload (core::Flow::as<TcpConn>),
// with passt's vocabulary.  See src/proto/tcp.hpp for how it is used.
//
// Sequence space, towards the guest ("to_tap") and from it ("from_tap"):
//
//   seq_init_to_tap    our ISN (the SYN / SYN+ACK we sent carries it)
//   seq_ack_from_tap   highest ACK the guest sent: every byte before it is
//                      discarded from the host socket; the socket's receive
//                      queue starts here
//   seq_to_tap         next byte we send; [seq_ack_from_tap, seq_to_tap) is
//                      in flight (still in the socket, peeked at an offset)
//   seq_max_to_tap     the highest seq_to_tap so far (a retransmission
//                      rewinds seq_to_tap; the guest may still ACK up to here)
//   seq_fin_to_tap     our FIN's number once sent: the stream to the guest
//                      is data up to it, then the FIN
//
//   seq_init_from_tap  the guest's ISN + 1: its first data byte
//   seq_ack_to_tap     the ACK we sent last (never decreases)
//   seq_from_tap       next byte expected from the guest; every byte before
//                      it was accepted by the host socket (+1 for its FIN)
//
// Windows: wnd_from_tap is the guest's window in bytes (already scaled by
// ws_from_tap); wnd_to_tap is the window field we sent last (to be scaled by
// ws_to_tap on the guest's side).
#pragma once

#include "ports/hostnet.hpp"
#include "proto/tcp_mirror.hpp"
#include "util/seq.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::proto {

// Connection events (passt's "events"): the first three are mutually
// exclusive states of the handshake; the others accumulate.  No event left
// means CLOSED.
namespace tcp_ev {
inline constexpr u16 sock_accepted = 1u << 0;     // accepted; SYN sent to the guest
inline constexpr u16 tap_syn_rcvd = 1u << 1;      // SYN from the guest; connect() running
inline constexpr u16 tap_syn_ack_sent = 1u << 2;  // connected; SYN+ACK sent to the guest
inline constexpr u16 established = 1u << 3;
inline constexpr u16 sock_fin_rcvd = 1u << 4;     // end of stream from the socket
inline constexpr u16 sock_fin_sent = 1u << 5;     // shutdown(SHUT_WR) done
inline constexpr u16 tap_fin_rcvd = 1u << 6;      // the guest's FIN accepted
inline constexpr u16 tap_fin_sent = 1u << 7;      // our FIN sent to the guest
inline constexpr u16 tap_fin_acked = 1u << 8;     // ... and acknowledged
inline constexpr u16 kStateBits = sock_accepted | tap_syn_rcvd | tap_syn_ack_sent | established;
}  // namespace tcp_ev

namespace tcp_flag_conn {
inline constexpr u16 stalled = 1u << 0;           // nothing more to send now: edge-triggered
inline constexpr u16 local = 1u << 1;             // destination on this host
inline constexpr u16 low_rtt = 1u << 2;           // destination with RTT <= 10 us
inline constexpr u16 active_close = 1u << 3;      // the guest sent FIN first
inline constexpr u16 ack_to_tap_due = 1u << 4;    // we owe the guest an ACK / window update
inline constexpr u16 ack_from_tap_due = 1u << 5;  // the guest owes us an ACK
inline constexpr u16 ws_ok = 1u << 6;             // both sides sent window scale
inline constexpr u16 set_bufs = 1u << 7;          // SO_SNDBUF was set: the kernel no longer tunes it
inline constexpr u16 drained = 1u << 8;           // the last peek emptied the socket: only a
                                                  // readiness event can bring more to send
inline constexpr u16 sock_out = 1u << 9;          // EPOLLOUT is registered (connect() pending,
                                                  // or the socket's send buffer filled once)
}  // namespace tcp_flag_conn

struct TcpConn {
  ports::Sock sock;
  u16 events = 0;
  u16 flags = 0;
  u8 retrans = 0;       // retransmissions without progress
  u8 ws_from_tap = 0;   // the guest's window scale
  u8 ws_to_tap = 0;     // ours towards the guest
  u8 dup_acks = 0;      // consecutive duplicate ACKs from the guest
  u8 sock_mask = 0;     // interest currently registered (ports::ev bits; 0: not yet)
  u8 fam6 = 0;          // 1: IPv6 on the tap side
  u16 tap_mss = 536;    // the guest's MSS
  u32 sndbuf = 0;       // SO_SNDBUF as last read
  u32 wnd_from_tap = 0; // bytes
  u16 wnd_to_tap = 0;   // window field last sent
  u8 wnd_polls = 0;     // window polls in a row that found nothing new
  u8 share_epoch = 0;   // Tcp's share epoch in which the guest last sent data (0: never)

  Seq seq_to_tap;
  Seq seq_ack_from_tap;
  Seq seq_from_tap;
  Seq seq_ack_to_tap;
  Seq seq_init_from_tap;
  Seq seq_init_to_tap;
  Seq seq_dup_ack;      // seq_from_tap when duplicate ACKs were last sent
  Seq seq_max_to_tap;   // highest seq_to_tap ever (a rewind goes back, ACKs may not)
  Seq seq_fin_to_tap;   // our FIN's sequence number, once tap_fin_sent

  // Timers (Instant::never() when off); the flow's deadline is their minimum.
  Instant t_ack;        // ACK_TO_TAP_DUE: send an ACK / window update
  Instant t_rto;        // ACK_FROM_TAP_DUE: retransmit / probe / give up
  Instant t_kick;       // frames the tap did not take: send again
  Instant t_fin;        // FIN_TIMEOUT
  Instant t_idle;       // activity timeout

  bool has(u16 ev) const noexcept { return (events & ev) != 0; }
  bool flag(u16 f) const noexcept { return (flags & f) != 0; }
  bool closing() const noexcept {
    return has(tcp_ev::sock_fin_rcvd | tcp_ev::sock_fin_sent | tcp_ev::tap_fin_rcvd |
               tcp_ev::tap_fin_sent);
  }
  u32 in_flight() const noexcept { return static_cast<u32>(seq_to_tap.diff(seq_ack_from_tap)); }
};

static_assert(sizeof(TcpConn) <= 112, "TcpConn must fit the flow payload");

// The mirroring inputs for this connection, given a TCP_INFO snapshot (or
// nullptr if tcp_info() failed).  `syn`: for a SYN or SYN+ACK, whose window
// is never scaled (RFC 7323) and which always precedes ESTABLISHED.  Shared by the handler and the simulator's
// checker, so both ask the same question.
inline MirrorIn tcp_mirror_input(const TcpConn& c, const ports::TcpInfo* info, bool syn,
                                 bool force_seq, const u32* sendq = nullptr,
                                 u32 tap_queue_frames = 0, u32 cap_bytes = 0) noexcept {
  MirrorIn in;
  in.seq_init_from_tap = c.seq_init_from_tap;
  in.seq_from_tap = c.seq_from_tap;
  in.seq_ack_to_tap = c.seq_ack_to_tap;
  in.have_info = info != nullptr;
  if (info != nullptr) in.info = *info;
  in.sndbuf = c.sndbuf;
  in.local = c.flag(tcp_flag_conn::local) || c.flag(tcp_flag_conn::low_rtt);
  in.closing = c.closing();
  in.established = !syn && c.has(tcp_ev::established);
  in.force_seq = force_seq;
  in.ws_to_tap = syn ? 0 : c.ws_to_tap;
  in.have_sendq = sendq != nullptr;
  in.sendq = sendq != nullptr ? *sendq : 0;
  in.wnd_cap = tap_queue_frames * c.tap_mss;
  if (cap_bytes != 0 && (in.wnd_cap == 0 || in.wnd_cap > cap_bytes)) in.wnd_cap = cap_bytes;
  return in;
}

}  // namespace passt::proto
