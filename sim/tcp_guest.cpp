#include "sim/tcp_guest.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>

#include "sim/pattern.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace passt::sim {

namespace tf = wire::tcp_flag;

namespace {

enum class GState : u8 { free, syn_sent, syn_rcvd, established, linger };

constexpr u64 kUnknown = ~u64{0};
constexpr Duration kReadTick = Duration::millis(10);
constexpr Duration kLinkRetry = Duration::millis(1);

u64 mn(u64 a, u64 b) noexcept { return a < b ? a : b; }

}  // namespace

const char* guest_outcome_name(GuestOutcome o) noexcept {
  switch (o) {
    case GuestOutcome::pending: return "pending";
    case GuestOutcome::done: return "done";
    case GuestOutcome::reset: return "reset";
    case GuestOutcome::refused: return "refused";
    case GuestOutcome::aborted: return "aborted";
    case GuestOutcome::failed: return "failed";
  }
  return "?";
}

struct TcpGuest::Conn {
  GState st = GState::free;
  bool v6 = false;
  InAny laddr;
  InAny raddr;
  u16 lport = 0;
  u16 rport = 0;
  GuestApp app;
  u32 iss = 0;
  u32 irs = 0;
  // Sending (offsets of our stream; our FIN sits at send_total).
  u64 snd_una = 0;
  u64 snd_nxt = 0;
  u64 snd_max = 0;
  u64 written = 0;      // bytes the application has written so far
  u64 send_total = 0;   // bytes it will write in all (final once fin_queued)
  bool fin_queued = false;
  bool syn_acked = false;
  u64 snd_wnd = 0;
  u8 snd_ws = 0;
  u8 rcv_ws = 0;
  u16 peer_mss = 536;
  u32 dupacks = 0;
  u64 fr_done = kUnknown;  // snd_una at the last fast retransmit
  // Receiving.
  u64 rcv_nxt = 0;
  u64 app_read = 0;
  bool fin_rcvd = false;
  u64 adv_edge = 0;
  u64 last_adv = 0;     // window (bytes) last advertised
  // Timers.
  Instant rto_at = Instant::never();
  Instant persist_at = Instant::never();
  Instant read_at = Instant::never();
  Instant linger_until = Instant::never();
  Instant retry_at = Instant::never();
  Instant last_rx;      // keep-alive: idle since
  u32 ka_sent = 0;
  Duration rto;
  u32 retries = 0;
};

struct TcpGuest::Seg {
  bool v6 = false;
  InAny src;
  InAny dst;
  u16 sport = 0;
  u16 dport = 0;
  u32 seq = 0;
  u32 ack = 0;
  u8 flags = 0;
  u16 window = 0;
  Bytes payload;
  std::optional<u16> mss;
  std::optional<u8> ws;
  bool has(u8 f) const noexcept { return (flags & f) != 0; }
};

TcpGuest::TcpGuest(const TcpGuestConfig& cfg, Prng rng)
    : cfg_(cfg),
      rng_(rng),
      conns_(new Conn[cfg.max_conns > 0 ? cfg.max_conns : 1]),
      frame_cap_(static_cast<std::size_t>(cfg_.mtu) + wire::kEthHeaderLen) {
  frame_.reset(new u8[frame_cap_]);
}

TcpGuest::~TcpGuest() = default;

void TcpGuest::violate(const char* fmt, ...) noexcept {
  if (violation_[0] != '\0') return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(violation_, sizeof(violation_), fmt, ap);
  va_end(ap);
}

u32 TcpGuest::wire_snd(const Conn& c, u64 off) const noexcept {
  return c.iss + 1 + static_cast<u32>(off);
}

u32 TcpGuest::wire_rcv(const Conn& c) const noexcept {
  return c.irs + 1 + static_cast<u32>(c.rcv_nxt) + (c.fin_rcvd ? 1u : 0u);
}

