#include "sim/tcp_scenario.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "engine/engine.hpp"
#include "proto/tcp.hpp"
#include "proto/tcp_mirror.hpp"
#include "sim/tcp_guest.hpp"
#include "util/log.hpp"
#include "wire/frame.hpp"

namespace passt::sim {

using ports::Netns;
using ports::SockAddr;

namespace {

enum class PlanKind : u8 {
  out_echo,
  out_sink,
  out_source,
  out_slow_remote,
  out_reset_remote,
  out_refused,
  out_guest_abort,
  out_local_echo,
  out_slow_guest,
  in_echo,
  in_source,
  in_sink,
  in_closed,
};

const char* plan_name(PlanKind k) noexcept {
  switch (k) {
    case PlanKind::out_echo: return "out-echo";
    case PlanKind::out_sink: return "out-sink";
    case PlanKind::out_source: return "out-source";
    case PlanKind::out_slow_remote: return "out-slow-remote";
    case PlanKind::out_reset_remote: return "out-reset-remote";
    case PlanKind::out_refused: return "out-refused";
    case PlanKind::out_guest_abort: return "out-guest-abort";
    case PlanKind::out_local_echo: return "out-local-echo";
    case PlanKind::out_slow_guest: return "out-slow-guest";
    case PlanKind::in_echo: return "in-echo";
    case PlanKind::in_source: return "in-source";
    case PlanKind::in_sink: return "in-sink";
    case PlanKind::in_closed: return "in-closed";
  }
  return "?";
}

__attribute__((format(printf, 4, 5))) void append(char* buf, std::size_t cap, std::size_t* used,
                                                  const char* fmt, ...) noexcept {
  if (*used + 2 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf + *used, cap - *used, fmt, ap);
  va_end(ap);
  if (n > 0) *used += static_cast<std::size_t>(n);
  if (*used >= cap) *used = cap - 1;
}

bool inbound(PlanKind k) noexcept { return k >= PlanKind::in_echo; }

constexpr u32 kMaxPlans = 14;
constexpr u32 kMaxClients = 3;

struct Plan {
  PlanKind kind = PlanKind::out_echo;
  bool v6 = false;
  Duration start;
  u64 bytes = 0;         // what the guest (out) or the remote (in) sends
  PeerSpec peer;         // the remote service or client
  GuestApp app;
  InAny dst;             // out: where the guest connects
  u16 port = 0;          // out: destination port; in: the host listener's port
  u16 guest_port = 0;    // in: where the forward goes
  u32 clients = 0;       // in: remote connections
  Duration client_at[kMaxClients];
  u64 client_stream[kMaxClients] = {};
  u64 client_bytes[kMaxClients] = {};
};

InAny remote_addr(bool v6, u32 i) noexcept {
  if (!v6) return InAny::from(Ipv4Addr::of(203, 0, 113, static_cast<u8>(1 + i)));
  Ipv6Addr a{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<u8>(1 + i)}};
  return InAny::from(a);
}

const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

// --- tcp-frames: a TapPort decorator checking every frame the engine sends ---

class FrameChecker final : public ports::TapPort, public Checker {
 public:
  FrameChecker(SimLink& link, SimHostNet& net, u32 mtu, u32 flows)
      : link_(link), net_(net), mtu_(mtu), tracks_(new Track[flows]), ntracks_(flows) {}

  void set_engine(const engine::Engine* e) noexcept { eng_ = e; }
  void set_tap_queue_frames(u32 n) noexcept { tap_queue_frames_ = n; }

  std::size_t send(std::span<const Bytes> frames) noexcept override {
    for (Bytes f : frames) inspect(f);
    return link_.send(frames);
  }
  bool connected() const noexcept override { return link_.connected(); }

  const char* name() const noexcept override { return "tcp-frames"; }
  const char* check(World& w) noexcept override {
    (void)w;
    return buf_[0] != '\0' ? buf_ : nullptr;
  }

  u64 checked_windows() const noexcept { return windows_; }
  u64 checked_acks() const noexcept { return acks_; }

 private:
  struct Track {
    bool valid = false;
    Seq isn;
    Seq init_from;
    Seq last_ack;
  };

