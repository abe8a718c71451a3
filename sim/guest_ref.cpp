// The reference guest: common machinery (timers, frame I/O, receive
// filter), ARP and the DHCPv4 client.  IPv6 (SLAAC, DAD, DHCPv6) is in
// guest_ref_v6.cpp.  See guest_ref.hpp for the theory of operation.
#include "sim/guest_ref.hpp"

#include <cstring>

#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace passt::sim {

namespace {

// RFC 2131 §4.1 / §4.4.1.
constexpr Duration kDhcp4InitMin = Duration::seconds(1);
constexpr Duration kDhcp4InitMax = Duration::seconds(10);
constexpr Duration kDhcp4Rt = Duration::seconds(4);
constexpr Duration kDhcp4RtMax = Duration::seconds(64);
constexpr Duration kDhcp4Jitter = Duration::seconds(1);
constexpr u32 kDhcp4RequestRetries = 4;  // then back to INIT (about 60 s)
constexpr Duration kDhcp4DeclineWait = Duration::seconds(10);
// RFC 5227 §1.1.
constexpr Duration kProbeWait = Duration::seconds(1);
constexpr u8 kProbeNum = 3;
constexpr Duration kProbeMin = Duration::seconds(1);
constexpr Duration kProbeMax = Duration::seconds(2);
constexpr Duration kAnnounceWait = Duration::seconds(2);
constexpr Duration kAnnounceInterval = Duration::seconds(2);
// ARP resolution: Linux retransmits every second (3 multicast probes),
// then we back off.
constexpr Duration kArpRetrans = Duration::seconds(1);
constexpr u32 kArpFastTries = 3;

constexpr std::size_t kEth = wire::kEthHeaderLen;
constexpr std::size_t kUdp4Payload = kEth + wire::kIpv4HeaderLen + wire::kUdpHeaderLen;

bool usable_unicast4(Ipv4Addr a) noexcept {
  return !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast() && !a.is_loopback() &&
         !a.is_reserved();
}

}  // namespace

const char* dhcp4_phase_name(Dhcp4Phase p) noexcept {
  switch (p) {
    case Dhcp4Phase::off: return "off";
    case Dhcp4Phase::init: return "init";
    case Dhcp4Phase::selecting: return "selecting";
    case Dhcp4Phase::requesting: return "requesting";
    case Dhcp4Phase::rebooting: return "rebooting";
    case Dhcp4Phase::probing: return "probing";
    case Dhcp4Phase::bound: return "bound";
    case Dhcp4Phase::renewing: return "renewing";
    case Dhcp4Phase::declined: return "declined";
  }
  return "?";
}

const char* addr_state_name(AddrState s) noexcept {
  switch (s) {
    case AddrState::none: return "none";
    case AddrState::tentative: return "tentative";
    case AddrState::preferred: return "preferred";
    case AddrState::duplicate: return "duplicate";
  }
  return "?";
}

const char* dhcp6_phase_name(Dhcp6Phase p) noexcept {
  switch (p) {
    case Dhcp6Phase::off: return "off";
    case Dhcp6Phase::wait_ll: return "wait-ll";
    case Dhcp6Phase::delay: return "delay";
    case Dhcp6Phase::soliciting: return "soliciting";
    case Dhcp6Phase::requesting: return "requesting";
    case Dhcp6Phase::confirming: return "confirming";
    case Dhcp6Phase::probing: return "probing";
    case Dhcp6Phase::bound: return "bound";
  }
  return "?";
}

RefGuest::RefGuest(const RefGuestConfig& cfg, Prng rng) noexcept : cfg_(cfg), rng_(rng) {
  if (cfg_.dad_transmits == 0) cfg_.dad_transmits = 1;
  for (Instant& t : timers_) t = Instant::never();
}

// --- timing ------------------------------------------------------------------------------

Duration RefGuest::sc(Duration real) const noexcept {
  const i64 us = real.ns / 1000;
  Duration d = Duration::nanos(us * static_cast<i64>(cfg_.scale_ppm) / 1000);
  if (d.ns < 1) d = Duration::nanos(1);
  return d > cfg_.max_rt ? cfg_.max_rt : d;
}

