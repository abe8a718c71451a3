#include "engine/engine.hpp"

#include <array>

#include "proto/arp.hpp"
#include "proto/dhcp.hpp"
#include "proto/dhcpv6.hpp"
#include "proto/ndp.hpp"

namespace passt::engine {

namespace {

SipKey random_key(ports::Entropy& e) noexcept {
  std::array<u8, 16> b{};
  e.fill(MutBytes(b));
  return SipKey::from_bytes(b);
}

constexpr u8 kIcmpv6RouterSolicitation = 133;
constexpr u8 kIcmpv6Redirect = 137;
constexpr u8 kIcmpv6EchoRequest = 128;
constexpr u8 kIcmpv6EchoReply = 129;

}  // namespace

Engine::Engine(const core::Config& cfg, const core::NetInfo& net, ports::Ports ports,
               const Sizing& sizing, const proto::TcpOptions& tcp,
               const proto::IcmpOptions& icmp, const proto::UdpOptions& udp)
    : cfg_(cfg),
      net_(net),
      ports_(ports),
      sizing_(sizing),
      out_(ports.tap, sizing.tap_batch_frames, sizing.tap_arena),
      ctx_{net, guest_, out_},
      flows_(sizing.flows, random_key(ports.entropy)),
      timers_(sizing.flows + kGlobalTimers),
      reaper_(sizing.flows),
      tcp_(cfg, net, ports.net, ports.entropy, out_, guest_, flows_, timers_, reaper_, tcp),
      splice_(ports.net, flows_, timers_, reaper_),
      splice_on_(cfg.mode == core::Mode::pasta && net.tcp &&
                 ((!cfg.no_splice && cfg.fwd_in.tcp.mode != core::FwdMode::none) ||
                  cfg.fwd_out.tcp.mode != core::FwdMode::none)),
      tcp_fwd_(cfg, net, ports.net, tcp_, guest_, tcp.accepts_per_event),
      fwd_maps_(core::fwd_maps_from(cfg)),
      icmp_(net, ports.net, out_, guest_, flows_, timers_, reaper_, icmp),
      udp_(cfg, net, ports.net, out_, guest_, flows_, timers_, reaper_, udp) {
  // pasta: loopback clients of -t ports (unless --no-splice) and every -T
  // connection are spliced socket to socket.
  if (splice_on_) tcp_fwd_.set_splice_sink(&splice_);
  out_.set_l4_csum_offload(sizing.tap_l4_csum_offload);
  out_.set_gso(sizing.tap_l4_csum_offload && sizing.tap_gso);  // GSO frames need NEEDS_CSUM
  // Partial checksums from the guest do not verify (Sizing).
  if (sizing.tap_l4_csum_offload) sizing_.verify_l4_checksums = false;
}

Status Engine::open_listeners() noexcept {
  fwd_scan();
  Status s = tcp_fwd_.open_listeners(fwd_maps_);
  if (s && splice_on_) {
    // Namespace sockets are the partners of -t connections only.
    splice_.init(net_.v4.enabled, net_.v6.enabled,
                 !cfg_.no_splice && cfg_.fwd_in.tcp.mode != core::FwdMode::none);
  }
  if (!s) return s;
  return udp_.open_listeners(fwd_maps_);
}

// One automatic forwarding scan (pasta "auto"): the host's bound ports for
// the outbound directions, the namespace's for the inbound ones, then the
// listeners follow the new maps.
void Engine::fwd_scan() noexcept {
  if (scan_ == nullptr || !core::fwd_auto_any(cfg_)) return;
  // UDP outbound scans need the host's TCP ports too (UDP follows them).
  const bool out = cfg_.fwd_out.tcp.mode == core::FwdMode::automatic ||
                   cfg_.fwd_out.udp.mode == core::FwdMode::automatic;
  const bool in = cfg_.fwd_in.tcp.mode == core::FwdMode::automatic ||
                  cfg_.fwd_in.udp.mode == core::FwdMode::automatic;
  if (!net_.tcp && !net_.udp) return;
  for (core::BoundPorts* b : {&scan_host_, &scan_ns_}) {
    b->tcp.clear();
    b->udp.clear();
  }
  using ports::Netns;
  using ports::SockType;
  if (out) {
    (void)scan_->bound_ports(Netns::host, SockType::tcp, scan_host_.tcp.words());
    if (cfg_.fwd_out.udp.mode == core::FwdMode::automatic)
      (void)scan_->bound_ports(Netns::host, SockType::udp, scan_host_.udp.words());
  }
  if (in) {
    (void)scan_->bound_ports(Netns::guest, SockType::tcp, scan_ns_.tcp.words());
    if (cfg_.fwd_in.udp.mode == core::FwdMode::automatic)
      (void)scan_->bound_ports(Netns::guest, SockType::udp, scan_ns_.udp.words());
  }
  const unsigned changed = core::fwd_auto_update(cfg_, scan_host_, scan_ns_, fwd_maps_);
  if ((changed & (core::fwd_changed::tcp_in | core::fwd_changed::tcp_out)) != 0)
    tcp_fwd_.rebind(fwd_maps_);
  if ((changed & (core::fwd_changed::udp_in | core::fwd_changed::udp_out)) != 0) udp_.rebind(fwd_maps_);
}

u32 Engine::random_u32() noexcept {
  std::array<u8, 4> b{};
  ports_.entropy.fill(MutBytes(b));
  return load_be32(b.data());
}

void Engine::start(Instant now) noexcept {
  // RA timer: the first expiry only schedules the next (as passt).
  if (net_.v6.enabled && net_.ndp && net_.ra)
    timers_.set(timer_id(kTimerRa), now + proto::ndp_ra_interval(random_u32()));
  // Upstream scans from its 1 s protocol timers.
  if (scan_ != nullptr && core::fwd_auto_any(cfg_))
    timers_.set(timer_id(kTimerFwdScan), now + Duration::seconds(1));
  if (splice_on_) timers_.set(timer_id(kTimerSplice), now + proto::kSplicePoolInterval);
}

void Engine::on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept {
  for (Bytes f : frames) handle_frame(f, now);
  // The frames stay valid until we return: TCP handles its segments now.
  tcp_.tap_batch_end(now);
  udp_.tap_batch_end(now);
}

void Engine::on_tap_state(bool connected, Instant now) noexcept {
  (void)now;
  if (!connected) {
    // A new guest may have another MAC: go back to broadcast until it talks.
    guest_.mac = MacAddr::broadcast();
  }
}

void Engine::on_socket_event(u64 ref, u32 events, Instant now) noexcept {
  const core::EpollRef r = core::EpollRef::unpack(ref);
  switch (r.type) {
    case core::RefType::tcp: tcp_.sock_event(r.sidx(), events, now); return;
    case core::RefType::tcp_listen:
      tcp_fwd_.listen_event(r.data, events, now);
      // A listener paused after a failed accept: re-armed by the timer.
      if (const Instant t = tcp_fwd_.resume_at(); !t.is_never() && !timers_.contains(timer_id(kTimerListen)))
        timers_.set(timer_id(kTimerListen), t);
      return;
    case core::RefType::ping: icmp_.sock_event(r.sidx(), events, now); return;
    case core::RefType::tcp_splice: splice_.sock_event(r.sidx(), events, now); return;
    case core::RefType::udp_reply: udp_.sock_event(r.sidx(), events, now); return;
    case core::RefType::udp_listen: udp_.listen_event(r.data, events, now); return;
    default: return;  // no owner (yet): other protocols add theirs
  }
}

void Engine::on_deadline(Instant now) noexcept {
  // Bounded: each expired timer is either cleared or moved into the future.
  for (u32 n = 0; n < sizing_.flows + kGlobalTimers && !timers_.empty(); n++) {
    if (timers_.top_time() > now) break;
    u32 id = timers_.top_id();
    if (id == timer_id(kTimerRa)) {
      if (!ra_first_ && proto::ndp_send_unsolicited_ra(ctx_)) stats_.ra_unsolicited++;
      ra_first_ = false;
      timers_.set(id, now + proto::ndp_ra_interval(random_u32()));
    } else if (id == timer_id(kTimerFwdScan)) {
      fwd_scan();
      timers_.set(id, now + Duration::seconds(1));
    } else if (id == timer_id(kTimerListen)) {
      tcp_fwd_.resume(now);  // due: re-arms every paused listener
      timers_.clear(id);
    } else if (id == timer_id(kTimerSplice)) {
      splice_.periodic(now);
      timers_.set(id, now + proto::kSplicePoolInterval);
    } else if (id < sizing_.flows && flows_.at(core::FlowIdx{id}).type == core::FlowType::tcp_splice &&
               flows_.at(core::FlowIdx{id}).state == core::FlowState::active) {
      splice_.timer(core::FlowIdx{id}, now);
      if (timers_.contains(id) && timers_.get(id) <= now) timers_.set(id, now + Duration::millis(1));
    } else if (id < sizing_.flows && flows_.at(core::FlowIdx{id}).type == core::FlowType::tcp &&
               flows_.at(core::FlowIdx{id}).state == core::FlowState::active) {
      tcp_.timer(core::FlowIdx{id}, now);
      // A handler leaves its deadline in the future or clears it; guard the
      // loop against one that does not.
      if (timers_.contains(id) && timers_.get(id) <= now) timers_.set(id, now + Duration::millis(1));
    } else if (id < sizing_.flows && proto::ping_flow_of(flows_.at(core::FlowIdx{id})) != nullptr) {
      icmp_.timer(core::FlowIdx{id}, now);  // closes the flow or moves its deadline ahead
      if (timers_.contains(id) && timers_.get(id) <= now) timers_.set(id, now + Duration::millis(1));
    } else if (id < sizing_.flows && proto::udp_flow_of(flows_.at(core::FlowIdx{id})) != nullptr) {
      udp_.timer(core::FlowIdx{id}, now);  // closes the flow or moves its deadline ahead
      if (timers_.contains(id) && timers_.get(id) <= now) timers_.set(id, now + Duration::millis(1));
    } else {
      timers_.clear(id);
    }
  }
}

void Engine::flush(Instant now) noexcept {
  (void)now;
  if (log_enabled(LogLevel::trace))
    for (Bytes frame : out_.queued_frames()) trace_frame("tap out", frame, wire::parse_frame(frame));
  out_.flush();
  // Flows closed during the batch: released only now (the flow table's
  // contract), after their last frames left.
  reaper_.drain([this](core::FlowIdx i) noexcept {
    timers_.clear(i.v);
    flows_.release(i);
  });
}

Instant Engine::next_deadline() const noexcept { return timers_.top_time(); }

void Engine::learn(const wire::Frame& f) noexcept {
  if (!f.eth_src.is_multicast() && !f.eth_src.is_zero()) guest_.mac = f.eth_src;
  if (f.l3 == wire::L3::ipv4) {
    if (!f.src.is_unspecified()) guest_.addr4_seen = f.src.v4();
  } else if (f.l3 == wire::L3::ipv6) {
    const Ipv6Addr& s = f.src.v6();
    if (s.is_link_local())
      guest_.addr6_ll_seen = s;
    else if (!s.is_unspecified())
      guest_.addr6_seen = s;
  }
}

// --trace: every frame, both ways, one line each (wire::frame_summary).
void Engine::trace_frame(const char* dir, Bytes frame, const Result<wire::Frame>& pf) noexcept {
  if (!pf) {
    LOG_TRACE("%s: %zu bytes, not parsed", dir, frame.size());
    return;
  }
  std::array<char, wire::kFrameSummaryLen> line{};
  (void)wire::frame_summary(*pf, line.data(), line.size());
  LOG_TRACE("%s: %s", dir, line.data());
}

void Engine::handle_frame(Bytes frame, Instant now) noexcept {
  stats_.frames_in++;
  auto pf = wire::parse_frame(frame);
  if (log_enabled(LogLevel::trace)) trace_frame("tap in", frame, pf);
  if (!pf) {
    stats_.frames_bad++;
    return;
  }
  const wire::Frame& f = *pf;
  if (sizing_.verify_l4_checksums ? !wire::frame_checksums_ok(f) : (f.ip4 && !f.ip4->checksum_ok())) {
    stats_.frames_bad_csum++;
    return;
  }
  learn(f);
  switch (f.l3) {
    case wire::L3::arp:
      if (proto::arp_handle(ctx_, f.eth_src, *f.arp))
        stats_.arp_replies++;
      else
        stats_.frames_dropped++;
      return;
    case wire::L3::ipv4:
      handle_ipv4(f, now);
      return;
    case wire::L3::ipv6:
      handle_ipv6(f, now);
      return;
  }
}

void Engine::handle_ipv4(const wire::Frame& f, Instant now) noexcept {
  if (!net_.v4.enabled || f.src.is_loopback() || f.dst.is_loopback()) {
    stats_.frames_dropped++;
    return;
  }
  if (f.fragment) {
    if (frag_warn_.allow(now)) LOG_WARN("Can't process IPv4 fragments, dropping");
    stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::tcp) {
    if (net_.tcp)
      tcp_.tap_segment(f, now);
    else
      stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::udp && f.dst_port == 67) {
    if (proto::dhcp_handle(ctx_, f))
      stats_.dhcp_replies++;
    else
      stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::icmp) {
    if (!net_.icmp || !icmp_.tap_echo(f, now)) stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::udp) {
    if (net_.udp)
      udp_.tap_datagram(f, now);
    else
      stats_.frames_dropped++;
    return;
  }
  stats_.frames_dropped++;
}

void Engine::handle_ipv6(const wire::Frame& f, Instant now) noexcept {
  if (!net_.v6.enabled || f.src.is_loopback() || f.dst.is_loopback()) {
    stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::icmpv6 && !f.l4_bytes.empty()) {
    u8 type = f.l4_bytes[0];
    if (type >= kIcmpv6RouterSolicitation && type < kIcmpv6Redirect) {
      if (proto::ndp_handle(ctx_, f))
        stats_.ndp_replies++;
      else
        stats_.frames_dropped++;
      return;
    }
    if (type == kIcmpv6EchoRequest || type == kIcmpv6EchoReply) {
      if (!net_.icmp || !icmp_.tap_echo(f, now)) stats_.frames_dropped++;
      return;
    }
  }
  if (f.l4 == wire::L4::tcp) {
    if (net_.tcp)
      tcp_.tap_segment(f, now);
    else
      stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::udp && f.dst_port == 547) {
    if (proto::dhcpv6_handle(ctx_, f))
      stats_.dhcpv6_replies++;
    else
      stats_.frames_dropped++;
    return;
  }
  if (f.l4 == wire::L4::udp) {
    if (net_.udp)
      udp_.tap_datagram(f, now);
    else
      stats_.frames_dropped++;
    return;
  }
  stats_.frames_dropped++;
}

}  // namespace passt::engine
