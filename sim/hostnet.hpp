// SimHostNet: a model of the host kernel's sockets behind ports::HostNet,
// with remote peers attached to addresses.
//
// Theory of operation
// -------------------
// Sockets.  A fixed table of socket records; handles are allocated lowest
// free first, like file descriptors (so reuse bugs show).  A TCP socket that
// connects or is accepted is one endpoint of a Conn; UDP and ping sockets own
// a datagram queue.  All storage (socket table, connections with their four
// byte rings, datagram queues) is allocated in the constructor.
//
// TCP connections.  A Conn has two endpoints (0 = the side that connected,
// 1 = the side that accepted); each is owned by a socket, an orphan (socket
// closed, still sending its queue and FIN), a remote peer application, or
// nothing.  Per direction, the sender's send ring holds every byte the
// application wrote that the other side has not acknowledged.  A pump sends
// "segments" (up to seg_max bytes) limited by the receiver's advertised
// window and paced by the connection's bandwidth; each arrives after the
// one-way latency, is copied into the receiver's receive ring, and is
// acknowledged after another latency with the receiver's window.  So
// bytes_acked (TCP_INFO) grows as the *remote* receives data, and the window
// closes when the remote application stops reading.  There is no loss on
// the host side (the kernel's TCP recovers it); ordering per direction is
// FIFO.  FIN follows the last byte; RST overtakes nothing (it leaves after
// the segments already paced out).
//
// Reading: peek() returns 0 whenever nothing lies beyond the offset (empty
// and open, end of stream, or only earlier bytes), as LinuxHostNet does;
// recv() and discard() say Err::again when empty and open.
//
// Connect: Err::in_progress, then after one round trip ev::out and
// take_error() == Err::none; or Err::conn_refused (with out|err|hup) when
// nothing listens there; or, for a peer that drops SYNs (PeerKind::silent, or
// a full backlog), retries at 1, 2, 4, 8, 16, 32 s and Err::timed_out.
//
// Readiness mirrors tcp_poll()/udp_poll() (see readiness()); watch() sets the
// interest.  Level-triggered sockets are reported at every poll while ready;
// edge-triggered ones when the model "wakes" them (data, space, FIN, RST,
// connect completion, a new connection to accept, a datagram) as Linux's
// callbacks would.  ev::err and ev::hup are always reported.  At most
// events_per_poll events per world poll (like epoll_wait's maxevents),
// fairly rotated.  Events collected for one poll are delivered even if the
// engine closes one of those sockets meanwhile (as with epoll_wait).
//
// UDP and ping.  A datagram is put straight into the destination's queue
// with the time it becomes visible (now + latency, or now + 2 latencies for
// an echo); a wake event makes the world re-evaluate readiness then.  A
// queue shows datagrams in FIFO order (a later datagram never becomes
// visible before an earlier one).  Full queue: the datagram is dropped and
// counted.  Ping sockets answer echo requests from registered hosts.
//
// Pipes and splice: Err::not_supported for now.
#pragma once

#include <memory>

#include "ports/hostnet.hpp"
#include "sim/ring.hpp"
#include "sim/world.hpp"

