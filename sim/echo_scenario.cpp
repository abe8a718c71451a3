#include "sim/echo_scenario.hpp"

#include <cstring>

#include "sim/echo_engine.hpp"
#include "sim/pattern.hpp"
#include "util/endian.hpp"

namespace passt::sim {

using ports::Family;
using ports::Netns;
using ports::SockAddr;

namespace {
constexpr u32 kMagic = 0x4543484f;  // "ECHO"
constexpr std::size_t kHdr = 14 + 4 + 8;  // Ethernet, magic, sequence number
constexpr std::size_t kMinFrame = kHdr + 8;  // + trailing hash
constexpr u32 kFinalFrames = 16;
}  // namespace

// --- EchoGuest -----------------------------------------------------------------------

EchoGuest::EchoGuest(Prng rng, std::size_t max_frame, Instant start, Duration period, u32 frames)
    : rng_(rng),
      max_frame_(max_frame),
      period_(period),
      budget_(frames),
      next_(frames > 0 ? start + rng_.duration(Duration::zero(), period) : Instant::never()),
      flags_(new u8[kMaxFrames]()),
      buf_(new u8[max_frame]) {}

void EchoGuest::send_one(Instant now) noexcept {
  (void)now;
  if (next_seq_ >= kMaxFrames || port_ == nullptr) return;
  std::size_t hi = max_frame_ < 1514 ? max_frame_ : 1514;
  if (rng_.chance(100000)) hi = max_frame_;  // now and then a jumbo
  const std::size_t len = rng_.range(kMinFrame, hi < kMinFrame ? kMinFrame : hi);
  u8* f = buf_.get();
  const u8 dst[6] = {0x02, 0, 0, 0, 0, 0x01};
  const u8 src[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(f, dst, 6);
  std::memcpy(f + 6, src, 6);
  store_be16(f + 12, kEtherType);
  store_be32(f + 14, kMagic);
  const u64 seq = next_seq_++;
  store_be64(f + 18, seq);
  fill_pattern(mix64(seq), 0, MutBytes(f + kHdr, len - kHdr - 8));
  store_be64(f + len - 8, content_hash(Bytes(f + 14, len - 14 - 8)));
  if (port_->guest_send(Bytes(f, len))) {
    flags_[seq] |= kSent;
    accepted_++;
    if (final_ && seq >= final_first_) final_accepted_++;
  }
}

void EchoGuest::on_deadline(Instant now) noexcept {
  if (final_) {
    if (final_accepted_ < final_target_) send_one(now);
    next_ = final_accepted_ < final_target_ ? now + Duration::millis(2) : Instant::never();
    return;
  }
  send_one(now);
  if (budget_ > 0) budget_--;
  next_ = budget_ > 0 ? now + rng_.duration(Duration::zero(), period_) : Instant::never();
}

void EchoGuest::start_final(u32 n, Instant now) noexcept {
  final_ = true;
  final_target_ = n;
  final_first_ = next_seq_;
  final_accepted_ = 0;
  next_ = now + Duration::millis(2);
}

u64 EchoGuest::final_received() const noexcept {
  u64 n = 0;
  for (u64 s = final_first_; s < next_seq_; s++)
    if ((flags_[s] & (kSent | kGot)) == (kSent | kGot)) n++;
  return n;
}

bool EchoGuest::final_done() const noexcept {
  return final_ && final_accepted_ == final_target_ && final_received() == final_target_;
}

void EchoGuest::on_frame(Bytes frame, Instant now) noexcept {
  (void)now;
  if (frame.size() < kMinFrame) {  // nothing in the path shortens frames
    if (phantoms_++ == 0) first_phantom_ = ~u64{0};
    return;
  }
  const std::size_t len = frame.size();
  if (load_be64(frame.data() + len - 8) != content_hash(frame.subspan(14, len - 14 - 8))) {
    corrupted_++;
    return;
  }
  if (load_be32(frame.data() + 14) != kMagic) {
    phantoms_++;
    return;
  }
  const u64 seq = load_be64(frame.data() + 18);
  if (seq >= next_seq_ || seq >= kMaxFrames || (flags_[seq] & kSent) == 0) {
    if (phantoms_++ == 0) first_phantom_ = seq;
    return;
  }
  if ((flags_[seq] & kGot) != 0) {
    dups_++;
  } else {
    flags_[seq] |= kGot;
    unique_++;
  }
  if (any_ && seq < last_seq_) order_bad_++;
  if (!any_ || seq > last_seq_) last_seq_ = seq;
  any_ = true;
}

const char* EchoGuestChecker::check(World& w) noexcept {
  (void)w;
  const LinkStats& a = l_.stats(Dir::to_engine);
  const LinkStats& b = l_.stats(Dir::to_guest);
  if (g_.phantoms() > 0) {
    std::snprintf(buf_, sizeof(buf_), "guest received frame #%llu that it never sent",
                  static_cast<unsigned long long>(g_.first_phantom()));
    return buf_;
  }
  // A frame corrupted on the way to the engine is bounced, and the bounce
  // may be duplicated on the way back: each duplicate can show the guest the
  // same corruption once more (seed 1218 found this).
  const u64 corrupted = a.corrupted + b.corrupted;
  const u64 may_see = corrupted + b.duplicated;
  if (g_.corrupted_seen() > may_see) {
    std::snprintf(buf_, sizeof(buf_),
                  "guest saw %llu corrupted frames, the link corrupted %llu (+%llu duplicated back)",
                  static_cast<unsigned long long>(g_.corrupted_seen()), static_cast<unsigned long long>(corrupted),
                  static_cast<unsigned long long>(b.duplicated));
    return buf_;
  }
  const u64 duplicated = a.duplicated + b.duplicated;
  if (g_.dups_seen() > duplicated) {
    std::snprintf(buf_, sizeof(buf_), "guest saw %llu duplicates, the link made %llu",
                  static_cast<unsigned long long>(g_.dups_seen()), static_cast<unsigned long long>(duplicated));
    return buf_;
  }
  if (!l_.ever_reordered() && g_.order_violations() > 0) return "frame order changed without reordering";
  return nullptr;
}

namespace {

// --- checkers ------------------------------------------------------------------------------

class EchoEngineChecker final : public Checker {
 public:
  explicit EchoEngineChecker(const EchoEngine& e) noexcept : e_(e) {}
  const char* name() const noexcept override { return "echo-engine"; }
  const char* check(World& w) noexcept override {
    (void)w;
    return e_.error();
  }

 private:
  const EchoEngine& e_;
};

// --- the scenario ---------------------------------------------------------------------------

struct ClientPlan {
  u32 flow = 0;
  Duration at;
  PeerSpec spec;
  SockAddr from;
  SockAddr to;
};

class EchoScenario final : public Scenario, public Actor {
 public:
  static constexpr std::size_t kMaxClientPlans = EchoEngine::kMaxFlows * EchoEngine::kMaxClients;

  const char* name() const noexcept override { return "echo"; }
  void derive(Prng& rng, Knobs& k) noexcept override;
  void print_knobs(std::FILE* out) const noexcept override;
  void setup(SimEnv& env) override;
  ports::EventSink& sink() noexcept override { return *engine_; }
  void start_liveness(SimEnv& env) noexcept override {
    guest_->start_final(kFinalFrames, env.world.now());
  }
  bool done(SimEnv& env) noexcept override {
    return engine_->all_done() && guest_->final_done() && env.net.busy_peers() == 0 &&
           env.net.live_conns() == 0;
  }
  const char* pending(SimEnv& env) noexcept override;
  void print_stats(std::FILE* out) noexcept override;

  // Actor (name() above serves Scenario and Actor alike): remote clients
  // connecting to tcp_inbound listeners.
  void on_event(const Event& e) noexcept override;

 private:
  SimEnv* env_ = nullptr;
  u32 guest_frames_ = 0;
  Duration guest_period_;
  FlowPlan plans_[EchoEngine::kMaxFlows];
  PeerSpec peers_[EchoEngine::kMaxFlows];
  std::size_t n_plans_ = 0;
  ClientPlan clients_[kMaxClientPlans];
  std::size_t n_clients_ = 0;
  std::unique_ptr<EchoEngine> engine_;
  std::unique_ptr<EchoGuest> guest_;
  std::unique_ptr<EchoGuestChecker> guest_checker_;
  std::unique_ptr<EchoEngineChecker> engine_checker_;
  char pending_[320] = {};
};

InAny remote_addr(Family fam, u32 i) noexcept {
  if (fam == Family::v4) return InAny::from(Ipv4Addr::of(203, 0, 113, static_cast<u8>(1 + i)));
  Ipv6Addr a{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<u8>(1 + i)}};
  return InAny::from(a);
}

void EchoScenario::derive(Prng& rng, Knobs& k) noexcept {
  guest_frames_ = rng.chance(800000) ? static_cast<u32>(rng.range(1, 400)) : 0;
  guest_period_ = rng.duration(Duration::micros(100), Duration::millis(20));
  const u32 nflows = static_cast<u32>(rng.range(0, 12));
  static constexpr FlowKind kKinds[] = {
      FlowKind::tcp_echo,   FlowKind::tcp_echo,   FlowKind::tcp_echo,    FlowKind::tcp_source,
      FlowKind::tcp_sink,   FlowKind::tcp_slow,   FlowKind::tcp_reset,   FlowKind::tcp_refused,
      FlowKind::tcp_inbound, FlowKind::tcp_inbound, FlowKind::udp_echo,  FlowKind::udp_echo,
      FlowKind::ping};
  static constexpr u64 kBw[] = {1000000, 10000000, 100000000, 1000000000, 10000000000ULL};
  const u32 bufs[] = {4096, 16384, 65536, k.net.buf_cap};
  static constexpr u32 kChunks[] = {512, 1460, 4096, 16384, 65536};
  for (u32 i = 0; i < nflows; i++) {
    FlowPlan p;
    PeerSpec s;
    p.kind = kKinds[rng.below(sizeof(kKinds) / sizeof(kKinds[0]))];
    p.ns = rng.chance(200000) ? Netns::guest : Netns::host;
    p.fam = rng.chance(700000) ? Family::v4 : Family::v6;
    p.start = rng.duration(Duration::zero(), k.safety * 8 / 10);
    p.edge = rng.chance(300000);
    p.chunk = kChunks[rng.below(5)];
    if (rng.chance(300000)) p.sndbuf = static_cast<int>(rng.range(1, 1u << 20));
    if (rng.chance(300000)) p.rcvbuf = static_cast<int>(rng.range(1, 1u << 20));
    p.stream = 0x1000 + i;
    p.peer.addr = remote_addr(p.fam, i);
    p.peer.port = static_cast<u16>(1000 + i);
    static constexpr u64 kSizes[] = {0, 1, 1000, 65536};
    p.bytes = rng.chance(300000) ? kSizes[rng.below(4)] : rng.range(1, 300000);
    s.latency = rng.duration(Duration::micros(10), Duration::millis(20));
    s.bandwidth = kBw[rng.below(5)];
    s.rcvbuf = bufs[rng.below(4)];
    s.sndbuf = bufs[rng.below(4)];
    s.mss = k.net.mss;
    switch (p.kind) {
      case FlowKind::tcp_echo: s.kind = PeerKind::echo; break;
      case FlowKind::tcp_source:
        s.kind = PeerKind::source;
        s.bytes = p.bytes;
        s.stream = 0x2000 + i;
        p.expect_stream = s.stream;
        break;
      case FlowKind::tcp_sink:
        s.kind = PeerKind::sink;
        s.verify = true;
        s.expect_stream = p.stream;
        s.expect_bytes = p.bytes;
        break;
      case FlowKind::tcp_slow:
        s.kind = PeerKind::slow_reader;
        s.read_rate = rng.range(20000, 2000000);
        if (p.bytes > s.read_rate * 5) p.bytes = s.read_rate * 5;
        s.verify = true;
        s.expect_stream = p.stream;
        s.expect_bytes = p.bytes;
        break;
      case FlowKind::tcp_reset:
        s.kind = PeerKind::resetter;
        s.bytes = rng.range(0, 100000);
        p.bytes = s.bytes + rng.range(1, 100000);
        break;
      case FlowKind::tcp_refused:
        p.peer.addr = remote_addr(p.fam, 200);
        p.peer.port = static_cast<u16>(9000 + i);
        break;
      case FlowKind::tcp_inbound: {
        p.clients = static_cast<u32>(rng.range(1, EchoEngine::kMaxClients));
        p.peer.port = static_cast<u16>(8000 + i);
        const bool wildcard = rng.chance(500000);
        const InAny local = p.fam == Family::v4 ? k.net.local_v4 : k.net.local_v6;
        p.peer.addr = wildcard ? (p.fam == Family::v4 ? InAny::from(Ipv4Addr::any())
                                                      : InAny::from(Ipv6Addr::any()))
                               : local;
        for (u32 c = 0; c < p.clients && n_clients_ < kMaxClientPlans; c++) {
          ClientPlan& cp = clients_[n_clients_++];
          cp.flow = i;
          cp.at = p.start + rng.duration(Duration::millis(1), Duration::millis(100));
          cp.spec = s;
          cp.spec.kind = PeerKind::client;
          cp.spec.bytes = rng.chance(200000) ? 0 : rng.range(1, 200000);
          cp.spec.stream = 0x3000 + i * 16 + c;
          cp.spec.verify = true;
          cp.spec.expect_stream = cp.spec.stream;
          cp.spec.expect_bytes = cp.spec.bytes;
          cp.from.addr = remote_addr(p.fam, 100 + c);
          cp.from.port = static_cast<u16>(40000 + c);
          cp.to.addr = local;
          cp.to.port = p.peer.port;
        }
        break;
      }
      case FlowKind::udp_echo:
      case FlowKind::ping:
        p.bytes = rng.range(1, p.kind == FlowKind::ping ? 50 : 200);
        p.window = static_cast<u32>(rng.range(1, 8));
        p.dgram_max = static_cast<u32>(rng.range(p.kind == FlowKind::ping ? 8 : 4, 1472));
        p.connect_udp = rng.chance(500000);
        if (p.kind == FlowKind::ping) p.peer.port = 0;
        break;
    }
    plans_[n_plans_] = p;
    peers_[n_plans_] = s;
    n_plans_++;
  }
  // Room for every flow: a socket, a listener and its clients, a connection
  // each, a datagram queue each, with margin.
  const u32 need = 8 + 6 * nflows;
  if (k.net.max_sockets < need) k.net.max_sockets = need;
  if (k.net.max_conns < need) k.net.max_conns = need;
  if (k.net.max_dgram_socks < 2 + nflows) k.net.max_dgram_socks = 2 + nflows;
}

void EchoScenario::print_knobs(std::FILE* out) const noexcept {
  std::fprintf(out, "    guest: frames=%u period<=%s final=%u\n", guest_frames_, fmt_dur(guest_period_).buf,
               kFinalFrames);
  for (std::size_t i = 0; i < n_plans_; i++) {
    const FlowPlan& p = plans_[i];
    const PeerSpec& s = peers_[i];
    std::fprintf(out,
                 "    flow %zu: %s %s %s peer=%s:%u bytes=%llu start=%s %s chunk=%u sndbuf=%d rcvbuf=%d",
                 i, flow_kind_name(p.kind), p.ns == Netns::host ? "host" : "guest-ns",
                 p.fam == Family::v4 ? "v4" : "v6", to_text(p.peer.addr).c_str(), p.peer.port,
                 static_cast<unsigned long long>(p.bytes), fmt_dur(p.start).buf, p.edge ? "edge" : "level",
                 p.chunk, p.sndbuf, p.rcvbuf);
    if (p.kind == FlowKind::udp_echo || p.kind == FlowKind::ping)
      std::fprintf(out, " window=%u dgram<=%u connected=%d", p.window, p.dgram_max, p.connect_udp ? 1 : 0);
    if (p.kind == FlowKind::tcp_inbound) std::fprintf(out, " clients=%u", p.clients);
    std::fprintf(out, " | peer latency=%s bw=%lluB/s rcvbuf=%u sndbuf=%u", fmt_dur(s.latency).buf,
                 static_cast<unsigned long long>(s.bandwidth), s.rcvbuf, s.sndbuf);
    if (p.kind == FlowKind::tcp_slow)
      std::fprintf(out, " rate=%lluB/s", static_cast<unsigned long long>(s.read_rate));
    if (p.kind == FlowKind::tcp_reset)
      std::fprintf(out, " rst_after=%llu", static_cast<unsigned long long>(s.bytes));
    std::fprintf(out, "\n");
  }
  for (std::size_t c = 0; c < n_clients_; c++)
    std::fprintf(out, "    client %zu -> flow %u: bytes=%llu at=%s\n", c, clients_[c].flow,
                 static_cast<unsigned long long>(clients_[c].spec.bytes), fmt_dur(clients_[c].at).buf);
}

void EchoScenario::setup(SimEnv& env) {
  env_ = &env;
  const u8 me = env.world.add_actor(*this);
  engine_ = std::make_unique<EchoEngine>(ports::Ports{env.link, env.net, env.world}, env.link.max_frame(),
                                         World::kEpoch);
  guest_ = std::make_unique<EchoGuest>(env.world.rng().fork(stream::guest), env.link.max_frame(),
                                       World::kEpoch, guest_period_, guest_frames_);
  env.link.attach_guest(*guest_);
  for (std::size_t i = 0; i < n_plans_; i++) {
    const FlowPlan& p = plans_[i];
    engine_->add_flow(p);
    switch (p.kind) {
      case FlowKind::tcp_echo:
      case FlowKind::tcp_source:
      case FlowKind::tcp_sink:
      case FlowKind::tcp_slow:
      case FlowKind::tcp_reset:
        (void)env.net.add_tcp_service(p.ns, p.peer, peers_[i]);
        break;
      case FlowKind::udp_echo:
        (void)env.net.add_udp_peer(p.ns, p.peer, UdpPeerKind::echo, peers_[i].latency);
        break;
      case FlowKind::ping:
        (void)env.net.add_ping_host(p.ns, p.peer.addr, peers_[i].latency);
        break;
      default: break;
    }
  }
  for (std::size_t c = 0; c < n_clients_; c++)
    env.world.schedule(World::kEpoch + clients_[c].at, me, 1, static_cast<u32>(c));
  guest_checker_ = std::make_unique<EchoGuestChecker>(*guest_, env.link);
  engine_checker_ = std::make_unique<EchoEngineChecker>(*engine_);
  env.world.add_checker(*guest_checker_);
  env.world.add_checker(*engine_checker_);
}

void EchoScenario::on_event(const Event& e) noexcept {
  if (e.a >= n_clients_) return;
  const ClientPlan& c = clients_[e.a];
  const Netns ns = plans_[c.flow].ns;
  if (auto st = env_->net.connect_remote(ns, c.from, c.to, c.spec); !st)
    env_->world.fail("echo-scenario", "connect_remote: %s", err_name(st.err()));
}

const char* EchoScenario::pending(SimEnv& env) noexcept {
  std::snprintf(pending_, sizeof(pending_),
                "engine: %s; guest final frames %llu/%u back; busy peers %u; live connections %u",
                engine_->pending(), static_cast<unsigned long long>(guest_->final_received()),
                guest_->final_wanted(), env.net.busy_peers(), env.net.live_conns());
  return pending_;
}

void EchoScenario::print_stats(std::FILE* out) noexcept {
  std::fprintf(out,
               "  echo: guest sent=%llu accepted=%llu received=%llu corrupted=%llu dups=%llu "
               "reordered=%llu; engine bounced=%llu dropped=%llu flows=%zu\n",
               static_cast<unsigned long long>(guest_->sent()), static_cast<unsigned long long>(guest_->accepted()),
               static_cast<unsigned long long>(guest_->received()),
               static_cast<unsigned long long>(guest_->corrupted_seen()),
               static_cast<unsigned long long>(guest_->dups_seen()),
               static_cast<unsigned long long>(guest_->order_violations()),
               static_cast<unsigned long long>(engine_->frames_bounced()),
               static_cast<unsigned long long>(engine_->frames_dropped()), engine_->flow_count());
}

std::unique_ptr<Scenario> make_echo() { return std::make_unique<EchoScenario>(); }

}  // namespace

ScenarioEntry echo_scenario_entry() noexcept {
  return {"echo", "built-in echo engine: bounced frames, TCP/UDP/ping flows through remote peers",
          &make_echo};
}

}  // namespace passt::sim
