#include "proto/tcp.hpp"

#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/fwd.hpp"
#include "proto/alloc_array.hpp"
#include "util/check.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace passt::proto {

using core::Flow;
using core::FlowIdx;
using core::FlowSide;
using core::FlowSidx;
using core::Pif;
using ports::Sock;
using ports::SockAddr;
namespace ev = ports::ev;
namespace tf = wire::tcp_flag;
namespace ce = tcp_ev;
namespace cf = tcp_flag_conn;

namespace {

constexpr u32 kNone = ~0u;
constexpr u8 kHandshakeRetries = 4;  // SYN / SYN+ACK sent 5 times, 2 s apart: 10 s
constexpr u8 kRecovering = 0xff;     // dup_acks: fast retransmit done, wait for progress
constexpr u8 kDupAckThreshold = 3;   // RFC 5681
constexpr u32 kDupAcksSent = 3;      // extra copies of the ACK on a gap
constexpr int kBufSize = 0x3fffffff; // INT_MAX / 2: the kernel clamps it
constexpr u8 kTcpStateEstablished = 1;  // Linux's TCP_ESTABLISHED (TcpInfo::state)

// Payload of one GSO frame: whole MSS, as many as an IP packet without
// options holds (IPv4 total length, IPv6 payload length <= 65535).
u32 gso_step(u32 mss, bool v6) noexcept {
  const u32 max = 65535 - static_cast<u32>(wire::kTcpHeaderLen) -
                  (v6 ? 0u : static_cast<u32>(wire::kIpv4HeaderLen));
  if (mss == 0 || mss >= max) return mss;
  return max / mss * mss;
}

// Upstream's clamp of the guest's MSS for TCP_MAXSEG (and ours).
u16 clamp_mss(u32 mss, bool v6) noexcept {
  const u32 hi = v6 ? kTcpMss6Max : kTcpMss4Max;
  if (mss == 0) return kTcpMssDefault;
  if (mss > hi) mss = hi;
  if (mss < 88) mss = 88;  // the kernel's TCP_MIN_MSS: never go below it
  return static_cast<u16>(mss);
}

u64 make_tag(FlowIdx i, Seq seq) noexcept {
  return (static_cast<u64>(seq.v) << 32) | (static_cast<u64>(i.v) + 1);
}

u32 seg_len(u8 flags, std::size_t payload) noexcept {
  return static_cast<u32>(payload) + ((flags & tf::syn) != 0 ? 1u : 0u) +
         ((flags & tf::fin) != 0 ? 1u : 0u);
}

// Share epochs run 1..255 (0 marks a connection that never sent).
u8 epoch_before(u8 e) noexcept { return e == 1 ? u8{255} : static_cast<u8>(e - 1); }

}  // namespace

struct Tcp::Seg {
  Seq seq;
  Seq ack;
  u8 flags = 0;
  bool used = false;
  u16 window = 0;
  Bytes payload;
  Bytes opts;
  u32 next = kNone;
};

struct Tcp::Group {
  u32 flow = 0;
  u32 head = kNone;
  u32 tail = kNone;
  u32 count = 0;
};

// Activity: the connection lives kTcpActTimeout (at least, REQ-5) after
// it.  The deadline moves only once it is less than that away, then
// kTcpActStep beyond: a busy connection would otherwise move its flow's
// deadline, and re-arm the event loop's timer (a system call), at every
// event.  So the timeout falls between kTcpActTimeout and kTcpActTimeout +
// kTcpActStep after the last activity.
static void touch_idle(TcpConn& c, Instant now) noexcept {
  if (c.t_idle.is_never() || c.t_idle - now < kTcpActTimeout) c.t_idle = now + kTcpActTimeout + kTcpActStep;
}

// The next look is due `interval` after this one.  The deadline moves only
// when it is less than half an interval away (or later than the new one):
// each move re-arms the event loop's timer (a system call), and segments
// arriving faster than that would otherwise move it every time.
static void restart_ack_due(TcpConn& c, Instant now, Duration interval) noexcept {
  const Instant at = now + interval;
  if (c.t_ack.is_never() || at < c.t_ack || c.t_ack - now < Duration::nanos(interval.ns / 2)) c.t_ack = at;
}

Tcp::Tcp(const core::Config& cfg, const core::NetInfo& net, ports::HostNet& host,
         ports::Entropy& entropy, TapOut& out, GuestL2& guest, core::FlowTable& flows,
         core::DeadlineHeap& timers, FlowReaper& reaper, const TcpOptions& opt)
    : cfg_(cfg),
      net_(net),
      host_(host),
      out_(out),
      guest_(guest),
      flows_(flows),
      timers_(timers),
      reaper_(reaper),
      opt_(opt) {
  if (opt_.frames_per_peek == 0) opt_.frames_per_peek = 1;
  if (opt_.max_batch_segs == 0) opt_.max_batch_segs = 1;
  if (opt_.max_batch_flows == 0) opt_.max_batch_flows = 1;
  if (opt_.accepts_per_event == 0) opt_.accepts_per_event = 1;
  std::array<u8, 16> k{};
  entropy.fill(MutBytes(k));
  isn_key_ = SipKey::from_bytes(k);
  segs_ = alloc_array<Seg>(opt_.max_batch_segs);
  groups_ = alloc_array<Group>(opt_.max_batch_flows);
  bufs_ = alloc_array<MutBytes>(opt_.frames_per_peek);
  iov_ = alloc_array<MutBytes>(opt_.frames_per_peek);
  lens_ = alloc_array<std::size_t>(opt_.frames_per_peek);
  tags_ = alloc_array<u64>(opt_.frames_per_peek);
  wiov_ = alloc_array<Bytes>(opt_.max_batch_segs);
  out_.set_drop_observer(this);
}

Tcp::~Tcp() {
  out_.set_drop_observer(nullptr);
  std::free(segs_);
  std::free(groups_);
  std::free(bufs_);
  std::free(iov_);
  std::free(lens_);
  std::free(tags_);
  std::free(wiov_);
}

// --- helpers ----------------------------------------------------------------------

u16 Tcp::our_mss(bool v6) const noexcept {
  if (net_.mtu == 0) return 0;
  const u32 ip = v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen;
  if (net_.mtu <= ip + wire::kTcpHeaderLen) return 0;
  u32 mss = net_.mtu - ip - static_cast<u32>(wire::kTcpHeaderLen);
  const u32 hi = v6 ? kTcpMss6Max : kTcpMss4Max;
  if (mss > hi) mss = hi;
  // Large segments in whole pages: the guest's receive path copies them
  // page by page.
  if (mss > 4096) mss &= ~u32{4095};
  return static_cast<u16>(mss);
}

u16 Tcp::seg_mss(const TcpConn& c) const noexcept {
  const u16 ours = our_mss(c.fam6 != 0);
  if (ours == 0) return c.tap_mss;  // -m 0: only the guest's MSS bounds it
  return c.tap_mss < ours ? c.tap_mss : ours;
}

Seq Tcp::isn(const FlowSide& tap_side, Instant now) const noexcept {
  SipHasher h(isn_key_);
  h.update(Bytes(tap_side.oaddr.a.b));
  h.update(Bytes(tap_side.eaddr.a.b));
  h.update_u32((static_cast<u32>(tap_side.oport) << 16) | tap_side.eport);
  const u64 v = h.finish();
  // RFC 6528: a secret hash of the 4-tuple plus a clock ticking every 32 ns.
  const u32 tick = static_cast<u32>(static_cast<u64>(now.ns) >> 5);
  return Seq{static_cast<u32>((v >> 32) ^ v) + tick};
}

bool Tcp::is_local(const InAny& t) const noexcept {
  if (t.is_loopback()) return true;
  if (t.is_v4()) return net_.v4.enabled && t.v4() == net_.v4.addr;
  return net_.v6.enabled && t.v6() == net_.v6.addr;
}

bool Tcp::low_rtt_lookup(const InAny& a) const noexcept {
  for (const InAny& e : low_rtt_)
    if (!e.is_unspecified() && e == a) return true;
  return false;
}

void Tcp::low_rtt_note(const Flow& f, TcpConn& c, const ports::TcpInfo& info) noexcept {
  if (c.flag(cf::low_rtt) || !info.has_min_rtt || info.min_rtt_us == 0 ||
      info.min_rtt_us > kLowRttUs)
    return;
  c.flags |= cf::low_rtt;
  const InAny& far = f.side[1 - tcp_tap_side(f)].eaddr;
  if (low_rtt_lookup(far)) return;
  low_rtt_[low_rtt_next_] = far;
  low_rtt_next_ = (low_rtt_next_ + 1) % kTcpLowRttEntries;
}

// --- connections from our listeners (proto::TcpFwd) ------------------------------------