  void fail(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3))) {
    if (buf_[0] != '\0') return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf_, sizeof(buf_), fmt, ap);
    va_end(ap);
  }

  void inspect(Bytes frame) noexcept {
    if (frame.size() > static_cast<std::size_t>(mtu_) + 14) {
      fail("engine frame of %zu bytes exceeds the MTU %u", frame.size(), mtu_);
      return;
    }
    auto pf = wire::parse_frame(frame);
    if (!pf) {
      fail("engine frame does not parse: %s", err_name(pf.err()));
      return;
    }
    const wire::Frame& f = *pf;
    if (!wire::frame_checksums_ok(f)) {
      fail("engine frame with a bad checksum (l4 proto %u)", f.l4_proto);
      return;
    }
    if (f.l4 != wire::L4::tcp || eng_ == nullptr) return;
    const wire::TcpView& t = *f.tcp;
    if (t.has(wire::tcp_flag::rst)) return;
    const core::FlowKey key{core::L4::tcp, core::Pif::tap, f.dst, f.src, f.dst_port, f.src_port};
    const core::FlowTable& flows = eng_->flows();
    const core::FlowSidx s = flows.lookup(key);
    if (!s.valid()) return;
    const core::Flow& fl = flows.at(s.idx());
    const proto::TcpConn* c = proto::tcp_conn_of(fl);
    if (c == nullptr || fl.closing != 0 || !c->sock.valid()) return;
    auto info = net_.tcp_info(c->sock);
    const bool syn = t.has(wire::tcp_flag::syn);
    auto q = net_.send_queue(c->sock);
    const u32 sendq = q ? static_cast<u32>(*q) : 0;
    const u32 cap = eng_->tcp().wnd_cap_frames();
    if (cap > tap_queue_frames_) {
      fail("window cap of %u frames, more than the tap queue's %u", cap, tap_queue_frames_);
      return;
    }
    proto::MirrorIn in = proto::tcp_mirror_input(*c, info ? &*info : nullptr, syn, syn,
                                                 q ? &sendq : nullptr, cap, eng_->tcp().wnd_cap_bytes());
    if (t.has(wire::tcp_flag::ack)) {
      // Built earlier in this event: data written since then moved
      // seq_from_tap and the send queue together; measure from its ACK.
      in.have_sent_ack = true;
      in.sent_ack = t.ack();
    }
    const proto::MirrorOut m = proto::tcp_mirror(in);
    windows_++;
    if (t.window() != m.wnd_field) {
      fail("flow %u: window field %u, the mirror says %u (snd_wnd=%u has=%d sndbuf=%u local=%d est=%d "
           "ws=%u flags=%#x ack=+%u from_tap=+%u fin=%d sendq=%u)",
           s.flow, t.window(), m.wnd_field, info ? info->snd_wnd : 0,
           info ? static_cast<int>(info->has_snd_wnd) : 0, c->sndbuf,
           static_cast<int>(c->flag(proto::tcp_flag_conn::local) || c->flag(proto::tcp_flag_conn::low_rtt)),
           static_cast<int>(c->has(proto::tcp_ev::established)), c->ws_to_tap, t.flags(),
           t.ack().v - c->seq_init_from_tap.v, c->seq_from_tap.v - c->seq_init_from_tap.v,
           static_cast<int>(c->has(proto::tcp_ev::tap_fin_rcvd)), sendq);
      return;
    }
    if (!t.has(wire::tcp_flag::ack) || s.flow >= ntracks_) return;
    acks_++;
    Track& tr = tracks_[s.flow];
    const Seq ack = t.ack();
    if (!tr.valid || tr.isn != c->seq_init_to_tap || tr.init_from != c->seq_init_from_tap) {
      tr = Track{true, c->seq_init_to_tap, c->seq_init_from_tap, ack};
    } else if (seq_lt(ack, tr.last_ack)) {
      fail("flow %u: ACK went backwards from %u to %u", s.flow, tr.last_ack.v, ack.v);
      return;
    }
    tr.last_ack = ack;
    // Linux states after our shutdown(SHUT_WR): the guest's FIN is in.
    const u8 st = info ? info->state : 0;
    const bool shut = st == 4 || st == 5 || st == 6 || st == 7 || st == 9 || st == 11;
    const u64 written = net_.bytes_written(c->sock);
    const Seq bound = c->seq_init_from_tap + static_cast<u32>(written) + (shut ? 1u : 0u);
    if (seq_gt(ack, bound))
      fail("flow %u: ACK %u covers %d byte(s) the host socket has not accepted (written %llu)", s.flow,
           ack.v, ack.diff(bound), static_cast<unsigned long long>(written));
  }

  SimLink& link_;
  SimHostNet& net_;
  u32 tap_queue_frames_ = 0;
  u32 mtu_;
  const engine::Engine* eng_ = nullptr;
  std::unique_ptr<Track[]> tracks_;
  u32 ntracks_;
  u64 windows_ = 0;
  u64 acks_ = 0;
  char buf_[320] = {};
};

// PASST_SIM_TCP_LOG=1: the engine's debug log on stderr, stamped with
// virtual time (for reading a failing seed).
class StderrLog final : public LogSink {
 public:
  explicit StderrLog(World& w) noexcept : w_(w) {}
  void write(LogLevel level, std::string_view msg) noexcept override {
    (void)level;
    const Duration t = w_.now() - World::kEpoch;
    std::fprintf(stderr, "%lld.%09lld %.*s\n", static_cast<long long>(t.ns / 1000000000),
                 static_cast<long long>(t.ns % 1000000000), static_cast<int>(msg.size()), msg.data());
  }

 private:
  World& w_;
};

