// UdpGuest: the simulator's reference guest for UDP.  A handful of bound
// "sockets" (apps) at the guest end of the SimLink, built on the wire reprs
// only (no code shared with src/proto).
//
// Theory of operation
// -------------------
// An app is bound to a local port of one family.  A connected app talks to
// one peer (address and port as the guest sees them) and takes datagrams
// from that peer only; an unconnected app takes datagrams from anyone.
// Every received frame must parse and carry correct checksums (anything
// else is counted as bad and dropped: the link may corrupt frames; the
// scenario keeps corruption to one bit per frame, which the checksums
// always catch).  A valid UDP datagram for the guest's address that no app
// would take is a violation: the engine delivered it to the wrong flow.
// Accepted datagrams go to the handler (the scenario), which verifies
// their contents and may answer through send().
//
// Sending: send() builds the frame and hands it to the link; a frame the
// link refuses (back-pressure) waits in a small FIFO and is retried every
// millisecond, so the guest never drops its own datagrams (the FIFO is
// bounded: when full, send() returns false and the datagram is counted as
// not sent).
//
// Frames go to the configured router MAC; frames to any destination MAC
// are accepted (the link has no FCS and may corrupt MAC addresses).
#pragma once

#include <memory>

#include "sim/guest.hpp"
#include "util/addr.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::sim {

struct UdpGuestConfig {
  MacAddr mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  MacAddr router_mac{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
  Ipv4Addr addr4;
  Ipv6Addr addr6;
  u32 mtu = 65520;
  u32 backlog = 64;  // frames waiting for the link
};

struct UdpGuestApp {
  bool v6 = false;
  u16 port = 0;
  bool connected = false;  // takes datagrams from (peer, peer_port) only
  InAny peer;
  u16 peer_port = 0;
  u32 tag = 0;             // the scenario's plan
};

class UdpGuestHandler {
 public:
  virtual ~UdpGuestHandler() = default;
  // A datagram an app accepted; `payload` is valid during the call only.
  virtual void on_guest_datagram(u32 app, const UdpGuestApp& a, const InAny& src, u16 sport,
                                 Bytes payload, Instant now) noexcept = 0;
};

struct UdpGuestStats {
  u64 frames_in = 0;
  u64 frames_bad = 0;     // unparseable, or a checksum failed
  u64 frames_other = 0;   // not UDP for the guest's addresses
  u64 dgrams_in = 0;
  u64 dgrams_out = 0;
  u64 link_refused = 0;   // retried later
  u64 send_dropped = 0;   // backlog full
};

class UdpGuest final : public GuestStack {
 public:
  static constexpr u32 kMaxApps = 64;

  UdpGuest(const UdpGuestConfig& cfg, UdpGuestHandler& handler);
  ~UdpGuest() override;
  UdpGuest(const UdpGuest&) = delete;
  UdpGuest& operator=(const UdpGuest&) = delete;

  // Returns the app index, or ~0 if the table is full.
  u32 add_app(const UdpGuestApp& a) noexcept;
  const UdpGuestApp& app(u32 i) const noexcept { return apps_[i]; }
  // Sends from app `i` to (dst, dport); false if dropped (backlog full or
  // larger than the MTU).
  bool send(u32 i, const InAny& dst, u16 dport, Bytes payload, Instant now) noexcept;

  // GuestStack
  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override;
  Instant next_deadline() const noexcept override { return retry_at_; }
  void on_deadline(Instant now) noexcept override;

  const UdpGuestStats& stats() const noexcept { return stats_; }
  u32 backlog() const noexcept { return nq_; }
  const char* violation() const noexcept { return violation_[0] != '\0' ? violation_ : nullptr; }

 private:
  void violate(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
  void drain(Instant now) noexcept;

  UdpGuestConfig cfg_;
  UdpGuestHandler& handler_;
  GuestPort* port_ = nullptr;
  UdpGuestApp apps_[kMaxApps];
  u32 napps_ = 0;
  std::size_t frame_cap_ = 0;
  std::unique_ptr<u8[]> q_;        // backlog frames, frame_cap_ bytes each
  std::unique_ptr<u32[]> qlen_;
  u32 qhead_ = 0;
  u32 nq_ = 0;
  Instant retry_at_ = Instant::never();
  UdpGuestStats stats_;
  char violation_[256] = {};
};

}  // namespace passt::sim
