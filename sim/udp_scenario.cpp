#include "sim/udp_scenario.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "engine/engine.hpp"
#include "proto/udp.hpp"
#include "sim/pattern.hpp"
#include "sim/udp_guest.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"
#include "wire/frame.hpp"
#include "wire/udp.hpp"

namespace passt::sim {

using ports::Netns;
using ports::SockAddr;

namespace {

enum class UKind : u8 { out, in, ns_out };
enum class UTarget : u8 { remote, gateway, dns };

const char* kind_name(UKind k) noexcept {
  switch (k) {
    case UKind::out: return "out";
    case UKind::in: return "in";
    case UKind::ns_out: return "ns-out";
  }
  return "?";
}
const char* target_name(UTarget t) noexcept {
  switch (t) {
    case UTarget::remote: return "remote";
    case UTarget::gateway: return "gateway";
    case UTarget::dns: return "dns";
  }
  return "?";
}

constexpr u32 kMaxPlans = 12;
constexpr u32 kMaxSeq = 1024;
constexpr u32 kFinalSeq = 1000;  // final requests: kFinalSeq .. + kFinals - 1
constexpr u32 kFinals = 3;
constexpr std::size_t kHdr = 16;
constexpr u32 kMagic = 0x55445053;  // "UDPS"
constexpr u8 kFlagFinal = 1;
constexpr u8 kFlagOversize = 2;
constexpr std::size_t kMaxPayload = 16384;  // largest datagram we make (but oversize ones)

const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv4Addr kDnsMatch4 = Ipv4Addr::of(192, 0, 2, 53);
const Ipv4Addr kDnsHost4 = Ipv4Addr::of(198, 51, 100, 53);
const Ipv6Addr kDnsMatch6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35}};
const Ipv6Addr kDnsHost6{{0x20, 0x01, 0x0d, 0xb8, 0, 0x72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53}};

InAny remote_addr(bool v6, u32 i) noexcept {
  if (!v6) return InAny::from(Ipv4Addr::of(203, 0, 113, static_cast<u8>(1 + i)));
  return InAny::from(Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<u8>(1 + i)}});
}
InAny loopback(bool v6) noexcept {
  return v6 ? InAny::from(Ipv6Addr::loopback()) : InAny::from(Ipv4Addr::loopback());
}

u64 stream_of(u32 plan, u8 dir) noexcept { return 0x75000000ULL + u64{plan} * 4 + dir; }

struct Header {
  u32 plan = 0;
  u8 dir = 0;
  u8 flags = 0;
  u32 seq = 0;
  u32 len = 0;
};

// Decodes and verifies a datagram of ours: nullopt-like false if it is not
// one, or its contents do not match.
bool decode(Bytes p, Header* h, const char** why) noexcept {
  if (p.size() < kHdr) {
    *why = "shorter than our header";
    return false;
  }
  if (load_be32(p.data()) != kMagic) {
    *why = "bad magic";
    return false;
  }
  h->plan = p[4];
  h->dir = p[5];
  h->flags = p[6];
  h->seq = load_be32(p.data() + 8);
  h->len = load_be32(p.data() + 12);
  if (h->len != p.size()) {
    *why = "length field differs from the datagram's length";
    return false;
  }
  if (h->plan >= kMaxPlans || h->dir > 1 || h->seq >= kMaxSeq) {
    *why = "plan, direction or sequence number out of range";
    return false;
  }
  if (check_pattern(stream_of(h->plan, h->dir), static_cast<u64>(h->seq) * 65536, p.subspan(kHdr)) !=
      p.size() - kHdr) {
    *why = "payload bytes differ from the pattern";
    return false;
  }
  return true;
}

std::size_t encode(MutBytes out, u32 plan, u8 dir, u8 flags, u32 seq, std::size_t len) noexcept {
  if (len == 0) return 0;
  u8* p = out.data();
  store_be32(p, kMagic);
  p[4] = static_cast<u8>(plan);
  p[5] = dir;
  p[6] = flags;
  p[7] = 0;
  store_be32(p + 8, seq);
  store_be32(p + 12, static_cast<u32>(len));
  fill_pattern(stream_of(plan, dir), static_cast<u64>(seq) * 65536, out.subspan(kHdr, len - kHdr));
  return len;
}

struct UPlan {
  UKind kind = UKind::out;
  bool v6 = false;
  UTarget target = UTarget::remote;
  bool lo_client = false;  // in: the client sits on host loopback
  bool splice = false;     // in: the answer comes from the namespace (pasta)
  bool shared_port = false;
  u16 gport = 0;           // out: guest source port; in: guest port
  u16 lport = 0;           // in / ns-out: listener port
  InAny gdst;              // out: where the guest sends
  SockAddr peer;           // out: the peer; in / ns-out: the client
  SockAddr app;            // in (splice): the namespace's application; ns-out: host application
  InAny client_seen;       // in (tap): the client's address as the guest sees it
  u32 count = 0;           // requests in the safety phase
  Duration start;
  Duration interval;
  u32 max_size = 0;
  u32 zero_ppm = 0;
  u32 oversize_ppm = 0;
  Duration latency;
  u32 app_idx = ~0u;       // the guest socket
  // Run time.
  u32 sent = 0;
  u32 finals_sent = 0;
  bool final_ok[kFinals] = {};
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

UdpCoverage g_coverage;

class UdpScenario;

// Engine output: a TapPort decorator.
class OutTap final : public ports::TapPort {
 public:
  OutTap(UdpScenario& s, SimLink& link, const UdpHooks& h)
      : s_(s), link_(link), hooks_(h), scratch_(new u8[65536 + 64]) {}
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  bool connected() const noexcept override { return link_.connected(); }

 private:
  std::size_t sabotaged(Bytes f) noexcept;

  UdpScenario& s_;
  SimLink& link_;
  UdpHooks hooks_;
  std::unique_ptr<u8[]> scratch_;
  u64 udp_frames_ = 0;
};

// Engine input: an EventSink decorator that counts the guest's datagrams
// where the engine receives them.
class InSink final : public ports::EventSink {
 public:
  explicit InSink(UdpScenario& s) noexcept : s_(s) {}
  void set(engine::Engine* e) noexcept { e_ = e; }
  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override;
  void on_tap_state(bool c, Instant now) noexcept override { e_->on_tap_state(c, now); }
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override {
    e_->on_socket_event(ref, events, now);
  }
  void on_deadline(Instant now) noexcept override { e_->on_deadline(now); }
  void flush(Instant now) noexcept override { e_->flush(now); }
  Instant next_deadline() const noexcept override { return e_->next_deadline(); }

