// The engine: the one implementation of ports::EventSink.
//
// Theory of operation
// -------------------
// Adapters push three kinds of input, each with `now`: frames from the
// guest, readiness of host sockets, and the passing of next_deadline().  The
// engine parses each frame once (wire::parse_frame), learns the guest's MAC
// and addresses from it, and hands it to the one protocol handler that owns
// it: ARP, DHCP (UDP to port 67), NDP (ICMPv6 133-136), DHCPv6 (UDP to 547),
// TCP (proto::Tcp, through the flow table), ICMP/ICMPv6 echo (proto::Icmp,
// ping sockets) and UDP (proto::Udp, flows of datagrams).  Frames whose checksums do not verify are dropped before anything is
// learnt from them.  Socket readiness carries a core::EpollRef naming the
// owner (a flow side or a listener).  TCP segments of one tap batch are
// handed over together at the end of the batch, so a flow's data is written
// with one send().
// Handlers queue frames for the guest in a TapOut; flush() at the end of each
// batch sends them in one go, then flows the handlers closed are released
// (proto::FlowReaper).  Timers of every kind (per-flow and global) live in
// one deadline heap whose minimum is next_deadline(); a flow's timer id is
// its index.
//
// Nothing here allocates after the constructor.
#pragma once

#include "core/config.hpp"
#include "core/deadline_heap.hpp"
#include "core/flow_table.hpp"
#include "core/fwd.hpp"
#include "core/net_info.hpp"
#include "ports/port_scan.hpp"
#include "ports/ports.hpp"
#include "proto/context.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/icmp.hpp"
#include "proto/tap_out.hpp"
#include "proto/tcp.hpp"
#include "proto/tcp_fwd.hpp"
#include "proto/tcp_splice.hpp"
#include "proto/udp.hpp"
#include "util/log.hpp"
#include "wire/frame.hpp"

namespace passt::engine {

struct Sizing {
  u32 flows = 131072;           // flow table entries (passt: 131071)
  u32 tap_batch_frames = 256;   // frames per tap write
  std::size_t tap_arena = 1u << 20;  // bytes of queued frames per batch
  // Verify the L4 (TCP, UDP, ICMP) checksums of guest frames.  pasta's tap
  // turns this off: its frames are built by the namespace's kernel, which
  // computed those checksums itself, and nothing between it and us can
  // corrupt them, while verifying costs a pass over every payload (15 % of
  // our CPU time on 64 KiB UDP datagrams).  IPv4 header checksums are
  // always verified.  Upstream verifies none.
  bool verify_l4_checksums = true;
  // The tap completes TCP/UDP checksums both ways (pasta's tap with a
  // virtio-net header, docs/linux-adapters.md): frames to the guest carry
  // only the pseudo-header sum (proto::TapOut::set_l4_csum_offload), and
  // frames from it may carry only that too, so verify_l4_checksums is
  // forced off.  Frames from the guest may then also be TCP segments
  // larger than the MTU (the namespace's TSO): nothing here limits a
  // frame to the MTU.  passt and the simulator leave it off.
  bool tap_l4_csum_offload = false;
  // With tap_l4_csum_offload: the tap takes TCP frames of up to 64 KiB
  // whatever the MTU and tells the guest's kernel to cut them at the MSS
  // (ports::TapPort::send_gso, GSO in the virtio-net header): proto::Tcp
  // sends as many MSS per frame as an IP packet holds.  Off, every frame
  // fits the MTU (the simulator checks it); passt and the simulator leave
  // it off, and so does pasta when a pcap capture sits in front of the tap.
  bool tap_gso = false;
};

struct Stats {
  u64 frames_in = 0;
  u64 frames_bad = 0;       // failed to parse
  u64 frames_dropped = 0;   // parsed, but nobody handles them
  u64 arp_replies = 0;
  u64 dhcp_replies = 0;
  u64 ndp_replies = 0;
  u64 dhcpv6_replies = 0;
  u64 ra_unsolicited = 0;
  u64 frames_bad_csum = 0;  // dropped: a checksum did not verify
};

class Engine final : public ports::EventSink {
 public:
  Engine(const core::Config& cfg, const core::NetInfo& net, ports::Ports ports,
         const Sizing& sizing, const proto::TcpOptions& tcp = {},
         const proto::IcmpOptions& icmp = {}, const proto::UdpOptions& udp = {});
  ~Engine() override = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Schedules the start-up timers.  Call once, before the first event.
  void start(Instant now) noexcept;
  // pasta "auto" forwarding: where bound ports are read from (every second,
  // core::fwd_auto_update).  Before open_listeners(); nullptr: no scans.
  void set_port_scan(ports::PortScan* scan) noexcept { scan_ = scan; }
  // Runs the first port scan and opens the forwarding listeners (see
  // proto::TcpFwd::open_listeners, proto::Udp::open_listeners).  Call once, before the first event; an
  // error is fatal at start-up (already logged).
  Status open_listeners() noexcept;

