#include "sim/icmp_scenario.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "engine/engine.hpp"
#include "proto/icmp.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace passt::sim {

using ports::Netns;

namespace {

enum class Target : u8 { remote, silent, gateway, map_guest };

const char* target_name(Target t) noexcept {
  switch (t) {
    case Target::remote: return "remote";
    case Target::silent: return "silent";
    case Target::gateway: return "gateway";
    case Target::map_guest: return "map-guest";
  }
  return "?";
}

enum class JunkKind : u8 { guest_reply, other_type, bad_code, multicast, broadcast };

const char* junk_name(JunkKind k) noexcept {
  switch (k) {
    case JunkKind::guest_reply: return "guest-reply";
    case JunkKind::other_type: return "other-type";
    case JunkKind::bad_code: return "bad-code";
    case JunkKind::multicast: return "multicast";
    case JunkKind::broadcast: return "broadcast";
  }
  return "?";
}

constexpr u32 kMaxSessions = 16;
constexpr u32 kMaxJunk = 8;
constexpr u32 kMaxRecs = 4096;
constexpr u32 kRemoteHosts = 4;
constexpr u32 kNoSession = 0xffff;
constexpr u32 kMagic = 0x49434d50;  // "ICMP"
constexpr std::size_t kNonceLen = 8;

const MacAddr kGuestMac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
const Ipv4Addr kMapGuest4 = Ipv4Addr::of(192, 0, 2, 253);
const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Addr kGuestLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56}};
const Ipv6Addr kMapGuest6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd}};

InAny remote_addr(bool v6, u32 i) noexcept {
  if (!v6) return InAny::from(Ipv4Addr::of(203, 0, 113, static_cast<u8>(1 + i)));
  Ipv6Addr a{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<u8>(1 + i)}};
  return InAny::from(a);
}

u8 pattern_byte(u32 idx, std::size_t k) noexcept {
  return static_cast<u8>((idx * 7u + static_cast<u32>(k) * 13u + 5u) & 0xffu);
}

struct Session {
  Target target = Target::remote;
  bool v6 = false;
  InAny src;
  InAny dst;
  u16 id = 0;
  u32 count = 0;            // planned requests
  Duration start;
  Duration interval;
  Duration gap;             // before the last planned request (0: none)
  u32 payload_max = 0;      // data bytes beyond the nonce
  bool answers = false;
  Duration host_latency;    // remote targets
  // Run time.
  u16 next_seq = 1;
  u32 sent = 0;
  bool final_answered = false;
  u32 final_tries = 0;
  u32 flows_seen = 0;       // engine flows of this session so far
};

struct Junk {
  JunkKind kind = JunkKind::guest_reply;
  bool v6 = false;
  Duration at;
};

// One frame the guest sent, found again through the nonce in its data.
struct Rec {
  InAny src;
  InAny dst;
  u16 session = kNoSession;
  u16 id = 0;
  u16 seq = 0;
  u8 v6 = 0;
  u8 junk = 0;
  u8 final = 0;
  u32 len = 0;          // ICMP data bytes, nonce included
  u32 engine_rx = 0;    // copies the engine was handed (checksums good)
  u32 replies = 0;      // replies the engine sent for it
};

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

// The echo message in a parsed frame: type, code, id, seq and data, or false.
struct EchoMsg {
  bool v6 = false;
  u8 type = 0;
  u8 code = 0;
  u16 id = 0;
  u16 seq = 0;
  Bytes data;
};

bool echo_of(const wire::Frame& f, EchoMsg* m) noexcept {
  if (f.l4 != wire::L4::icmp && f.l4 != wire::L4::icmpv6) return false;
  if (f.fragment || f.l4_bytes.size() < 8) return false;
  m->v6 = f.l4 == wire::L4::icmpv6;
  const Bytes b = f.l4_bytes;
  m->type = b[0];
  m->code = b[1];
  m->id = load_be16(b.data() + 4);
  m->seq = load_be16(b.data() + 6);
  m->data = b.subspan(8);
  return true;
}

// The record index in a nonce, or -1.
i64 nonce_of(Bytes data) noexcept {
  if (data.size() < kNonceLen) return -1;
  const u32 idx = load_be32(data.data());
  if (load_be32(data.data() + 4) != (kMagic ^ idx)) return -1;
  return idx;
}

IcmpCoverage g_coverage;

class IcmpScenario;

