#include "sim/hostnet.hpp"

#include <cstdarg>
#include <cstdio>
#include <memory>

#include "sim/pattern.hpp"
#include "util/check.hpp"
#include "wire/checksum.hpp"

namespace passt::sim {

using ports::Family;
using ports::Netns;
using ports::Sock;
using ports::SockAddr;
using ports::SockType;
namespace ev = ports::ev;

namespace {

constexpr u32 kAllEvents = ev::in | ev::out | ev::rdhup | ev::hup | ev::err;
constexpr u32 kMinSndbuf = 4608;  // SOCK_MIN_SNDBUF on 64-bit Linux
constexpr u32 kMinRcvbuf = 2304;  // SOCK_MIN_RCVBUF
constexpr u16 kEphemeralLo = 32768;
constexpr u16 kEphemeralHi = 60999;
constexpr int kSynRetries = 6;
constexpr Duration kSlowTick = Duration::millis(10);
constexpr std::size_t kMaxUdp4 = 65507;
constexpr std::size_t kMaxUdp6 = 65527;
// A ping socket's message includes the 8-byte ICMP header: IPv4 total
// length minus the IP header; IPv6 payload length (no jumbograms).
constexpr std::size_t kMaxPing4 = 65515;
constexpr std::size_t kMaxPing6 = 65535;
constexpr u64 kTraceSockEv = 0x5345;
// Segments in flight per direction: bounds the event queue whatever the
// application's write pattern (the kernel's congestion window plays this role).
constexpr u32 kMaxInflightSegs = 64;

// Linux TCP states (include/net/tcp_states.h).
enum : u8 {
  kEstablished = 1, kSynSent, kSynRecv, kFinWait1, kFinWait2, kTimeWait, kClose, kCloseWait,
  kLastAck, kListen, kClosing
};

// Segment / ack event field `d`: low 24 bits length or window, then flags.
constexpr u32 kDirShift = 24;
constexpr u32 kFinFlag = 1u << 25;
constexpr u32 kLenMask = (1u << kDirShift) - 1;

u64 mn(u64 a, u64 b) noexcept { return a < b ? a : b; }

std::size_t iov_total(std::span<const Bytes> iov) noexcept {
  std::size_t n = 0;
  for (Bytes b : iov) n += b.size();
  return n;
}

u8 ns_index(Netns ns) noexcept { return ns == Netns::host ? 0 : 1; }
u8 type_index(SockType t) noexcept { return static_cast<u8>(t); }

}  // namespace

const char* peer_kind_name(PeerKind k) noexcept {
  switch (k) {
    case PeerKind::echo: return "echo";
    case PeerKind::sink: return "sink";
    case PeerKind::source: return "source";
    case PeerKind::slow_reader: return "slow-reader";
    case PeerKind::resetter: return "resetter";
    case PeerKind::client: return "client";
    case PeerKind::silent: return "silent";
  }
  return "?";
}

// --- records ------------------------------------------------------------------

enum class Owner : u8 { none, sock, queued, orphan, peer };

struct SimHostNet::Endpoint {
  ByteRing tx;          // written by the application, not yet acknowledged
  ByteRing rx;          // received, not yet consumed
  u64 written = 0;      // stream offset of the end of tx
  u64 snd_una = 0;      // acknowledged by the other side
  u64 snd_nxt = 0;      // sent (in flight or delivered)
  u64 rcv_nxt = 0;      // received
  u64 read = 0;         // consumed by the application
  u64 peer_edge = 0;    // the other side allows bytes below this
  u64 adv_edge = 0;     // the right edge we advertised
  u32 peer_wnd = 0;     // last window received
  u32 sndbuf = 0;
  u32 rcvbuf = 0;
  u32 mss = 1460;
  u32 lowat = 1;
  Err err = Err::none;  // pending error (SO_ERROR)
  Instant next_tx;      // pacing: the link is busy until then
  Owner owner = Owner::none;
  i32 fd = -1;          // socket index when owner == sock
  bool established = false;
  bool shut_wr = false;    // application closed its sending side
  bool fin_sent = false;
  bool fin_acked = false;
  bool fin_rcvd = false;
  bool fin_rcvd_first = false;  // the other side closed first (CLOSE_WAIT path)
  bool reset = false;      // RST received (or connect failed)
  bool aborted = false;    // we sent RST
  bool pump_pending = false;
  bool tick_pending = false;
  u32 inflight_segs = 0;  // data segments on the wire (bounded: kMaxInflightSegs)
  // Remote peer application (owner == peer).
  PeerSpec peer;
  u64 produced = 0;
  bool peer_bad = false;
};

struct SimHostNet::Conn {
  bool used = false;
  u32 gen = 0;
  Netns ns = Netns::host;
  bool connecting = false;    // SYN not yet answered by a SYN-ACK at side 0
  bool syn_answered = false;  // the far side accepted (or refused) the SYN
  u8 syn_tries = 0;
  Duration latency;
  u64 bandwidth = 1;
  SockAddr addr[2];
  Endpoint ep[2];
  i32 next_in_queue = -1;  // accept-queue link
};

struct SimHostNet::SockRec {
  bool used = false;
  u32 gen = 0;
  Netns ns = Netns::host;
  Family fam = Family::v4;
  SockType type = SockType::tcp;
  bool bound = false;
  bool listening = false;
  bool has_remote = false;
  SockAddr local;
  SockAddr remote;
  i32 conn = -1;
  u8 side = 0;
  i32 q_head = -1;
  i32 q_tail = -1;
  u32 q_len = 0;
  u32 backlog = 0;
  i32 dq = -1;
  u32 sndbuf = 0;
  u32 rcvbuf = 0;
  u32 mss = 0;
  u32 lowat = 1;
  bool v6only = false;
  bool reuseaddr = false;
  bool linger_zero = false;
  bool recverr = false;
  int opt_vals[12] = {};
  bool watched = false;
  bool edge = false;
  bool wake = false;
  u32 interest = 0;
  u64 ref = 0;
  Err err = Err::none;
};

struct SimHostNet::Dgram {
  u32 len = 0;
  SockAddr from;
  Instant visible;
};

struct SimHostNet::DgramQueue {
  bool used = false;
  ByteRing bytes;
  Dgram* hdr = nullptr;
  u32 head = 0;
  u32 len = 0;
  Instant last_visible;
};

struct SimHostNet::Service {
  bool used = false;
  Netns ns = Netns::host;
  SockType type = SockType::tcp;
  SockAddr at;
  PeerSpec spec;
  UdpPeerKind ukind = UdpPeerKind::echo;
  Duration latency;
};

namespace {
// Dgram headers live outside the DgramQueue array so their count can vary.
}  // namespace

// --- construction ---------------------------------------------------------------

SimHostNet::SimHostNet(World& world, const HostNetConfig& cfg)
    : w_(world), cfg_(cfg), rng_(world.rng().fork(stream::hostnet)) {
  PASST_CHECK(cfg_.max_sockets > 0 && cfg_.buf_cap >= kMinSndbuf && cfg_.events_per_poll > 0);
  PASST_CHECK(cfg_.buf_cap < (1u << kDirShift));
  if (cfg_.sndbuf_default > cfg_.buf_cap) cfg_.sndbuf_default = cfg_.buf_cap;
  if (cfg_.rcvbuf_default > cfg_.buf_cap) cfg_.rcvbuf_default = cfg_.buf_cap;
  if (cfg_.seg_max == 0) cfg_.seg_max = 65536;
  socks_ = std::make_unique<SockRec[]>(cfg_.max_sockets);
  conns_ = std::make_unique<Conn[]>(cfg_.max_conns > 0 ? cfg_.max_conns : 1);
  dqs_ = std::make_unique<DgramQueue[]>(cfg_.max_dgram_socks > 0 ? cfg_.max_dgram_socks : 1);
  services_ = std::make_unique<Service[]>(cfg_.max_services > 0 ? cfg_.max_services : 1);
  scratch_.reset(new u8[kScratch]);
  pending_ = std::make_unique<Pending[]>(cfg_.events_per_poll);
  watched_.reset(new u32[cfg_.max_sockets]);
  const std::size_t cap = cfg_.buf_cap;
  const std::size_t total = static_cast<std::size_t>(cfg_.max_conns) * 4 * cap +
                            static_cast<std::size_t>(cfg_.max_dgram_socks) * cap;
  arena_.reset(new u8[total > 0 ? total : 1]);
  u8* p = arena_.get();
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    for (auto& e : conns_[i].ep) {
      e.tx.init(p, cap);
      p += cap;
      e.rx.init(p, cap);
      p += cap;
    }
  }
  static_assert(sizeof(Dgram) <= 64);
  dgram_hdrs_ = std::make_unique<Dgram[]>(static_cast<std::size_t>(cfg_.max_dgram_socks) * cfg_.dgram_queue + 1);
  for (u32 i = 0; i < cfg_.max_dgram_socks; i++) {
    dqs_[i].bytes.init(p, cap);
    p += cap;
    dqs_[i].hdr = dgram_hdrs_.get() + static_cast<std::size_t>(i) * cfg_.dgram_queue;
  }
  for (auto& per_ns : next_port_)
    for (auto& port : per_ns) port = kEphemeralLo;
  actor_ = w_.add_actor(*this);
  w_.add_feed(*this);
}