u64 TcpGuest::rcv_space(const Conn& c) const noexcept {
  const u64 held = c.rcv_nxt - c.app_read;
  return held >= cfg_.rcvbuf ? 0 : cfg_.rcvbuf - held;
}

u16 TcpGuest::window_field(Conn& c, bool syn) noexcept {
  if (syn) {
    c.last_adv = mn(cfg_.rcvbuf, 65535);
    return static_cast<u16>(c.last_adv);
  }
  u64 edge = c.app_read + cfg_.rcvbuf;
  if (edge < c.adv_edge) edge = c.adv_edge;  // never shrink
  c.adv_edge = edge;
  const u64 w = edge > c.rcv_nxt ? edge - c.rcv_nxt : 0;
  u64 field = w >> c.rcv_ws;
  if (field > 65535) field = 65535;
  const u64 adv = field << c.rcv_ws;
  if (adv == 0 && c.last_adv != 0) stats_.zero_windows++;
  c.last_adv = adv;
  return static_cast<u16>(field);
}

TcpGuest::Conn* TcpGuest::find(bool v6, const InAny& raddr, u16 rport, u16 lport) noexcept {
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    Conn& c = conns_[i];
    if (c.st != GState::free && c.v6 == v6 && c.rport == rport && c.lport == lport && c.raddr == raddr)
      return &c;
  }
  return nullptr;
}

TcpGuest::Conn* TcpGuest::alloc() noexcept {
  for (u32 i = 0; i < cfg_.max_conns; i++)
    if (conns_[i].st == GState::free) {
      conns_[i] = Conn{};
      conns_[i].rto = cfg_.rto_min;
      return &conns_[i];
    }
  // Reuse the oldest lingering connection if need be.
  for (u32 i = 0; i < cfg_.max_conns; i++)
    if (conns_[i].st == GState::linger) {
      conns_[i] = Conn{};
      conns_[i].rto = cfg_.rto_min;
      return &conns_[i];
    }
  return nullptr;
}

u32 TcpGuest::live_conns() const noexcept {
  u32 n = 0;
  for (u32 i = 0; i < cfg_.max_conns; i++)
    if (conns_[i].st != GState::free && conns_[i].st != GState::linger) n++;
  return n;
}

const char* TcpGuest::describe_pending() noexcept {
  std::size_t used = 0;
  pending_[0] = '\0';
  for (u32 i = 0; i < cfg_.max_conns && used + 160 < sizeof(pending_); i++) {
    const Conn& c = conns_[i];
    if (c.st == GState::free || c.st == GState::linger) continue;
    const int n = std::snprintf(
        pending_ + used, sizeof(pending_) - used,
        "[tag %u %u->%s:%u st=%u una=%llu nxt=%llu max=%llu total=%llu finq=%d wnd=%llu rcv=%llu "
        "read=%llu fin_rcvd=%d] ",
        c.app.tag, c.lport, to_text(c.raddr).c_str(), c.rport, static_cast<unsigned>(c.st),
        static_cast<unsigned long long>(c.snd_una), static_cast<unsigned long long>(c.snd_nxt),
        static_cast<unsigned long long>(c.snd_max), static_cast<unsigned long long>(c.send_total),
        c.fin_queued ? 1 : 0, static_cast<unsigned long long>(c.snd_wnd),
        static_cast<unsigned long long>(c.rcv_nxt), static_cast<unsigned long long>(c.app_read),
        c.fin_rcvd ? 1 : 0);
    if (n < 0) break;
    used += static_cast<std::size_t>(n);
  }
  return pending_;
}

// --- sending -----------------------------------------------------------------------