void Tcp::accept_from_host(Sock s, const FlowSide& ini, const FlowSide& tgt, Instant now) noexcept {
  now_ = now;
  share_tick(now);
  info_stale();
  const bool v4 = tgt.eaddr.is_v4();
  const SockAddr peer{ini.eaddr, ini.eport, 0};
  auto refuse = [&]() noexcept {
    (void)host_.set_opt(s, ports::SockOpt::linger_zero, 1);
    host_.close(s);
  };
  auto fi = flows_.alloc(core::L4::tcp);
  if (!fi) {
    stats_.table_full++;
    if (full_warn_.allow(now)) LOG_WARN("TCP: flow table full, refusing a connection");
    return refuse();
  }
  const FlowIdx i = *fi;
  flows_.set_ini(i, Pif::host, ini);
  flows_.set_tgt(i, Pif::tap, tgt);
  TcpConn& c = flows_.set_type<TcpConn>(i, core::FlowType::tcp);
  flows_.activate(i);
  Flow& f = flows_.at(i);

  c.sock = s;
  c.fam6 = v4 ? 0 : 1;
  c.events = ce::sock_accepted;
  c.t_ack = c.t_rto = c.t_kick = c.t_fin = Instant::never();
  c.t_idle = now + kTcpActTimeout + kTcpActStep;
  c.seq_init_to_tap = isn(tgt, now);
  c.seq_ack_from_tap = c.seq_init_to_tap;
  c.seq_to_tap = c.seq_init_to_tap + 1;
  c.seq_max_to_tap = c.seq_to_tap;
  c.wnd_from_tap = kWindowDefault;
  c.tap_mss = kTcpMssDefault;
  if (peer.addr.is_loopback() || is_local(peer.addr)) c.flags |= cf::local;
  if (low_rtt_lookup(peer.addr)) c.flags |= cf::low_rtt;
  if (opt_.set_bufs) {
    if (host_.set_opt(s, ports::SockOpt::sndbuf, kBufSize)) c.flags |= cf::set_bufs;
    (void)host_.set_opt(s, ports::SockOpt::rcvbuf, kBufSize);
  }
  c.sndbuf = sndbuf_of(c, now);
  ports::TcpInfo info;
  if (auto ti = info_of(c); ti) {
    info = *ti;
    c.ws_to_tap = info.snd_wscale < kMaxWs ? info.snd_wscale : kMaxWs;
    low_rtt_note(f, c, info);
  }
  stats_.conns_from_sock++;
  LOG_DEBUG("TCP flow %u: accepted from %s:%u, to the guest's port %u", i.v, to_text(peer.addr).c_str(),
            peer.port, tgt.eport);
  // The SYN: its ACK field is unused; seq is our ISN.
  MirrorOut m = mirror(f, c, true, true);
  (void)emit_segment(f, c, c.seq_init_to_tap, Seq{}, tf::syn, m.wnd_field, true, 0);
  c.wnd_to_tap = m.wnd_field;
  c.flags |= cf::ack_from_tap_due;
  arm_rto(c, now, true);
  update_mask(i, c);
  set_timer(i, c, now);
}

// --- frames -------------------------------------------------------------------------

std::size_t Tcp::header_len(bool v6, std::size_t opt_len) const noexcept {
  return wire::kEthHeaderLen + (v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen) +
         wire::kTcpHeaderLen + opt_len;
}

void Tcp::write_headers(MutBytes frame, const Flow& f, const TcpConn& c,
                        const wire::TcpRepr& t) const noexcept {
  const FlowSide& s = f.side[tcp_tap_side(f)];
  const bool v6 = c.fam6 != 0;
  wire::EthernetRepr eth{guest_.mac, net_.our_mac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(frame);
  const std::size_t l3 = wire::kEthHeaderLen;
  const u16 l4len = static_cast<u16>(t.length());
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = s.oaddr.v4();
    ip.dst = s.eaddr.v4();
    ip.protocol = wire::ipproto::tcp;
    ip.ttl = 255;
    ip.payload_len = l4len;
    (void)ip.emit(frame.subspan(l3));
    // Offload: checksum 0, the tap completes it (proto/tap_out.hpp).
    if (out_.l4_csum_offload())
      (void)t.emit(frame.subspan(l3 + wire::kIpv4HeaderLen, t.length()));
    else
      (void)t.emit(frame.subspan(l3 + wire::kIpv4HeaderLen, t.length()), ip.src, ip.dst);
  } else {
    wire::Ipv6Repr ip;
    ip.src = s.oaddr.v6();
    ip.dst = s.eaddr.v6();
    ip.next_header = wire::ipproto::tcp;
    ip.hop_limit = 255;
    ip.flow_label = static_cast<u32>(c.sock.v) & 0xfffff;  // as upstream: the socket
    ip.payload_len = l4len;
    (void)ip.emit(frame.subspan(l3));
    if (out_.l4_csum_offload())
      (void)t.emit(frame.subspan(l3 + wire::kIpv6HeaderLen, t.length()));
    else
      (void)t.emit(frame.subspan(l3 + wire::kIpv6HeaderLen, t.length()), ip.src, ip.dst);
  }
}

bool Tcp::emit_segment(const Flow& f, const TcpConn& c, Seq seq, Seq ack, u8 flags, u16 wnd,
                       bool syn_opts, u64 tag) noexcept {
  const FlowSide& s = f.side[tcp_tap_side(f)];
  wire::TcpRepr t;
  t.src_port = s.oport;
  t.dst_port = s.eport;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = wnd;
  if (syn_opts) {
    const u16 ours = our_mss(c.fam6 != 0);
    t.options.mss = ours != 0 ? ours : kTcpMssDefault;
    // A SYN+ACK carries window scale only if the guest's SYN did (RFC 7323).
    if ((flags & tf::ack) == 0 || c.flag(cf::ws_ok)) t.options.wscale = c.ws_to_tap;
  }
  const std::size_t len = header_len(c.fam6 != 0, t.options.length());
  MutBytes b = out_.reserve(len);
  if (b.size() < len) {
    out_.abandon();
    return false;
  }
  write_headers(b, f, c, t);
  out_.commit(len, tag);
  stats_.frames_to_tap++;
  return true;
}

void Tcp::send_rst_reply(const wire::Frame& fr) noexcept {
  const wire::TcpView& v = *fr.tcp;
  wire::TcpRepr t;
  t.src_port = v.dst_port();
  t.dst_port = v.src_port();
  if (v.has(tf::ack)) {
    t.seq = v.ack();
    t.flags = tf::rst;
  } else {
    t.seq = Seq{0};
    t.ack = v.seq() + seg_len(v.flags(), v.payload().size());
    t.flags = tf::rst | tf::ack;
  }
  const bool v6 = fr.l3 == wire::L3::ipv6;
  const std::size_t len = header_len(v6, 0);
  MutBytes b = out_.reserve(len);
  if (b.size() < len) {
    out_.abandon();
    return;
  }
  wire::EthernetRepr eth{fr.eth_src, net_.our_mac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(b);
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = fr.dst.v4();
    ip.dst = fr.src.v4();
    ip.protocol = wire::ipproto::tcp;
    ip.ttl = 255;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    (void)t.emit(b.subspan(wire::kEthHeaderLen + wire::kIpv4HeaderLen, t.length()), ip.src, ip.dst);
  } else {
    wire::Ipv6Repr ip;
    ip.src = fr.dst.v6();
    ip.dst = fr.src.v6();
    ip.next_header = wire::ipproto::tcp;
    ip.hop_limit = 255;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    (void)t.emit(b.subspan(wire::kEthHeaderLen + wire::kIpv6HeaderLen, t.length()), ip.src, ip.dst);
  }
  out_.commit(len);
  stats_.rst_stateless++;
  stats_.frames_to_tap++;
}

Result<ports::TcpInfo> Tcp::info_of(TcpConn& c) noexcept {
  if (info_sock_ == c.sock.v && c.sock.valid()) return info_cache_;
  auto ti = host_.tcp_info(c.sock);
  if (ti) {
    info_cache_ = *ti;
    info_sock_ = c.sock.v;
  }
  return ti;
}

u32 Tcp::sndbuf_of(const TcpConn& c, Instant now) noexcept {
  if (c.flag(cf::set_bufs) && sndbuf_set_ != 0 && now < sndbuf_until_) return sndbuf_set_;
  const u32 v = static_cast<u32>(host_.get_opt(c.sock, ports::SockOpt::sndbuf).value_or(0));
  if (c.flag(cf::set_bufs) && v != 0) {
    sndbuf_set_ = v;
    sndbuf_until_ = now + kTcpLocalCacheTime;
  }
  return v;
}

