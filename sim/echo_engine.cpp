#include "sim/echo_engine.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "sim/pattern.hpp"
#include "util/endian.hpp"

namespace passt::sim {

using ports::Sock;
using ports::SockType;
namespace ev = ports::ev;

namespace {
constexpr std::size_t kDgramSlot = 4096;
constexpr std::size_t kDgramBatch = 8;
}  // namespace

const char* flow_kind_name(FlowKind k) noexcept {
  switch (k) {
    case FlowKind::tcp_echo: return "tcp_echo";
    case FlowKind::tcp_source: return "tcp_source";
    case FlowKind::tcp_sink: return "tcp_sink";
    case FlowKind::tcp_slow: return "tcp_slow";
    case FlowKind::tcp_reset: return "tcp_reset";
    case FlowKind::tcp_refused: return "tcp_refused";
    case FlowKind::tcp_inbound: return "tcp_inbound";
    case FlowKind::udp_echo: return "udp_echo";
    case FlowKind::ping: return "ping";
  }
  return "?";
}

EchoEngine::EchoEngine(ports::Ports ports, std::size_t max_frame, Instant start)
    : p_(ports), max_frame_(max_frame), start_(start), rng_(0) {
  u8 seed[8];
  p_.entropy.fill(MutBytes(seed, sizeof(seed)));
  u64 s = 0;
  for (u8 b : seed) s = (s << 8) | b;
  rng_ = Prng(s);
  bounce_.reset(new u8[kMaxBounce * max_frame_]);
  io_.reset(new u8[kIo]);
}

bool EchoEngine::add_flow(const FlowPlan& p) noexcept {
  if (n_flows_ == kMaxFlows) return false;
  flows_[n_flows_] = Flow{};
  flows_[n_flows_].plan = p;
  if (flows_[n_flows_].plan.chunk == 0) flows_[n_flows_].plan.chunk = 1;
  if (flows_[n_flows_].plan.chunk > kIo) flows_[n_flows_].plan.chunk = kIo;
  n_flows_++;
  return true;
}

void EchoEngine::fail(Flow& f, const char* fmt, ...) noexcept {
  const std::size_t idx = static_cast<std::size_t>(&f - flows_);
  if (error_[0] == '\0') {
    int n = std::snprintf(error_, sizeof(error_), "flow %zu (%s): ", idx, flow_kind_name(f.plan.kind));
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof(error_))
      std::vsnprintf(error_ + n, sizeof(error_) - static_cast<std::size_t>(n), fmt, ap);
    va_end(ap);
  }
  f.st = St::failed;
}

bool EchoEngine::all_done() const noexcept {
  for (std::size_t i = 0; i < n_flows_; i++)
    if (flows_[i].st != St::done) return false;
  return true;
}

const char* EchoEngine::pending() noexcept {
  for (std::size_t i = 0; i < n_flows_; i++) {
    const Flow& f = flows_[i];
    if (f.st == St::done) continue;
    static constexpr const char* kSt[] = {"waiting", "connecting", "open", "done", "failed"};
    std::snprintf(pending_, sizeof(pending_),
                  "flow %zu (%s) %s: sent %llu rcvd %llu of %llu, shut=%d eof=%d accepted=%u", i,
                  flow_kind_name(f.plan.kind), kSt[static_cast<u8>(f.st)],
                  static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.rcvd),
                  static_cast<unsigned long long>(f.plan.bytes), f.shut ? 1 : 0, f.eof ? 1 : 0,
                  f.accepted);
    return pending_;
  }
  return "all flows done";
}

u64 EchoEngine::ref_of(const Flow& f, u32 sub) const noexcept {
  const u64 idx = static_cast<u64>(&f - flows_);
  return (idx << 32) | (static_cast<u64>(sub) << 16) | f.gen;
}

void EchoEngine::set_interest(Flow& f, u32 want) noexcept {
  if (want == f.interest) return;
  f.interest = want;
  auto st = p_.net.watch(f.sock, want | (f.plan.edge ? ev::edge : 0u), ref_of(f, 0));
  if (!st) fail(f, "watch: %s", err_name(st.err()));
}

void EchoEngine::finish(Flow& f) noexcept {
  if (f.plan.kind == FlowKind::tcp_inbound) {
    for (Child& ch : f.child) {
      if (ch.open) p_.net.close(ch.sock);
      ch.open = false;
    }
  }
  if (f.sock.valid()) p_.net.close(f.sock);
  f.sock = Sock{};
  f.st = St::done;
}

