// TCP: translation between the guest's TCP segments (tap side) and host
// kernel TCP sockets (host side).  docs/tcp.md is the long form.
//
// Theory of operation
// -------------------
// This is not a TCP stack.  Each connection is one flow with a tap side
// (the guest's 4-tuple) and a host side (a kernel socket); the host kernel
// does the real TCP towards the far end, and this code translates:
//
//  * Socket -> guest: bytes are never copied into a buffer of ours.  The
//    socket's receive queue *is* the retransmission buffer: we peek at the
//    offset seq_to_tap - seq_ack_from_tap straight into frames queued in
//    TapOut, cut at the MSS, and discard bytes from the socket only when the
//    guest acknowledges them.  A retransmission (guest duplicate ACKs, or
//    the 2 s ACK timeout) rewinds seq_to_tap and peeks again.
//  * Guest -> socket: in-order payload of a batch of segments is written
//    with one send(); what the socket does not take is dropped and the
//    guest retransmits it; out-of-order data is dropped with duplicate ACKs
//    (the guest fast-retransmits).
//  * ACKs and windows sent to the guest mirror the socket (tcp_mirror.hpp):
//    the ACK covers what the far end acknowledged, the window what it can
//    take, with passt's fallbacks.
//  * Handshakes: a guest SYN becomes a non-blocking connect(), answered with
//    SYN+ACK once it completes (or RST+ACK if it fails); a connection
//    accepted on a -t listener (proto/tcp_fwd.hpp owns the listeners)
//    becomes a SYN to the guest.  FIN and RST are
//    relayed both ways (shutdown(SHUT_WR), SO_LINGER {1,0} + close()).
//  * Timers, one deadline per flow in the engine's heap: ACK to the guest
//    due (10 ms), handshake retransmission and timeout (2 s steps, 10 s),
//    data retransmission (2 s, at most 7 times, then RST), zero-window
//    probes, FIN timeout (60 s), activity timeout.
//
// Segments from the guest are collected per flow for a whole batch of tap
// frames (tap_segment) and handled flow by flow at the end of the batch
// (tap_batch_end), so that one send() carries a flow's whole batch.
//
// Limits (all sized at construction): the flow table (a SYN beyond it gets
// RST+ACK), segments and flows per tap batch (a full table is processed
// early), frames per peek.  Nothing allocates after construction.
#pragma once

#include "core/config.hpp"
#include "core/deadline_heap.hpp"
#include "core/epoll_ref.hpp"
#include "core/flow_table.hpp"
#include "core/net_info.hpp"
#include "ports/entropy.hpp"
#include "ports/hostnet.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/tap_out.hpp"
#include "proto/tcp_conn.hpp"
#include "util/log.hpp"
#include "util/siphash.hpp"
#include "wire/frame.hpp"