bool TcpGuest::send_raw(bool v6, const InAny& src, const InAny& dst, u16 sport, u16 dport, u32 seq,
                        u32 ack, u8 flags, u16 window, bool syn_opts, u64 stream, u64 off,
                        u32 len) noexcept {
  if (port_ == nullptr) return false;
  wire::TcpRepr t;
  t.src_port = sport;
  t.dst_port = dport;
  t.seq = Seq{seq};
  t.ack = Seq{ack};
  t.flags = flags;
  t.window = window;
  if (syn_opts) {
    if (cfg_.send_mss) t.options.mss = static_cast<u16>(cfg_.mtu - (v6 ? 60 : 40));
    if (cfg_.offer_ws) t.options.wscale = cfg_.wscale;
  }
  t.payload_len = len;
  const std::size_t l3 = wire::kEthHeaderLen;
  const std::size_t l4 = l3 + (v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen);
  const std::size_t total = l4 + t.length();
  if (total > frame_cap_) return false;
  MutBytes f(frame_.get(), total);
  wire::EthernetRepr eth{cfg_.router_mac, cfg_.mac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(f);
  if (len > 0) fill_pattern(stream, off, f.subspan(l4 + t.header_len(), len));
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = src.v4();
    ip.dst = dst.v4();
    ip.protocol = wire::ipproto::tcp;
    ip.ttl = 64;
    ip.dont_fragment = true;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(f.subspan(l3));
    (void)t.emit(f.subspan(l4, t.length()), ip.src, ip.dst);
  } else {
    wire::Ipv6Repr ip;
    ip.src = src.v6();
    ip.dst = dst.v6();
    ip.next_header = wire::ipproto::tcp;
    ip.hop_limit = 64;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(f.subspan(l3));
    (void)t.emit(f.subspan(l4, t.length()), ip.src, ip.dst);
  }
  if (!port_->guest_send(Bytes(f))) {
    stats_.refused_by_link++;
    return false;
  }
  stats_.frames_out++;
  return true;
}

bool TcpGuest::send_seg(Conn& c, u64 off, u32 len, u8 flags, Instant now) noexcept {
  (void)now;
  const bool syn = (flags & tf::syn) != 0;
  const u32 seq = syn ? c.iss : wire_snd(c, off);
  const u32 ack = (flags & tf::ack) != 0 ? wire_rcv(c) : 0;
  const u64 stream = c.app.echo ? c.app.recv_stream : c.app.send_stream;
  return send_raw(c.v6, c.laddr, c.raddr, c.lport, c.rport, seq, ack, flags, window_field(c, syn), syn,
                  stream, off, len);
}

void TcpGuest::send_ack(Conn& c, Instant now) noexcept {
  (void)send_seg(c, c.snd_nxt, 0, tf::ack, now);
}

void TcpGuest::send_rst_reply(const Seg& s) noexcept {
  if (s.has(tf::rst)) return;
  stats_.rst_sent++;
  if (s.has(tf::ack)) {
    (void)send_raw(s.v6, s.dst, s.src, s.dport, s.sport, s.ack, 0, tf::rst, 0, false, 0, 0, 0);
  } else {
    const u32 len = static_cast<u32>(s.payload.size()) + (s.has(tf::syn) ? 1u : 0u) +
                    (s.has(tf::fin) ? 1u : 0u);
    (void)send_raw(s.v6, s.dst, s.src, s.dport, s.sport, 0, s.seq + len, tf::rst | tf::ack, 0, false,
                   0, 0, 0);
  }
}

void TcpGuest::arm_rto(Conn& c, Instant now) noexcept {
  if (c.rto_at.is_never()) c.rto_at = now + c.rto;
}