namespace passt::sim {

enum class PeerKind : u8 {
  echo,         // sends back everything it receives; FIN after the peer's FIN
  sink,         // reads everything (optionally verifying a pattern stream)
  source,       // sends `bytes` of pattern `stream`, then FIN; reads what comes
  slow_reader,  // reads `read_rate` bytes/s, so the window closes
  resetter,     // RST once it has received `bytes` bytes
  client,       // like source, and verifies what comes back (an echo of itself)
  silent,       // never answers a SYN (connect times out)
};
const char* peer_kind_name(PeerKind k) noexcept;

struct PeerSpec {
  PeerKind kind = PeerKind::echo;
  Duration latency = Duration::millis(1);  // one way
  u64 bandwidth = 100000000;               // bytes per second, each direction
  u64 bytes = 0;          // source/client: bytes to send; resetter: threshold
  u64 stream = 0;         // pattern stream this peer sends
  bool verify = false;    // check received bytes against expect_stream
  u64 expect_stream = 0;
  u64 expect_bytes = 0;   // if verify and nonzero: exact length before FIN
  u64 read_rate = 0;      // slow_reader, bytes per second
  u32 rcvbuf = 65536;     // the peer's receive buffer (its window)
  u32 sndbuf = 65536;
  u32 mss = 1460;
};

enum class UdpPeerKind : u8 { echo, sink };

// Told about every datagram that reaches a remote UDP peer (add_udp_peer),
// before the peer acts on it: scenarios verify and answer datagrams here.
class UdpPeerObserver {
 public:
  virtual ~UdpPeerObserver() = default;
  virtual void on_peer_datagram(ports::Netns ns, const ports::SockAddr& peer,
                                const ports::SockAddr& from, Bytes payload) noexcept = 0;
};

struct HostNetConfig {
  u32 max_sockets = 64;
  u32 max_conns = 64;
  u32 max_dgram_socks = 32;     // UDP + ping sockets
  u32 max_services = 32;        // remote TCP services, UDP peers, ping hosts
  u32 buf_cap = 262144;         // largest buffer any socket or peer can get
  u32 sndbuf_default = 16384;   // effective SO_SNDBUF of a new socket
  u32 rcvbuf_default = 131072;  // effective SO_RCVBUF of a new socket
  u32 mss = 1460;               // our sockets' MSS
  u32 seg_max = 65536;          // largest model segment (GSO-sized)
  u32 dgram_queue = 64;         // datagrams per UDP/ping receive queue
  u32 backlog_max = 128;        // cap on listen() backlog
  u32 events_per_poll = 8;      // epoll maxevents
  u8 wscale = 7;
  Duration loopback_latency = Duration::micros(10);
  u64 loopback_bandwidth = 1000000000;
  Duration unknown_latency = Duration::micros(500);  // RST / ICMP for unknown places
  bool has_snd_wnd = true;
  bool has_bytes_acked = true;
  bool has_min_rtt = true;
  InAny local_v4 = InAny::from(Ipv4Addr::of(192, 0, 2, 1));  // our host's addresses
  InAny local_v6 = InAny::from(Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}});
};

// Counters over all peers, for checkers and tests.
struct HostNetTotals {
  u64 conns_opened = 0;
  u64 conns_freed = 0;
  u64 refused = 0;          // connects (ours or inbound) that met no listener
  u64 timed_out = 0;
  u64 peer_resets = 0;      // RSTs sent by resetter peers
  u64 peer_bytes_in = 0;    // bytes remote peers received
  u64 peer_bytes_out = 0;   // bytes remote peers sent
  u64 peer_verified = 0;    // bytes peers checked against their pattern
  u64 peer_mismatches = 0;  // verification failures (bad byte or bad length)
  u64 peers_done = 0;       // peer endpoints that finished cleanly (FIN both ways)
  u64 clients_done = 0;     // of those, PeerKind::client that got its echo back whole
  u64 inbound_refused = 0;  // connect_remote() that met no listener
  u64 dgrams_sent = 0;
  u64 dgrams_echoed = 0;
  u64 dgrams_dropped = 0;   // no room in a receive queue, or nowhere to go
  u64 pings_answered = 0;
};

class SimHostNet final : public ports::HostNet, public Actor, public EngineFeed {
 public:
  static constexpr i32 kFdBase = 3;

  SimHostNet(World& world, const HostNetConfig& cfg);
  ~SimHostNet() override;
  SimHostNet(const SimHostNet&) = delete;
  SimHostNet& operator=(const SimHostNet&) = delete;
  const HostNetConfig& config() const noexcept { return cfg_; }

  // --- remote world (scenarios) ---------------------------------------------------
  // A remote TCP service: connections to (ns, at) get a fresh peer per
  // connection.  at.addr unspecified: any address with that port.
  Status add_tcp_service(ports::Netns ns, const ports::SockAddr& at, const PeerSpec& spec) noexcept;
  Status add_udp_peer(ports::Netns ns, const ports::SockAddr& at, UdpPeerKind kind,
                      Duration latency) noexcept;
  // Hosts that answer ping sockets' echo requests (any address if unspecified).
  Status add_ping_host(ports::Netns ns, const InAny& addr, Duration latency) noexcept;
  // A remote client connects from `from` to one of our listening sockets.
  Status connect_remote(ports::Netns ns, const ports::SockAddr& from, const ports::SockAddr& to,
                        const PeerSpec& spec) noexcept;
  // A remote host sends one datagram (pattern `stream` from `off`, `len`
  // bytes) to (ns, to), arriving after `latency`.
  Status inject_datagram(ports::Netns ns, const ports::SockAddr& from, const ports::SockAddr& to,
                         u64 stream, u64 off, std::size_t len, Duration latency) noexcept;
  // The same with the payload given.
  Status inject_datagram(ports::Netns ns, const ports::SockAddr& from, const ports::SockAddr& to,
                         Bytes payload, Duration latency) noexcept;
  void set_udp_observer(UdpPeerObserver* o) noexcept { udp_observer_ = o; }