namespace passt::proto {

// Timer values (upstream's, but for the activity timeout: see docs/tcp.md).
inline constexpr Duration kTcpAckInterval = Duration::millis(10);
// Polling a window the send queue holds down (ours: nothing upstream): 1 ms,
// doubling up to 8 ms while nothing changes.
inline constexpr Duration kTcpWndPollInterval = Duration::millis(1);
inline constexpr u8 kTcpWndPollMaxShift = 3;
inline constexpr Duration kTcpSynTimeout = Duration::seconds(10);
inline constexpr Duration kTcpAckTimeout = Duration::seconds(2);
inline constexpr Duration kTcpFinTimeout = Duration::seconds(60);
inline constexpr Duration kTcpActTimeout = Duration::seconds(7440);  // RFC 5382 REQ-5
// The activity deadline moves in steps of this much (see touch_idle()).
inline constexpr Duration kTcpActStep = Duration::seconds(1);
inline constexpr Duration kTcpKick = Duration::millis(1);
// The tap queue is shared by the connections sending from the guest: each
// one's window is capped by its share (a frame queue of N frames and K
// senders: N / K frames each, at least the floor), recomputed every tick.
// A sender is a connection that sent data from the guest, or was
// established, in the current or the previous epoch (the last 100-200 ms):
// a translator short of CPU may take far longer than a tick to hear from
// every busy connection once, and counting only the senders of the last
// tick then made every share far too large (the queue overflowed).
inline constexpr Duration kTcpShareTick = Duration::millis(2);
inline constexpr Duration kTcpShareEpoch = Duration::millis(100);
inline constexpr u32 kTcpShareMinFrames = 4;
// ... and in bytes: with frames of up to 64 KiB a share in frames alone let
// 200 connections queue 200 MB, which a translator short of CPU drains in
// longer than the guest's minimum RTO.  16 MiB shared by the senders (at
// least 64 KiB each) costs a single flow nothing: its send buffer is
// smaller.
inline constexpr u32 kTcpShareBytes = 16u << 20;
inline constexpr u32 kTcpShareMinBytes = 64u << 10;
// The largest TCP_MAXSEG Linux accepts.
inline constexpr u16 kTcpMaxsegMax = 32767;
inline constexpr u8 kTcpMaxRetrans = 7;
inline constexpr u16 kTcpMssDefault = 536;
inline constexpr u16 kTcpMss4Max = 65492;
inline constexpr u16 kTcpMss6Max = 65472;
inline constexpr u32 kTcpLowRttEntries = 8;
// How long a bind() probe's answer (local destination or not) and the
// SO_SNDBUF the kernel granted are reused.
inline constexpr Duration kTcpLocalCacheTime = Duration::seconds(1);

struct TcpOptions {
  u32 frames_per_peek = 128;   // passt 128, pasta 8
  u32 max_batch_segs = 1024;   // guest segments collected per tap batch
  u32 max_batch_flows = 128;   // flows per tap batch (passt's TAP_SEQS)
  u32 accepts_per_event = 16;  // accept() calls per listener event (proto::TcpFwd)
  bool set_bufs = true;        // raise SO_SNDBUF/SO_RCVBUF (upstream: unless low_wmem/rmem)
  // Find out whether a guest's destination is one of the host's addresses by
  // binding a scratch socket to it (upstream's test; bind() succeeding or
  // EADDRINUSE means local).  Off, only loopback and the host's copied
  // address count (the simulator's sockets bind anywhere).
  bool probe_local = true;
};

struct TcpStats {
  u64 conns_from_tap = 0;   // guest SYNs that became connections
  u64 conns_from_sock = 0;  // accepted connections
  u64 conns_closed = 0;
  u64 connect_failed = 0;   // RST+ACK for a failed connect()
  u64 table_full = 0;       // SYNs / accepts refused at the flow-table limit
  u64 rst_to_tap = 0;
  u64 rst_from_tap = 0;
  u64 rst_stateless = 0;    // RSTs for segments of no connection
  u64 segs_from_tap = 0;
  u64 bytes_from_tap = 0;   // written to sockets
  u64 bytes_to_tap = 0;     // peeked into frames (retransmissions included)
  u64 frames_to_tap = 0;
  u64 partial_writes = 0;
  u64 ooo_dropped = 0;      // segments dropped for a gap
  u64 dup_acks_sent = 0;
  u64 fast_retransmits = 0;
  u64 timeout_retransmits = 0;
  u64 syn_retransmits = 0;
  u64 zero_window_probes = 0;
  u64 wnd_room_limited = 0; // windows the send queue held down (then polled)
  u64 keepalive_acks = 0;
  u64 tap_rewinds = 0;      // frames the tap did not take
  u64 fin_to_tap = 0;
  u64 fin_from_tap = 0;
  u64 retrans_limit = 0;    // connections reset after kTcpMaxRetrans
  u64 handshake_timeouts = 0;
  u64 fin_timeouts = 0;
  u64 idle_timeouts = 0;
  u64 ack_lagging = 0;      // ACKs sent behind seq_from_tap (bytes_acked mirroring)
};

class Tcp final : public TapDropObserver {
 public:
  Tcp(const core::Config& cfg, const core::NetInfo& net, ports::HostNet& host,
      ports::Entropy& entropy, TapOut& out, GuestL2& guest, core::FlowTable& flows,
      core::DeadlineHeap& timers, FlowReaper& reaper, const TcpOptions& opt = {});
  ~Tcp() override;
  Tcp(const Tcp&) = delete;
  Tcp& operator=(const Tcp&) = delete;

