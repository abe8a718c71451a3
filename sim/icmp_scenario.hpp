// The "icmp" scenario: the real engine (engine::Engine with proto::Icmp)
// relays a guest's pings through SimHostNet's ping sockets, answered by the
// model's echo hosts, over a faulty link.
//
// Theory of operation
// -------------------
// derive() draws ping sessions, each one (family, guest source, target,
// echo identifier) sending 1-30 echo requests at a drawn interval:
//   remote    a remote echo host (several sessions may share one host, with
//             different identifiers, or share an identifier towards
//             different hosts);
//   silent    an address nobody answers (the flow must still expire);
//   gateway   the gateway / our link-local address (map_host_loopback: the
//             host's loopback answers), IPv6 from the guest's link-local
//             address;
//   map-guest map_guest_addr (the host's own address answers);
// some sessions leave a gap of about 60 s before their last request (just
// under, exactly at, or just over the expiry), plus junk the engine must
// drop: echo replies from the guest, other ICMP types, a non-zero code,
// requests to multicast or broadcast.  Engine knobs: flow table size (a
// small table drops requests), replies per socket event, tap batch and
// arena, upstream's repeated-sequence filter.  Every request carries a
// nonce (the index of its record) and a pattern derived from it.
//
// Checkers after every event:
//   icmp-frames  (a TapPort decorator, on the frames the link took) every
//                frame parses, fits the MTU and has correct checksums; an
//                echo reply carries the nonce of a real request, goes to
//                that request's source from its target with its identifier,
//                sequence number and data, and the engine never sent more
//                replies to one request than it received copies of it (an
//                EventSink decorator counts what the engine was handed);
//                junk is never answered;
//   icmp-flows   every active ping flow belongs to a session; no flow lives
//                past 60 s after its last request, and none goes before;
//                flow table and deadline heap invariants;
//   (and the link, socket-model and allocation checks of every run).
// Liveness phase: faults off; each session with an answering target sends
// a final request (again every second until answered: a full table frees
// up as flows expire).  Done when every final request was answered, every
// planned request was sent, and no ping flow or socket is left (all
// expired).  Sizing keeps that within the liveness bound: with fewer
// flows than sessions there are no 60 s gaps and at most as many answering
// sessions as flows.
#pragma once

#include "sim/scenario.hpp"

namespace passt::sim {

ScenarioEntry icmp_scenario_entry() noexcept;

// Coverage marks over the runs so far (tests assert each is reached).
struct IcmpCoverage {
  u64 runs = 0;
  u64 requests = 0;       // echo requests the engine handed to sockets
  u64 replies = 0;        // echo replies it sent to the guest
  u64 flows_opened = 0;
  u64 flows_expired = 0;
  u64 table_full = 0;
  u64 not_request = 0;
  u64 bad_addr = 0;
  u64 reply_repeated = 0;
  u64 dup_requests = 0;   // the engine was handed one request twice (link duplicates)
  u64 multi_replies = 0;  // ...and answered it twice
  u64 gap_renewed = 0;    // a request within 60 s kept a flow alive across a long gap
  u64 gap_new_flow = 0;   // a request after the expiry opened a new flow
};
const IcmpCoverage& icmp_coverage() noexcept;
void icmp_coverage_reset() noexcept;

}  // namespace passt::sim
