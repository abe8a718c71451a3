#include "proto/tcp_fwd.hpp"
#include "proto/fwd_rule.hpp"

#include <cstdlib>
#include <new>

#include "proto/tcp.hpp"
#include "util/check.hpp"

namespace passt::proto {

using core::FlowSide;
using core::Pif;
using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
namespace ev = ports::ev;

namespace {

constexpr int kBacklog = 128;
constexpr u32 kAutoSlots = 2u * 65536u;  // per automatic direction: IPv4, IPv6 per port
constexpr u8 kDual = 1;                  // a dual-stack socket (IPv6 slot, covers IPv4)
constexpr u8 kPaused = 2;                // watched for no events (see pause())

// accept() errors that consumed the connection they report (accept(2):
// ECONNABORTED, and the network errors Linux passes on from the new
// socket): the next connection may be fine.
bool consumed_one(Err e) noexcept {
  switch (e) {
    case Err::interrupted:
    case Err::conn_aborted:
    case Err::conn_reset:
    case Err::timed_out:
    case Err::host_unreach:
    case Err::net_unreach:
    case Err::access:  // EPERM: a firewall rule refused it
      return true;
    default: return false;
  }
}

InAny any4() noexcept { return InAny::from(Ipv4Addr::any()); }
InAny any6() noexcept { return InAny::from(Ipv6Addr::any()); }

}  // namespace

struct TcpFwd::Listener {
  Sock sock;
  u16 port = 0;
  u8 dir = 0;
  u8 flags = 0;
};

TcpFwd::TcpFwd(const core::Config& cfg, const core::NetInfo& net, ports::HostNet& host, Tcp& tcp,
               const GuestL2& guest, u32 accepts_per_event)
    : cfg_(cfg),
      net_(net),
      host_(host),
      tcp_(tcp),
      guest_(guest),
      accepts_per_event_(accepts_per_event == 0 ? 1 : accepts_per_event) {}

TcpFwd::~TcpFwd() { std::free(slots_); }

ports::Sock TcpFwd::listener(u32 slot) const noexcept {
  return slot < nslots_ ? slots_[slot].sock : Sock{};
}

u32 TcpFwd::auto_slot(Dir dir, u16 port, bool v6) const noexcept {
  return auto_base_[dir] + 2u * port + (v6 ? 1u : 0u);
}

unsigned TcpFwd::auto_bound(bool outbound, u16 port) const noexcept {
  const Dir dir = outbound ? kOut : kIn;
  if (auto_base_[dir] == ~0u) return 0;
  const Listener& l4 = slots_[auto_slot(dir, port, false)];
  const Listener& l6 = slots_[auto_slot(dir, port, true)];
  unsigned f = 0;
  if (l4.sock.valid()) f |= 1;
  if (l6.sock.valid()) f |= (l6.flags & kDual) != 0 ? 3u : 2u;
  return f;
}

// --- opening ----------------------------------------------------------------------------

Result<Sock> TcpFwd::listen_on(u32 slot, Dir dir, Family fam, const InAny& addr, bool v6only,
                               const std::string& ifname, u16 port) noexcept {
  PASST_CHECK(slot < nslots_ && !slots_[slot].sock.valid());
  auto s = host_.socket(dir == kIn ? Netns::host : Netns::guest, fam, ports::SockType::tcp);
  if (!s) return s.err();
  Status st;
  (void)host_.set_opt(*s, ports::SockOpt::reuseaddr, 1);
  if (fam == Family::v6) st = host_.set_opt(*s, ports::SockOpt::v6only, v6only ? 1 : 0);
  // --freebind is for the -t/-u sockets; a failure to set it shows as a
  // bind() failure where it matters.
  if (st && dir == kIn && cfg_.freebind) (void)host_.set_opt(*s, ports::SockOpt::freebind, 1);
  if (st && !ifname.empty()) st = host_.bind_to_device(*s, ifname);
  if (st) st = host_.bind(*s, SockAddr{addr, port, 0});
  if (st) st = host_.listen(*s, kBacklog);
  if (st) st = host_.watch(*s, ev::in, core::EpollRef{core::RefType::tcp_listen, slot}.pack());
  if (!st) {
    host_.close(*s);
    return st.err();
  }
  Listener& l = slots_[slot];
  l.sock = *s;
  l.port = port;
  l.dir = dir;
  l.flags = (fam == Family::v6 && !v6only && addr.is_unspecified()) ? kDual : 0;
  stats_.listeners++;
  return *s;
}

// An inbound port on any address: one dual-stack socket if both families
// are on, else (or if that fails) one socket per family.  Sets bit 0/1 of
// `families` for IPv4/IPv6 bound; the error is the first one.
Status TcpFwd::bind_in_any(u32 slot4, u32 slot6, const std::string& ifname, u16 port,
                           unsigned* families) noexcept {
  const bool want4 = net_.v4.enabled && (*families & 1u) == 0;
  const bool want6 = net_.v6.enabled && (*families & 2u) == 0;
  if (want4 && want6) {
    if (listen_on(slot6, kIn, Family::v6, any6(), false, ifname, port)) {
      *families |= 3u;
      return {};
    }
  }
  Err first = Err::none;
  if (want4) {
    auto s = listen_on(slot4, kIn, Family::v4, any4(), false, ifname, port);
    if (s) *families |= 1u;
    else first = s.err();
  }
  if (want6) {
    auto s = listen_on(slot6, kIn, Family::v6, any6(), true, ifname, port);
    if (s) *families |= 2u;
    else if (first == Err::none) first = s.err();
  }
  if (first == Err::none) return {};
  return first;
}

// An outbound (-T) port: 127.0.0.1 and ::1 in the namespace, each family
// that is on; failures are not errors (upstream-behaviour.md 1.7).
void TcpFwd::bind_out(u32 slot4, u32 slot6, u16 port, unsigned* families) noexcept {
  if (net_.v4.enabled && (*families & 1u) == 0) {
    auto s = listen_on(slot4, kOut, Family::v4, InAny::from(Ipv4Addr::loopback()), false, "", port);
    if (s) *families |= 1u;
    else LOG_DEBUG("TCP: can't listen on 127.0.0.1:%u in the namespace: %s", port, err_name(s.err()));
  }
  if (net_.v6.enabled && (*families & 2u) == 0) {
    auto s = listen_on(slot6, kOut, Family::v6, InAny::from(Ipv6Addr::loopback()), true, "", port);
    if (s) *families |= 2u;
    else LOG_DEBUG("TCP: can't listen on [::1]:%u in the namespace: %s", port, err_name(s.err()));
  }
}

// One -t rule (upstream conf_ports() binding part).
Status TcpFwd::open_rule(const core::PortBindRule& r) noexcept {
  FwdRuleBinding binding(r);
  for (const core::PortRun& run : r.ports) {
    for (u32 p = run.first; p <= run.last; p++) {
      const u16 port = static_cast<u16>(p);
      Status st;
      if (r.addr) {
        const bool v4 = r.addr->is_v4();
        if ((v4 && !net_.v4.enabled) || (!v4 && !net_.v6.enabled)) continue;
        auto s = listen_on(nspec_, kIn, v4 ? Family::v4 : Family::v6, *r.addr, !v4, r.ifname, port);
        if (s) nspec_++;
        else st = s.err();
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

Status TcpFwd::open_listeners(const core::FwdMaps& maps) noexcept {
  if (!net_.tcp) return {};
  const core::PortFwd& in = cfg_.fwd_in.tcp;
  const core::PortFwd& out = cfg_.fwd_out.tcp;
  const bool pasta = cfg_.mode == core::Mode::pasta;
  // Slots: two per configured port (address-bound rules use one of them).
  std::size_t spec = 0;
  if (in.mode == core::FwdMode::spec || in.mode == core::FwdMode::all)
    for (const core::PortBindRule& r : in.rules)
      for (const core::PortRun& run : r.ports) spec += 2u * (static_cast<std::size_t>(run.last) - run.first + 1u);
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
  std::free(slots_);
  slots_ = nullptr;
  nslots_ = 0;
  nspec_ = 0;
  spec_cap_ = static_cast<u32>(spec);
  if (total > 0) {
    void* p = std::calloc(total, sizeof(Listener));
    PASST_CHECK(p != nullptr);
    slots_ = static_cast<Listener*>(p);
    for (std::size_t k = 0; k < total; k++) new (&slots_[k]) Listener();
    nslots_ = static_cast<u32>(total);
  }

  if (in.mode == core::FwdMode::spec || in.mode == core::FwdMode::all) {
    for (const core::PortBindRule& r : in.rules)
      if (Status s = open_rule(r); !s) return s;
  }
  if (pasta && out.mode == core::FwdMode::spec) {
    for (u32 p = 0; p < 65536; p++) {
      if (!out.forwarded.test(static_cast<u16>(p))) continue;
      unsigned fams = 0;
      bind_out(nspec_, nspec_ + 1, static_cast<u16>(p), &fams);
      nspec_ += 2;
    }
  }
  PASST_CHECK(nspec_ <= spec_cap_);
  rebind(maps);
  return {};
}

// --- automatic directions ------------------------------------------------------------

void TcpFwd::close_slot(u32 slot) noexcept {
  Listener& l = slots_[slot];
  if (!l.sock.valid()) return;
  host_.unwatch(l.sock);
  host_.close(l.sock);
  l = Listener{};
  stats_.listeners--;
  stats_.auto_closed++;
}

void TcpFwd::rebind_dir(Dir dir, const core::PortBitmap& map, const core::PortBitmap& rev) noexcept {
  if (auto_base_[dir] == ~0u) return;
  for (u32 p = 0; p < 65536; p++) {
    const u16 port = static_cast<u16>(p);
    const u32 s4 = auto_slot(dir, port, false);
    const u32 s6 = auto_slot(dir, port, true);
    if (!map.test(port)) {
      close_slot(s4);
      close_slot(s6);
      continue;
    }
    // Never bind a port we forward the other way: it would be our own
    // (what is open stays open, as upstream).
    if (rev.test(port)) continue;
    unsigned fams = auto_bound(dir == kOut, port);
    const unsigned need = (net_.v4.enabled ? 1u : 0u) | (net_.v6.enabled ? 2u : 0u);
    if ((fams & need) == need) continue;
    const u64 before = stats_.listeners;
    if (dir == kIn)
      (void)bind_in_any(s4, s6, "", port, &fams);
    else
      bind_out(s4, s6, port, &fams);
    stats_.auto_opened += stats_.listeners - before;
    if ((fams & need) != need) {
      stats_.auto_failed++;
      LOG_DEBUG("TCP: automatic forwarding: can't bind port %u %s", port,
                dir == kIn ? "on the host" : "in the namespace");
    }
  }
}

void TcpFwd::rebind(const core::FwdMaps& maps) noexcept {
  if (!net_.tcp || nslots_ == 0) return;
  rebind_dir(kIn, maps.tcp_in, maps.tcp_out);
  rebind_dir(kOut, maps.tcp_out, maps.tcp_in);
}

// --- connections ---------------------------------------------------------------------------

void TcpFwd::listen_event(u32 slot, u32 events, Instant now) noexcept {
  if (slot >= nslots_ || (events & ev::in) == 0) return;
  const Listener& l = slots_[slot];
  if (!l.sock.valid()) return;
  for (u32 n = 0; n < accepts_per_event_; n++) {
    SockAddr peer;
    auto s = host_.accept(l.sock, &peer);
    if (!s) {
      if (s.err() == Err::again) return;
      if (!consumed_one(s.err())) return pause(slot, s.err(), now);
      LOG_DEBUG("TCP: accept on port %u: %s", l.port, err_name(s.err()));
      continue;
    }
    stats_.accepted++;
    accepted(l, *s, peer, now);
  }
}

void TcpFwd::pause(u32 slot, Err e, Instant now) noexcept {
  Listener& l = slots_[slot];
  if (pause_log_.allow(now))
    LOG_WARN("TCP: accept on port %u: %s: not accepting on it for %lld ms", l.port, err_name(e),
             static_cast<long long>(kAcceptPause.to_millis()));
  // Interest in nothing: EPOLL_CTL_MOD keeps the socket registered.
  if (!host_.watch(l.sock, 0, core::EpollRef{core::RefType::tcp_listen, slot}.pack())) return;
  l.flags |= kPaused;
  stats_.accept_paused++;
  if (resume_at_.is_never()) resume_at_ = now + kAcceptPause;
}

void TcpFwd::resume(Instant now) noexcept {
  if (resume_at_.is_never() || now < resume_at_) return;
  // Only at the descriptor limit, at most every kAcceptPause: a scan of
  // the table is cheaper to keep right than a list of paused slots.
  for (u32 slot = 0; slot < nslots_; slot++) {
    Listener& l = slots_[slot];
    if (!l.sock.valid() || (l.flags & kPaused) == 0) continue;
    l.flags &= static_cast<u8>(~kPaused);
    // If this fails the listener stays silent; it cannot be worse than
    // spinning on it, and the log says so.
    if (!host_.watch(l.sock, ev::in, core::EpollRef{core::RefType::tcp_listen, slot}.pack()))
      LOG_WARN("TCP: can't watch the listener of port %u again", l.port);
  }
  resume_at_ = Instant::never();
}

void TcpFwd::refuse(Sock s) noexcept {
  (void)host_.set_opt(s, ports::SockOpt::linger_zero, 1);
  host_.close(s);
  stats_.refused++;
}

void TcpFwd::accepted(const Listener& l, Sock s, const SockAddr& peer, Instant now) noexcept {
  auto local = host_.local_addr(s);
  const SockAddr la = local ? *local : SockAddr{peer.addr.is_v4() ? any4() : any6(), l.port, 0};
  const FlowSide ini{la.addr, peer.addr, la.port, peer.port};
  FlowSide tgt;
  if (l.dir == kOut) {
    const u16 port = cfg_.fwd_out.tcp.target(l.port);
    if (core::fwd_nat_from_splice(core::L4::tcp, ini, port, &tgt) != Pif::host) return refuse(s);
    return splice(s, Pif::splice, Pif::host, Netns::host, ini, tgt, now);
  }
  core::FwdNatOpts opts;
  opts.splice = cfg_.mode == core::Mode::pasta && !cfg_.no_splice && sink_ != nullptr;
  opts.host_lo_to_ns_lo = cfg_.host_lo_to_ns_lo;
  const core::GuestSeen seen{guest_.addr4_seen, guest_.addr6_seen, guest_.addr6_ll_seen};
  const u16 port = cfg_.fwd_in.tcp.target(l.port);
  switch (core::fwd_nat_from_host(net_, opts, core::L4::tcp, ini, port, seen, &tgt)) {
    case Pif::tap: {
      const bool v4 = tgt.eaddr.is_v4();
      if ((v4 && !net_.v4.enabled) || (!v4 && !net_.v6.enabled)) return refuse(s);
      stats_.to_tap++;
      tcp_.accept_from_host(s, ini, tgt, now);
      return;
    }
    case Pif::splice: return splice(s, Pif::host, Pif::splice, Netns::guest, ini, tgt, now);
    default: return refuse(s);
  }
}

void TcpFwd::splice(Sock s, Pif ini_pif, Pif tgt_pif, Netns ns, const FlowSide& ini,
                    const FlowSide& tgt, Instant now) noexcept {
  if (sink_ == nullptr) {
    if (refuse_log_.allow(now))
      LOG_DEBUG("TCP: no loopback data mover: refusing a connection to port %u", tgt.eport);
    return refuse(s);
  }
  SpliceRequest req;
  req.accepted = s;
  req.ini_pif = ini_pif;
  req.ini = ini;
  req.tgt_ns = ns;
  req.tgt_pif = tgt_pif;
  req.tgt = tgt;
  if (sink_->start(req, now))
    stats_.spliced++;
  else
    stats_.refused++;
}

}  // namespace passt::proto
