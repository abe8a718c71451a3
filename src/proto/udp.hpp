// UDP: datagram flows between the guest (tap side) and host UDP sockets,
// and, in pasta, between the host's and the namespace's loopback (socket to
// socket, no L2).  docs/udp.md is the long form.
//
// Theory of operation
// -------------------
// A UDP "connection" is a flow (core::FlowTable, type udp) keyed by the
// addresses and ports of each side, created by the first datagram that
// matches no flow and expired after kUdpIdleTimeout without traffic in
// either direction (upstream: 180 s).  Every side that is not the tap owns,
// or borrows, one socket:
//
//   guest -> anywhere      INI tap, TGT host.  A socket of ours, bound to
//                          (-o address or any, the guest's source port:
//                          UDP keeps the port) and connected to the NAT'ed
//                          destination (core::fwd_nat_from_tap: gateway ->
//                          host loopback, --map-guest-addr, --dns-forward).
//                          SO_REUSEADDR lets one guest port talk to many
//                          peers: the kernel gives each reply to the socket
//                          connected to its sender.
//   -u listener -> guest   INI host (the listener, borrowed), TGT tap with
//                          the source NAT'ed by core::fwd_nat_from_host.
//   -u listener -> ns      pasta, loopback source, no --no-splice: TGT
//                          splice, a socket in the namespace bound to (any,
//                          the peer's port) and connected to the
//                          namespace's address (loopback with
//                          --host-lo-to-ns-lo) at the forwarded port.
//   -U listener -> host    pasta: INI splice (a listener on the namespace's
//                          127.0.0.1 / ::1, borrowed), TGT host: a socket
//                          bound to (the peer's loopback address and port)
//                          and connected to host loopback, forwarded port.
//
// A borrowed listener sends replies with sendto() to the side's endpoint; a
// flow socket of ours is connected and sends without an address.  Flow
// sockets are watched with ref udp_reply (the flow side: no lookup on
// receive), listeners with udp_listen (the listener's slot: each datagram
// is looked up by its sender, consecutive datagrams of one flow are
// forwarded together).  The addresses come from core/fwd
// (fwd_nat_from_tap, fwd_nat_from_host, fwd_nat_from_splice).
//
// Listeners, like proto::TcpFwd's: -u rules bound at start-up (strict
// rules fatal, weak ones unless no port binds), -U ports (pasta) on the
// namespace's 127.0.0.1 and ::1 (never fatal), and for "auto" directions
// the ports of core::FwdMaps, re-synchronised by rebind() after each scan.
// A listener an automatic direction drops while flows still borrow it is
// unwatched but stays open until the last of them expires (upstream keeps
// a dup() of the listening socket in each flow for the same reason); if
// the port comes back meanwhile, the same socket is watched again.
//
// Batching: datagrams from the guest are collected per flow for a whole
// batch of tap frames and sent with one send_batch (sendmmsg) per flow at
// tap_batch_end(); a readable socket is read with one recv_batch (recvmmsg)
// of up to `recv_batch` datagrams, and what goes to the guest is queued in
// the TapOut and written with the batch's other frames at flush().  Reads
// expected to go to the guest land directly in TapOut frames, behind room
// for the headers (no payload copy; see prepare_recv()).  Every socket
// asks for large kernel buffers (UdpOptions::sock_buf).
//
// Limits: the flow table (a datagram that would need a new flow when it is
// full is dropped), the listener table (sized by open_listeners() from the
// forwarding configuration: two slots per port), datagrams and flows per
// tap batch (a full table is processed early), datagrams per read.  A
// datagram larger than the guest's MTU allows is dropped (upstream sends an
// oversized frame; we never exceed the MTU).  ICMP errors are not
// translated in either direction (upstream: only logged): a socket error is
// read and logged at debug level.  Nothing allocates after construction.
#pragma once

#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/deadline_heap.hpp"
#include "core/epoll_ref.hpp"
#include "core/flow_table.hpp"
#include "core/fwd.hpp"
#include "core/net_info.hpp"
#include "ports/hostnet.hpp"
#include "proto/flow_reaper.hpp"
#include "proto/tap_out.hpp"
#include "util/log.hpp"
#include "wire/frame.hpp"