// --- tap -----------------------------------------------------------------------------

void EchoEngine::on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept {
  (void)now;
  for (Bytes fr : frames) {
    if (n_bounce_ == kMaxBounce || fr.size() > max_frame_) {
      bounce_dropped_++;
      continue;
    }
    u8* dst = bounce_.get() + n_bounce_ * max_frame_;
    std::memcpy(dst, fr.data(), fr.size());
    if (fr.size() >= 12) {
      for (std::size_t i = 0; i < 6; i++) {
        const u8 t = dst[i];
        dst[i] = dst[6 + i];
        dst[6 + i] = t;
      }
    }
    bounce_len_[n_bounce_++] = fr.size();
  }
}

void EchoEngine::on_tap_state(bool connected, Instant now) noexcept {
  (void)now;
  tap_up_ = connected;
}

void EchoEngine::flush(Instant now) noexcept {
  if (n_bounce_ == 0) return;
  for (std::size_t i = 0; i < n_bounce_; i++)
    bounce_view_[i] = Bytes(bounce_.get() + i * max_frame_, bounce_len_[i]);
  const std::size_t taken = p_.tap.send(std::span<const Bytes>(bounce_view_, n_bounce_));
  bounced_ += taken;
  // Keep what the link did not take, in order, for the next flush.
  const std::size_t left = n_bounce_ - taken;
  for (std::size_t i = 0; i < left; i++) {
    std::memmove(bounce_.get() + i * max_frame_, bounce_.get() + (taken + i) * max_frame_,
                 bounce_len_[taken + i]);
    bounce_len_[i] = bounce_len_[taken + i];
  }
  n_bounce_ = left;
  retry_at_ = left > 0 ? now + Duration::millis(1) : Instant::never();
}

// --- timers ------------------------------------------------------------------------------

Instant EchoEngine::next_deadline() const noexcept {
  Instant t = retry_at_;
  for (std::size_t i = 0; i < n_flows_; i++)
    if (flows_[i].st == St::waiting) t = earliest(t, start_ + flows_[i].plan.start);
  return t;
}

void EchoEngine::on_deadline(Instant now) noexcept {
  if (retry_at_ <= now) retry_at_ = Instant::never();  // flush() retries
  for (std::size_t i = 0; i < n_flows_; i++) {
    Flow& f = flows_[i];
    if (f.st == St::waiting && start_ + f.plan.start <= now) start_flow(f);
  }
}

// --- flows -----------------------------------------------------------------------------

void EchoEngine::start_flow(Flow& f) noexcept {
  const FlowPlan& p = f.plan;
  const SockType type = p.kind == FlowKind::udp_echo ? SockType::udp
                        : p.kind == FlowKind::ping   ? SockType::ping
                                                     : SockType::tcp;
  auto s = p_.net.socket(p.ns, p.fam, type);
  if (!s) {
    fail(f, "socket: %s", err_name(s.err()));
    return;
  }
  f.sock = *s;
  f.gen++;
  f.interest = 0;
  if (p.sndbuf > 0) (void)p_.net.set_opt(f.sock, ports::SockOpt::sndbuf, p.sndbuf);
  if (p.rcvbuf > 0) (void)p_.net.set_opt(f.sock, ports::SockOpt::rcvbuf, p.rcvbuf);
  switch (p.kind) {
    case FlowKind::tcp_inbound: {
      (void)p_.net.set_opt(f.sock, ports::SockOpt::reuseaddr, 1);
      if (auto st = p_.net.bind(f.sock, p.peer); !st) return fail(f, "bind: %s", err_name(st.err()));
      if (auto st = p_.net.listen(f.sock, 16); !st) return fail(f, "listen: %s", err_name(st.err()));
      f.st = St::open;
      set_interest(f, ev::in);
      return;
    }
    case FlowKind::udp_echo:
    case FlowKind::ping: {
      (void)p_.net.set_opt(f.sock, ports::SockOpt::rcvbuf, 131072);
      if (p.connect_udp) {
        if (auto st = p_.net.connect(f.sock, p.peer); !st)
          return fail(f, "connect: %s", err_name(st.err()));
      }
      f.st = St::open;
      set_interest(f, ev::in);
      dgram_send(f);
      return;
    }
    default: break;
  }
  auto st = p_.net.connect(f.sock, p.peer);
  if (st.err() == Err::in_progress) {
    f.st = St::connecting;
    set_interest(f, ev::in | ev::out | ev::rdhup);
    return;
  }
  if (p.kind == FlowKind::tcp_refused && st.err() == Err::conn_refused) return finish(f);
  if (!st) return fail(f, "connect: %s", err_name(st.err()));
  f.st = St::open;  // immediate success is legal for a HostNet
  set_interest(f, ev::in | ev::out | ev::rdhup);
}