SimHostNet::~SimHostNet() = default;

void SimHostNet::violate(const char* fmt, ...) noexcept {
  if (violation_[0] != '\0') return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(violation_, sizeof(violation_), fmt, ap);
  va_end(ap);
}

// --- lookups ----------------------------------------------------------------------

SimHostNet::SockRec* SimHostNet::rec(Sock s) noexcept {
  i64 i = static_cast<i64>(s.v) - kFdBase;
  if (i < 0 || i >= static_cast<i64>(cfg_.max_sockets)) return nullptr;
  SockRec* r = &socks_[static_cast<std::size_t>(i)];
  return r->used ? r : nullptr;
}

const SimHostNet::SockRec* SimHostNet::rec(Sock s) const noexcept {
  i64 i = static_cast<i64>(s.v) - kFdBase;
  if (i < 0 || i >= static_cast<i64>(cfg_.max_sockets)) return nullptr;
  const SockRec* r = &socks_[static_cast<std::size_t>(i)];
  return r->used ? r : nullptr;
}

SimHostNet::Endpoint* SimHostNet::ep_of(SockRec& r) noexcept {
  if (r.conn < 0) return nullptr;
  return &conns_[static_cast<u32>(r.conn)].ep[r.side];
}

const SimHostNet::Endpoint* SimHostNet::ep_of(const SockRec& r) const noexcept {
  if (r.conn < 0) return nullptr;
  return &conns_[static_cast<u32>(r.conn)].ep[r.side];
}

i32 SimHostNet::alloc_fd() noexcept {
  for (u32 i = 0; i < cfg_.max_sockets; i++)
    if (!socks_[i].used) return static_cast<i32>(i);
  return -1;
}

i32 SimHostNet::alloc_conn() noexcept {
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    Conn& c = conns_[i];
    if (c.used) continue;
    const u32 gen = c.gen;
    c.used = true;
    c.connecting = false;
    c.syn_answered = false;
    c.syn_tries = 0;
    c.next_in_queue = -1;
    c.addr[0] = {};
    c.addr[1] = {};
    for (auto& e : c.ep) {
      ByteRing tx = e.tx;
      ByteRing rx = e.rx;
      e = Endpoint{};
      e.tx = tx;
      e.rx = rx;
      e.tx.clear();
      e.rx.clear();
    }
    c.gen = gen;
    totals_.conns_opened++;
    return static_cast<i32>(i);
  }
  return -1;
}

void SimHostNet::free_conn(u32 ci) noexcept {
  Conn& c = conns_[ci];
  c.used = false;
  c.gen++;
  totals_.conns_freed++;
}

void SimHostNet::maybe_free(u32 ci) noexcept {
  Conn& c = conns_[ci];
  if (c.used && c.ep[0].owner == Owner::none && c.ep[1].owner == Owner::none) free_conn(ci);
}

i32 SimHostNet::alloc_dq() noexcept {
  for (u32 i = 0; i < cfg_.max_dgram_socks; i++) {
    DgramQueue& q = dqs_[i];
    if (q.used) continue;
    q.used = true;
    q.bytes.clear();
    q.head = 0;
    q.len = 0;
    q.last_visible = Instant{};
    return static_cast<i32>(i);
  }
  return -1;
}

bool SimHostNet::family_ok(const SockRec& r, const InAny& a) const noexcept {
  if (r.fam == Family::v4) return a.is_v4();
  return !a.is_v4() || !r.v6only;
}

namespace {

// Do two bound sockets' local addresses overlap (so one port cannot be
// shared)?  Handles wildcards and dual-stack IPv6 sockets.
bool addr_overlap(Family fa, bool a_v6only, const InAny& a, Family fb, bool b_v6only,
                  const InAny& b) noexcept {
  if (fa == fb) return a == b || a.is_unspecified() || b.is_unspecified();
  // One v4 socket, one v6 socket.
  const bool v6only = fa == Family::v6 ? a_v6only : b_v6only;
  const InAny& v6 = fa == Family::v6 ? a : b;
  const InAny& v4 = fa == Family::v6 ? b : a;
  if (v6only) return false;
  if (v6.is_unspecified()) return true;
  if (!v6.is_v4()) return false;
  return v6 == v4 || v4.is_unspecified();
}

// Does a socket bound to `local` (family fam) receive traffic sent to `to`?
bool local_matches(Family fam, bool v6only, const InAny& local, const InAny& to) noexcept {
  if (fam == Family::v4 && !to.is_v4()) return false;
  if (fam == Family::v6 && to.is_v4() && v6only) return false;
  return local.is_unspecified() || local == to;
}

}  // namespace

bool SimHostNet::port_in_use(Netns ns, SockType t, const InAny& a, u16 port,
                             i32 except) const noexcept {
  for (u32 i = 0; i < cfg_.max_sockets; i++) {
    const SockRec& o = socks_[i];
    if (!o.used || !o.bound || static_cast<i32>(i) == except) continue;
    if (o.ns != ns || o.type != t || o.local.port != port) continue;
    if (addr_overlap(o.fam, o.v6only, o.local.addr, a.is_v4() ? Family::v4 : Family::v6, false, a))
      return true;
  }
  return false;
}

u16 SimHostNet::ephemeral_port(Netns ns, SockType t) noexcept {
  u16& next = next_port_[ns_index(ns)][type_index(t)];
  for (u32 tries = 0; tries <= static_cast<u32>(kEphemeralHi - kEphemeralLo); tries++) {
    u16 p = next;
    next = p == kEphemeralHi ? kEphemeralLo : static_cast<u16>(p + 1);
    bool used = false;
    for (u32 i = 0; i < cfg_.max_sockets && !used; i++) {
      const SockRec& o = socks_[i];
      used = o.used && o.bound && o.ns == ns && o.type == t && o.local.port == p;
    }
    if (!used) return p;
  }
  return 0;
}

InAny SimHostNet::source_for(const InAny& to) const noexcept {
  if (to.is_v4()) return to.is_loopback() ? InAny::from(Ipv4Addr::loopback()) : cfg_.local_v4;
  return to.is_loopback() ? InAny::from(Ipv6Addr::loopback()) : cfg_.local_v6;
}

void SimHostNet::auto_bind(SockRec& r, const InAny& toward) noexcept {
  (void)toward;
  if (r.bound) return;
  r.local.addr = r.fam == Family::v4 ? InAny::from(Ipv4Addr::any()) : InAny::from(Ipv6Addr::any());
  r.local.port = ephemeral_port(r.ns, r.type);
  r.bound = true;
}

i32 SimHostNet::find_listener(Netns ns, const SockAddr& to) const noexcept {
  i32 wildcard = -1;
  for (u32 i = 0; i < cfg_.max_sockets; i++) {
    const SockRec& r = socks_[i];
    if (!r.used || !r.listening || r.ns != ns || r.local.port != to.port) continue;
    if (!local_matches(r.fam, r.v6only, r.local.addr, to.addr)) continue;
    if (!r.local.addr.is_unspecified()) return static_cast<i32>(i);
    if (wildcard < 0) wildcard = static_cast<i32>(i);
  }
  return wildcard;
}

i32 SimHostNet::find_service(Netns ns, SockType t, const SockAddr& to) const noexcept {
  i32 wildcard = -1;
  for (u32 i = 0; i < cfg_.max_services; i++) {
    const Service& s = services_[i];
    if (!s.used || s.ns != ns || s.type != t) continue;
    if (t != SockType::ping && s.at.port != to.port) continue;
    if (s.at.addr == to.addr) return static_cast<i32>(i);
    if (s.at.addr.is_unspecified() && wildcard < 0) wildcard = static_cast<i32>(i);
  }
  return wildcard;
}

i32 SimHostNet::find_udp_sock(Netns ns, SockType t, const SockAddr& to, const SockAddr& from) const noexcept {
  // Like the kernel's socket lookup score: a connected socket matching the
  // sender wins, a specific local address beats a wildcard.
  i32 best = -1;
  int best_score = -1;
  for (u32 i = 0; i < cfg_.max_sockets; i++) {
    const SockRec& r = socks_[i];
    if (!r.used || !r.bound || r.type != t || r.ns != ns || r.local.port != to.port) continue;
    if (!local_matches(r.fam, r.v6only, r.local.addr, to.addr)) continue;
    int score = r.local.addr.is_unspecified() ? 0 : 1;
    if (r.has_remote) {
      if (r.remote.addr != from.addr || r.remote.port != from.port) continue;
      score += 2;
    }
    if (score > best_score) {
      best = static_cast<i32>(i);
      best_score = score;
    }
  }
  return best;
}

void SimHostNet::init_endpoint(Endpoint& e, u32 sndbuf, u32 rcvbuf, u32 mss) noexcept {
  e.sndbuf = sndbuf < cfg_.buf_cap ? sndbuf : cfg_.buf_cap;
  e.rcvbuf = rcvbuf < cfg_.buf_cap ? rcvbuf : cfg_.buf_cap;
  e.mss = mss;
  e.adv_edge = e.rcvbuf;
}

