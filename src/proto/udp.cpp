#include "proto/udp.hpp"
#include "proto/fwd_rule.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/fwd.hpp"
#include "proto/alloc_array.hpp"
#include "util/check.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace passt::proto {

using core::Flow;
using core::FlowIdx;
using core::FlowSide;
using core::FlowSidx;
using core::Pif;
using ports::Family;
using ports::Sock;
using ports::SockAddr;
namespace ev = ports::ev;

namespace {

constexpr u32 kNone = ~0u;
// One receive slot holds any datagram (the largest UDP payload is 65527
// bytes), so recv_batch never truncates.
constexpr std::size_t kScratchSlot = 65536;
// Ethernet + IP + UDP headers in front of a payload to the guest.
constexpr std::size_t kTapHdr4 = wire::kEthHeaderLen + wire::kIpv4HeaderLen + wire::kUdpHeaderLen;
constexpr std::size_t kTapHdr6 = wire::kEthHeaderLen + wire::kIpv6HeaderLen + wire::kUdpHeaderLen;
constexpr std::size_t tap_hdr_len(bool v6) noexcept { return v6 ? kTapHdr6 : kTapHdr4; }
// Per automatic direction: IPv4, IPv6 per port.
constexpr std::size_t kAutoSlots = std::size_t{2} * 65536;

enum ListenerState : u8 { kFree = 0, kOpen = 1, kLingering = 2 };

InAny any_of(bool v4) noexcept {
  return v4 ? InAny::from(Ipv4Addr::any()) : InAny::from(Ipv6Addr::any());
}

InAny loopback_of(bool v4) noexcept {
  return v4 ? InAny::from(Ipv4Addr::loopback()) : InAny::from(Ipv6Addr::loopback());
}

Family family_of(bool v4) noexcept { return v4 ? Family::v4 : Family::v6; }

std::size_t rule_ports(const core::PortFwd& fwd) noexcept {
  std::size_t n = 0;
  for (const core::PortBindRule& r : fwd.rules)
    for (const core::PortRun& run : r.ports) n += static_cast<std::size_t>(run.last) - run.first + 1;
  return n;
}

}  // namespace

struct Udp::Listener {
  Sock sock;
  InAny addr;      // as bound (unspecified: any address)
  u32 refs = 0;    // flows borrowing the socket
  u16 port = 0;
  Pif pif = Pif::none;  // host (-u) or splice (-U)
  u8 state = kFree;
  u8 dual = 0;     // a dual-stack socket (IPv6 slot, covers IPv4)
  u8 tap_hdr = 0;  // header length of its last datagram to the guest, 0: not to the guest
  u32 rx_len = 0;  // largest datagram of its last read (0: none yet)
};

struct Udp::Pending {
  Bytes payload;
  u32 next = kNone;
};

struct Udp::Group {
  u32 flow = 0;
  u8 side = 0;  // the flow's tap side
  u32 head = kNone;
  u32 tail = kNone;
  u32 count = 0;
};

Udp::Udp(const core::Config& cfg, const core::NetInfo& net, ports::HostNet& host, TapOut& out,
         GuestL2& guest, core::FlowTable& flows, core::DeadlineHeap& timers, FlowReaper& reaper,
         const UdpOptions& opt)
    : cfg_(cfg),
      net_(net),
      host_(host),
      out_(out),
      guest_(guest),
      flows_(flows),
      timers_(timers),
      reaper_(reaper),
      opt_(opt) {
  if (opt_.recv_batch == 0) opt_.recv_batch = 1;
  if (opt_.max_batch_dgrams == 0) opt_.max_batch_dgrams = 1;
  if (opt_.max_batch_flows == 0) opt_.max_batch_flows = 1;
  // calloc: pages of the scratch area are touched only when datagrams use them.
  scratch_ = static_cast<u8*>(std::calloc(opt_.recv_batch, kScratchSlot));
  PASST_CHECK(scratch_ != nullptr);
  rslots_ = alloc_array<ports::RecvSlot>(opt_.recv_batch);
  slot_flow_ = alloc_array<u32>(opt_.recv_batch);
  tap_bufs_ = alloc_array<MutBytes>(opt_.recv_batch);
  frame_lens_ = alloc_array<std::size_t>(opt_.recv_batch);
  pend_ = alloc_array<Pending>(opt_.max_batch_dgrams);
  groups_ = alloc_array<Group>(opt_.max_batch_flows);
  nmsgs_cap_ = opt_.max_batch_dgrams > opt_.recv_batch ? opt_.max_batch_dgrams : opt_.recv_batch;
  msgs_ = alloc_array<ports::SendSlot>(nmsgs_cap_);
  iov_ = alloc_array<Bytes>(nmsgs_cap_);
}

Udp::~Udp() {
  std::free(slots_);
  std::free(scratch_);
  std::free(rslots_);
  std::free(slot_flow_);
  std::free(tap_bufs_);
  std::free(frame_lens_);
  std::free(pend_);
  std::free(groups_);
  std::free(msgs_);
  std::free(iov_);
}

// --- listeners ------------------------------------------------------------------

Sock Udp::listener_sock(u32 slot) const noexcept {
  return slot < nslots_ && slots_[slot].state == kOpen ? slots_[slot].sock : Sock{};
}

u32 Udp::lingering_listeners() const noexcept {
  u32 n = 0;
  for (u32 i = 0; i < nslots_; i++) n += slots_[i].state == kLingering ? 1u : 0u;
  return n;
}