class GuestChecker final : public Checker {
 public:
  explicit GuestChecker(const TcpGuest& g) noexcept : g_(g) {}
  const char* name() const noexcept override { return "tcp-guest"; }
  const char* check(World& w) noexcept override {
    (void)w;
    return g_.violation();
  }

 private:
  const TcpGuest& g_;
};

class EngineChecker final : public Checker {
 public:
  explicit EngineChecker(const engine::Engine& e) noexcept : e_(e) {}
  const char* name() const noexcept override { return "tcp-engine"; }
  const char* check(World& w) noexcept override {
    // The flow table check walks the whole index: every 16 events is enough
    // to localise a corruption.
    if (w.events() % 16 != 0) return nullptr;
    if (const char* v = e_.flows().verify()) return v;
    return e_.timers().verify();
  }

 private:
  const engine::Engine& e_;
};

// --- the scenario -------------------------------------------------------------------

TcpCoverage g_coverage;

class TcpScenario final : public Scenario, public Actor {
 public:
  TcpScenario() = default;
  TcpScenario(const TcpScenario&) = delete;
  TcpScenario& operator=(const TcpScenario&) = delete;
  ~TcpScenario() override {
    if (log_) set_log_sink(nullptr);
    if (engine_) add_coverage();
  }
  const char* name() const noexcept override { return "tcp"; }
  void derive(Prng& rng, Knobs& k) noexcept override;
  void print_knobs(std::FILE* out) const noexcept override;
  void setup(SimEnv& env) override;
  ports::EventSink& sink() noexcept override { return *engine_; }
  bool done(SimEnv& env) noexcept override;
  const char* pending(SimEnv& env) noexcept override;
  void print_stats(std::FILE* out) noexcept override;
  void on_event(const Event& e) noexcept override;

 private:
  bool plan_done(const Plan& p, u32 i) const noexcept;
  void add_coverage() const noexcept;
  u64 expected_peers_done() const noexcept;
  bool peers_reported_ = false;

  SimEnv* env_ = nullptr;
  u32 mtu_ = 0;
  TcpGuestConfig gcfg_;
  engine::Sizing sizing_;
  proto::TcpOptions topt_;
  u16 delta_ = 0;
  bool map_guest_ = false;
  u32 tap_queue_ = 0;  // NetInfo::tap_queue_frames (0: no tap queue cap)
  Plan plans_[kMaxPlans];
  u32 nplans_ = 0;
  core::Config cfg_;
  core::NetInfo net_;
  std::unique_ptr<StderrLog> log_;
  std::unique_ptr<FrameChecker> tap_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<TcpGuest> guest_;
  std::unique_ptr<GuestChecker> guest_checker_;
  std::unique_ptr<EngineChecker> engine_checker_;
  char pending_[2048] = {};
};