 private:
  UdpScenario& s_;
  engine::Engine* e_ = nullptr;
};

class Check final : public Checker {
 public:
  Check(const char* name, UdpScenario& s, const char* (*fn)(UdpScenario&, World&)) noexcept
      : name_(name), s_(s), fn_(fn) {}
  const char* name() const noexcept override { return name_; }
  const char* check(World& w) noexcept override { return fn_(s_, w); }

 private:
  const char* name_;
  UdpScenario& s_;
  const char* (*fn_)(UdpScenario&, World&);
};

class UdpScenario final : public Scenario, public Actor, public UdpGuestHandler, public UdpPeerObserver {
 public:
  explicit UdpScenario(const UdpHooks& h) noexcept : hooks_(h) {}
  UdpScenario(const UdpScenario&) = delete;
  UdpScenario& operator=(const UdpScenario&) = delete;
  ~UdpScenario() override {
    // (The runner destroys the world, link and sockets first: env_ is gone.)
    if (log_) set_log_sink(nullptr);
    if (engine_) add_coverage();
  }
  const char* name() const noexcept override { return "udp"; }
  void derive(Prng& rng, Knobs& knobs) noexcept override;
  void print_knobs(std::FILE* out) const noexcept override;
  void setup(SimEnv& env) override;
  ports::EventSink& sink() noexcept override { return *in_; }
  void start_liveness(SimEnv& env) noexcept override;
  bool done(SimEnv& env) noexcept override;
  const char* pending(SimEnv& env) noexcept override;
  void print_stats(std::FILE* out) noexcept override;
  void on_event(const Event& e) noexcept override;

  void on_guest_datagram(u32 app, const UdpGuestApp& a, const InAny& src, u16 sport, Bytes payload,
                         Instant now) noexcept override;
  void on_peer_datagram(Netns ns, const SockAddr& peer, const SockAddr& from, Bytes payload) noexcept override;

  // Hooks of the decorators and checkers.
  void engine_got(const wire::Frame& f) noexcept;
  void engine_sent(Bytes frame) noexcept;
  const char* check_dup() noexcept { return dup_[0] != '\0' ? dup_ : nullptr; }
  const char* check_flow() noexcept {
    if (flow_[0] != '\0') return flow_;
    return guest_ ? guest_->violation() : nullptr;
  }
  const char* check_frames() noexcept { return frames_[0] != '\0' ? frames_ : nullptr; }
  const char* check_expiry(World& w) noexcept;
  // For the misdelivery hook: another plan's guest port of that family.
  u16 other_guest_port(u16 port, bool v6) const noexcept {
    for (u32 i = 0; i < nplans_; i++) {
      const UPlan& p = plans_[i];
      if (p.app_idx != ~0u && p.v6 == v6 && p.gport != port) return p.gport;
    }
    return static_cast<u16>(port + 1);
  }
  const char* check_engine(World& w) noexcept {
    if (w.events() % 16 != 0) return nullptr;
    if (const char* v = engine_->flows().verify()) return v;
    return engine_->timers().verify();
  }

 private:
  void fail(char* buf, const char* fmt, ...) noexcept __attribute__((format(printf, 3, 4)));
  void send_request(u32 i, u32 seq, u8 flags) noexcept;
  void answer(Netns ns, const SockAddr& at, const SockAddr& to, u32 plan, const Header& h, bool zero) noexcept;
  // Counts one more copy at the origin / at the destination.
  void src_copy(u32 plan, u8 dir, u32 seq) noexcept;
  void dst_copy(u32 plan, u8 dir, u32 seq, const char* where) noexcept;
  void zero_src(u32 plan, u8 dir) noexcept { zsrc_[plan][dir]++; }
  void zero_dst(u32 plan, u8 dir, const char* where) noexcept;
  void response_arrived(u32 plan, const Header& h) noexcept;
  i32 plan_of_guest_frame(const wire::Frame& f, bool from_guest) const noexcept;
  i32 plan_at_peer(Netns ns, const SockAddr& peer, const SockAddr& from) const noexcept;
  std::size_t tap_max(bool v6) const noexcept;
  bool relaxed() const noexcept;
  void add_coverage() const noexcept;