u32 Udp::auto_slot(Dir dir, u16 port, bool v6) const noexcept {
  return auto_base_[dir] + 2u * port + (v6 ? 1u : 0u);
}

unsigned Udp::auto_bound(bool outbound, u16 port) const noexcept {
  const Dir dir = outbound ? kOut : kIn;
  if (auto_base_[dir] == ~0u) return 0;
  const Listener& l4 = slots_[auto_slot(dir, port, false)];
  const Listener& l6 = slots_[auto_slot(dir, port, true)];
  unsigned f = 0;
  if (l4.state == kOpen) f |= 1;
  if (l6.state == kOpen) f |= l6.dual != 0 ? 3u : 2u;
  return f;
}

Result<Sock> Udp::listen_on(u32 slot, Dir dir, Family fam, const InAny& addr, bool v6only,
                            const std::string& ifname, u16 port) noexcept {
  PASST_CHECK(slot < nslots_ && slots_[slot].state == kFree);
  auto s = host_.socket(dir == kIn ? ports::Netns::host : ports::Netns::guest, fam, ports::SockType::udp);
  if (!s) return s.err();
  Status st;
  (void)host_.set_opt(*s, ports::SockOpt::reuseaddr, 1);
  (void)host_.set_opt(*s, ports::SockOpt::recverr, 1);
  size_buffers(*s);
  if (fam == Family::v6) st = host_.set_opt(*s, ports::SockOpt::v6only, v6only ? 1 : 0);
  // --freebind is for the -t/-u sockets; a failure to set it shows as a
  // bind() failure where it matters.
  if (st && dir == kIn && cfg_.freebind) (void)host_.set_opt(*s, ports::SockOpt::freebind, 1);
  if (st && !ifname.empty()) st = host_.bind_to_device(*s, ifname);
  if (st) st = host_.bind(*s, SockAddr{addr, port, 0});
  if (st) st = host_.watch(*s, ev::in, core::EpollRef{core::RefType::udp_listen, slot}.pack());
  if (!st) {
    host_.close(*s);
    return st.err();
  }
  Listener& l = slots_[slot];
  l = Listener{};
  l.sock = *s;
  l.addr = addr;
  l.port = port;
  l.pif = dir == kIn ? Pif::host : Pif::splice;
  l.state = kOpen;
  l.dual = (fam == Family::v6 && !v6only && addr.is_unspecified()) ? 1 : 0;
  // -u: most senders reach the guest; a first guess, corrected by traffic.
  if (dir == kIn) l.tap_hdr = static_cast<u8>(tap_hdr_len(fam == Family::v6 && l.dual == 0));
  nopen_++;
  stats_.listeners = nopen_;
  return *s;
}

// An inbound port on any address: one dual-stack socket if both families
// are on, else (or if that fails) one socket per family.  Sets bit 0/1 of
// `families` for IPv4/IPv6 bound; the error is the first one.
Status Udp::bind_in_any(u32 slot4, u32 slot6, const std::string& ifname, u16 port,
                        unsigned* families) noexcept {
  const bool want4 = net_.v4.enabled && (*families & 1u) == 0 && slots_[slot4].state == kFree;
  const bool want6 = net_.v6.enabled && (*families & 2u) == 0 && slots_[slot6].state == kFree;
  if (want4 && want6) {
    if (listen_on(slot6, kIn, Family::v6, any_of(false), false, ifname, port)) {
      *families |= 3u;
      return {};
    }
  }
  Err first = Err::none;
  if (want4) {
    auto s = listen_on(slot4, kIn, Family::v4, any_of(true), false, ifname, port);
    if (s)
      *families |= 1u;
    else
      first = s.err();
  }
  if (want6) {
    auto s = listen_on(slot6, kIn, Family::v6, any_of(false), true, ifname, port);
    if (s)
      *families |= 2u;
    else if (first == Err::none)
      first = s.err();
  }
  if (first == Err::none) return {};
  return first;
}

// An outbound (-U) port: 127.0.0.1 and ::1 in the namespace, each family
// that is on; failures are not errors (upstream-behaviour.md 1.7).
void Udp::bind_out(u32 slot4, u32 slot6, u16 port, unsigned* families) noexcept {
  if (net_.v4.enabled && (*families & 1u) == 0 && slots_[slot4].state == kFree) {
    auto s = listen_on(slot4, kOut, Family::v4, loopback_of(true), false, "", port);
    if (s)
      *families |= 1u;
    else
      LOG_DEBUG("UDP: can't bind 127.0.0.1:%u in the namespace: %s", port, err_name(s.err()));
  }
  if (net_.v6.enabled && (*families & 2u) == 0 && slots_[slot6].state == kFree) {
    auto s = listen_on(slot6, kOut, Family::v6, loopback_of(false), true, "", port);
    if (s)
      *families |= 2u;
    else
      LOG_DEBUG("UDP: can't bind [::1]:%u in the namespace: %s", port, err_name(s.err()));
  }
}