void TcpScenario::derive(Prng& rng, Knobs& k) noexcept {
  mtu_ = k.link.mtu;
  // One flipped bit per corrupted frame: the Internet checksum catches every
  // single-bit error, but misses some multi-bit ones (two flips of the same
  // bit position in opposite directions), which TCP cannot detect either.
  for (auto& f : k.link.faults) f.corrupt_bits_max = 1;
  // The guest.
  gcfg_.mtu = mtu_;
  gcfg_.offer_ws = rng.chance(850000);
  gcfg_.wscale = static_cast<u8>(rng.range(0, 14));
  gcfg_.send_mss = rng.chance(900000);
  gcfg_.wnd_update_drop_ppm = rng.chance(800000) ? 0 : static_cast<u32>(rng.range(100000, 500000));
  static constexpr u32 kBufs[] = {4096, 16384, 65536, 262144, 1048576};
  gcfg_.rcvbuf = kBufs[rng.below(5)];
  gcfg_.sndbuf = kBufs[rng.below(5)];
  if (gcfg_.rcvbuf < 2 * mtu_ && rng.chance(500000)) gcfg_.rcvbuf = 2 * mtu_;
  // Like Linux, no scale so large that the whole buffer rounds to a tiny
  // window field (at least 1024 units of the scale).
  u8 ws_max = 0;
  while (ws_max < 14 && (gcfg_.rcvbuf >> (ws_max + 1)) >= 1024) ws_max++;
  if (gcfg_.wscale > ws_max) gcfg_.wscale = ws_max;
  // The engine.
  static constexpr u32 kFlows[] = {3, 8, 64, 256, 1024, 1024};
  sizing_.flows = kFlows[rng.below(6)];
  static constexpr u32 kBatch[] = {1, 4, 64, 256};
  sizing_.tap_batch_frames = kBatch[rng.below(4)];
  const std::size_t min_arena = static_cast<std::size_t>(mtu_) + 64;
  static constexpr std::size_t kArena[] = {65536, 262144, 1u << 20};
  sizing_.tap_arena = kArena[rng.below(3)];
  if (sizing_.tap_arena < min_arena) sizing_.tap_arena = min_arena;
  static constexpr u32 kPeek[] = {1, 2, 8, 16, 128};  // 8: pasta's, 128: passt's
  topt_.frames_per_peek = kPeek[rng.below(5)];
  static constexpr u32 kSegs[] = {4, 64, 1024};
  topt_.max_batch_segs = kSegs[rng.below(3)];
  static constexpr u32 kGroups[] = {2, 16, 128};
  topt_.max_batch_flows = kGroups[rng.below(3)];
  topt_.set_bufs = rng.chance(500000);
  topt_.probe_local = false;  // SimHostNet binds to any address
  delta_ = rng.chance(500000) ? 0 : 1000;
  map_guest_ = rng.chance(300000);
  if (rng.chance(500000)) tap_queue_ = static_cast<u32>(rng.range(4, 4096));

  // Plans.
  nplans_ = static_cast<u32>(rng.range(1, kMaxPlans));
  static constexpr PlanKind kKinds[] = {
      PlanKind::out_echo,        PlanKind::out_echo,         PlanKind::out_sink,
      PlanKind::out_source,      PlanKind::out_slow_remote,  PlanKind::out_reset_remote,
      PlanKind::out_refused,     PlanKind::out_guest_abort,  PlanKind::out_local_echo,
      PlanKind::out_slow_guest,  PlanKind::in_echo,          PlanKind::in_echo,
      PlanKind::in_source,       PlanKind::in_sink,          PlanKind::in_closed};
  static constexpr u64 kBw[] = {1000000, 10000000, 100000000, 1000000000, 10000000000ULL};
  const u32 bufs[] = {4096, 16384, 65536, k.net.buf_cap};
  for (u32 i = 0; i < nplans_; i++) {
    Plan& p = plans_[i];
    p.kind = kKinds[rng.below(sizeof(kKinds) / sizeof(kKinds[0]))];
    p.v6 = rng.chance(400000);
    p.start = rng.duration(Duration::zero(), k.safety * 8 / 10);
    static constexpr u64 kSizes[] = {0, 1, 1460, 65536, 1000000};
    p.bytes = rng.chance(300000) ? kSizes[rng.below(5)] : rng.range(1, 300000);
    PeerSpec& s = p.peer;
    s.latency = rng.chance(150000) ? rng.duration(Duration::micros(1), Duration::micros(5))
                                   : rng.duration(Duration::micros(10), Duration::millis(20));
    s.bandwidth = kBw[rng.below(5)];
    if (s.bandwidth < 10000000 && p.bytes > 200000) p.bytes = 200000;
    // Lost window updates leave the engine's zero-window probe (every 2 s)
    // to reopen a closed window: keep such transfers short.
    if (gcfg_.wnd_update_drop_ppm != 0 && p.bytes > 100000) p.bytes = 100000;
    s.rcvbuf = bufs[rng.below(4)];
    s.sndbuf = bufs[rng.below(4)];
    s.mss = k.net.mss;
    GuestApp& a = p.app;
    a.tag = i;
    a.send_stream = 0x10000 + i;
    a.recv_stream = 0x20000 + i;
    p.port = static_cast<u16>(1000 + i);
    p.dst = remote_addr(p.v6, i);
    switch (p.kind) {
      case PlanKind::out_echo:
      case PlanKind::out_local_echo:
        s.kind = PeerKind::echo;
        a.send_bytes = p.bytes;
        a.recv_stream = a.send_stream;
        a.expect_bytes = p.bytes;
        if (p.kind == PlanKind::out_local_echo) p.dst = InAny{};  // the gateway: set in setup
        break;
      case PlanKind::out_sink:
        s.kind = PeerKind::sink;
        s.verify = true;
        s.expect_stream = a.send_stream;
        s.expect_bytes = p.bytes;
        a.send_bytes = p.bytes;
        a.expect_bytes = 0;
        break;
      case PlanKind::out_source:
      case PlanKind::out_slow_guest:
        s.kind = PeerKind::source;
        s.bytes = p.bytes;
        s.stream = a.recv_stream;
        a.send_bytes = 0;
        a.expect_bytes = p.bytes;
        a.fin_after_peer = rng.chance(500000);
        if (p.kind == PlanKind::out_slow_guest) {
          a.read_rate = rng.range(20000, 2000000);
          if (p.bytes > a.read_rate * 4) p.bytes = s.bytes = a.expect_bytes = a.read_rate * 4;
        }
        break;
      case PlanKind::out_slow_remote:
        s.kind = PeerKind::slow_reader;
        s.read_rate = rng.range(20000, 2000000);
        if (p.bytes > s.read_rate * 4) p.bytes = s.read_rate * 4;
        s.verify = true;
        s.expect_stream = a.send_stream;
        s.expect_bytes = p.bytes;
        a.send_bytes = p.bytes;
        a.expect_bytes = 0;
        break;
      case PlanKind::out_reset_remote:
        s.kind = PeerKind::resetter;
        s.bytes = rng.range(0, 100000);
        p.bytes = s.bytes + rng.range(1, 100000);
        a.send_bytes = p.bytes;
        // FIN after the data: if the RST to the guest is lost, the FIN's
        // retransmission meets the engine's stateless RST.
        a.verify = false;
        break;
      case PlanKind::out_refused:
        p.dst = remote_addr(p.v6, 100 + i);
        p.port = static_cast<u16>(9000 + i);
        break;
      case PlanKind::out_guest_abort:
        s.kind = PeerKind::echo;
        if (p.bytes < 2) p.bytes = 2;
        a.send_bytes = p.bytes;
        a.recv_stream = a.send_stream;
        a.abort_after = rng.range(1, p.bytes - 1);
        a.fin_after_peer = true;
        break;
      case PlanKind::in_echo:
      case PlanKind::in_source:
      case PlanKind::in_sink:
      case PlanKind::in_closed: {
        p.port = static_cast<u16>(8000 + i);
        p.guest_port = static_cast<u16>(p.port + delta_);
        p.clients = p.kind == PlanKind::in_echo ? static_cast<u32>(rng.range(1, kMaxClients)) : 1;
        for (u32 c = 0; c < p.clients; c++) {
          p.client_at[c] = p.start + rng.duration(Duration::zero(), Duration::millis(100));
          // One stream for all clients of a plan: the guest's echo regenerates
          // what it received from the stream it verified.
          p.client_stream[c] = a.recv_stream;
          p.client_bytes[c] = c == 0 ? p.bytes : rng.range(0, 100000);
        }
        if (p.kind == PlanKind::in_echo) {
          s.kind = PeerKind::client;
          a.echo = true;
        } else if (p.kind == PlanKind::in_source) {
          s.kind = PeerKind::source;
          a.expect_bytes = p.bytes;
          a.fin_after_peer = rng.chance(500000);
        } else if (p.kind == PlanKind::in_sink) {
          s.kind = PeerKind::sink;
          s.verify = true;
          s.expect_stream = a.send_stream;
          s.expect_bytes = p.bytes;
          a.send_bytes = p.bytes;
          a.expect_bytes = 0;
        } else {
          s.kind = PeerKind::client;
          s.verify = false;
        }
        break;
      }
    }
  }
  const u32 need = 16 + 8 * nplans_;
  if (k.net.max_sockets < need) k.net.max_sockets = need;
  if (k.net.max_conns < need) k.net.max_conns = need;
}