// Counts what the engine is handed (every request's copies), then passes
// everything on to the engine.
class InputCounter final : public ports::EventSink {
 public:
  explicit InputCounter(IcmpScenario& s) noexcept : s_(s) {}
  void set_engine(engine::Engine* e) noexcept { e_ = e; }
  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override;
  void on_tap_state(bool up, Instant now) noexcept override { e_->on_tap_state(up, now); }
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override {
    e_->on_socket_event(ref, events, now);
  }
  void on_deadline(Instant now) noexcept override { e_->on_deadline(now); }
  void flush(Instant now) noexcept override { e_->flush(now); }
  Instant next_deadline() const noexcept override { return e_->next_deadline(); }

 private:
  IcmpScenario& s_;
  engine::Engine* e_ = nullptr;
};

// icmp-frames: every frame the link took from the engine.
class FrameChecker final : public ports::TapPort, public Checker {
 public:
  FrameChecker(IcmpScenario& s, SimLink& link, u32 mtu) noexcept : s_(s), link_(link), mtu_(mtu) {}
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    const std::size_t n = link_.send(frames);
    for (std::size_t i = 0; i < n && i < frames.size(); i++) inspect(frames[i]);
    return n;
  }
  bool connected() const noexcept override { return link_.connected(); }
  const char* name() const noexcept override { return "icmp-frames"; }
  const char* check(World& w) noexcept override {
    (void)w;
    return buf_[0] != '\0' ? buf_ : nullptr;
  }
  void fail(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3))) {
    if (buf_[0] != '\0') return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf_, sizeof(buf_), fmt, ap);
    va_end(ap);
  }

 private:
  void inspect(Bytes frame) noexcept;

  IcmpScenario& s_;
  SimLink& link_;
  u32 mtu_;
  char buf_[320] = {};
};

// icmp-flows: the engine's ping flows against the sessions and the clock.
class FlowChecker final : public Checker {
 public:
  FlowChecker(IcmpScenario& s, const engine::Engine& e, u32 slots)
      : s_(s), e_(e), shadow_(new Shadow[slots]), n_(slots) {}
  const char* name() const noexcept override { return "icmp-flows"; }
  const char* check(World& w) noexcept override;

 private:
  struct Shadow {
    bool active = false;
    core::FlowSide tap;
    bool v6 = false;
    Instant last_tap;
  };
  IcmpScenario& s_;
  const engine::Engine& e_;
  std::unique_ptr<Shadow[]> shadow_;
  u32 n_;
  char buf_[320] = {};
};

class IcmpScenario final : public Scenario, public Actor, public GuestStack {
 public:
  IcmpScenario() = default;
  IcmpScenario(const IcmpScenario&) = delete;
  IcmpScenario& operator=(const IcmpScenario&) = delete;
  ~IcmpScenario() override {
    if (log_) set_log_sink(nullptr);
    if (engine_) add_coverage();
  }
  const char* name() const noexcept override { return "icmp"; }
  void derive(Prng& rng, Knobs& knobs) noexcept override;
  void print_knobs(std::FILE* out) const noexcept override;
  void setup(SimEnv& env) override;
  ports::EventSink& sink() noexcept override { return *input_; }
  void start_liveness(SimEnv& env) noexcept override;
  bool done(SimEnv& env) noexcept override;
  const char* pending(SimEnv& env) noexcept override;
  void print_stats(std::FILE* out) noexcept override;

  // Actor.
  void on_event(const Event& e) noexcept override;
  // GuestStack.
  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override;

  // For the checkers.
  Rec* rec(i64 idx) noexcept { return idx >= 0 && idx < static_cast<i64>(nrecs_) ? &recs_[static_cast<std::size_t>(idx)] : nullptr; }
  // The session a ping flow's tap side belongs to, or -1.
  i32 session_of(bool v6, const core::FlowSide& tap) const noexcept {
    for (u32 i = 0; i < nsessions_; i++) {
      const Session& s = sessions_[i];
      if (s.v6 == v6 && s.src == tap.eaddr && s.dst == tap.oaddr && s.id == tap.eport) return static_cast<i32>(i);
    }
    return -1;
  }
  u32 mtu() const noexcept { return mtu_; }
  void count_dup_request() noexcept { dup_requests_++; }
  void count_multi_reply() noexcept { multi_replies_++; }
  void count_gap_renewed() noexcept { gap_renewed_++; }
  // A new engine flow for session `si` (not its first: the last expired).
  void note_new_flow(i32 si) noexcept {
    Session& s = sessions_[si];
    if (s.flows_seen++ > 0) gap_new_flow_++;
  }