  UdpHooks hooks_;
  SimEnv* env_ = nullptr;
  u8 actor_ = 0;
  u32 mtu_ = 0;
  bool pasta_ = false;
  bool no_splice_ = false;
  bool lo_to_lo_ = false;
  u16 delta_ = 0;
  engine::Sizing sizing_;
  proto::UdpOptions uopt_;
  UPlan plans_[kMaxPlans];
  u32 nplans_ = 0;
  bool liveness_ = false;
  core::Config cfg_;
  core::NetInfo net_;
  std::unique_ptr<LogSink> log_;
  std::unique_ptr<OutTap> tap_;
  std::unique_ptr<InSink> in_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<UdpGuest> guest_;
  std::unique_ptr<Check> checks_[5];
  std::unique_ptr<u8[]> buf_;  // one datagram being built
  // Copies per (plan, direction, sequence number).
  std::unique_ptr<u16[]> src_;
  std::unique_ptr<u16[]> dst_;
  u64 zsrc_[kMaxPlans][2] = {};
  u64 zdst_[kMaxPlans][2] = {};
  // udp-expiry: last activity of each flow index seen alive.
  std::unique_ptr<Instant[]> shadow_ts_;
  std::unique_ptr<u8[]> shadow_live_;
  u64 delivered_ = 0;
  u64 zero_delivered_ = 0;
  u64 link_dups_ = 0;
  char dup_[256] = {};
  char flow_[256] = {};
  char frames_[256] = {};
  char expiry_[256] = {};
  char pending_[2048] = {};
};

// --- decorators ------------------------------------------------------------------------

std::size_t OutTap::send(std::span<const Bytes> frames) noexcept {
  if (hooks_.duplicate_every == 0 && !hooks_.misdeliver) {
    for (Bytes f : frames) s_.engine_sent(f);
    return link_.send(frames);
  }
  // Sabotaged: frame by frame.
  std::size_t n = 0;
  for (Bytes f : frames) {
    if (sabotaged(f) == 0) break;
    n++;
  }
  return n;
}

std::size_t OutTap::sabotaged(Bytes f) noexcept {
  auto pf = wire::parse_frame(f);
  const bool udp = pf && pf->l4 == wire::L4::udp;
  if (udp && hooks_.misdeliver && f.size() <= 65536 + 64) {
    std::memcpy(scratch_.get(), f.data(), f.size());
    MutBytes m(scratch_.get(), f.size());
    const bool v6 = pf->l3 == wire::L3::ipv6;
    wire::UdpRepr u;
    u.src_port = pf->src_port;
    u.dst_port = s_.other_guest_port(pf->dst_port, v6);
    u.payload_len = pf->payload.size();
    MutBytes l4 = m.subspan(pf->l4_offset, u.length());
    if (v6)
      (void)u.emit(l4, pf->src.v6(), pf->dst.v6());
    else
      (void)u.emit(l4, pf->src.v4(), pf->dst.v4());
    f = Bytes(m);
  }
  s_.engine_sent(f);
  if (link_.send(std::span<const Bytes>(&f, 1)) == 0) return 0;
  if (udp && hooks_.duplicate_every != 0 && ++udp_frames_ % hooks_.duplicate_every == 0) {
    s_.engine_sent(f);
    (void)link_.send(std::span<const Bytes>(&f, 1));
  }
  return 1;
}

void InSink::on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept {
  for (Bytes b : frames) {
    auto pf = wire::parse_frame(b);
    if (pf && pf->l4 == wire::L4::udp && wire::frame_checksums_ok(*pf)) s_.engine_got(*pf);
  }
  e_->on_tap_frames(frames, now);
}

// --- knobs --------------------------------------------------------------------------------

void UdpScenario::derive(Prng& rng, Knobs& k) noexcept {
  mtu_ = k.link.mtu;
  // One flipped bit per corrupted frame: the checksums catch every one.
  for (auto& f : k.link.faults) f.corrupt_bits_max = 1;
  pasta_ = rng.chance(400000);
  no_splice_ = pasta_ && rng.chance(200000);
  lo_to_lo_ = pasta_ && rng.chance(300000);
  delta_ = rng.chance(500000) ? 0 : 100;
  static constexpr u32 kRecv[] = {1, 4, 32, 32};
  uopt_.recv_batch = kRecv[rng.below(4)];
  static constexpr u32 kDg[] = {2, 64, 1024};
  uopt_.max_batch_dgrams = kDg[rng.below(3)];
  static constexpr u32 kFl[] = {1, 4, 128};
  uopt_.max_batch_flows = kFl[rng.below(3)];
  {
    // The read budget, drawn from a copy of the stream so that every
    // earlier seed keeps the scenario it had (the copy is not advanced
    // back into rng).  0: whole batches; 1500: mostly one datagram a read.
    Prng peek = rng;
    Prng sub = peek.fork(0x7265637662797465);  // "recvbyte"
    static constexpr u32 kRb[] = {0, 1500, 64 * 1024, 64 * 1024};
    uopt_.recv_bytes = kRb[sub.below(4)];
  }
  // Without an IPv4 UDP checksum the guest could not tell a corrupted
  // payload: on when the link corrupts frames towards the guest.
  uopt_.ipv4_checksum = k.link.faults[0].corrupt_ppm != 0 || rng.chance(300000);
  static constexpr u32 kBatch[] = {1, 4, 64, 256};
  sizing_.tap_batch_frames = kBatch[rng.below(4)];
  static constexpr std::size_t kArena[] = {65536, 262144, 1u << 20};
  sizing_.tap_arena = kArena[rng.below(3)];
  const std::size_t min_arena = static_cast<std::size_t>(mtu_) + 64;
  if (sizing_.tap_arena < min_arena) sizing_.tap_arena = min_arena;

  nplans_ = static_cast<u32>(rng.range(1, kMaxPlans));
  u32 flows_needed = 0;
  for (u32 i = 0; i < nplans_; i++) {
    UPlan& p = plans_[i];
    p = UPlan{};
    const u32 r = static_cast<u32>(rng.below(10));
    p.kind = r < 5 ? UKind::out : (r < 8 || !pasta_ ? UKind::in : UKind::ns_out);
    p.v6 = rng.chance(400000);
    p.count = static_cast<u32>(rng.chance(200000) ? rng.range(1, 4) : rng.range(5, 300));
    p.start = rng.duration(Duration::zero(), k.safety / 2);
    p.interval = rng.duration(Duration::micros(50), Duration::millis(5));
    p.zero_ppm = rng.chance(700000) ? 0 : static_cast<u32>(rng.range(10000, 300000));
    p.latency = rng.duration(Duration::micros(5), Duration::millis(10));
    const std::size_t tmax = tap_max(p.v6);
    const std::size_t cap = p.kind == UKind::ns_out ? kMaxPayload : (tmax < kMaxPayload ? tmax : kMaxPayload);
    p.max_size = static_cast<u32>(rng.chance(500000) ? (cap < 200 ? cap : 200) : cap);
    if (p.max_size < kHdr) p.max_size = kHdr;
    flows_needed++;
    switch (p.kind) {
      case UKind::out: {
        const u32 t = static_cast<u32>(rng.below(6));
        p.target = t < 4 ? UTarget::remote : (t == 4 ? UTarget::gateway : UTarget::dns);
        p.gport = static_cast<u16>(40000 + i);
        // Now and then one guest port for several peers.  Two DNS plans on
        // one port would be one flow (same guest socket, same resolver),
        // whichever plan the port is taken from: plan j may have taken it
        // from a DNS plan itself (seeds 507 and 1196 of the udp scenario).
        auto dns_on = [&](u16 port) noexcept {
          for (u32 q = 0; q < i; q++)
            if (plans_[q].kind == UKind::out && plans_[q].v6 == p.v6 && plans_[q].gport == port &&
                plans_[q].target == UTarget::dns)
              return true;
          return false;
        };
        for (u32 j = 0; j < i; j++) {
          if (plans_[j].kind == UKind::out && plans_[j].v6 == p.v6 &&
              !(p.target == UTarget::dns && dns_on(plans_[j].gport)) && rng.chance(300000)) {
            p.gport = plans_[j].gport;
            p.shared_port = true;
            break;
          }
        }
        const u16 rport = static_cast<u16>(1000 + i);
        switch (p.target) {
          case UTarget::remote:
            p.gdst = remote_addr(p.v6, i);
            p.peer = SockAddr{p.gdst, rport, 0};
            break;
          case UTarget::gateway:
            p.gdst = p.v6 ? InAny::from(kLl6) : InAny::from(kGw4);
            p.peer = SockAddr{loopback(p.v6), rport, 0};
            break;
          case UTarget::dns:
            p.gdst = p.v6 ? InAny::from(kDnsMatch6) : InAny::from(kDnsMatch4);
            p.peer = SockAddr{p.v6 ? InAny::from(kDnsHost6) : InAny::from(kDnsHost4), 53, 0};
            break;
        }
        break;
      }
      case UKind::in:
        p.lport = static_cast<u16>(7000 + i);
        p.gport = static_cast<u16>(p.lport + delta_);
        p.lo_client = rng.chance(400000);
        p.peer = SockAddr{p.lo_client ? loopback(p.v6) : remote_addr(p.v6, 40 + i), static_cast<u16>(6000 + i), 0};
        p.splice = pasta_ && !no_splice_ && p.lo_client;
        p.oversize_ppm = !p.splice && rng.chance(300000) ? static_cast<u32>(rng.range(20000, 200000)) : 0;
        if (p.splice) p.max_size = static_cast<u32>(rng.chance(500000) ? 200 : kMaxPayload);
        break;
      case UKind::ns_out:
        p.lport = static_cast<u16>(7500 + i);
        p.peer = SockAddr{p.v6 ? loopback(true) : InAny::from(Ipv4Addr::of(127, 0, 0, 2)),
                          static_cast<u16>(6500 + i), 0};
        p.app = SockAddr{loopback(p.v6), static_cast<u16>(p.lport + delta_), 0};
        break;
    }
  }
  // The flow table: enough for every plan, or (now and then) too small.
  const bool small = rng.chance(100000);
  sizing_.flows = small ? (flows_needed > 1 ? flows_needed / 2 : 1) : flows_needed + static_cast<u32>(rng.range(0, 64));
  // Sockets: one per flow and two listeners per port at most.
  const u32 need = 16 + 4 * nplans_;
  if (k.net.max_sockets < need) k.net.max_sockets = need;
  if (k.net.max_dgram_socks < need) k.net.max_dgram_socks = need;
  if (k.net.max_services < 2 * nplans_ + 4) k.net.max_services = 2 * nplans_ + 4;
  // Flows expire 180 s after the final requests.
  k.liveness = Duration::seconds(400);
}

std::size_t UdpScenario::tap_max(bool v6) const noexcept {
  const std::size_t l3 = mtu_ > 65535 ? 65535 : mtu_;
  const std::size_t hdr = (v6 ? 40 : 20) + 8;
  std::size_t m = l3 > hdr ? l3 - hdr : 0;
  if (m > proto::kUdpMaxDgram) m = proto::kUdpMaxDgram;
  return m;
}

void UdpScenario::print_knobs(std::FILE* out) const noexcept {
  std::fprintf(out,
               "    engine: mode=%s%s%s delta=%u flows=%u tap_batch=%u arena=%zu recv_batch=%u recv_bytes=%u "
               "batch_dgrams=%u batch_flows=%u csum4=%d\n",
               pasta_ ? "pasta" : "passt", no_splice_ ? " no_splice" : "", lo_to_lo_ ? " host_lo_to_ns_lo" : "",
               delta_, sizing_.flows, sizing_.tap_batch_frames, sizing_.tap_arena, uopt_.recv_batch,
               uopt_.recv_bytes, uopt_.max_batch_dgrams, uopt_.max_batch_flows, uopt_.ipv4_checksum ? 1 : 0);
  for (u32 i = 0; i < nplans_; i++) {
    const UPlan& p = plans_[i];
    std::fprintf(out, "    plan %u: %s %s", i, kind_name(p.kind), p.v6 ? "v6" : "v4");
    if (p.kind == UKind::out)
      std::fprintf(out, " %s port=%u%s -> %s:%u", target_name(p.target), p.gport, p.shared_port ? "(shared)" : "",
                   to_text(p.peer.addr).c_str(), p.peer.port);
    else
      std::fprintf(out, " client=%s:%u listener=%u%s", to_text(p.peer.addr).c_str(), p.peer.port, p.lport,
                   p.splice ? " splice" : "");
    std::fprintf(out, " count=%u start=%s every=%s max=%u zero=%s oversize=%s latency=%s\n", p.count,
                 fmt_dur(p.start).buf, fmt_dur(p.interval).buf, p.max_size, fmt_ppm(p.zero_ppm).buf,
                 fmt_ppm(p.oversize_ppm).buf, fmt_dur(p.latency).buf);
  }
}

// --- set-up --------------------------------------------------------------------------------

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

void UdpScenario::setup(SimEnv& env) {
  env_ = &env;
  actor_ = env.world.add_actor(*this);
  const InAny local4 = env.knobs.net.local_v4;
  const InAny local6 = env.knobs.net.local_v6;
  net_.mtu = static_cast<u16>(mtu_ > 65535 ? 65535 : mtu_);
  net_.v4.enabled = true;
  net_.v4.addr = local4.v4();
  net_.v4.prefix_len = 24;
  net_.v4.gateway = kGw4;
  net_.v4.our_tap_addr = kGw4;
  net_.v4.map_host_loopback = kGw4;
  net_.v4.dns_match = kDnsMatch4;
  net_.v4.dns_host = kDnsHost4;
  net_.v6.enabled = true;
  net_.v6.addr = local6.v6();
  net_.v6.gateway = kLl6;
  net_.v6.our_tap_ll = kLl6;
  net_.v6.map_host_loopback = kLl6;
  net_.v6.dns_match = kDnsMatch6;
  net_.v6.dns_host = kDnsHost6;
  net_.dhcp = net_.ndp = net_.dhcpv6 = net_.ra = false;

  cfg_.mode = pasta_ ? core::Mode::pasta : core::Mode::passt;
  cfg_.no_splice = !pasta_ || no_splice_;
  cfg_.host_lo_to_ns_lo = lo_to_lo_;
  cfg_.mtu = net_.mtu;
  cfg_.fwd_in.udp.mode = core::FwdMode::spec;
  cfg_.fwd_out.udp.mode = core::FwdMode::spec;
  // No TCP forwarding, hence no TCP splice (its socket pools would count
  // as open sockets at the end).
  cfg_.fwd_in.tcp.mode = core::FwdMode::none;
  cfg_.fwd_out.tcp.mode = core::FwdMode::none;
  for (u32 i = 0; i < nplans_; i++) {
    const UPlan& p = plans_[i];
    if (p.kind == UKind::out) continue;
    core::PortFwd& fwd = p.kind == UKind::in ? cfg_.fwd_in.udp : cfg_.fwd_out.udp;
    core::PortBindRule r;
    r.option = p.kind == UKind::in ? 'u' : 'U';
    r.spec = std::to_string(p.lport);
    r.ports.push_back(core::PortRun{p.lport, p.lport});
    fwd.rules.push_back(r);
    fwd.forwarded.set(p.lport);
    fwd.set_delta(p.lport, delta_);
  }

  if (std::getenv("PASST_SIM_UDP_LOG") != nullptr) {
    log_ = std::make_unique<StderrLog>(env.world);
    set_log_sink(log_.get());
    set_log_level(LogLevel::trace);
  }
  buf_.reset(new u8[65536]);
  src_ = std::make_unique<u16[]>(std::size_t{kMaxPlans} * 2 * kMaxSeq);
  dst_ = std::make_unique<u16[]>(std::size_t{kMaxPlans} * 2 * kMaxSeq);
  shadow_ts_ = std::make_unique<Instant[]>(sizing_.flows);
  shadow_live_ = std::make_unique<u8[]>(sizing_.flows);
  tap_ = std::make_unique<OutTap>(*this, env.link, hooks_);
  proto::UdpOptions eopt = uopt_;
  if (hooks_.engine_idle_timeout.ns != 0) eopt.idle_timeout = hooks_.engine_idle_timeout;
  in_ = std::make_unique<InSink>(*this);
  engine_ = std::make_unique<engine::Engine>(cfg_, net_, ports::Ports{*tap_, env.net, env.world}, sizing_,
                                             proto::TcpOptions{}, proto::IcmpOptions{}, eopt);
  in_->set(engine_.get());
  engine_->start(env.world.now());
  if (auto st = engine_->open_listeners(); !st)
    env.world.fail("udp-scenario", "open_listeners: %s", err_name(st.err()));

  UdpGuestConfig gc;
  gc.addr4 = net_.v4.addr;
  gc.addr6 = net_.v6.addr;
  gc.router_mac = net_.our_mac;
  gc.mtu = mtu_;
  guest_ = std::make_unique<UdpGuest>(gc, *this);
  env.link.attach_guest(*guest_);
  env.net.set_udp_observer(this);

  for (u32 i = 0; i < nplans_; i++) {
    UPlan& p = plans_[i];
    UdpGuestApp a;
    a.v6 = p.v6;
    a.tag = i;
    switch (p.kind) {
      case UKind::out:
        a.port = p.gport;
        a.connected = true;
        a.peer = p.gdst;
        a.peer_port = p.peer.port;
        p.app_idx = guest_->add_app(a);
        (void)env.net.add_udp_peer(Netns::host, p.peer, UdpPeerKind::sink, p.latency);
        break;
      case UKind::in: {
        (void)env.net.add_udp_peer(Netns::host, p.peer, UdpPeerKind::sink, p.latency);
        if (p.splice) {
          // The namespace's application: at its address (or its loopback).
          const InAny at = lo_to_lo_ ? loopback(p.v6) : (p.v6 ? InAny::from(net_.v6.addr) : InAny::from(net_.v4.addr));
          p.app = SockAddr{at, p.gport, 0};
          (void)env.net.add_udp_peer(Netns::guest, p.app, UdpPeerKind::sink, p.latency);
        } else {
          p.client_seen = p.lo_client ? (p.v6 ? InAny::from(kLl6) : InAny::from(kGw4)) : p.peer.addr;
          a.port = p.gport;
          a.connected = false;
          p.app_idx = guest_->add_app(a);
        }
        break;
      }
      case UKind::ns_out:
        (void)env.net.add_udp_peer(Netns::guest, p.peer, UdpPeerKind::sink, p.latency);
        (void)env.net.add_udp_peer(Netns::host, p.app, UdpPeerKind::sink, p.latency);
        break;
    }
    if (p.count > 0) env.world.schedule(World::kEpoch + p.start, actor_, 1, i);
  }

  static constexpr const char* kNames[] = {"udp-dup", "udp-flow", "udp-frames", "udp-expiry", "udp-engine"};
  checks_[0] = std::make_unique<Check>(kNames[0], *this, [](UdpScenario& s, World&) { return s.check_dup(); });
  checks_[1] = std::make_unique<Check>(kNames[1], *this, [](UdpScenario& s, World&) { return s.check_flow(); });
  checks_[2] = std::make_unique<Check>(kNames[2], *this, [](UdpScenario& s, World&) { return s.check_frames(); });
  checks_[3] = std::make_unique<Check>(kNames[3], *this, [](UdpScenario& s, World& w) { return s.check_expiry(w); });
  checks_[4] = std::make_unique<Check>(kNames[4], *this, [](UdpScenario& s, World& w) { return s.check_engine(w); });
  for (auto& c : checks_) env.world.add_checker(*c);
}

// --- traffic ------------------------------------------------------------------------------

void UdpScenario::fail(char* buf, const char* fmt, ...) noexcept {
  if (buf[0] != '\0') return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, 256, fmt, ap);
  va_end(ap);
}