void TcpScenario::print_knobs(std::FILE* out) const noexcept {
  std::fprintf(out,
               "    guest: ws=%s%u mss_opt=%d rcvbuf=%u sndbuf=%u wnd_update_drop=%s | engine: flows=%u tap_batch=%u "
               "arena=%zu peek_frames=%u batch_segs=%u batch_flows=%u set_bufs=%d delta=%u map_guest=%d tap_queue=%u\n",
               gcfg_.offer_ws ? "" : "off/", gcfg_.wscale, gcfg_.send_mss ? 1 : 0, gcfg_.rcvbuf,
               gcfg_.sndbuf, fmt_ppm(gcfg_.wnd_update_drop_ppm).buf, sizing_.flows, sizing_.tap_batch_frames, sizing_.tap_arena,
               topt_.frames_per_peek, topt_.max_batch_segs, topt_.max_batch_flows, topt_.set_bufs ? 1 : 0,
               delta_, map_guest_ ? 1 : 0, tap_queue_);
  for (u32 i = 0; i < nplans_; i++) {
    const Plan& p = plans_[i];
    std::fprintf(out,
                 "    plan %u: %s %s port=%u bytes=%llu start=%s | peer latency=%s bw=%lluB/s rcvbuf=%u "
                 "sndbuf=%u",
                 i, plan_name(p.kind), p.v6 ? "v6" : "v4", p.port, static_cast<unsigned long long>(p.bytes),
                 fmt_dur(p.start).buf, fmt_dur(p.peer.latency).buf,
                 static_cast<unsigned long long>(p.peer.bandwidth), p.peer.rcvbuf, p.peer.sndbuf);
    if (p.peer.read_rate != 0)
      std::fprintf(out, " rate=%lluB/s", static_cast<unsigned long long>(p.peer.read_rate));
    if (p.app.read_rate != 0)
      std::fprintf(out, " guest_rate=%lluB/s", static_cast<unsigned long long>(p.app.read_rate));
    if (p.kind == PlanKind::out_reset_remote)
      std::fprintf(out, " rst_after=%llu", static_cast<unsigned long long>(p.peer.bytes));
    if (p.app.abort_after != ~u64{0})
      std::fprintf(out, " abort_after=%llu", static_cast<unsigned long long>(p.app.abort_after));
    if (p.app.fin_after_peer) std::fprintf(out, " fin_after_peer");
    if (inbound(p.kind)) std::fprintf(out, " clients=%u guest_port=%u", p.clients, p.guest_port);
    std::fprintf(out, "\n");
  }
}

