#include "proto/icmp.hpp"

#include <cstdlib>
#include <cstring>

#include "core/fwd.hpp"
#include "proto/alloc_array.hpp"
#include "util/check.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace passt::proto {

using core::Flow;
using core::FlowIdx;
using core::FlowSide;
using core::FlowSidx;
using core::Pif;
using ports::Sock;
using ports::SockAddr;
namespace ev = ports::ev;

namespace {

// One datagram: the largest ICMPv6 message an IPv6 packet without jumbo
// payload carries, plus one byte to recognise anything longer.
constexpr std::size_t kBufSize = 65535 + 1;
constexpr std::size_t kEchoHeaderLen = 8;  // type, code, checksum, id, seq (both families)

core::L4 l4_of(bool v6) noexcept { return v6 ? core::L4::icmpv6 : core::L4::icmp; }

// Targets a ping socket cannot (or must not) send an echo request to from
// here: no unicast owner, or an IPv6 link-local address that would need an
// interface we do not know.
bool bad_target(const InAny& a) noexcept {
  if (a.is_unspecified() || a.is_multicast()) return true;
  if (a.is_v4()) return a.v4().is_broadcast();
  return a.v6().is_link_local();
}

}  // namespace

Icmp::Icmp(const core::NetInfo& net, ports::HostNet& host, TapOut& out, GuestL2& guest,
           core::FlowTable& flows, core::DeadlineHeap& timers, FlowReaper& reaper,
           const IcmpOptions& opt)
    : net_(net),
      host_(host),
      out_(out),
      guest_(guest),
      flows_(flows),
      timers_(timers),
      reaper_(reaper),
      opt_(opt) {
  if (opt_.replies_per_event == 0) opt_.replies_per_event = 1;
  // One buffer per receive slot; pages that no reply reaches stay untouched.
  buf_ = static_cast<u8*>(std::malloc(kBufSize * opt_.replies_per_event));
  slots_ = alloc_array<ports::RecvSlot>(opt_.replies_per_event);
  PASST_CHECK(buf_ != nullptr && slots_ != nullptr);
}

Icmp::~Icmp() {
  std::free(slots_);
  std::free(buf_);
}

// --- guest -> host ---------------------------------------------------------------------

bool Icmp::tap_echo(const wire::Frame& fr, Instant now) noexcept {
  const bool v6 = fr.l3 == wire::L3::ipv6;
  u16 id = 0;
  u16 seq = 0;
  Bytes msg;
  if (!v6) {
    if (fr.l4 != wire::L4::icmp || !fr.icmp) return false;
    auto e = wire::IcmpEchoRepr::from(*fr.icmp);
    if (!e || !e->request) {
      stats_.not_request++;
      return false;
    }
    id = e->id;
    seq = e->seq;
    msg = fr.icmp->bytes();
  } else {
    if (fr.l4 != wire::L4::icmpv6) return false;
    auto v = wire::Icmpv6View::parse(fr.l4_bytes);
    if (!v) {
      stats_.not_request++;
      return false;
    }
    auto e = wire::Icmpv6EchoRepr::from(*v);
    if (!e || !e->is_request) {
      stats_.not_request++;
      return false;
    }
    id = e->ident;
    seq = e->seq;
    msg = v->bytes();
  }
  if (fr.src.is_unspecified() || fr.src.is_multicast()) {
    stats_.bad_addr++;
    return false;
  }

  const core::FlowKey key{l4_of(v6), Pif::tap, fr.src, fr.dst, id, id};
  const FlowSidx s = flows_.lookup(key);
  FlowIdx i;
  if (s.valid()) {
    const Flow& f = flows_.at(s.idx());
    if (ping_flow_of(f) == nullptr || f.closing != 0 || s.side != core::kIniSide) return false;
    i = s.idx();
  } else {
    i = new_flow(fr, v6, id, now);
    if (!i.valid()) return false;
  }
  Flow& f = flows_.at(i);
  PingFlow& p = f.as<PingFlow>();
  p.last_tap = now;

  const SockAddr to{f.side[core::kTgtSide].eaddr, 0, 0};
  const Bytes iov[1] = {msg};
  const ports::SendSlot m{std::span<const Bytes>(iov), &to};
  auto r = host_.send_batch(p.sock, std::span<const ports::SendSlot>(&m, 1));
  if (!r || *r != 1) {
    stats_.send_failed++;
    LOG_DEBUG("ICMP flow %u: echo request (id %u, seq %u) not sent: %s", i.v, id, seq,
              r ? "not taken" : err_name(r.err()));
    return false;
  }
  stats_.requests++;
  LOG_TRACE("ICMP flow %u: echo request id %u seq %u, %zu bytes", i.v, id, seq, msg.size());
  return true;
}