void TcpGuest::output(Conn& c, Instant now) noexcept {
  if (c.st != GState::established) return;
  const u32 mtu_mss = cfg_.mtu - (c.v6 ? 60u : 40u);
  const u64 mss = mn(c.peer_mss, mtu_mss);
  for (u32 n = 0; n < cfg_.burst; n++) {
    const u64 edge = c.snd_una + c.snd_wnd;
    if (c.snd_nxt < c.written && c.snd_nxt < edge) {
      const u64 len = mn(mn(mss, c.written - c.snd_nxt), edge - c.snd_nxt);
      const bool fin = c.fin_queued && c.snd_nxt + len == c.send_total;
      const u8 flags = static_cast<u8>(tf::ack | tf::psh | (fin ? tf::fin : 0));
      if (!send_seg(c, c.snd_nxt, static_cast<u32>(len), flags, now)) {
        c.retry_at = now + kLinkRetry;
        break;
      }
      c.snd_nxt += len + (fin ? 1 : 0);
    } else if (c.fin_queued && c.snd_nxt == c.send_total) {
      if (!send_seg(c, c.snd_nxt, 0, tf::ack | tf::fin, now)) {
        c.retry_at = now + kLinkRetry;
        break;
      }
      c.snd_nxt = c.send_total + 1;
    } else {
      break;
    }
    if (c.snd_nxt > c.snd_max) c.snd_max = c.snd_nxt;
  }
  if (c.snd_max > c.snd_una) arm_rto(c, now);
  if (c.snd_wnd == 0 && c.written > c.snd_nxt && c.snd_nxt == c.snd_una && c.persist_at.is_never())
    c.persist_at = now + c.rto;
}

// --- the application ----------------------------------------------------------------

void TcpGuest::app_run(Conn& c, Instant now) noexcept {
  if (c.st != GState::established) return;
  const u64 room = c.snd_una + cfg_.sndbuf > c.written ? c.snd_una + cfg_.sndbuf - c.written : 0;
  if (c.app.echo) {
    const u64 n = mn(c.rcv_nxt - c.app_read, room);
    c.app_read += n;
    c.written += n;
    c.send_total = c.written;
    if (c.fin_rcvd && c.app_read == c.rcv_nxt) c.fin_queued = true;
  } else {
    c.send_total = c.app.send_bytes;
    c.written = mn(c.send_total, c.written + room);
    if (!c.app.fin_after_peer || c.fin_rcvd) c.fin_queued = true;
    if (c.app.read_rate == 0) {
      c.app_read = c.rcv_nxt;
    } else if (c.app_read < c.rcv_nxt && c.read_at.is_never()) {
      c.read_at = now + kReadTick;
    }
  }
}

void TcpGuest::maybe_window_update(Conn& c, Instant now) noexcept {
  if (c.st != GState::established || c.fin_rcvd) return;
  // Announce a window that opened: from zero, or by half the buffer.
  const u64 edge = c.app_read + cfg_.rcvbuf;
  const u64 could = edge > c.rcv_nxt ? edge - c.rcv_nxt : 0;
  if ((c.last_adv == 0 && (could >> c.rcv_ws) > 0) || could >= c.last_adv + cfg_.rcvbuf / 2) {
    if (cfg_.wnd_update_drop_ppm != 0 && rng_.chance(cfg_.wnd_update_drop_ppm)) {
      stats_.window_updates_dropped++;
      return;  // as if lost: the peer must probe the zero window
    }
    stats_.window_updates++;
    send_ack(c, now);
  }
}

// --- receiving ------------------------------------------------------------------------