// One -u rule (upstream conf_ports() binding part), as TCP's.
Status Udp::open_rule(const core::PortBindRule& r) noexcept {
  FwdRuleBinding binding(r);
  for (const core::PortRun& run : r.ports) {
    for (u32 p = run.first; p <= run.last; p++) {
      const u16 port = static_cast<u16>(p);
      Status st;
      if (r.addr) {
        const bool v4 = r.addr->is_v4();
        if ((v4 && !net_.v4.enabled) || (!v4 && !net_.v6.enabled)) continue;
        auto s = listen_on(nspec_, kIn, family_of(v4), *r.addr, !v4, r.ifname, port);
        if (s)
          nspec_++;
        else
          st = s.err();
      } else if (net_.v4.enabled || net_.v6.enabled) {
        unsigned fams = 0;
        st = bind_in_any(nspec_, nspec_ + 1, r.ifname, port, &fams);
        nspec_ += 2;  // keep the pair, used or not: simple and bounded
        if (fams != 0) st = Status{};  // either family is enough (upstream)
      } else {
        continue;
      }
      if (const Err e = binding.port_done(port, st); e != Err::none) return e;
    }
  }
  return binding.finish();
}

Status Udp::open_listeners(const core::FwdMaps& maps) noexcept {
  if (!net_.udp) return {};
  const core::PortFwd& in = cfg_.fwd_in.udp;
  const core::PortFwd& out = cfg_.fwd_out.udp;
  const bool pasta = cfg_.mode == core::Mode::pasta;
  // Slots: two per configured port (address-bound rules use one of them),
  // then two per port of each automatic direction.
  std::size_t spec = 0;
  if (in.mode == core::FwdMode::spec || in.mode == core::FwdMode::all) spec += 2 * rule_ports(in);
  if (pasta && out.mode == core::FwdMode::spec) spec += 2u * out.forwarded.count();
  std::size_t total = spec;
  if (in.mode == core::FwdMode::automatic) {
    auto_base_[kIn] = static_cast<u32>(total);
    total += kAutoSlots;
  }
  if (pasta && out.mode == core::FwdMode::automatic) {
    auto_base_[kOut] = static_cast<u32>(total);
    total += kAutoSlots;
  }
  PASST_CHECK(slots_ == nullptr);
  if (total > 0) {
    slots_ = alloc_array<Listener>(total);
    nslots_ = static_cast<u32>(total);
  }
  if (in.mode == core::FwdMode::spec || in.mode == core::FwdMode::all)
    for (const core::PortBindRule& r : in.rules)
      if (Status st = open_rule(r); !st) return st;
  if (pasta && out.mode == core::FwdMode::spec) {
    for (u32 p = 0; p < 65536; p++) {
      if (!out.forwarded.test(static_cast<u16>(p))) continue;
      unsigned fams = 0;
      bind_out(nspec_, nspec_ + 1, static_cast<u16>(p), &fams);
      nspec_ += 2;
    }
  }
  PASST_CHECK(nspec_ <= spec);
  rebind(maps);
  return {};
}

// --- automatic directions ------------------------------------------------------------

void Udp::close_slot(u32 slot) noexcept {
  Listener& l = slots_[slot];
  if (l.state != kOpen) return;
  host_.unwatch(l.sock);
  nopen_--;
  stats_.listeners = nopen_;
  stats_.auto_closed++;
  if (l.refs > 0) {
    l.state = kLingering;  // its flows still answer through it
    return;
  }
  host_.close(l.sock);
  l = Listener{};
}

void Udp::reopen_slot(u32 slot) noexcept {
  Listener& l = slots_[slot];
  if (l.state != kLingering) return;
  if (!host_.watch(l.sock, ev::in, core::EpollRef{core::RefType::udp_listen, slot}.pack())) return;
  l.state = kOpen;
  nopen_++;
  stats_.listeners = nopen_;
  stats_.auto_opened++;
}

void Udp::unref_listener(u32 slot) noexcept {
  if (slot >= nslots_) return;
  Listener& l = slots_[slot];
  PASST_CHECK(l.refs > 0);
  l.refs--;
  if (l.refs == 0 && l.state == kLingering) {
    host_.close(l.sock);
    l = Listener{};
  }
}

void Udp::rebind_dir(Dir dir, const core::PortBitmap& map, const core::PortBitmap& rev) noexcept {
  if (auto_base_[dir] == ~0u) return;
  const unsigned need = (net_.v4.enabled ? 1u : 0u) | (net_.v6.enabled ? 2u : 0u);
  for (u32 p = 0; p < 65536; p++) {
    const u16 port = static_cast<u16>(p);
    const u32 s4 = auto_slot(dir, port, false);
    const u32 s6 = auto_slot(dir, port, true);
    if (!map.test(port)) {
      close_slot(s4);
      close_slot(s6);
      continue;
    }
    // Never bind a port we forward the other way: it would be our own.
    if (rev.test(port)) continue;
    reopen_slot(s4);
    reopen_slot(s6);
    unsigned fams = auto_bound(dir == kOut, port);
    if ((fams & need) == need) continue;
    const u64 before = nopen_;
    if (dir == kIn)
      (void)bind_in_any(s4, s6, "", port, &fams);
    else
      bind_out(s4, s6, port, &fams);
    stats_.auto_opened += nopen_ - before;
    if ((fams & need) != need) {
      stats_.auto_failed++;
      LOG_DEBUG("UDP: automatic forwarding: can't bind port %u %s", port,
                dir == kIn ? "on the host" : "in the namespace");
    }
  }
}

void Udp::rebind(const core::FwdMaps& maps) noexcept {
  if (!net_.udp || nslots_ == 0) return;
  rebind_dir(kIn, maps.udp_in, maps.udp_out);
  rebind_dir(kOut, maps.udp_out, maps.udp_in);
}