bool Tcp::local_by_probe(const InAny& target, ports::Family fam, Instant now) noexcept {
  for (const LocalProbe& p : probes_)
    if (now < p.until && p.addr == target) return p.local;
  bool local = false;
  if (auto p = host_.socket(ports::Netns::host, fam, ports::SockType::tcp); p) {
    const Status b = host_.bind(*p, SockAddr{target, 0, 0});
    local = b.ok() || b.err() == Err::addr_in_use;
    host_.close(*p);
  }
  probes_[probe_next_] = LocalProbe{target, now + kTcpLocalCacheTime, local};
  probe_next_ = (probe_next_ + 1) % kTcpLowRttEntries;
  return local;
}

bool Tcp::refresh(Flow& f, TcpConn& c, ports::TcpInfo* info) noexcept {
  auto ti = info_of(c);
  if (!ti) return false;
  *info = *ti;
  low_rtt_note(f, c, *info);
  return true;
}

void Tcp::share_tick(Instant now) noexcept {
  // At the first entry of an event past the tick only, so that every frame
  // built in one event uses the same share (the simulator checks it).
  if (now < next_share_tick_) return;
  next_share_tick_ = now + kTcpShareTick;
  if (now >= next_share_epoch_) {
    // A whole epoch without events: nobody is a recent sender, and the
    // epoch number moves on by two so that this one's senders are not
    // taken for the previous one's.
    const bool idle = now >= next_share_epoch_ + kTcpShareEpoch;
    next_share_epoch_ = now + kTcpShareEpoch;
    senders_prev_ = idle ? 0 : senders_now_;
    senders_now_ = 0;
    senders_moved_ = 0;
    for (int k = idle ? 2 : 1; k > 0; k--)
      share_epoch_ = share_epoch_ == 255 ? u8{1} : static_cast<u8>(share_epoch_ + 1);
  }
  // Senders of either epoch, each once (the previous epoch's that sent
  // again are in both counts).
  const u32 prev_only = senders_prev_ > senders_moved_ ? senders_prev_ - senders_moved_ : 0;
  const u32 senders = senders_now_ + prev_only;
  const u32 q = net_.tap_queue_frames;
  const u32 share = q / (senders > 1 ? senders : 1u);
  const u32 floor = q < kTcpShareMinFrames ? q : kTcpShareMinFrames;
  wnd_cap_frames_ = share > floor ? share : floor;
  const u32 bytes = q == 0 ? 0 : kTcpShareBytes / (senders > 1 ? senders : 1u);
  wnd_cap_bytes_ = q == 0 ? 0 : (bytes > kTcpShareMinBytes ? bytes : kTcpShareMinBytes);
}

void Tcp::note_sender(TcpConn& c) noexcept {
  if (c.share_epoch == share_epoch_) return;
  // A u8 wraps (epochs 1-255): a connection idle for a multiple of 25.5 s
  // is not counted until the next epoch, one sender too few for <= 100 ms.
  if (c.share_epoch == epoch_before(share_epoch_)) senders_moved_++;
  c.share_epoch = share_epoch_;
  senders_now_++;
}

MirrorOut Tcp::mirror(Flow& f, TcpConn& c, bool syn, bool force) noexcept {
  ports::TcpInfo info;
  const bool ok = refresh(f, c, &info);
  // The send queue (SIOCOUTQ: write_seq - snd_una) is what the socket took
  // minus what the far end acknowledged, a FIN counting one on both sides:
  // with tcpi_bytes_acked it costs no extra system call.
  u32 sendq = 0;
  bool have_q = false;
  if (ok && info.has_bytes_acked) {
    const i32 q = c.seq_from_tap.diff(c.seq_init_from_tap + static_cast<u32>(info.bytes_acked));
    sendq = q > 0 ? static_cast<u32>(q) : 0;
    have_q = true;
  } else if (auto q = host_.send_queue(c.sock); q) {
    sendq = static_cast<u32>(*q);
    have_q = true;
  }
  return tcp_mirror(tcp_mirror_input(c, ok ? &info : nullptr, syn, force, have_q ? &sendq : nullptr,
                                     wnd_cap_frames_, wnd_cap_bytes_));
}

// `m` was computed just now, from a fresh TCP_INFO: the next look is due
// an interval after this one (at least half), so the deadline restarts
// here.  While guest segments keep coming (each one such a look, with its
// ACK) the timer never fires; it only covers a pause.
void Tcp::note_ack_due(TcpConn& c, const MirrorOut& m, Instant now) noexcept {
  if (m.wnd_room_limited || m.wnd_field == 0) c.flags |= cf::sock_out;
  if (m.wnd_room_limited) {
    stats_.wnd_room_limited++;
    // The window opens as the far end acknowledges: poll it, soon while it
    // moves, backing off while it does not (a slow reader).
    c.flags |= cf::ack_to_tap_due;
    const u8 shift = c.wnd_polls > kTcpWndPollMaxShift ? kTcpWndPollMaxShift : c.wnd_polls;
    restart_ack_due(c, now, Duration::nanos(kTcpWndPollInterval.ns << shift));
  } else if (m.ack_lagging || m.wnd_field == 0) {
    c.flags |= cf::ack_to_tap_due;
    restart_ack_due(c, now, kTcpAckInterval);
  } else {
    c.flags &= static_cast<u16>(~cf::ack_to_tap_due);
    c.t_ack = Instant::never();
  }
}

bool Tcp::send_flags(FlowIdx i, Flow& f, TcpConn& c, u8 flags, Instant now) noexcept {
  const bool syn = (flags & tf::syn) != 0;
  MirrorOut m = mirror(f, c, syn, syn);
  Seq seq = syn ? c.seq_init_to_tap : c.seq_to_tap;
  u64 tag = 0;
  if ((flags & tf::fin) != 0) tag = make_tag(i, seq);
  if (!emit_segment(f, c, seq, m.ack, flags, m.wnd_field, syn, tag)) return false;
  if ((flags & tf::ack) != 0) {
    c.seq_ack_to_tap = m.ack;
    if (m.ack_lagging) stats_.ack_lagging++;
  }
  c.wnd_to_tap = m.wnd_field;
  if (!syn) note_ack_due(c, m, now);
  return true;
}

bool Tcp::send_ack_if_needed(FlowIdx i, Flow& f, TcpConn& c, bool force, Instant now) noexcept {
  (void)i;
  if (!c.has(ce::established)) return false;
  MirrorOut m = mirror(f, c, false, false);
  bool sent = false;
  if (force || m.ack != c.seq_ack_to_tap || m.wnd_field != c.wnd_to_tap) {
    if (emit_segment(f, c, c.seq_to_tap, m.ack, tf::ack, m.wnd_field, false, 0)) {
      c.seq_ack_to_tap = m.ack;
      c.wnd_to_tap = m.wnd_field;
      if (m.ack_lagging) stats_.ack_lagging++;
      c.wnd_polls = 0;
      sent = true;
    }
  }
  note_ack_due(c, m, now);
  return sent;
}

void Tcp::send_dup_acks(Flow& f, TcpConn& c, u32 n) noexcept {
  for (u32 k = 0; k < n; k++)
    if (emit_segment(f, c, c.seq_to_tap, c.seq_ack_to_tap, tf::ack, c.wnd_to_tap, false, 0))
      stats_.dup_acks_sent++;
}

void Tcp::send_probe(Flow& f, TcpConn& c, Instant now) noexcept {
  // RFC 9293 3.8.6.1 / Linux's tcp_xmit_probe_skb: a segment with an old
  // sequence number makes the guest answer with its current window.
  MirrorOut m = mirror(f, c, false, false);
  if (emit_segment(f, c, c.seq_ack_from_tap - 1, m.ack, tf::ack, m.wnd_field, false, 0)) {
    c.seq_ack_to_tap = m.ack;
    c.wnd_to_tap = m.wnd_field;
    stats_.zero_window_probes++;
  }
  note_ack_due(c, m, now);
}

// --- life cycle ------------------------------------------------------------------------

void Tcp::rewind(TcpConn& c, Seq to) noexcept {
  if (seq_lt(to, c.seq_to_tap) && seq_ge(to, c.seq_ack_from_tap)) {
    c.seq_to_tap = to;
    c.flags &= static_cast<u16>(~(cf::stalled | cf::drained));
  }
}

void Tcp::rst_to_tap(FlowIdx i, Flow& f, TcpConn& c, const char* why) noexcept {
  LOG_DEBUG("TCP flow %u: RST to the guest: %s", i.v, why);
  if (c.has(ce::sock_accepted)) {
    // The guest's ISN is unknown: a bare RST at the sequence it expects.
    (void)emit_segment(f, c, c.seq_init_to_tap + 1, Seq{}, tf::rst, 0, false, 0);
  } else {
    // In SYN-SENT the guest only accepts a RST that acknowledges its SYN.
    const Seq seq = c.has(ce::tap_syn_rcvd) ? Seq{0} : c.seq_to_tap;
    (void)emit_segment(f, c, seq, c.seq_from_tap, tf::rst | tf::ack, 0, false, 0);
  }
  stats_.rst_to_tap++;
  close_conn(i, f, c, true);
}

