// The reference guest, IPv6 half: link-local address and DAD (RFC 4862),
// router solicitation and RA processing (RFC 4861, 7559, 8106), router
// resolution by Neighbour Solicitation, and the DHCPv6 client (RFC 8415).
// See guest_ref.hpp for the theory of operation.
#include <cstring>

#include "sim/guest_ref.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv6.hpp"
#include "wire/ndp.hpp"
#include "wire/udp.hpp"

namespace passt::sim {

namespace {

// RFC 4861 §10 / RFC 7559.
constexpr Duration kMaxRtrSolicitationDelay = Duration::seconds(1);
constexpr Duration kRtrSolicitationInterval = Duration::seconds(4);
constexpr Duration kMaxRtrSolicitationInterval = Duration::seconds(3600);
constexpr Duration kRetransTimer = Duration::seconds(1);
constexpr u32 kMaxMulticastSolicit = 3;
constexpr Duration kDadRetry = Duration::seconds(10);  // after a conflict
// RFC 8415 §7.6.
constexpr Duration kSolMaxDelay = Duration::seconds(1);
constexpr Duration kSolTimeout = Duration::seconds(1);
constexpr Duration kSolMaxRt = Duration::seconds(3600);
constexpr Duration kReqTimeout = Duration::seconds(1);
constexpr Duration kReqMaxRt = Duration::seconds(30);
constexpr u32 kReqMaxRc = 10;
constexpr Duration kCnfTimeout = Duration::seconds(1);
constexpr Duration kCnfMaxRt = Duration::seconds(4);
constexpr Duration kCnfMaxRd = Duration::seconds(10);
constexpr u16 kOptPreference = 7;

constexpr std::size_t kEth = wire::kEthHeaderLen;
constexpr std::size_t kL4 = kEth + wire::kIpv6HeaderLen;
constexpr std::size_t kUdp6Payload = kL4 + wire::kUdpHeaderLen;

MacAddr multicast_mac(const Ipv6Addr& a) noexcept {
  return MacAddr{{0x33, 0x33, a.b[12], a.b[13], a.b[14], a.b[15]}};
}

bool is_solicited_node(const Ipv6Addr& a) noexcept {
  static constexpr u8 kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  return std::memcmp(a.b.data(), kPrefix, sizeof(kPrefix)) == 0;
}

}  // namespace

Ipv6Addr RefGuest::with_iid(const Ipv6Addr& prefix64, const MacAddr& mac) noexcept {
  Ipv6Addr a = prefix64;
  // Modified EUI-64 (RFC 4291 appendix A): flip the universal/local bit,
  // insert ff:fe in the middle.
  a.b[8] = static_cast<u8>(mac.b[0] ^ 0x02);
  a.b[9] = mac.b[1];
  a.b[10] = mac.b[2];
  a.b[11] = 0xff;
  a.b[12] = 0xfe;
  a.b[13] = mac.b[3];
  a.b[14] = mac.b[4];
  a.b[15] = mac.b[5];
  return a;
}

Ipv6Addr RefGuest::link_local_of(const MacAddr& mac) noexcept {
  Ipv6Addr p{};
  p.b[0] = 0xfe;
  p.b[1] = 0x80;
  return with_iid(p, mac);
}

bool RefGuest::ever_probed(const Ipv6Addr& a) const noexcept {
  for (std::size_t i = 0; i < n_probed_; i++)
    if (probed_[i] == a) return true;
  return false;
}

void RefGuest::note_probed(const Ipv6Addr& a) noexcept {
  if (ever_probed(a)) return;
  if (n_probed_ < kMaxProbed) probed_[n_probed_++] = a;
}

std::optional<Ipv6Addr> RefGuest::router6() const noexcept {
  if (ra_.received && ra_.router_lifetime > 0) return ra_.router;
  return cfg_.static_router6;
}

// --- transmit --------------------------------------------------------------------------------

MutBytes RefGuest::udp6_payload() noexcept { return MutBytes(tx_ + kUdp6Payload, sizeof(tx_) - kUdp6Payload); }
MutBytes RefGuest::icmp6_msg() noexcept { return MutBytes(tx_ + kL4, sizeof(tx_) - kL4); }

bool RefGuest::send_udp6(const MacAddr& dst_mac, const Ipv6Addr& src, const Ipv6Addr& dst, u16 sport,
                         u16 dport, u8 hop_limit, std::size_t payload_len) noexcept {
  put_eth(dst_mac, wire::ethertype::ipv6);
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = wire::ipproto::udp;
  ip.hop_limit = hop_limit;
  ip.payload_len = static_cast<u16>(wire::kUdpHeaderLen + payload_len);
  if (!ip.emit(MutBytes(tx_ + kEth, wire::kIpv6HeaderLen))) return false;
  wire::UdpRepr u{sport, dport, payload_len};
  if (!u.emit(MutBytes(tx_ + kL4, u.length()), src, dst)) return false;
  return send(kL4 + u.length());
}

bool RefGuest::send_icmp6(const MacAddr& dst_mac, const Ipv6Addr& src, const Ipv6Addr& dst,
                          std::size_t icmp_len) noexcept {
  put_eth(dst_mac, wire::ethertype::ipv6);
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = wire::ipproto::icmpv6;
  ip.hop_limit = 255;  // RFC 4861: every ND message
  ip.payload_len = static_cast<u16>(icmp_len);
  if (!ip.emit(MutBytes(tx_ + kEth, wire::kIpv6HeaderLen))) return false;
  return send(kL4 + icmp_len);
}

void RefGuest::send_dad_ns(const Ipv6Addr& target) noexcept {
  // RFC 4862 §5.4.2: from ::, to the target's solicited-node group, no SLLA.
  wire::NdpRepr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = target;
  const Ipv6Addr dst = target.solicited_node();
  const std::size_t len = ns.length();
  if (!ns.emit(icmp6_msg().first(len), Ipv6Addr::any(), dst)) return;
  c_.ns_dad++;
  send_icmp6(multicast_mac(dst), Ipv6Addr::any(), dst, len);
}

// --- life cycle ------------------------------------------------------------------------------

void RefGuest::v6_start(Instant now, bool keep_leases) noexcept {
  ll_ = Addr6{link_local_of(cfg_.mac), AddrState::tentative, 0};
  note_probed(ll_.addr);
  // RFC 4862 §5.4.2: random delay before the first DAD solicitation.
  arm(t_ll_dad, now + rng_.duration(Duration::zero(), sc(kMaxRtrSolicitationDelay)));
  ra_ = RaState{};
  slaac_ = Addr6{};
  rs_done_ = false;
  rs_rt_ = Duration::zero();
  r6_mac_.reset();
  r6_router_flag_ = false;
  ns_r_tries_ = 0;
  if (cfg_.rs_from_unspecified)
    arm(t_rs, now + rng_.duration(Duration::zero(), sc(kMaxRtrSolicitationDelay)));
  if (!cfg_.dhcp6) return;
  if (!keep_leases) d6_ = Dhcp6State{};
  d6_.phase = Dhcp6Phase::wait_ll;
  d6_addr_ = Addr6{};
}

bool RefGuest::dad_step(Addr6& a, Timer t, Instant now) noexcept {
  if (a.state == AddrState::duplicate) {
    // Retry after a conflict (a real host would stop: our guest must be
    // able to recover once the engine behaves, so the run can finish).
    a.state = AddrState::tentative;
    a.probes = 0;
  }
  if (a.state != AddrState::tentative) return a.state == AddrState::preferred;
  if (a.probes < cfg_.dad_transmits) {
    send_dad_ns(a.addr);
    a.probes++;
    arm(t, now + sc(kRetransTimer));
    return false;
  }
  a.state = AddrState::preferred;
  return true;
}

void RefGuest::dad_failed(const Ipv6Addr& target, Instant now) noexcept {
  c_.dad_failures++;
  struct Slot {
    Addr6* a;
    Timer t;
  };
  const Slot slots[] = {{&ll_, t_ll_dad}, {&slaac_, t_slaac}, {&d6_addr_, t_dhcp6_dad}};
  for (const Slot& s : slots) {
    if (s.a->state == AddrState::none || !(s.a->addr == target)) continue;
    s.a->state = AddrState::duplicate;
    arm(s.t, now + sc(kDadRetry));
  }
}

void RefGuest::ll_dad_timer(Instant now) noexcept {
  if (dad_step(ll_, t_ll_dad, now)) ll_ready(now);
}

void RefGuest::ll_ready(Instant now) noexcept {
  if (!rs_done_ && timers_[t_rs].is_never())
    arm(t_rs, now + rng_.duration(Duration::zero(), sc(kMaxRtrSolicitationDelay)));
  if (router6() && !r6_mac_) ns_r_start(now);
  if (cfg_.dhcp6 && d6_.phase == Dhcp6Phase::wait_ll) d6_begin(now);
}

void RefGuest::rs_timer(Instant now) noexcept {
  if (rs_done_) return;
  const bool have_ll = ll_.state == AddrState::preferred;
  if (!have_ll && !cfg_.rs_from_unspecified) return;
  const Ipv6Addr src = have_ll ? ll_.addr : Ipv6Addr::any();
  const Ipv6Addr dst = Ipv6Addr::all_routers();
  wire::NdpRepr rs;
  rs.type = wire::icmpv6_type::router_solicitation;
  if (have_ll) rs.options.source_ll = cfg_.mac;  // never from :: (RFC 4861 §4.1)
  const std::size_t len = rs.length();
  if (rs.emit(icmp6_msg().first(len), src, dst)) {
    c_.rs++;
    send_icmp6(multicast_mac(dst), src, dst, len);
  }
  rs_rt_ = rs_rt_.ns == 0 ? rt_first(sc(kRtrSolicitationInterval), false)
                          : rt_next(rs_rt_, sc(kMaxRtrSolicitationInterval));
  arm(t_rs, now + rs_rt_);
}

void RefGuest::slaac_timer(Instant now) noexcept { (void)dad_step(slaac_, t_slaac, now); }

void RefGuest::ns_r_start(Instant now) noexcept {
  const std::optional<Ipv6Addr> r = router6();
  if (!r) return;
  if (r6_mac_ && r6_target_ == *r) return;
  r6_target_ = *r;
  r6_mac_.reset();
  ns_r_tries_ = 0;
  if (ll_.state == AddrState::preferred) arm(t_ns_r, now);  // else ll_ready() starts it
}

void RefGuest::ns_r_timer(Instant now) noexcept {
  if (r6_mac_ || ll_.state != AddrState::preferred) return;
  wire::NdpRepr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = r6_target_;
  ns.options.source_ll = cfg_.mac;
  const Ipv6Addr dst = r6_target_.solicited_node();
  const std::size_t len = ns.length();
  if (ns.emit(icmp6_msg().first(len), ll_.addr, dst)) {
    c_.ns_router++;
    send_icmp6(multicast_mac(dst), ll_.addr, dst, len);
  }
  ns_r_tries_++;
  Duration next = sc(kRetransTimer);
  for (u32 i = kMaxMulticastSolicit; i < ns_r_tries_ && next < cfg_.max_rt; i++) next = next * 2;
  arm(t_ns_r, now + (next > cfg_.max_rt ? cfg_.max_rt : next));
}

// --- receive: ICMPv6 -------------------------------------------------------------------------

void RefGuest::rx_icmp6(const wire::Frame& f, Instant now) noexcept {
  if (f.l4_bytes.empty()) {
    c_.rx_other++;
    return;
  }
  switch (f.l4_bytes[0]) {
    case wire::icmpv6_type::router_advertisement: rx_ra(f, now); return;
    case wire::icmpv6_type::neighbor_advertisement: rx_na(f, now); return;
    case wire::icmpv6_type::neighbor_solicitation: rx_ns(f, now); return;
    default: c_.rx_other++; return;
  }
}

void RefGuest::rx_ra(const wire::Frame& f, Instant now) noexcept {
  c_.ra_rx++;
  const Ipv6Addr src = f.src.v6();
  const Ipv6Addr dst = f.dst.v6();
  // RFC 4861 §6.1.2 (the checksum was checked on receipt).
  auto v = wire::NdpView::parse(f.l4_bytes);
  const bool dst_ok = dst == Ipv6Addr::all_nodes() || dst == ll_.addr;
  if (!v || f.hop_limit != 255 || !src.is_link_local() || !dst_ok || f.l4_bytes[1] != 0) {
    c_.ra_ignored++;
    return;
  }
  auto pr = wire::NdpRepr::from(*v);
  if (!pr) {
    c_.ra_ignored++;
    return;
  }
  const wire::NdpRepr& ra = *pr;
  c_.ra_accepted++;
  if (rs_done_ && dst == Ipv6Addr::all_nodes()) c_.ra_unsolicited++;
  ra_.received = true;
  ra_.router = src;
  ra_.router_lifetime = ra.router_lifetime;
  ra_.managed = ra.managed;
  ra_.other = ra.other_config;
  if (ra.options.source_ll) ra_.router_mac = ra.options.source_ll;
  // RFC 4861 §6.3.4: at least the IPv6 minimum MTU.
  if (ra.options.mtu && *ra.options.mtu >= 1280 && *ra.options.mtu <= 65535) ra_.mtu = ra.options.mtu;
  for (const wire::NdpPrefixInfo& pi : ra.options.prefixes) {
    // RFC 4862 §5.5.3: autonomous, not link-local, preferred <= valid, and
    // a prefix length that leaves exactly our 64-bit interface identifier.
    if (!pi.autonomous || pi.prefix.is_link_local() || pi.preferred_lifetime > pi.valid_lifetime ||
        pi.valid_lifetime == 0 || pi.prefix_len != 64)
      continue;
    Ipv6Addr p = pi.prefix;
    for (std::size_t i = 8; i < 16; i++) p.b[i] = 0;
    ra_.prefix_seen = true;
    ra_.prefix = p;
    ra_.prefix_len = pi.prefix_len;
    ra_.valid = pi.valid_lifetime;
    ra_.preferred = pi.preferred_lifetime;
    const Ipv6Addr a = with_iid(p, cfg_.mac);
    if (slaac_.state == AddrState::none || !(slaac_.addr == a)) {
      slaac_ = Addr6{a, AddrState::tentative, 0};
      note_probed(a);
      arm(t_slaac, now);
    }
  }
  // RFC 8106 §5.3.1: an RA's RDNSS/DNSSL options update the lists; a zero
  // lifetime removes.
  if (!ra.options.rdnss.empty()) {
    ra_.rdnss.clear();
    for (const wire::NdpRdnss& r : ra.options.rdnss)
      if (r.lifetime != 0)
        for (const Ipv6Addr& a : r.servers) (void)ra_.rdnss.push(a);
  }
  if (!ra.options.dnssl.empty()) {
    ra_.dnssl.clear();
    for (const wire::NdpDnssl& d : ra.options.dnssl)
      if (d.lifetime != 0)
        for (const wire::DnsName& n : d.domains) (void)ra_.dnssl.push(n);
  }
  rs_done_ = true;
  disarm(t_rs);
  if (ra.router_lifetime > 0 && (!r6_mac_ || !(r6_target_ == src))) ns_r_start(now);
}

void RefGuest::rx_na(const wire::Frame& f, Instant now) noexcept {
  c_.na_rx++;
  auto v = wire::NdpView::parse(f.l4_bytes);
  const Ipv6Addr dst = f.dst.v6();
  // RFC 4861 §7.1.2.
  if (!v || f.hop_limit != 255 || f.l4_bytes[1] != 0 || v->target().is_multicast() ||
      (dst.is_multicast() && v->solicited())) {
    c_.ndp_ignored++;
    return;
  }
  auto pr = wire::NdpRepr::from(*v);
  if (!pr) {
    c_.ndp_ignored++;
    return;
  }
  const Ipv6Addr target = pr->target;
  // RFC 4862 §5.4.4: an advertisement for a tentative address means it is
  // a duplicate (and for an address in use, a conflict).
  const Addr6* mine[] = {&ll_, &slaac_, &d6_addr_};
  for (const Addr6* a : mine) {
    if ((a->state == AddrState::tentative || a->state == AddrState::preferred) && a->addr == target) {
      dad_failed(target, now);
      return;
    }
  }
  if (!timers_[t_ns_r].is_never() && !r6_mac_ && target == r6_target_ && pr->solicited &&
      pr->options.target_ll && !pr->options.target_ll->is_multicast()) {
    c_.na_router++;
    r6_mac_ = pr->options.target_ll;
    r6_router_flag_ = pr->router;
    disarm(t_ns_r);
    return;
  }
  c_.ndp_ignored++;
}

void RefGuest::rx_ns(const wire::Frame& f, Instant now) noexcept {
  auto v = wire::NdpView::parse(f.l4_bytes);
  const Ipv6Addr src = f.src.v6();
  const Ipv6Addr dst = f.dst.v6();
  if (!v || f.hop_limit != 255 || f.l4_bytes[1] != 0 || v->target().is_multicast() ||
      (src.is_unspecified() && !is_solicited_node(dst))) {
    c_.ndp_ignored++;
    return;
  }
  // Another node's DAD probe for our tentative address (RFC 4862 §5.4.3).
  const Ipv6Addr target = v->target();
  const Addr6* mine[] = {&ll_, &slaac_, &d6_addr_};
  for (const Addr6* a : mine) {
    if (src.is_unspecified() && a->state == AddrState::tentative && a->addr == target) {
      dad_failed(target, now);
      return;
    }
  }
  c_.ndp_ignored++;  // we are nobody's router; nothing else asks us
}

// --- DHCPv6 ----------------------------------------------------------------------------------

void RefGuest::d6_fill_duid(wire::Dhcpv6Duid& d) const noexcept {
  // RFC 8415 §11.2 (LLT: type 1) / §11.4 (LL: type 3), hardware type 1.
  d.clear();
  (void)d.push(0);
  (void)d.push(cfg_.duid_llt ? 1 : 3);
  (void)d.push(0);
  (void)d.push(1);
  if (cfg_.duid_llt) {
    (void)d.push(static_cast<u8>(cfg_.duid_time >> 24));
    (void)d.push(static_cast<u8>(cfg_.duid_time >> 16));
    (void)d.push(static_cast<u8>(cfg_.duid_time >> 8));
    (void)d.push(static_cast<u8>(cfg_.duid_time));
  }
  for (u8 b : cfg_.mac.b) (void)d.push(b);
}

void RefGuest::d6_begin(Instant now) noexcept {
  if (d6_.have_lease) {
    // RFC 8415 §18.2.3: after a link change, Confirm the addresses.
    d6_.phase = Dhcp6Phase::confirming;
    d6_xid_ = rng_.next_u32() & 0xffffff;
    d6_start_ = now;
    d6_rt_ = rt_first(sc(kCnfTimeout), false);
    d6_send(wire::dhcpv6_msg::confirm, now);
    arm(t_dhcp6, now + d6_rt_);
    return;
  }
  d6_.phase = Dhcp6Phase::delay;
  arm(t_dhcp6, now + rng_.duration(Duration::zero(), sc(kSolMaxDelay)));
}

void RefGuest::d6_solicit(Instant now) noexcept {
  d6_.phase = Dhcp6Phase::soliciting;
  d6_xid_ = rng_.next_u32() & 0xffffff;
  d6_start_ = now;
  d6_have_adv_ = false;
  d6_rt_ = rt_first(sc(kSolTimeout), true);
  d6_first_rt_end_ = now + d6_rt_;
  d6_send(wire::dhcpv6_msg::solicit, now);
  arm(t_dhcp6, now + d6_rt_);
}

void RefGuest::d6_request(Instant now) noexcept {
  d6_.phase = Dhcp6Phase::requesting;
  d6_xid_ = rng_.next_u32() & 0xffffff;
  d6_start_ = now;
  d6_tries_ = 1;
  d6_rt_ = rt_first(sc(kReqTimeout), false);
  d6_send(wire::dhcpv6_msg::request, now);
  arm(t_dhcp6, now + d6_rt_);
}

void RefGuest::d6_timer(Instant now) noexcept {
  switch (d6_.phase) {
    case Dhcp6Phase::delay:
      d6_solicit(now);
      return;
    case Dhcp6Phase::soliciting:
      // The first RT collects Advertises; afterwards the first one wins.
      if (d6_have_adv_) {
        d6_request(now);
        return;
      }
      d6_rt_ = rt_next(d6_rt_, sc(kSolMaxRt));
      d6_send(wire::dhcpv6_msg::solicit, now);
      arm(t_dhcp6, now + d6_rt_);
      return;
    case Dhcp6Phase::requesting:
      if (d6_tries_ >= kReqMaxRc) {
        d6_solicit(now);
        return;
      }
      d6_tries_++;
      d6_rt_ = rt_next(d6_rt_, sc(kReqMaxRt));
      d6_send(wire::dhcpv6_msg::request, now);
      arm(t_dhcp6, now + d6_rt_);
      return;
    case Dhcp6Phase::confirming: {
      const Instant give_up = d6_start_ + sc(kCnfMaxRd);
      if (now >= give_up) {
        // RFC 8415 §18.2.3: no answer, keep using the addresses.
        d6_.phase = Dhcp6Phase::probing;
        d6_addr_ = Addr6{d6_.lease.addr, AddrState::tentative, 0};
        note_probed(d6_addr_.addr);
        arm(t_dhcp6_dad, now);
        return;
      }
      d6_rt_ = rt_next(d6_rt_, sc(kCnfMaxRt));
      d6_send(wire::dhcpv6_msg::confirm, now);
      arm(t_dhcp6, earliest(now + d6_rt_, give_up));
      return;
    }
    default:
      return;
  }
}

void RefGuest::d6_send(u8 type, Instant now) noexcept {
  if (ll_.state != AddrState::preferred) return;
  wire::Dhcpv6Repr r;
  r.msg_type = type;
  r.xid = d6_xid_ & 0xffffff;
  wire::Dhcpv6Duid id;
  d6_fill_duid(id);
  r.client_id = id;
  // Elapsed time in hundredths of a second since the exchange began.
  const i64 cs = (now - d6_start_).ns / 10000000;
  r.elapsed_time = static_cast<u16>(cs > 0xffff ? 0xffff : (cs < 0 ? 0 : cs));
  wire::Dhcpv6Ia ia;
  ia.iaid = cfg_.iaid;
  switch (type) {
    case wire::dhcpv6_msg::solicit: {
      wire::FixedList<u16, wire::kDhcpv6MaxOro> oro;
      (void)oro.push(wire::dhcpv6_opt::dns_servers);
      (void)oro.push(wire::dhcpv6_opt::domain_list);
      r.oro = oro;
      r.rapid_commit = cfg_.dhcp6_rapid_commit;
      (void)r.ia_na.push(ia);
      c_.dhcp6_solicits++;
      break;
    }
    case wire::dhcpv6_msg::request: {
      wire::FixedList<u16, wire::kDhcpv6MaxOro> oro;
      (void)oro.push(wire::dhcpv6_opt::dns_servers);
      (void)oro.push(wire::dhcpv6_opt::domain_list);
      r.oro = oro;
      r.server_id = d6_adv_server_;
      if (d6_adv_has_addr_) {
        wire::Dhcpv6IaAddr a;
        a.addr = d6_adv_addr_;
        a.preferred = 0;
        a.valid = 0;
        (void)ia.addrs.push(a);
      }
      (void)r.ia_na.push(ia);
      c_.dhcp6_requests++;
      break;
    }
    case wire::dhcpv6_msg::confirm: {
      // RFC 8415 §18.2.3: T1, T2 and the lifetimes are 0.
      wire::Dhcpv6IaAddr a;
      a.addr = d6_.lease.addr;
      a.preferred = 0;
      a.valid = 0;
      (void)ia.addrs.push(a);
      (void)r.ia_na.push(ia);
      c_.dhcp6_confirms++;
      break;
    }
    default:
      return;
  }
  const std::size_t len = r.length();
  MutBytes out = udp6_payload();
  if (len > out.size() || !r.check() || !r.emit(out.first(len))) return;
  send_udp6(multicast_mac(wire::kDhcpv6AllServers), ll_.addr, wire::kDhcpv6AllServers,
            wire::kDhcpv6ClientPort, wire::kDhcpv6ServerPort, 1, len);
}

void RefGuest::rx_dhcp6(const wire::Frame& f, Instant now) noexcept {
  c_.dhcp6_rx++;
  auto v = wire::Dhcpv6View::parse(f.payload);
  if (!v) {
    c_.dhcp6_ignored++;
    return;
  }
  auto pr = wire::Dhcpv6Repr::from(*v);
  if (!pr) {
    c_.dhcp6_ignored++;
    return;
  }
  const wire::Dhcpv6Repr& r = *pr;
  wire::Dhcpv6Duid mine;
  d6_fill_duid(mine);
  const Ipv6Addr dst = f.dst.v6();
  const bool dst_ok = dst == ll_.addr && ll_.state == AddrState::preferred;
  // RFC 8415 §16.3, §16.10: our transaction, our Client ID, a Server ID.
  if (!dst_ok || r.xid != d6_xid_ || !r.client_id || !(*r.client_id == mine) || !r.server_id) {
    c_.dhcp6_ignored++;
    return;
  }
  const Dhcp6Phase ph = d6_.phase;
  const wire::Dhcpv6Ia* ia = nullptr;
  for (const wire::Dhcpv6Ia& x : r.ia_na)
    if (x.iaid == cfg_.iaid) ia = &x;
  const bool top_ok = !r.status || r.status->code == wire::dhcpv6_status::success;
  const bool ia_ok = ia != nullptr && (!ia->status || ia->status->code == wire::dhcpv6_status::success);

  if (r.msg_type == wire::dhcpv6_msg::advertise && ph == Dhcp6Phase::soliciting) {
    // §18.2.9: ignore an Advertise without addresses for us.
    if (!top_ok || !ia_ok) {
      c_.dhcp6_ignored++;
      return;
    }
    c_.dhcp6_advertises++;
    if (!d6_have_adv_) {
      d6_have_adv_ = true;
      d6_adv_server_ = *r.server_id;
      d6_adv_has_addr_ = !ia->addrs.empty();
      if (d6_adv_has_addr_) d6_adv_addr_ = ia->addrs[0].addr;
    }
    bool pref255 = false;
    for (const wire::Dhcpv6RawOption& o : r.other)
      if (o.code == kOptPreference && o.data.size() == 1 && o.data[0] == 255) pref255 = true;
    if (pref255 || now >= d6_first_rt_end_) {
      disarm(t_dhcp6);
      d6_request(now);
    }
    return;
  }
  if (r.msg_type != wire::dhcpv6_msg::reply) {
    c_.dhcp6_ignored++;
    return;
  }
  const bool rapid = ph == Dhcp6Phase::soliciting && cfg_.dhcp6_rapid_commit && r.rapid_commit;
  if (ph == Dhcp6Phase::confirming) {
    c_.dhcp6_replies++;
    disarm(t_dhcp6);
    if (r.status && r.status->code == wire::dhcpv6_status::not_on_link) {
      c_.dhcp6_not_on_link++;
      d6_.have_lease = false;
      d6_solicit(now);
      return;
    }
    d6_.lease.dns.clear();
    for (const Ipv6Addr& a : r.dns_servers) (void)d6_.lease.dns.push(a);
    d6_.lease.domains = r.domain_list;
    d6_.lease.fqdn = r.fqdn;
    d6_.phase = Dhcp6Phase::probing;
    d6_addr_ = Addr6{d6_.lease.addr, AddrState::tentative, 0};
    note_probed(d6_addr_.addr);
    arm(t_dhcp6_dad, now);
    return;
  }
  if (!(ph == Dhcp6Phase::requesting && *r.server_id == d6_adv_server_) && !rapid) {
    c_.dhcp6_ignored++;
    return;
  }
  c_.dhcp6_replies++;
  disarm(t_dhcp6);
  if (r.status && r.status->code == wire::dhcpv6_status::not_on_link) c_.dhcp6_not_on_link++;
  const wire::Dhcpv6IaAddr* got = nullptr;
  if (top_ok && ia_ok)
    for (const wire::Dhcpv6IaAddr& a : ia->addrs)
      if (a.valid > 0 && a.preferred <= a.valid && (!a.status || a.status->code == 0)) {
        got = &a;
        break;
      }
  if (got == nullptr) {
    // §18.2.10.1: NotOnLink / NoAddrsAvail: discovery again, without hints.
    d6_solicit(now);
    return;
  }
  Dhcp6Lease& L = d6_.lease;
  L = Dhcp6Lease{};
  L.addr = got->addr;
  L.preferred = got->preferred;
  L.valid = got->valid;
  L.t1 = ia->t1;
  L.t2 = ia->t2;
  L.server_id = *r.server_id;
  for (const Ipv6Addr& a : r.dns_servers) (void)L.dns.push(a);
  L.domains = r.domain_list;
  L.fqdn = r.fqdn;
  d6_.have_lease = true;
  d6_.phase = Dhcp6Phase::probing;
  d6_addr_ = Addr6{L.addr, AddrState::tentative, 0};
  note_probed(L.addr);
  arm(t_dhcp6_dad, now);
}

void RefGuest::d6_dad_timer(Instant now) noexcept {
  if (d6_.phase != Dhcp6Phase::probing && d6_.phase != Dhcp6Phase::bound) return;
  if (dad_step(d6_addr_, t_dhcp6_dad, now)) d6_.phase = Dhcp6Phase::bound;
}

}  // namespace passt::sim