InAny Udp::listener_oaddr(u32 li, const InAny& peer) const noexcept {
  const Listener& l = slots_[li];
  // A socket bound to any address does not tell which one a datagram was
  // sent to: "any" of the peer's family stands for it (upstream does the
  // same), so lookups and new flows agree.
  if (l.addr.is_unspecified()) return any_of(peer.is_v4());
  return l.addr;
}

core::FlowKey Udp::listener_key(u32 li, const SockAddr& peer) const noexcept {
  const Listener& l = slots_[li];
  return core::FlowKey{core::L4::udp, l.pif, peer.addr, listener_oaddr(li, peer.addr), peer.port, l.port};
}

// --- flows ---------------------------------------------------------------------------

Result<Sock> Udp::flow_socket(ports::Netns ns, Family fam, const SockAddr& bind_to,
                              std::string_view ifname, const SockAddr& connect_to,
                              FlowSidx ref) noexcept {
  auto s = host_.socket(ns, fam, ports::SockType::udp);
  if (!s) return s.err();
  Status st;
  // Several flows may share a local port (one guest port, many peers).
  (void)host_.set_opt(*s, ports::SockOpt::reuseaddr, 1);
  (void)host_.set_opt(*s, ports::SockOpt::recverr, 1);
  size_buffers(*s);
  if (fam == Family::v6) st = host_.set_opt(*s, ports::SockOpt::v6only, 1);
  if (st && !ifname.empty()) st = host_.bind_to_device(*s, ifname);
  if (st) st = host_.bind(*s, bind_to);
  if (st) st = host_.connect(*s, connect_to);
  if (st) st = host_.watch(*s, ev::in, core::EpollRef::flow(core::RefType::udp_reply, ref).pack());
  if (!st) {
    host_.close(*s);
    return st.err();
  }
  return *s;
}

FlowSidx Udp::tap_new(const wire::Frame& fr, Instant now) noexcept {
  const bool v4 = fr.l3 == wire::L3::ipv4;
  const InAny& src = fr.src;
  const InAny& dst = fr.dst;
  auto bad_v4 = [&](const InAny& a) noexcept {
    if (!a.is_v4()) return false;
    const Ipv4Addr x = a.v4();
    if (x.is_broadcast()) return true;
    // The directed broadcast of the guest's subnet.
    const unsigned len = net_.v4.prefix_len;
    if (len > 0 && len < 31 && x.in_subnet(net_.v4.addr, len)) {
      const u32 host_mask = 0xffffffffu >> len;
      if ((x.to_u32() & host_mask) == host_mask) return true;
    }
    return false;
  };
  // Replies could never come back to a multicast or broadcast destination
  // over a connected socket, and a flow needs both ports.
  if (src.is_unspecified() || src.is_multicast() || bad_v4(src) || dst.is_unspecified() ||
      dst.is_multicast() || bad_v4(dst) || fr.src_port == 0 || fr.dst_port == 0) {
    stats_.dropped_invalid++;
    return FlowSidx{};
  }
  auto fi = flows_.alloc(core::L4::udp);
  if (!fi) {
    stats_.table_full++;
    if (full_warn_.allow(now)) LOG_WARN("UDP: flow table full, dropping datagrams");
    return FlowSidx{};
  }
  const FlowIdx i = *fi;
  flows_.set_ini(i, Pif::tap, FlowSide{dst, src, fr.dst_port, fr.src_port});
  const InAny target = core::fwd_nat_from_tap(net_, core::L4::udp, dst, fr.dst_port);
  const bool tv4 = target.is_v4();
  InAny bind_addr = any_of(tv4);
  std::string_view ifname;
  if (tv4) {
    if (net_.v4.outbound) bind_addr = InAny::from(*net_.v4.outbound);
    ifname = net_.v4.outbound_if;
  } else {
    if (net_.v6.outbound) bind_addr = InAny::from(*net_.v6.outbound);
    ifname = net_.v6.outbound_if;
  }
  // UDP keeps the guest's source port on the host side.
  auto s = flow_socket(ports::Netns::host, family_of(tv4), SockAddr{bind_addr, fr.src_port, 0}, ifname,
                       SockAddr{target, fr.dst_port, 0}, FlowSidx{i.v, core::kTgtSide});
  if (!s) {
    LOG_DEBUG("UDP: no socket for guest port %u to %s:%u: %s", fr.src_port, to_text(target).c_str(),
              fr.dst_port, err_name(s.err()));
    flows_.cancel(i);
    stats_.dropped_sock++;
    return FlowSidx{};
  }
  flows_.set_tgt(i, Pif::host, FlowSide{bind_addr, target, fr.src_port, fr.dst_port});
  UdpFlow& u = flows_.set_type<UdpFlow>(i, core::FlowType::udp);
  flows_.activate(i);
  u.sock[core::kTgtSide] = *s;
  u.ts = now;
  u.fam6 = v4 ? 0 : 1;
  timers_.set(i.v, now + opt_.idle_timeout);
  stats_.flows_from_tap++;
  LOG_DEBUG("UDP flow %u: guest port %u to %s:%u", i.v, fr.src_port, to_text(target).c_str(), fr.dst_port);
  return FlowSidx{i.v, core::kIniSide};
}