void EchoEngine::on_socket_event(u64 ref, u32 events, Instant now) noexcept {
  (void)now;
  const u64 idx = ref >> 32;
  if (idx >= n_flows_) return;
  Flow& f = flows_[idx];
  if ((ref & 0xffff) != f.gen) return;  // an older socket of this flow
  if (f.st == St::done || f.st == St::failed || f.st == St::waiting) return;  // stale
  const u32 sub = static_cast<u32>((ref >> 16) & 0xffff);
  switch (f.plan.kind) {
    case FlowKind::tcp_inbound:
      if (sub == 0) listener_event(f);
      else if (sub <= kMaxClients) child_event(f, sub - 1, events);
      return;
    case FlowKind::udp_echo:
    case FlowKind::ping:
      if ((events & ev::err) != 0) {
        Err e = p_.net.take_error(f.sock);
        return fail(f, "unexpected socket error %s", err_name(e));
      }
      dgram_event(f);
      return;
    default: tcp_event(f, events); return;
  }
}

void EchoEngine::tcp_event(Flow& f, u32 events) noexcept {
  if (f.st == St::connecting) {
    if ((events & (ev::out | ev::err | ev::hup)) == 0) return;
    const Err e = p_.net.take_error(f.sock);
    if (f.plan.kind == FlowKind::tcp_refused) {
      if (e == Err::conn_refused) return finish(f);
      return fail(f, "expected connection refused, got %s", err_name(e));
    }
    // A peer that resets at once can do so before the engine sees the
    // connection complete.
    if (f.plan.kind == FlowKind::tcp_reset && (e == Err::conn_reset || e == Err::broken_pipe))
      return finish(f);
    if (e != Err::none) return fail(f, "connect failed: %s", err_name(e));
    f.st = St::open;
  }
  if (f.st == St::open) tcp_io(f, events);
}

void EchoEngine::tcp_io(Flow& f, u32 events) noexcept {
  const FlowKind k = f.plan.kind;
  if (k == FlowKind::tcp_refused) return fail(f, "connected where nothing listens");
  if (!tcp_write(f) || !tcp_read(f, events) || !tcp_check_info(f)) return;
  switch (k) {
    case FlowKind::tcp_echo:
      if (f.shut && f.eof) {
        if (f.rcvd != f.plan.bytes)
          return fail(f, "EOF after %llu of %llu echoed bytes", static_cast<unsigned long long>(f.rcvd),
                      static_cast<unsigned long long>(f.plan.bytes));
        return finish(f);
      }
      break;
    case FlowKind::tcp_source:
      if (f.eof) {
        if (f.rcvd != f.plan.bytes)
          return fail(f, "EOF after %llu of %llu bytes", static_cast<unsigned long long>(f.rcvd),
                      static_cast<unsigned long long>(f.plan.bytes));
        return finish(f);
      }
      break;
    case FlowKind::tcp_sink:
    case FlowKind::tcp_slow:
      if (f.shut && f.eof) {
        auto q = p_.net.send_queue(f.sock);
        if (q.ok() && *q != 0)
          return fail(f, "peer closed with %zu bytes unacknowledged", *q);
        return finish(f);
      }
      break;
    case FlowKind::tcp_reset:
      if (f.eof) return fail(f, "peer closed without the expected reset");
      break;
    default: break;
  }
  u32 want = 0;
  if (!f.eof) want |= ev::in | ev::rdhup;
  if (k != FlowKind::tcp_source && f.sent < f.plan.bytes) want |= ev::out;
  set_interest(f, want);
}