void Tcp::close_conn(FlowIdx i, Flow& f, TcpConn& c, bool abort) noexcept {
  LOG_DEBUG("TCP flow %u: closed%s (events %#x)", i.v, abort ? ", reset" : "", c.events);
  if (c.sock.valid()) {
    // close() takes the socket out of the readiness set (HostNet::close).
    if (abort) (void)host_.set_opt(c.sock, ports::SockOpt::linger_zero, 1);
    host_.close(c.sock);
    info_stale();
  }
  c.sock = Sock{};
  c.events = 0;
  c.sock_mask = 0;
  timers_.clear(i.v);
  reaper_.defer(i, f);
  stats_.conns_closed++;
}

void Tcp::check_close(FlowIdx i, Flow& f, TcpConn& c) noexcept {
  if (f.closing != 0) return;
  const u16 done = ce::tap_fin_rcvd | ce::sock_fin_sent | ce::sock_fin_rcvd | ce::tap_fin_sent |
                   ce::tap_fin_acked;
  if ((c.events & done) == done) {
    close_conn(i, f, c, false);
    return;
  }
  if (c.has(ce::sock_fin_sent) && c.has(ce::tap_fin_sent) && c.t_fin.is_never())
    c.t_fin = now_ + kTcpFinTimeout;
}

u8 Tcp::sock_wanted(const TcpConn& c) const noexcept {
  if (c.has(ce::tap_syn_rcvd)) return static_cast<u8>(ev::out | ev::rdhup);
  if (!c.has(ce::established)) return static_cast<u8>(ev::in | ev::rdhup);
  if (c.has(ce::tap_fin_sent) && c.seq_to_tap == c.seq_fin_to_tap + 1) return 0;  // all sent
  if (c.flag(cf::stalled)) return static_cast<u8>(ev::in | ev::out | ev::rdhup);
  return static_cast<u8>(ev::in | ev::rdhup);
}

void Tcp::update_mask(FlowIdx i, TcpConn& c) noexcept {
  if (!c.sock.valid()) return;
  // One edge-triggered registration for the connection's whole life:
  // in|rdhup, plus out from the moment it is needed (a connect() still
  // running, a send buffer that filled, a window held down by it); the
  // handler acts only on what sock_wanted() says for the state.  The one
  // exception is level-triggered in|rdhup while a peek stopped at the frame
  // budget with more in the socket: the loop comes back for the rest.
  u8 want = 0;
  if (c.has(ce::established) && !c.flag(cf::stalled) &&
      !(c.has(ce::tap_fin_sent) && c.seq_to_tap == c.seq_fin_to_tap + 1)) {
    want = static_cast<u8>(ev::in | ev::rdhup);
  } else {
    want = static_cast<u8>(ev::in | ev::rdhup | ev::edge);
    if (c.flag(cf::sock_out)) want |= static_cast<u8>(ev::out);
  }
  if (want == c.sock_mask) return;
  const Flow& f = flows_.at(i);
  const u8 host_side = static_cast<u8>(1 - tcp_tap_side(f));
  const u64 ref = core::EpollRef::flow(core::RefType::tcp, FlowSidx{i.v, host_side}).pack();
  if (host_.watch(c.sock, want, ref)) c.sock_mask = want;
}

void Tcp::arm_rto(TcpConn& c, Instant now, bool restart) noexcept {
  if (!c.flag(cf::ack_from_tap_due)) {
    c.t_rto = Instant::never();
    return;
  }
  if (restart || c.t_rto.is_never()) c.t_rto = now + kTcpAckTimeout;
}

void Tcp::set_timer(FlowIdx i, TcpConn& c, Instant now) noexcept {
  (void)now;
  if (c.events == 0) {
    timers_.clear(i.v);
    return;
  }
  Instant t = c.t_idle;
  t = earliest(t, c.t_ack);
  t = earliest(t, c.t_rto);
  t = earliest(t, c.t_kick);
  t = earliest(t, c.t_fin);
  timers_.set(i.v, t);
}

void Tcp::on_tap_dropped(u64 tag) noexcept {
  const u32 fi = static_cast<u32>(tag & 0xffffffffu);
  if (fi == 0 || fi - 1 >= flows_.capacity()) return;
  const FlowIdx i{fi - 1};
  Flow& f = flows_.at(i);
  if (tcp_conn_of(f) == nullptr || f.closing != 0) return;
  TcpConn& c = f.as<TcpConn>();
  const Seq seq{static_cast<u32>(tag >> 32)};
  if (!seq_lt(seq, c.seq_to_tap) || seq_lt(seq, c.seq_ack_from_tap)) return;
  rewind(c, seq);
  LOG_TRACE("TCP flow %u: tap dropped seq %u: rewound", i.v, seq.v - c.seq_init_to_tap.v);
  stats_.tap_rewinds++;
  // The tap is full: stop reading the socket (edge-triggered) and try again
  // shortly, rather than spin on its level-triggered readiness.
  // (The interest is updated by the next handler: a watch() here would
  // itself report the socket again.)
  c.flags |= cf::stalled;
  if (c.t_kick.is_never()) c.t_kick = now_ + kTcpKick;
  set_timer(i, c, now_);
}

// --- tap side -----------------------------------------------------------------------------

void Tcp::tap_segment(const wire::Frame& fr, Instant now) noexcept {
  now_ = now;
  share_tick(now);
  stats_.segs_from_tap++;
  const wire::TcpView& v = *fr.tcp;
  const core::FlowKey k{core::L4::tcp, Pif::tap, fr.src, fr.dst, fr.src_port, fr.dst_port};
  const FlowSidx s = flows_.lookup(k);
  if (!s.valid()) {
    info_stale();
    tap_new(fr, now);
    return;
  }
  const Flow& f = flows_.at(s.idx());
  if (tcp_conn_of(f) == nullptr || f.pif[s.side] != Pif::tap) return;

  if (nsegs_ == opt_.max_batch_segs) tap_batch_end(now);
  u32 g = kNone;
  if (last_group_ < ngroups_ && groups_[last_group_].flow == s.flow) {
    g = last_group_;
  } else {
    for (u32 n = 0; n < ngroups_; n++)
      if (groups_[n].flow == s.flow) g = n;
    if (g == kNone) {
      if (ngroups_ == opt_.max_batch_flows) tap_batch_end(now);
      g = ngroups_++;
      groups_[g] = Group{s.flow, kNone, kNone, 0};
    }
  }
  last_group_ = g;
  const u32 si = nsegs_++;
  Seg& sg = segs_[si];
  sg.seq = v.seq();
  sg.ack = v.ack();
  sg.flags = v.flags();
  sg.used = false;
  sg.window = v.window();
  sg.payload = v.payload();
  sg.opts = v.options();
  sg.next = kNone;
  Group& gr = groups_[g];
  if (gr.tail == kNone)
    gr.head = si;
  else
    segs_[gr.tail].next = si;
  gr.tail = si;
  gr.count++;
}

void Tcp::tap_batch_end(Instant now) noexcept {
  now_ = now;
  share_tick(now);
  info_stale();
  for (u32 g = 0; g < ngroups_; g++) process_group(groups_[g], now);
  nsegs_ = 0;
  ngroups_ = 0;
  last_group_ = kNone;
}

void Tcp::tap_new(const wire::Frame& fr, Instant now) noexcept {
  const u8 fl = fr.tcp->flags();
  if ((fl & tf::rst) != 0) return;  // never answer a RST
  if ((fl & (tf::syn | tf::ack | tf::fin)) == tf::syn) {
    tap_syn(fr, now);
    return;
  }
  send_rst_reply(fr);
}