namespace passt::proto {

inline constexpr Duration kUdpIdleTimeout = Duration::seconds(180);  // UDP_CONN_TIMEOUT
// Largest datagram either family can carry (IPv6 without jumbograms).
inline constexpr std::size_t kUdpMaxDgram = 65535 - 8;
// Requested socket buffer size: the kernel doubles it (2 MiB: 30 datagrams
// of 64 KiB, some 900 of 1500 bytes) and caps it at net.core.rmem_max /
// wmem_max.  Upstream leaves UDP sockets at the default (208 KiB); more
// rides out a few milliseconds without the CPU, but a queue much deeper
// than the guest can take makes us copy datagrams only for the guest's
// socket to drop them (docs/performance.md §21).
inline constexpr int kUdpSockBufDefault = 1 << 20;

struct UdpOptions {
  u32 recv_batch = 32;          // datagrams per recv_batch at most (upstream UDP_MAX_FRAMES)
  // Bytes one read may take, at the size of the largest datagram the
  // previous read of that socket returned: 64 KiB datagrams are read one
  // at a time, 1500-byte ones a whole batch at a time (a socket not read
  // yet: recv_batch).  Everything one read takes goes to its receiver in
  // one burst (the frames of a pass, or one sendmmsg), and a receiver with
  // the default 208 KiB socket buffer holds three 64 KiB datagrams: a
  // larger burst is dropped there after we did the work of both copies.
  // 0: always recv_batch.
  u32 recv_bytes = 64 * 1024;
  u32 max_batch_dgrams = 1024;  // guest datagrams collected per tap batch
  u32 max_batch_flows = 128;    // flows per tap batch (passt's TAP_SEQS)
  bool ipv4_checksum = false;   // upstream sends IPv4 UDP checksum 0 ("none")
  // SO_RCVBUF and SO_SNDBUF of every UDP socket, listeners and flow
  // sockets (the kernel caps the request at net.core.rmem_max / wmem_max
  // and doubles it); 0 leaves the kernel's default.  A datagram that
  // arrives at a full queue is lost, and the default (208 KiB) holds three
  // 64 KiB datagrams: a few milliseconds without the CPU lose the rest.
  int sock_buf = kUdpSockBufDefault;
  Duration idle_timeout = kUdpIdleTimeout;
};

struct UdpStats {
  u64 flows_from_tap = 0;
  u64 flows_from_sock = 0;   // created by a datagram on a listener
  u64 flows_spliced = 0;     // of those, socket to socket (pasta loopback)
  u64 flows_expired = 0;
  u64 table_full = 0;        // datagrams dropped: no flow entry left
  u64 dgrams_from_tap = 0;   // guest datagrams handed to sockets
  u64 dgrams_to_tap = 0;     // frames queued for the guest
  u64 dgrams_spliced = 0;    // socket to socket
  u64 bytes_from_tap = 0;
  u64 bytes_to_tap = 0;
  u64 dropped_invalid = 0;   // guest datagrams with an unusable address or port
  u64 dropped_sock = 0;      // a flow socket could not be opened, bound or connected
  u64 dropped_too_big = 0;   // larger than the guest's MTU
  u64 dropped_send = 0;      // the socket did not take it (full, or an error)
  u64 dropped_stray = 0;     // from another sender than the flow's peer
  u64 dropped_closing = 0;   // for a flow released at the end of this batch
  u64 sock_errors = 0;       // pending socket errors read (ICMP errors)
  u64 listeners = 0;         // listening sockets open now
  u64 auto_opened = 0;       // listeners opened / closed by rebind()
  u64 auto_closed = 0;
  u64 auto_failed = 0;       // binds rebind() could not do (retried)
};

// The state of a UDP flow (core::Flow::as<UdpFlow>).
struct UdpFlow {
  ports::Sock sock[2];         // per side; invalid on the tap side
  u32 listener[2] = {~0u, ~0u};  // sock[i] is this listener slot's (borrowed), or ~0
  u32 scope[2] = {0, 0};       // IPv6 scope of the endpoint (link-local peers)
  u32 rx_len[2] = {0, 0};      // largest datagram of the last read on sock[i] (0: none yet)
  Instant ts;                  // last datagram, either direction
  u8 fam6 = 0;
  bool borrowed(unsigned side) const noexcept { return listener[side] != ~0u; }
};

class Udp {
 public:
  Udp(const core::Config& cfg, const core::NetInfo& net, ports::HostNet& host, TapOut& out,
      GuestL2& guest, core::FlowTable& flows, core::DeadlineHeap& timers, FlowReaper& reaper,
      const UdpOptions& opt = {});
  ~Udp();
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;