Duration RefGuest::jitter(Duration base, Duration plus_minus) noexcept {
  Duration lo = base - plus_minus;
  if (lo.ns < 1) lo = Duration::nanos(1);
  Duration hi = base + plus_minus;
  if (hi < lo) hi = lo;
  Duration d = rng_.duration(lo, hi);
  return d > cfg_.max_rt ? cfg_.max_rt : d;
}

// RFC 8415 §15: RT = IRT + RAND*IRT, RAND uniform in [-0.1, +0.1] (strictly
// positive for the first Solicit).
Duration RefGuest::rt_first(Duration irt, bool positive_only) noexcept {
  const i64 r = positive_only ? static_cast<i64>(rng_.range(1, 100000))
                              : static_cast<i64>(rng_.range(0, 200000)) - 100000;
  Duration d = irt + Duration::nanos(irt.ns / 1000 * r / 1000);
  if (d.ns < 1) d = Duration::nanos(1);
  return d > cfg_.max_rt ? cfg_.max_rt : d;
}

// RT = 2*RTprev + RAND*RTprev; above MRT: RT = MRT + RAND*MRT.
Duration RefGuest::rt_next(Duration prev, Duration mrt) noexcept {
  const i64 r = static_cast<i64>(rng_.range(0, 200000)) - 100000;
  Duration d = prev * 2 + Duration::nanos(prev.ns / 1000 * r / 1000);
  if (d > mrt) d = mrt + Duration::nanos(mrt.ns / 1000 * r / 1000);
  if (d.ns < 1) d = Duration::nanos(1);
  return d > cfg_.max_rt ? cfg_.max_rt : d;
}

Instant RefGuest::next_deadline() const noexcept {
  Instant t = Instant::never();
  for (const Instant& x : timers_) t = earliest(t, x);
  return t;
}

void RefGuest::on_deadline(Instant now) noexcept {
  // Every due timer fires once; each handler re-arms or disarms its own.
  for (u8 i = 0; i < kTimers; i++) {
    if (timers_[i] > now) continue;
    disarm(static_cast<Timer>(i));
    switch (static_cast<Timer>(i)) {
      case t_dhcp4: d4_timer(now); break;
      case t_acd: acd_timer(now); break;
      case t_arp_gw: arp_gw_timer(now); break;
      case t_ll_dad: ll_dad_timer(now); break;
      case t_rs: rs_timer(now); break;
      case t_slaac: slaac_timer(now); break;
      case t_ns_r: ns_r_timer(now); break;
      case t_dhcp6: d6_timer(now); break;
      case t_dhcp6_dad: d6_dad_timer(now); break;
      case kTimers: break;
    }
  }
}

// --- life cycle ------------------------------------------------------------------------------

void RefGuest::start(Instant now) noexcept {
  if (cfg_.v4) {
    if (cfg_.dhcp4) d4_enter_init(now, rng_.duration(sc(kDhcp4InitMin), sc(kDhcp4InitMax)));
    if (cfg_.static_gw4 && cfg_.static_addr4) arp_gw_start(now);
  }
  if (cfg_.v6) v6_start(now, false);
}

void RefGuest::restart(RestartKind kind, Instant now) noexcept {
  for (u8 i = 0; i < kTimers; i++) disarm(static_cast<Timer>(i));
  const bool keep = kind == RestartKind::reboot;
  if (cfg_.v4) {
    gw4_mac_.reset();
    acd_done_ = false;
    acd_step_ = 0;
    if (!keep) d4_ = Dhcp4State{};
    if (cfg_.dhcp4) {
      if (keep && d4_.have_lease) {
        // INIT-REBOOT (RFC 2131 §3.2, §4.4.2): ask for the old address.
        d4_.phase = Dhcp4Phase::rebooting;
        d4_xid_ = rng_.next_u32();
        d4_start_ = now;
        d4_tries_ = 0;
        d4_rt_ = sc(kDhcp4Rt);
        d4_send(wire::dhcp_msg::request, now);
        arm(t_dhcp4, now + jitter(d4_rt_, sc(kDhcp4Jitter)));
      } else {
        d4_.phase = Dhcp4Phase::off;
        d4_enter_init(now, rng_.duration(sc(kDhcp4InitMin), sc(kDhcp4InitMax)));
      }
    }
    if (cfg_.static_gw4 && cfg_.static_addr4) arp_gw_start(now);
  }
  if (cfg_.v6) v6_start(now, keep);
}

