// The "tcp" scenario: the real engine (engine::Engine with proto::Tcp)
// between the reference guest TCP (sim/tcp_guest.hpp) on the SimLink and
// remote peers behind SimHostNet.
//
// Plans (drawn from the seed, both families, started during the safety
// phase):
//   guest -> host    echo, sink, source, slow remote reader, resetting
//                    remote, refused (nothing listens), guest abort (RST
//                    from the guest), local echo (through map_host_loopback
//                    to 127.0.0.1 / ::1), slow guest reader;
//   host -> guest    remote clients through -t forwards (with and without a
//                    port translation) to a guest echo, a remote source to a
//                    guest sink, a guest source to a remote sink, and a
//                    forward to a guest port nobody listens on.
// Knobs: the guest's window scale / MSS option / buffers, the engine's flow
// table size (small tables hit the limit: SYN -> RST), frames per peek, tap
// batch and arena sizes, SO_SNDBUF raising, peer latency (down to the
// low-RTT bound) and bandwidth, plus every world knob (faults, MTU,
// TCP_INFO fields).
//
// Checkers after every event:
//   tcp-frames   (a TapPort decorator) every frame the engine sends parses,
//                fits the MTU and has correct checksums; in every TCP
//                segment but RSTs the window equals tcp_mirror() of the
//                connection's state and a fresh TCP_INFO; the ACK number
//                never goes backwards on a connection and never covers a
//                byte the host socket did not accept (+1 for the guest's
//                FIN once the socket was shut down);
//   tcp-guest    the guest saw no wrong byte, wrong length or ACK of
//                unsent data;
//   tcp-engine   flow table and deadline heap invariants;
// plus the link and socket-model checkers (remote peers verify the bytes
// they receive, and their lengths).
// Liveness: every plan reached an outcome it allows (done, or the expected
// reset / refusal; "refused" too once the flow table was full), and the
// engine, the guest and the socket model hold no connection.
#pragma once

#include "sim/scenario.hpp"

namespace passt::sim {

ScenarioEntry tcp_scenario_entry() noexcept;

// Coverage marks: how often the runs so far took the paths a swarm must
// reach (tests assert each is hit; `sim --verbose` prints them per seed).
struct TcpCoverage {
  u64 runs = 0;
  u64 fast_retransmits = 0;
  u64 timeout_retransmits = 0;
  u64 syn_retransmits = 0;
  u64 zero_window_probes = 0;
  u64 wnd_room_limited = 0;
  u64 keepalive_acks = 0;
  u64 tap_rewinds = 0;
  u64 partial_writes = 0;
  u64 ooo_dropped = 0;
  u64 dup_acks_sent = 0;
  u64 ack_lagging = 0;
  u64 table_full = 0;
  u64 connect_failed = 0;
  u64 rst_from_tap = 0;
  u64 rst_to_tap = 0;
  u64 rst_stateless = 0;
  u64 conns_from_sock = 0;
  u64 conns_from_tap = 0;
  u64 windows_checked = 0;
  u64 acks_checked = 0;
  u64 guest_zero_windows = 0;
};
const TcpCoverage& tcp_coverage() noexcept;
void tcp_coverage_reset() noexcept;

}  // namespace passt::sim