  // ports::EventSink
  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override;
  void on_tap_state(bool connected, Instant now) noexcept override;
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override;
  void on_deadline(Instant now) noexcept override;
  void flush(Instant now) noexcept override;
  Instant next_deadline() const noexcept override;

  const Stats& stats() const noexcept { return stats_; }
  const proto::GuestL2& guest() const noexcept { return guest_; }
  const core::FlowTable& flows() const noexcept { return flows_; }
  const proto::TapOut& tap_out() const noexcept { return out_; }
  const proto::Tcp& tcp() const noexcept { return tcp_; }
  const proto::TcpFwd& tcp_fwd() const noexcept { return tcp_fwd_; }
  proto::TcpFwd& tcp_fwd() noexcept { return tcp_fwd_; }
  const proto::TcpSplice& splice() const noexcept { return splice_; }
  // The ports forwarded right now (automatic directions follow the scans).
  const core::FwdMaps& fwd_maps() const noexcept { return fwd_maps_; }
  const proto::Icmp& icmp() const noexcept { return icmp_; }
  const proto::Udp& udp() const noexcept { return udp_; }
  proto::Udp& udp() noexcept { return udp_; }
  const core::DeadlineHeap& timers() const noexcept { return timers_; }

 private:
  // Timer ids above the flow indices.
  enum GlobalTimer : u32 { kTimerRa = 0, kTimerFwdScan, kTimerSplice, kTimerListen, kGlobalTimers };
  u32 timer_id(GlobalTimer t) const noexcept { return sizing_.flows + t; }

  void handle_frame(Bytes frame, Instant now) noexcept;
  // The frame as parsed once by the caller.
  void trace_frame(const char* dir, Bytes frame, const Result<wire::Frame>& pf) noexcept;
  void learn(const wire::Frame& f) noexcept;
  void handle_ipv4(const wire::Frame& f, Instant now) noexcept;
  void handle_ipv6(const wire::Frame& f, Instant now) noexcept;
  u32 random_u32() noexcept;
  void fwd_scan() noexcept;

  const core::Config& cfg_;  // forwarding tables (TCP, UDP)
  const core::NetInfo& net_;
  ports::Ports ports_;
  Sizing sizing_;
  proto::GuestL2 guest_;
  proto::TapOut out_;
  proto::TapCtx ctx_;
  core::FlowTable flows_;
  core::DeadlineHeap timers_;
  proto::FlowReaper reaper_;
  proto::Tcp tcp_;
  proto::TcpSplice splice_;
  bool splice_on_ = false;  // pasta: the loopback paths (docs/splice.md)
  proto::TcpFwd tcp_fwd_;
  ports::PortScan* scan_ = nullptr;
  core::FwdMaps fwd_maps_;
  core::BoundPorts scan_host_;  // scratch for fwd_scan()
  core::BoundPorts scan_ns_;
  proto::Icmp icmp_;
  proto::Udp udp_;
  bool ra_first_ = true;
  RateLimit frag_warn_{Duration::seconds(10)};
  Stats stats_;
};

}  // namespace passt::engine