void UdpScenario::src_copy(u32 plan, u8 dir, u32 seq) noexcept {
  u16& c = src_[(plan * 2 + dir) * kMaxSeq + seq];
  if (c != 0xffff) c++;
  if (c > 1) link_dups_++;
}

void UdpScenario::dst_copy(u32 plan, u8 dir, u32 seq, const char* where) noexcept {
  const std::size_t k = (plan * 2 + dir) * kMaxSeq + seq;
  if (dst_[k] != 0xffff) dst_[k]++;
  delivered_++;
  if (dst_[k] > src_[k])
    fail(dup_, "plan %u dir %u seq %u: %u copies reached %s, %u were sent", plan, dir, seq, dst_[k], where,
         src_[k]);
}

void UdpScenario::zero_dst(u32 plan, u8 dir, const char* where) noexcept {
  zdst_[plan][dir]++;
  zero_delivered_++;
  if (zdst_[plan][dir] > zsrc_[plan][dir])
    fail(dup_, "plan %u dir %u: %llu empty datagrams reached %s, %llu were sent", plan, dir,
         static_cast<unsigned long long>(zdst_[plan][dir]), where,
         static_cast<unsigned long long>(zsrc_[plan][dir]));
}

void UdpScenario::send_request(u32 i, u32 seq, u8 flags) noexcept {
  UPlan& p = plans_[i];
  Prng& rng = env_->world.rng();
  std::size_t len = 0;
  const bool final = (flags & kFlagFinal) != 0;
  if (final) {
    len = kHdr + rng.below(64);  // small: they must fit every socket buffer
  } else if (p.oversize_ppm != 0 && rng.chance(p.oversize_ppm)) {
    const std::size_t over = tap_max(p.v6) + 1 + rng.below(100);
    // A datagram of up to kUdpMaxDgram also fits the 64 KiB buffer buf_.
    static_assert(proto::kUdpMaxDgram <= 65536);
    if (over <= proto::kUdpMaxDgram) {
      len = over;
      flags |= kFlagOversize;
    }
  }
  if (len == 0 && (final || p.zero_ppm == 0 || !rng.chance(p.zero_ppm)))
    len = kHdr + rng.below(p.max_size - kHdr + 1);
  if (final && len > p.max_size) len = p.max_size;
  const std::size_t n = encode(MutBytes(buf_.get(), len), i, 0, flags, seq, len);
  const Bytes payload(buf_.get(), n);
  switch (p.kind) {
    case UKind::out:
      // Counted where the engine receives it (InSink).
      (void)guest_->send(p.app_idx, p.gdst, p.peer.port, payload, env_->world.now());
      break;
    case UKind::in: {
      const InAny to = p.lo_client ? loopback(p.v6) : (p.v6 ? env_->knobs.net.local_v6 : env_->knobs.net.local_v4);
      if (n == 0)
        zero_src(i, 0);
      else
        src_copy(i, 0, seq);
      (void)env_->net.inject_datagram(Netns::host, p.peer, SockAddr{to, p.lport, 0}, payload, p.latency);
      break;
    }
    case UKind::ns_out:
      if (n == 0)
        zero_src(i, 0);
      else
        src_copy(i, 0, seq);
      (void)env_->net.inject_datagram(Netns::guest, p.peer, SockAddr{loopback(p.v6), p.lport, 0}, payload,
                                      p.latency);
      break;
  }
}