void TcpGuest::on_frame(Bytes frame, Instant now) noexcept {
  stats_.frames_in++;
  auto pf = wire::parse_frame(frame);
  if (!pf) {
    stats_.frames_bad++;
    return;
  }
  const wire::Frame& f = *pf;
  if (!wire::frame_checksums_ok(f)) {
    stats_.frames_bad++;
    return;
  }
  if (f.l4 != wire::L4::tcp) {
    stats_.frames_other++;
    return;
  }
  Seg s;
  s.v6 = f.l3 == wire::L3::ipv6;
  s.src = f.src;
  s.dst = f.dst;
  if ((!s.v6 && s.dst != InAny::from(cfg_.addr4)) || (s.v6 && s.dst != InAny::from(cfg_.addr6))) {
    stats_.frames_other++;
    return;
  }
  const wire::TcpView& t = *f.tcp;
  s.sport = t.src_port();
  s.dport = t.dst_port();
  s.seq = t.seq().v;
  s.ack = t.ack().v;
  s.flags = t.flags();
  s.window = t.window();
  s.payload = t.payload();
  if (s.has(tf::syn)) {
    const wire::TcpOptions o = wire::TcpOptions::parse(t.options());
    s.mss = o.mss;
    s.ws = o.wscale;
  }
  Conn* c = find(s.v6, s.src, s.sport, s.dport);
  if (c == nullptr) {
    if (s.has(tf::syn) && !s.has(tf::ack) && !s.has(tf::rst)) {
      for (const Listener& l : listeners_) {
        if (!l.used || l.port != s.dport) continue;
        Conn* n = alloc();
        if (n == nullptr) break;
        n->st = GState::syn_rcvd;
        n->v6 = s.v6;
        n->laddr = s.dst;
        n->raddr = s.src;
        n->lport = s.dport;
        n->rport = s.sport;
        n->app = l.app;
        n->irs = s.seq;
        n->iss = rng_.next_u32();
        n->peer_mss = s.mss.value_or(536);
        if (s.ws && cfg_.offer_ws) {
          n->snd_ws = *s.ws > 14 ? 14 : *s.ws;
          n->rcv_ws = cfg_.wscale;
        }
        n->snd_wnd = s.window;
        n->last_rx = now;
        tags_[n->app.tag % kMaxTags].opened++;
        (void)send_seg(*n, 0, 0, tf::syn | tf::ack, now);
        arm_rto(*n, now);
        return;
      }
    }
    send_rst_reply(s);
    return;
  }
  c->last_rx = now;
  c->ka_sent = 0;
  input(*c, s, now);
}

void TcpGuest::input_syn_sent(Conn& c, const Seg& s, Instant now) noexcept {
  if (s.has(tf::ack) && s.ack != c.iss + 1) {
    if (!s.has(tf::rst)) send_rst_reply(s);
    return;
  }
  if (s.has(tf::rst)) {
    if (s.has(tf::ack)) end(c, GuestOutcome::refused, now);
    return;
  }
  if (!s.has(tf::syn) || !s.has(tf::ack)) return;
  c.irs = s.seq;
  c.syn_acked = true;
  c.peer_mss = s.mss.value_or(536);
  if (s.ws && cfg_.offer_ws) {
    c.snd_ws = *s.ws > 14 ? 14 : *s.ws;
    c.rcv_ws = cfg_.wscale;
  }
  c.snd_wnd = s.window;  // not scaled in a SYN
  c.st = GState::established;
  c.rto_at = Instant::never();
  c.retries = 0;
  c.rto = cfg_.rto_min;
  app_run(c, now);
  send_ack(c, now);
  output(c, now);
}

void TcpGuest::input(Conn& c, const Seg& s, Instant now) noexcept {
  if (c.st == GState::syn_sent) {
    input_syn_sent(c, s, now);
    return;
  }
  if (c.st == GState::linger) {
    if (!s.has(tf::rst) && (s.has(tf::fin) || !s.payload.empty())) send_ack(c, now);
    return;
  }
  if (s.has(tf::rst)) {
    const i32 d = static_cast<i32>(s.seq - wire_rcv(c));
    if (d < 0 || d >= (1 << 30)) return;
    // In LAST-ACK (both FINs sent) a reset only ends what the application
    // already closed: the peer took everything and dropped the connection,
    // and its last ACK was lost (passt keeps no TIME-WAIT).  The remote
    // peers' own checks tell whether the data really arrived.
    const bool last_ack = c.st == GState::established && c.fin_rcvd && c.fin_queued &&
                          c.snd_max == c.send_total + 1;
    end(c, last_ack ? GuestOutcome::done : GuestOutcome::reset, now);
    return;
  }
  if (c.st == GState::syn_rcvd) {
    if (s.has(tf::syn) && !s.has(tf::ack)) {
      if (s.seq == c.irs) (void)send_seg(c, 0, 0, tf::syn | tf::ack, now);
      return;
    }
    if (!s.has(tf::ack) || s.has(tf::syn) || s.ack != c.iss + 1) return;
    c.syn_acked = true;
    c.st = GState::established;
    c.snd_wnd = static_cast<u64>(s.window) << c.snd_ws;
    c.rto_at = Instant::never();
    c.retries = 0;
    c.rto = cfg_.rto_min;
    app_run(c, now);
  }
  if (s.has(tf::syn)) {
    // Our ACK of the peer's SYN+ACK was lost.
    if (s.has(tf::ack) && s.seq == c.irs) send_ack(c, now);
    return;
  }
  if (!s.has(tf::ack)) return;
  take_ack(c, s, now);
  if (c.st != GState::established) return;
  take_data(c, s, now);
  if (c.st != GState::established) return;
  app_run(c, now);
  output(c, now);
  check_done(c, now);
  maybe_window_update(c, now);
}