  // Opens the -u listeners (core::Config::fwd_in.udp rules) in the host's
  // namespace, in pasta the -U ones (fwd_out.udp) in the namespace, and
  // for automatic directions those of `maps` (the first scan).  A strict
  // rule's failure is an error ("Failed to bind port N (...) for option
  // '-u SPEC', exiting"), a weak rule's only if none of its ports bound;
  // -U failures are only logged.  Allocates the listener table; once,
  // before the first event.
  Status open_listeners(const core::FwdMaps& maps) noexcept;
  // Brings the listeners of the automatic directions in line with `maps`.
  void rebind(const core::FwdMaps& maps) noexcept;

  // --- tap side --------------------------------------------------------------
  // One UDP datagram from the guest (checksums already verified; not for
  // the DHCP/DHCPv6 servers).  Collected until tap_batch_end().
  void tap_datagram(const wire::Frame& f, Instant now) noexcept;
  void tap_batch_end(Instant now) noexcept;

  // --- host side -------------------------------------------------------------
  void sock_event(core::FlowSidx s, u32 events, Instant now) noexcept;
  void listen_event(u32 li, u32 events, Instant now) noexcept;
  // The flow's deadline passed: expire it, or move the deadline.
  void timer(core::FlowIdx i, Instant now) noexcept;

  const UdpStats& stats() const noexcept { return stats_; }
  const UdpOptions& options() const noexcept { return opt_; }
  u32 listener_count() const noexcept { return nopen_; }  // listening now
  u32 slot_count() const noexcept { return nslots_; }
  ports::Sock listener_sock(u32 slot) const noexcept;  // invalid unless listening
  // Sockets an automatic direction dropped, kept open for their flows.
  u32 lingering_listeners() const noexcept;
  // Listening sockets of an automatic direction for `port`: bit 0 IPv4,
  // bit 1 IPv6 (a dual-stack socket sets both).
  unsigned auto_bound(bool outbound, u16 port) const noexcept;

 private:
  struct Listener;
  struct Pending;
  struct Group;

  enum Dir : u8 { kIn = 0, kOut = 1 };

  // listeners
  Result<ports::Sock> listen_on(u32 slot, Dir dir, ports::Family fam, const InAny& addr, bool v6only,
                                const std::string& ifname, u16 port) noexcept;
  Status open_rule(const core::PortBindRule& r) noexcept;
  Status bind_in_any(u32 slot4, u32 slot6, const std::string& ifname, u16 port,
                     unsigned* families) noexcept;
  void bind_out(u32 slot4, u32 slot6, u16 port, unsigned* families) noexcept;
  void rebind_dir(Dir dir, const core::PortBitmap& map, const core::PortBitmap& rev) noexcept;
  void close_slot(u32 slot) noexcept;
  void reopen_slot(u32 slot) noexcept;
  u32 auto_slot(Dir dir, u16 port, bool v6) const noexcept;

  // flows
  core::FlowSidx tap_new(const wire::Frame& f, Instant now) noexcept;
  core::FlowSidx sock_new(u32 li, const ports::SockAddr& peer, Instant now) noexcept;
  Result<ports::Sock> flow_socket(ports::Netns ns, ports::Family fam, const ports::SockAddr& bind_to,
                                  std::string_view ifname, const ports::SockAddr& connect_to,
                                  core::FlowSidx ref) noexcept;
  void close_flow(core::FlowIdx i, core::Flow& f) noexcept;
  core::FlowKey listener_key(u32 li, const ports::SockAddr& peer) const noexcept;
  InAny listener_oaddr(u32 li, const InAny& peer) const noexcept;
  void unref_listener(u32 slot) noexcept;