 private:
  enum : u8 { kSend = 1, kJunk = 2, kFinal = 3 };

  void send_request(u32 si, bool final) noexcept;
  void send_junk(u32 ji) noexcept;
  // Builds and sends one echo frame with a fresh record; false if the
  // record table is full (the run fails).
  bool emit(const InAny& src, const InAny& dst, u8 type, u8 code, u16 id, u16 seq, u32 extra,
            u16 session, bool junk, bool final) noexcept;
  Duration session_end(const Session& s) const noexcept {
    Duration end = s.start + s.gap;
    if (s.count > 1) end = end + s.interval * static_cast<i64>(s.count - 1);
    return end;
  }
  void add_coverage() const noexcept;

  SimEnv* env_ = nullptr;
  Prng rng_{0};  // payload sizes at run time (the seed's scenario stream)
  u8 me_ = 0;
  u32 mtu_ = 0;
  engine::Sizing sizing_;
  proto::IcmpOptions iopt_;
  bool map_guest_ = false;
  Session sessions_[kMaxSessions];
  u32 nsessions_ = 0;
  Junk junk_[kMaxJunk];
  u32 njunk_ = 0;
  Duration host_latency_[2][kRemoteHosts];
  u32 pending_sends_ = 0;
  std::unique_ptr<Rec[]> recs_;
  u32 nrecs_ = 0;
  std::unique_ptr<u8[]> frame_;
  GuestPort* port_ = nullptr;
  u64 guest_rx_ = 0;
  u64 guest_bad_ = 0;
  u64 refused_ = 0;
  u64 dup_requests_ = 0;
  u64 multi_replies_ = 0;
  u64 gap_renewed_ = 0;
  u64 gap_new_flow_ = 0;
  core::Config cfg_;
  core::NetInfo net_;
  std::unique_ptr<LogSink> log_;
  std::unique_ptr<InputCounter> input_;
  std::unique_ptr<FrameChecker> tap_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<FlowChecker> flow_checker_;
  char pending_[1024] = {};
};

// --- the decorators and checkers ----------------------------------------------------------

void InputCounter::on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept {
  for (Bytes b : frames) {
    auto f = wire::parse_frame(b);
    if (!f || !wire::frame_checksums_ok(*f)) continue;
    EchoMsg m;
    if (!echo_of(*f, &m)) continue;
    Rec* r = s_.rec(nonce_of(m.data));
    if (r == nullptr) continue;
    r->engine_rx++;
    if (r->engine_rx == 2) s_.count_dup_request();
  }
  e_->on_tap_frames(frames, now);
}