  // --- observation ------------------------------------------------------------------
  const HostNetTotals& totals() const noexcept { return totals_; }
  // First model inconsistency or peer verification failure (nullptr if none).
  const char* violation() const noexcept { return violation_[0] != '\0' ? violation_ : nullptr; }
  // Internal invariants over every connection (nullptr if fine).
  const char* check_invariants() noexcept;
  u32 open_sockets() const noexcept;
  u32 live_conns() const noexcept;
  // Bytes a TCP socket's application has written into it in total.
  u64 bytes_written(ports::Sock s) const noexcept;
  // Does any connection still carry unfinished peers (liveness)?
  u32 busy_peers() const noexcept;

  // --- ports::HostNet ---------------------------------------------------------------------
  Result<ports::Sock> socket(ports::Netns ns, ports::Family fam, ports::SockType type) noexcept override;
  Status set_opt(ports::Sock s, ports::SockOpt opt, int value) noexcept override;
  Result<int> get_opt(ports::Sock s, ports::SockOpt opt) noexcept override;
  Status bind_to_device(ports::Sock s, std::string_view ifname) noexcept override;
  Status bind(ports::Sock s, const ports::SockAddr& addr) noexcept override;
  Status listen(ports::Sock s, int backlog) noexcept override;
  Result<ports::Sock> accept(ports::Sock listener, ports::SockAddr* peer) noexcept override;
  Status connect(ports::Sock s, const ports::SockAddr& to) noexcept override;
  Result<ports::SockAddr> local_addr(ports::Sock s) noexcept override;
  Err take_error(ports::Sock s) noexcept override;
  void close(ports::Sock s) noexcept override;
  Result<std::size_t> send(ports::Sock s, std::span<const Bytes> iov, bool more) noexcept override;
  Result<std::size_t> peek(ports::Sock s, std::size_t offset,
                           std::span<const MutBytes> iov) noexcept override;
  Result<std::size_t> discard(ports::Sock s, std::size_t n) noexcept override;
  Result<std::size_t> recv(ports::Sock s, std::span<const MutBytes> iov) noexcept override;
  Result<ports::TcpInfo> tcp_info(ports::Sock s) noexcept override;
  Result<std::size_t> send_queue(ports::Sock s) noexcept override;
  Status shutdown_write(ports::Sock s) noexcept override;
  Result<std::size_t> recv_batch(ports::Sock s, std::span<ports::RecvSlot> slots) noexcept override;
  Result<std::size_t> send_batch(ports::Sock s, std::span<const ports::SendSlot> msgs) noexcept override;
  Result<ports::PipeEnds> pipe() noexcept override;
  Result<std::size_t> splice(ports::Sock from, ports::Sock to, std::size_t len, bool more) noexcept override;
  Status watch(ports::Sock s, u32 events, u64 ref) noexcept override;
  void unwatch(ports::Sock s) noexcept override;

  // Current readiness bits of a socket (ports::ev), as tcp_poll would say.
  u32 readiness(ports::Sock s) const noexcept;

  // --- Actor / EngineFeed ------------------------------------------------------------
  const char* name() const noexcept override { return "hostnet"; }
  void on_event(const Event& e) noexcept override;
  bool has_work(Instant now) const noexcept override;
  void deliver(ports::EventSink& sink, Instant now) noexcept override;
  const char* last_delivery() noexcept override;

 private:
  struct Conn;
  struct Endpoint;
  struct SockRec;
  struct DgramQueue;
  struct Service;
  struct Dgram;

  // Event kinds.
  enum Kind : u8 { kSyn = 1, kSynAck, kSeg, kAck, kRst, kPump, kTick, kWake, kSynRetry, kSockErr };

