// TCP splice: pasta's loopback fast path.  A TCP connection between the
// host's loopback and the namespace (or, for -T, the namespace's loopback
// and the host's) is carried socket to socket by the kernel, through pipes
// and splice(2): no frame, no copy through user space.  docs/splice.md is the
// long form.
//
// Theory of operation
// -------------------
// A spliced connection is one flow (core::FlowType::tcp_splice) with two
// sockets: s[0] the accepted one (the initiating side), s[1] the one we
// connect in the other namespace (the target side).  Data read from s[k]
// goes into pipe[k] and from there to s[!k]:
//
//     s[0] ──splice──▶ pipe[0] ──splice──▶ s[1]
//     s[0] ◀──splice── pipe[1] ◀──splice── s[1]
//
// Per connection state (SpliceConn, in the flow payload): the sockets, the
// pipes, the bytes spliced into and out of each pipe (their difference is
// what the pipe holds), and events:
//
//   connect        the non-blocking connect() of s[1] is running
//   established    connect() finished: data moves
//   out_wait[k]    pipe[!k] holds bytes s[k] did not take: wait for
//                  s[k] to become writable, and stop reading s[!k] meanwhile
//                  (back-pressure: the reader never outruns the writer by
//                  more than a pipe)
//   fin_rcvd[k]    s[k] returned end of stream
//   fin_sent[k]    shutdown(SHUT_WR) done on s[k]: the other side's FIN,
//                  after every byte before it
//
// Readiness (level-triggered): s[k] is watched for in|rdhup while it may be
// read (established, no fin_rcvd[k], no back-pressure) and for out while
// out_wait[k]; a socket with nothing to wait for is left out of the epoll
// set, so a hung-up socket cannot spin the loop.  During connect only s[1]
// is watched, for out.
//
// Moving data in direction k (move(k)): repeatedly splice from s[k] into
// pipe[k] (at most one pipe's worth) and from pipe[k] into s[!k], until
// s[k] has nothing more, s[!k] takes nothing more, or kMoveRounds rounds
// (then the still readable socket reports again: other connections get a
// turn).  SPLICE_F_MORE is passed on the write when the read filled at least
// 90% of the pipe (more is coming).  Bytes left in the pipe set out_wait[!k].
//
// Half-close: once s[k] returned end of stream and pipe[k] is empty,
// shutdown(SHUT_WR) on s[!k].  The other direction carries on.  When both
// directions are done (fin_sent both ways) both sockets are closed; the
// kernel still delivers what their send queues hold.
//
// Errors: a failed connect, a socket error (ev::err, an error from splice)
// or the connect timeout abort the connection: both sockets are closed with
// SO_LINGER {1, 0}, so each peer sees a reset (a refused target looks
// refused to the client).
//
// Timers: only the connect timeout (kTcpSynTimeout); an established spliced
// connection has no timer (upstream's SO_RCVLOWAT tuning is not done, see
// docs/splice.md).
//
// Connections arrive through the SpliceSink interface (proto/splice_sink.hpp)
// from the listeners (proto::TcpFwd, which decides with core/fwd): -t on the
// host side with a loopback client, -T in pasta's namespace.
//
// Resources: pipes from a PipePool, target sockets in the namespace from a
// SockPool per family (proto/splice_pool.hpp), both filled at init() and
// topped up by periodic().  Nothing allocates after construction.
#pragma once

#include "core/deadline_heap.hpp"
#include "core/epoll_ref.hpp"
#include "core/flow_table.hpp"
#include "ports/hostnet.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/splice_pool.hpp"
#include "proto/splice_sink.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace passt::proto {

inline constexpr Duration kSpliceConnectTimeout = Duration::seconds(10);
inline constexpr Duration kSplicePoolInterval = Duration::seconds(1);

namespace splice_ev {
inline constexpr u16 connect = 1u << 0;
inline constexpr u16 established = 1u << 1;
inline constexpr u16 out_wait0 = 1u << 2;  // out_wait1 = out_wait0 << 1
inline constexpr u16 fin_rcvd0 = 1u << 4;  // fin_rcvd1 = fin_rcvd0 << 1
inline constexpr u16 fin_sent0 = 1u << 6;  // fin_sent1 = fin_sent0 << 1
constexpr u16 out_wait(unsigned side) noexcept { return static_cast<u16>(out_wait0 << side); }
constexpr u16 fin_rcvd(unsigned side) noexcept { return static_cast<u16>(fin_rcvd0 << side); }
constexpr u16 fin_sent(unsigned side) noexcept { return static_cast<u16>(fin_sent0 << side); }
}  // namespace splice_ev

