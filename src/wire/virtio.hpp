// Split virtqueues (virtio 1.x, section 2.7) as a vhost-user back end sees
// them: rings in guest memory that the guest writes concurrently, read and
// written here without trusting anything in them.
//
// Theory of operation
//  * GuestMemory maps the guest's memory regions (from vhost-user's
//    SET_MEM_TABLE, mapped by the adapter) to host pointers, by guest
//    physical address (descriptor buffers) or by the front end's virtual
//    address (ring addresses in SET_VRING_ADDR).  A range is translated
//    only if it lies whole inside one region.
//  * Virtq::pop() takes the next chain the guest made available: one
//    acquire load of avail.idx, then each descriptor copied once out of
//    guest memory before it is checked, so a guest changing it meanwhile
//    gains nothing.  A chain is refused (Pop::bad: the ring is broken and
//    the caller stops using it) if the guest gives an index beyond the
//    ring, more chains than the ring holds, a loop (more descriptors than
//    the ring has), an indirect descriptor (not negotiated), a buffer
//    outside its memory, more than Chain::kMaxSegs buffers, or a device-
//    readable buffer after a writable one.
//  * Used elements are written with push() and made visible together by
//    publish() (release store of used.idx); want_interrupt() then reads the
//    guest's VRING_AVAIL_F_NO_INTERRUPT after a full fence.  Event indices
//    (VIRTIO_RING_F_EVENT_IDX) are not offered.
//  * unpop() returns chains taken but not used (a frame that did not fit
//    the receive buffers the guest posted): the next pop() sees them again.
//  * Little-endian fields throughout (virtio 1.x; legacy guests on
//    big-endian hosts are not supported).
#pragma once

#include <array>
#include <span>

#include "util/types.hpp"

namespace passt::wire::virtio {

// Feature bits (virtio 1.x, 5.1.3; vhost-user's own in wire/vhost_user.hpp).
inline constexpr u64 f_net_csum = u64{1} << 0;        // frames from the driver may leave the L4 checksum
inline constexpr u64 f_net_guest_csum = u64{1} << 1;  // frames to it may (and may be marked valid)
inline constexpr u64 f_net_guest_tso4 = u64{1} << 7;
inline constexpr u64 f_net_guest_tso6 = u64{1} << 8;
inline constexpr u64 f_net_host_tso4 = u64{1} << 11;  // the driver may send TCP segments beyond the MTU
inline constexpr u64 f_net_host_tso6 = u64{1} << 12;
inline constexpr u64 f_net_mrg_rxbuf = u64{1} << 15;
inline constexpr u64 f_ring_indirect_desc = u64{1} << 28;
inline constexpr u64 f_ring_event_idx = u64{1} << 29;
inline constexpr u64 f_version_1 = u64{1} << 32;

// struct virtio_net_hdr_mrg_rxbuf: 12 bytes with VERSION_1 or MRG_RXBUF,
// the legacy 10 otherwise; num_buffers (mergeable receive buffers) at 10.
inline constexpr std::size_t kNetHdrLen = 12;
inline constexpr std::size_t kNetHdrLegacyLen = 10;
inline constexpr std::size_t kNetHdrNumBuffers = 10;
inline constexpr std::size_t net_hdr_len(u64 features) noexcept {
  return (features & (f_version_1 | f_net_mrg_rxbuf)) != 0 ? kNetHdrLen : kNetHdrLegacyLen;
}

inline constexpr u16 desc_f_next = 1;
inline constexpr u16 desc_f_write = 2;
inline constexpr u16 desc_f_indirect = 4;
inline constexpr u16 avail_f_no_interrupt = 1;
inline constexpr u16 used_f_no_notify = 1;
inline constexpr u32 kMaxQueueSize = 32768;

// Ring sizes in bytes for `num` entries (no event index fields).
inline constexpr std::size_t desc_bytes(u32 num) noexcept { return std::size_t{16} * num; }
inline constexpr std::size_t avail_bytes(u32 num) noexcept { return 4 + std::size_t{2} * num + 2; }
inline constexpr std::size_t used_bytes(u32 num) noexcept { return 4 + std::size_t{8} * num + 2; }

struct MemRegion {
  u64 gpa = 0;         // guest physical address of the first byte
  u64 size = 0;
  u64 uva = 0;         // the same byte in the front end's (qemu's) address space
  u8* host = nullptr;  // and in ours
};

class GuestMemory {
 public:
  static constexpr std::size_t kMaxRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS

  // False if full, empty, wrapping around either address space, or
  // without a host pointer.
  bool add(const MemRegion& r) noexcept;
  void clear() noexcept { n_ = 0; }
  std::span<const MemRegion> regions() const noexcept { return {r_.data(), n_}; }

  // Host address of [addr, addr + len), or nullptr unless that range lies
  // inside one region (len 0: the address itself must be inside one).
  u8* gpa(u64 addr, u64 len) const noexcept;
  u8* uva(u64 addr, u64 len) const noexcept;

 private:
  std::array<MemRegion, kMaxRegions> r_{};
  std::size_t n_ = 0;
};

struct Seg {
  u8* p = nullptr;
  u32 len = 0;
};

struct Chain {
  static constexpr std::size_t kMaxSegs = 64;
  u16 head = 0;
  u32 nsegs = 0;
  u32 readable = 0;  // the first `readable` segments are device-readable, the rest writable
  u64 read_bytes = 0;
  u64 write_bytes = 0;
  std::array<Seg, kMaxSegs> seg{};
};

enum class Pop : u8 { empty, ok, bad };

class Virtq {
 public:
  // A power of two, 1..kMaxQueueSize.  Resets the ring addresses.
  bool set_num(u32 num) noexcept;
  u32 num() const noexcept { return num_; }
  // Host pointers of the three rings, each valid for its size above
  // (desc_bytes, avail_bytes, used_bytes of num()) and aligned as the spec
  // wants (16, 2, 4).  Reads used.idx to start from.  False: misaligned,
  // null, or no size set.
  bool set_rings(u8* desc, u8* avail, u8* used) noexcept;
  // The next avail index to take (SET_VRING_BASE / GET_VRING_BASE).
  void set_base(u16 idx) noexcept { last_avail_ = idx; }
  u16 base() const noexcept { return last_avail_; }
  bool ready() const noexcept { return desc_ != nullptr; }
  void reset() noexcept;

  Pop pop(const GuestMemory& mem, Chain& out) noexcept;
  void unpop(u16 n) noexcept { last_avail_ = static_cast<u16>(last_avail_ - n); }
  // Chains made available and not taken yet (0 if the ring is not ready or
  // the guest's index is beyond what the ring holds).
  u16 pending() const noexcept;

  // push, publish: nothing while the ring is not ready.
  void push(u16 head, u32 len) noexcept;
  void publish() noexcept;
  u16 unpublished() const noexcept { return static_cast<u16>(used_idx_ - published_); }
  // After publish(): should the guest be interrupted?  Without the event
  // index, unless it set VRING_AVAIL_F_NO_INTERRUPT; with it, if the used
  // index moved past the guest's used_event since the last decision (the
  // first decision after the rings are set: yes).
  bool want_interrupt() noexcept;
  // Ask the guest not to kick while we are busy (on), or to kick for the
  // next chain it makes available (off; a full fence follows, the caller
  // looks at pending() again).  Without the event index: the used ring's
  // VRING_USED_F_NO_NOTIFY flag; with it: avail_event.
  void set_no_notify(bool on) noexcept;
  // VIRTIO_RING_F_EVENT_IDX negotiated (kept across set_num/set_rings).
  void set_event_idx(bool on) noexcept {
    event_idx_ = on;
    signalled_valid_ = false;
  }

 private:
  u16 avail_idx() const noexcept;

  u8* desc_ = nullptr;
  u8* avail_ = nullptr;
  u8* used_ = nullptr;
  u32 num_ = 0;
  u16 last_avail_ = 0;
  u16 used_idx_ = 0;
  u16 published_ = 0;
  bool event_idx_ = false;
  bool signalled_valid_ = false;  // signalled_ holds the used index of the last decision
  u16 signalled_ = 0;
};

}  // namespace passt::wire::virtio