void TcpGuest::take_ack(Conn& c, const Seg& s, Instant now) noexcept {
  const i64 d = static_cast<i32>(s.ack - wire_snd(c, c.snd_una));
  const u64 wnd = static_cast<u64>(s.window) << c.snd_ws;
  if (d < 0) return;  // old
  const u64 ack = c.snd_una + static_cast<u64>(d);
  if (ack > c.snd_max) {
    violate("tag %u port %u: peer acknowledged offset %llu, beyond the %llu bytes sent", c.app.tag,
            c.lport, static_cast<unsigned long long>(ack), static_cast<unsigned long long>(c.snd_max));
    return;
  }
  if (ack > c.snd_una) {
    const u64 data_end = c.fin_queued ? c.send_total : kUnknown;
    const u64 new_data = mn(ack, data_end) - mn(c.snd_una, data_end);
    tags_[c.app.tag % kMaxTags].bytes_out += new_data;
    c.snd_una = ack;
    if (c.snd_nxt < c.snd_una) c.snd_nxt = c.snd_una;
    c.retries = 0;
    c.rto = cfg_.rto_min;
    c.rto_at = c.snd_max > c.snd_una ? now + c.rto : Instant::never();
    c.dupacks = 0;
  } else if (s.payload.empty() && !s.has(tf::fin) && wnd == c.snd_wnd && c.snd_max > c.snd_una) {
    stats_.dup_acks_in++;
    if (++c.dupacks >= 3 && c.fr_done != c.snd_una) {
      stats_.fast_retransmits++;
      c.fr_done = c.snd_una;
      c.snd_nxt = c.snd_una;
    }
  }
  c.snd_wnd = wnd;
  if (wnd > 0) c.persist_at = Instant::never();
}