FlowSidx Udp::sock_new(u32 li, const SockAddr& peer, Instant now) noexcept {
  Listener& l = slots_[li];
  const bool v4 = peer.addr.is_v4();
  if ((v4 && !net_.v4.enabled) || (!v4 && !net_.v6.enabled) || peer.port == 0 ||
      peer.addr.is_unspecified() || peer.addr.is_multicast()) {
    stats_.dropped_invalid++;
    return FlowSidx{};
  }
  const FlowSide ini{listener_oaddr(li, peer.addr), peer.addr, l.port, peer.port};
  FlowSide tgt;
  Pif tpif = Pif::none;
  if (l.pif == Pif::host) {
    core::FwdNatOpts opts;
    opts.splice = cfg_.mode == core::Mode::pasta && !cfg_.no_splice;
    opts.host_lo_to_ns_lo = cfg_.host_lo_to_ns_lo;
    const core::GuestSeen seen{guest_.addr4_seen, guest_.addr6_seen, guest_.addr6_ll_seen};
    tpif = core::fwd_nat_from_host(net_, opts, core::L4::udp, ini, cfg_.fwd_in.udp.target(l.port), seen, &tgt);
    // The namespace without an address of that family: its loopback.
    if (tpif == Pif::splice && (tgt.eaddr.is_unspecified() || tgt.eaddr.is_v4() != v4))
      tgt.eaddr = loopback_of(v4);
    // Another flow already owns this tuple on the guest's side (it would
    // have taken the datagram on its own socket): leave it alone.
    if (tpif == Pif::tap &&
        flows_.lookup(core::FlowKey{core::L4::udp, Pif::tap, tgt.eaddr, tgt.oaddr, tgt.eport, tgt.oport}).valid())
      tpif = Pif::none;
  } else {
    // -U: from the namespace's loopback to the host's, keeping the source
    // address and port.
    tpif = core::fwd_nat_from_splice(core::L4::udp, ini, cfg_.fwd_out.udp.target(l.port), &tgt);
  }
  if (tpif == Pif::none) {
    stats_.dropped_invalid++;
    return FlowSidx{};
  }
  const ports::Netns tns = tpif == Pif::splice ? ports::Netns::guest : ports::Netns::host;

  auto fi = flows_.alloc(core::L4::udp);
  if (!fi) {
    stats_.table_full++;
    if (full_warn_.allow(now)) LOG_WARN("UDP: flow table full, dropping datagrams");
    return FlowSidx{};
  }
  const FlowIdx i = *fi;
  flows_.set_ini(i, l.pif, ini);
  Sock ts;
  if (tpif != Pif::tap) {
    auto s = flow_socket(tns, family_of(v4), SockAddr{tgt.oaddr, tgt.oport, 0}, "",
                         SockAddr{tgt.eaddr, tgt.eport, 0}, FlowSidx{i.v, core::kTgtSide});
    if (!s) {
      LOG_DEBUG("UDP: no socket from %s:%u to %s:%u: %s", to_text(tgt.oaddr).c_str(), tgt.oport,
                to_text(tgt.eaddr).c_str(), tgt.eport, err_name(s.err()));
      flows_.cancel(i);
      stats_.dropped_sock++;
      return FlowSidx{};
    }
    ts = *s;
  }
  flows_.set_tgt(i, tpif, tgt);
  UdpFlow& u = flows_.set_type<UdpFlow>(i, core::FlowType::udp);
  flows_.activate(i);
  u.sock[core::kIniSide] = l.sock;
  u.listener[core::kIniSide] = li;
  u.scope[core::kIniSide] = peer.scope_id;
  u.sock[core::kTgtSide] = ts;
  u.ts = now;
  u.fam6 = v4 ? 0 : 1;
  l.refs++;
  timers_.set(i.v, now + opt_.idle_timeout);
  stats_.flows_from_sock++;
  if (tpif != Pif::tap) stats_.flows_spliced++;
  LOG_DEBUG("UDP flow %u: %s:%u on %s port %u, to %s %s:%u", i.v, to_text(peer.addr).c_str(), peer.port,
            core::pif_name(l.pif), l.port, core::pif_name(tpif), to_text(tgt.eaddr).c_str(), tgt.eport);
  return FlowSidx{i.v, core::kIniSide};
}

void Udp::close_flow(FlowIdx i, Flow& f) noexcept {
  UdpFlow& u = f.as<UdpFlow>();
  for (unsigned side = 0; side < 2; side++) {
    if (!u.sock[side].valid()) continue;
    if (u.borrowed(side)) {
      unref_listener(u.listener[side]);
      u.listener[side] = kNone;
    } else {
      host_.unwatch(u.sock[side]);
      host_.close(u.sock[side]);
    }
    u.sock[side] = Sock{};
  }
  timers_.clear(i.v);
  reaper_.defer(i, f);
}

void Udp::timer(FlowIdx i, Instant now) noexcept {
  Flow& f = flows_.at(i);
  if (udp_flow_of(f) == nullptr || f.closing != 0) {
    timers_.clear(i.v);
    return;
  }
  const Instant deadline = f.as<UdpFlow>().ts + opt_.idle_timeout;
  if (now < deadline) {
    timers_.set(i.v, deadline);  // traffic since the deadline was set
    return;
  }
  stats_.flows_expired++;
  LOG_DEBUG("UDP flow %u: idle, expired", i.v);
  close_flow(i, f);
}

// --- data ------------------------------------------------------------------------------