void UdpScenario::on_event(const Event& e) noexcept {
  if (e.a >= nplans_) return;
  UPlan& p = plans_[e.a];
  if (e.kind == 1) {  // the next request of the safety phase
    if (liveness_ || p.sent >= p.count) return;
    send_request(e.a, p.sent, 0);
    p.sent++;
    if (p.sent < p.count) env_->world.schedule_in(p.interval, actor_, 1, e.a);
  } else if (e.kind == 2) {  // a final request
    send_request(e.a, kFinalSeq + e.b, kFlagFinal);
    p.finals_sent++;
  }
}

void UdpScenario::answer(Netns ns, const SockAddr& at, const SockAddr& to, u32 plan, const Header& h,
                         bool zero) noexcept {
  const UPlan& p = plans_[plan];
  const std::size_t n = zero ? 0 : encode(MutBytes(buf_.get(), h.len), plan, 1, h.flags, h.seq, h.len);
  if (zero)
    zero_src(plan, 1);
  else
    src_copy(plan, 1, h.seq);
  (void)env_->net.inject_datagram(ns, at, to, Bytes(buf_.get(), n), p.latency);
}

void UdpScenario::response_arrived(u32 plan, const Header& h) noexcept {
  if ((h.flags & kFlagFinal) != 0 && h.seq >= kFinalSeq && h.seq < kFinalSeq + kFinals)
    plans_[plan].final_ok[h.seq - kFinalSeq] = true;
}