void RefGuest::on_link(bool up, Instant now) noexcept {
  // A link that comes back may be another network: re-validate everything
  // (RFC 2131 §3.2 INIT-REBOOT, RFC 8415 §18.2.3 Confirm, RFC 4862 DAD).
  if (up) restart(RestartKind::reboot, now);
}

// --- transmit --------------------------------------------------------------------------------

bool RefGuest::send(std::size_t len) noexcept {
  if (port_ == nullptr || !port_->guest_send(Bytes(tx_, len))) {
    c_.tx_refused++;
    return false;
  }
  return true;
}

std::size_t RefGuest::put_eth(const MacAddr& dst, u16 ethertype) noexcept {
  wire::EthernetRepr e{dst, cfg_.mac, ethertype};
  (void)e.emit(MutBytes(tx_, kEth));
  return kEth;
}

MutBytes RefGuest::udp4_payload() noexcept { return MutBytes(tx_ + kUdp4Payload, sizeof(tx_) - kUdp4Payload); }

bool RefGuest::send_udp4(const MacAddr& dst_mac, Ipv4Addr src, Ipv4Addr dst, u16 sport, u16 dport,
                         std::size_t payload_len) noexcept {
  put_eth(dst_mac, wire::ethertype::ipv4);
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = wire::ipproto::udp;
  ip.ttl = 64;
  ip.payload_len = static_cast<u16>(wire::kUdpHeaderLen + payload_len);
  if (!ip.emit(MutBytes(tx_ + kEth, wire::kIpv4HeaderLen))) return false;
  wire::UdpRepr u{sport, dport, payload_len};
  const std::size_t l4 = kEth + wire::kIpv4HeaderLen;
  if (!u.emit(MutBytes(tx_ + l4, u.length()), src, dst)) return false;
  return send(l4 + u.length());
}

bool RefGuest::send_arp(u16 oper, Ipv4Addr spa, const MacAddr& tha, Ipv4Addr tpa,
                        const MacAddr& dst) noexcept {
  put_eth(dst, wire::ethertype::arp);
  wire::ArpRepr a{oper, cfg_.mac, spa, tha, tpa};
  if (!a.emit(MutBytes(tx_ + kEth, wire::kArpEthIpv4Len))) return false;
  return send(kEth + wire::kArpEthIpv4Len);
}

// --- receive ---------------------------------------------------------------------------------

bool RefGuest::for_us(const MacAddr& dst) const noexcept {
  if (dst == cfg_.mac || dst.is_broadcast()) return true;
  if (dst.b[0] != 0x33 || dst.b[1] != 0x33 || !cfg_.v6) return false;
  // IPv6 multicast groups we joined: all-nodes and the solicited-node
  // groups of our (tentative) addresses (RFC 4861 §7.2.1, RFC 4862 §5.4.2).
  if (dst.b[2] == 0 && dst.b[3] == 0 && dst.b[4] == 0 && dst.b[5] == 1) return true;
  if (dst.b[2] != 0xff) return false;
  const Addr6* mine[] = {&ll_, &slaac_, &d6_addr_};
  for (const Addr6* a : mine) {
    if (a->state == AddrState::none) continue;
    if (a->addr.b[13] == dst.b[3] && a->addr.b[14] == dst.b[4] && a->addr.b[15] == dst.b[5]) return true;
  }
  return false;
}

