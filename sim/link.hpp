// SimLink: the guest's L2 link, between the engine (ports::TapPort) and a
// GuestStack, with per-direction faults drawn from the world's PRNG.
//
// Theory of operation
// -------------------
// Every frame handed to the link (by the engine's TapPort::send or by the
// guest's guest_send) is copied into a fixed pool of frame buffers, so the
// sender may reuse its buffer at once (the TapPort contract).  Per direction
// the link then decides, in this order and each from the PRNG:
//   loss       - the frame is dropped (counted, never delivered);
//   delay      - arrival = now + delay + uniform(0, jitter); arrivals are
//                kept in order (a frame never overtakes an earlier one)...
//   reorder    - ...unless this frame is chosen for reordering: it gets an
//                extra uniform(1ns, reorder_extra) delay and others may pass;
//   corruption - 1..corrupt_bits_max random bit flips in the copy;
//   duplication- a second copy (itself maybe corrupted) arrives after it.
// Frames towards the guest are handed to GuestStack::on_frame when they
// arrive.  Frames towards the engine wait in an inbound FIFO until the
// world's next poll, which delivers them with on_tap_frames (at most
// max_batch per call) and then frees their buffers.
//
// Back-pressure: at most queue_frames frames per direction may be in flight
// (plus the shared pool limit).  Beyond that TapPort::send returns how many
// frames it took (possibly 0), and guest_send returns false.
//
// Link state: set_connected(false) drops every frame in flight in both
// directions, tells the guest at once and the engine at its next poll
// (on_tap_state, never re-entrantly).  While down, TapPort::send drops frames
// and reports them sent, and guest_send refuses.
//
// Self-checks (LinkChecker): frames delivered unchanged unless declared
// corrupted; in-order delivery of frames not chosen for reordering;
// per-direction conservation: accepted = delivered + lost + flushed +
// in flight (originals and duplicates separately); engine frames never
// exceed mtu + 14 bytes nor fall short of an Ethernet header.
#pragma once

#include <memory>

#include "ports/tap.hpp"
#include "sim/guest.hpp"
#include "sim/world.hpp"

namespace passt::sim {

enum class Dir : u8 { to_guest = 0, to_engine = 1 };
inline constexpr std::size_t kDirs = 2;
const char* dir_name(Dir d) noexcept;

struct LinkFaults {
  Duration delay = Duration::micros(20);
  Duration jitter = Duration::zero();
  u32 loss_ppm = 0;
  u32 dup_ppm = 0;
  u32 reorder_ppm = 0;
  Duration reorder_extra = Duration::millis(1);
  u32 corrupt_ppm = 0;
  u32 corrupt_bits_max = 3;

  bool any_fault() const noexcept {
    return loss_ppm != 0 || dup_ppm != 0 || reorder_ppm != 0 || corrupt_ppm != 0;
  }
};

struct LinkConfig {
  u32 mtu = 65520;          // largest L3 packet: frames up to mtu + 14 bytes
  u32 pool_frames = 512;    // frame buffers shared by both directions
  u32 queue_frames = 256;   // frames in flight per direction before push-back
  u32 max_batch = 64;       // frames per on_tap_frames() call
  LinkFaults faults[kDirs];
};

struct LinkStats {
  u64 offered = 0;         // frames handed to the link
  u64 refused = 0;         // not taken: queue or pool full
  u64 down_drops = 0;      // dropped at send because the link was down
  u64 accepted = 0;        // taken for transmission (originals)
  u64 lost = 0;            // dropped by the loss fault
  u64 duplicated = 0;      // extra copies created
  u64 reordered = 0;       // copies given extra delay
  u64 corrupted = 0;       // copies with bit flips
  u64 delivered = 0;       // originals delivered
  u64 delivered_dups = 0;  // duplicates delivered
  u64 flushed = 0;         // originals dropped in flight by a link-down
  u64 flushed_dups = 0;
  u64 inflight = 0;        // originals in the pool (incl. waiting for a poll)
  u64 inflight_dups = 0;
  u64 bytes_delivered = 0;
  u64 bad_frames = 0;      // engine frames over mtu + 14 or under 14 bytes
};

class SimLink final : public ports::TapPort, public GuestPort, public Actor, public EngineFeed {
 public:
  SimLink(World& world, const LinkConfig& cfg);