i32 UdpScenario::plan_at_peer(Netns ns, const SockAddr& peer, const SockAddr& from) const noexcept {
  for (u32 i = 0; i < nplans_; i++) {
    const UPlan& p = plans_[i];
    switch (p.kind) {
      case UKind::out:
        if (ns == Netns::host && p.peer == peer && from.port == p.gport) return static_cast<i32>(i);
        break;
      case UKind::in:
        if (ns == Netns::host && p.peer == peer) return static_cast<i32>(i);
        if (p.splice && ns == Netns::guest && p.app == peer && from.port == p.peer.port) return static_cast<i32>(i);
        break;
      case UKind::ns_out:
        if (ns == Netns::guest && p.peer == peer) return static_cast<i32>(i);
        if (ns == Netns::host && p.app == peer) return static_cast<i32>(i);
        break;
    }
  }
  return -1;
}

void UdpScenario::on_peer_datagram(Netns ns, const SockAddr& peer, const SockAddr& from, Bytes payload) noexcept {
  const i32 pi = plan_at_peer(ns, peer, from);
  if (pi < 0) {
    fail(flow_, "a datagram from %s port %u reached %s port %u, which no plan expects from there",
         to_text(from.addr).c_str(), from.port, to_text(peer.addr).c_str(), peer.port);
    return;
  }
  const u32 i = static_cast<u32>(pi);
  const UPlan& p = plans_[i];
  // Which side of the plan this peer is: the responder (answers) or the
  // initiator (gets the answers).
  const bool responder = (p.kind == UKind::out) || (p.kind == UKind::in && ns == Netns::guest) ||
                         (p.kind == UKind::ns_out && ns == Netns::host);
  const u8 dir = responder ? 0 : 1;
  // Where answers must come from: the listener's port towards a client, the
  // client's own port (the source port is kept) towards a responder, and
  // for ns-out even the client's address.
  u16 want_port = 0;
  if (p.kind == UKind::out) want_port = p.gport;
  else if (!responder) want_port = p.lport;
  else want_port = p.peer.port;
  if (from.port != want_port || from.addr.is_v4() == p.v6 ||
      (p.kind == UKind::ns_out && responder && from.addr != p.peer.addr)) {
    fail(flow_, "plan %u: %s port %u got a datagram from %s port %u", i, to_text(peer.addr).c_str(), peer.port,
         to_text(from.addr).c_str(), from.port);
    return;
  }
  if (payload.empty()) {
    zero_dst(i, dir, "a peer");
    if (responder) answer(ns, peer, from, i, Header{}, true);
    return;
  }
  Header h;
  const char* why = "";
  if (!decode(payload, &h, &why)) {
    fail(flow_, "plan %u: %s port %u got a bad datagram of %zu bytes: %s", i, to_text(peer.addr).c_str(),
         peer.port, payload.size(), why);
    return;
  }
  if (h.plan != i || h.dir != dir) {
    fail(flow_, "plan %u's peer %s port %u got plan %u direction %u seq %u", i, to_text(peer.addr).c_str(),
         peer.port, h.plan, h.dir, h.seq);
    return;
  }
  if ((h.flags & kFlagOversize) != 0 && p.kind == UKind::in && !p.splice) {
    fail(flow_, "plan %u: an oversize datagram (seq %u) went through", i, h.seq);
    return;
  }
  dst_copy(i, dir, h.seq, "a peer");
  if (responder)
    answer(ns, peer, from, i, h, false);
  else
    response_arrived(i, h);
}

