// Frames towards the guest.
//
// TapOut queues complete Ethernet frames in a fixed arena and sends them in
// batches through the TapPort: one write (or one sendmsg for qemu's socket)
// per batch, not per frame.  Handlers queue during an event batch; the
// engine flushes at the end of the batch (EventSink::flush) or when the
// arena or the frame list fills.
//
// The TCP data path reserves several frames at once (reserve_many) so that
// one peek at the socket fills all of their payloads, and tags its frames:
// when the port takes only part of a batch, the tags of the frames it did
// not take go to a TapDropObserver, which rewinds the connections they
// belong to (so the next send starts at the first byte the guest never saw
// instead of waiting for the guest to notice a gap).
//
// GuestL2 holds what we learn of the guest's link: its MAC (broadcast until
// the first frame arrives, as in passt) and the addresses it uses.
//
// The build_* helpers write a complete frame (Ethernet, IP and L4 headers
// with checksums around a payload) for the service responders; the TCP
// and UDP data paths build their own frames in place.
//
// L4 checksum offload (pasta's tap with a virtio-net header, see
// wire/vnet_hdr.hpp): when l4_csum_offload() is on, the port completes the
// checksum of every TCP segment and IPv6 UDP datagram whose checksum field
// is 0 (wire::l4_csum_left).  The TCP and UDP data paths then leave the
// field 0 instead of summing the payload; the service responders keep
// computing theirs (DHCP clients read through packet sockets and some
// check the UDP checksum themselves), which the port passes on untouched.
// With gso() on as well, the TCP data path queues frames of several MSS
// with commit_many_gso(); flush() hands such a batch to the port's
// send_gso() with each frame's GSO size (0: a plain frame).
#pragma once

#include <span>

#include "ports/tap.hpp"
#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::proto {

struct GuestL2 {
  MacAddr mac = MacAddr::broadcast();
  Ipv4Addr addr4_seen;
  Ipv6Addr addr6_seen;
  Ipv6Addr addr6_ll_seen;
};

// Told about tagged frames the port did not take (see TapOut::flush).
class TapDropObserver {
 public:
  virtual ~TapDropObserver() = default;
  virtual void on_tap_dropped(u64 tag) noexcept = 0;
};

class TapOut {
 public:
  // `max_frames` frames and `arena_bytes` bytes per batch, allocated here.
  TapOut(ports::TapPort& tap, u32 max_frames, std::size_t arena_bytes);
  ~TapOut();
  TapOut(const TapOut&) = delete;
  TapOut& operator=(const TapOut&) = delete;

  // A buffer for one frame of up to `len` bytes at the end of the queue
  // (flushing first if it does not fit).  Empty if `len` exceeds the arena.
  // Call commit() with the final length, or nothing to abandon it.
  MutBytes reserve(std::size_t len) noexcept;
  // `tag` (non-zero) is reported to the drop observer if the frame is not sent.
  void commit(std::size_t len, u64 tag = 0) noexcept;
  void abandon() noexcept { open_ = false; }

  // Up to bufs.size() buffers of `len` bytes each, open together (flushing
  // first if fewer than that fit behind what is queued).  Returns how many
  // were reserved: 0 only if `len` exceeds the arena.  Then commit_many()
  // (or abandon()).
  std::size_t reserve_many(std::size_t len, std::span<MutBytes> bufs) noexcept;
  // Commits the first lens.size() reserved buffers, in order, with those
  // lengths and tags (tags may be empty: untagged); the others are
  // abandoned.  A length of 0 skips its buffer (no frame).
  void commit_many(std::span<const std::size_t> lens, std::span<const u64> tags) noexcept;

  void set_drop_observer(TapDropObserver* o) noexcept { observer_ = o; }

  // See the file comment.  Set once, before the first frame; TapOut itself
  // does nothing with it, producers ask.
  void set_l4_csum_offload(bool on) noexcept { l4_csum_offload_ = on; }
  bool l4_csum_offload() const noexcept { return l4_csum_offload_; }
  // GSO output (engine::Sizing::tap_gso): the port takes TCP frames of
  // several MSS (ports::TapPort::send_gso).  Set once, before the first
  // frame; the TCP data path asks before each send, and the port has the
  // last word (ports::TapPort::takes_gso).
  void set_gso(bool on) noexcept { gso_on_ = on; }
  bool gso() const noexcept { return gso_on_ && tap_.takes_gso(); }
  // Commits like commit_many() and marks those frames with GSO size
  // `gso_size` (the port cuts any whose payload is longer); flush() then
  // hands the batch to send_gso().
  void commit_many_gso(std::span<const std::size_t> lens, std::span<const u64> tags,
                       u16 gso_size) noexcept;

  // Queues a copy of a complete frame.
  bool push(Bytes frame) noexcept;

  // Sends everything queued.  Returns frames accepted by the port; the rest
  // are dropped (and counted), and the tags of dropped tagged frames go to
  // the drop observer, in queue order.
  std::size_t flush() noexcept;

  std::size_t queued() const noexcept { return nframes_; }
  // The frames flush() would send, in order (valid until then).
  std::span<const Bytes> queued_frames() const noexcept { return {frames_, nframes_}; }
  u64 sent_frames() const noexcept { return sent_; }
  u64 dropped_frames() const noexcept { return dropped_; }
  bool connected() const noexcept { return tap_.connected(); }

 private:
  ports::TapPort& tap_;
  u32 max_frames_;
  std::size_t arena_bytes_;
  u8* arena_ = nullptr;
  Bytes* frames_ = nullptr;
  u64* tags_ = nullptr;
  u16* gso_ = nullptr;         // per queued frame, when gso_queued_
  TapDropObserver* observer_ = nullptr;
  u32 nframes_ = 0;
  u32 nopen_ = 0;             // buffers open after reserve_many()
  std::size_t stride_ = 0;    // their spacing
  std::size_t used_ = 0;
  std::size_t reserved_ = 0;  // length reserved by the last reserve()
  bool open_ = false;
  bool l4_csum_offload_ = false;
  bool gso_on_ = false;
  bool gso_queued_ = false;    // a queued frame has a GSO size
  u64 sent_ = 0;
  u64 dropped_ = 0;
};

// --- Frame builders for the service responders -----------------------------
// Each writes a complete frame into `out` and returns its length, or an
// error if `out` is too small.

Result<std::size_t> build_udp4(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                               Ipv4Addr src, Ipv4Addr dst, u16 sport, u16 dport,
                               Bytes payload) noexcept;
Result<std::size_t> build_udp6(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                               const Ipv6Addr& src, const Ipv6Addr& dst, u16 sport, u16 dport,
                               Bytes payload, u32 flow_label = 0) noexcept;
// `icmp` is a complete ICMPv6 message whose checksum is already correct for
// (src, dst).
Result<std::size_t> build_icmp6(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                                const Ipv6Addr& src, const Ipv6Addr& dst, u8 hop_limit,
                                Bytes icmp) noexcept;
Result<std::size_t> build_eth(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                              u16 ethertype, Bytes payload) noexcept;

// Ethernet destination for an IPv6 multicast address (33:33 + low 32 bits).
MacAddr ipv6_multicast_mac(const Ipv6Addr& a) noexcept;

}  // namespace passt::proto
