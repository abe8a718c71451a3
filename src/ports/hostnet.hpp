// HostNet port: the host kernel's L4 sockets, exactly the operations passt
// uses.  Production: real syscalls (src/linux).  Simulator: a model of
// kernel sockets with send/receive buffers and remote peers (sim/).
//
// Conventions
//  * Every call is non-blocking and noexcept.  "Would block" is Err::again.
//  * Addresses are InAny: an IPv4 peer (also one reaching a dual-stack IPv6
//    socket) is reported v4-mapped.
//  * Readiness is level-triggered unless kEdge is in the interest set; the
//    adapter reports it through Engine::on_socket_event(ref, events, now)
//    with the `ref` given to watch().  Ports never call the engine
//    re-entrantly: events are delivered from the adapter's loop only.
//  * Sockets live in one of two network namespaces: the host's (Netns::host,
//    both modes) or, in pasta, the one we serve (Netns::guest), used for the
//    loopback fast paths and -T/-U listeners.
#pragma once

#include <span>
#include <string_view>

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::ports {

// A socket or pipe end.  In the Linux adapter this is the file descriptor.
struct Sock {
  i32 v = -1;
  constexpr bool valid() const noexcept { return v >= 0; }
  constexpr bool operator==(const Sock&) const noexcept = default;
};

enum class Netns : u8 { host, guest };
enum class Family : u8 { v4, v6 };
enum class SockType : u8 { tcp, udp, ping };

struct SockAddr {
  InAny addr;
  u16 port = 0;
  u32 scope_id = 0;  // interface index for link-local IPv6

  Family family() const noexcept { return addr.is_v4() ? Family::v4 : Family::v6; }
  bool operator==(const SockAddr&) const noexcept = default;
};

// Readiness bits (our own values; the Linux adapter maps to EPOLL*).
namespace ev {
inline constexpr u32 in = 1u << 0;     // readable / connection to accept
inline constexpr u32 out = 1u << 1;    // writable / connect finished
inline constexpr u32 rdhup = 1u << 2;  // peer closed its sending side (FIN)
inline constexpr u32 hup = 1u << 3;    // both directions closed
inline constexpr u32 err = 1u << 4;    // pending error (take_error)
inline constexpr u32 edge = 1u << 7;   // interest flag: edge-triggered
}  // namespace ev

enum class SockOpt : u8 {
  sndbuf,        // SO_SNDBUF (value as set; get returns the kernel's value)
  rcvbuf,        // SO_RCVBUF
  reuseaddr,     // SO_REUSEADDR
  v6only,        // IPV6_V6ONLY
  freebind,      // IP_FREEBIND / IPV6_FREEBIND
  recverr,       // IP_RECVERR / IPV6_RECVERR
  tcp_maxseg,    // TCP_MAXSEG
  tcp_nodelay,   // TCP_NODELAY
  tcp_quickack,  // TCP_QUICKACK
  rcvlowat,      // SO_RCVLOWAT
  linger_zero,   // SO_LINGER {1, 0}: close() sends RST (value ignored)
  pipe_size,     // F_SETPIPE_SZ / F_GETPIPE_SZ on a pipe end
};

// The TCP_INFO fields passt's window/ACK mirroring uses.  A kernel (or a
// simulated one) may lack some: the has_* flags say which are valid.
struct TcpInfo {
  u8 state = 0;        // TCP_ESTABLISHED etc. (Linux numbering)
  u8 snd_wscale = 0;   // peer's window scale as negotiated
  u8 rcv_wscale = 0;
  u32 snd_mss = 0;
  u32 rtt_us = 0;
  u32 min_rtt_us = 0;  // valid if has_min_rtt
  u32 snd_cwnd = 0;
  u32 snd_wnd = 0;     // valid if has_snd_wnd (Linux >= 5.4)
  u64 bytes_acked = 0; // valid if has_bytes_acked (Linux >= 4.1)
  u32 unacked = 0;
  u32 total_retrans = 0;
  bool has_snd_wnd = false;
  bool has_bytes_acked = false;
  bool has_min_rtt = false;
};

// One datagram slot for recv_batch: the caller provides `buf`; the port fills
// `len` (bytes stored; a longer datagram is truncated) and `peer`.
struct RecvSlot {
  MutBytes buf;
  std::size_t len = 0;
  SockAddr peer;
};

// One datagram for send_batch: payload gathered from `iov`; `to` is the
// destination, or nullptr on a connected socket.
struct SendSlot {
  std::span<const Bytes> iov;
  const SockAddr* to = nullptr;
};

struct PipeEnds {
  Sock rd;
  Sock wr;
};

class HostNet {
 public:
  virtual ~HostNet() = default;

  // --- creation and set-up -------------------------------------------------
  virtual Result<Sock> socket(Netns ns, Family fam, SockType type) noexcept = 0;
  virtual Status set_opt(Sock s, SockOpt opt, int value) noexcept = 0;
  virtual Result<int> get_opt(Sock s, SockOpt opt) noexcept = 0;
  virtual Status bind_to_device(Sock s, std::string_view ifname) noexcept = 0;
  virtual Status bind(Sock s, const SockAddr& addr) noexcept = 0;
  virtual Status listen(Sock s, int backlog) noexcept = 0;
  // Returns the new connection (non-blocking) and its peer address.
  // Err::conn_aborted: a pending connection was consumed and is gone (the
  // next one may be fine); Err::too_many_files and other resource errors:
  // it stays pending (proto::TcpFwd pauses the listener).
  virtual Result<Sock> accept(Sock listener, SockAddr* peer) noexcept = 0;
  // Non-blocking: Err::in_progress means the result arrives later as ev::out
  // (then take_error()).  On UDP and ping sockets: sets the default peer.
  virtual Status connect(Sock s, const SockAddr& to) noexcept = 0;
  virtual Result<SockAddr> local_addr(Sock s) noexcept = 0;
  // SO_ERROR: the pending error, cleared by reading (Err::none if none).
  virtual Err take_error(Sock s) noexcept = 0;
  virtual void close(Sock s) noexcept = 0;

  // --- stream data (TCP) ---------------------------------------------------
  // Gathers from iov; `more` = MSG_MORE.  Returns bytes accepted (may be
  // fewer than offered).
  virtual Result<std::size_t> send(Sock s, std::span<const Bytes> iov, bool more) noexcept = 0;
  // Copies received-but-not-discarded bytes starting `offset` bytes into the
  // receive queue, without consuming them (MSG_PEEK at an offset).
  // 0 means nothing beyond `offset` (check ev::rdhup for end of stream).
  virtual Result<std::size_t> peek(Sock s, std::size_t offset,
                                   std::span<const MutBytes> iov) noexcept = 0;
  // Drops `n` bytes from the head of the receive queue (the guest ACKed them).
  virtual Result<std::size_t> discard(Sock s, std::size_t n) noexcept = 0;
  // Consuming read (splice-less paths and tests).
  virtual Result<std::size_t> recv(Sock s, std::span<const MutBytes> iov) noexcept = 0;
  virtual Result<TcpInfo> tcp_info(Sock s) noexcept = 0;
  // Bytes in the send queue not yet acknowledged by the peer (SIOCOUTQ).
  virtual Result<std::size_t> send_queue(Sock s) noexcept = 0;
  virtual Status shutdown_write(Sock s) noexcept = 0;

  // --- datagrams (UDP, ping) -------------------------------------------------
  virtual Result<std::size_t> recv_batch(Sock s, std::span<RecvSlot> slots) noexcept = 0;
  virtual Result<std::size_t> send_batch(Sock s, std::span<const SendSlot> msgs) noexcept = 0;

  // --- pipes and splice (pasta loopback path) --------------------------------
  virtual Result<PipeEnds> pipe() noexcept = 0;
  virtual Result<std::size_t> splice(Sock from, Sock to, std::size_t len, bool more) noexcept = 0;

  // --- readiness -------------------------------------------------------------
  // Adds or modifies interest; `ref` comes back with each event.  Bit 63 of
  // `ref` is reserved (the Linux event loop tags its own fds with it): refs
  // must be below 2^63, else Err::invalid.
  virtual Status watch(Sock s, u32 events, u64 ref) noexcept = 0;
  virtual void unwatch(Sock s) noexcept = 0;
};

}  // namespace passt::ports