void TcpScenario::setup(SimEnv& env) {
  env_ = &env;
  const u8 me = env.world.add_actor(*this);
  const InAny local4 = env.knobs.net.local_v4;
  const InAny local6 = env.knobs.net.local_v6;

  // What passt would have discovered: the guest gets the host's address.
  net_.mtu = static_cast<u16>(mtu_ > 65535 ? 65535 : mtu_);
  net_.v4.enabled = true;
  net_.v4.addr = local4.v4();
  net_.v4.prefix_len = 24;
  net_.v4.gateway = kGw4;
  net_.v4.our_tap_addr = kGw4;
  net_.v4.map_host_loopback = kGw4;
  net_.v6.enabled = true;
  net_.v6.addr = local6.v6();
  net_.v6.gateway = kLl6;
  net_.v6.our_tap_ll = kLl6;
  net_.v6.map_host_loopback = kLl6;
  if (map_guest_) {
    net_.v4.map_guest_addr = Ipv4Addr::of(192, 0, 2, 253);
    net_.v6.map_guest_addr = Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd}};
  }
  net_.dhcp = net_.ndp = net_.dhcpv6 = net_.ra = false;
  net_.tap_queue_frames = tap_queue_;

  cfg_.mode = core::Mode::passt;
  cfg_.mtu = net_.mtu;
  cfg_.fwd_in.tcp.mode = core::FwdMode::spec;
  for (u32 i = 0; i < nplans_; i++) {
    Plan& p = plans_[i];
    if (!inbound(p.kind)) continue;
    core::PortBindRule r;
    r.option = 't';
    r.spec = std::to_string(p.port);
    r.ports.push_back(core::PortRun{p.port, p.port});
    cfg_.fwd_in.tcp.rules.push_back(r);
    cfg_.fwd_in.tcp.forwarded.set(p.port);
    cfg_.fwd_in.tcp.set_delta(p.port, delta_);
  }

  if (std::getenv("PASST_SIM_TCP_LOG") != nullptr) {
    log_ = std::make_unique<StderrLog>(env.world);
    set_log_sink(log_.get());
    set_log_level(LogLevel::trace);
  }
  tap_ = std::make_unique<FrameChecker>(env.link, env.net, mtu_, sizing_.flows);
  engine_ = std::make_unique<engine::Engine>(cfg_, net_, ports::Ports{*tap_, env.net, env.world}, sizing_, topt_);
  tap_->set_engine(engine_.get());
  tap_->set_tap_queue_frames(tap_queue_);
  engine_->start(env.world.now());
  if (auto st = engine_->open_listeners(); !st)
    env.world.fail("tcp-scenario", "open_listeners: %s", err_name(st.err()));

  gcfg_.addr4 = net_.v4.addr;
  gcfg_.addr6 = net_.v6.addr;
  gcfg_.router_mac = net_.our_mac;
  guest_ = std::make_unique<TcpGuest>(gcfg_, env.world.rng().fork(stream::guest));
  env.link.attach_guest(*guest_);

  for (u32 i = 0; i < nplans_; i++) {
    Plan& p = plans_[i];
    switch (p.kind) {
      case PlanKind::out_local_echo: {
        // The guest connects to the gateway (map_host_loopback): the host's
        // loopback, where the service listens.
        p.dst = p.v6 ? InAny::from(kLl6) : InAny::from(kGw4);
        const InAny lo = p.v6 ? InAny::from(Ipv6Addr::loopback()) : InAny::from(Ipv4Addr::loopback());
        (void)env.net.add_tcp_service(Netns::host, SockAddr{lo, p.port, 0}, p.peer);
        break;
      }
      case PlanKind::out_refused:
        break;
      case PlanKind::in_echo:
      case PlanKind::in_source:
      case PlanKind::in_sink:
        (void)guest_->listen(p.guest_port, p.app);
        break;
      case PlanKind::in_closed:
        break;
      default:
        (void)env.net.add_tcp_service(Netns::host, SockAddr{p.dst, p.port, 0}, p.peer);
        break;
    }
    if (inbound(p.kind)) {
      for (u32 c = 0; c < p.clients; c++)
        env.world.schedule(World::kEpoch + p.client_at[c], me, 2, i, c);
    } else {
      env.world.schedule(World::kEpoch + p.start, me, 1, i);
    }
  }

  env.world.add_checker(*tap_);
  guest_checker_ = std::make_unique<GuestChecker>(*guest_);
  engine_checker_ = std::make_unique<EngineChecker>(*engine_);
  env.world.add_checker(*guest_checker_);
  env.world.add_checker(*engine_checker_);
}