bool EchoEngine::tcp_write(Flow& f) noexcept {
  const FlowKind k = f.plan.kind;
  if (k == FlowKind::tcp_source) return true;
  while (f.sent < f.plan.bytes) {
    std::size_t n = f.plan.chunk;
    if (f.plan.bytes - f.sent < n) n = f.plan.bytes - f.sent;
    fill_pattern(f.plan.stream, f.sent, MutBytes(io_.get(), n));
    const std::size_t cut = rng_.below(n + 1);
    const Bytes iov[2] = {Bytes(io_.get(), cut), Bytes(io_.get() + cut, n - cut)};
    auto r = p_.net.send(f.sock, std::span<const Bytes>(iov, 2), rng_.chance(100000));
    if (!r) {
      if (r.err() == Err::again) return true;
      if (k == FlowKind::tcp_reset && (r.err() == Err::conn_reset || r.err() == Err::broken_pipe)) {
        finish(f);
        return false;
      }
      fail(f, "send: %s", err_name(r.err()));
      return false;
    }
    if (*r == 0) {
      fail(f, "send took 0 of %zu bytes", n);
      return false;
    }
    f.sent += *r;
  }
  if (!f.shut) {
    if (auto st = p_.net.shutdown_write(f.sock); !st) {
      fail(f, "shutdown: %s", err_name(st.err()));
      return false;
    }
    f.shut = true;
  }
  return true;
}

bool EchoEngine::tcp_read(Flow& f, u32 events) noexcept {
  const FlowKind k = f.plan.kind;
  const bool expect_data = k == FlowKind::tcp_echo || k == FlowKind::tcp_source;
  const u64 stream = k == FlowKind::tcp_source ? f.plan.expect_stream : f.plan.stream;
  for (;;) {
    // Peek in chunks at increasing offsets, verify, then discard the lot.
    std::size_t off = 0;
    bool reset = false;
    while (off + f.plan.chunk <= kIo) {
      const MutBytes iov[1] = {MutBytes(io_.get() + off, f.plan.chunk)};
      auto r = p_.net.peek(f.sock, off, std::span<const MutBytes>(iov, 1));
      if (!r) {
        if (r.err() == Err::again) break;
        if ((r.err() == Err::conn_reset || r.err() == Err::broken_pipe) && k == FlowKind::tcp_reset) {
          reset = true;
          break;
        }
        fail(f, "peek at %zu: %s", off, err_name(r.err()));
        return false;
      }
      if (*r == 0) break;
      if (!expect_data) {
        fail(f, "unexpected %zu bytes from a peer that sends nothing", *r);
        return false;
      }
      const u64 got = f.rcvd + off + *r;
      if (k == FlowKind::tcp_echo && got > f.sent) {
        fail(f, "echo returned more than was sent (%llu > %llu)", static_cast<unsigned long long>(got),
             static_cast<unsigned long long>(f.sent));
        return false;
      }
      const std::size_t bad = check_pattern(stream, f.rcvd + off, Bytes(io_.get() + off, *r));
      if (bad != *r) {
        const u64 at = f.rcvd + off + bad;
        fail(f, "byte %llu of the stream is wrong", static_cast<unsigned long long>(at));
        return false;
      }
      off += *r;
    }
    if (off > 0) {
      auto d = p_.net.discard(f.sock, off);
      if (!d || *d != off) {
        fail(f, "discard of %zu returned %zu", off, d.ok() ? *d : 0);
        return false;
      }
      f.rcvd += off;
    }
    if (reset) {
      finish(f);
      return false;
    }
    if (off == 0) break;  // drained: would block, or end of stream
  }
  if ((events & ev::err) != 0) {
    const Err e = p_.net.take_error(f.sock);
    if ((e == Err::conn_reset || e == Err::broken_pipe) && k == FlowKind::tcp_reset) {
      finish(f);
      return false;
    }
    if (e != Err::none) {
      fail(f, "socket error %s", err_name(e));
      return false;
    }
  }
  if ((events & ev::rdhup) != 0) f.eof = true;
  return true;
}

bool EchoEngine::tcp_check_info(Flow& f) noexcept {
  auto ti = p_.net.tcp_info(f.sock);
  if (!ti) {
    fail(f, "tcp_info: %s", err_name(ti.err()));
    return false;
  }
  if (ti->has_bytes_acked) {
    if (ti->bytes_acked < f.acked) {
      fail(f, "bytes_acked went backwards (%llu < %llu)", static_cast<unsigned long long>(ti->bytes_acked),
           static_cast<unsigned long long>(f.acked));
      return false;
    }
    // A FIN (after shutdown) counts one in both, as in Linux.
    const u64 fin = f.shut ? 1 : 0;
    if (ti->bytes_acked > f.sent + fin) {
      fail(f, "bytes_acked %llu exceeds bytes written %llu", static_cast<unsigned long long>(ti->bytes_acked),
           static_cast<unsigned long long>(f.sent));
      return false;
    }
    f.acked = ti->bytes_acked;
    auto q = p_.net.send_queue(f.sock);
    if (!q || *q != f.sent + fin - f.acked) {
      fail(f, "send queue %zu != written %llu - acked %llu", q.ok() ? *q : 0,
           static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.acked));
      return false;
    }
  } else if (ti->bytes_acked != 0) {
    fail(f, "bytes_acked reported although the kernel lacks it");
    return false;
  }
  if (!ti->has_snd_wnd && ti->snd_wnd != 0) {
    fail(f, "snd_wnd reported although the kernel lacks it");
    return false;
  }
  return true;
}