void FrameChecker::inspect(Bytes frame) noexcept {
  if (frame.size() > static_cast<std::size_t>(mtu_) + wire::kEthHeaderLen) {
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
  EchoMsg m;
  if (!echo_of(f, &m)) return;
  const u8 reply = m.v6 ? wire::icmpv6_type::echo_reply : wire::icmp_type::echo_reply;
  if (m.type != reply) {
    fail("engine sent ICMP type %u code %u to the guest", m.type, m.code);
    return;
  }
  const i64 idx = nonce_of(m.data);
  Rec* r = s_.rec(idx);
  if (r == nullptr) {
    fail("echo reply without a nonce of ours (%zu data bytes)", m.data.size());
    return;
  }
  if (r->junk != 0) {
    fail("echo reply to junk record %lld", static_cast<long long>(idx));
    return;
  }
  if (m.code != 0 || f.dst != r->src || f.src != r->dst || m.id != r->id || m.seq != r->seq) {
    fail("reply to record %lld (session %u) misdelivered: %s -> %s id %u seq %u code %u, expected %s -> %s "
         "id %u seq %u",
         static_cast<long long>(idx), r->session, to_text(f.src).c_str(), to_text(f.dst).c_str(), m.id, m.seq,
         m.code, to_text(r->dst).c_str(), to_text(r->src).c_str(), r->id, r->seq);
    return;
  }
  if (m.data.size() != r->len) {
    fail("reply to record %lld: %zu data bytes, sent %u", static_cast<long long>(idx), m.data.size(), r->len);
    return;
  }
  for (std::size_t k = kNonceLen; k < m.data.size(); k++) {
    if (m.data[k] != pattern_byte(static_cast<u32>(idx), k)) {
      fail("reply to record %lld: data byte %zu differs", static_cast<long long>(idx), k);
      return;
    }
  }
  r->replies++;
  if (r->replies > r->engine_rx) {
    fail("record %lld answered %u times, the engine was handed it %u times (a duplicated reply)",
         static_cast<long long>(idx), r->replies, r->engine_rx);
    return;
  }
  if (r->replies == 2) s_.count_multi_reply();
}

const char* FlowChecker::check(World& w) noexcept {
  const core::FlowTable& flows = e_.flows();
  const Instant now = w.now();
  const u32 n = flows.capacity() < n_ ? flows.capacity() : n_;
  for (u32 i = 0; i < n; i++) {
    const core::Flow& f = flows.at(core::FlowIdx{i});
    const proto::PingFlow* p = proto::ping_flow_of(f);
    Shadow& sh = shadow_[i];
    const bool active = p != nullptr && f.closing == 0;
    const core::FlowSide* tap = active ? &f.side[core::kIniSide] : nullptr;
    const bool same = active && sh.active && sh.tap == *tap && sh.v6 == (p->v6 != 0);
    if (sh.active && !same) {
      // The flow we saw went away: not before its time.
      if (now < sh.last_tap + proto::kIcmpEchoTimeout) {
        std::snprintf(buf_, sizeof(buf_), "ping flow %u closed %lld ns early (last request at +%lld ns)", i,
                      static_cast<long long>((sh.last_tap + proto::kIcmpEchoTimeout - now).ns),
                      static_cast<long long>((sh.last_tap - World::kEpoch).ns));
        return buf_;
      }
      sh.active = false;
    }
    if (!active) continue;
    if (!same) {
      const i32 si = s_.session_of(p->v6 != 0, *tap);
      if (si < 0) {
        std::snprintf(buf_, sizeof(buf_), "ping flow %u (%s -> %s id %u) belongs to no session", i,
                      to_text(tap->eaddr).c_str(), to_text(tap->oaddr).c_str(), tap->eport);
        return buf_;
      }
      if (f.pif[core::kTgtSide] != core::Pif::host || !p->sock.valid()) {
        std::snprintf(buf_, sizeof(buf_), "ping flow %u without a host socket", i);
        return buf_;
      }
      s_.note_new_flow(si);
      sh.active = true;
      sh.tap = *tap;
      sh.v6 = p->v6 != 0;
      sh.last_tap = p->last_tap;
    }
    if (p->last_tap < sh.last_tap) {
      std::snprintf(buf_, sizeof(buf_), "ping flow %u: last request time went backwards", i);
      return buf_;
    }
    if (p->last_tap - sh.last_tap >= Duration::seconds(50)) s_.count_gap_renewed();
    sh.last_tap = p->last_tap;
    if (now > p->last_tap + proto::kIcmpEchoTimeout) {
      std::snprintf(buf_, sizeof(buf_), "ping flow %u still open %lld ns after its expiry", i,
                    static_cast<long long>((now - p->last_tap - proto::kIcmpEchoTimeout).ns));
      return buf_;
    }
  }
  if (w.events() % 16 == 0) {
    if (const char* v = flows.verify()) return v;
    if (const char* v = e_.timers().verify()) return v;
  }
  return nullptr;
}

// PASST_SIM_ICMP_LOG=1: the engine's debug log on stderr, in virtual time.
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

// --- the scenario -------------------------------------------------------------------------

void IcmpScenario::derive(Prng& rng, Knobs& k) noexcept {
  mtu_ = k.link.mtu;
  // Single bit flips: the Internet checksum catches each one (Ethernet
  // headers have none: a flipped MAC is harmless here).
  for (auto& f : k.link.faults) f.corrupt_bits_max = 1;
  static constexpr u32 kFlows[] = {2, 4, 16, 64, 256};
  sizing_.flows = kFlows[rng.below(5)];
  static constexpr u32 kBatch[] = {1, 4, 64, 256};
  sizing_.tap_batch_frames = kBatch[rng.below(4)];
  static constexpr std::size_t kArena[] = {65536, 262144, 1u << 20};
  sizing_.tap_arena = kArena[rng.below(3)];
  const std::size_t min_arena = static_cast<std::size_t>(mtu_) + 64;
  if (sizing_.tap_arena < min_arena) sizing_.tap_arena = min_arena;
  static constexpr u32 kPerEvent[] = {1, 2, 8, 64};
  iopt_.replies_per_event = kPerEvent[rng.below(4)];
  iopt_.drop_repeated_seq = rng.chance(200000);
  map_guest_ = rng.chance(500000);
  for (auto& fam : host_latency_)
    for (auto& l : fam)
      l = rng.chance(100000) ? rng.duration(Duration::millis(500), Duration::seconds(3))
                             : rng.duration(Duration::micros(5), Duration::millis(50));

  nsessions_ = static_cast<u32>(rng.range(1, kMaxSessions));
  const bool crowded = sizing_.flows < nsessions_;
  if (crowded && nsessions_ > 2 * sizing_.flows) nsessions_ = 2 * sizing_.flows;
  u32 answering = 0;
  const std::size_t ip4 = wire::kIpv4HeaderLen + 8;
  const std::size_t ip6 = wire::kIpv6HeaderLen + 8;
  for (u32 i = 0; i < nsessions_; i++) {
    Session& s = sessions_[i];
    s = Session{};
    static constexpr Target kTargets[] = {Target::remote, Target::remote, Target::remote, Target::silent,
                                          Target::gateway, Target::map_guest};
    s.target = kTargets[rng.below(6)];
    if (s.target == Target::map_guest && !map_guest_) s.target = Target::remote;
    s.answers = s.target != Target::silent;
    // With fewer flows than sessions, at most as many answering sessions
    // as flows (the liveness bound; see the header).
    if (crowded && s.answers && answering == sizing_.flows) {
      s.target = Target::silent;
      s.answers = false;
    }
    if (s.answers) answering++;
    s.v6 = rng.chance(400000);
    switch (s.target) {
      case Target::remote: {
        const u32 h = static_cast<u32>(rng.below(kRemoteHosts));
        s.dst = remote_addr(s.v6, h);
        s.host_latency = host_latency_[s.v6 ? 1 : 0][h];
        break;
      }
      case Target::silent: s.dst = remote_addr(s.v6, 100 + static_cast<u32>(rng.below(2))); break;
      case Target::gateway: s.dst = s.v6 ? InAny::from(kLl6) : InAny::from(kGw4); break;
      case Target::map_guest: s.dst = s.v6 ? InAny::from(kMapGuest6) : InAny::from(kMapGuest4); break;
    }
    s.src = s.v6 ? (s.target == Target::gateway ? InAny::from(kGuestLl6) : k.net.local_v6) : k.net.local_v4;
    // Identifiers: often shared between sessions (1), else random; the
    // whole key stays unique.
    for (;;) {
      s.id = rng.chance(300000) ? u16{1} : static_cast<u16>(rng.below(65536));
      bool taken = false;
      for (u32 j = 0; j < i; j++) {
        const Session& o = sessions_[j];
        if (o.v6 == s.v6 && o.src == s.src && o.dst == s.dst && o.id == s.id) taken = true;
      }
      if (!taken) break;
    }
    s.count = static_cast<u32>(rng.range(1, 30));
    s.start = rng.duration(Duration::zero(), k.safety * 8 / 10);
    s.interval = rng.duration(Duration::millis(1), Duration::millis(300));
    if (!crowded && s.count > 1 && rng.chance(250000)) {
      static constexpr i64 kGapMs[] = {59900, 60000, 60001, 0};
      const i64 g = kGapMs[rng.below(4)];
      s.gap = g != 0 ? Duration::millis(g) : rng.duration(Duration::seconds(50), Duration::seconds(70));
    }
    const std::size_t room = mtu_ - (s.v6 ? ip6 : ip4) - kNonceLen;
    s.payload_max = rng.chance(800000) ? static_cast<u32>(rng.range(0, 56))
                                        : static_cast<u32>(rng.range(0, room < 65000 ? room : 65000));
  }
  njunk_ = static_cast<u32>(rng.range(0, kMaxJunk));
  for (u32 i = 0; i < njunk_; i++) {
    junk_[i].kind = static_cast<JunkKind>(rng.below(5));
    junk_[i].v6 = junk_[i].kind != JunkKind::broadcast && rng.chance(400000);
    junk_[i].at = rng.duration(Duration::zero(), k.safety);
  }
  const u32 need = nsessions_ + 8;
  if (k.net.max_sockets < need) k.net.max_sockets = need;
  if (k.net.max_dgram_socks < need) k.net.max_dgram_socks = need;
}

void IcmpScenario::print_knobs(std::FILE* out) const noexcept {
  std::fprintf(out,
               "    engine: flows=%u tap_batch=%u arena=%zu replies_per_event=%u drop_repeated_seq=%d map_guest=%d\n",
               sizing_.flows, sizing_.tap_batch_frames, sizing_.tap_arena, iopt_.replies_per_event,
               iopt_.drop_repeated_seq ? 1 : 0, map_guest_ ? 1 : 0);
  for (u32 i = 0; i < nsessions_; i++) {
    const Session& s = sessions_[i];
    std::fprintf(out, "    session %u: %s %s -> %s id %u count=%u start=%s interval=%s gap=%s data<=%u", i,
                 target_name(s.target), to_text(s.src).c_str(), to_text(s.dst).c_str(), s.id, s.count,
                 fmt_dur(s.start).buf, fmt_dur(s.interval).buf, fmt_dur(s.gap).buf, s.payload_max);
    if (s.target == Target::remote) std::fprintf(out, " host_latency=%s", fmt_dur(s.host_latency).buf);
    std::fprintf(out, "\n");
  }
  for (u32 i = 0; i < njunk_; i++)
    std::fprintf(out, "    junk %u: %s %s at %s\n", i, junk_name(junk_[i].kind), junk_[i].v6 ? "v6" : "v4",
                 fmt_dur(junk_[i].at).buf);
}

void IcmpScenario::setup(SimEnv& env) {
  env_ = &env;
  rng_ = env.world.rng().fork(stream::scenario);
  me_ = env.world.add_actor(*this);
  const InAny local4 = env.knobs.net.local_v4;
  const InAny local6 = env.knobs.net.local_v6;

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
    net_.v4.map_guest_addr = kMapGuest4;
    net_.v6.map_guest_addr = kMapGuest6;
  }
  net_.dhcp = net_.ndp = net_.dhcpv6 = net_.ra = false;
  cfg_.mode = core::Mode::passt;
  cfg_.mtu = net_.mtu;

  if (std::getenv("PASST_SIM_ICMP_LOG") != nullptr) {
    log_ = std::make_unique<StderrLog>(env.world);
    set_log_sink(log_.get());
    set_log_level(LogLevel::trace);
  }
  recs_ = std::make_unique<Rec[]>(kMaxRecs);
  frame_.reset(new u8[static_cast<std::size_t>(mtu_) + wire::kEthHeaderLen]);
  input_ = std::make_unique<InputCounter>(*this);
  tap_ = std::make_unique<FrameChecker>(*this, env.link, mtu_);
  engine_ = std::make_unique<engine::Engine>(cfg_, net_, ports::Ports{*tap_, env.net, env.world}, sizing_,
                                             proto::TcpOptions{}, iopt_);
  input_->set_engine(engine_.get());
  engine_->start(env.world.now());
  env.link.attach_guest(*this);

  // The echo hosts: remote ones, the host's loopback (the gateway) and its
  // own addresses (map_guest_addr).
  for (u32 fam = 0; fam < 2; fam++)
    for (u32 h = 0; h < kRemoteHosts; h++)
      (void)env.net.add_ping_host(Netns::host, remote_addr(fam == 1, h), host_latency_[fam][h]);
  (void)env.net.add_ping_host(Netns::host, InAny::from(Ipv4Addr::loopback()), Duration::micros(3));
  (void)env.net.add_ping_host(Netns::host, InAny::from(Ipv6Addr::loopback()), Duration::micros(3));
  (void)env.net.add_ping_host(Netns::host, local4, Duration::micros(5));
  (void)env.net.add_ping_host(Netns::host, local6, Duration::micros(5));

  for (u32 i = 0; i < nsessions_; i++) {
    const Session& s = sessions_[i];
    for (u32 n = 0; n < s.count; n++) {
      Duration at = s.start + s.interval * static_cast<i64>(n);
      if (n + 1 == s.count && n > 0) at = at + s.gap;
      env.world.schedule(World::kEpoch + at, me_, kSend, i, n);
      pending_sends_++;
    }
  }
  for (u32 i = 0; i < njunk_; i++) env.world.schedule(World::kEpoch + junk_[i].at, me_, kJunk, i);

  env.world.add_checker(*tap_);
  flow_checker_ = std::make_unique<FlowChecker>(*this, *engine_, sizing_.flows);
  env.world.add_checker(*flow_checker_);
}