FlowIdx Icmp::new_flow(const wire::Frame& fr, bool v6, u16 id, Instant now) noexcept {
  const InAny target = core::fwd_nat_from_tap(net_, l4_of(v6), fr.dst, 0);
  if (bad_target(target)) {
    stats_.bad_addr++;
    LOG_DEBUG("ICMP: echo request to %s dropped: not a unicast target we can reach",
              to_text(fr.dst).c_str());
    return FlowIdx{};
  }
  auto fi = flows_.alloc(l4_of(v6));
  if (!fi) {
    stats_.table_full++;
    if (full_warn_.allow(now)) LOG_WARN("ICMP: flow table full, dropping echo requests");
    return FlowIdx{};
  }
  const FlowIdx i = *fi;
  flows_.set_ini(i, Pif::tap, FlowSide{fr.dst, fr.src, id, id});

  const ports::Family fam = v6 ? ports::Family::v6 : ports::Family::v4;
  auto s = host_.socket(ports::Netns::host, fam, ports::SockType::ping);
  if (!s) {
    flows_.cancel(i);
    stats_.sock_failed++;
    if (s.err() == Err::access) {
      // net.ipv4.ping_group_range excludes our group: say so once, then
      // drop echo requests quietly (the sysctl may still change: every
      // new flow tries again).
      if (!perm_warned_)
        LOG_WARN("ICMP: can't open ping sockets (%s): our group is not in "
                 "net.ipv4.ping_group_range, so echo requests from the guest are dropped "
                 "(sysctl -w net.ipv4.ping_group_range=\"0 2147483647\" allows every group)",
                 err_name(s.err()));
      else
        LOG_DEBUG("ICMP: echo request dropped: no ping socket (%s)", err_name(s.err()));
      perm_warned_ = true;
    } else if (sock_warn_.allow(now)) {
      LOG_WARN("ICMP: can't open a ping socket: %s; echo requests are dropped", err_name(s.err()));
    }
    return FlowIdx{};
  }
  // Identifier 0: the kernel picks the one on the wire.  Failures to bind
  // to the outbound address or interface are tolerated (as upstream): the
  // kernel then chooses both.
  const std::optional<InAny> outbound =
      v6 ? (net_.v6.outbound ? std::optional<InAny>(InAny::from(*net_.v6.outbound)) : std::nullopt)
         : (net_.v4.outbound ? std::optional<InAny>(InAny::from(*net_.v4.outbound)) : std::nullopt);
  const InAny any = v6 ? InAny::from(Ipv6Addr::any()) : InAny::from(Ipv4Addr::any());
  const std::string& ifname = v6 ? net_.v6.outbound_if : net_.v4.outbound_if;
  if (!ifname.empty()) {
    if (Status st = host_.bind_to_device(*s, ifname); !st)
      LOG_DEBUG("ICMP: binding a ping socket to %s: %s", ifname.c_str(), err_name(st.err()));
  }
  if (Status st = host_.bind(*s, SockAddr{outbound.value_or(any), 0, 0}); !st)
    LOG_DEBUG("ICMP: binding a ping socket: %s", err_name(st.err()));
  auto la = host_.local_addr(*s);
  const SockAddr local = la ? *la : SockAddr{any, 0, 0};
  const Status w = host_.watch(*s, ev::in, core::EpollRef::flow(core::RefType::ping, FlowSidx{i.v, core::kTgtSide}).pack());
  if (!w) {
    LOG_DEBUG("ICMP: watching a ping socket: %s", err_name(w.err()));
    host_.close(*s);
    flows_.cancel(i);
    stats_.sock_failed++;
    return FlowIdx{};
  }
  flows_.set_tgt(i, Pif::host, FlowSide{local.addr, target, local.port, local.port});
  PingFlow& p = flows_.set_type<PingFlow>(i, v6 ? core::FlowType::ping6 : core::FlowType::ping4);
  flows_.activate(i);
  p.sock = *s;
  p.last_tap = now;
  p.v6 = v6 ? 1 : 0;
  timers_.set(i.v, now + kIcmpEchoTimeout);
  stats_.flows_opened++;
  LOG_DEBUG("ICMP flow %u: %s -> %s id %u (kernel id %u)", i.v, to_text(fr.src).c_str(),
            to_text(target).c_str(), id, local.port);
  return i;
}

