// VhostUser: the guest link as a vhost-user back end (passt --vhost-user).
//
// Theory of operation
//  * Session: qemu (`-chardev socket,path=P -netdev vhost-user,chardev=..`)
//    connects to the UNIX socket we listen on (the QemuStream probe and
//    stale-file rules), or hands us a connected one (`--fd`).  One front
//    end at a time; further connections are closed at once.  Messages
//    (wire/vhost_user.hpp) are read whole when the socket is readable: the
//    header with its descriptors, then the payload, each finished within
//    Options::msg_timeout.  A malformed message, a payload too large or a
//    timeout ends the session, as does EOF.
//  * Features: VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF,
//    VHOST_USER_F_PROTOCOL_FEATURES; protocol feature REPLY_ACK.  Offloads
//    as pasta's tap has them (docs/linux-adapters.md): CSUM and HOST_TSO4/6
//    (the guest may leave TCP/UDP checksums to us, which we never need, and
//    send TCP segments beyond its MTU), GUEST_CSUM (the engine leaves the
//    checksums of TCP, and of UDP over IPv6, to the port, and we leave them
//    to the guest: NEEDS_CSUM in the frame's virtio-net header; a guest
//    that did not take GUEST_CSUM gets them completed here), GUEST_TSO4/6
//    (with GUEST_CSUM: takes_gso(), and the engine sends TCP frames of
//    several MSS whatever the MTU).  EVENT_IDX: the guest says when it
//    wants an interrupt (used_event), we say when we want a kick
//    (avail_event).  Kicks on the receive queue are never asked for (we
//    do not need to hear of new buffers: TCP retries on its timer).  One
//    queue pair, no
//    migration (LOG_ALL, LOG_SHMFD, DEVICE_STATE are not offered, so qemu
//    refuses to migrate).
//  * Memory: SET_MEM_TABLE's regions are mmap()ed shared, read-write, and
//    replace the previous table (unmapped); ring addresses are kept as the
//    front end gave them and translated again after each new table.
//  * Queues: 0 carries frames to the guest (its receive queue), 1 frames
//    from it.  A queue runs once it has a size, rings, a kick descriptor
//    and is enabled (with PROTOCOL_FEATURES rings start disabled and
//    SET_VRING_ENABLE enables them); GET_VRING_BASE stops it.  A queue the
//    guest corrupts (wire::virtio::Pop::bad) is stopped for the session,
//    with an error logged.
//  * From the guest: a kick (eventfd) on queue 1 makes us take every
//    chain it made available, at most Options::max_frames per wake-up (the
//    rest kick us again through our own write to the eventfd; while we
//    drain, VRING_USED_F_NO_NOTIFY spares the guest its kicks), copy each
//    frame out of guest memory (the guest may change it under us), return
//    the chains as used, interrupt the guest unless it asked not to, and
//    hand the frames to the engine.
//  * To the guest: send() fills the receive buffers the guest posted, as
//    many as a frame needs (mergeable buffers: num_buffers in the first
//    buffer's virtio-net header), all frames of a call before one publish
//    and at most one interrupt.  A frame that does not fit the buffers
//    available is not sent, nor are the frames after it (the caller counts
//    them as dropped; TCP rewinds and tries again).
//  * Descriptors: kick and call eventfds, the memory fds only until mapped.
//    Everything is allocated in init(): no allocation after it.
#pragma once

#include <array>
#include <memory>

#include "linux/event_loop.hpp"
#include "ports/tap.hpp"
#include "util/result.hpp"
#include "util/time.hpp"
#include "wire/vhost_user.hpp"
#include "wire/virtio.hpp"

namespace passt::os {

class VhostUser final : public ports::TapPort, public FdHandler {
 public:
  static constexpr std::size_t kMaxFrame = 65535 + 14;  // an MTU of 65535 plus Ethernet
  static constexpr u64 kFeatures =
      wire::virtio::f_version_1 | wire::virtio::f_net_mrg_rxbuf | wire::virtio::f_net_csum |
      wire::virtio::f_net_guest_csum | wire::virtio::f_net_guest_tso4 | wire::virtio::f_net_guest_tso6 |
      wire::virtio::f_net_host_tso4 | wire::virtio::f_net_host_tso6 | wire::virtio::f_ring_event_idx |
      wire::vhost_user::f_protocol_features;
  // What a guest must accept for GSO frames to it (takes_gso()).
  static constexpr u64 kGsoFeatures =
      wire::virtio::f_net_guest_csum | wire::virtio::f_net_guest_tso4 | wire::virtio::f_net_guest_tso6;
  static constexpr u64 kProtocolFeatures = wire::vhost_user::pf::reply_ack;
  static constexpr u32 kQueues = 2;
  static constexpr u32 kRx = 0;  // to the guest
  static constexpr u32 kTx = 1;  // from the guest