void SimHostNet::set_peer(Endpoint& e, const PeerSpec& spec) noexcept {
  init_endpoint(e, spec.sndbuf, spec.rcvbuf, spec.mss);
  e.owner = Owner::peer;
  e.peer = spec;
}

// --- remote world -----------------------------------------------------------------

Status SimHostNet::add_tcp_service(Netns ns, const SockAddr& at, const PeerSpec& spec) noexcept {
  for (u32 i = 0; i < cfg_.max_services; i++) {
    Service& s = services_[i];
    if (s.used) continue;
    s = Service{};
    s.used = true;
    s.ns = ns;
    s.type = SockType::tcp;
    s.at = at;
    s.spec = spec;
    s.latency = spec.latency;
    return {};
  }
  return Err::full;
}

Status SimHostNet::add_udp_peer(Netns ns, const SockAddr& at, UdpPeerKind kind,
                                Duration latency) noexcept {
  for (u32 i = 0; i < cfg_.max_services; i++) {
    Service& s = services_[i];
    if (s.used) continue;
    s = Service{};
    s.used = true;
    s.ns = ns;
    s.type = SockType::udp;
    s.at = at;
    s.ukind = kind;
    s.latency = latency;
    return {};
  }
  return Err::full;
}

Status SimHostNet::add_ping_host(Netns ns, const InAny& addr, Duration latency) noexcept {
  for (u32 i = 0; i < cfg_.max_services; i++) {
    Service& s = services_[i];
    if (s.used) continue;
    s = Service{};
    s.used = true;
    s.ns = ns;
    s.type = SockType::ping;
    s.at.addr = addr;
    s.latency = latency;
    return {};
  }
  return Err::full;
}

Status SimHostNet::connect_remote(Netns ns, const SockAddr& from, const SockAddr& to,
                                  const PeerSpec& spec) noexcept {
  const i32 ci = alloc_conn();
  if (ci < 0) return Err::full;
  Conn& c = conns_[static_cast<u32>(ci)];
  c.ns = ns;
  c.addr[0] = from;
  c.addr[1] = to;
  c.latency = spec.latency;
  c.bandwidth = spec.bandwidth > 0 ? spec.bandwidth : 1;
  set_peer(c.ep[0], spec);
  c.connecting = true;
  start_syn(static_cast<u32>(ci));
  return {};
}

Status SimHostNet::inject_datagram(Netns ns, const SockAddr& from, const SockAddr& to, u64 stream,
                                   u64 off, std::size_t len, Duration latency) noexcept {
  if (len > kScratch) return Err::msg_size;
  fill_pattern(stream, off, MutBytes(scratch_.get(), len));
  return inject_datagram(ns, from, to, Bytes(scratch_.get(), len), latency);
}

Status SimHostNet::inject_datagram(Netns ns, const SockAddr& from, const SockAddr& to, Bytes payload,
                                   Duration latency) noexcept {
  if (payload.size() > kScratch) return Err::msg_size;
  const i32 fd = find_udp_sock(ns, SockType::udp, to, from);
  if (fd < 0) {
    totals_.dgrams_dropped++;
    return Err::conn_refused;
  }
  if (!dq_push(fd, from, payload, {}, w_.now() + latency)) return Err::no_buffers;
  return {};
}

// --- observation ---------------------------------------------------------------

u32 SimHostNet::open_sockets() const noexcept {
  u32 n = 0;
  for (u32 i = 0; i < cfg_.max_sockets; i++) if (socks_[i].used) n++;
  return n;
}

u32 SimHostNet::live_conns() const noexcept {
  u32 n = 0;
  for (u32 i = 0; i < cfg_.max_conns; i++) if (conns_[i].used) n++;
  return n;
}

u32 SimHostNet::busy_peers() const noexcept {
  u32 n = 0;
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    const Conn& c = conns_[i];
    if (!c.used) continue;
    for (const auto& e : c.ep)
      if (e.owner == Owner::peer && e.peer.kind != PeerKind::silent) n++;
  }
  return n;
}

u64 SimHostNet::bytes_written(Sock s) const noexcept {
  const SockRec* r = rec(s);
  if (r == nullptr) return 0;
  const Endpoint* e = ep_of(*r);
  return e != nullptr ? e->written : 0;
}

const char* SimHostNet::check_invariants() noexcept {
  for (u32 i = 0; i < cfg_.max_conns; i++) {
    const Conn& c = conns_[i];
    if (!c.used) continue;
    for (u8 d = 0; d < 2; d++) {
      const Endpoint& s = c.ep[d];
      const Endpoint& o = c.ep[1 - d];
      const char* why = nullptr;
      if (!(s.snd_una <= s.snd_nxt && s.snd_nxt <= s.written)) why = "snd_una <= snd_nxt <= written";
      else if (s.tx.size() != s.written - s.snd_una) why = "send ring holds written - snd_una";
      else if (s.rx.size() != s.rcv_nxt - s.read) why = "receive ring holds rcv_nxt - read";
      else if (o.rcv_nxt > s.snd_nxt) why = "received <= sent";
      else if (s.snd_una > o.rcv_nxt) why = "acknowledged <= received";
      else if (s.snd_nxt > s.peer_edge && s.snd_nxt > 0) why = "sent within the peer's window";
      if (why != nullptr) {
        std::snprintf(inv_buf_, sizeof(inv_buf_), "conn %u side %u: invariant %s broken", i, d, why);
        return inv_buf_;
      }
    }
  }
  return nullptr;
}

// --- HostNet: creation and set-up -----------------------------------------------

Result<Sock> SimHostNet::socket(Netns ns, Family fam, SockType type) noexcept {
  const i32 fd = alloc_fd();
  if (fd < 0) return Err::too_many_files;
  i32 dq = -1;
  if (type != SockType::tcp) {
    dq = alloc_dq();
    if (dq < 0) return Err::no_buffers;
  }
  SockRec& r = socks_[static_cast<u32>(fd)];
  const u32 gen = r.gen + 1;
  r = SockRec{};
  r.used = true;
  r.gen = gen;
  r.ns = ns;
  r.fam = fam;
  r.type = type;
  r.dq = dq;
  r.sndbuf = cfg_.sndbuf_default;
  r.rcvbuf = cfg_.rcvbuf_default;
  r.mss = cfg_.mss;
  r.local.addr = fam == Family::v4 ? InAny::from(Ipv4Addr::any()) : InAny::from(Ipv6Addr::any());
  return Sock{fd + kFdBase};
}

Status SimHostNet::set_opt(Sock s, ports::SockOpt opt, int value) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  const auto idx = static_cast<std::size_t>(opt);
  if (idx < sizeof(r->opt_vals) / sizeof(r->opt_vals[0])) r->opt_vals[idx] = value;
  Endpoint* e = ep_of(*r);
  // Linux doubles SO_SNDBUF/SO_RCVBUF requests (bookkeeping overhead) and
  // clamps them; here the cap is the model's ring capacity.
  auto doubled = [&](u32 minimum) noexcept {
    u64 v = value > 0 ? static_cast<u64>(value) * 2 : 0;
    if (v < minimum) v = minimum;
    if (v > cfg_.buf_cap) v = cfg_.buf_cap;
    return static_cast<u32>(v);
  };
  switch (opt) {
    case ports::SockOpt::sndbuf:
      r->sndbuf = doubled(kMinSndbuf);
      if (e != nullptr) {
        e->sndbuf = r->sndbuf;
        notify_ep(*e, ev::out);
      }
      return {};
    case ports::SockOpt::rcvbuf:
      r->rcvbuf = doubled(kMinRcvbuf);
      if (e != nullptr) {
        e->rcvbuf = r->rcvbuf;
        maybe_window_update(static_cast<u32>(r->conn), r->side);
      }
      return {};
    case ports::SockOpt::reuseaddr: r->reuseaddr = value != 0; return {};
    case ports::SockOpt::v6only:
      if (r->fam != Family::v6) return Err::invalid;
      if (r->bound) return Err::invalid;
      r->v6only = value != 0;
      return {};
    case ports::SockOpt::freebind:
    case ports::SockOpt::tcp_nodelay:
    case ports::SockOpt::tcp_quickack:
      return {};
    case ports::SockOpt::recverr: r->recverr = value != 0; return {};
    case ports::SockOpt::tcp_maxseg:
      // Linux: TCP_MIN_MSS (88) to MAX_TCP_WINDOW (32767), else EINVAL.
      if (r->type != SockType::tcp) return Err::not_supported;
      if (value < 88 || value > 32767) return Err::invalid;
      r->mss = static_cast<u32>(value);
      return {};
    case ports::SockOpt::rcvlowat:
      r->lowat = value < 1 ? 1u : static_cast<u32>(value);
      if (e != nullptr) {
        e->lowat = r->lowat;
        notify_ep(*e, ev::in);
      }
      return {};
    case ports::SockOpt::linger_zero: r->linger_zero = true; return {};
    case ports::SockOpt::pipe_size: return Err::not_supported;
  }
  return Err::invalid;
}

