// ICMP and ICMPv6 echo ("ping") through unprivileged ping sockets.
// docs/icmp.md is the long form.
//
// Theory of operation
// -------------------
// passt cannot send raw ICMP, but Linux lets an unprivileged process whose
// group is in net.ipv4.ping_group_range open SOCK_DGRAM sockets of protocol
// IPPROTO_ICMP / IPPROTO_ICMPV6 ("ping sockets").  Such a socket sends Echo
// Requests only: the kernel writes the socket's own identifier (its "port")
// into each one and computes the checksum, and it hands back only the Echo
// Replies carrying that identifier, as bare ICMP messages (no IP header).
//
// One flow per (family, guest source, destination, guest echo identifier),
// flow types ping4 / ping6:
//  * tap side (INISIDE): eaddr = the guest, oaddr = the address it pinged,
//    eport = oport = the guest's identifier (the index key of a request);
//  * host side (TGTSIDE): a ping socket bound to the --outbound address (or
//    any) with identifier 0, so the kernel picks the on-wire identifier
//    (oport = eport = that identifier), --outbound-if honoured; eaddr = the
//    destination after the NAT rules (core::fwd_nat_from_tap: the
//    map_host_loopback address reaches the host's loopback, map_guest_addr
//    the host's own address).
//
// Guest -> host: the guest's ICMP message goes to the socket whole, as the
// guest wrote it (the kernel replaces identifier and checksum).  Only Echo
// Requests are relayed; everything else is dropped.  Requests to multicast,
// broadcast, unspecified (and, for IPv6, link-local targets other than the
// mapped gateway, which need a scope) addresses are dropped too.
//
// Host -> guest: each reply read from the socket must come from the flow's
// target; it gets the guest's identifier back and a fresh checksum (ICMPv6:
// over the pseudo-header of the frame we send) and goes to the guest from
// the address it pinged.  A reply that would not fit the guest's MTU is
// dropped.  Every reply the socket gives us is relayed once: a Linux ping
// socket never receives its own requests, so upstream pasta's "same
// sequence as last time" filter is off by default (IcmpOptions and
// docs/icmp.md say why it exists and what it costs).
//
// Expiry: a flow lives 60 s after the last request from the guest (replies
// do not extend it, as upstream).  One deadline per flow in the engine's
// heap, moved lazily: a request only records its time; when the deadline
// passes, the flow is either closed or its deadline moved to 60 s after
// the last request.
//
// Permission: when socket() is refused (net.ipv4.ping_group_range excludes
// our group), the first such request logs one warning and later ones are
// dropped quietly; every new flow tries again.
//
// Limits: the flow table (a request that needs a new flow when it is full
// is dropped and logged, rate-limited), replies read per socket event
// (IcmpOptions::replies_per_event, in one recv_batch() call; the socket is
// level-triggered, so the rest comes with the next event), one 64 KiB
// receive buffer per slot allocated at construction (untouched pages cost
// no memory).  Nothing allocates afterwards.
#pragma once

#include "core/deadline_heap.hpp"
#include "core/epoll_ref.hpp"
#include "core/flow_table.hpp"
#include "core/net_info.hpp"
#include "ports/hostnet.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/tap_out.hpp"
#include "util/log.hpp"
#include "wire/frame.hpp"

namespace passt::proto {

// Idle time after the last request from the guest (upstream's
// ICMP_ECHO_TIMEOUT).
inline constexpr Duration kIcmpEchoTimeout = Duration::seconds(60);

struct IcmpOptions {
  // Datagrams read from one socket per readiness event.
  u32 replies_per_event = 8;
  // Upstream pasta drops a reply whose sequence number equals the previous
  // reply's on the same flow.  Off by default: see docs/icmp.md.
  bool drop_repeated_seq = false;
};

struct IcmpStats {
  u64 requests = 0;         // echo requests handed to a socket
  u64 replies = 0;          // echo replies queued for the guest
  u64 flows_opened = 0;
  u64 flows_expired = 0;
  u64 table_full = 0;       // requests dropped at the flow-table limit
  u64 sock_failed = 0;      // socket() failed (EACCES/EPERM: ping_group_range)
  u64 send_failed = 0;      // the socket refused a request
  u64 not_request = 0;      // guest messages that are not a valid Echo Request
  u64 bad_addr = 0;         // from a non-unicast source, or to a target we cannot reach
  u64 reply_foreign = 0;    // replies from another address than the flow's target
  u64 reply_malformed = 0;  // not an Echo Reply (or too short)
  u64 reply_too_big = 0;    // beyond the guest's MTU
  u64 reply_repeated = 0;   // dropped by drop_repeated_seq
  u64 reply_no_room = 0;    // the tap queue could not take the frame
  u64 sock_errors = 0;      // pending socket errors read (and ignored)
};

// The state of a ping flow (in core::Flow's payload).
struct PingFlow {
  ports::Sock sock;
  Instant last_tap;     // the last request from the guest
  u16 last_seq = 0;     // the last reply's sequence (drop_repeated_seq)
  u8 seq_valid = 0;
  u8 v6 = 0;
};

class Icmp {
 public:
  Icmp(const core::NetInfo& net, ports::HostNet& host, TapOut& out, GuestL2& guest,
       core::FlowTable& flows, core::DeadlineHeap& timers, FlowReaper& reaper,
       const IcmpOptions& opt = {});
  ~Icmp();
  Icmp(const Icmp&) = delete;
  Icmp& operator=(const Icmp&) = delete;

  // An ICMP (over IPv4) or ICMPv6 echo message from the guest, checksums
  // already verified.  False if it was dropped.
  bool tap_echo(const wire::Frame& f, Instant now) noexcept;
  // Readiness of a flow's ping socket (core::RefType::ping).
  void sock_event(core::FlowSidx s, u32 events, Instant now) noexcept;
  // The flow's deadline passed.
  void timer(core::FlowIdx i, Instant now) noexcept;

  const IcmpStats& stats() const noexcept { return stats_; }

 private:
  core::FlowIdx new_flow(const wire::Frame& f, bool v6, u16 id, Instant now) noexcept;
  void relay_reply(core::Flow& f, PingFlow& p, const ports::RecvSlot& slot) noexcept;
  void close_flow(core::FlowIdx i, core::Flow& f, PingFlow& p) noexcept;

  const core::NetInfo& net_;
  ports::HostNet& host_;
  TapOut& out_;
  GuestL2& guest_;
  core::FlowTable& flows_;
  core::DeadlineHeap& timers_;
  FlowReaper& reaper_;
  IcmpOptions opt_;
  u8* buf_ = nullptr;                   // replies_per_event datagrams of kBufSize
  ports::RecvSlot* slots_ = nullptr;    // replies_per_event receive slots over buf_
  RateLimit full_warn_{Duration::seconds(10)};
  RateLimit sock_warn_{Duration::seconds(10)};  // other socket() failures
  bool perm_warned_ = false;                    // ping_group_range: warned once
  IcmpStats stats_;
};

constexpr bool is_ping_flow_type(core::FlowType t) noexcept {
  return t == core::FlowType::ping4 || t == core::FlowType::ping6;
}

// The state of a ping flow, or nullptr if `f` is not an active ping flow.
inline const PingFlow* ping_flow_of(const core::Flow& f) noexcept {
  if (f.state != core::FlowState::active || !is_ping_flow_type(f.type)) return nullptr;
  return &f.as<PingFlow>();
}

}  // namespace passt::proto