void UdpScenario::on_guest_datagram(u32 app, const UdpGuestApp& a, const InAny& src, u16 sport, Bytes payload,
                                    Instant now) noexcept {
  (void)app;
  const u32 i = a.tag;
  const UPlan& p = plans_[i];
  const u8 dir = p.kind == UKind::out ? 1 : 0;
  if (p.kind == UKind::in && (src != p.client_seen || sport != p.peer.port)) {
    fail(flow_, "plan %u: the guest's port %u got a datagram from %s port %u, expected %s port %u", i, a.port,
         to_text(src).c_str(), sport, to_text(p.client_seen).c_str(), p.peer.port);
    return;
  }
  if (payload.empty()) {
    if (p.kind == UKind::in) (void)guest_->send(p.app_idx, src, sport, {}, now);
    return;
  }
  Header h;
  const char* why = "";
  if (!decode(payload, &h, &why)) {
    fail(flow_, "plan %u: the guest got a bad datagram of %zu bytes: %s", i, payload.size(), why);
    return;
  }
  if (h.plan != i || h.dir != dir) {
    fail(flow_, "plan %u's guest socket (port %u) got plan %u direction %u seq %u", i, a.port, h.plan, h.dir,
         h.seq);
    return;
  }
  if ((h.flags & kFlagOversize) != 0) {
    fail(flow_, "plan %u: an oversize datagram (seq %u, %u bytes) reached the guest", i, h.seq, h.len);
    return;
  }
  if (p.kind == UKind::out) {
    response_arrived(i, h);
    return;
  }
  // An echo: the same sequence number, the other direction.
  const std::size_t n = encode(MutBytes(buf_.get(), h.len), i, 1, h.flags, h.seq, h.len);
  (void)guest_->send(p.app_idx, src, sport, Bytes(buf_.get(), n), now);
}

i32 UdpScenario::plan_of_guest_frame(const wire::Frame& f, bool from_guest) const noexcept {
  const u16 gp = from_guest ? f.src_port : f.dst_port;
  const u16 rp = from_guest ? f.dst_port : f.src_port;
  const InAny& ra = from_guest ? f.dst : f.src;
  for (u32 i = 0; i < nplans_; i++) {
    const UPlan& p = plans_[i];
    if (p.gport != gp) continue;
    if (p.kind == UKind::out && ra == p.gdst && rp == p.peer.port) return static_cast<i32>(i);
    if (p.kind == UKind::in && !p.splice && ra == p.client_seen && rp == p.peer.port) return static_cast<i32>(i);
  }
  return -1;
}

void UdpScenario::engine_got(const wire::Frame& f) noexcept {
  if (f.payload.empty()) {
    const i32 pi = plan_of_guest_frame(f, true);
    if (pi >= 0) zero_src(static_cast<u32>(pi), plans_[pi].kind == UKind::out ? 0 : 1);
    return;
  }
  Header h;
  const char* why = "";
  if (decode(f.payload, &h, &why)) src_copy(h.plan, h.dir, h.seq);
}

void UdpScenario::engine_sent(Bytes frame) noexcept {
  const std::size_t max = (mtu_ > 65535 ? 65535 : mtu_) + 14u;
  if (frame.size() > max) {
    fail(frames_, "engine frame of %zu bytes exceeds the MTU %u", frame.size(), mtu_);
    return;
  }
  auto pf = wire::parse_frame(frame);
  if (!pf) {
    fail(frames_, "engine frame does not parse: %s", err_name(pf.err()));
    return;
  }
  if (!wire::frame_checksums_ok(*pf)) {
    fail(frames_, "engine frame with a bad checksum (l4 proto %u)", pf->l4_proto);
    return;
  }
  if (pf->l4 != wire::L4::udp) return;
  if (pf->payload.empty()) {
    const i32 pi = plan_of_guest_frame(*pf, false);
    if (pi < 0) {
      fail(flow_, "an empty datagram from %s port %u to port %u matches no plan", to_text(pf->src).c_str(),
           pf->src_port, pf->dst_port);
      return;
    }
    zero_dst(static_cast<u32>(pi), plans_[pi].kind == UKind::out ? 1 : 0, "the guest");
    return;
  }
  Header h;
  const char* why = "";
  if (!decode(pf->payload, &h, &why)) {
    fail(flow_, "engine sent the guest a datagram of %zu bytes that is not ours: %s", pf->payload.size(), why);
    return;
  }
  dst_copy(h.plan, h.dir, h.seq, "the guest");
}