bool IcmpScenario::emit(const InAny& src, const InAny& dst, u8 type, u8 code, u16 id, u16 seq, u32 extra,
                        u16 session, bool junk, bool final) noexcept {
  if (nrecs_ == kMaxRecs) {
    env_->world.fail("icmp-scenario", "record table full");
    return false;
  }
  const u32 idx = nrecs_++;
  const bool v6 = !src.is_v4();
  Rec& r = recs_[idx];
  r = Rec{};
  r.src = src;
  r.dst = dst;
  r.session = session;
  r.id = id;
  r.seq = seq;
  r.v6 = v6 ? 1 : 0;
  r.junk = junk ? 1 : 0;
  r.final = final ? 1 : 0;
  r.len = static_cast<u32>(kNonceLen + extra);

  const std::size_t ip = v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen;
  const std::size_t l4 = wire::kEthHeaderLen + ip;
  const std::size_t msg_len = 8 + r.len;
  MutBytes f(frame_.get(), l4 + msg_len);
  const wire::EthernetRepr eth{net_.our_mac, kGuestMac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(f);
  MutBytes m = f.subspan(l4);
  store_be32(m.data() + 8, idx);
  store_be32(m.data() + 12, kMagic ^ idx);
  for (std::size_t k = kNonceLen; k < r.len; k++) m[8 + k] = pattern_byte(idx, k);
  if (!v6) {
    wire::Ipv4Repr h;
    h.src = src.v4();
    h.dst = dst.v4();
    h.protocol = wire::ipproto::icmp;
    h.ttl = 64;
    h.payload_len = static_cast<u16>(msg_len);
    (void)h.emit(f.subspan(wire::kEthHeaderLen));
    const wire::IcmpRepr ir{type, code, (static_cast<u32>(id) << 16) | seq, r.len};
    (void)ir.emit(m);
  } else {
    wire::Ipv6Repr h;
    h.src = src.v6();
    h.dst = dst.v6();
    h.next_header = wire::kIpProtoIcmpv6;
    h.hop_limit = 64;
    h.payload_len = static_cast<u16>(msg_len);
    (void)h.emit(f.subspan(wire::kEthHeaderLen));
    m[0] = type;
    m[1] = code;
    store_be16(m.data() + 4, id);
    store_be16(m.data() + 6, seq);
    (void)wire::icmpv6_fill_checksum(h.src, h.dst, m);
  }
  if (port_ == nullptr || !port_->guest_send(Bytes(f))) refused_++;
  return true;
}

void IcmpScenario::send_request(u32 si, bool final) noexcept {
  Session& s = sessions_[si];
  const u32 extra = final ? 16 : static_cast<u32>(rng_.range(0, s.payload_max));
  const u8 type = s.v6 ? wire::icmpv6_type::echo_request : wire::icmp_type::echo_request;
  (void)emit(s.src, s.dst, type, 0, s.id, s.next_seq++, extra, static_cast<u16>(si), false, final);
  s.sent++;
}

void IcmpScenario::send_junk(u32 ji) noexcept {
  const Junk& j = junk_[ji];
  const bool v6 = j.v6;
  const InAny src = v6 ? env_->knobs.net.local_v6 : env_->knobs.net.local_v4;
  InAny dst = remote_addr(v6, 0);
  u8 type = v6 ? wire::icmpv6_type::echo_request : wire::icmp_type::echo_request;
  u8 code = 0;
  switch (j.kind) {
    case JunkKind::guest_reply: type = v6 ? wire::icmpv6_type::echo_reply : wire::icmp_type::echo_reply; break;
    case JunkKind::other_type: type = v6 ? u8{200} : u8{13}; break;  // private use / timestamp
    case JunkKind::bad_code: code = 1; break;
    case JunkKind::multicast:
      dst = v6 ? InAny::from(Ipv6Addr{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}})
               : InAny::from(Ipv4Addr::of(224, 0, 0, 1));
      break;
    case JunkKind::broadcast: dst = InAny::from(Ipv4Addr::broadcast()); break;
  }
  (void)emit(src, dst, type, code, 0x7777, static_cast<u16>(ji), 8, kNoSession, true, false);
}