  void attach_guest(GuestStack& guest) noexcept;
  const LinkConfig& config() const noexcept { return cfg_; }
  std::size_t max_frame() const noexcept { return slot_size_; }

  // --- TapPort (engine -> guest) ---------------------------------------------------
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  bool connected() const noexcept override { return up_; }

  // --- GuestPort (guest -> engine) --------------------------------------------------
  bool guest_send(Bytes frame) noexcept override;
  bool link_up() const noexcept override { return up_; }

  // --- control (scenarios) -----------------------------------------------------------
  void set_connected(bool up) noexcept;
  void set_faults(Dir d, const LinkFaults& f) noexcept { cfg_.faults[static_cast<u8>(d)] = f; }
  // Keeps delays, turns every fault off (the liveness phase).
  void clear_faults() noexcept;
  // Did any direction ever have reordering enabled (order checks rely on it)?
  bool ever_reordered() const noexcept { return ever_reorder_; }

  const LinkStats& stats(Dir d) const noexcept { return stats_[static_cast<u8>(d)]; }
  // First self-check violation (nullptr if none).
  const char* violation() const noexcept { return violation_[0] != '\0' ? violation_ : nullptr; }

  // --- Actor / EngineFeed --------------------------------------------------------------
  const char* name() const noexcept override { return "link"; }
  void on_event(const Event& e) noexcept override;
  Instant next_deadline() const noexcept override;
  void on_deadline(Instant now) noexcept override;
  bool has_work(Instant now) const noexcept override;
  void deliver(ports::EventSink& sink, Instant now) noexcept override;

 private:
  struct Slot {
    u8* data = nullptr;
    u32 len = 0;
    u32 epoch = 0;
    u64 link_seq = 0;   // per direction, of the original frame
    u64 fingerprint = 0;  // of the content before corruption
    Dir dir = Dir::to_guest;
    bool dup = false;
    bool corrupt = false;
    bool reordered = false;
  };
  enum Kind : u8 { kArrive = 1 };
  static constexpr std::size_t kMaxStateChanges = 8;

  bool take(Dir d, Bytes frame) noexcept;
  i32 alloc_slot() noexcept;
  void free_slot(u32 idx) noexcept;
  void launch(Dir d, u32 slot, Instant at) noexcept;
  void corrupt(Slot& s) noexcept;
  void arrived(u32 idx) noexcept;
  void count_flushed(const Slot& s) noexcept;
  void violate(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  World& w_;
  LinkConfig cfg_;
  Prng rng_;
  u8 actor_ = 0;
  GuestStack* guest_ = nullptr;
  std::size_t slot_size_;
  std::unique_ptr<u8[]> arena_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<u32[]> free_;     // stack of free slot indices
  std::size_t n_free_ = 0;
  std::unique_ptr<u32[]> inbound_;  // FIFO of arrived slots for the engine
  std::size_t in_head_ = 0;
  std::size_t in_len_ = 0;
  std::unique_ptr<Bytes[]> batch_;
  std::unique_ptr<u32[]> batch_slots_;
  bool up_ = true;
  u32 epoch_ = 0;
  bool state_changes_[kMaxStateChanges] = {};
  std::size_t n_state_changes_ = 0;
  Instant last_arrival_[kDirs] = {};
  u64 next_seq_[kDirs] = {};
  u64 last_inorder_seq_[kDirs] = {};
  bool any_inorder_[kDirs] = {};
  bool ever_reorder_ = false;
  LinkStats stats_[kDirs];
  char violation_[256] = {};
};

class LinkChecker final : public Checker {
 public:
  explicit LinkChecker(const SimLink& link) noexcept : link_(link) {}
  const char* name() const noexcept override { return "link"; }
  const char* check(World& w) noexcept override;

 private:
  const SimLink& link_;
  char buf_[200] = {};
};

}  // namespace passt::sim