  // --- tap side ---------------------------------------------------------------
  // One TCP segment from the guest (checksums already verified).  Segments
  // of existing connections are collected until tap_batch_end().
  void tap_segment(const wire::Frame& f, Instant now) noexcept;
  void tap_batch_end(Instant now) noexcept;

  // --- host side ---------------------------------------------------------------
  void sock_event(core::FlowSidx s, u32 events, Instant now) noexcept;
  // A connection accepted on a -t listener goes to the guest: `ini` is the
  // host side (oaddr:oport our listening address, eaddr:eport the peer),
  // `tgt` the tap side from core::fwd_nat_from_host().  Takes the socket
  // (closed with RST if the flow table is full).
  void accept_from_host(ports::Sock s, const core::FlowSide& ini, const core::FlowSide& tgt,
                        Instant now) noexcept;
  // The flow's deadline passed.
  void timer(core::FlowIdx i, Instant now) noexcept;

  // TapDropObserver: a data frame the tap did not take.
  void on_tap_dropped(u64 tag) noexcept override;

  const TcpStats& stats() const noexcept { return stats_; }
  // The window cap, in frames of the guest's MSS, every connection gets now
  // (0: none): its share of the tap queue.
  u32 wnd_cap_frames() const noexcept { return wnd_cap_frames_; }
  u32 wnd_cap_bytes() const noexcept { return wnd_cap_bytes_; }
  // Our MSS towards the guest for the family (from the MTU).
  u16 our_mss(bool v6) const noexcept;
  // The ISN we would pick for this tap-side 4-tuple at `now` (RFC 6528).
  Seq isn(const core::FlowSide& tap_side, Instant now) const noexcept;

 private:
  struct Seg;
  struct Group;

  // tap side
  void process_group(const Group& g, Instant now) noexcept;
  void tap_new(const wire::Frame& f, Instant now) noexcept;
  void tap_syn(const wire::Frame& f, Instant now) noexcept;
  bool handshake_seg(core::FlowIdx i, core::Flow& f, TcpConn& c, const Seg& s, Instant now) noexcept;
  void data_from_tap(core::FlowIdx i, core::Flow& f, TcpConn& c, u32 first, Instant now) noexcept;
  void ack_from_tap(core::FlowIdx i, core::Flow& f, TcpConn& c, Seq ack, u32 wnd, Instant now) noexcept;
  bool rst_acceptable(const TcpConn& c, const Seg& s) const noexcept;

  // host side
  void connect_done(core::FlowIdx i, core::Flow& f, TcpConn& c, u32 events, Instant now) noexcept;
  void data_from_sock(core::FlowIdx i, core::Flow& f, TcpConn& c, Instant now) noexcept;

  // output
  bool refresh(core::Flow& f, TcpConn& c, ports::TcpInfo* info) noexcept;
  MirrorOut mirror(core::Flow& f, TcpConn& c, bool syn, bool force) noexcept;
  void note_ack_due(TcpConn& c, const MirrorOut& m, Instant now) noexcept;
  bool send_flags(core::FlowIdx i, core::Flow& f, TcpConn& c, u8 flags, Instant now) noexcept;
  bool send_ack_if_needed(core::FlowIdx i, core::Flow& f, TcpConn& c, bool force, Instant now) noexcept;
  void send_dup_acks(core::Flow& f, TcpConn& c, u32 n) noexcept;
  void send_probe(core::Flow& f, TcpConn& c, Instant now) noexcept;
  bool emit_segment(const core::Flow& f, const TcpConn& c, Seq seq, Seq ack, u8 flags, u16 wnd,
                    bool syn_opts, u64 tag) noexcept;
  void send_rst_reply(const wire::Frame& f) noexcept;
  std::size_t header_len(bool v6, std::size_t opt_len) const noexcept;
  void write_headers(MutBytes frame, const core::Flow& f, const TcpConn& c,
                     const wire::TcpRepr& t) const noexcept;