Result<int> SimHostNet::get_opt(Sock s, ports::SockOpt opt) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  const Endpoint* e = ep_of(*r);
  switch (opt) {
    case ports::SockOpt::sndbuf: return static_cast<int>(e != nullptr ? e->sndbuf : r->sndbuf);
    case ports::SockOpt::rcvbuf: return static_cast<int>(e != nullptr ? e->rcvbuf : r->rcvbuf);
    case ports::SockOpt::v6only: return r->v6only ? 1 : 0;
    case ports::SockOpt::reuseaddr: return r->reuseaddr ? 1 : 0;
    case ports::SockOpt::tcp_maxseg: return static_cast<int>(e != nullptr ? e->mss : r->mss);
    case ports::SockOpt::rcvlowat: return static_cast<int>(r->lowat);
    case ports::SockOpt::linger_zero: return r->linger_zero ? 1 : 0;
    case ports::SockOpt::pipe_size: return Err::not_supported;
    default: break;
  }
  return r->opt_vals[static_cast<std::size_t>(opt)];
}

Status SimHostNet::bind_to_device(Sock s, std::string_view ifname) noexcept {
  if (rec(s) == nullptr) return Err::bad_handle;
  if (ifname.size() > 15) return Err::invalid;  // IFNAMSIZ; "" unbinds
  return {};
}

Status SimHostNet::bind(Sock s, const SockAddr& addr) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->bound) return Err::invalid;
  if (!family_ok(*r, addr.addr)) return Err::invalid;
  u16 port = addr.port;
  const i32 self = static_cast<i32>(r - socks_.get());
  if (port == 0) {
    port = ephemeral_port(r->ns, r->type);
    if (port == 0) return Err::addr_in_use;
  } else {
    for (u32 i = 0; i < cfg_.max_sockets; i++) {
      const SockRec& o = socks_[i];
      if (!o.used || !o.bound || static_cast<i32>(i) == self) continue;
      if (o.ns != r->ns || o.type != r->type || o.local.port != port) continue;
      if (!addr_overlap(o.fam, o.v6only, o.local.addr, r->fam, r->v6only, addr.addr)) continue;
      // SO_REUSEADDR on both lets a TCP socket share a port with one that is
      // not listening (and UDP sockets share freely).
      const bool both = o.reuseaddr && r->reuseaddr;
      if (!(both && (r->type != SockType::tcp || !o.listening))) return Err::addr_in_use;
    }
  }
  r->local.addr = addr.addr;
  r->local.port = port;
  r->local.scope_id = addr.scope_id;
  r->bound = true;
  return {};
}

Status SimHostNet::listen(Sock s, int backlog) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp || r->conn >= 0) return Err::invalid;
  if (!r->bound) auto_bind(*r, r->local.addr);
  for (u32 i = 0; i < cfg_.max_sockets; i++) {
    const SockRec& o = socks_[i];
    if (&o == r || !o.used || !o.listening || o.ns != r->ns || o.local.port != r->local.port) continue;
    if (addr_overlap(o.fam, o.v6only, o.local.addr, r->fam, r->v6only, r->local.addr))
      return Err::addr_in_use;
  }
  r->listening = true;
  u32 b = backlog < 1 ? 1u : static_cast<u32>(backlog);
  r->backlog = b > cfg_.backlog_max ? cfg_.backlog_max : b;
  return {};
}

Result<Sock> SimHostNet::accept(Sock listener, SockAddr* peer) noexcept {
  SockRec* l = rec(listener);
  if (l == nullptr) return Err::bad_handle;
  if (!l->listening) return Err::invalid;
  if (l->q_len == 0) return Err::again;
  const i32 fd = alloc_fd();
  if (fd < 0) return Err::too_many_files;  // the connection stays queued
  const u32 ci = static_cast<u32>(l->q_head);
  Conn& c = conns_[ci];
  l->q_head = c.next_in_queue;
  if (l->q_head < 0) l->q_tail = -1;
  l->q_len--;
  c.next_in_queue = -1;
  SockRec& r = socks_[static_cast<u32>(fd)];
  const u32 gen = r.gen + 1;
  r = SockRec{};
  r.used = true;
  r.gen = gen;
  r.ns = l->ns;
  r.fam = l->fam;
  r.type = SockType::tcp;
  r.bound = true;
  r.local = c.addr[1];
  r.remote = c.addr[0];
  r.has_remote = true;
  r.conn = static_cast<i32>(ci);
  r.side = 1;
  Endpoint& e = c.ep[1];
  r.sndbuf = e.sndbuf;
  r.rcvbuf = e.rcvbuf;
  r.mss = e.mss;
  r.v6only = l->v6only;
  e.owner = Owner::sock;
  e.fd = fd;
  if (peer != nullptr) *peer = c.addr[0];
  return Sock{fd + kFdBase};
}

Status SimHostNet::connect(Sock s, const SockAddr& to) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (!family_ok(*r, to.addr)) return Err::invalid;
  if (r->type != SockType::tcp) {
    auto_bind(*r, to.addr);
    r->remote = to;
    r->has_remote = true;
    return {};
  }
  if (r->listening) return Err::invalid;
  if (r->conn >= 0) {
    const Endpoint* e = ep_of(*r);
    if (e->established && !e->reset) return Err::is_connected;
    if (conns_[static_cast<u32>(r->conn)].connecting && !e->reset) return Err::already;
    return Err::invalid;
  }
  if (to.port == 0 || to.addr.is_unspecified()) return Err::conn_refused;
  const i32 ci = alloc_conn();
  if (ci < 0) return Err::no_memory;
  auto_bind(*r, to.addr);
  Conn& c = conns_[static_cast<u32>(ci)];
  c.ns = r->ns;
  c.addr[0] = r->local;
  if (c.addr[0].addr.is_unspecified()) c.addr[0].addr = source_for(to.addr);
  c.addr[1] = to;
  if (find_listener(r->ns, to) >= 0) {
    c.latency = cfg_.loopback_latency;
    c.bandwidth = cfg_.loopback_bandwidth;
  } else if (i32 si = find_service(r->ns, SockType::tcp, to); si >= 0) {
    c.latency = services_[static_cast<u32>(si)].spec.latency;
    c.bandwidth = services_[static_cast<u32>(si)].spec.bandwidth;
  } else {
    c.latency = cfg_.unknown_latency;
    c.bandwidth = cfg_.loopback_bandwidth;
  }
  if (c.bandwidth == 0) c.bandwidth = 1;
  Endpoint& e = c.ep[0];
  init_endpoint(e, r->sndbuf, r->rcvbuf, r->mss);
  e.lowat = r->lowat;
  e.owner = Owner::sock;
  e.fd = static_cast<i32>(r - socks_.get());
  r->conn = ci;
  r->side = 0;
  r->remote = to;
  r->has_remote = true;
  c.connecting = true;
  start_syn(static_cast<u32>(ci));
  return Err::in_progress;
}

Result<SockAddr> SimHostNet::local_addr(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->conn >= 0) return conns_[static_cast<u32>(r->conn)].addr[r->side];
  SockAddr a = r->local;
  if (!r->bound) a.port = 0;
  return a;
}

Err SimHostNet::take_error(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  Err e = r->err;
  r->err = Err::none;
  if (Endpoint* ep = ep_of(*r); ep != nullptr && e == Err::none) {
    e = ep->err;
    ep->err = Err::none;
  }
  return e;
}

void SimHostNet::close(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return;
  if (r->type == SockType::tcp) close_tcp(*r);
  if (r->dq >= 0) dqs_[static_cast<u32>(r->dq)].used = false;
  drop_watch(*r);
  r->used = false;
}

void SimHostNet::drop_watch(SockRec& r) noexcept {
  if (!r.watched) return;
  r.watched = false;
  r.wake = false;
  const u32 idx = static_cast<u32>(&r - socks_.get());
  for (u32 i = 0; i < n_watched_; i++) {
    if (watched_[i] == idx) {
      watched_[i] = watched_[--n_watched_];
      return;
    }
  }
}

void SimHostNet::close_tcp(SockRec& r) noexcept {
  if (r.listening) {
    while (r.q_head >= 0) {
      const u32 ci = static_cast<u32>(r.q_head);
      r.q_head = conns_[ci].next_in_queue;
      conns_[ci].next_in_queue = -1;
      abort_conn(ci, 1);
    }
    r.q_tail = -1;
    r.q_len = 0;
    return;
  }
  if (r.conn < 0) return;
  const u32 ci = static_cast<u32>(r.conn);
  Conn& c = conns_[ci];
  Endpoint& e = c.ep[r.side];
  e.fd = -1;
  if (e.reset || e.aborted) {
    e.owner = Owner::none;
    maybe_free(ci);
  } else if (!e.established) {
    // Closing while the SYN is out: give up; tell the far side if it already
    // set up its end.
    e.owner = Owner::none;
    if (c.syn_answered && c.ep[1].owner != Owner::none) {
      abort_conn(ci, 0);
    } else {
      e.aborted = true;
      maybe_free(ci);
    }
  } else if (!e.rx.empty() || r.linger_zero) {
    abort_conn(ci, r.side);  // unread data or SO_LINGER {1, 0}: RST
  } else {
    e.owner = Owner::orphan;
    if (!e.shut_wr) e.shut_wr = true;
    pump(ci, r.side);
    orphan_check_done(ci, r.side);
  }
}