void RefGuest::on_frame(Bytes frame, Instant now) noexcept {
  c_.rx++;
  auto pf = wire::parse_frame(frame);
  if (!pf) {
    // Too short for Ethernet, or an unknown ethertype: not for us either way.
    c_.rx_malformed++;
    return;
  }
  const wire::Frame& f = *pf;
  if (!for_us(f.eth_dst)) {
    c_.rx_not_for_us++;
    return;
  }
  if (!wire::frame_checksums_ok(f)) {
    c_.rx_bad_checksum++;
    return;
  }
  switch (f.l3) {
    case wire::L3::arp:
      if (cfg_.v4) rx_arp(f, now);
      return;
    case wire::L3::ipv4:
      if (cfg_.v4 && f.l4 == wire::L4::udp && f.src_port == wire::kDhcpServerPort &&
          f.dst_port == wire::kDhcpClientPort) {
        rx_dhcp4(f, now);
        return;
      }
      break;
    case wire::L3::ipv6:
      if (!cfg_.v6) break;
      if (f.l4 == wire::L4::icmpv6) {
        rx_icmp6(f, now);
        return;
      }
      if (f.l4 == wire::L4::udp && f.src_port == wire::kDhcpv6ServerPort &&
          f.dst_port == wire::kDhcpv6ClientPort) {
        rx_dhcp6(f, now);
        return;
      }
      break;
  }
  c_.rx_other++;
}

// --- ARP -------------------------------------------------------------------------------------

std::optional<Ipv4Addr> RefGuest::addr4() const noexcept {
  if (d4_.have_lease && (d4_.phase == Dhcp4Phase::bound || d4_.phase == Dhcp4Phase::renewing))
    return d4_.lease.addr;
  return cfg_.static_addr4;
}

std::optional<Ipv4Addr> RefGuest::gateway4() const noexcept {
  if (d4_.have_lease && (d4_.phase == Dhcp4Phase::bound || d4_.phase == Dhcp4Phase::renewing))
    return d4_.lease.router;
  return cfg_.static_gw4;
}

void RefGuest::rx_arp(const wire::Frame& f, Instant now) noexcept {
  c_.arp_any_rx++;
  auto r = wire::ArpRepr::from(*f.arp);
  if (!r) return;
  const wire::ArpRepr& a = *r;
  // RFC 5227 §2.1.1: while probing, any ARP packet whose sender is the
  // address, or another host's probe for it, is a conflict.
  if (d4_.phase == Dhcp4Phase::probing && !(a.sha == cfg_.mac)) {
    const Ipv4Addr mine = d4_.lease.addr;
    const bool sender_is_it = a.spa == mine;
    const bool other_probe = a.oper == wire::arp_op::request && a.spa.is_unspecified() && a.tpa == mine;
    if (sender_is_it || other_probe) {
      c_.arp_conflicts++;
      disarm(t_acd);
      d4_.phase = Dhcp4Phase::declined;
      d4_send(wire::dhcp_msg::decline, now);
      arm(t_dhcp4, now + sc(kDhcp4DeclineWait));
      return;
    }
  }
  if (a.oper != wire::arp_op::reply) return;
  const std::optional<Ipv4Addr> mine = addr4();
  if (timers_[t_arp_gw].is_never() || gw4_mac_ || !mine) return;
  if (a.spa == gw4_target_ && a.tpa == *mine && a.tha == cfg_.mac && !a.sha.is_multicast() &&
      !a.sha.is_zero()) {
    c_.arp_replies++;
    gw4_mac_ = a.sha;
    disarm(t_arp_gw);
  }
}

void RefGuest::arp_gw_start(Instant now) noexcept {
  const std::optional<Ipv4Addr> gw = gateway4();
  gw4_mac_.reset();
  if (!gw || !addr4()) {
    disarm(t_arp_gw);
    return;
  }
  gw4_target_ = *gw;
  arp_tries_ = 0;
  arm(t_arp_gw, now);
}

void RefGuest::arp_gw_timer(Instant now) noexcept {
  const std::optional<Ipv4Addr> mine = addr4();
  if (gw4_mac_ || !mine) return;
  send_arp(wire::arp_op::request, *mine, MacAddr{}, gw4_target_, MacAddr::broadcast());
  c_.arp_requests++;
  arp_tries_++;
  Duration next = sc(kArpRetrans);
  for (u32 i = kArpFastTries; i < arp_tries_ && next < cfg_.max_rt; i++) next = next * 2;
  arm(t_arp_gw, now + (next > cfg_.max_rt ? cfg_.max_rt : next));
}