void Tcp::tap_syn(const wire::Frame& fr, Instant now) noexcept {
  const wire::TcpView& v = *fr.tcp;
  const InAny& dst = fr.dst;
  const bool v4 = fr.l3 == wire::L3::ipv4;
  if (dst.is_unspecified() || dst.is_multicast() || (v4 && dst.v4().is_broadcast()) ||
      fr.src_port == 0 || fr.dst_port == 0)
    return;
  const wire::TcpOptions opts = wire::TcpOptions::parse(v.options());

  auto fi = flows_.alloc(core::L4::tcp);
  if (!fi) {
    stats_.table_full++;
    if (full_warn_.allow(now)) LOG_WARN("TCP: flow table full, resetting a new connection");
    send_rst_reply(fr);
    return;
  }
  const FlowIdx i = *fi;
  const FlowSide tap{dst, fr.src, fr.dst_port, fr.src_port};
  flows_.set_ini(i, Pif::tap, tap);
  const InAny target = core::fwd_nat_from_tap(net_, core::L4::tcp, dst, fr.dst_port);
  const ports::Family fam = target.is_v4() ? ports::Family::v4 : ports::Family::v6;

  auto fail = [&](Sock s) noexcept {
    if (s.valid()) host_.close(s);
    flows_.cancel(i);
    stats_.connect_failed++;
    send_rst_reply(fr);
  };
  bool local = is_local(target);
  auto s = host_.socket(ports::Netns::host, fam, ports::SockType::tcp);
  if (!s) return fail(Sock{});
  bool bufs_set = false;
  if (opt_.set_bufs) {
    bufs_set = host_.set_opt(*s, ports::SockOpt::sndbuf, kBufSize).ok();
    (void)host_.set_opt(*s, ports::SockOpt::rcvbuf, kBufSize);
  }
  const u16 guest_mss = clamp_mss(opts.mss.value_or(kTcpMssDefault), !v4);
  // Linux refuses a TCP_MAXSEG above 32767 (MAX_TCP_WINDOW) with EINVAL.
  if (guest_mss <= kTcpMaxsegMax) (void)host_.set_opt(*s, ports::SockOpt::tcp_maxseg, guest_mss);
  if (fam == ports::Family::v4) {
    if (net_.v4.outbound) (void)host_.bind(*s, SockAddr{InAny::from(*net_.v4.outbound), 0, 0});
    if (!net_.v4.outbound_if.empty()) (void)host_.bind_to_device(*s, net_.v4.outbound_if);
  } else {
    if (net_.v6.outbound) (void)host_.bind(*s, SockAddr{InAny::from(*net_.v6.outbound), 0, 0});
    if (!net_.v6.outbound_if.empty()) (void)host_.bind_to_device(*s, net_.v6.outbound_if);
  }
  Status st = host_.connect(*s, SockAddr{target, fr.dst_port, 0});
  if (!st && st.err() != Err::in_progress) {
    LOG_DEBUG("TCP: connect to port %u: %s", fr.dst_port, err_name(st.err()));
    return fail(*s);
  }
  auto bound = host_.local_addr(*s);
  const SockAddr la = bound ? *bound : SockAddr{};
  // The kernel picks the destination itself as the source of a connection
  // to one of the host's addresses: that answers the bind() probe for free
  // (unless we chose the source: an outbound address or interface).
  const bool fixed_src = fam == ports::Family::v4
                             ? (net_.v4.outbound.has_value() || !net_.v4.outbound_if.empty())
                             : (net_.v6.outbound.has_value() || !net_.v6.outbound_if.empty());
  const bool src_local = bound && !fixed_src && la.addr == target;
  if (src_local) local = true;
  if (!local && opt_.probe_local) local = local_by_probe(target, fam, now);
  flows_.set_tgt(i, Pif::host, FlowSide{la.addr, target, la.port, fr.dst_port});
  TcpConn& c = flows_.set_type<TcpConn>(i, core::FlowType::tcp);
  flows_.activate(i);

  c.sock = *s;
  c.fam6 = v4 ? 0 : 1;
  c.events = ce::tap_syn_rcvd;
  c.t_ack = c.t_rto = c.t_kick = c.t_fin = Instant::never();
  c.t_idle = now + kTcpActTimeout + kTcpActStep;
  c.seq_init_from_tap = v.seq() + 1;
  c.seq_from_tap = c.seq_init_from_tap;
  c.seq_ack_to_tap = c.seq_init_from_tap;
  c.seq_dup_ack = c.seq_from_tap - 1;
  c.tap_mss = guest_mss;
  if (opts.wscale) {
    c.flags |= cf::ws_ok;
    c.ws_from_tap = *opts.wscale < kMaxWsFromTap ? *opts.wscale : kMaxWsFromTap;
  }
  c.wnd_from_tap = v.window() != 0 ? v.window() : 1u;  // a SYN's window is never scaled
  c.seq_init_to_tap = isn(tap, now);
  c.seq_to_tap = c.seq_init_to_tap;
  c.seq_ack_from_tap = c.seq_init_to_tap;
  c.seq_max_to_tap = c.seq_init_to_tap;
  if (local) c.flags |= cf::local;
  if (low_rtt_lookup(target)) c.flags |= cf::low_rtt;
  if (bufs_set) c.flags |= cf::set_bufs;
  // Nothing came from the socket yet: the handshake's end need not peek
  // before a readiness event says otherwise.
  c.flags |= cf::drained;
  stats_.conns_from_tap++;
  LOG_DEBUG("TCP flow %u: guest port %u connects to %s:%u", i.v, fr.src_port, to_text(target).c_str(),
            fr.dst_port);
  // To one of the host's own addresses the kernel completed the handshake
  // inside connect(): answer the guest now rather than after a wake-up.
  if (src_local) {
    info_stale();
    if (auto ti = info_of(c); ti && ti->state == kTcpStateEstablished) {
      Flow& fl = flows_.at(i);
      connect_done(i, fl, c, ev::out, now);
      if (fl.closing != 0) return;
    }
  }
  if (c.has(ce::tap_syn_rcvd)) c.flags |= cf::sock_out;  // the end of connect() is EPOLLOUT
  update_mask(i, c);
  set_timer(i, c, now);
}

void Tcp::connect_done(FlowIdx i, Flow& f, TcpConn& c, u32 events, Instant now) noexcept {
  // Writable without an error or a hang-up: connected (no SO_ERROR to ask).
  Err e = (events & (ev::err | ev::hup)) != 0 ? host_.take_error(c.sock) : Err::none;
  if (e == Err::none && (events & ev::out) == 0) e = Err::conn_refused;  // hang-up, no error
  if (e != Err::none) {
    LOG_DEBUG("TCP: connect failed: %s", err_name(e));
    stats_.connect_failed++;
    rst_to_tap(i, f, c, "connect failed");
    return;
  }
  c.sndbuf = sndbuf_of(c, now);
  if (auto ti = info_of(c); ti) {
    if (c.flag(cf::ws_ok)) c.ws_to_tap = ti->snd_wscale < kMaxWs ? ti->snd_wscale : kMaxWs;
    low_rtt_note(f, c, *ti);
    LOG_DEBUG("TCP flow %u: connected; SO_SNDBUF %u, min RTT %u us%s%s", i.v, c.sndbuf, ti->min_rtt_us,
              c.flag(cf::local) ? ", local" : "", c.flag(cf::low_rtt) ? ", low RTT" : "");
  }
  c.events = static_cast<u16>((c.events & ~ce::kStateBits) | ce::tap_syn_ack_sent);
  if (!send_flags(i, f, c, tf::syn | tf::ack, now)) {
    // Not even a frame buffer: the retransmission timer sends it later.
  }
  c.seq_to_tap = c.seq_init_to_tap + 1;
  c.seq_max_to_tap = c.seq_to_tap;
  c.flags |= cf::ack_from_tap_due;
  arm_rto(c, now, true);
}

bool Tcp::rst_acceptable(const TcpConn& c, const Seg& s) const noexcept {
  if (c.has(ce::sock_accepted))
    return (s.flags & tf::ack) != 0 && s.ack == c.seq_init_to_tap + 1;
  // In window: from what we expect next to far beyond (the guest may have
  // sent more than reached us).
  const i32 d = s.seq.diff(c.seq_from_tap);
  return d >= 0 && d < (1 << 30);
}

bool Tcp::handshake_seg(FlowIdx i, Flow& f, TcpConn& c, const Seg& s, Instant now) noexcept {
  if ((s.flags & tf::rst) != 0) {
    if (rst_acceptable(c, s)) {
      stats_.rst_from_tap++;
      close_conn(i, f, c, true);
    }
    return false;
  }
  if (c.has(ce::sock_accepted)) {
    if ((s.flags & (tf::syn | tf::ack)) != (tf::syn | tf::ack) || s.ack != c.seq_init_to_tap + 1)
      return false;
    const wire::TcpOptions o = wire::TcpOptions::parse(s.opts);
    c.tap_mss = clamp_mss(o.mss.value_or(kTcpMssDefault), c.fam6 != 0);
    if (o.wscale) {
      c.flags |= cf::ws_ok;
      c.ws_from_tap = *o.wscale < kMaxWsFromTap ? *o.wscale : kMaxWsFromTap;
    } else {
      c.ws_to_tap = 0;
      c.ws_from_tap = 0;
    }
    c.seq_init_from_tap = s.seq + 1;
    c.seq_from_tap = c.seq_init_from_tap;
    c.seq_ack_to_tap = c.seq_init_from_tap;
    c.seq_dup_ack = c.seq_from_tap - 1;
    c.wnd_from_tap = s.window;  // not scaled in a SYN
    c.seq_ack_from_tap = s.ack;
    c.events = static_cast<u16>((c.events & ~ce::kStateBits) | ce::established);
    c.retrans = 0;
    c.flags &= static_cast<u16>(~cf::ack_from_tap_due);
    c.t_rto = Instant::never();
    note_sender(c);  // a new connection is counted as a sender at once
    (void)send_ack_if_needed(i, f, c, true, now);
    data_from_sock(i, f, c, now);
    return false;
  }
  if (c.has(ce::tap_syn_ack_sent)) {
    if ((s.flags & (tf::syn | tf::ack)) == tf::syn) {
      // The guest did not get our SYN+ACK: send it again.
      if (s.seq + 1 == c.seq_init_from_tap) {
        stats_.syn_retransmits++;
        (void)send_flags(i, f, c, tf::syn | tf::ack, now);
      }
      return false;
    }
    if ((s.flags & tf::ack) == 0 || (s.flags & tf::syn) != 0 || s.ack != c.seq_init_to_tap + 1)
      return false;
    c.seq_ack_from_tap = s.ack;
    c.wnd_from_tap = static_cast<u32>(s.window) << c.ws_from_tap;
    c.events = static_cast<u16>((c.events & ~ce::kStateBits) | ce::established);
    c.retrans = 0;
    c.flags &= static_cast<u16>(~cf::ack_from_tap_due);
    c.t_rto = Instant::never();
    note_sender(c);  // a new connection is counted as a sender at once
    // No readiness event since connect(): nothing to peek yet (as if a peek
    // had found the socket empty).
    if (c.flag(cf::drained)) c.flags |= cf::stalled;
    if (!s.payload.empty() || (s.flags & tf::fin) != 0) return true;
    if (!c.flag(cf::drained)) data_from_sock(i, f, c, now);
    return false;
  }
  // tap_syn_rcvd: connect() still running; the guest's retransmitted SYNs
  // need nothing.
  return false;
}