// --- HostNet: stream data ---------------------------------------------------------

Result<std::size_t> SimHostNet::send(Sock s, std::span<const Bytes> iov, bool more) noexcept {
  (void)more;  // MSG_MORE only delays segmentation; the model segments on its own
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::invalid;
  Endpoint* e = ep_of(*r);
  if (e == nullptr) return Err::not_connected;
  if (e->err != Err::none) {
    Err err = e->err;
    e->err = Err::none;
    return err;
  }
  if (e->reset || e->aborted || e->shut_wr) return Err::broken_pipe;
  if (!e->established) return Err::again;
  const std::size_t used = e->tx.size();
  const std::size_t room = e->sndbuf > used ? e->sndbuf - used : 0;
  if (room == 0) return Err::again;
  std::size_t want = iov_total(iov);
  if (want == 0) return std::size_t{0};
  std::size_t done = 0;
  for (Bytes b : iov) {
    if (done == room) break;
    std::size_t n = b.size() < room - done ? b.size() : room - done;
    e->tx.push(b.first(n));
    done += n;
  }
  e->written += done;
  pump(static_cast<u32>(r->conn), r->side);
  return done;
}

Result<std::size_t> SimHostNet::peek(Sock s, std::size_t offset,
                                     std::span<const MutBytes> iov) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::invalid;
  Endpoint* e = ep_of(*r);
  if (e == nullptr) return Err::not_connected;
  if (!e->established && !e->reset) return std::size_t{0};
  if (e->rx.size() > offset) {
    std::size_t done = 0;
    for (MutBytes b : iov) {
      std::size_t n = e->rx.peek(offset + done, b);
      done += n;
      if (n < b.size()) break;
    }
    return done;
  }
  // Nothing beyond `offset`: 0, whether the queue is empty and open (would
  // block), at end of stream, or holds only bytes before `offset` -- as
  // LinuxHostNet reports it.  A pending error (reset) comes after the data.
  if (e->rx.empty() && e->err != Err::none) {
    Err err = e->err;
    e->err = Err::none;
    return err;
  }
  return std::size_t{0};
}

Result<std::size_t> SimHostNet::discard(Sock s, std::size_t n) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::invalid;
  Endpoint* e = ep_of(*r);
  if (e == nullptr) return Err::not_connected;
  if (n == 0) return std::size_t{0};
  if (e->rx.empty()) {
    if (e->fin_rcvd || e->reset) return std::size_t{0};
    return Err::again;
  }
  const std::size_t k = n < e->rx.size() ? n : e->rx.size();
  consume(static_cast<u32>(r->conn), r->side, k);
  return k;
}

Result<std::size_t> SimHostNet::recv(Sock s, std::span<const MutBytes> iov) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::invalid;
  Endpoint* e = ep_of(*r);
  if (e == nullptr) return Err::not_connected;
  if (e->rx.empty()) {  // unlike peek(), a consuming read says "would block"
    if (e->err != Err::none) {
      Err err = e->err;
      e->err = Err::none;
      return err;
    }
    if (e->fin_rcvd || e->reset || e->aborted) return std::size_t{0};
    return Err::again;
  }
  auto got = peek(s, 0, iov);
  if (!got.ok() || *got == 0) return got;
  return discard(s, *got);
}

Result<ports::TcpInfo> SimHostNet::tcp_info(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::not_supported;
  ports::TcpInfo ti;
  ti.has_snd_wnd = cfg_.has_snd_wnd;
  ti.has_bytes_acked = cfg_.has_bytes_acked;
  ti.has_min_rtt = cfg_.has_min_rtt;
  ti.snd_wscale = cfg_.wscale;
  ti.rcv_wscale = cfg_.wscale;
  if (r->listening) {
    ti.state = kListen;
    return ti;
  }
  const Endpoint* e = ep_of(*r);
  if (e == nullptr) {
    ti.state = kClose;
    return ti;
  }
  const Conn& c = conns_[static_cast<u32>(r->conn)];
  if (e->reset || e->aborted) ti.state = kClose;
  else if (!e->established) ti.state = kSynSent;
  else if (!e->shut_wr && !e->fin_rcvd) ti.state = kEstablished;
  else if (e->shut_wr && !e->fin_rcvd) ti.state = e->fin_acked ? kFinWait2 : kFinWait1;
  else if (!e->shut_wr) ti.state = kCloseWait;
  else if (e->fin_rcvd_first) ti.state = e->fin_acked ? kClose : kLastAck;
  else ti.state = e->fin_acked ? kTimeWait : kClosing;
  const Endpoint& o = c.ep[1 - r->side];
  ti.snd_mss = e->mss < o.mss ? e->mss : o.mss;
  const i64 rtt = (c.latency * 2).to_micros();
  ti.rtt_us = static_cast<u32>(rtt > 0 ? rtt : 1);
  ti.min_rtt_us = cfg_.has_min_rtt ? ti.rtt_us : 0;
  ti.snd_cwnd = 10;
  ti.snd_wnd = cfg_.has_snd_wnd ? e->peer_wnd : 0;
  // Linux counts an acknowledged FIN in tcpi_bytes_acked (snd_una moves past it).
  ti.bytes_acked = cfg_.has_bytes_acked ? e->snd_una + (e->fin_acked ? 1u : 0u) : 0;
  const u64 out = e->snd_nxt - e->snd_una;
  ti.unacked = static_cast<u32>((out + ti.snd_mss - 1) / (ti.snd_mss > 0 ? ti.snd_mss : 1));
  ti.total_retrans = 0;
  return ti;
}

Result<std::size_t> SimHostNet::send_queue(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::invalid;
  const Endpoint* e = ep_of(*r);
  if (e == nullptr) return std::size_t{0};
  // As Linux's SIOCOUTQ (write_seq - snd_una): a FIN queued by shutdown()
  // counts until it is acknowledged.
  return e->tx.size() + (e->shut_wr && !e->fin_acked ? 1u : 0u);
}

Status SimHostNet::shutdown_write(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type != SockType::tcp) return Err::invalid;
  Endpoint* e = ep_of(*r);
  if (e == nullptr || !e->established) return Err::not_connected;
  if (e->shut_wr || e->reset || e->aborted) return {};
  e->shut_wr = true;
  if (e->fin_rcvd) e->fin_rcvd_first = true;
  pump(static_cast<u32>(r->conn), r->side);
  return {};
}

// --- TCP machinery ---------------------------------------------------------------

void SimHostNet::start_syn(u32 ci) noexcept {
  Conn& c = conns_[ci];
  w_.schedule_in(c.latency, actor_, kSyn, ci, c.gen);
}

void SimHostNet::on_syn(u32 ci) noexcept {
  Conn& c = conns_[ci];
  if (!c.connecting || c.syn_answered || c.ep[0].aborted || c.ep[0].owner == Owner::none) return;
  Endpoint& srv = c.ep[1];
  const i32 li = find_listener(c.ns, c.addr[1]);
  if (li >= 0) {
    SockRec& l = socks_[static_cast<u32>(li)];
    if (l.q_len >= l.backlog) {
      // Full backlog: the SYN is dropped; the client retries.
      c.syn_tries++;
      w_.schedule_in(Duration::seconds(i64{1} << (c.syn_tries - 1)), actor_, kSynRetry, ci, c.gen);
      return;
    }
    init_endpoint(srv, l.sndbuf, l.rcvbuf, l.mss);
    srv.lowat = l.lowat;
    srv.owner = Owner::queued;
    if (l.q_tail >= 0) conns_[static_cast<u32>(l.q_tail)].next_in_queue = static_cast<i32>(ci);
    else l.q_head = static_cast<i32>(ci);
    l.q_tail = static_cast<i32>(ci);
    l.q_len++;
    notify_fd(li, ev::in);
  } else if (i32 si = find_service(c.ns, SockType::tcp, c.addr[1]); si >= 0) {
    const PeerSpec& spec = services_[static_cast<u32>(si)].spec;
    if (spec.kind == PeerKind::silent) {
      c.syn_tries++;
      w_.schedule_in(Duration::seconds(i64{1} << (c.syn_tries - 1)), actor_, kSynRetry, ci, c.gen);
      return;
    }
    set_peer(srv, spec);
  } else {
    // Nothing there: RST back.
    c.syn_answered = true;
    if (c.ep[0].owner == Owner::peer) totals_.inbound_refused++;
    else totals_.refused++;
    w_.schedule_in(c.latency, actor_, kRst, ci, c.gen, 0, 0);
    return;
  }
  c.syn_answered = true;
  srv.established = true;
  srv.peer_edge = c.ep[0].read + c.ep[0].rcvbuf;
  srv.peer_wnd = c.ep[0].rcvbuf;
  c.ep[0].adv_edge = srv.peer_edge;
  srv.adv_edge = srv.read + srv.rcvbuf;
  w_.schedule_in(c.latency, actor_, kSynAck, ci, c.gen);
  if (srv.owner == Owner::peer) peer_app(ci, 1);
}