void TcpScenario::on_event(const Event& e) noexcept {
  if (e.a >= nplans_) return;
  const Plan& p = plans_[e.a];
  if (e.kind == 1) {
    if (!guest_->connect(p.dst, p.port, p.app, env_->world.now()))
      env_->world.fail("tcp-scenario", "guest connection table full");
    return;
  }
  // A remote client connects to the listener (from a loopback address now
  // and then, which the NAT maps to the gateway).
  const u32 c = e.b;
  PeerSpec s = p.peer;
  s.stream = p.client_stream[c];
  s.bytes = p.client_bytes[c];
  if (p.kind == PlanKind::in_echo) {
    s.verify = true;
    s.expect_stream = s.stream;
    s.expect_bytes = s.bytes;
  }
  SockAddr from;
  const bool lo = (e.a + c) % 4 == 3;
  if (lo)
    from.addr = p.v6 ? InAny::from(Ipv6Addr::loopback()) : InAny::from(Ipv4Addr::loopback());
  else
    from.addr = remote_addr(p.v6, 40 + e.a * kMaxClients + c);
  from.port = static_cast<u16>(40000 + e.a * kMaxClients + c);
  const InAny to = p.v6 ? env_->knobs.net.local_v6 : env_->knobs.net.local_v4;
  if (auto st = env_->net.connect_remote(Netns::host, from, SockAddr{to, p.port, 0}, s); !st)
    env_->world.fail("tcp-scenario", "connect_remote: %s", err_name(st.err()));
}

bool TcpScenario::plan_done(const Plan& p, u32 i) const noexcept {
  const TagStats& t = guest_->tag(i);
  const bool table_full = engine_->tcp().stats().table_full > 0;
  if (inbound(p.kind)) {
    if (p.kind == PlanKind::in_closed) return true;  // the socket model's counts say it
    if (t.ended() != t.opened) return false;
    if (table_full) return t.opened <= p.clients && t.failed == 0 && t.reset + t.aborted == 0;
    return t.opened == p.clients && t.done == p.clients;
  }
  if (t.opened != 1 || t.ended() != 1) return false;
  if (table_full && t.refused == 1) return true;
  switch (p.kind) {
    case PlanKind::out_reset_remote: return t.reset == 1;
    case PlanKind::out_refused: return t.refused == 1;
    case PlanKind::out_guest_abort: return t.aborted == 1;
    default: return t.done == 1;
  }
}

u64 TcpScenario::expected_peers_done() const noexcept {
  u64 n = 0;
  for (u32 i = 0; i < nplans_; i++) {
    switch (plans_[i].kind) {
      case PlanKind::out_reset_remote:
      case PlanKind::out_refused:
      case PlanKind::out_guest_abort:
      case PlanKind::in_closed:
        break;
      default: n += inbound(plans_[i].kind) ? plans_[i].clients : 1; break;
    }
  }
  return n;
}

bool TcpScenario::done(SimEnv& env) noexcept {
  for (u32 i = 0; i < nplans_; i++)
    if (!plan_done(plans_[i], i)) return false;
  if (engine_->flows().active_count() != 0 || guest_->live_conns() != 0 || env.net.live_conns() != 0 ||
      env.net.busy_peers() != 0)
    return false;
  // Every remote peer that should have finished cleanly did (FIN both ways,
  // and the ones that verify saw every byte): a guest that only thinks it
  // is done is not enough.
  if (engine_->tcp().stats().table_full == 0 && env.net.totals().peers_done != expected_peers_done()) {
    if (!peers_reported_) {
      peers_reported_ = true;
      env.world.fail("tcp-scenario", "%llu remote peers finished cleanly, expected %llu",
                     static_cast<unsigned long long>(env.net.totals().peers_done),
                     static_cast<unsigned long long>(expected_peers_done()));
    }
    return false;
  }
  return true;
}

const char* TcpScenario::pending(SimEnv& env) noexcept {
  std::size_t used = 0;
  pending_[0] = '\0';
#define add(...) append(pending_, sizeof(pending_), &used, __VA_ARGS__)
  for (u32 i = 0; i < nplans_; i++) {
    const TagStats& t = guest_->tag(i);
    if (plan_done(plans_[i], i)) continue;
    add("plan %u (%s): opened=%u done=%u reset=%u refused=%u aborted=%u failed=%u in=%llu out=%llu; ", i,
        plan_name(plans_[i].kind), t.opened, t.done, t.reset, t.refused, t.aborted, t.failed,
        static_cast<unsigned long long>(t.bytes_in), static_cast<unsigned long long>(t.bytes_out));
  }
  add("engine flows %u; guest conns %u %s; socket conns %u busy peers %u", engine_->flows().active_count(),
      guest_->live_conns(), guest_->describe_pending(), env.net.live_conns(), env.net.busy_peers());
#undef add
  return pending_;
}