void Tcp::process_group(const Group& g, Instant now) noexcept {
  const FlowIdx i{g.flow};
  Flow& f = flows_.at(i);
  if (tcp_conn_of(f) == nullptr || f.closing != 0) return;
  TcpConn& c = f.as<TcpConn>();
  if (!c.sock.valid()) return;
  touch_idle(c, now);
  const bool syn_ack_sent = c.has(ce::tap_syn_ack_sent);
  const Seq to_tap_before = c.seq_to_tap;
  u32 k = g.head;
  while (k != kNone && !c.has(ce::established)) {
    const bool more = handshake_seg(i, f, c, segs_[k], now);
    if (f.closing != 0) return;
    if (more) break;
    k = segs_[k].next;
  }
  if (k != kNone && c.has(ce::established)) {
    data_from_tap(i, f, c, k, now);
  } else if (syn_ack_sent && c.has(ce::established) && c.seq_to_tap == to_tap_before) {
    // The handshake's end alone.  The SYN+ACK's window was unscaled (at most
    // 64 KiB); the guest learns the scaled one from our next segment, as
    // upstream does: a larger window is not worth a frame of its own (one
    // of five per request/response connection).  A smaller one is, or the
    // guest could send more than the socket takes: then this loop round's
    // deadline pass sends it (no frame if an ACK or data of the same round
    // carried it).
    const MirrorOut m = mirror(f, c, false, false);
    if (m.wnd < c.wnd_to_tap) {
      c.flags |= cf::ack_to_tap_due;
      c.t_ack = now;
    }
  }
  if (f.closing != 0) return;
  check_close(i, f, c);
  if (f.closing != 0) return;
  update_mask(i, c);
  set_timer(i, c, now);
}

void Tcp::ack_from_tap(FlowIdx i, Flow& f, TcpConn& c, Seq ack, u32 wnd, Instant now) noexcept {
  (void)f;
  (void)i;
  const u32 acked = static_cast<u32>(ack.diff(c.seq_ack_from_tap));
  // A window closing to zero while data is unacknowledged is ignored: Linux
  // guests can advertise it transiently (upstream's workaround for kernel
  // commit e2142825c120).
  if (!(wnd == 0 && acked != 0 && ack != c.seq_max_to_tap)) c.wnd_from_tap = wnd;
  if (acked == 0) {
    if (wnd == 0) c.retrans = 0;  // a zero-window probe answered: the guest is alive
    return;
  }
  u32 data = acked;
  if (c.has(ce::tap_fin_sent) && seq_gt(ack, c.seq_fin_to_tap)) {
    data -= 1;
    c.events |= ce::tap_fin_acked;
  }
  LOG_TRACE("TCP flow %u: guest ACKs %u (+%u, data %u)", i.v, ack.v - c.seq_init_to_tap.v, acked, data);
  if (data > 0) {
    info_stale();
    auto d = host_.discard(c.sock, data);
    if (!d || *d != data)
      LOG_DEBUG("TCP: discarded %zu of %u acknowledged bytes", d ? *d : std::size_t{0}, data);
  }
  c.seq_ack_from_tap = ack;
  if (seq_gt(ack, c.seq_to_tap)) c.seq_to_tap = ack;  // acknowledged beyond a rewind
  c.retrans = 0;
  c.dup_acks = 0;
  if (c.seq_ack_from_tap == c.seq_to_tap) {
    c.flags &= static_cast<u16>(~cf::ack_from_tap_due);
    c.t_rto = Instant::never();
  } else {
    arm_rto(c, now, true);
  }
}

void Tcp::data_from_tap(FlowIdx i, Flow& f, TcpConn& c, u32 first, Instant now) noexcept {
  const Seq ack_before = c.seq_ack_from_tap;
  const u32 wnd_before = c.wnd_from_tap;
  Seq max_ack = c.seq_ack_from_tap;
  u32 max_wnd = c.wnd_from_tap;
  Seq prev_ack = c.seq_ack_from_tap;
  u32 prev_wnd = c.wnd_from_tap;
  u32 dups = 0;
  bool advanced = false;
  bool need_ack = false;
  bool force_ack = false;
  u32 count = 0;

  // Pass 1, in arrival order: resets, ACKs and windows, keep-alives.
  for (u32 k = first; k != kNone; k = segs_[k].next) {
    Seg& s = segs_[k];
    count++;
    if ((s.flags & tf::rst) != 0) {
      if (rst_acceptable(c, s)) {
        stats_.rst_from_tap++;
        close_conn(i, f, c, true);
        return;
      }
      s.used = true;
      continue;
    }
    if ((s.flags & tf::syn) != 0) {
      // Our ACK of its SYN+ACK was lost (guest still in SYN-RECV), or
      // garbage: either way, tell it where we are.
      force_ack = true;
      s.used = true;
      continue;
    }
    if ((s.flags & tf::ack) == 0) {
      s.used = true;
      continue;
    }
    const u32 w = static_cast<u32>(s.window) << c.ws_from_tap;
    if (seq_ge(s.ack, max_ack) && seq_le(s.ack, c.seq_max_to_tap)) {
      const bool dup = s.ack == prev_ack && s.payload.empty() && (s.flags & tf::fin) == 0 &&
                       w == prev_wnd && w != 0 && c.seq_to_tap != prev_ack;
      if (seq_gt(s.ack, max_ack)) {
        advanced = true;
        dups = 0;
      } else if (dup) {
        dups++;
      }
      max_ack = s.ack;
      max_wnd = w;
      prev_ack = s.ack;
      prev_wnd = w;
    }
    // Keep-alive: at most one byte, all of it before what we expect.
    if (s.payload.size() <= 1 && (s.flags & tf::fin) == 0 &&
        seq_lt(s.seq, c.seq_from_tap) && seq_le(s.seq + static_cast<u32>(s.payload.size()), c.seq_from_tap)) {
      stats_.keepalive_acks++;
      force_ack = true;
      s.used = true;
    }
    if (s.payload.empty() && (s.flags & tf::fin) == 0) s.used = true;
  }

  ack_from_tap(i, f, c, max_ack, max_wnd, now);
  if (advanced) {
    c.dup_acks = static_cast<u8>(dups > kDupAckThreshold ? kDupAckThreshold : dups);
  } else if (c.dup_acks != kRecovering) {
    const u32 n = c.dup_acks + dups;
    c.dup_acks = static_cast<u8>(n > kDupAckThreshold ? kDupAckThreshold : n);
  }
  bool retransmit = false;
  if (c.dup_acks != kRecovering && c.dup_acks >= kDupAckThreshold &&
      c.seq_to_tap != c.seq_ack_from_tap) {
    stats_.fast_retransmits++;
    LOG_TRACE("TCP flow %u: fast retransmit from %u", i.v, c.seq_ack_from_tap.v - c.seq_init_to_tap.v);
    rewind(c, c.seq_ack_from_tap);
    c.dup_acks = kRecovering;
    retransmit = true;
  }

  // Pass 2: in-order payload.  Segments may arrive reordered within the
  // batch, so pass until nothing more fits (bounded by the count).
  Seq expected = c.seq_from_tap;
  u32 nw = 0;
  std::size_t total = 0;
  bool fin = false;
  bool progress = true;
  const bool input_closed = c.has(ce::tap_fin_rcvd);
  for (u32 pass = 0; progress && !fin && pass <= count; pass++) {
    progress = false;
    for (u32 k = first; k != kNone && !fin; k = segs_[k].next) {
      Seg& s = segs_[k];
      if (s.used) continue;
      const u32 len = static_cast<u32>(s.payload.size());
      const Seq end = s.seq + len;
      if (seq_gt(s.seq, expected)) continue;  // not yet (or a gap)
      s.used = true;
      if (input_closed) {
        force_ack = true;  // e.g. its FIN again: our ACK of it was lost
        continue;
      }
      if (seq_gt(end, expected)) {
        const u32 off = static_cast<u32>(expected.diff(s.seq));
        wiov_[nw++] = s.payload.subspan(off);
        total += len - off;
        expected = end;
        progress = true;
      } else if (len > 0 || (s.flags & tf::fin) == 0 || end != expected) {
        force_ack = true;  // all of it seen before: tell the guest again
      }
      if ((s.flags & tf::fin) != 0 && end == expected) fin = true;
    }
  }
  bool gap = false;
  for (u32 k = first; k != kNone; k = segs_[k].next) {
    if (!segs_[k].used) {
      gap = true;
      stats_.ooo_dropped++;
    }
  }

  if (total > 0) {
    info_stale();
    auto r = host_.send(c.sock, std::span<const Bytes>(wiov_, nw), false);
    std::size_t written = 0;
    if (r) {
      written = *r;
    } else if (r.err() != Err::again) {
      LOG_DEBUG("TCP: send to socket: %s", err_name(r.err()));
      rst_to_tap(i, f, c, "send to socket failed");
      return;
    }
    c.seq_from_tap += static_cast<u32>(written);
    stats_.bytes_from_tap += written;
    if (written > 0) note_sender(c);
    if (written < total) {
      stats_.partial_writes++;
      c.flags |= cf::sock_out;  // the socket says when it takes more
      fin = false;  // the FIN follows bytes the socket did not take
    }
    need_ack = true;
  }
  if (fin) {
    c.seq_from_tap += 1;
    c.events |= ce::tap_fin_rcvd;
    if (!c.has(ce::sock_fin_rcvd)) c.flags |= cf::active_close;
    stats_.fin_from_tap++;
    info_stale();
    if (host_.shutdown_write(c.sock)) c.events |= ce::sock_fin_sent;
    need_ack = true;
  }

  // Socket -> guest: the guest's ACK may have opened its window.  When
  // the last peek emptied the socket there is nothing a wider window could
  // let out: new data comes with its own readiness event (a peek here
  // would only return EAGAIN, once per guest ACK on a request/response
  // connection).
  const Seq to_tap_before = c.seq_to_tap;
  const bool moved = c.seq_ack_from_tap != ack_before || c.wnd_from_tap != wnd_before;
  if (retransmit || (moved && !c.flag(cf::drained)) || !c.flag(cf::stalled))
    data_from_sock(i, f, c, now);
  if (f.closing != 0) return;
  // Data frames just sent carry the current ACK and window.
  if (c.seq_to_tap != to_tap_before && !force_ack) need_ack = false;

  if (gap && c.seq_dup_ack != c.seq_from_tap) {
    // Out-of-order data was dropped: duplicate ACKs make the guest
    // retransmit at once (fast retransmit) rather than after its RTO.
    (void)send_ack_if_needed(i, f, c, true, now);
    send_dup_acks(f, c, kDupAcksSent);
    c.seq_dup_ack = c.seq_from_tap;
  } else if (force_ack || need_ack) {
    (void)send_ack_if_needed(i, f, c, force_ack, now);
  }
}

