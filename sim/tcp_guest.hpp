// TcpGuest: the simulator's reference guest TCP.  A small, independent TCP
// (it shares only the wire formats with the engine) that sits at the guest
// end of the SimLink, opens and accepts connections and runs a tiny
// application on each, with pattern byte streams (sim/pattern.hpp) so that
// nothing is stored and every byte is verified.
//
// Theory of operation
// -------------------
// Sequence numbers are kept as 64-bit stream offsets (0 = the first data
// byte); the wire's 32-bit numbers are derived from the ISNs.  The FIN sits
// at offset `send_total` (ours) / `rcv_fin` (theirs).
//
// Sending: the application "writes" up to `sndbuf` bytes beyond snd_una; the
// output loop sends MSS-sized segments within the peer's window (scaled as
// negotiated), then the FIN.  Retransmission is go-back-N from snd_una: on a
// timeout (RTO from 200 ms, doubling, capped; the connection fails after
// `max_retries`), and on three duplicate ACKs (fast retransmit, once per
// ACK value).  A zero window with data waiting starts the persist timer,
// whose probe is a segment with an old sequence number (the peer answers
// with its window), as Linux does.
//
// Receiving: in-order only.  Data beyond the next expected byte is dropped
// and answered with a duplicate ACK; data beyond the receive window is cut.
// Every byte is checked against the expected stream as it arrives.  Every
// segment that carries data or a FIN is acknowledged at once (no delayed
// ACK), and a window that reopens is announced.  The window never shrinks
// (the right edge only moves right).  An RST is accepted if its sequence
// number is at or beyond what we expect (within 2^30).
//
// Applications (GuestApp): send `send_bytes` of `send_stream`, or echo what
// arrives; verify what arrives against `recv_stream` (and its length at the
// FIN); read at `read_rate` bytes/s (0: at once); FIN after sending
// everything, or (for receivers) after the peer's FIN, or at once; abort
// with RST after some bytes.
//
// Outcomes are counted per application tag (TagStats).  After a clean close
// a connection lingers (answering retransmitted FINs) and is then freed.
//
// Keep-alive: a connection idle for `keepalive` sends a probe (an old
// sequence number) every `keepalive`; the peer answers with an ACK, or
// with a RST if it forgot the connection (a RST towards us that was lost
// would otherwise leave a connection with nothing in flight waiting
// forever).
//
// Not modelled: SACK, timestamps, delayed ACKs, Nagle, congestion control,
// urgent data, simultaneous open, IP fragments, ARP/NDP (frames go to the
// configured router MAC; frames to any destination MAC are accepted, since
// the link has no FCS and may corrupt MAC addresses).
#pragma once

#include <memory>

#include "sim/guest.hpp"
#include "sim/prng.hpp"
#include "util/addr.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::sim {

struct TcpGuestConfig {
  MacAddr mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  MacAddr router_mac{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
  Ipv4Addr addr4;
  Ipv6Addr addr6;
  u32 mtu = 65520;
  bool offer_ws = true;
  u8 wscale = 7;
  bool send_mss = true;      // without it the peer assumes 536
  u32 rcvbuf = 262144;       // receive buffer (window) per connection
  u32 sndbuf = 262144;       // bytes written ahead of snd_una
  Duration rto_min = Duration::millis(200);
  Duration rto_max = Duration::seconds(4);
  u32 max_retries = 15;
  Duration linger = Duration::seconds(5);
  Duration keepalive = Duration::seconds(3);  // idle time before a probe; 0: off
  u32 keepalive_probes = 30;                  // unanswered probes before giving up
  u32 wnd_update_drop_ppm = 0;                // window updates "lost" before sending
  u32 max_conns = 128;
  u32 burst = 64;            // segments per output round
};

// What a connection's application does.
struct GuestApp {
  u64 send_stream = 0;
  u64 send_bytes = 0;
  bool echo = false;              // send back what arrives (send_stream = recv_stream)
  u64 recv_stream = 0;
  bool verify = true;
  u64 expect_bytes = ~u64{0};     // at the peer's FIN; ~0: any
  u64 read_rate = 0;              // bytes per second; 0: read at once
  bool fin_after_peer = false;    // send our FIN only after the peer's
  u64 abort_after = ~u64{0};      // RST once this many bytes arrived
  u32 tag = 0;                    // index into the per-tag statistics
};

enum class GuestOutcome : u8 { pending, done, reset, refused, aborted, failed };
const char* guest_outcome_name(GuestOutcome o) noexcept;

struct TagStats {
  u32 opened = 0;
  u32 done = 0;
  u32 reset = 0;      // RST received while established
  u32 refused = 0;    // RST in answer to our SYN
  u32 aborted = 0;    // we sent RST (abort_after)
  u32 failed = 0;     // retries exhausted
  u64 bytes_in = 0;   // verified bytes received
  u64 bytes_out = 0;  // distinct bytes acknowledged by the peer
  u32 ended() const noexcept { return done + reset + refused + aborted + failed; }
};

struct TcpGuestStats {
  u64 frames_in = 0;
  u64 frames_bad = 0;       // unparseable or failed checksums
  u64 frames_other = 0;     // not TCP to us
  u64 frames_out = 0;
  u64 refused_by_link = 0;
  u64 segs_ooo = 0;         // dropped for a gap
  u64 dup_acks_in = 0;
  u64 fast_retransmits = 0;
  u64 timeouts = 0;
  u64 probes = 0;
  u64 rst_sent = 0;
  u64 window_updates = 0;
  u64 window_updates_dropped = 0;
  u64 zero_windows = 0;     // times our window closed
  u64 keepalives = 0;
};

class TcpGuest final : public GuestStack {
 public:
  static constexpr u32 kMaxTags = 64;
  static constexpr u32 kMaxListeners = 32;