std::size_t Udp::max_l3() const noexcept {
  return net_.mtu != 0 && net_.mtu < 65535 ? net_.mtu : 65535;
}

std::size_t Udp::frame_cap(bool any_size) const noexcept {
  // Room for the largest datagram the MTU allows behind either header
  // length, plus one byte: a longer datagram shows as one (too big).  A
  // read whose datagrams may also go socket to socket (a -u listener in
  // pasta) must not truncate those: room for any datagram.
  return wire::kEthHeaderLen + (any_size ? 65535 : max_l3()) + (kTapHdr6 - kTapHdr4) + 1;
}

void Udp::size_buffers(Sock s) noexcept {
  if (opt_.sock_buf <= 0) return;
  (void)host_.set_opt(s, ports::SockOpt::rcvbuf, opt_.sock_buf);
  (void)host_.set_opt(s, ports::SockOpt::sndbuf, opt_.sock_buf);
}

std::size_t Udp::write_frame(const Flow& f, unsigned tap_side, MutBytes b, std::size_t plen) noexcept {
  const FlowSide& s = f.side[tap_side];
  const bool v6 = !s.eaddr.is_v4();
  const std::size_t hdr = tap_hdr_len(v6);
  const std::size_t ip_len = hdr - wire::kEthHeaderLen - wire::kUdpHeaderLen;
  const std::size_t l3_len = ip_len + wire::kUdpHeaderLen + plen;
  if (l3_len > max_l3() || hdr + plen > b.size()) {
    stats_.dropped_too_big++;
    return 0;
  }
  const std::size_t len = hdr + plen;
  b = b.first(len);
  const std::size_t l4 = wire::kEthHeaderLen + ip_len;
  wire::EthernetRepr eth{guest_.mac, net_.our_mac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(b);
  wire::UdpRepr u;
  u.src_port = s.oport;
  u.dst_port = s.eport;
  u.payload_len = plen;
  const u16 l4len = static_cast<u16>(u.length());
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = s.oaddr.v4();
    ip.dst = s.eaddr.v4();
    ip.protocol = wire::ipproto::udp;
    ip.ttl = 255;
    ip.payload_len = l4len;
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    if (opt_.ipv4_checksum)
      (void)u.emit(b.subspan(l4), ip.src, ip.dst);
    else
      (void)u.emit(b.subspan(l4));
  } else {
    wire::Ipv6Repr ip;
    ip.src = s.oaddr.v6();
    ip.dst = s.eaddr.v6();
    ip.next_header = wire::ipproto::udp;
    ip.hop_limit = 255;
    ip.payload_len = l4len;
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    if (out_.l4_csum_offload())
      (void)u.emit(b.subspan(l4));  // checksum 0: the tap completes it (proto/tap_out.hpp)
    else
      (void)u.emit(b.subspan(l4), ip.src, ip.dst);
  }
  stats_.dgrams_to_tap++;
  stats_.bytes_to_tap += plen;
  return len;
}

void Udp::to_tap(const Flow& f, unsigned tap_side, Bytes payload) noexcept {
  const std::size_t hdr = tap_hdr_len(!f.side[tap_side].eaddr.is_v4());
  const std::size_t len = hdr + payload.size();
  if (len > wire::kEthHeaderLen + max_l3()) {
    stats_.dropped_too_big++;
    return;
  }
  MutBytes b = out_.reserve(len);
  if (b.size() < len) {
    out_.abandon();
    stats_.dropped_too_big++;
    return;
  }
  if (!payload.empty()) std::memcpy(b.data() + hdr, payload.data(), payload.size());
  if (write_frame(f, tap_side, b, payload.size()) == 0) {
    out_.abandon();
    return;
  }
  out_.commit(len);
}

std::size_t Udp::frame_in_place(const Flow& f, unsigned tap_side, u32 k) noexcept {
  const std::size_t hdr = tap_hdr_len(!f.side[tap_side].eaddr.is_v4());
  const MutBytes frame = tap_bufs_[k];
  const std::size_t plen = rslots_[k].len;
  if (hdr != recv_hdr_) {
    // The other family's header length: move the payload (rare: the guess
    // follows the traffic).
    if (hdr + plen > frame.size()) {
      stats_.dropped_too_big++;
      return 0;
    }
    if (plen > 0) std::memmove(frame.data() + hdr, frame.data() + recv_hdr_, plen);
  }
  return write_frame(f, tap_side, frame, plen);
}

u32 Udp::recv_count(u32 last_len) const noexcept {
  if (opt_.recv_bytes == 0 || last_len == 0) return opt_.recv_batch;
  return std::clamp(opt_.recv_bytes / last_len, u32{1}, opt_.recv_batch);
}

u32 Udp::largest_received(u32 n) const noexcept {
  std::size_t m = 0;
  for (u32 k = 0; k < n; k++)
    if (rslots_[k].len > m) m = rslots_[k].len;
  // An empty datagram still costs a slot: count it as one byte.
  return m == 0 ? 1 : static_cast<u32>(m);
}

u32 Udp::prepare_recv(std::size_t hdr, bool any_size, u32 count) noexcept {
  recv_hdr_ = 0;
  if (hdr != 0 && out_.connected()) {
    const std::size_t n = out_.reserve_many(frame_cap(any_size), std::span<MutBytes>(tap_bufs_, count));
    if (n > 0) {
      for (std::size_t k = 0; k < n; k++) {
        rslots_[k] = ports::RecvSlot{tap_bufs_[k].subspan(hdr), 0, {}};
        frame_lens_[k] = 0;
      }
      recv_hdr_ = hdr;
      return static_cast<u32>(n);
    }
  }
  for (u32 k = 0; k < count; k++)
    rslots_[k] = ports::RecvSlot{MutBytes(scratch_ + static_cast<std::size_t>(k) * kScratchSlot, kScratchSlot), 0, {}};
  return count;
}