void TcpGuest::take_data(Conn& c, const Seg& s, Instant now) noexcept {
  const u64 len = s.payload.size();
  const bool fin = s.has(tf::fin);
  const u32 expect_wire = c.irs + 1 + static_cast<u32>(c.rcv_nxt);
  const i64 d = static_cast<i32>(s.seq - expect_wire);
  if (len == 0 && !fin) {
    if (d < 0) send_ack(c, now);  // a probe or keep-alive: answer with our window
    return;
  }
  if (c.fin_rcvd) {
    send_ack(c, now);  // a retransmission after the FIN
    return;
  }
  if (d > 0) {
    stats_.segs_ooo++;
    send_ack(c, now);
    return;
  }
  const u64 skip = static_cast<u64>(-d);
  if (skip > len || (skip == len && !fin)) {
    send_ack(c, now);
    return;
  }
  const u64 n = len - skip;
  const u64 take = mn(n, rcv_space(c));
  if (take > 0 && c.app.verify) {
    const Bytes b = s.payload.subspan(skip, take);
    const std::size_t bad = check_pattern(c.app.recv_stream, c.rcv_nxt, b);
    if (bad != b.size()) {
      const u64 at = c.rcv_nxt + bad;
      violate("tag %u port %u: received byte %llu of stream %llu is wrong", c.app.tag, c.lport,
              static_cast<unsigned long long>(at), static_cast<unsigned long long>(c.app.recv_stream));
    }
  }
  c.rcv_nxt += take;
  tags_[c.app.tag % kMaxTags].bytes_in += take;
  if (fin && take == n) {
    c.fin_rcvd = true;
    if (c.app.verify && c.app.expect_bytes != kUnknown && c.rcv_nxt != c.app.expect_bytes)
      violate("tag %u port %u: stream ended after %llu bytes, expected %llu", c.app.tag, c.lport,
              static_cast<unsigned long long>(c.rcv_nxt),
              static_cast<unsigned long long>(c.app.expect_bytes));
  }
  if (c.rcv_nxt >= c.app.abort_after) {
    stats_.rst_sent++;
    (void)send_raw(c.v6, c.laddr, c.raddr, c.lport, c.rport, wire_snd(c, c.snd_nxt), wire_rcv(c),
                   tf::rst | tf::ack, 0, false, 0, 0, 0);
    end(c, GuestOutcome::aborted, now);
    return;
  }
  app_run(c, now);
  send_ack(c, now);
}

void TcpGuest::check_done(Conn& c, Instant now) noexcept {
  // Data still unread in our buffer is the application's business, not
  // TCP's: once both FINs are through, the connection is over.
  if (c.st != GState::established || !c.fin_rcvd || !c.fin_queued || c.snd_una != c.send_total + 1)
    return;
  end(c, GuestOutcome::done, now);
}

void TcpGuest::end(Conn& c, GuestOutcome o, Instant now) noexcept {
  TagStats& t = tags_[c.app.tag % kMaxTags];
  switch (o) {
    case GuestOutcome::done: t.done++; break;
    case GuestOutcome::reset: t.reset++; break;
    case GuestOutcome::refused: t.refused++; break;
    case GuestOutcome::aborted: t.aborted++; break;
    case GuestOutcome::failed: t.failed++; break;
    case GuestOutcome::pending: break;
  }
  c.rto_at = c.persist_at = c.read_at = c.retry_at = Instant::never();
  if (o == GuestOutcome::done) {
    c.st = GState::linger;
    c.linger_until = now + cfg_.linger;
  } else {
    c.st = GState::free;
  }
}

// --- API and timers --------------------------------------------------------------------

bool TcpGuest::connect(const InAny& dst, u16 dport, const GuestApp& app, Instant now) noexcept {
  Conn* c = alloc();
  if (c == nullptr) return false;
  c->st = GState::syn_sent;
  c->v6 = !dst.is_v4();
  c->laddr = c->v6 ? InAny::from(cfg_.addr6) : InAny::from(cfg_.addr4);
  c->raddr = dst;
  c->rport = dport;
  c->app = app;
  for (u32 tries = 0; tries < 64; tries++) {
    const u16 p = static_cast<u16>(rng_.range(32768, 60999));
    if (find(c->v6, dst, dport, p) == nullptr) {
      c->lport = p;
      break;
    }
  }
  c->iss = rng_.next_u32();
  c->last_rx = now;
  tags_[app.tag % kMaxTags].opened++;
  (void)send_seg(*c, 0, 0, tf::syn, now);
  arm_rto(*c, now);
  return true;
}

bool TcpGuest::listen(u16 port, const GuestApp& app) noexcept {
  for (Listener& l : listeners_) {
    if (l.used) continue;
    l.used = true;
    l.port = port;
    l.app = app;
    return true;
  }
  return false;
}

void TcpGuest::on_link(bool up, Instant now) noexcept {
  if (!up) return;
  for (u32 i = 0; i < cfg_.max_conns; i++)
    if (conns_[i].st == GState::established) conns_[i].retry_at = now;
}