// --- inbound -----------------------------------------------------------------------------

void EchoEngine::listener_event(Flow& f) noexcept {
  for (;;) {
    ports::SockAddr peer;
    auto c = p_.net.accept(f.sock, &peer);
    if (!c) {
      if (c.err() == Err::again) return;
      return fail(f, "accept: %s", err_name(c.err()));
    }
    u32 k = 0;
    while (k < kMaxClients && (k < f.accepted || f.child[k].open)) k++;
    if (k >= kMaxClients || k >= f.plan.clients) {
      p_.net.close(*c);
      return fail(f, "more connections than the %u expected", f.plan.clients);
    }
    Child& ch = f.child[k];
    ch = Child{};
    ch.sock = *c;
    ch.open = true;
    ch.interest = ev::in | ev::rdhup;
    f.accepted++;
    if (auto st = p_.net.watch(ch.sock, ch.interest | (f.plan.edge ? ev::edge : 0u), ref_of(f, k + 1)); !st)
      return fail(f, "watch: %s", err_name(st.err()));
  }
}

void EchoEngine::child_event(Flow& f, u32 k, u32 events) noexcept {
  Child& c = f.child[k];
  if (!c.open) return;
  if ((events & ev::err) != 0) {
    const Err e = p_.net.take_error(c.sock);
    if (e != Err::none) return fail(f, "client %u: socket error %s", k, err_name(e));
  }
  c.blocked = false;
  for (;;) {
    const MutBytes iov[1] = {MutBytes(io_.get(), f.plan.chunk)};
    auto r = p_.net.peek(c.sock, 0, std::span<const MutBytes>(iov, 1));
    if (!r) {
      if (r.err() == Err::again) break;
      return fail(f, "client %u: peek: %s", k, err_name(r.err()));
    }
    if (*r == 0) {
      if ((events & ev::rdhup) != 0) c.eof = true;
      break;
    }
    const Bytes out[1] = {Bytes(io_.get(), *r)};
    auto s = p_.net.send(c.sock, std::span<const Bytes>(out, 1), false);
    if (!s) {
      if (s.err() == Err::again) {
        c.blocked = true;
        break;
      }
      return fail(f, "client %u: send: %s", k, err_name(s.err()));
    }
    auto d = p_.net.discard(c.sock, *s);  // only what the socket took
    if (!d || *d != *s) return fail(f, "client %u: discard", k);
    c.echoed += *s;
    if (*s < *r) {
      c.blocked = true;
      break;
    }
  }
  if (c.eof && !c.blocked) {
    (void)p_.net.shutdown_write(c.sock);
    p_.net.close(c.sock);
    c.open = false;
    f.closed_children++;
    if (f.closed_children == f.plan.clients) finish(f);
    return;
  }
  // While blocked, reading more is pointless (and level-triggered ev::in
  // would spin): wait for space only.
  const u32 want = c.blocked ? ev::out : (ev::in | ev::rdhup);
  if (want != c.interest) {
    c.interest = want;
    if (auto st = p_.net.watch(c.sock, want | (f.plan.edge ? ev::edge : 0u), ref_of(f, k + 1)); !st)
      return fail(f, "watch: %s", err_name(st.err()));
  }
}

// --- datagrams -----------------------------------------------------------------------------

std::size_t EchoEngine::dgram_len(const Flow& f, u64 seq) const noexcept {
  const std::size_t hdr = f.plan.kind == FlowKind::ping ? 8 : 4;
  std::size_t max = f.plan.dgram_max < hdr ? hdr : f.plan.dgram_max;
  if (max > kDgramSlot) max = kDgramSlot;
  return hdr + mix64(f.plan.stream + seq) % (max - hdr + 1);
}