void SimHostNet::on_syn_retry(u32 ci, u32 tries) noexcept {
  (void)tries;
  Conn& c = conns_[ci];
  if (!c.connecting || c.syn_answered) return;
  if (c.syn_tries > kSynRetries) {
    Endpoint& e = c.ep[0];
    c.connecting = false;
    e.reset = true;
    e.err = Err::timed_out;
    totals_.timed_out++;
    notify_ep(e, kAllEvents);
    if (e.owner == Owner::peer) {
      e.owner = Owner::none;
      maybe_free(ci);
    }
    return;
  }
  start_syn(ci);
}

void SimHostNet::on_synack(u32 ci) noexcept {
  Conn& c = conns_[ci];
  Endpoint& e = c.ep[0];
  c.connecting = false;
  if (e.aborted || e.owner == Owner::none) return;
  e.established = true;
  e.peer_edge = c.ep[1].read + c.ep[1].rcvbuf;
  e.peer_wnd = c.ep[1].rcvbuf;
  notify_ep(e, ev::out);
  if (e.owner == Owner::peer) peer_app(ci, 0);
  pump(ci, 0);
}

void SimHostNet::pump(u32 ci, u8 d) noexcept {
  Conn& c = conns_[ci];
  Endpoint& s = c.ep[d];
  if (!s.established || s.reset || s.aborted || s.fin_sent || s.pump_pending) return;
  const Instant now = w_.now();
  if (s.next_tx > now) {
    s.pump_pending = true;
    w_.schedule(s.next_tx, actor_, kPump, ci, c.gen, 0, d);
    return;
  }
  const u64 avail = s.written - s.snd_nxt;
  const u64 room = s.peer_edge > s.snd_nxt ? s.peer_edge - s.snd_nxt : 0;
  const u64 len = mn(mn(avail, room), cfg_.seg_max);
  if (len > 0) {
    if (s.inflight_segs >= kMaxInflightSegs) return;  // the next ack pumps again
    s.inflight_segs++;
    const Duration ser = Duration::nanos(static_cast<i64>(len * 1000000000ULL / c.bandwidth));
    w_.schedule(now + ser + c.latency, actor_, kSeg, ci, c.gen, s.snd_nxt,
                static_cast<u32>(len) | (static_cast<u32>(d) << kDirShift));
    s.snd_nxt += len;
    s.next_tx = now + ser;
    const bool more = s.written > s.snd_nxt && s.peer_edge > s.snd_nxt;
    const bool fin_next = s.shut_wr && s.written == s.snd_nxt;
    if (more || fin_next) {
      s.pump_pending = true;
      w_.schedule(s.next_tx, actor_, kPump, ci, c.gen, 0, d);
    }
    return;
  }
  if (s.shut_wr && s.snd_nxt == s.written) {
    s.fin_sent = true;
    w_.schedule(now + c.latency, actor_, kSeg, ci, c.gen, s.snd_nxt,
                (static_cast<u32>(d) << kDirShift) | kFinFlag);
  }
}

void SimHostNet::on_seg(const Event& ev_) noexcept {
  const u32 ci = ev_.a;
  Conn& c = conns_[ci];
  const u8 d = static_cast<u8>((ev_.d >> kDirShift) & 1);
  const u64 len = ev_.d & kLenMask;
  const bool fin = (ev_.d & kFinFlag) != 0;
  Endpoint& s = c.ep[d];
  Endpoint& r = c.ep[1 - d];
  const u8 rs = static_cast<u8>(1 - d);
  if (len > 0 && s.inflight_segs > 0) s.inflight_segs--;
  if (r.reset || r.aborted) return;
  if (r.owner == Owner::none) {
    // The receiver is gone: a FIN is acknowledged, data draws a RST.
    if (len == 0 && fin) {
      r.fin_rcvd = true;
      send_ack(ci, rs, true);
    } else {
      abort_conn(ci, rs);
    }
    return;
  }
  if (ev_.c != r.rcv_nxt) {
    violate("conn %u: segment at %llu but receiver expects %llu", ci,
            static_cast<unsigned long long>(ev_.c), static_cast<unsigned long long>(r.rcv_nxt));
    return;
  }
  if (len > 0) {
    if (r.owner == Owner::orphan) {  // data after close(): RST, like Linux
      abort_conn(ci, rs);
      return;
    }
    if (r.rx.space() < len) {
      violate("conn %u: segment of %llu overflows the receive ring (%zu free)", ci,
              static_cast<unsigned long long>(len), r.rx.space());
      return;
    }
    std::size_t pos = ev_.c - s.snd_una;
    u64 left = len;
    while (left > 0) {
      Bytes run = s.tx.run_at(pos);
      if (run.empty()) {
        violate("conn %u: segment bytes missing from the sender's ring", ci);
        return;
      }
      if (run.size() > left) run = run.first(left);
      r.rx.push(run);
      pos += run.size();
      left -= run.size();
    }
    r.rcv_nxt += len;
    if (r.owner == Owner::peer) totals_.peer_bytes_in += len;
  }
  if (fin) {
    r.fin_rcvd = true;
    if (!r.shut_wr) r.fin_rcvd_first = true;
  }
  notify_ep(r, ev::in | (fin ? ev::rdhup : 0u));
  const u32 gen = c.gen;
  if (r.owner == Owner::peer) peer_app(ci, rs);
  else if (r.owner == Owner::orphan) orphan_check_done(ci, rs);
  // Acknowledge after the peer application ran, so the window it advertises
  // reflects what that application consumed at once (as a delayed ACK would).
  if (c.used && c.gen == gen && !r.aborted) send_ack(ci, rs, fin);
}

void SimHostNet::send_ack(u32 ci, u8 receiver, bool fin) noexcept {
  Conn& c = conns_[ci];
  Endpoint& r = c.ep[receiver];
  u64 edge = r.read + r.rcvbuf;
  if (edge < r.adv_edge) edge = r.adv_edge;  // a window never shrinks
  r.adv_edge = edge;
  const u64 wnd = edge - r.rcv_nxt;
  const u8 to = static_cast<u8>(1 - receiver);
  w_.schedule_in(c.latency, actor_, kAck, ci, c.gen, r.rcv_nxt,
                 static_cast<u32>(wnd & kLenMask) | (static_cast<u32>(to) << kDirShift) |
                     (fin ? kFinFlag : 0u));
}

void SimHostNet::on_ack(const Event& ev_) noexcept {
  const u32 ci = ev_.a;
  Conn& c = conns_[ci];
  const u8 d = static_cast<u8>((ev_.d >> kDirShift) & 1);
  Endpoint& s = c.ep[d];
  if (s.reset || s.aborted || s.owner == Owner::none) return;
  const u64 ack = ev_.c;
  const u32 wnd = ev_.d & kLenMask;
  bool freed = false;
  if (ack > s.snd_una) {
    s.tx.drop(ack - s.snd_una);
    s.snd_una = ack;
    freed = true;
  }
  if ((ev_.d & kFinFlag) != 0) s.fin_acked = true;
  s.peer_wnd = wnd;
  if (ack + wnd > s.peer_edge) s.peer_edge = ack + wnd;
  if (freed) notify_ep(s, ev::out);
  pump(ci, d);
  if (s.owner == Owner::peer) peer_app(ci, d);
  else if (s.owner == Owner::orphan) orphan_check_done(ci, d);
}

void SimHostNet::maybe_window_update(u32 ci, u8 side) noexcept {
  Conn& c = conns_[ci];
  Endpoint& e = c.ep[side];
  Endpoint& o = c.ep[1 - side];
  if (!e.established || e.reset || e.aborted || o.owner == Owner::none) return;
  const u64 edge = e.read + e.rcvbuf;
  if (edge <= e.adv_edge) return;
  const u64 thresh = mn(e.mss, e.rcvbuf / 2);
  // Receiver-side silly window avoidance, but always reopen a closed window.
  if (edge - e.adv_edge >= thresh || e.adv_edge <= e.rcv_nxt) send_ack(ci, side, false);
}

void SimHostNet::consume(u32 ci, u8 side, std::size_t n) noexcept {
  Endpoint& e = conns_[ci].ep[side];
  e.rx.drop(n);
  e.read += n;
  maybe_window_update(ci, side);
}

void SimHostNet::abort_conn(u32 ci, u8 from) noexcept {
  Conn& c = conns_[ci];
  Endpoint& e = c.ep[from];
  Endpoint& o = c.ep[1 - from];
  e.aborted = true;
  e.owner = Owner::none;
  e.fd = -1;
  if (o.owner != Owner::none && !o.reset) {
    Instant at = e.next_tx > w_.now() ? e.next_tx : w_.now();
    w_.schedule(at + c.latency, actor_, kRst, ci, c.gen, 0, static_cast<u32>(1 - from));
  }
  maybe_free(ci);
}

void SimHostNet::on_rst(u32 ci, u8 side) noexcept {
  Conn& c = conns_[ci];
  Endpoint& e = c.ep[side];
  if (e.reset || e.aborted) return;
  const bool refused = side == 0 && c.connecting;
  c.connecting = false;
  e.reset = true;
  e.err = refused ? Err::conn_refused : (e.fin_rcvd ? Err::broken_pipe : Err::conn_reset);
  notify_ep(e, kAllEvents);
  if (e.owner == Owner::peer || e.owner == Owner::orphan) {
    e.owner = Owner::none;
    maybe_free(ci);
  }
}

