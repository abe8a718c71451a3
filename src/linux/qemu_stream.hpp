// QemuStream: the guest link over qemu's UNIX stream socket (passt).
//
// Theory of operation
//  * Framing: every Ethernet frame travels as a 4-byte big-endian length
//    followed by the frame (no FCS, no virtio header), as qemu's
//    `-netdev stream` (and the older `-netdev socket` via qrap) expect.
//  * Connection: either listen() on a path (a connect() probe first: a live
//    server means the path is taken; ENOENT, ECONNREFUSED or EACCES mean it
//    is free, so the stale file is unlinked and bound), then accept one
//    client at a time; or attach() an already connected fd (`--fd`).  While
//    a client is connected further clients are accepted and closed at once.
//  * Receive: one recv() into a large buffer (allocated at init()), then the
//    length prefixes are parsed.  Complete frames go to the engine in
//    on_tap_frames() calls of at most Options::max_frames frames; a partial
//    trailing frame (or partial length prefix) is moved to the front of the
//    buffer and completed by the next recv().  A length below an Ethernet
//    header (14) or above kMaxFrame (65535) is a protocol violation: the
//    frames before it are delivered, then the connection is reset.
//  * Buffers: the client socket asks for SO_SNDBUF and SO_RCVBUF of 1 GiB
//    (the kernel caps them at net.core.wmem_max / rmem_max), as upstream
//    does.  The default (~208 KiB) holds three 64 KiB frames: a burst
//    towards the guest filled it at almost every wake-up, and the cut frame
//    was finished in the blocking loop below while the guest's ACKs waited
//    (docs/performance.md, section 12).
//  * Send: one sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT) per batch of up to
//    kMaxSendFrames frames, gathering [length][frame] pairs from fixed
//    arrays.  On a short write the frame cut in the middle is finished with
//    a poll()+send() loop bounded by Options::finish_timeout, so the stream
//    framing never breaks; send() then reports the whole frames that went
//    out (including the finished one) and leaves the rest to the caller.  If
//    the frame cannot be finished in time, or the socket fails, the
//    connection is shut down and the loop notices the hang-up.
//  * Disconnect (EOF, EPOLLHUP/ERR/RDHUP, a reset): the engine is told with
//    on_tap_state(false) and we go back to accepting, or, with
//    Options::one_off, stop the event loop.  A new client is reported with
//    on_tap_state(true).  attach() does not notify (it runs outside the
//    loop): its caller tells the engine.
#pragma once

#include <memory>

#include "linux/event_loop.hpp"
#include "ports/tap.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace passt::os {

// A listening, non-blocking UNIX stream socket at `path`, after the probe
// described above (Err::addr_in_use if a server answers there; a stale file
// is replaced).  Shared with VhostUser.
Result<int> listen_unix_stream(const char* path, int backlog) noexcept;

class QemuStream final : public ports::TapPort, public FdHandler {
 public:
  static constexpr std::size_t kLenPrefix = 4;
  static constexpr std::size_t kMinFrame = 14;     // an Ethernet header
  static constexpr std::size_t kMaxFrame = 65535;  // upstream's limit (ETH_MAX_MTU)
  static constexpr std::size_t kMaxSendFrames = 512;  // 1024 iovecs (UIO_MAXIOV)

  struct Options {
    std::size_t buf_bytes = std::size_t{8} << 20;  // >= kLenPrefix + kMaxFrame
    std::size_t max_frames = 16384;                // frames per on_tap_frames() call
    bool one_off = false;                          // stop the loop when the client leaves
    Duration finish_timeout = Duration::seconds(1);
  };
  struct Stats {
    u64 rx_frames = 0;
    u64 tx_frames = 0;
    u64 tx_dropped = 0;         // sent while no client was connected
    u64 partial_finished = 0;   // short writes completed by the finishing loop
    u64 resets = 0;             // connections we reset (bad length, broken send)
    u64 clients = 0;            // clients accepted
    u64 rejected = 0;           // extra clients closed at once
    u64 accept_at_limit = 0;    // accept() failed at the descriptor limit
    u64 listener_waits = 0;     // ... with no reserve: listener parked (sandbox_fdlimit.hpp)
  };

  explicit QemuStream(EventLoop& loop) noexcept : QemuStream(loop, Options{}) {}
  QemuStream(EventLoop& loop, Options opt) noexcept;
  ~QemuStream() override;
  QemuStream(const QemuStream&) = delete;
  QemuStream& operator=(const QemuStream&) = delete;

  Status init() noexcept;
  // Creates the listening socket at `path` (see the probe above).
  // Err::addr_in_use if a server answers there.
  Status listen(const char* path) noexcept;
  // Adopts a connected stream socket (made non-blocking here).
  Status attach(int fd) noexcept;
  // Closes the client, if any, without notifying the engine.
  void detach() noexcept;

  int client_fd() const noexcept { return client_; }
  int listen_fd() const noexcept { return listener_; }
  const Stats& stats() const noexcept { return stats_; }

  // ports::TapPort
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  bool connected() const noexcept override { return client_ >= 0 && !broken_; }

  // FdHandler
  void on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept override;

 private:
  struct SendScratch;

  void on_listener(Instant now, ports::EventSink& sink) noexcept;
  // Returns false if the connection was closed.
  bool receive(Instant now, ports::EventSink& sink, bool* drained) noexcept;
  void disconnect(Instant now, ports::EventSink& sink) noexcept;
  void break_connection() noexcept;
  bool finish_frame(std::size_t k, std::size_t done) noexcept;
  std::size_t send_chunk(std::span<const Bytes> frames, bool* stop) noexcept;

  EventLoop& loop_;
  Options opt_;
  int listener_ = -1;
  bool listener_parked_ = false;  // parked at the descriptor limit (sandbox_fdlimit.hpp)
  int client_ = -1;
  bool broken_ = false;   // send failed: shut down, waiting for the loop to see it
  std::size_t fill_ = 0;  // bytes of an incomplete frame at the front of buf_
  std::unique_ptr<u8[]> buf_;
  std::unique_ptr<Bytes[]> frames_;
  std::unique_ptr<SendScratch> tx_;
  Stats stats_;
};

}  // namespace passt::os
