// LinuxHostNet: ports::HostNet over real kernel sockets.
//
// Theory of operation
//  * Every socket and pipe is created non-blocking and close-on-exec; every
//    call passes MSG_DONTWAIT/MSG_NOSIGNAL as applicable, so nothing here
//    ever blocks.  splice() cannot be told MSG_NOSIGNAL, so init() ignores
//    SIGPIPE process-wide (upstream pasta does the same).  errno becomes passt::Err through
//    err_from_errno() only.
//  * Per-fd state lives in a table allocated once (calloc, so untouched
//    entries cost no memory) and sized from RLIMIT_NOFILE at init(), capped
//    at kFdTableMax (upstream refuses fds above 2^24 too).  An fd that does
//    not fit is closed at creation and Err::too_many_files returned.  Each
//    entry holds the socket's address family (for IP vs IPv6 option levels
//    and sockaddr conversion), whether the fd is in the epoll set, and the
//    kernel's SO_PEEK_OFF as we last left it.
//  * Sockets in the guest namespace (pasta) are created by a NetnsRunner
//    child that joins the namespace fd given at construction.
//  * Addresses: an IPv4 destination on an IPv6 socket is sent v4-mapped; an
//    IPv4 peer is always reported as a v4-mapped InAny, whichever socket
//    family it arrived on.  A v6 address on an IPv4 socket is Err::invalid.
//  * peek(offset): with SO_PEEK_OFF (probed at init) the kernel keeps a peek
//    offset that MSG_PEEK advances by the bytes peeked and every consuming
//    read (recv, discard) moves back by the bytes consumed, floored at 0.
//    We mirror that in the table and only call setsockopt() when the
//    requested offset differs from the kernel's.  Without SO_PEEK_OFF a
//    leading iovec of `offset` bytes, made of repeated references to one
//    scratch buffer (contents ignored), absorbs the skipped bytes.
//  * discard() on a socket peeked with SO_PEEK_OFF is deferred: up to
//    kMaxDeferredDiscard bytes that a peek has seen stay at the head of the receive
//    queue (the peek offset skips them) and go with the next discard() that
//    would pass the bound, a consuming recv(), or close() (unread data at
//    close() would make the kernel send RST instead of FIN).  A request/
//    response connection then drops its acknowledged bytes once every few
//    hundred round trips instead of once per round trip.
//  * take_error() also drains the IP_RECVERR error queue (bounded): EPOLLERR
//    stays asserted while it is not empty.
//  * Batches use fixed arrays (kMaxBatch messages, kMaxBatchIov iovecs in
//    total for send_batch, kMaxIov per stream call): a larger request is
//    cut at the bound and the shorter count returned, which callers must
//    handle anyway.  Nothing on these paths allocates.
#pragma once

#include <memory>

#include "linux/event_loop.hpp"
#include "linux/netns.hpp"
#include "ports/hostnet.hpp"

struct iovec;
struct mmsghdr;

namespace passt::os {

class LinuxHostNet final : public ports::HostNet {
 public:
  static constexpr std::size_t kFdTableMax = std::size_t{1} << 24;
  static constexpr std::size_t kMaxBatch = 1024;      // messages per recv/send_batch (UIO_MAXIOV)
  static constexpr std::size_t kMaxBatchIov = 4096;   // iovecs across one send_batch
  static constexpr std::size_t kMaxIov = 1024;        // iovecs per send/peek/recv (UIO_MAXIOV)
  static constexpr std::size_t kPeekScratch = std::size_t{256} * 1024;
  static constexpr std::size_t kMaxDeferredDiscard = std::size_t{16} * 1024;  // < 2^15

  enum class PeekMode : u8 {
    probe,      // SO_PEEK_OFF if the kernel supports it on TCP, else discard iovec
    peek_off,   // SO_PEEK_OFF (init() fails with not_supported if missing)
    discard_iov // always the leading-iovec fallback
  };

  struct Options {
    int guest_netns_fd = -1;  // pasta: the namespace we serve (not owned); -1: none
    std::size_t max_fds = 0;  // fd table size; 0: RLIMIT_NOFILE soft limit
    PeekMode peek_mode = PeekMode::probe;
  };

  LinuxHostNet(EventLoop& loop, Options opt) noexcept;
  ~LinuxHostNet() override;
  LinuxHostNet(const LinuxHostNet&) = delete;
  LinuxHostNet& operator=(const LinuxHostNet&) = delete;

  // Allocates the tables, probes SO_PEEK_OFF, prepares the netns runner, and
  // sets SIGPIPE to SIG_IGN for the process (splice() has no MSG_NOSIGNAL).
  Status init() noexcept;

  bool uses_peek_off() const noexcept { return peek_off_; }
  std::size_t fd_table_size() const noexcept { return nfds_; }
  // Peek offsets larger than this fail with Err::invalid in discard_iov mode.
  std::size_t max_peek_offset() const noexcept;

  // Adopts an fd created elsewhere (tests, the app's --fd) into the table so
  // peek/set_opt can track it.  Err::too_many_files if out of range.
  Status adopt(ports::Sock s, ports::Family fam) noexcept;

  // --- ports::HostNet --------------------------------------------------------
  Result<ports::Sock> socket(ports::Netns ns, ports::Family fam,
                             ports::SockType type) noexcept override;
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
  Result<std::size_t> send_batch(ports::Sock s,
                                 std::span<const ports::SendSlot> msgs) noexcept override;

  Result<ports::PipeEnds> pipe() noexcept override;
  Result<std::size_t> splice(ports::Sock from, ports::Sock to, std::size_t len,
                             bool more) noexcept override;

  Status watch(ports::Sock s, u32 events, u64 ref) noexcept override;
  void unwatch(ports::Sock s) noexcept override;

 private:
  // 12 bytes; all-zero is the state of an fd we know nothing about, so the
  // calloc()ed table needs no initialisation pass.
  struct FdState {
    i32 peek_off_plus1;  // kernel SO_PEEK_OFF + 1; 0: never set (kernel: -1)
    u8 family;           // 0 unknown, 1 v4, 2 v6, 3 not a socket (pipe)
    u8 watched;
    u16 owned_pending;   // bit 15: created here (not adopted); bits 0-14:
                         // bytes discard() accepted but has not dropped yet
    u32 known;           // bytes at the queue's head a peek has seen (pending
                         // included): a deferred discard never claims more
  };
  struct Scratch;  // fixed arrays for the batch and iovec paths

  FdState* state(ports::Sock s) noexcept;
  Result<ports::Sock> track(int fd, u8 family) noexcept;
  u8 family_of(ports::Sock s) noexcept;
  Result<ports::Sock> socket_in_guest(int domain, int type, int proto) noexcept;
  Result<std::size_t> peek_with_offset(ports::Sock s, FdState& st, std::size_t offset,
                                       std::span<const MutBytes> iov) noexcept;
  Result<std::size_t> peek_with_iov(ports::Sock s, std::size_t offset,
                                    std::span<const MutBytes> iov) noexcept;
  void consumed(ports::Sock s, std::size_t n) noexcept;
  // Drops the bytes a deferred discard() left in the receive queue.
  Status flush_discard(ports::Sock s, FdState& st) noexcept;

  EventLoop& loop_;
  Options opt_;
  NetnsRunner ns_;
  FdState* fds_ = nullptr;
  std::size_t nfds_ = 0;
  bool peek_off_ = false;
  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<u8[]> peek_scratch_;  // discard_iov mode only
};

}  // namespace passt::os