void RefGuest::acd_timer(Instant now) noexcept {
  if (d4_.phase == Dhcp4Phase::probing) {
    if (acd_step_ < kProbeNum) {
      // Probe: sender 0.0.0.0, target the address, broadcast.
      send_arp(wire::arp_op::request, Ipv4Addr::any(), MacAddr{}, d4_.lease.addr, MacAddr::broadcast());
      c_.arp_probes++;
      acd_step_++;
      arm(t_acd, now + (acd_step_ < kProbeNum ? rng_.duration(sc(kProbeMin), sc(kProbeMax))
                                              : sc(kAnnounceWait)));
      return;
    }
    d4_bound(now);
    return;
  }
  if ((d4_.phase == Dhcp4Phase::bound || d4_.phase == Dhcp4Phase::renewing) && acd_step_ > kProbeNum &&
      acd_step_ < kProbeNum + 3) {
    // Announcement: sender and target both the address.
    send_arp(wire::arp_op::request, d4_.lease.addr, MacAddr{}, d4_.lease.addr, MacAddr::broadcast());
    c_.arp_announces++;
    acd_step_++;
    if (acd_step_ < kProbeNum + 3) arm(t_acd, now + sc(kAnnounceInterval));
  }
}

// --- DHCPv4 ----------------------------------------------------------------------------------

void RefGuest::d4_enter_init(Instant now, Duration wait) noexcept {
  d4_.phase = Dhcp4Phase::init;
  arm(t_dhcp4, now + wait);
}

void RefGuest::d4_send(u8 type, Instant now) noexcept {
  wire::DhcpRepr r;
  r.op = wire::dhcp_op::request;
  r.htype = 1;
  r.hlen = 6;
  r.xid = d4_xid_;
  const i64 secs = (now - d4_start_).ns / 1000000000;
  r.secs = static_cast<u16>(secs > 0xffff ? 0xffff : (secs < 0 ? 0 : secs));
  r.flags = cfg_.dhcp4_broadcast ? wire::kDhcpFlagBroadcast : 0;
  r.set_client_mac(cfg_.mac);
  r.message_type = type;
  if (cfg_.dhcp4_client_id) {
    wire::DhcpBlob id;
    (void)id.push(1);  // hardware type Ethernet, RFC 2132 §9.14
    for (u8 b : cfg_.mac.b) (void)id.push(b);
    r.client_id = id;
  }
  if (!cfg_.dhcp4_prl.empty() && type != wire::dhcp_msg::decline) {
    wire::DhcpBlob prl;
    for (u8 c : cfg_.dhcp4_prl) (void)prl.push(c);
    r.parameter_request_list = prl;
  }
  Ipv4Addr src = Ipv4Addr::any();
  Ipv4Addr dst = Ipv4Addr::broadcast();
  MacAddr dmac = MacAddr::broadcast();
  switch (d4_.phase) {
    case Dhcp4Phase::selecting:
      r.rapid_commit = cfg_.dhcp4_rapid_commit;
      break;
    case Dhcp4Phase::requesting:
      r.requested_ip = d4_offer_addr_;
      r.server_id = d4_offer_server_;
      break;
    case Dhcp4Phase::rebooting:
      r.requested_ip = d4_.lease.addr;
      break;
    case Dhcp4Phase::renewing:
      // RFC 2131 §4.3.2 RENEWING: ciaddr set, no 50/54, unicast to the server.
      r.ciaddr = d4_.lease.addr;
      src = d4_.lease.addr;
      dst = d4_renew_server_;
      if (gw4_mac_) dmac = *gw4_mac_;
      break;
    case Dhcp4Phase::declined:
      r.requested_ip = d4_.lease.addr;
      if (d4_.lease.server_id) r.server_id = *d4_.lease.server_id;
      break;
    default:
      break;
  }
  const std::size_t len = r.length();
  MutBytes out = udp4_payload();
  if (len > out.size() || !r.check() || !r.emit(out.first(len))) return;
  if (type == wire::dhcp_msg::discover) c_.dhcp4_discovers++;
  if (type == wire::dhcp_msg::request) c_.dhcp4_requests++;
  if (type == wire::dhcp_msg::decline) c_.dhcp4_declines++;
  send_udp4(dmac, src, dst, wire::kDhcpClientPort, wire::kDhcpServerPort, len);
}