// --- host side ---------------------------------------------------------------------------

void Tcp::sock_event(FlowSidx s, u32 events, Instant now) noexcept {
  now_ = now;
  share_tick(now);
  info_stale();
  if (s.flow >= flows_.capacity()) return;
  const FlowIdx i = s.idx();
  Flow& f = flows_.at(i);
  if (tcp_conn_of(f) == nullptr || f.closing != 0) return;
  TcpConn& c = f.as<TcpConn>();
  if (!c.sock.valid()) return;
  LOG_TRACE("TCP flow %u: socket events %#x, state %#x flags %#x mask %#x, to tap %u/%u fin %u", i.v,
            events, c.events, c.flags, c.sock_mask, c.seq_to_tap.v - c.seq_ack_from_tap.v,
            c.seq_max_to_tap.v - c.seq_ack_from_tap.v, c.seq_fin_to_tap.v - c.seq_ack_from_tap.v);
  touch_idle(c, now);
  // The registration is wider than what this state acts on (update_mask()).
  // New data clears `drained` in every state: the handshake's end peeks.
  if ((events & (ev::in | ev::rdhup | ev::hup)) != 0) c.flags &= static_cast<u16>(~cf::drained);
  events &= static_cast<u32>(sock_wanted(c)) | ev::err | ev::hup;
  if (c.has(ce::tap_syn_rcvd)) {
    if ((events & (ev::out | ev::err | ev::hup)) != 0) connect_done(i, f, c, events, now);
    // The registration stays as it is (no re-arm that would report the
    // socket again): a far end that closed at once told us so now.
    if (f.closing == 0 && !c.has(ce::tap_syn_rcvd) && (events & (ev::rdhup | ev::hup)) != 0)
      c.events |= ce::sock_fin_rcvd;
  } else {
    if ((events & ev::err) != 0) {
      const Err e = host_.take_error(c.sock);
      if (e != Err::none) {
        LOG_DEBUG("TCP: socket error: %s", err_name(e));
        rst_to_tap(i, f, c, "socket error");
        return;
      }
    }
    if ((events & (ev::rdhup | ev::hup)) != 0) c.events |= ce::sock_fin_rcvd;
    if (c.has(ce::established)) {
      const Seq to_tap_before = c.seq_to_tap;
      if ((events & (ev::in | ev::rdhup | ev::hup)) != 0) {
        data_from_sock(i, f, c, now);
        if (f.closing != 0) return;
      }
      if ((events & ev::out) != 0) {
        // The far end acknowledged: the window to the guest may open.  A
        // send buffer we sized ourselves is not tuned by the kernel any
        // more, and data frames just sent carry the current ACK and window.
        if (!c.flag(cf::set_bufs))
          c.sndbuf = static_cast<u32>(
              host_.get_opt(c.sock, ports::SockOpt::sndbuf).value_or(static_cast<int>(c.sndbuf)));
        if (c.seq_to_tap == to_tap_before) (void)send_ack_if_needed(i, f, c, false, now);
      }
    }
  }
  if (f.closing != 0) return;
  check_close(i, f, c);
  if (f.closing != 0) return;
  update_mask(i, c);
  set_timer(i, c, now);
}