void Udp::finish_recv(u32 n) noexcept {
  if (recv_hdr_ == 0) return;
  recv_hdr_ = 0;
  // Frames of datagrams that did not go to the guest have length 0: skipped.
  out_.commit_many(std::span<const std::size_t>(frame_lens_, n), {});
}

void Udp::send_all(Sock s, std::span<ports::SendSlot> msgs, u64* ok, u64* bytes) noexcept {
  std::size_t done = 0;
  // Each round sends at least one message or skips it: bounded by the count.
  while (done < msgs.size()) {
    auto r = host_.send_batch(s, msgs.subspan(done));
    if (r) {
      if (*r == 0) break;
      if (bytes != nullptr)
        for (std::size_t k = done; k < done + *r; k++)
          for (Bytes b : msgs[k].iov) *bytes += b.size();
      done += *r;
      *ok += *r;
      continue;
    }
    if (r.err() == Err::again || r.err() == Err::no_buffers) break;
    // An error for this message (typically ECONNREFUSED left by an earlier
    // ICMP port unreachable): it is lost, the next ones may go.
    LOG_DEBUG("UDP: send: %s", err_name(r.err()));
    stats_.dropped_send++;
    done++;
  }
  stats_.dropped_send += msgs.size() - done;
}

void Udp::forward(Flow& f, unsigned from, u32 first, u32 n, Instant now) noexcept {
  UdpFlow& u = f.as<UdpFlow>();
  const unsigned to = 1 - from;
  u.ts = now;
  if (f.pif[to] == Pif::tap) {
    if (recv_hdr_ != 0)
      for (u32 k = first; k < first + n; k++) frame_lens_[k] = frame_in_place(f, to, k);
    else
      for (u32 k = first; k < first + n; k++) to_tap(f, to, Bytes(rslots_[k].buf.data(), rslots_[k].len));
    return;
  }
  if (!u.sock[to].valid()) return;
  const SockAddr dst{f.side[to].eaddr, f.side[to].eport, u.scope[to]};
  const SockAddr* dst_ptr = u.borrowed(to) ? &dst : nullptr;
  u32 m = 0;
  for (u32 k = first; k < first + n && m < nmsgs_cap_; k++, m++) {
    iov_[m] = Bytes(rslots_[k].buf.data(), rslots_[k].len);
    msgs_[m] = ports::SendSlot{std::span<const Bytes>(&iov_[m], 1), dst_ptr};
  }
  send_all(u.sock[to], std::span<ports::SendSlot>(msgs_, m), &stats_.dgrams_spliced, nullptr);
}

void Udp::tap_datagram(const wire::Frame& fr, Instant now) noexcept {
  const core::FlowKey k{core::L4::udp, Pif::tap, fr.src, fr.dst, fr.src_port, fr.dst_port};
  FlowSidx s = flows_.lookup(k);
  if (!s.valid()) {
    s = tap_new(fr, now);
    if (!s.valid()) return;
  }
  const Flow& f = flows_.at(s.idx());
  if (udp_flow_of(f) == nullptr || f.pif[s.side] != Pif::tap) return;
  if (f.closing != 0) {
    stats_.dropped_closing++;
    return;
  }
  if (npend_ == opt_.max_batch_dgrams) tap_batch_end(now);
  u32 g = kNone;
  if (last_group_ < ngroups_ && groups_[last_group_].flow == s.flow) {
    g = last_group_;
  } else {
    for (u32 n = 0; n < ngroups_ && g == kNone; n++)
      if (groups_[n].flow == s.flow) g = n;
    if (g == kNone) {
      if (ngroups_ == opt_.max_batch_flows) tap_batch_end(now);
      g = ngroups_++;
      groups_[g] = Group{s.flow, s.side, kNone, kNone, 0};
    }
  }
  last_group_ = g;
  const u32 pi = npend_++;
  pend_[pi] = Pending{fr.payload, kNone};
  Group& gr = groups_[g];
  if (gr.tail == kNone)
    gr.head = pi;
  else
    pend_[gr.tail].next = pi;
  gr.tail = pi;
  gr.count++;
}

void Udp::process_group(const Group& g, Instant now) noexcept {
  Flow& f = flows_.at(FlowIdx{g.flow});
  if (udp_flow_of(f) == nullptr || f.closing != 0) {
    stats_.dropped_closing += g.count;
    return;
  }
  UdpFlow& u = f.as<UdpFlow>();
  const unsigned to = 1u - g.side;
  if (f.pif[to] == Pif::tap || !u.sock[to].valid()) return;
  u.ts = now;
  const SockAddr dst{f.side[to].eaddr, f.side[to].eport, u.scope[to]};
  const SockAddr* dst_ptr = u.borrowed(to) ? &dst : nullptr;
  u32 m = 0;
  for (u32 p = g.head; p != kNone && m < nmsgs_cap_; p = pend_[p].next, m++) {
    iov_[m] = pend_[p].payload;
    msgs_[m] = ports::SendSlot{std::span<const Bytes>(&iov_[m], 1), dst_ptr};
  }
  send_all(u.sock[to], std::span<ports::SendSlot>(msgs_, m), &stats_.dgrams_from_tap,
           &stats_.bytes_from_tap);
}