// --- host -> guest -----------------------------------------------------------------------

void Icmp::sock_event(FlowSidx s, u32 events, Instant now) noexcept {
  (void)now;
  if (s.flow >= flows_.capacity()) return;
  const FlowIdx i = s.idx();
  Flow& f = flows_.at(i);
  if (ping_flow_of(f) == nullptr || f.closing != 0) return;
  PingFlow& p = f.as<PingFlow>();
  if ((events & ev::err) != 0) {
    // Without IP_RECVERR nothing is queued for us; read (and clear) what
    // the kernel reports so that the level-triggered event stops.
    const Err e = host_.take_error(p.sock);
    stats_.sock_errors++;
    LOG_DEBUG("ICMP flow %u: socket error %s", i.v, err_name(e));
  }
  if ((events & ev::in) != 0) {
    // One receive per event, of up to replies_per_event datagrams: the
    // socket is level-triggered, so what is left comes with the next event,
    // and the usual single reply costs no second call that finds nothing.
    const u32 n = opt_.replies_per_event;
    for (u32 k = 0; k < n; k++)
      slots_[k] = ports::RecvSlot{MutBytes(buf_ + std::size_t{k} * kBufSize, kBufSize), 0, {}};
    auto r = host_.recv_batch(p.sock, std::span<ports::RecvSlot>(slots_, n));
    if (!r) {
      if (r.err() != Err::again) LOG_DEBUG("ICMP flow %u: receive: %s", i.v, err_name(r.err()));
    } else {
      const std::size_t got = *r < n ? *r : n;
      // relay_reply() never closes the flow: every slot belongs to it.
      for (std::size_t k = 0; k < got; k++) relay_reply(f, p, slots_[k]);
    }
  }
  if ((events & ev::hup) != 0) {
    // Not expected of a datagram socket: close rather than spin on it.
    LOG_DEBUG("ICMP flow %u: socket hung up", i.v);
    close_flow(i, f, p);
  }
}

