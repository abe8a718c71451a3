// TCP port forwarding: the listening sockets of -t (host side) and -T
// (pasta's namespace), what happens to a connection accepted on them, and
// the hand-off of loopback socket pairs to the splice data mover.
//
// Theory of operation
// -------------------
// Listeners.  Opened at start-up, before the launcher reports readiness:
//  * -t rules (Config::fwd_in.tcp.rules), in the host's namespace, bound to
//    the rule's address (any: one dual-stack [::] socket if both families
//    are on, else one socket per family) and interface (SO_BINDTODEVICE),
//    with IP_FREEBIND under --freebind.  A strict rule (a port list) fails
//    the start on the first port that cannot be bound, with upstream's
//    "Failed to bind port N (ERROR) for option '-t SPEC', exiting"; a weak
//    rule ("all", exclusions only) tolerates failures unless no port binds
//    ("Failed to bind any port for '-t SPEC', exiting"), but running out of
//    file descriptors is fatal ("Can't open enough sockets for port
//    specifier: SPEC").  A port counts as bound if either family bound.
//  * -T ports (pasta), in the namespace, on 127.0.0.1 and ::1 only; a
//    failure there is never fatal (upstream cannot check it in advance).
//  * "auto" directions: the ports of core::FwdMaps, re-synchronised by
//    rebind() after each scan: listeners of ports that left the map are
//    closed, missing ones opened (failures are retried at the next scan).
//    A port forwarded in the reverse direction is never bound (it is one
//    of our own).
// Every listener has a slot in a table sized at construction; the slot
// index is the readiness reference (core::RefType::tcp_listen).  Slots:
// the configured listeners first, then, per automatic direction, two per
// port (IPv4, IPv6; a dual-stack socket sits in the IPv6 slot and covers
// IPv4).
//
// Accepted connections (listen_event), decided by core/fwd:
//  * on a -t listener: to the guest through the tap (proto::Tcp:
//    accept_from_host) with the source translated; or, in pasta, a
//    loopback peer goes to the namespace over its loopback interface
//    (fwd_nat_from_host gives SPLICE);
//  * on a -T listener: to the host's loopback at the translated port
//    (fwd_nat_from_splice).
// An accept() that fails for want of resources (EMFILE, ENFILE, ENOBUFS,
// ENOMEM) or because the listener itself is broken leaves the connection
// queued, so the listener stays readable: watching it would spin the event
// loop at full CPU.  Such a listener is paused (watched for no events) and
// re-armed kAcceptPause later by resume(), which the owner calls at
// resume_at(); by then sockets may have closed.  Errors that belong to one
// connection (ECONNABORTED, a network error passed on by accept) consumed
// it: the loop goes on.
// The last two are socket-to-socket connections: the accepted socket and
// where its partner must connect (namespace, addresses) are handed to the
// SpliceSink (the splice(2) data mover), which creates the partner socket
// (it keeps pools of them), connects it and moves the bytes; it owns the
// accepted socket from then on.  Without a sink (none registered, or
// --no-splice), inbound loopback peers take the tap path like any other,
// and -T connections are refused (RST): we never move bytes between two
// sockets ourselves.
#pragma once

#include "core/config.hpp"
#include "core/epoll_ref.hpp"
#include "core/flow.hpp"
#include "core/fwd.hpp"
#include "core/net_info.hpp"
#include "ports/hostnet.hpp"
#include "proto/splice_sink.hpp"
#include "proto/tap_out.hpp"
#include "util/log.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace passt::proto {

class Tcp;

struct TcpFwdStats {
  u64 listeners = 0;          // open now
  u64 accepted = 0;
  u64 to_tap = 0;             // handed to proto::Tcp
  u64 spliced = 0;            // handed to the SpliceSink
  u64 refused = 0;            // closed at once (no route, no mover, mover failed)
  u64 auto_opened = 0;        // listeners opened / closed by rebind()
  u64 auto_closed = 0;
  u64 auto_failed = 0;        // binds rebind() could not do (retried)
  u64 accept_paused = 0;      // listeners paused after a failed accept (see above)
};

