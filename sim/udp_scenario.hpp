// The "udp" scenario: the real engine's UDP (proto::Udp) between the
// reference guest UDP (sim/udp_guest.hpp) on the SimLink and UDP peers
// behind SimHostNet, in passt or pasta mode.
//
// Plans (drawn from the seed, both families, run during the safety phase):
//   out      the guest sends requests from a port (sometimes one port for
//            several peers) to a remote peer, to the gateway (mapped to a
//            peer on host loopback) or to the --dns-forward address
//            (redirected to the --dns-host peer); the peer echoes each one;
//   in       a remote client, or one on host loopback, sends requests to a
//            -u listener (with or without a port translation); the guest
//            echoes them, or, in pasta with a loopback client (unless
//            --no-splice), an application on the namespace's side does
//            (socket to socket, no tap); some requests are larger than the
//            MTU allows and must be dropped;
//   ns-out   pasta: a client on the namespace's loopback sends to a -U
//            listener; an application on host loopback echoes.
// Each request and echo carries (plan, direction, sequence number, length)
// and pattern bytes; some are empty (zero-length datagrams).
//
// Checkers after every event:
//   udp-dup      no datagram reaches its destination more often than its
//                origin put it in (copies from the guest counted where the
//                engine receives them, so link duplicates are allowed;
//                copies to the guest where the engine emits them);
//   udp-flow     every datagram reaches the socket of its own plan, from
//                the address and port that plan expects (guest: the
//                reference guest's sockets; peers: the observer), and its
//                contents verify;
//   udp-frames   every engine frame parses, has correct checksums and fits
//                the MTU;
//   udp-expiry   no UDP flow lives past its last datagram + 180 s, and none
//                is released before;
//   udp-engine   flow table and deadline heap invariants.
// Liveness: faults off; every plan sends three final requests, which must
// all be answered (unless the flow table was full or a socket could not be
// opened), then every flow must expire and every flow socket close.
#pragma once

#include "sim/scenario.hpp"

namespace passt::sim {

ScenarioEntry udp_scenario_entry() noexcept;

// Test hooks that make the engine's output wrong, to prove the checkers
// bite.
struct UdpHooks {
  u32 duplicate_every = 0;          // every Nth UDP frame to the guest is sent twice
  bool misdeliver = false;          // UDP frames to the guest go to another plan's port
  Duration engine_idle_timeout{};   // non-zero: the engine's idle timeout (the checker keeps 180 s)
};
std::unique_ptr<Scenario> make_udp_scenario(const UdpHooks& hooks);

// Coverage marks over the runs so far (tests assert each is reached).
struct UdpCoverage {
  u64 runs = 0;
  u64 flows_from_tap = 0;
  u64 flows_from_sock = 0;
  u64 flows_spliced = 0;
  u64 flows_expired = 0;
  u64 table_full = 0;
  u64 dropped_too_big = 0;
  u64 dropped_send = 0;
  u64 zero_length = 0;       // empty datagrams delivered
  u64 link_duplicates = 0;   // datagrams the engine received more than once
  u64 shared_guest_ports = 0;
  u64 delivered = 0;         // datagrams that reached their destination
  u64 pasta_runs = 0;
};
const UdpCoverage& udp_coverage() noexcept;
void udp_coverage_reset() noexcept;

}  // namespace passt::sim