void IcmpScenario::on_event(const Event& e) noexcept {
  switch (e.kind) {
    case kSend:
      if (e.a < nsessions_) send_request(e.a, false);
      pending_sends_--;
      return;
    case kJunk:
      if (e.a < njunk_) send_junk(e.a);
      return;
    case kFinal: {
      if (e.a >= nsessions_) return;
      Session& s = sessions_[e.a];
      if (s.final_answered) return;
      s.final_tries++;
      send_request(e.a, true);
      env_->world.schedule_in(Duration::seconds(1), me_, kFinal, e.a);
      return;
    }
    default: return;
  }
}

void IcmpScenario::on_frame(Bytes frame, Instant now) noexcept {
  (void)now;
  auto f = wire::parse_frame(frame);
  if (!f || !wire::frame_checksums_ok(*f)) {
    guest_bad_++;
    return;
  }
  EchoMsg m;
  if (!echo_of(*f, &m)) return;
  Rec* r = rec(nonce_of(m.data));
  if (r == nullptr || r->junk != 0) return;
  guest_rx_++;
  if (r->final != 0 && r->session < nsessions_) sessions_[r->session].final_answered = true;
}

void IcmpScenario::start_liveness(SimEnv& env) noexcept {
  for (u32 i = 0; i < nsessions_; i++) {
    const Session& s = sessions_[i];
    if (!s.answers) continue;
    Instant at = World::kEpoch + session_end(s) + Duration::millis(10);
    if (at < env.world.now()) at = env.world.now();
    env.world.schedule(at, me_, kFinal, i);
  }
}