const char* UdpScenario::check_expiry(World& w) noexcept {
  if (expiry_[0] != '\0') return expiry_;
  const core::FlowTable& ft = engine_->flows();
  const Duration timeout = proto::kUdpIdleTimeout;
  for (u32 i = 0; i < sizing_.flows; i++) {
    const proto::UdpFlow* u = proto::udp_flow_of(ft.at(core::FlowIdx{i}));
    const bool live = u != nullptr && ft.at(core::FlowIdx{i}).closing == 0;
    if (live) {
      if (shadow_live_[i] != 0 && u->ts < shadow_ts_[i]) {
        fail(expiry_, "flow %u: last activity went back in time", i);
        return expiry_;
      }
      shadow_live_[i] = 1;
      shadow_ts_[i] = u->ts;
      if (w.now() > u->ts + timeout) {
        fail(expiry_, "flow %u still alive %lld ms after its last datagram", i,
             static_cast<long long>((w.now() - u->ts).to_millis()));
        return expiry_;
      }
    } else if (shadow_live_[i] != 0) {
      shadow_live_[i] = 0;
      if (w.now() < shadow_ts_[i] + timeout) {
        fail(expiry_, "flow %u released %lld ms after its last datagram, before the idle timeout", i,
             static_cast<long long>((w.now() - shadow_ts_[i]).to_millis()));
        return expiry_;
      }
    }
  }
  return nullptr;
}

// --- liveness ------------------------------------------------------------------------------

void UdpScenario::start_liveness(SimEnv& env) noexcept {
  liveness_ = true;
  // Three final requests per plan, 10 ms apart across all plans, so that
  // nothing is lost to back-pressure.
  u32 slot = 0;
  for (u32 i = 0; i < nplans_; i++)
    for (u32 k = 0; k < kFinals; k++, slot++)
      env.world.schedule_in(Duration::millis(5) + Duration::millis(10) * slot, actor_, 2, i, k);
}

bool UdpScenario::relaxed() const noexcept {
  const proto::UdpStats& s = engine_->udp().stats();
  return s.table_full != 0 || s.dropped_sock != 0;
}

bool UdpScenario::done(SimEnv& env) noexcept {
  for (u32 i = 0; i < nplans_; i++) {
    const UPlan& p = plans_[i];
    if (p.finals_sent < kFinals) return false;
    if (relaxed()) continue;
    for (bool ok : p.final_ok)
      if (!ok) return false;
  }
  if (guest_->backlog() != 0) return false;
  if (engine_->flows().active_count() != 0) return false;
  // Only the listeners are left open.
  return env.net.open_sockets() == engine_->udp().listener_count();
}

const char* UdpScenario::pending(SimEnv& env) noexcept {
  std::size_t used = 0;
  pending_[0] = '\0';
#define add(...) append(pending_, sizeof(pending_), &used, __VA_ARGS__)
  for (u32 i = 0; i < nplans_; i++) {
    const UPlan& p = plans_[i];
    u32 ok = 0;
    for (bool b : p.final_ok) ok += b ? 1u : 0u;
    if (ok == kFinals) continue;
    add("plan %u (%s): finals sent %u answered %u; ", i, kind_name(p.kind), p.finals_sent, ok);
  }
  add("engine flows %u, guest backlog %u, sockets open %u, listeners %u%s", engine_->flows().active_count(),
      guest_->backlog(), env.net.open_sockets(), engine_->udp().listener_count(), relaxed() ? " (relaxed)" : "");
#undef add
  return pending_;
}

void UdpScenario::print_stats(std::FILE* out) noexcept {
  const proto::UdpStats& s = engine_->udp().stats();
  std::fprintf(out,
               "  udp engine: from_tap=%llu from_sock=%llu spliced=%llu expired=%llu table_full=%llu dgrams_in=%llu "
               "dgrams_out=%llu spliced_dgrams=%llu too_big=%llu send_drop=%llu stray=%llu closing=%llu "
               "sock_errors=%llu | delivered=%llu empty=%llu link_dups=%llu\n",
               static_cast<unsigned long long>(s.flows_from_tap), static_cast<unsigned long long>(s.flows_from_sock),
               static_cast<unsigned long long>(s.flows_spliced), static_cast<unsigned long long>(s.flows_expired),
               static_cast<unsigned long long>(s.table_full), static_cast<unsigned long long>(s.dgrams_from_tap),
               static_cast<unsigned long long>(s.dgrams_to_tap), static_cast<unsigned long long>(s.dgrams_spliced),
               static_cast<unsigned long long>(s.dropped_too_big), static_cast<unsigned long long>(s.dropped_send),
               static_cast<unsigned long long>(s.dropped_stray), static_cast<unsigned long long>(s.dropped_closing),
               static_cast<unsigned long long>(s.sock_errors), static_cast<unsigned long long>(delivered_),
               static_cast<unsigned long long>(zero_delivered_), static_cast<unsigned long long>(link_dups_));
}

void UdpScenario::add_coverage() const noexcept {
  const proto::UdpStats& s = engine_->udp().stats();
  UdpCoverage& c = g_coverage;
  c.runs++;
  c.flows_from_tap += s.flows_from_tap;
  c.flows_from_sock += s.flows_from_sock;
  c.flows_spliced += s.flows_spliced;
  c.flows_expired += s.flows_expired;
  c.table_full += s.table_full;
  c.dropped_too_big += s.dropped_too_big;
  c.dropped_send += s.dropped_send;
  c.zero_length += zero_delivered_;
  c.link_duplicates += link_dups_;
  c.delivered += delivered_;
  c.pasta_runs += pasta_ ? 1 : 0;
  for (u32 i = 0; i < nplans_; i++) c.shared_guest_ports += plans_[i].shared_port ? 1 : 0;
}

std::unique_ptr<Scenario> make_udp() { return std::make_unique<UdpScenario>(UdpHooks{}); }

}  // namespace

std::unique_ptr<Scenario> make_udp_scenario(const UdpHooks& hooks) {
  return std::make_unique<UdpScenario>(hooks);
}

const UdpCoverage& udp_coverage() noexcept { return g_coverage; }
void udp_coverage_reset() noexcept { g_coverage = UdpCoverage{}; }

ScenarioEntry udp_scenario_entry() noexcept {
  return {"udp", "the real engine's UDP flows between a reference guest and UDP peers (passt and pasta)",
          &make_udp};
}

}  // namespace passt::sim