void RefGuest::d4_timer(Instant now) noexcept {
  switch (d4_.phase) {
    case Dhcp4Phase::init:
    case Dhcp4Phase::declined:
      d4_.phase = Dhcp4Phase::selecting;
      d4_xid_ = rng_.next_u32();
      d4_start_ = now;
      d4_tries_ = 0;
      d4_rt_ = sc(kDhcp4Rt);
      d4_send(wire::dhcp_msg::discover, now);
      arm(t_dhcp4, now + jitter(d4_rt_, sc(kDhcp4Jitter)));
      return;
    case Dhcp4Phase::selecting:
      // Retransmissions keep the xid, so a late OFFER still counts.
      d4_rt_ = d4_rt_ * 2 > sc(kDhcp4RtMax) ? sc(kDhcp4RtMax) : d4_rt_ * 2;
      d4_send(wire::dhcp_msg::discover, now);
      arm(t_dhcp4, now + jitter(d4_rt_, sc(kDhcp4Jitter)));
      return;
    case Dhcp4Phase::requesting:
    case Dhcp4Phase::rebooting:
    case Dhcp4Phase::renewing:
      if (++d4_tries_ > kDhcp4RequestRetries) {
        // RFC 2131 §3.1 step 5 / §3.2: no answer, start over.
        d4_enter_init(now, sc(kDhcp4InitMin));
        return;
      }
      d4_rt_ = d4_rt_ * 2 > sc(kDhcp4RtMax) ? sc(kDhcp4RtMax) : d4_rt_ * 2;
      d4_send(wire::dhcp_msg::request, now);
      arm(t_dhcp4, now + jitter(d4_rt_, sc(kDhcp4Jitter)));
      return;
    case Dhcp4Phase::bound:
      // T1 of a finite lease.
      d4_.phase = Dhcp4Phase::renewing;
      d4_renew_server_ = d4_.lease.server_id ? *d4_.lease.server_id : Ipv4Addr::broadcast();
      d4_xid_ = rng_.next_u32();
      d4_start_ = now;
      d4_tries_ = 0;
      d4_rt_ = sc(kDhcp4Rt);
      d4_send(wire::dhcp_msg::request, now);
      arm(t_dhcp4, now + jitter(d4_rt_, sc(kDhcp4Jitter)));
      return;
    case Dhcp4Phase::off:
    case Dhcp4Phase::probing:
      return;
  }
}

void RefGuest::rx_dhcp4(const wire::Frame& f, Instant now) noexcept {
  c_.dhcp4_rx++;
  auto v = wire::DhcpView::parse(f.payload);
  if (!v) {
    c_.dhcp4_ignored++;
    return;
  }
  auto pr = wire::DhcpRepr::from(*v);
  if (!pr) {
    c_.dhcp4_ignored++;
    return;
  }
  const wire::DhcpRepr& r = *pr;
  const Ipv4Addr ip_dst = f.dst.v4();
  const std::optional<Ipv4Addr> mine = addr4();
  const bool dst_ok = ip_dst.is_broadcast() || ip_dst == r.yiaddr || (mine && ip_dst == *mine);
  if (r.op != wire::dhcp_op::reply || r.htype != 1 || r.hlen != 6 || r.xid != d4_xid_ ||
      !(r.client_mac() == cfg_.mac) || !dst_ok || !r.message_type || !r.server_id) {
    c_.dhcp4_ignored++;
    return;
  }
  const u8 type = *r.message_type;
  const Dhcp4Phase ph = d4_.phase;
  if (type == wire::dhcp_msg::offer && ph == Dhcp4Phase::selecting && usable_unicast4(r.yiaddr)) {
    c_.dhcp4_offers++;
    d4_offer_addr_ = r.yiaddr;
    d4_offer_server_ = *r.server_id;
    d4_.phase = Dhcp4Phase::requesting;
    d4_tries_ = 0;
    d4_rt_ = sc(kDhcp4Rt);
    d4_send(wire::dhcp_msg::request, now);
    arm(t_dhcp4, now + jitter(d4_rt_, sc(kDhcp4Jitter)));
    return;
  }
  if (type == wire::dhcp_msg::ack && usable_unicast4(r.yiaddr)) {
    const bool rapid = ph == Dhcp4Phase::selecting && cfg_.dhcp4_rapid_commit && r.rapid_commit;
    const bool requested = ph == Dhcp4Phase::requesting && *r.server_id == d4_offer_server_;
    if (rapid || requested || ph == Dhcp4Phase::rebooting || ph == Dhcp4Phase::renewing) {
      c_.dhcp4_acks++;
      d4_accept_ack(r, now);
      return;
    }
  }
  if (type == wire::dhcp_msg::nak &&
      (ph == Dhcp4Phase::requesting || ph == Dhcp4Phase::rebooting || ph == Dhcp4Phase::renewing)) {
    c_.dhcp4_naks++;
    d4_.have_lease = false;
    d4_enter_init(now, sc(kDhcp4InitMin));
    return;
  }
  c_.dhcp4_ignored++;
}