void EchoEngine::build_dgram(const Flow& f, u64 seq, MutBytes out) const noexcept {
  if (f.plan.kind == FlowKind::ping) {
    out[0] = f.plan.fam == ports::Family::v4 ? 8 : 128;
    out[1] = 0;
    store_be16(out.data() + 2, 0);
    store_be16(out.data() + 4, 0);
    store_be16(out.data() + 6, static_cast<u16>(seq));
    fill_pattern(f.plan.stream ^ mix64(seq), 0, out.subspan(8));
  } else {
    store_be32(out.data(), static_cast<u32>(seq));
    fill_pattern(f.plan.stream ^ mix64(seq), 0, out.subspan(4));
  }
}

void EchoEngine::dgram_send(Flow& f) noexcept {
  while (f.sent < f.plan.bytes && f.sent - f.rcvd < f.plan.window) {
    ports::SendSlot msgs[kDgramBatch];
    Bytes iov[kDgramBatch][2];
    std::size_t n = 0;
    while (n < kDgramBatch && f.sent + n < f.plan.bytes && f.sent + n - f.rcvd < f.plan.window) {
      const u64 seq = f.sent + n;
      const std::size_t len = dgram_len(f, seq);
      MutBytes buf(io_.get() + n * kDgramSlot, len);
      build_dgram(f, seq, buf);
      const std::size_t cut = rng_.below(len + 1);
      iov[n][0] = Bytes(buf.data(), cut);
      iov[n][1] = Bytes(buf.data() + cut, len - cut);
      msgs[n].iov = std::span<const Bytes>(iov[n], 2);
      msgs[n].to = f.plan.connect_udp ? nullptr : &f.plan.peer;
      n++;
    }
    auto r = p_.net.send_batch(f.sock, std::span<const ports::SendSlot>(msgs, n));
    if (!r) {
      if (r.err() == Err::again) return;
      return fail(f, "send_batch: %s", err_name(r.err()));
    }
    if (*r == 0) return;
    f.sent += *r;
  }
}

void EchoEngine::dgram_event(Flow& f) noexcept {
  const bool ping = f.plan.kind == FlowKind::ping;
  for (;;) {
    ports::RecvSlot slots[kDgramBatch];
    for (std::size_t i = 0; i < kDgramBatch; i++) slots[i].buf = MutBytes(io_.get() + i * kDgramSlot, kDgramSlot);
    auto r = p_.net.recv_batch(f.sock, std::span<ports::RecvSlot>(slots, kDgramBatch));
    if (!r) {
      if (r.err() == Err::again) break;
      return fail(f, "recv_batch: %s", err_name(r.err()));
    }
    for (std::size_t i = 0; i < *r; i++) {
      const ports::RecvSlot& s = slots[i];
      const u64 seq = f.rcvd;
      if (seq >= f.sent) return fail(f, "datagram %llu received but never sent", static_cast<unsigned long long>(seq));
      const std::size_t want = dgram_len(f, seq);
      if (s.len != want)
        return fail(f, "datagram %llu: %zu bytes, expected %zu", static_cast<unsigned long long>(seq), s.len, want);
      const u8* d = s.buf.data();
      if (ping) {
        const u8 reply = f.plan.fam == ports::Family::v4 ? 0 : 129;
        if (d[0] != reply || load_be16(d + 6) != static_cast<u16>(seq))
          return fail(f, "echo reply %llu: type %u seq %u", static_cast<unsigned long long>(seq), d[0],
                      load_be16(d + 6));
        if (check_pattern(f.plan.stream ^ mix64(seq), 0, Bytes(d + 8, s.len - 8)) != s.len - 8)
          return fail(f, "echo reply %llu: payload differs", static_cast<unsigned long long>(seq));
        if (!(s.peer.addr == f.plan.peer.addr)) return fail(f, "echo reply from the wrong address");
      } else {
        if (load_be32(d) != static_cast<u32>(seq))
          return fail(f, "datagram %u arrived, expected %llu", load_be32(d), static_cast<unsigned long long>(seq));
        if (check_pattern(f.plan.stream ^ mix64(seq), 0, Bytes(d + 4, s.len - 4)) != s.len - 4)
          return fail(f, "datagram %llu: payload differs", static_cast<unsigned long long>(seq));
        if (!(s.peer == f.plan.peer)) return fail(f, "datagram %llu from the wrong peer", static_cast<unsigned long long>(seq));
      }
      f.rcvd++;
    }
  }
  if (f.rcvd == f.plan.bytes) return finish(f);
  dgram_send(f);
}

}  // namespace passt::sim