  TcpGuest(const TcpGuestConfig& cfg, Prng rng);
  ~TcpGuest() override;
  TcpGuest(const TcpGuest&) = delete;
  TcpGuest& operator=(const TcpGuest&) = delete;

  // Opens a connection now (or at the next chance if the link is busy).
  // False if the table is full.
  bool connect(const InAny& dst, u16 dport, const GuestApp& app, Instant now) noexcept;
  // Accepts connections to `port` (either family) running `app`.
  bool listen(u16 port, const GuestApp& app) noexcept;

  // GuestStack
  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override;
  void on_link(bool up, Instant now) noexcept override;
  Instant next_deadline() const noexcept override;
  void on_deadline(Instant now) noexcept override;

  const TagStats& tag(u32 t) const noexcept { return tags_[t < kMaxTags ? t : 0]; }
  const TcpGuestStats& stats() const noexcept { return stats_; }
  u32 live_conns() const noexcept;  // not yet ended (lingering ones excluded)
  // First inconsistency seen (a wrong byte, a wrong length, a protocol
  // violation by the peer); nullptr if none.
  const char* violation() const noexcept { return violation_[0] != '\0' ? violation_ : nullptr; }
  // One line per live connection, for liveness failures.
  const char* describe_pending() noexcept;

 private:
  struct Conn;
  struct Seg;

  Conn* find(bool v6, const InAny& raddr, u16 rport, u16 lport) noexcept;
  Conn* alloc() noexcept;
  void input(Conn& c, const Seg& s, Instant now) noexcept;
  void input_syn_sent(Conn& c, const Seg& s, Instant now) noexcept;
  void take_ack(Conn& c, const Seg& s, Instant now) noexcept;
  void take_data(Conn& c, const Seg& s, Instant now) noexcept;
  void app_run(Conn& c, Instant now) noexcept;
  void maybe_window_update(Conn& c, Instant now) noexcept;
  void output(Conn& c, Instant now) noexcept;
  bool send_seg(Conn& c, u64 off, u32 len, u8 flags, Instant now) noexcept;
  bool send_raw(bool v6, const InAny& src, const InAny& dst, u16 sport, u16 dport, u32 seq,
                u32 ack, u8 flags, u16 window, bool syn_opts, u64 stream, u64 off, u32 len) noexcept;
  void send_ack(Conn& c, Instant now) noexcept;
  void send_rst_reply(const Seg& s) noexcept;
  void end(Conn& c, GuestOutcome o, Instant now) noexcept;
  void check_done(Conn& c, Instant now) noexcept;
  u16 window_field(Conn& c, bool syn) noexcept;
  u64 rcv_space(const Conn& c) const noexcept;
  void arm_rto(Conn& c, Instant now) noexcept;
  u32 wire_snd(const Conn& c, u64 off) const noexcept;
  u32 wire_rcv(const Conn& c) const noexcept;
  void violate(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  TcpGuestConfig cfg_;
  Prng rng_;
  GuestPort* port_ = nullptr;
  std::unique_ptr<Conn[]> conns_;
  struct Listener {
    bool used = false;
    u16 port = 0;
    GuestApp app;
  };
  Listener listeners_[kMaxListeners];
  TagStats tags_[kMaxTags];
  TcpGuestStats stats_;
  std::unique_ptr<u8[]> frame_;  // one frame being built
  std::size_t frame_cap_ = 0;
  char violation_[256] = {};
  char pending_[1024] = {};
};

}  // namespace passt::sim