  // data
  // Datagrams slots_[first, first + n), received on side `from`, go out on
  // the other side.
  void forward(core::Flow& f, unsigned from, u32 first, u32 n, Instant now) noexcept;
  void to_tap(const core::Flow& f, unsigned tap_side, Bytes payload) noexcept;
  // Headers of a frame to the guest on `tap_side` around the `plen`-byte
  // payload already behind them in `b`; the frame's length, or 0 (dropped:
  // larger than the MTU allows).
  std::size_t write_frame(const core::Flow& f, unsigned tap_side, MutBytes b, std::size_t plen) noexcept;
  // Datagram k, received into tap_bufs_[k] behind recv_hdr_ bytes, as a frame.
  std::size_t frame_in_place(const core::Flow& f, unsigned tap_side, u32 k) noexcept;
  // Receive slots for one read: inside TapOut frames behind `hdr` bytes of
  // headers (datagrams expected to go to the guest), else (hdr 0, or no
  // room) in the scratch area.  Returns the slot count.  finish_recv()
  // commits the frames that were filled (frame_lens_) after the read.
  // `any_size`: room for any datagram, not only what the MTU allows (the
  // read may also carry datagrams that go socket to socket).
  // `count`: how many datagrams to ask for (1..recv_batch).
  u32 prepare_recv(std::size_t hdr, bool any_size, u32 count) noexcept;
  // Datagrams for the next read of a socket whose last read's largest
  // datagram had `last_len` bytes (UdpOptions::recv_bytes).
  u32 recv_count(u32 last_len) const noexcept;
  // The largest of the first n received datagrams.
  u32 largest_received(u32 n) const noexcept;
  void finish_recv(u32 n) noexcept;
  std::size_t max_l3() const noexcept;
  std::size_t frame_cap(bool any_size) const noexcept;
  void size_buffers(ports::Sock s) noexcept;
  void send_all(ports::Sock s, std::span<ports::SendSlot> msgs, u64* ok, u64* bytes) noexcept;
  void process_group(const Group& g, Instant now) noexcept;

  const core::Config& cfg_;
  const core::NetInfo& net_;
  ports::HostNet& host_;
  TapOut& out_;
  GuestL2& guest_;
  core::FlowTable& flows_;
  core::DeadlineHeap& timers_;
  FlowReaper& reaper_;
  UdpOptions opt_;

  Listener* slots_ = nullptr;
  u32 nslots_ = 0;
  u32 nspec_ = 0;                   // configured listeners' slots in use
  u32 auto_base_[2] = {~0u, ~0u};   // first slot of an automatic direction
  u32 nopen_ = 0;

  // Received datagrams: recv_batch slots of kScratchSlot bytes each.
  u8* scratch_ = nullptr;
  ports::RecvSlot* rslots_ = nullptr;
  u32* slot_flow_ = nullptr;  // packed FlowSidx of each received datagram (listener reads)
  // Reads towards the guest land in TapOut frames: the frames, their final
  // lengths (0: not a frame), the header length the payloads were put behind.
  MutBytes* tap_bufs_ = nullptr;
  std::size_t* frame_lens_ = nullptr;
  std::size_t recv_hdr_ = 0;

  // Guest datagrams of the current tap batch.
  Pending* pend_ = nullptr;
  Group* groups_ = nullptr;
  u32 npend_ = 0;
  u32 ngroups_ = 0;
  u32 last_group_ = ~0u;

  // One send_batch: messages and their single iovec each.
  ports::SendSlot* msgs_ = nullptr;
  Bytes* iov_ = nullptr;
  u32 nmsgs_cap_ = 0;

  RateLimit full_warn_{Duration::seconds(10)};
  UdpStats stats_;
};

// The UDP state of a flow, or nullptr if `f` is not an active UDP flow.
inline const UdpFlow* udp_flow_of(const core::Flow& f) noexcept {
  if (f.state != core::FlowState::active || f.type != core::FlowType::udp) return nullptr;
  return &f.as<UdpFlow>();
}

}  // namespace passt::proto