void TcpScenario::print_stats(std::FILE* out) noexcept {
  const proto::TcpStats& s = engine_->tcp().stats();
  std::fprintf(out,
               "  tcp engine: from_tap=%llu from_sock=%llu closed=%llu connect_failed=%llu table_full=%llu "
               "rst_to_tap=%llu rst_from_tap=%llu rst_stateless=%llu bytes_in=%llu bytes_out=%llu "
               "frames=%llu partial=%llu ooo=%llu dupacks=%llu fast_rtx=%llu rto_rtx=%llu syn_rtx=%llu "
               "zwp=%llu room_limited=%llu keepalive=%llu rewinds=%llu lagging=%llu retrans_limit=%llu hs_timeouts=%llu\n",
               static_cast<unsigned long long>(s.conns_from_tap), static_cast<unsigned long long>(s.conns_from_sock),
               static_cast<unsigned long long>(s.conns_closed), static_cast<unsigned long long>(s.connect_failed),
               static_cast<unsigned long long>(s.table_full), static_cast<unsigned long long>(s.rst_to_tap),
               static_cast<unsigned long long>(s.rst_from_tap), static_cast<unsigned long long>(s.rst_stateless),
               static_cast<unsigned long long>(s.bytes_from_tap), static_cast<unsigned long long>(s.bytes_to_tap),
               static_cast<unsigned long long>(s.frames_to_tap), static_cast<unsigned long long>(s.partial_writes),
               static_cast<unsigned long long>(s.ooo_dropped), static_cast<unsigned long long>(s.dup_acks_sent),
               static_cast<unsigned long long>(s.fast_retransmits),
               static_cast<unsigned long long>(s.timeout_retransmits),
               static_cast<unsigned long long>(s.syn_retransmits),
               static_cast<unsigned long long>(s.zero_window_probes),
               static_cast<unsigned long long>(s.wnd_room_limited),
               static_cast<unsigned long long>(s.keepalive_acks), static_cast<unsigned long long>(s.tap_rewinds),
               static_cast<unsigned long long>(s.ack_lagging), static_cast<unsigned long long>(s.retrans_limit),
               static_cast<unsigned long long>(s.handshake_timeouts));
  const TcpGuestStats& g = guest_->stats();
  std::fprintf(out,
               "  tcp guest: in=%llu bad=%llu out=%llu link_refused=%llu ooo=%llu dupacks=%llu fast_rtx=%llu "
               "timeouts=%llu probes=%llu rst=%llu wnd_updates=%llu (dropped %llu) zero_windows=%llu keepalives=%llu "
               "| checked windows=%llu acks=%llu\n",
               static_cast<unsigned long long>(g.frames_in), static_cast<unsigned long long>(g.frames_bad),
               static_cast<unsigned long long>(g.frames_out), static_cast<unsigned long long>(g.refused_by_link),
               static_cast<unsigned long long>(g.segs_ooo), static_cast<unsigned long long>(g.dup_acks_in),
               static_cast<unsigned long long>(g.fast_retransmits), static_cast<unsigned long long>(g.timeouts),
               static_cast<unsigned long long>(g.probes), static_cast<unsigned long long>(g.rst_sent),
               static_cast<unsigned long long>(g.window_updates),
               static_cast<unsigned long long>(g.window_updates_dropped),
               static_cast<unsigned long long>(g.zero_windows), static_cast<unsigned long long>(g.keepalives),
               static_cast<unsigned long long>(tap_->checked_windows()),
               static_cast<unsigned long long>(tap_->checked_acks()));
}

void TcpScenario::add_coverage() const noexcept {
  const proto::TcpStats& s = engine_->tcp().stats();
  TcpCoverage& c = g_coverage;
  c.runs++;
  c.fast_retransmits += s.fast_retransmits;
  c.timeout_retransmits += s.timeout_retransmits;
  c.syn_retransmits += s.syn_retransmits;
  c.zero_window_probes += s.zero_window_probes;
  c.wnd_room_limited += s.wnd_room_limited;
  c.keepalive_acks += s.keepalive_acks;
  c.tap_rewinds += s.tap_rewinds;
  c.partial_writes += s.partial_writes;
  c.ooo_dropped += s.ooo_dropped;
  c.dup_acks_sent += s.dup_acks_sent;
  c.ack_lagging += s.ack_lagging;
  c.table_full += s.table_full;
  c.connect_failed += s.connect_failed;
  c.rst_from_tap += s.rst_from_tap;
  c.rst_to_tap += s.rst_to_tap;
  c.rst_stateless += s.rst_stateless;
  c.conns_from_sock += s.conns_from_sock;
  c.conns_from_tap += s.conns_from_tap;
  c.windows_checked += tap_->checked_windows();
  c.acks_checked += tap_->checked_acks();
  c.guest_zero_windows += guest_->stats().zero_windows;
}

std::unique_ptr<Scenario> make_tcp() { return std::make_unique<TcpScenario>(); }

}  // namespace

const TcpCoverage& tcp_coverage() noexcept { return g_coverage; }
void tcp_coverage_reset() noexcept { g_coverage = TcpCoverage{}; }

ScenarioEntry tcp_scenario_entry() noexcept {
  return {"tcp", "the real engine's TCP translation between a reference guest TCP and remote peers",
          &make_tcp};
}

}  // namespace passt::sim