// How long a listener whose accept() failed for want of resources rests.
inline constexpr Duration kAcceptPause = Duration::millis(100);

class TcpFwd {
 public:
  TcpFwd(const core::Config& cfg, const core::NetInfo& net, ports::HostNet& host, Tcp& tcp,
         const GuestL2& guest, u32 accepts_per_event = 16);
  ~TcpFwd();
  TcpFwd(const TcpFwd&) = delete;
  TcpFwd& operator=(const TcpFwd&) = delete;

  // The loopback data mover; nullptr: none (see above).  Before events.
  void set_splice_sink(SpliceSink* sink) noexcept { sink_ = sink; }

  // Opens the configured listeners and, for automatic directions, those of
  // `maps` (the first scan).  Once, before the first event; the error is
  // fatal at start-up and already logged.
  Status open_listeners(const core::FwdMaps& maps) noexcept;

  // Brings the listeners of the automatic directions in line with `maps`.
  void rebind(const core::FwdMaps& maps) noexcept;

  void listen_event(u32 slot, u32 events, Instant now) noexcept;

  // When paused listeners are due to be re-armed (never: none is paused),
  // and the re-arming; resume() before that time does nothing.
  Instant resume_at() const noexcept { return resume_at_; }
  void resume(Instant now) noexcept;

  const TcpFwdStats& stats() const noexcept { return stats_; }
  u32 slot_count() const noexcept { return nslots_; }
  ports::Sock listener(u32 slot) const noexcept;
  // Open listeners of an automatic direction for `port`: bit 0 IPv4, bit 1
  // IPv6 (a dual-stack socket sets both).
  unsigned auto_bound(bool outbound, u16 port) const noexcept;

 private:
  struct Listener;
  enum Dir : u8 { kIn = 0, kOut = 1 };

  Result<ports::Sock> listen_on(u32 slot, Dir dir, ports::Family fam, const InAny& addr,
                                bool v6only, const std::string& ifname, u16 port) noexcept;
  Status open_rule(const core::PortBindRule& r) noexcept;
  Status bind_in_any(u32 slot4, u32 slot6, const std::string& ifname, u16 port,
                     unsigned* families) noexcept;
  void bind_out(u32 slot4, u32 slot6, u16 port, unsigned* families) noexcept;
  void rebind_dir(Dir dir, const core::PortBitmap& map, const core::PortBitmap& rev) noexcept;
  void close_slot(u32 slot) noexcept;
  void accepted(const Listener& l, ports::Sock s, const ports::SockAddr& peer, Instant now) noexcept;
  void splice(ports::Sock s, core::Pif ini_pif, core::Pif tgt_pif, ports::Netns ns,
              const core::FlowSide& ini, const core::FlowSide& tgt, Instant now) noexcept;
  void refuse(ports::Sock s) noexcept;
  void pause(u32 slot, Err e, Instant now) noexcept;
  u32 auto_slot(Dir dir, u16 port, bool v6) const noexcept;

  const core::Config& cfg_;
  const core::NetInfo& net_;
  ports::HostNet& host_;
  Tcp& tcp_;
  const GuestL2& guest_;
  u32 accepts_per_event_;
  SpliceSink* sink_ = nullptr;

  Listener* slots_ = nullptr;
  u32 nslots_ = 0;
  u32 nspec_ = 0;                   // configured listeners in use
  u32 spec_cap_ = 0;                // slots reserved for them
  u32 auto_base_[2] = {~0u, ~0u};   // first slot of an automatic direction
  RateLimit refuse_log_{Duration::seconds(10)};
  RateLimit pause_log_{Duration::seconds(10)};
  Instant resume_at_ = Instant::never();  // never: no listener is paused
  TcpFwdStats stats_;
};

}  // namespace passt::proto