  SockRec* rec(ports::Sock s) noexcept;
  const SockRec* rec(ports::Sock s) const noexcept;
  Endpoint* ep_of(SockRec& r) noexcept;
  const Endpoint* ep_of(const SockRec& r) const noexcept;
  i32 alloc_fd() noexcept;
  i32 alloc_conn() noexcept;
  void free_conn(u32 ci) noexcept;
  void maybe_free(u32 ci) noexcept;
  i32 alloc_dq() noexcept;
  bool family_ok(const SockRec& r, const InAny& a) const noexcept;
  bool port_in_use(ports::Netns ns, ports::SockType t, const InAny& a, u16 port, i32 except) const noexcept;
  u16 ephemeral_port(ports::Netns ns, ports::SockType t) noexcept;
  void auto_bind(SockRec& r, const InAny& toward) noexcept;
  InAny source_for(const InAny& to) const noexcept;
  i32 find_listener(ports::Netns ns, const ports::SockAddr& to) const noexcept;
  i32 find_service(ports::Netns ns, ports::SockType t, const ports::SockAddr& to) const noexcept;
  // The socket a datagram from `from` to `to` is delivered to: one
  // connected to `from` first, then one bound to `to`'s address, then a
  // wildcard; connected sockets take nothing from anyone else.
  i32 find_udp_sock(ports::Netns ns, ports::SockType t, const ports::SockAddr& to,
                    const ports::SockAddr& from) const noexcept;
  void init_endpoint(Endpoint& e, u32 sndbuf, u32 rcvbuf, u32 mss) noexcept;
  void set_peer(Endpoint& e, const PeerSpec& spec) noexcept;

  // TCP machinery.
  void start_syn(u32 ci) noexcept;
  void on_syn(u32 ci) noexcept;
  void on_synack(u32 ci) noexcept;
  void on_syn_retry(u32 ci, u32 tries) noexcept;
  void pump(u32 ci, u8 dir) noexcept;
  void on_seg(const Event& e) noexcept;
  void on_ack(const Event& e) noexcept;
  void send_ack(u32 ci, u8 receiver, bool fin) noexcept;
  void maybe_window_update(u32 ci, u8 side) noexcept;
  void consume(u32 ci, u8 side, std::size_t n) noexcept;
  void abort_conn(u32 ci, u8 from_side) noexcept;
  void on_rst(u32 ci, u8 side) noexcept;
  void peer_app(u32 ci, u8 side) noexcept;
  void peer_consume(u32 ci, u8 side, std::size_t n) noexcept;
  void peer_check_done(u32 ci, u8 side) noexcept;
  void orphan_check_done(u32 ci, u8 side) noexcept;
  void notify_ep(const Endpoint& e, u32 bits) noexcept;
  void notify_fd(i32 fd, u32 bits) noexcept;
  void drop_watch(SockRec& r) noexcept;
  void close_tcp(SockRec& r) noexcept;
  u32 tcp_readiness(const SockRec& r) const noexcept;

  // Datagrams.
  bool dq_push(i32 fd, const ports::SockAddr& from, Bytes a, Bytes b, Instant visible) noexcept;
  void udp_route(SockRec& r, const ports::SockAddr& to, Bytes payload) noexcept;
  void ping_route(SockRec& r, const ports::SockAddr& to, Bytes payload) noexcept;

  u32 pending_events(const SockRec& r) const noexcept;
  void violate(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  World& w_;
  HostNetConfig cfg_;
  Prng rng_;
  u8 actor_ = 0;
  std::unique_ptr<SockRec[]> socks_;
  std::unique_ptr<Conn[]> conns_;
  std::unique_ptr<DgramQueue[]> dqs_;
  std::unique_ptr<Service[]> services_;
  std::unique_ptr<u8[]> arena_;
  std::unique_ptr<Dgram[]> dgram_hdrs_;
  std::unique_ptr<u8[]> scratch_;  // one datagram (gather buffer)
  static constexpr std::size_t kScratch = 65536;
  u16 next_port_[2][3] = {};       // per netns and socket type
  u32 cursor_ = 0;                 // fairness rotation for deliver()
  HostNetTotals totals_;
  UdpPeerObserver* udp_observer_ = nullptr;
  char violation_[256] = {};
  char inv_buf_[200] = {};
  struct Pending {
    u64 ref;
    u32 events;
    i32 fd;
  };
  Pending last_{};
  bool have_last_ = false;
  char last_buf_[96] = {};
  std::unique_ptr<Pending[]> pending_;
  std::unique_ptr<u32[]> watched_;  // indices of watched sockets (has_work scans only these)
  u32 n_watched_ = 0;
};

class HostNetChecker final : public Checker {
 public:
  explicit HostNetChecker(SimHostNet& net) noexcept : net_(net) {}
  const char* name() const noexcept override { return "hostnet"; }
  const char* check(World& w) noexcept override {
    (void)w;
    if (const char* v = net_.violation()) return v;
    return net_.check_invariants();
  }

 private:
  SimHostNet& net_;
};

}  // namespace passt::sim