// The connection record in the flow payload (core::Flow::as<SpliceConn>).
struct SpliceConn {
  ports::Sock s[2];
  ports::PipeEnds pipe[2];  // pipe[k]: from s[k] to s[!k]
  u64 read[2] = {0, 0};     // bytes spliced from s[k] into pipe[k]
  u64 written[2] = {0, 0};  // bytes spliced from pipe[k] into s[!k]
  Instant t_connect = Instant::never();
  u16 events = 0;
  u8 mask[2] = {0, 0};      // interest registered for s[k] (0: not in the epoll set)

  bool has(u16 e) const noexcept { return (events & e) != 0; }
  u64 in_pipe(unsigned k) const noexcept { return read[k] - written[k]; }
};

static_assert(sizeof(SpliceConn) <= core::kFlowPayloadBytes, "SpliceConn must fit the flow payload");

struct SpliceOptions {
  u32 pipe_pool = 32;           // pipes kept ready (upstream: 32)
  u32 sock_pool = 32;           // target sockets per family kept ready (upstream: 32)
  std::size_t max_pipe_size = kPipeSizeMax;
  std::size_t min_pipe_size = kPipeSizeMin;  // below this, keep the kernel's default
  u32 move_rounds = 16;         // read+write rounds per direction per event
};

struct SpliceStats {
  u64 conns = 0;              // spliced connections started
  u64 established = 0;
  u64 conns_closed = 0;
  u64 connect_failed = 0;     // refused, unreachable, timed out
  u64 resets = 0;             // aborted after a socket or splice error
  u64 table_full = 0;
  u64 no_resources = 0;       // no socket or pipe for a new connection
  u64 bytes[2] = {0, 0};      // bytes moved from side k to side !k
  u64 splice_calls = 0;
  u64 read_again = 0;         // reads of a socket that found nothing (EAGAIN)
  u64 wakeups = 0;            // readiness events handled on established sockets
  u64 half_closes = 0;        // shutdown(SHUT_WR) relayed
  u64 back_pressure = 0;      // times a writer did not take all of a pipe
};

class TcpSplice final : public SpliceSink {
 public:
  TcpSplice(ports::HostNet& host, core::FlowTable& flows, core::DeadlineHeap& timers,
            FlowReaper& reaper, const SpliceOptions& opt = {});
  TcpSplice(const TcpSplice&) = delete;
  TcpSplice& operator=(const TcpSplice&) = delete;
  ~TcpSplice() override = default;

  // Start-up (pasta with splicing on): opens the pipe pool and finds the
  // pipe size; fills the namespace socket pools of the enabled families if
  // `ns_pools` (there are -t forwards).  Never fatal: connections fall back
  // to creating what the pools lack.
  void init(bool v4, bool v6, bool ns_pools) noexcept;
  // Every kSplicePoolInterval: tops the pools up.
  void periodic(Instant now) noexcept;

  // SpliceSink: takes req.accepted (a connected, non-blocking socket) and
  // starts a spliced connection to req.tgt.  On failure the socket is
  // closed with a reset and false returned.
  bool start(const SpliceRequest& req, Instant now) noexcept override;

  // Readiness of s[side] (ref type tcp_splice, data = the flow side).
  void sock_event(core::FlowSidx s, u32 events, Instant now) noexcept;
  // The flow's deadline passed (connect timeout).
  void timer(core::FlowIdx i, Instant now) noexcept;

  const SpliceStats& stats() const noexcept { return stats_; }
  const PipePool& pipes() const noexcept { return pipes_; }
  const SockPool& ns_pool(ports::Family f) const noexcept {
    return f == ports::Family::v4 ? ns4_ : ns6_;
  }
  std::size_t pipe_size() const noexcept { return pipes_.pipe_size(); }

 private:
  void established(core::FlowIdx i, core::Flow& f, SpliceConn& c) noexcept;
  void move(core::FlowIdx i, core::Flow& f, SpliceConn& c, unsigned k) noexcept;
  void update_masks(core::FlowIdx i, SpliceConn& c) noexcept;
  void check_done(core::FlowIdx i, core::Flow& f, SpliceConn& c) noexcept;
  void close_conn(core::FlowIdx i, core::Flow& f, SpliceConn& c, bool abort) noexcept;
  Result<ports::Sock> target_socket(ports::Netns ns, ports::Family fam) noexcept;

  ports::HostNet& host_;
  core::FlowTable& flows_;
  core::DeadlineHeap& timers_;
  FlowReaper& reaper_;
  SpliceOptions opt_;
  PipePool pipes_;
  SockPool ns4_;
  SockPool ns6_;
  bool ns_pools_ = false;
  bool v4_ = false;
  bool v6_ = false;
  RateLimit warn_{Duration::seconds(10)};
  SpliceStats stats_;
};

// The connection of a spliced flow, or nullptr if `f` is not one.
inline const SpliceConn* splice_conn_of(const core::Flow& f) noexcept {
  if (f.state != core::FlowState::active || f.type != core::FlowType::tcp_splice) return nullptr;
  return &f.as<SpliceConn>();
}

}  // namespace passt::proto
