// EchoEngine: a small ports::EventSink that exercises the simulator itself
// until (and alongside) the real engine.
//
// Tap side: every frame from the guest is bounced back with its MAC
// addresses swapped.  Bounced frames are queued during the batch and sent in
// flush() (one TapPort::send per batch, as the real engine does); frames the
// link does not take are kept and retried at the next flush or deadline.
//
// Socket side: it runs a plan of flows through ports::HostNet, verifying what
// comes back against the pattern streams (sim/pattern.hpp):
//   tcp_echo    connect, write `bytes` of `stream`, read them back through an
//               echo peer with peek-at-offset + discard, FIN, close;
//   tcp_source  connect, read `bytes` of `expect_stream` and the FIN;
//   tcp_sink    connect, write `bytes`, FIN, wait for the peer's FIN;
//   tcp_slow    the same against a slow reader (the window closes);
//   tcp_reset   write until the peer's RST, expect Err::conn_reset;
//   tcp_refused connect where nothing listens, expect Err::conn_refused;
//   tcp_inbound listen; echo every accepted connection (peek, send, discard
//               only what the socket took) until its FIN;
//   udp_echo    `bytes` datagrams to a UDP echo peer, each verified back;
//   ping        `bytes` echo requests, each reply verified.
// Every flow checks the socket model as it goes (TCP_INFO bytes_acked never
// decreasing nor exceeding what was written, SIOCOUTQ = written - acked when
// bytes_acked exists).  The first inconsistency is kept as the engine's
// error, which the scenario's checker reports.
//
// Memory: the plan and the flow table are fixed arrays; the bounce queue is
// sized at construction.  Nothing allocates afterwards.
#pragma once

#include <memory>

#include "ports/ports.hpp"
#include "sim/prng.hpp"
#include "util/addr.hpp"

namespace passt::sim {

enum class FlowKind : u8 {
  tcp_echo,
  tcp_source,
  tcp_sink,
  tcp_slow,
  tcp_reset,
  tcp_refused,
  tcp_inbound,
  udp_echo,
  ping,
};
const char* flow_kind_name(FlowKind k) noexcept;

struct FlowPlan {
  FlowKind kind = FlowKind::tcp_echo;
  ports::Netns ns = ports::Netns::host;
  ports::Family fam = ports::Family::v4;
  ports::SockAddr peer;   // where to connect or send; tcp_inbound: where to listen
  u64 bytes = 0;          // TCP: stream length; UDP/ping: datagram count
  u64 stream = 0;         // pattern we send
  u64 expect_stream = 0;  // pattern we expect (tcp_source)
  Duration start;         // after the engine's start time
  bool edge = false;      // edge-triggered interest
  bool connect_udp = false;
  int sndbuf = 0;         // 0: leave the default
  int rcvbuf = 0;
  u32 chunk = 4096;       // largest send/peek per call
  u32 clients = 0;        // tcp_inbound: connections to expect
  u32 dgram_max = 512;    // UDP/ping payload upper bound
  u32 window = 4;         // UDP/ping: datagrams outstanding
};

class EchoEngine final : public ports::EventSink {
 public:
  static constexpr std::size_t kMaxFlows = 24;
  static constexpr std::size_t kMaxClients = 4;
  static constexpr std::size_t kMaxBounce = 64;

  // `max_frame`: the link's largest frame.  `start`: time zero of the plan.
  EchoEngine(ports::Ports ports, std::size_t max_frame, Instant start);

  bool add_flow(const FlowPlan& p) noexcept;
  std::size_t flow_count() const noexcept { return n_flows_; }
  const FlowPlan& plan(std::size_t i) const noexcept { return flows_[i].plan; }

  // First error any flow found (nullptr if none).
  const char* error() const noexcept { return error_[0] != '\0' ? error_ : nullptr; }
  bool all_done() const noexcept;
  // A short description of the first unfinished flow (for liveness failures).
  const char* pending() noexcept;

  u64 frames_bounced() const noexcept { return bounced_; }
  u64 frames_dropped() const noexcept { return bounce_dropped_; }
  bool tap_up() const noexcept { return tap_up_; }

  // --- ports::EventSink -----------------------------------------------------------
  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override;
  void on_tap_state(bool connected, Instant now) noexcept override;
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override;
  void on_deadline(Instant now) noexcept override;
  void flush(Instant now) noexcept override;
  Instant next_deadline() const noexcept override;

 private:
  enum class St : u8 { waiting, connecting, open, done, failed };
  struct Child {
    ports::Sock sock;
    bool open = false;
    bool blocked = false;  // the socket refused bytes: wait for ev::out
    bool eof = false;
    u32 interest = 0;
    u64 echoed = 0;
  };
  struct Flow {
    FlowPlan plan;
    St st = St::waiting;
    ports::Sock sock;
    u16 gen = 0;
    u32 interest = 0;
    u64 sent = 0;      // bytes (TCP) or datagrams (UDP/ping) sent
    u64 rcvd = 0;      // bytes or datagrams received and verified
    u64 acked = 0;     // last TCP_INFO bytes_acked
    bool shut = false;
    bool eof = false;
    u32 accepted = 0;
    u32 closed_children = 0;
    Child child[kMaxClients];
  };

  void fail(Flow& f, const char* fmt, ...) noexcept __attribute__((format(printf, 3, 4)));
  u64 ref_of(const Flow& f, u32 sub) const noexcept;
  void start_flow(Flow& f) noexcept;
  void set_interest(Flow& f, u32 want) noexcept;
  void finish(Flow& f) noexcept;
  void tcp_event(Flow& f, u32 events) noexcept;
  void tcp_io(Flow& f, u32 events) noexcept;
  bool tcp_write(Flow& f) noexcept;
  bool tcp_read(Flow& f, u32 events) noexcept;
  bool tcp_check_info(Flow& f) noexcept;
  void listener_event(Flow& f) noexcept;
  void child_event(Flow& f, u32 k, u32 events) noexcept;
  void dgram_event(Flow& f) noexcept;
  void dgram_send(Flow& f) noexcept;
  std::size_t dgram_len(const Flow& f, u64 seq) const noexcept;
  void build_dgram(const Flow& f, u64 seq, MutBytes out) const noexcept;

  ports::Ports p_;
  std::size_t max_frame_;
  Instant start_;
  Prng rng_;  // seeded from the Entropy port
  Flow flows_[kMaxFlows];
  std::size_t n_flows_ = 0;
  std::unique_ptr<u8[]> bounce_;  // kMaxBounce frames of max_frame_ bytes
  std::size_t bounce_len_[kMaxBounce] = {};
  std::size_t n_bounce_ = 0;
  Bytes bounce_view_[kMaxBounce];
  Instant retry_at_ = Instant::never();
  std::unique_ptr<u8[]> io_;       // scratch for socket I/O
  static constexpr std::size_t kIo = 65536;
  bool tap_up_ = true;
  u64 bounced_ = 0;
  u64 bounce_dropped_ = 0;
  char error_[256] = {};
  char pending_[160] = {};
};

}  // namespace passt::sim