Instant TcpGuest::next_deadline() const noexcept {
  Instant t = Instant::never();
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    const Conn& c = conns_[i];
    if (c.st == GState::free) continue;
    t = earliest(t, c.rto_at);
    t = earliest(t, c.persist_at);
    t = earliest(t, c.read_at);
    t = earliest(t, c.linger_until);
    t = earliest(t, c.retry_at);
    if (c.st == GState::established && cfg_.keepalive.ns > 0)
      t = earliest(t, c.last_rx + cfg_.keepalive * (static_cast<i64>(c.ka_sent) + 1));
  }
  return t;
}

void TcpGuest::on_deadline(Instant now) noexcept {
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    Conn& c = conns_[i];
    if (c.st == GState::free) continue;
    if (c.linger_until <= now) {
      c.st = GState::free;
      continue;
    }
    if (c.retry_at <= now) {
      c.retry_at = Instant::never();
      output(c, now);
    }
    if (c.read_at <= now) {
      c.read_at = Instant::never();
      u64 allow = c.app.read_rate * static_cast<u64>(kReadTick.ns) / 1000000000ULL;
      if (allow == 0) allow = 1;
      c.app_read += mn(allow, c.rcv_nxt - c.app_read);
      app_run(c, now);
      if (c.app_read < c.rcv_nxt) c.read_at = now + kReadTick;
      output(c, now);
      check_done(c, now);
      if (c.st != GState::established) continue;
      maybe_window_update(c, now);
    }
    if (c.persist_at <= now) {
      c.persist_at = Instant::never();
      if (c.st == GState::established && c.snd_wnd == 0 && c.written > c.snd_una) {
        stats_.probes++;
        (void)send_raw(c.v6, c.laddr, c.raddr, c.lport, c.rport, wire_snd(c, c.snd_una) - 1,
                       wire_rcv(c), tf::ack, window_field(c, false), false, 0, 0, 0);
        c.persist_at = now + c.rto;
        if (c.rto * 2 <= cfg_.rto_max) c.rto = c.rto * 2;
      }
    }
    if (c.st == GState::established && cfg_.keepalive.ns > 0 &&
        c.last_rx + cfg_.keepalive * (static_cast<i64>(c.ka_sent) + 1) <= now) {
      // SO_KEEPALIVE: an old sequence number makes the peer answer (with an
      // ACK, or with a RST if it forgot the connection).
      if (++c.ka_sent > cfg_.keepalive_probes) {
        end(c, GuestOutcome::failed, now);
        continue;
      }
      stats_.keepalives++;
      (void)send_raw(c.v6, c.laddr, c.raddr, c.lport, c.rport, wire_snd(c, c.snd_nxt) - 1, wire_rcv(c),
                     tf::ack, window_field(c, false), false, 0, 0, 0);
    }
    if (c.rto_at <= now) {
      c.rto_at = Instant::never();
      stats_.timeouts++;
      if (++c.retries > cfg_.max_retries) {
        stats_.rst_sent++;
        (void)send_raw(c.v6, c.laddr, c.raddr, c.lport, c.rport, wire_snd(c, c.snd_nxt), wire_rcv(c),
                       tf::rst | tf::ack, 0, false, 0, 0, 0);
        end(c, GuestOutcome::failed, now);
        continue;
      }
      c.rto = c.rto * 2 <= cfg_.rto_max ? c.rto * 2 : cfg_.rto_max;
      if (c.st == GState::syn_sent) {
        (void)send_seg(c, 0, 0, tf::syn, now);
      } else if (c.st == GState::syn_rcvd) {
        (void)send_seg(c, 0, 0, tf::syn | tf::ack, now);
      } else if (c.st == GState::established) {
        c.snd_nxt = c.snd_una;
        output(c, now);
      }
      if (c.st != GState::established || c.snd_max > c.snd_una) arm_rto(c, now);
    }
  }
}

}  // namespace passt::sim