void RefGuest::d4_accept_ack(const wire::DhcpRepr& r, Instant now) noexcept {
  const bool renewal = d4_.phase == Dhcp4Phase::renewing;
  Dhcp4Lease& L = d4_.lease;
  L = Dhcp4Lease{};
  L.addr = r.yiaddr;
  if (r.subnet_mask) {
    L.mask_present = true;
    const u32 m = r.subnet_mask->to_u32();
    u8 n = 0;
    while (n < 32 && (m & (0x80000000u >> n)) != 0) n++;
    const u32 rebuilt = n == 0 ? 0 : (n == 32 ? 0xffffffffu : ~(0xffffffffu >> n));
    L.mask_contiguous = rebuilt == m;
    L.prefix_len = n;
  }
  // RFC 3442: with option 121 present, the router option is ignored and the
  // default route comes from 121.
  L.routes_121 = static_cast<u32>(r.classless_routes.size());
  if (!r.classless_routes.empty()) {
    for (const wire::DhcpRoute& rt : r.classless_routes) {
      if (rt.prefix_len == 0 && !L.router) {
        L.router = rt.router;
        L.router_from_121 = true;
      }
    }
  } else if (!r.routers.empty()) {
    L.router = r.routers[0];
  }
  if (L.router) {
    if (L.mask_present && L.mask_contiguous && L.router->in_subnet(L.addr, L.prefix_len))
      L.router_reachable = true;
    for (const wire::DhcpRoute& rt : r.classless_routes)
      if (rt.router.is_unspecified() && L.router->in_subnet(rt.dest, rt.prefix_len)) L.router_reachable = true;
  }
  L.server_id = r.server_id;
  L.lease = r.lease_time;
  if (r.mtu && *r.mtu >= 68) L.mtu = r.mtu;  // RFC 2132 §5.1: at least 68
  for (Ipv4Addr a : r.dns_servers) (void)L.dns.push(a);
  L.search = r.domain_search;
  d4_.have_lease = true;
  disarm(t_dhcp4);
  if (renewal || !cfg_.arp_probe) {
    d4_bound(now);
    return;
  }
  // RFC 2131 §4.4.1 / RFC 5227 §2.1: probe before use.
  d4_.phase = Dhcp4Phase::probing;
  acd_done_ = false;
  acd_step_ = 0;
  gw4_mac_.reset();
  arm(t_acd, now + rng_.duration(Duration::zero(), sc(kProbeWait)));
}

void RefGuest::d4_bound(Instant now) noexcept {
  const bool was_renewing = d4_.phase == Dhcp4Phase::renewing;
  d4_.phase = Dhcp4Phase::bound;
  acd_done_ = true;
  if (!was_renewing && cfg_.arp_probe && acd_step_ == kProbeNum) {
    acd_step_++;  // announcements follow
    arm(t_acd, now);
  }
  if (d4_.lease.lease && *d4_.lease.lease != wire::kDhcpInfiniteLease) {
    // T1 = lease / 2 (RFC 2131 §4.4.5), on the guest's time scale.
    arm(t_dhcp4, now + sc(Duration::seconds(static_cast<i64>(*d4_.lease.lease) / 2 + 1)));
  } else {
    disarm(t_dhcp4);
  }
  if (!was_renewing || !gw4_mac_) arp_gw_start(now);
}

}  // namespace passt::sim