bool IcmpScenario::done(SimEnv& env) noexcept {
  if (pending_sends_ != 0) return false;
  for (u32 i = 0; i < nsessions_; i++)
    if (sessions_[i].answers && !sessions_[i].final_answered) return false;
  return engine_->flows().active_count() == 0 && env.net.open_sockets() == 0;
}

const char* IcmpScenario::pending(SimEnv& env) noexcept {
  std::size_t used = 0;
  pending_[0] = '\0';
  append(pending_, sizeof(pending_), &used, "planned sends left %u; ", pending_sends_);
  for (u32 i = 0; i < nsessions_; i++) {
    const Session& s = sessions_[i];
    if (s.answers && !s.final_answered)
      append(pending_, sizeof(pending_), &used, "session %u unanswered after %u final tries; ", i, s.final_tries);
  }
  append(pending_, sizeof(pending_), &used, "engine flows %u, sockets %u", engine_->flows().active_count(),
         env.net.open_sockets());
  return pending_;
}

void IcmpScenario::print_stats(std::FILE* out) noexcept {
  const proto::IcmpStats& s = engine_->icmp().stats();
  std::fprintf(out,
               "  icmp engine: requests=%llu replies=%llu opened=%llu expired=%llu table_full=%llu sock_failed=%llu "
               "send_failed=%llu not_request=%llu bad_addr=%llu foreign=%llu too_big=%llu repeated=%llu no_room=%llu\n",
               static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.replies),
               static_cast<unsigned long long>(s.flows_opened), static_cast<unsigned long long>(s.flows_expired),
               static_cast<unsigned long long>(s.table_full), static_cast<unsigned long long>(s.sock_failed),
               static_cast<unsigned long long>(s.send_failed), static_cast<unsigned long long>(s.not_request),
               static_cast<unsigned long long>(s.bad_addr), static_cast<unsigned long long>(s.reply_foreign),
               static_cast<unsigned long long>(s.reply_too_big), static_cast<unsigned long long>(s.reply_repeated),
               static_cast<unsigned long long>(s.reply_no_room));
  std::fprintf(out,
               "  icmp guest: records=%u refused=%llu replies=%llu bad=%llu | dup_requests=%llu multi_replies=%llu "
               "gap_renewed=%llu gap_new_flow=%llu\n",
               nrecs_, static_cast<unsigned long long>(refused_), static_cast<unsigned long long>(guest_rx_),
               static_cast<unsigned long long>(guest_bad_), static_cast<unsigned long long>(dup_requests_),
               static_cast<unsigned long long>(multi_replies_), static_cast<unsigned long long>(gap_renewed_),
               static_cast<unsigned long long>(gap_new_flow_));
}

void IcmpScenario::add_coverage() const noexcept {
  const proto::IcmpStats& s = engine_->icmp().stats();
  IcmpCoverage& c = g_coverage;
  c.runs++;
  c.requests += s.requests;
  c.replies += s.replies;
  c.flows_opened += s.flows_opened;
  c.flows_expired += s.flows_expired;
  c.table_full += s.table_full;
  c.not_request += s.not_request;
  c.bad_addr += s.bad_addr;
  c.reply_repeated += s.reply_repeated;
  c.dup_requests += dup_requests_;
  c.multi_replies += multi_replies_;
  c.gap_renewed += gap_renewed_;
  c.gap_new_flow += gap_new_flow_;
}

std::unique_ptr<Scenario> make_icmp() { return std::make_unique<IcmpScenario>(); }

}  // namespace

ScenarioEntry icmp_scenario_entry() noexcept {
  return ScenarioEntry{"icmp", "pings through ping sockets: replies, demultiplexing, 60 s expiry", make_icmp};
}

const IcmpCoverage& icmp_coverage() noexcept { return g_coverage; }
void icmp_coverage_reset() noexcept { g_coverage = IcmpCoverage{}; }

}  // namespace passt::sim