  struct Options {
    std::size_t max_frames = 1024;  // frames from the guest per wake-up
    bool one_off = false;           // stop the loop when the front end leaves
    Duration msg_timeout = Duration::seconds(1);
  };
  struct Stats {
    u64 rx_frames = 0;       // from the guest
    u64 rx_oversize = 0;     // chains too short or too long for a frame, returned unread
    u64 rx_csum_left = 0;    // frames whose L4 checksum the guest left to us (CSUM)
    u64 rx_gso = 0;          // TCP segments beyond the MTU (HOST_TSO4/6)
    u64 rx_bad_gso = 0;      // frames with a GSO type we did not offer, dropped
    u64 tx_frames = 0;       // to the guest
    u64 tx_no_buffers = 0;   // frames refused: not enough receive buffers
    u64 tx_dropped = 0;      // sent while no guest queue ran
    u64 tx_csum_left = 0;    // frames whose checksum the guest completes (GUEST_CSUM)
    u64 tx_csum_done = 0;    // frames whose checksum we completed (no GUEST_CSUM)
    u64 tx_gso = 0;          // TCP frames of several MSS (GUEST_TSO4/6)
    u64 interrupts = 0;      // call eventfd writes
    u64 kicks = 0;           // kick events handled
    u64 messages = 0;
    u64 sessions = 0;
    u64 rejected = 0;        // extra front ends closed at once
    u64 accept_at_limit = 0; // accept() failed at the descriptor limit
    u64 listener_waits = 0;  // ... with no reserve: listener parked (sandbox_fdlimit.hpp)
    u64 broken = 0;          // queues stopped for a corrupt ring
  };

  explicit VhostUser(EventLoop& loop) noexcept : VhostUser(loop, Options{}) {}
  VhostUser(EventLoop& loop, Options opt) noexcept;
  ~VhostUser() override;
  VhostUser(const VhostUser&) = delete;
  VhostUser& operator=(const VhostUser&) = delete;

  Status init() noexcept;
  Status listen(const char* path) noexcept;
  Status attach(int fd) noexcept;  // a connected front end (`--fd`); no engine notification
  void detach() noexcept;          // ends the session without notifying the engine

  int listen_fd() const noexcept { return listener_; }
  int client_fd() const noexcept { return client_; }
  const Stats& stats() const noexcept { return stats_; }
  // Whether queue q runs (size, rings, kick, enabled, not broken).
  bool queue_running(u32 q) const noexcept;
  u64 features() const noexcept { return features_; }

  // ports::TapPort
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  std::size_t send_gso(std::span<const Bytes> frames, std::span<const u16> gso) noexcept override;
  bool takes_gso() const noexcept override { return (features_ & kGsoFeatures) == kGsoFeatures; }
  bool connected() const noexcept override { return client_ >= 0; }

  // FdHandler
  void on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept override;

 private:
  struct Queue {
    wire::virtio::Virtq vq;
    wire::vhost_user::VringAddr addr{};
    bool has_addr = false;
    bool enabled = false;
    bool started = false;  // has a kick descriptor
    bool broken = false;
    int kick = -1;
    int call = -1;
  };
  struct Mapping {
    void* base = nullptr;
    std::size_t len = 0;
  };
  struct Scratch;

  void on_listener(Instant now, ports::EventSink& sink) noexcept;
  void on_client(Instant now, ports::EventSink& sink) noexcept;
  void on_kick(u32 q, Instant now, ports::EventSink& sink) noexcept;
  void end_session(Instant now, ports::EventSink& sink) noexcept;
  void start_session(int fd) noexcept;
  void reset_device() noexcept;
  void unmap_all() noexcept;
  // Reads one whole message; false: the session must end.
  bool read_message(int* nfds) noexcept;
  // Acts on it; false: the session must end.
  bool handle_message(int nfds, Instant now, ports::EventSink& sink) noexcept;
  bool reply(u32 request, Bytes payload) noexcept;
  bool set_mem_table(Bytes payload, int nfds) noexcept;
  bool map_rings(u32 q) noexcept;
  void set_kick(u32 q, int fd) noexcept;
  void interrupt(Queue& q) noexcept;
  void mark_broken(u32 q, const char* why) noexcept;
  void drain_guest(Instant now, ports::EventSink& sink) noexcept;
  std::size_t send_frames(std::span<const Bytes> frames, const u16* gso) noexcept;

  EventLoop& loop_;
  Options opt_;
  int listener_ = -1;
  bool listener_parked_ = false;  // parked at the descriptor limit (sandbox_fdlimit.hpp)
  int client_ = -1;
  u64 features_ = 0;
  u64 protocol_features_ = 0;
  std::array<Queue, kQueues> q_{};
  wire::virtio::GuestMemory mem_;
  std::array<Mapping, wire::virtio::GuestMemory::kMaxRegions> maps_{};
  std::unique_ptr<Scratch> s_;
  Stats stats_;
};

}  // namespace passt::os