void Icmp::relay_reply(Flow& f, PingFlow& p, const ports::RecvSlot& slot) noexcept {
  const bool v6 = p.v6 != 0;
  const FlowSide& tap = f.side[core::kIniSide];
  if (slot.peer.addr != f.side[core::kTgtSide].eaddr) {
    stats_.reply_foreign++;
    LOG_DEBUG("ICMP: echo reply from %s, expected %s: dropped", to_text(slot.peer.addr).c_str(),
              to_text(f.side[core::kTgtSide].eaddr).c_str());
    return;
  }
  const std::size_t len = slot.len;
  const Bytes msg(slot.buf.data(), len);
  const u8 want = v6 ? wire::icmpv6_type::echo_reply : wire::icmp_type::echo_reply;
  if (len < kEchoHeaderLen || msg[0] != want || msg[1] != 0) {
    stats_.reply_malformed++;
    return;
  }
  const std::size_t ip_len = v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen;
  // Largest IP packet: the MTU, or what the IP length field holds (MTU 0).
  const std::size_t max_ip = net_.mtu != 0 ? net_.mtu : (v6 ? 65535 + wire::kIpv6HeaderLen : 65535);
  if (len >= kBufSize || ip_len + len > max_ip) {
    stats_.reply_too_big++;
    return;
  }
  const u16 seq = load_be16(msg.data() + 6);
  if (opt_.drop_repeated_seq) {
    if (p.seq_valid != 0 && p.last_seq == seq) {
      stats_.reply_repeated++;
      return;
    }
    p.last_seq = seq;
    p.seq_valid = 1;
  }

  const std::size_t l4 = wire::kEthHeaderLen + ip_len;
  MutBytes frame = out_.reserve(l4 + len);
  if (frame.empty()) {
    stats_.reply_no_room++;
    return;
  }
  const wire::EthernetRepr eth{guest_.mac, net_.our_mac,
                               v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(frame);
  // The message goes in place, then its header is rewritten: the guest's
  // identifier, the kernel's sequence and data, a new checksum.
  std::memcpy(frame.data() + l4, msg.data(), len);
  const u16 guest_id = tap.eport;
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = tap.oaddr.v4();
    ip.dst = tap.eaddr.v4();
    ip.protocol = wire::ipproto::icmp;
    ip.payload_len = static_cast<u16>(len);
    (void)ip.emit(frame.subspan(wire::kEthHeaderLen));
    const wire::IcmpEchoRepr e{false, guest_id, seq, len - kEchoHeaderLen};
    (void)e.emit(frame.subspan(l4, len));
  } else {
    wire::Ipv6Repr ip;
    ip.src = tap.oaddr.v6();
    ip.dst = tap.eaddr.v6();
    ip.next_header = wire::kIpProtoIcmpv6;
    ip.payload_len = static_cast<u16>(len);
    (void)ip.emit(frame.subspan(wire::kEthHeaderLen));
    wire::Icmpv6EchoRepr e;
    e.is_request = false;
    e.ident = guest_id;
    e.seq = seq;
    e.data = Bytes(frame.data() + l4 + kEchoHeaderLen, len - kEchoHeaderLen);
    (void)e.emit(frame.subspan(l4, len), ip.src, ip.dst);
  }
  out_.commit(l4 + len);
  stats_.replies++;
  LOG_TRACE("ICMP: echo reply id %u seq %u to the guest, %zu bytes", guest_id, seq, len);
}

// --- life cycle --------------------------------------------------------------------------

void Icmp::timer(FlowIdx i, Instant now) noexcept {
  Flow& f = flows_.at(i);
  if (ping_flow_of(f) == nullptr || f.closing != 0) {
    timers_.clear(i.v);
    return;
  }
  PingFlow& p = f.as<PingFlow>();
  const Instant due = p.last_tap + kIcmpEchoTimeout;
  if (now < due) {
    timers_.set(i.v, due);
    return;
  }
  stats_.flows_expired++;
  LOG_DEBUG("ICMP flow %u: idle for %lld s, closed", i.v,
            static_cast<long long>((now - p.last_tap).ns / 1000000000));
  close_flow(i, f, p);
}

void Icmp::close_flow(FlowIdx i, Flow& f, PingFlow& p) noexcept {
  if (p.sock.valid()) {
    host_.unwatch(p.sock);
    host_.close(p.sock);
  }
  p.sock = Sock{};
  timers_.clear(i.v);
  reaper_.defer(i, f);
}

}  // namespace passt::proto