  // life cycle
  void rewind(TcpConn& c, Seq to) noexcept;
  void rst_to_tap(core::FlowIdx i, core::Flow& f, TcpConn& c, const char* why) noexcept;
  void close_conn(core::FlowIdx i, core::Flow& f, TcpConn& c, bool abort) noexcept;
  void check_close(core::FlowIdx i, core::Flow& f, TcpConn& c) noexcept;
  void update_mask(core::FlowIdx i, TcpConn& c) noexcept;
  u8 sock_wanted(const TcpConn& c) const noexcept;
  Result<ports::TcpInfo> info_of(TcpConn& c) noexcept;
  void info_stale() noexcept { info_sock_ = -1; }
  u32 sndbuf_of(const TcpConn& c, Instant now) noexcept;
  bool local_by_probe(const InAny& target, ports::Family fam, Instant now) noexcept;
  void arm_rto(TcpConn& c, Instant now, bool restart) noexcept;
  void set_timer(core::FlowIdx i, TcpConn& c, Instant now) noexcept;
  void rto_expired(core::FlowIdx i, core::Flow& f, TcpConn& c, Instant now) noexcept;
  void low_rtt_note(const core::Flow& f, TcpConn& c, const ports::TcpInfo& info) noexcept;
  bool low_rtt_lookup(const InAny& a) const noexcept;
  bool is_local(const InAny& target) const noexcept;
  u16 seg_mss(const TcpConn& c) const noexcept;
  void share_tick(Instant now) noexcept;
  void note_sender(TcpConn& c) noexcept;

  const core::Config& cfg_;
  const core::NetInfo& net_;
  ports::HostNet& host_;
  TapOut& out_;
  GuestL2& guest_;
  core::FlowTable& flows_;
  core::DeadlineHeap& timers_;
  FlowReaper& reaper_;
  TcpOptions opt_;
  SipKey isn_key_;
  Instant now_{};  // the current event's time (for the drop observer)
  // The tap queue's share per sending connection (share_tick()).
  Instant next_share_tick_{};
  Instant next_share_epoch_{};
  u32 senders_now_ = 0;    // distinct senders in this epoch
  u32 senders_prev_ = 0;   // ... in the previous one
  u32 senders_moved_ = 0;  // senders of the previous epoch seen again in this one
  u32 wnd_cap_frames_ = 0;
  u32 wnd_cap_bytes_ = 0;  // 0: none (no tap queue)
  u8 share_epoch_ = 1;     // never 0: a new connection's TcpConn::share_epoch

  Seg* segs_ = nullptr;
  Group* groups_ = nullptr;
  u32 nsegs_ = 0;
  u32 ngroups_ = 0;
  u32 last_group_ = ~0u;

  MutBytes* bufs_ = nullptr;        // frames_per_peek reservations
  MutBytes* iov_ = nullptr;         // their payloads
  std::size_t* lens_ = nullptr;
  u64* tags_ = nullptr;
  Bytes* wiov_ = nullptr;           // guest payloads for one send()

  InAny low_rtt_[kTcpLowRttEntries];
  u32 low_rtt_next_ = 0;

  // The bind() probe's answers for destinations whose connection did not
  // show them local by its source address (kTcpLocalCacheTime each).
  struct LocalProbe {
    InAny addr;
    Instant until;
    bool local = false;
  };
  LocalProbe probes_[kTcpLowRttEntries];
  u32 probe_next_ = 0;

  // The last TCP_INFO read, reused while nothing of ours can have changed it:
  // same socket, same entry point, no send/discard/shutdown since.
  ports::TcpInfo info_cache_{};
  i32 info_sock_ = -1;
  // SO_SNDBUF as the kernel reports it after we raised it (the same for
  // every socket while the sysctl limits stay): re-read after sndbuf_until_.
  u32 sndbuf_set_ = 0;
  Instant sndbuf_until_{};

  RateLimit full_warn_{Duration::seconds(10)};
  TcpStats stats_;
};

// The connection of a TCP flow, or nullptr if `f` is not an active TCP flow.
inline const TcpConn* tcp_conn_of(const core::Flow& f) noexcept {
  if (f.state != core::FlowState::active || f.type != core::FlowType::tcp) return nullptr;
  return &f.as<TcpConn>();
}

// Which side of a TCP flow is the tap side.
inline unsigned tcp_tap_side(const core::Flow& f) noexcept {
  return f.pif[core::kIniSide] == core::Pif::tap ? core::kIniSide : core::kTgtSide;
}

}  // namespace passt::proto