void SimHostNet::peer_consume(u32 ci, u8 side, std::size_t n) noexcept {
  Endpoint& e = conns_[ci].ep[side];
  if (e.peer.verify && !e.peer_bad) {
    std::size_t done = 0;
    while (done < n) {
      Bytes run = e.rx.run_at(done);
      if (run.size() > n - done) run = run.first(n - done);
      const std::size_t bad = check_pattern(e.peer.expect_stream, e.read + done, run);
      if (bad != run.size()) {
        e.peer_bad = true;
        totals_.peer_mismatches++;
        const u64 at = e.read + done + bad;
        violate("%s peer on conn %u: byte %llu of stream %llu is wrong", peer_kind_name(e.peer.kind),
                ci, static_cast<unsigned long long>(at),
                static_cast<unsigned long long>(e.peer.expect_stream));
        break;
      }
      done += run.size();
    }
    if (!e.peer_bad) totals_.peer_verified += n;
  }
  consume(ci, side, n);
}

void SimHostNet::peer_app(u32 ci, u8 side) noexcept {
  Conn& c = conns_[ci];
  Endpoint& e = c.ep[side];
  if (e.owner != Owner::peer || e.reset || e.aborted || !e.established) return;
  switch (e.peer.kind) {
    case PeerKind::echo: {
      std::size_t room = e.sndbuf > e.tx.size() ? e.sndbuf - e.tx.size() : 0;
      std::size_t n = e.rx.size() < room ? e.rx.size() : room;
      std::size_t done = 0;
      while (done < n) {
        Bytes run = e.rx.run_at(done);
        if (run.size() > n - done) run = run.first(n - done);
        e.tx.push(run);
        done += run.size();
      }
      e.written += n;
      totals_.peer_bytes_out += n;
      if (n > 0) peer_consume(ci, side, n);
      if (e.fin_rcvd && e.rx.empty()) e.shut_wr = true;
      pump(ci, side);
      break;
    }
    case PeerKind::sink:
      if (!e.rx.empty()) peer_consume(ci, side, e.rx.size());
      if (e.fin_rcvd) e.shut_wr = true;
      pump(ci, side);
      break;
    case PeerKind::slow_reader:
      if (!e.rx.empty() && !e.tick_pending) {
        e.tick_pending = true;
        w_.schedule_in(kSlowTick, actor_, kTick, ci, c.gen, 0, side);
      }
      if (e.fin_rcvd && e.rx.empty()) e.shut_wr = true;
      pump(ci, side);
      break;
    case PeerKind::source:
    case PeerKind::client: {
      u8 buf[4096];
      while (e.produced < e.peer.bytes && e.tx.size() < e.sndbuf) {
        u64 n = mn(mn(e.peer.bytes - e.produced, e.sndbuf - e.tx.size()), sizeof(buf));
        fill_pattern(e.peer.stream, e.produced, MutBytes(buf, n));
        e.tx.push(Bytes(buf, n));
        e.produced += n;
        e.written += n;
        totals_.peer_bytes_out += n;
      }
      if (e.produced == e.peer.bytes) e.shut_wr = true;
      if (!e.rx.empty()) peer_consume(ci, side, e.rx.size());
      pump(ci, side);
      break;
    }
    case PeerKind::resetter:
      if (!e.rx.empty()) peer_consume(ci, side, e.rx.size());
      if (e.read >= e.peer.bytes) {
        totals_.peer_resets++;
        abort_conn(ci, side);
        return;
      }
      if (e.fin_rcvd) e.shut_wr = true;
      pump(ci, side);
      break;
    case PeerKind::silent:
      break;
  }
  peer_check_done(ci, side);
}

void SimHostNet::peer_check_done(u32 ci, u8 side) noexcept {
  Endpoint& e = conns_[ci].ep[side];
  if (e.owner != Owner::peer) return;
  if (e.fin_rcvd && e.rx.empty() && e.peer.verify && e.peer.expect_bytes != 0 &&
      e.read != e.peer.expect_bytes && !e.peer_bad) {
    e.peer_bad = true;
    totals_.peer_mismatches++;
    violate("%s peer on conn %u: stream ended after %llu bytes, expected %llu",
            peer_kind_name(e.peer.kind), ci, static_cast<unsigned long long>(e.read),
            static_cast<unsigned long long>(e.peer.expect_bytes));
  }
  if (e.shut_wr && e.fin_acked && e.fin_rcvd && e.rx.empty()) {
    e.owner = Owner::none;
    totals_.peers_done++;
    if (e.peer.kind == PeerKind::client && !e.peer_bad) totals_.clients_done++;
    maybe_free(ci);
  }
}

void SimHostNet::orphan_check_done(u32 ci, u8 side) noexcept {
  Endpoint& e = conns_[ci].ep[side];
  if (e.owner != Owner::orphan) return;
  if (e.fin_acked || e.reset) {
    e.owner = Owner::none;
    maybe_free(ci);
  }
}

void SimHostNet::notify_ep(const Endpoint& e, u32 bits) noexcept {
  if (e.owner == Owner::sock) notify_fd(e.fd, bits);
}

void SimHostNet::notify_fd(i32 fd, u32 bits) noexcept {
  if (fd < 0) return;
  SockRec& r = socks_[static_cast<u32>(fd)];
  if (!r.used || !r.watched) return;
  if ((bits & (r.interest | ev::err | ev::hup)) != 0) r.wake = true;
}

// --- Actor -------------------------------------------------------------------------

void SimHostNet::on_event(const Event& e) noexcept {
  if (e.kind == kWake || e.kind == kSockErr) {
    if (e.a >= cfg_.max_sockets) return;
    SockRec& r = socks_[e.a];
    if (!r.used || r.gen != e.b) return;
    if (e.kind == kSockErr) {
      r.err = static_cast<Err>(e.d);
      notify_fd(static_cast<i32>(e.a), ev::err);
    } else {
      notify_fd(static_cast<i32>(e.a), ev::in);
    }
    return;
  }
  if (e.a >= cfg_.max_conns) return;
  Conn& c = conns_[e.a];
  if (!c.used || c.gen != e.b) return;  // stale: the connection is gone
  switch (e.kind) {
    case kSyn: on_syn(e.a); break;
    case kSynAck: on_synack(e.a); break;
    case kSynRetry: on_syn_retry(e.a, e.d); break;
    case kSeg: on_seg(e); break;
    case kAck: on_ack(e); break;
    case kRst: on_rst(e.a, static_cast<u8>(e.d & 1)); break;
    case kPump: {
      const u8 d = static_cast<u8>(e.d & 1);
      c.ep[d].pump_pending = false;
      pump(e.a, d);
      break;
    }
    case kTick: {
      const u8 side = static_cast<u8>(e.d & 1);
      Endpoint& ep = c.ep[side];
      ep.tick_pending = false;
      if (ep.owner != Owner::peer || ep.reset) break;
      u64 allow = ep.peer.read_rate * static_cast<u64>(kSlowTick.ns) / 1000000000ULL;
      if (allow == 0) allow = 1;
      const std::size_t n = mn(allow, ep.rx.size());
      if (n > 0) peer_consume(e.a, side, n);
      peer_app(e.a, side);
      break;
    }
    default: break;
  }
}

// --- readiness --------------------------------------------------------------------

u32 SimHostNet::tcp_readiness(const SockRec& r) const noexcept {
  if (r.listening) return r.q_len > 0 ? ev::in : 0u;
  const Endpoint* e = ep_of(r);
  if (e == nullptr) return ev::out | ev::hup;  // TCP_CLOSE
  const bool closed = e->reset || e->aborted;
  const bool connecting = !e->established && !closed;
  const bool shut_rd = e->fin_rcvd || closed;
  const bool shut_wr = e->shut_wr || closed;
  u32 m = 0;
  if ((shut_rd && shut_wr) || closed) m |= ev::hup;
  if (shut_rd) m |= ev::in | ev::rdhup;
  if (!connecting) {
    if (!e->rx.empty() && e->rx.size() >= e->lowat) m |= ev::in;
    if (!shut_wr) {
      const std::size_t used = e->tx.size();
      const std::size_t room = e->sndbuf > used ? e->sndbuf - used : 0;
      if (room > 0 && room >= used / 2) m |= ev::out;  // sk_stream_is_writeable()
    } else {
      m |= ev::out;
    }
  }
  if (e->err != Err::none || r.err != Err::none) m |= ev::err;
  return m;
}

u32 SimHostNet::readiness(Sock s) const noexcept {
  const SockRec* r = rec(s);
  if (r == nullptr) return 0;
  if (r->type == SockType::tcp) return tcp_readiness(*r);
  u32 m = ev::out;
  const DgramQueue& q = dqs_[static_cast<u32>(r->dq)];
  if (q.len > 0 && q.hdr[q.head].visible <= w_.now()) m |= ev::in;
  if (r->err != Err::none) m |= ev::err;
  return m;
}

