// Forwarding: the /proc/net line format round trip, the automatic maps
// (disjoint directions, stable once our own listeners show up, configured
// directions untouched), and the NAT towards the guest (never a source the
// guest could not answer).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "core/fwd.hpp"
#include "linux/procnet.hpp"
#include "proptests/gen.hpp"

namespace passt {
namespace {

// --- /proc/net lines ---------------------------------------------------------------

std::string hex(u64 v, int digits) {
  char b[40];
  std::snprintf(b, sizeof(b), "%0*llX", digits, static_cast<unsigned long long>(v));
  return b;
}

RC_GTEST_PROP(FwdProp, ProcNetLineRoundTrip, ()) {
  const bool v6 = *rc::gen::arbitrary<bool>();
  const auto slot = *rc::gen::inRange(0, 100000);
  const u16 port = *rc::gen::arbitrary<u16>();
  const u16 rport = *rc::gen::arbitrary<u16>();
  const u8 state = *rc::gen::inRange<u8>(1, 13);
  std::string addr, raddr;
  for (int i = 0; i < (v6 ? 4 : 1); i++) {
    addr += hex(*rc::gen::arbitrary<u32>(), 8);
    raddr += hex(*rc::gen::arbitrary<u32>(), 8);
  }
  char head[16];
  std::snprintf(head, sizeof(head), "%4d: ", slot);
  std::string line = std::string(head) + addr + ":" + hex(port, 4) + " " + raddr + ":" + hex(rport, 4) +
                     " " + hex(state, 2);
  if (*rc::gen::arbitrary<bool>())
    line += " 00000000:00000000 00:00000000 00000000  1000        0 " +
            std::to_string(*rc::gen::arbitrary<u32>()) + " 1 0000000000000000 100 0 0 10 0   ";
  u16 p = 0;
  u8 st = 0;
  RC_ASSERT(os::parse_proc_net_line(line, &p, &st));
  RC_ASSERT(p == port);
  RC_ASSERT(st == state);
  // In a file: found exactly when the state matches.
  const std::string file = "  sl  local_address rem_address   st\n" + line + "\n";
  std::array<u64, ports::kPortWords> w{};
  RC_ASSERT(os::scan_proc_net_text(file, state, w) == 1u);
  RC_ASSERT(((w[port >> 6] >> (port & 63)) & 1) == 1u);
  std::array<u64, ports::kPortWords> none{};
  RC_ASSERT(os::scan_proc_net_text(file, static_cast<u8>(state + 1), none) == 0u);
}

// --- automatic maps -------------------------------------------------------------------

core::PortBitmap small_set() {
  // Few ports out of a small range: overlaps between sides are common.
  core::PortBitmap b;
  const auto n = *rc::gen::inRange(0, 12);
  for (int i = 0; i < n; i++) b.set(*rc::gen::inRange<u16>(1, 40));
  return b;
}

core::FwdMode mode() {
  return *rc::gen::element(core::FwdMode::automatic, core::FwdMode::spec, core::FwdMode::none);
}

bool disjoint(const core::PortBitmap& a, const core::PortBitmap& b) {
  core::PortBitmap x = a;
  x.remove(b);
  return x == a;
}

RC_GTEST_PROP(FwdProp, AutoMapsAreDisjointStableAndLeaveSpecAlone, ()) {
  core::Config cfg;
  cfg.mode = core::Mode::pasta;
  for (core::PortFwd* f : {&cfg.fwd_in.tcp, &cfg.fwd_in.udp, &cfg.fwd_out.tcp, &cfg.fwd_out.udp}) {
    f->mode = mode();
    if (f->mode == core::FwdMode::spec) f->forwarded = small_set();
  }
  core::FwdMaps m = core::fwd_maps_from(cfg);
  const core::FwdMaps before = m;
  core::BoundPorts host{small_set(), small_set()};
  core::BoundPorts ns{small_set(), small_set()};
  (void)core::fwd_auto_update(cfg, host, ns, m);

  auto is_auto = [](const core::PortFwd& f) { return f.mode == core::FwdMode::automatic; };
  if (!is_auto(cfg.fwd_in.tcp)) RC_ASSERT(m.tcp_in == before.tcp_in);
  if (!is_auto(cfg.fwd_in.udp)) RC_ASSERT(m.udp_in == before.udp_in);
  if (!is_auto(cfg.fwd_out.tcp)) RC_ASSERT(m.tcp_out == before.tcp_out);
  if (!is_auto(cfg.fwd_out.udp)) RC_ASSERT(m.udp_out == before.udp_out);
  // An automatic direction never forwards what the other side does not
  // have bound, nor a port the reverse direction forwards.
  if (is_auto(cfg.fwd_in.tcp) || is_auto(cfg.fwd_out.tcp)) RC_ASSERT(disjoint(m.tcp_in, m.tcp_out));
  if (is_auto(cfg.fwd_in.tcp)) {
    core::PortBitmap x = m.tcp_in;
    x.remove(ns.tcp);
    RC_ASSERT(!x.any());
  }
  if (is_auto(cfg.fwd_out.udp)) {
    RC_ASSERT(disjoint(m.udp_out, m.udp_in));
    RC_ASSERT(disjoint(m.udp_out, m.tcp_in));
  }
  if (is_auto(cfg.fwd_in.udp)) {
    RC_ASSERT(disjoint(m.udp_in, m.udp_out));
    RC_ASSERT(disjoint(m.udp_in, m.tcp_out));
  }

  // The next scan also sees our own listeners (host: the inbound maps,
  // namespace: the outbound ones): nothing changes.
  core::BoundPorts host2 = host;
  core::BoundPorts ns2 = ns;
  host2.tcp.merge(m.tcp_in);
  host2.udp.merge(m.udp_in);
  ns2.tcp.merge(m.tcp_out);
  ns2.udp.merge(m.udp_out);
  const core::FwdMaps after = m;
  RC_ASSERT(core::fwd_auto_update(cfg, host2, ns2, m) == 0u);
  RC_ASSERT(m == after);
}

// --- NAT towards the guest -----------------------------------------------------------------

InAny peer4(const core::NetInfo& n) {
  return InAny::from(*rc::gen::element(Ipv4Addr::loopback(), Ipv4Addr::of(127, 1, 2, 3), Ipv4Addr::any(),
                                       n.v4.addr, n.v4.gateway, Ipv4Addr::of(192, 0, 2, 77), gen::ipv4()));
}

RC_GTEST_PROP(FwdProp, GuestNeverSeesAnUnanswerableSource, ()) {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
  n.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
  n.v4.our_tap_addr = *rc::gen::element(n.v4.gateway, Ipv4Addr::any());
  if (*rc::gen::arbitrary<bool>()) n.v4.map_host_loopback = *rc::gen::element(n.v4.gateway, Ipv4Addr::of(192, 0, 2, 1));
  if (*rc::gen::arbitrary<bool>()) n.v4.map_guest_addr = Ipv4Addr::of(192, 0, 2, 2);
  core::GuestSeen seen;
  if (*rc::gen::arbitrary<bool>()) seen.addr4 = *rc::gen::element(n.v4.addr, Ipv4Addr::of(10, 0, 0, 5));
  core::FwdNatOpts opts;
  opts.splice = *rc::gen::arbitrary<bool>();
  opts.host_lo_to_ns_lo = *rc::gen::arbitrary<bool>();
  const core::L4 proto = *rc::gen::element(core::L4::tcp, core::L4::udp);
  const InAny peer = peer4(n);
  const u16 pport = *rc::gen::arbitrary<u16>();
  const u16 tport = *rc::gen::arbitrary<u16>();
  const core::FlowSide ini{InAny::from(n.v4.addr), peer, 8080, pport};
  core::FlowSide t;
  const core::Pif pif = core::fwd_nat_from_host(n, opts, proto, ini, tport, seen, &t);
  RC_ASSERT(t.eport == tport);
  if (pif == core::Pif::splice) {
    RC_ASSERT(opts.splice && peer.is_loopback());
    RC_ASSERT(t.eaddr.is_v4());
    return;
  }
  if (opts.splice) RC_ASSERT(!peer.is_loopback());
  if (pif == core::Pif::none) {
    RC_ASSERT(n.v4.our_tap_addr.is_unspecified());
    return;
  }
  RC_ASSERT(pif == core::Pif::tap);
  RC_ASSERT(t.oaddr.is_v4());
  RC_ASSERT(!t.oaddr.is_loopback() && !t.oaddr.is_unspecified());
  RC_ASSERT(t.oaddr.v4() != n.v4.addr);
  RC_ASSERT(seen.addr4.is_unspecified() || t.oaddr.v4() != seen.addr4);
  RC_ASSERT(t.oport == pport);
  RC_ASSERT(t.eaddr == InAny::from(seen.addr4.is_unspecified() ? n.v4.addr : seen.addr4));
  // Reachable peers are passed through untouched.
  if (!peer.is_loopback() && !peer.is_unspecified() && peer.v4() != n.v4.addr &&
      (seen.addr4.is_unspecified() || peer.v4() != seen.addr4))
    RC_ASSERT(t.oaddr == peer);
}

}  // namespace
}  // namespace passt
