// TapFd: the guest link over an already-open tap device (pasta).
//
// Theory of operation
//  * The fd is a /dev/net/tun queue opened with IFF_TAP | IFF_NO_PI (opening
//    it inside the namespace is not this adapter's job).  A tap fd carries one
//    Ethernet frame per read() and per write(), without FCS or any header.
//  * Inbound: on readability, read() one frame at a time into a buffer pool
//    allocated at init(), each read to a 64-byte boundary, until EAGAIN,
//    until fewer than kMaxFrame bytes are left in the pool, or until
//    Options::max_frames frames; then deliver all of them in one
//    EventSink::on_tap_frames() call.  Frames shorter than an
//    Ethernet header are counted and skipped.  Whatever is left stays queued
//    in the kernel and the (level-triggered) loop wakes us again.
//  * Outbound: one write() per frame.  EAGAIN, EINTR, ENOBUFS, ENOSPC and EIO
//    drop that frame (counted), like upstream: the tap is a lossy link and
//    TCP recovers.  Any other error, EOF or EPOLLHUP/ERR (the interface or
//    namespace went away) is fatal: the adapter disconnects and reports it
//    to its owner through EventLoop::fail(), which ends EventLoop::run().
//  * Virtio-net header (attach() with Vnet::hdr_len > 0, a tap opened with
//    IFF_VNET_HDR, see tun.hpp and wire/vnet_hdr.hpp): every read() returns
//    the header then the frame, every write is a writev() of a header and
//    the frame.  Inbound, the header is checked and dropped: NONE and TCP
//    GSO types pass (a TSO segment is one frame of up to 64 KiB; its
//    partial checksum is not ours to check), others (UDP fragmentation or
//    segmentation, never offered) are counted and skipped.  Outbound, with
//    Vnet::partial_csum, a TCP segment or IPv6 UDP datagram whose checksum
//    field is 0 (the engine left it: proto/tap_out.hpp) goes with
//    NEEDS_CSUM and the pseudo-header sum in that field, spliced in by the
//    writev() (the frame itself is not modified): the namespace's kernel
//    takes it as verified and completes it only if it forwards the packet.
//    Every other frame gets an all-zero header (a plain frame).  send_gso()
//    also marks TCP frames longer than their GSO size as GSO (TCPV4/TCPV6,
//    gso_size, hdr_len): the namespace takes a 64 KiB segment in one write
//    at any MTU (engine::Sizing::tap_gso).
//  * connected() is true from attach() until a fatal error.  The owner tells
//    the engine about the initial link state (on_tap_state(true)); the
//    adapter reports the loss (on_tap_state(false)) when it notices it in
//    the loop.
#pragma once

#include <memory>

#include "linux/event_loop.hpp"
#include "ports/tap.hpp"
#include "wire/ethernet.hpp"

namespace passt::os {

class TapFd final : public ports::TapPort, public FdHandler {
 public:
  // Largest frame one read() may return: 65535 bytes of IP plus the header.
  static constexpr std::size_t kMaxFrame = wire::kEthMaxFrame;
  // Reads start on this boundary of the pool (a cache line).
  static constexpr std::size_t kReadAlign = 64;

  struct Vnet {
    std::size_t hdr_len = 0;    // 0 (IFF_NO_PI only) or wire::kVnetHdrLen
    bool partial_csum = false;  // checksum field 0: the kernel completes it (above)
  };

  struct Options {
    std::size_t buf_bytes = std::size_t{8} << 20;  // receive pool, >= kMaxFrame
    std::size_t max_frames = 1024;                 // frames per on_tap_frames() call
  };
  struct Stats {
    u64 rx_frames = 0;
    u64 rx_short = 0;    // reads shorter than an Ethernet header (skipped)
    u64 tx_frames = 0;
    u64 tx_dropped = 0;  // EAGAIN/ENOBUFS/EINTR/EIO/ENOSPC, short writes, not connected
    u64 rx_gso = 0;      // TCP segments the namespace did not cut (vnet header)
    u64 rx_bad_vnet = 0; // vnet header with a GSO type we do not take (skipped)
    u64 tx_gso = 0;      // GSO frames written
  };

  explicit TapFd(EventLoop& loop) noexcept : TapFd(loop, Options{}) {}
  TapFd(EventLoop& loop, Options opt) noexcept;
  ~TapFd() override;
  TapFd(const TapFd&) = delete;
  TapFd& operator=(const TapFd&) = delete;

  // Allocates the receive pool.
  Status init() noexcept;
  // Takes ownership of a non-blocking tap fd and registers it with the loop.
  // `vnet`: how the fd was opened (see the file comment).
  Status attach(int fd, Vnet vnet) noexcept;
  Status attach(int fd) noexcept { return attach(fd, Vnet{}); }
  // Unregisters and closes the fd (no engine notification).
  void detach() noexcept;
  int fd() const noexcept { return fd_; }
  const Stats& stats() const noexcept { return stats_; }

  // ports::TapPort
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  // With a virtio-net header and Vnet::partial_csum: a TCP frame whose
  // checksum was left and whose payload exceeds gso[i] goes as one GSO
  // frame (TCPV4/TCPV6, gso_size gso[i]).  Otherwise like send().
  std::size_t send_gso(std::span<const Bytes> frames, std::span<const u16> gso) noexcept override;
  bool connected() const noexcept override { return fd_ >= 0 && !failed_; }

  // FdHandler
  void on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept override;

 private:
  void fatal(Err e) noexcept;
  std::size_t send_frames(std::span<const Bytes> frames, const u16* gso) noexcept;

  EventLoop& loop_;
  Options opt_;
  int fd_ = -1;
  Vnet vnet_;
  bool failed_ = false;
  bool reported_down_ = false;
  std::unique_ptr<u8[]> buf_;
  u8* pool_ = nullptr;  // buf_ rounded up to kReadAlign
  std::unique_ptr<Bytes[]> frames_;
  Stats stats_;
};

}  // namespace passt::os