void Udp::tap_batch_end(Instant now) noexcept {
  for (u32 g = 0; g < ngroups_; g++) process_group(groups_[g], now);
  npend_ = 0;
  ngroups_ = 0;
  last_group_ = kNone;
}

void Udp::sock_event(FlowSidx s, u32 events, Instant now) noexcept {
  if (s.flow >= flows_.capacity()) return;
  Flow& f = flows_.at(s.idx());
  if (udp_flow_of(f) == nullptr || f.closing != 0) return;
  UdpFlow& u = f.as<UdpFlow>();
  const Sock sock = u.sock[s.side];
  if (!sock.valid() || u.borrowed(s.side)) return;
  if ((events & ev::err) != 0) {
    const Err e = host_.take_error(sock);
    if (e != Err::none) {
      stats_.sock_errors++;
      LOG_DEBUG("UDP flow %u: socket error %s", s.flow, err_name(e));
    }
  }
  if ((events & ev::in) == 0) return;
  // To the guest: straight into the frames (no copy).
  const unsigned to = 1u - s.side;
  const u32 nslots = prepare_recv(f.pif[to] == Pif::tap ? tap_hdr_len(!f.side[to].eaddr.is_v4()) : 0, false,
                                  recv_count(u.rx_len[s.side]));
  auto r = host_.recv_batch(sock, std::span<ports::RecvSlot>(rslots_, nslots));
  if (!r) {
    finish_recv(0);
    if (r.err() != Err::again) {
      stats_.sock_errors++;
      LOG_DEBUG("UDP flow %u: receive: %s", s.flow, err_name(r.err()));
    }
    return;
  }
  // The socket is connected: anything else came in between its bind() and
  // connect() (upstream discards those too).
  const FlowSide& side = f.side[s.side];
  // Runs of datagrams from the peer are forwarded in place (a receive slot
  // may be a TapOut frame: no reordering).
  const u32 n = static_cast<u32>(*r);
  if (n > 0) u.rx_len[s.side] = largest_received(n);
  auto stray = [&](u32 k) noexcept {
    return rslots_[k].peer.addr != side.eaddr || rslots_[k].peer.port != side.eport;
  };
  for (u32 k = 0; k < n;) {
    if (stray(k)) {
      stats_.dropped_stray++;
      k++;
      continue;
    }
    u32 j = k + 1;
    while (j < n && !stray(j)) j++;
    forward(f, s.side, k, j - k, now);
    k = j;
  }
  finish_recv(n);
}

void Udp::listen_event(u32 li, u32 events, Instant now) noexcept {
  if (li >= nslots_ || slots_[li].state != kOpen) return;
  const Sock sock = slots_[li].sock;
  if ((events & ev::err) != 0) {
    const Err e = host_.take_error(sock);
    if (e != Err::none) {
      stats_.sock_errors++;
      LOG_DEBUG("UDP: listener on port %u: %s", slots_[li].port, err_name(e));
    }
  }
  if ((events & ev::in) == 0) return;
  // In pasta, loopback senders are spliced: their datagrams must fit whole.
  const bool splice = cfg_.mode == core::Mode::pasta && !cfg_.no_splice;
  const u32 nslots = prepare_recv(slots_[li].tap_hdr, splice, recv_count(slots_[li].rx_len));
  auto r = host_.recv_batch(sock, std::span<ports::RecvSlot>(rslots_, nslots));
  if (!r) {
    finish_recv(0);
    if (r.err() != Err::again) {
      stats_.sock_errors++;
      LOG_DEBUG("UDP: listener on port %u: receive: %s", slots_[li].port, err_name(r.err()));
    }
    return;
  }
  const u32 n = static_cast<u32>(*r);
  if (n > 0) slots_[li].rx_len = largest_received(n);
  // Classify each datagram by its sender (creating flows), then forward
  // runs of one flow together.
  for (u32 k = 0; k < n; k++) {
    slot_flow_[k] = kNone;
    FlowSidx s = flows_.lookup(listener_key(li, rslots_[k].peer));
    if (!s.valid()) s = sock_new(li, rslots_[k].peer, now);
    if (!s.valid()) continue;
    const Flow& f = flows_.at(s.idx());
    if (udp_flow_of(f) == nullptr) continue;
    if (f.closing != 0) {
      stats_.dropped_closing++;
      continue;
    }
    slot_flow_[k] = s.pack();
  }
  for (u32 k = 0; k < n;) {
    if (slot_flow_[k] == kNone) {
      k++;
      continue;
    }
    u32 j = k + 1;
    while (j < n && slot_flow_[j] == slot_flow_[k]) j++;
    const FlowSidx s = FlowSidx::unpack(slot_flow_[k]);
    const Flow& f = flows_.at(s.idx());
    const unsigned to = 1u - s.side;
    // The next read guesses this run's header length (0: not to the guest).
    slots_[li].tap_hdr = f.pif[to] == Pif::tap ? static_cast<u8>(tap_hdr_len(!f.side[to].eaddr.is_v4())) : 0;
    forward(flows_.at(s.idx()), s.side, k, j - k, now);
    k = j;
  }
  finish_recv(n);
}

}  // namespace passt::proto