u32 SimHostNet::pending_events(const SockRec& r) const noexcept {
  const i32 fd = static_cast<i32>(&r - socks_.get());
  const u32 ready = readiness(Sock{fd + kFdBase}) & (r.interest | ev::err | ev::hup);
  if (r.edge) return r.wake ? ready : 0u;
  return ready;
}

Status SimHostNet::watch(Sock s, u32 events, u64 ref) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if ((ref >> 63) != 0) return Err::invalid;  // reserved for the event loop's own fds
  if (!r->watched) watched_[n_watched_++] = static_cast<u32>(r - socks_.get());
  r->watched = true;
  r->edge = (events & ev::edge) != 0;
  r->interest = events & kAllEvents;
  r->ref = ref;
  r->wake = true;  // EPOLL_CTL_ADD/MOD re-checks readiness at once
  return {};
}

void SimHostNet::unwatch(Sock s) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return;
  drop_watch(*r);
}

bool SimHostNet::has_work(Instant now) const noexcept {
  (void)now;
  const SockRec* socks = socks_.get();
  for (u32 i = 0; i < n_watched_; i++)
    if (pending_events(socks[watched_[i]]) != 0) return true;
  return false;
}

void SimHostNet::deliver(ports::EventSink& sink, Instant now) noexcept {
  std::size_t n = 0;
  const u32 total = cfg_.max_sockets;
  u32 next_cursor = cursor_;
  for (u32 k = 0; k < total; k++) {
    const u32 i = (cursor_ + k) % total;
    SockRec& r = socks_[i];
    if (!r.used || !r.watched) continue;
    const u32 evs = pending_events(r);
    r.wake = false;
    if (evs == 0) continue;
    pending_[n++] = Pending{r.ref, evs, static_cast<i32>(i) + kFdBase};
    next_cursor = (i + 1) % total;
    if (n == cfg_.events_per_poll) break;
  }
  cursor_ = next_cursor;
  // Like epoll_wait: the batch is fixed before the engine sees any of it.
  for (std::size_t i = 0; i < n; i++) {
    w_.trace(kTraceSockEv, pending_[i].ref * 64 + pending_[i].events);
    last_ = pending_[i];
    have_last_ = true;
    sink.on_socket_event(pending_[i].ref, pending_[i].events, now);
  }
}

const char* SimHostNet::last_delivery() noexcept {
  if (!have_last_) return nullptr;
  std::snprintf(last_buf_, sizeof(last_buf_), "socket %d ref %#llx events %#x", last_.fd,
                static_cast<unsigned long long>(last_.ref), last_.events);
  return last_buf_;
}

// --- datagrams ---------------------------------------------------------------------

bool SimHostNet::dq_push(i32 fd, const SockAddr& from, Bytes a, Bytes b, Instant visible) noexcept {
  SockRec& r = socks_[static_cast<u32>(fd)];
  DgramQueue& q = dqs_[static_cast<u32>(r.dq)];
  const std::size_t total = a.size() + b.size();
  if (q.len >= cfg_.dgram_queue || q.bytes.size() + total > r.rcvbuf || q.bytes.space() < total) {
    totals_.dgrams_dropped++;
    return false;
  }
  if (visible < q.last_visible) visible = q.last_visible;  // FIFO
  q.last_visible = visible;
  q.bytes.push(a);
  q.bytes.push(b);
  Dgram& h = q.hdr[(q.head + q.len) % cfg_.dgram_queue];
  h.len = static_cast<u32>(total);
  h.from = from;
  h.visible = visible;
  q.len++;
  w_.schedule(visible, actor_, kWake, static_cast<u32>(fd), r.gen);
  return true;
}

Result<std::size_t> SimHostNet::recv_batch(Sock s, std::span<ports::RecvSlot> slots) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type == SockType::tcp) return Err::invalid;
  DgramQueue& q = dqs_[static_cast<u32>(r->dq)];
  std::size_t n = 0;
  while (n < slots.size() && q.len > 0 && q.hdr[q.head].visible <= w_.now()) {
    const Dgram& h = q.hdr[q.head];
    ports::RecvSlot& slot = slots[n];
    const std::size_t k = h.len < slot.buf.size() ? h.len : slot.buf.size();
    q.bytes.peek(0, slot.buf.first(k));
    q.bytes.drop(h.len);
    slot.len = k;
    slot.peer = h.from;
    q.head = (q.head + 1) % cfg_.dgram_queue;
    q.len--;
    n++;
  }
  if (n > 0) return n;
  if (r->err != Err::none) {
    Err e = r->err;
    r->err = Err::none;
    return e;
  }
  return Err::again;
}

Result<std::size_t> SimHostNet::send_batch(Sock s, std::span<const ports::SendSlot> msgs) noexcept {
  SockRec* r = rec(s);
  if (r == nullptr) return Err::bad_handle;
  if (r->type == SockType::tcp) return Err::invalid;
  std::size_t sent = 0;
  for (const ports::SendSlot& m : msgs) {
    const std::size_t len = iov_total(m.iov);
    const std::size_t limit = r->type == SockType::ping ? (r->fam == Family::v4 ? kMaxPing4 : kMaxPing6)
                                                        : (r->fam == Family::v4 ? kMaxUdp4 : kMaxUdp6);
    Err err = Err::none;
    if (len > limit || len > kScratch) err = Err::msg_size;
    else if (m.to == nullptr && !r->has_remote) err = Err::not_connected;
    else if ((m.to != nullptr && !family_ok(*r, m.to->addr)) || (r->type == SockType::ping && len < 8))
      err = Err::invalid;
    if (err != Err::none) {
      if (sent == 0) return err;
      break;
    }
    std::size_t off = 0;
    for (Bytes b : m.iov) {
      for (std::size_t i = 0; i < b.size(); i++) scratch_[off + i] = b[i];
      off += b.size();
    }
    const SockAddr to = m.to != nullptr ? *m.to : r->remote;
    auto_bind(*r, to.addr);
    if (r->type == SockType::ping) {
      const u8 want = r->fam == Family::v4 ? 8 : 128;  // echo request
      if (scratch_[0] != want || scratch_[1] != 0) {
        if (sent == 0) return Err::invalid;
        break;
      }
      ping_route(*r, to, Bytes(scratch_.get(), len));
    } else {
      udp_route(*r, to, Bytes(scratch_.get(), len));
    }
    totals_.dgrams_sent++;
    sent++;
  }
  return sent;
}

void SimHostNet::udp_route(SockRec& r, const SockAddr& to, Bytes payload) noexcept {
  const i32 self = static_cast<i32>(&r - socks_.get());
  SockAddr from = r.local;
  if (from.addr.is_unspecified()) from.addr = source_for(to.addr);
  const i32 li = find_udp_sock(r.ns, SockType::udp, to, from);
  if (li >= 0) {
    dq_push(li, from, payload, {}, w_.now() + cfg_.loopback_latency);
    return;
  }
  const i32 si = find_service(r.ns, SockType::udp, to);
  if (si >= 0) {
    const Service& sv = services_[static_cast<u32>(si)];
    if (udp_observer_ != nullptr) udp_observer_->on_peer_datagram(r.ns, to, from, payload);
    if (sv.ukind == UdpPeerKind::echo && dq_push(self, to, payload, {}, w_.now() + sv.latency * 2))
      totals_.dgrams_echoed++;
    return;
  }
  totals_.dgrams_dropped++;
  if (r.recverr)  // ICMP port unreachable comes back
    w_.schedule_in(cfg_.unknown_latency * 2, actor_, kSockErr, static_cast<u32>(self), r.gen, 0,
                   static_cast<u32>(Err::conn_refused));
}

void SimHostNet::ping_route(SockRec& r, const SockAddr& to, Bytes payload) noexcept {
  const i32 self = static_cast<i32>(&r - socks_.get());
  const i32 si = find_service(r.ns, SockType::ping, to);
  if (si < 0) {
    totals_.dgrams_dropped++;
    return;
  }
  // The kernel rewrites the identifier to the socket's "port" and answers
  // with an echo reply carrying the same sequence number and data.
  MutBytes m(scratch_.get(), payload.size());
  m[0] = r.fam == Family::v4 ? 0 : 129;
  m[1] = 0;
  m[2] = 0;
  m[3] = 0;
  m[4] = static_cast<u8>(r.local.port >> 8);
  m[5] = static_cast<u8>(r.local.port);
  if (r.fam == Family::v4) {
    const u16 cs = wire::Csum().add(Bytes(m)).finish();
    m[2] = static_cast<u8>(cs >> 8);
    m[3] = static_cast<u8>(cs);
  }
  SockAddr from;
  from.addr = to.addr;
  if (dq_push(self, from, Bytes(m), {}, w_.now() + services_[static_cast<u32>(si)].latency * 2))
    totals_.pings_answered++;
}

// --- pipes ---------------------------------------------------------------------------

Result<ports::PipeEnds> SimHostNet::pipe() noexcept { return Err::not_supported; }

Result<std::size_t> SimHostNet::splice(Sock from, Sock to, std::size_t len, bool more) noexcept {
  (void)from;
  (void)to;
  (void)len;
  (void)more;
  return Err::not_supported;
}

}  // namespace passt::sim