void Tcp::data_from_sock(FlowIdx i, Flow& f, TcpConn& c, Instant now) noexcept {
  if (!c.has(ce::established) || f.closing != 0 || !c.sock.valid()) return;
  if (!c.t_kick.is_never()) {
    c.flags |= cf::stalled;  // the tap refused frames: wait for the kick
    return;
  }
  const bool fin_known = c.has(ce::tap_fin_sent);
  if (fin_known && c.seq_to_tap == c.seq_fin_to_tap + 1) return;  // all sent, FIN too

  auto send_fin = [&]() noexcept {
    if (!fin_known) c.seq_fin_to_tap = c.seq_to_tap;
    if (send_flags(i, f, c, tf::fin | tf::ack, now)) stats_.fin_to_tap++;
    c.events |= ce::tap_fin_sent;
    c.seq_to_tap = c.seq_fin_to_tap + 1;
    if (seq_gt(c.seq_to_tap, c.seq_max_to_tap)) c.seq_max_to_tap = c.seq_to_tap;
    c.flags |= cf::ack_from_tap_due;
    c.flags &= static_cast<u16>(~cf::stalled);
    arm_rto(c, now, false);
  };

  u64 wnd = c.wnd_from_tap;
  if (wnd > kMaxWindow) wnd = kMaxWindow;
  const u32 mss = seg_mss(c);
  u64 sent = c.in_flight();
  if (sent >= wnd) {
    // The guest's window is full (or zero): wait for its ACK; the timer
    // retransmits or probes if none comes.
    c.flags |= cf::stalled | cf::ack_from_tap_due;
    arm_rto(c, now, false);
    return;
  }
  auto limit_now = [&]() noexcept -> u64 {
    const u64 s = c.in_flight();
    u64 lim = wnd > s ? wnd - s : 0;
    if (fin_known) {
      const u64 to_fin = static_cast<u32>(c.seq_fin_to_tap.diff(c.seq_to_tap));
      if (to_fin < lim) lim = to_fin;
    }
    return lim;
  };
  u64 limit = limit_now();
  if (limit == 0) {
    if (fin_known && c.seq_to_tap == c.seq_fin_to_tap) send_fin();
    return;
  }
  const bool v6 = c.fam6 != 0;
  // GSO output (TapOut::gso): frames of as many MSS as one IP packet holds,
  // cut by the guest's kernel if it must (docs/linux-adapters.md).
  const u32 step = out_.gso() ? gso_step(mss, v6) : mss;
  u64 nf = (limit + step - 1) / step;
  if (nf > opt_.frames_per_peek) nf = opt_.frames_per_peek;
  const std::size_t hdr = header_len(v6, 0);
  const std::size_t n = out_.reserve_many(hdr + step, std::span<MutBytes>(bufs_, nf));
  LOG_TRACE("TCP flow %u: from socket: in flight %llu, window %llu, limit %llu, %zu frames", i.v,
            static_cast<unsigned long long>(sent), static_cast<unsigned long long>(wnd),
            static_cast<unsigned long long>(limit), n);
  if (n == 0) return;
  // Reserving may have flushed the queue, and a frame the tap did not take
  // rewinds its connection (maybe this one): read the offsets only now.
  sent = c.in_flight();
  limit = limit_now();
  u64 want = static_cast<u64>(n) * step;
  if (want > limit) want = limit;
  if (want == 0) {
    out_.abandon();
    return;
  }
  std::size_t niov = 0;
  for (u64 off = 0; off < want; off += step) {
    const u64 len = want - off < step ? want - off : step;
    iov_[niov] = bufs_[niov].subspan(hdr, len);
    niov++;
  }
  auto r = host_.peek(c.sock, sent, std::span<const MutBytes>(iov_, niov));
  std::size_t got = 0;
  if (r) {
    got = *r;
  } else if (r.err() != Err::again) {
    out_.abandon();
    LOG_DEBUG("TCP: peek: %s", err_name(r.err()));
    rst_to_tap(i, f, c, "peek failed");
    return;
  }
  if (got == 0) {
    out_.abandon();
    if (c.has(ce::sock_fin_rcvd) && (!fin_known || c.seq_to_tap == c.seq_fin_to_tap)) {
      send_fin();
    } else {
      c.flags |= cf::stalled | cf::drained;  // nothing new: wait for the socket's next wake-up
    }
    return;
  }
  MirrorOut m = mirror(f, c, false, false);
  std::size_t nframes = 0;
  const Seq base = c.seq_to_tap;
  // The far end closed and this peek reached the end of its data: the FIN
  // rides on the last segment, as the kernel sends it after a write and a
  // close (one frame less per request/response connection).  Retransmissions
  // send it apart (send_fin() below).
  const bool fin_here = got < want && c.has(ce::sock_fin_rcvd) && !fin_known;
  LOG_TRACE("TCP flow %u: peeked %zu at offset %llu (seq %u)%s", i.v, got,
            static_cast<unsigned long long>(sent), base.v - c.seq_init_to_tap.v, fin_here ? ", FIN" : "");
  for (std::size_t off = 0; off < got; off += step) {
    const std::size_t len = got - off < step ? got - off : step;
    const bool last = off + len == got;
    wire::TcpRepr t;
    const FlowSide& ts = f.side[tcp_tap_side(f)];
    t.src_port = ts.oport;
    t.dst_port = ts.eport;
    t.seq = base + static_cast<u32>(off);
    t.ack = m.ack;
    t.flags = static_cast<u8>(tf::ack | (last ? tf::psh : 0) | (last && fin_here ? tf::fin : 0));
    t.window = m.wnd_field;
    t.payload_len = len;
    const std::size_t flen = hdr + len;
    write_headers(bufs_[nframes].first(flen), f, c, t);
    lens_[nframes] = flen;
    tags_[nframes] = make_tag(i, t.seq);
    nframes++;
  }
  out_.commit_many_gso(std::span<const std::size_t>(lens_, nframes), std::span<const u64>(tags_, nframes),
                       step > mss ? static_cast<u16>(mss) : u16{0});
  stats_.frames_to_tap += nframes;
  stats_.bytes_to_tap += got;
  c.seq_to_tap += static_cast<u32>(got);
  if (seq_gt(c.seq_to_tap, c.seq_max_to_tap)) c.seq_max_to_tap = c.seq_to_tap;
  c.seq_ack_to_tap = m.ack;
  c.wnd_to_tap = m.wnd_field;
  if (m.ack_lagging) stats_.ack_lagging++;
  note_ack_due(c, m, now);
  c.flags |= cf::ack_from_tap_due;
  if (fin_here) {
    c.seq_fin_to_tap = c.seq_to_tap;
    c.events |= ce::tap_fin_sent;
    c.seq_to_tap = c.seq_fin_to_tap + 1;
    if (seq_gt(c.seq_to_tap, c.seq_max_to_tap)) c.seq_max_to_tap = c.seq_to_tap;
    c.flags &= static_cast<u16>(~cf::stalled);
    stats_.fin_to_tap++;
  }
  arm_rto(c, now, false);

  if (fin_here) {
    // All sent, FIN too.
  } else if (got < want) {
    // The socket had less than we asked for: all it holds is sent.
    if (c.has(ce::sock_fin_rcvd) && (!fin_known || c.seq_to_tap == c.seq_fin_to_tap))
      send_fin();
    else
      c.flags |= cf::stalled | cf::drained;
  } else if (fin_known && c.seq_to_tap == c.seq_fin_to_tap) {
    send_fin();
  } else if (c.in_flight() >= wnd || !c.t_kick.is_never()) {
    c.flags |= cf::stalled;
  } else {
    // Stopped by the frame budget: more may follow at the next readiness.
    c.flags &= static_cast<u16>(~cf::stalled);
  }
}

// --- timers --------------------------------------------------------------------------------

void Tcp::timer(FlowIdx i, Instant now) noexcept {
  now_ = now;
  share_tick(now);
  info_stale();
  Flow& f = flows_.at(i);
  if (tcp_conn_of(f) == nullptr || f.closing != 0) {
    timers_.clear(i.v);
    return;
  }
  TcpConn& c = f.as<TcpConn>();
  if (c.t_kick <= now) {
    c.t_kick = Instant::never();
    data_from_sock(i, f, c, now);
    if (f.closing != 0) return;
  }
  if (c.t_ack <= now) {
    c.t_ack = Instant::never();
    c.flags &= static_cast<u16>(~cf::ack_to_tap_due);
    // Counted as a poll that found nothing new unless an update goes out
    // (send_ack_if_needed resets it), before the next poll is scheduled.
    if (c.wnd_polls < 0xff) c.wnd_polls++;
    (void)send_ack_if_needed(i, f, c, false, now);
  }
  if (c.t_rto <= now) {
    c.t_rto = Instant::never();
    rto_expired(i, f, c, now);
    if (f.closing != 0) return;
  }
  if (c.t_fin <= now) {
    stats_.fin_timeouts++;
    rst_to_tap(i, f, c, "FIN timeout");
    return;
  }
  if (c.t_idle <= now) {
    stats_.idle_timeouts++;
    rst_to_tap(i, f, c, "activity timeout");
    return;
  }
  check_close(i, f, c);
  if (f.closing != 0) return;
  update_mask(i, c);
  set_timer(i, c, now);
}

void Tcp::rto_expired(FlowIdx i, Flow& f, TcpConn& c, Instant now) noexcept {
  if (!c.flag(cf::ack_from_tap_due)) return;
  if (!c.has(ce::established)) {
    if (c.has(ce::tap_syn_rcvd)) return;  // the kernel's connect() has its own timeout
    if (c.retrans >= kHandshakeRetries) {
      stats_.handshake_timeouts++;
      rst_to_tap(i, f, c, "handshake timeout");
      return;
    }
    c.retrans++;
    stats_.syn_retransmits++;
    if (c.has(ce::sock_accepted)) {
      MirrorOut m = mirror(f, c, true, true);
      (void)emit_segment(f, c, c.seq_init_to_tap, Seq{}, tf::syn, m.wnd_field, true, 0);
      c.wnd_to_tap = m.wnd_field;
    } else {
      (void)send_flags(i, f, c, tf::syn | tf::ack, now);
    }
    arm_rto(c, now, true);
    return;
  }
  if (c.retrans >= kTcpMaxRetrans) {
    stats_.retrans_limit++;
    rst_to_tap(i, f, c, "retransmission limit");
    return;
  }
  c.retrans++;
  if (c.wnd_from_tap == 0 && c.seq_to_tap == c.seq_ack_from_tap) {
    send_probe(f, c, now);
    arm_rto(c, now, true);
    return;
  }
  stats_.timeout_retransmits++;
  LOG_TRACE("TCP flow %u: retransmission timeout, from %u", i.v, c.seq_ack_from_tap.v - c.seq_init_to_tap.v);
  rewind(c, c.seq_ack_from_tap);
  c.dup_acks = 0;
  data_from_sock(i, f, c, now);
  if (f.closing != 0) return;
  arm_rto(c, now, true);
}

}  // namespace passt::proto
