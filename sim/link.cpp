#include "sim/link.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>

#include "sim/pattern.hpp"
#include "util/check.hpp"

namespace passt::sim {

namespace {
constexpr std::size_t kEthHeader = 14;
constexpr u64 kTraceTx = 0x7478;
constexpr u64 kTraceRx = 0x7278;
}  // namespace

const char* dir_name(Dir d) noexcept { return d == Dir::to_guest ? "to-guest" : "to-engine"; }

SimLink::SimLink(World& world, const LinkConfig& cfg)
    : w_(world),
      cfg_(cfg),
      rng_(world.rng().fork(stream::link)),
      slot_size_(static_cast<std::size_t>(cfg.mtu) + kEthHeader) {
  PASST_CHECK(cfg_.pool_frames > 0 && cfg_.max_batch > 0 && cfg_.queue_frames > 0);
  const std::size_t n = cfg_.pool_frames;
  arena_.reset(new u8[n * slot_size_]);
  slots_ = std::make_unique<Slot[]>(n);
  free_.reset(new u32[n]);
  inbound_.reset(new u32[n]);
  batch_ = std::make_unique<Bytes[]>(cfg_.max_batch);
  batch_slots_.reset(new u32[cfg_.max_batch]);
  for (std::size_t i = 0; i < n; i++) {
    slots_[i].data = arena_.get() + i * slot_size_;
    free_[n_free_++] = static_cast<u32>(n - 1 - i);  // hand out slot 0 first
  }
  for (const auto& f : cfg_.faults)
    if (f.reorder_ppm != 0) ever_reorder_ = true;
  actor_ = w_.add_actor(*this);
  w_.add_feed(*this);
}

void SimLink::attach_guest(GuestStack& guest) noexcept {
  guest_ = &guest;
  guest.attach(*this);
}

void SimLink::violate(const char* fmt, ...) noexcept {
  if (violation_[0] != '\0') return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(violation_, sizeof(violation_), fmt, ap);
  va_end(ap);
}

void SimLink::clear_faults() noexcept {
  for (auto& f : cfg_.faults) {
    f.loss_ppm = 0;
    f.dup_ppm = 0;
    f.reorder_ppm = 0;
    f.corrupt_ppm = 0;
  }
}

i32 SimLink::alloc_slot() noexcept {
  if (n_free_ == 0) return -1;
  return static_cast<i32>(free_[--n_free_]);
}

void SimLink::free_slot(u32 idx) noexcept {
  PASST_CHECK(n_free_ < cfg_.pool_frames);
  free_[n_free_++] = idx;
}

std::size_t SimLink::send(std::span<const Bytes> frames) noexcept {
  std::size_t taken = 0;
  for (Bytes f : frames) {
    LinkStats& st = stats_[static_cast<u8>(Dir::to_guest)];
    if (f.size() < kEthHeader || f.size() > slot_size_) {
      // The engine broke the TapPort contract (or the MTU it advertised).
      st.offered++;
      st.bad_frames++;
      violate("engine sent a %zu-byte frame to the guest (allowed %zu..%zu)", f.size(), kEthHeader,
              slot_size_);
      taken++;
      continue;
    }
    if (!up_) {
      st.offered++;
      st.down_drops++;  // dropped, reported as sent
      taken++;
      continue;
    }
    if (!take(Dir::to_guest, f)) break;
    taken++;
  }
  return taken;
}

bool SimLink::guest_send(Bytes frame) noexcept {
  LinkStats& st = stats_[static_cast<u8>(Dir::to_engine)];
  if (!up_) {
    st.offered++;
    st.down_drops++;
    return false;
  }
  // Runts never reach the engine (the tap and qemu adapters drop them), nor
  // frames beyond the link's MTU.
  if (frame.size() < kEthHeader || frame.size() > slot_size_) {
    st.offered++;
    st.refused++;
    return false;
  }
  return take(Dir::to_engine, frame);
}

bool SimLink::take(Dir d, Bytes frame) noexcept {
  const u8 di = static_cast<u8>(d);
  LinkStats& st = stats_[di];
  const LinkFaults& f = cfg_.faults[di];
  st.offered++;
  if (st.inflight + st.inflight_dups >= cfg_.queue_frames) {
    st.refused++;
    return false;
  }
  const u64 fp = fingerprint(frame);
  w_.trace(kTraceTx + di, fp);
  if (rng_.chance(f.loss_ppm)) {
    st.accepted++;
    st.lost++;
    next_seq_[di]++;
    return true;
  }
  const i32 si = alloc_slot();
  if (si < 0) {
    st.refused++;
    return false;
  }
  st.accepted++;
  st.inflight++;
  const u32 idx = static_cast<u32>(si);
  Slot& s = slots_[idx];
  std::memcpy(s.data, frame.data(), frame.size());
  s.len = static_cast<u32>(frame.size());
  s.epoch = epoch_;
  s.link_seq = next_seq_[di]++;
  s.fingerprint = fp;
  s.dir = d;
  s.dup = false;
  s.corrupt = false;
  s.reordered = rng_.chance(f.reorder_ppm);
  if (rng_.chance(f.corrupt_ppm)) corrupt(s);

  Instant at = w_.now() + f.delay + rng_.duration(Duration::zero(), f.jitter);
  if (s.reordered) {
    st.reordered++;
    at = at + rng_.duration(Duration::nanos(1), f.reorder_extra);
  } else {
    if (at < last_arrival_[di]) at = last_arrival_[di];
    last_arrival_[di] = at;
  }
  launch(d, idx, at);

  if (rng_.chance(f.dup_ppm)) {
    const i32 di2 = alloc_slot();
    if (di2 >= 0) {  // no buffer for the copy: simply not duplicated
      const u32 idx2 = static_cast<u32>(di2);
      Slot& c = slots_[idx2];
      std::memcpy(c.data, frame.data(), frame.size());
      c.len = s.len;
      c.epoch = s.epoch;
      c.link_seq = s.link_seq;
      c.fingerprint = fp;
      c.dir = d;
      c.dup = true;
      c.corrupt = false;
      c.reordered = s.reordered;
      if (rng_.chance(f.corrupt_ppm)) corrupt(c);
      Instant at2 = at + rng_.duration(Duration::zero(), f.jitter);
      if (!c.reordered) {
        if (at2 < last_arrival_[di]) at2 = last_arrival_[di];
        last_arrival_[di] = at2;
      }
      st.duplicated++;
      st.inflight_dups++;
      launch(d, idx2, at2);
    }
  }
  return true;
}

void SimLink::corrupt(Slot& s) noexcept {
  if (s.len == 0) return;
  const u64 flips = rng_.range(1, cfg_.faults[static_cast<u8>(s.dir)].corrupt_bits_max > 0
                                      ? cfg_.faults[static_cast<u8>(s.dir)].corrupt_bits_max
                                      : 1);
  for (u64 i = 0; i < flips; i++) {
    const u64 bit = rng_.below(static_cast<u64>(s.len) * 8);
    s.data[bit / 8] = static_cast<u8>(s.data[bit / 8] ^ (1u << (bit % 8)));
  }
  s.corrupt = true;
  stats_[static_cast<u8>(s.dir)].corrupted++;
}

void SimLink::launch(Dir d, u32 slot, Instant at) noexcept {
  (void)d;
  w_.schedule(at, actor_, kArrive, slot, slots_[slot].epoch);
}

void SimLink::count_flushed(const Slot& s) noexcept {
  LinkStats& st = stats_[static_cast<u8>(s.dir)];
  if (s.dup) {
    st.inflight_dups--;
    st.flushed_dups++;
  } else {
    st.inflight--;
    st.flushed++;
  }
}

void SimLink::on_event(const Event& e) noexcept {
  if (e.kind == kArrive) arrived(e.a);
}

void SimLink::arrived(u32 idx) noexcept {
  Slot& s = slots_[idx];
  const u8 di = static_cast<u8>(s.dir);
  if (s.epoch != epoch_) {  // the link went down meanwhile
    count_flushed(s);
    free_slot(idx);
    return;
  }
  const Bytes content(s.data, s.len);
  if (!s.corrupt && fingerprint(content) != s.fingerprint)
    violate("%s frame #%llu changed in flight without a declared corruption", dir_name(s.dir),
            static_cast<unsigned long long>(s.link_seq));
  if (!s.reordered) {
    if (any_inorder_[di] && (s.link_seq < last_inorder_seq_[di] ||
                             (s.link_seq == last_inorder_seq_[di] && !s.dup)))
      violate("%s frame #%llu delivered after #%llu without reordering", dir_name(s.dir),
              static_cast<unsigned long long>(s.link_seq),
              static_cast<unsigned long long>(last_inorder_seq_[di]));
    any_inorder_[di] = true;
    last_inorder_seq_[di] = s.link_seq;
  }
  w_.trace(kTraceRx + di, s.fingerprint ^ (s.corrupt ? 1u : 0u));
  if (s.dir == Dir::to_engine) {
    // Held until the world's next poll hands it to the engine.
    inbound_[(in_head_ + in_len_) % cfg_.pool_frames] = idx;
    in_len_++;
    return;
  }
  LinkStats& st = stats_[di];
  if (s.dup) {
    st.inflight_dups--;
    st.delivered_dups++;
  } else {
    st.inflight--;
    st.delivered++;
  }
  st.bytes_delivered += s.len;
  // Free first: the guest may answer from inside on_frame and need a buffer;
  // the content stays valid because nothing else runs before it returns...
  // except that answer itself, so deliver from the slot and free after.
  if (guest_ != nullptr) guest_->on_frame(content, w_.now());
  free_slot(idx);
}

void SimLink::set_connected(bool up) noexcept {
  if (up == up_) return;
  up_ = up;
  if (!up) {
    epoch_++;  // frames in flight become stale when they arrive
    while (in_len_ > 0) {
      u32 idx = inbound_[in_head_];
      in_head_ = (in_head_ + 1) % cfg_.pool_frames;
      in_len_--;
      count_flushed(slots_[idx]);
      free_slot(idx);
    }
  }
  if (n_state_changes_ < kMaxStateChanges) {
    state_changes_[n_state_changes_++] = up;
  } else {
    state_changes_[kMaxStateChanges - 1] = up;  // coalesce a burst of flaps
  }
  if (guest_ != nullptr) guest_->on_link(up, w_.now());
}

Instant SimLink::next_deadline() const noexcept {
  return guest_ != nullptr ? guest_->next_deadline() : Instant::never();
}

void SimLink::on_deadline(Instant now) noexcept {
  if (guest_ != nullptr) guest_->on_deadline(now);
}

bool SimLink::has_work(Instant now) const noexcept {
  (void)now;
  return n_state_changes_ > 0 || in_len_ > 0;
}

void SimLink::deliver(ports::EventSink& sink, Instant now) noexcept {
  for (std::size_t i = 0; i < n_state_changes_; i++) sink.on_tap_state(state_changes_[i], now);
  n_state_changes_ = 0;
  if (in_len_ == 0) return;
  std::size_t n = 0;
  LinkStats& st = stats_[static_cast<u8>(Dir::to_engine)];
  while (in_len_ > 0 && n < cfg_.max_batch) {
    const u32 idx = inbound_[in_head_];
    in_head_ = (in_head_ + 1) % cfg_.pool_frames;
    in_len_--;
    const Slot& s = slots_[idx];
    batch_[n] = Bytes(s.data, s.len);
    batch_slots_[n] = idx;
    if (s.dup) {
      st.inflight_dups--;
      st.delivered_dups++;
    } else {
      st.inflight--;
      st.delivered++;
    }
    st.bytes_delivered += s.len;
    n++;
  }
  sink.on_tap_frames(std::span<const Bytes>(batch_.get(), n), now);
  for (std::size_t i = 0; i < n; i++) free_slot(batch_slots_[i]);
}

const char* LinkChecker::check(World& w) noexcept {
  (void)w;
  if (const char* v = link_.violation()) return v;
  for (u8 d = 0; d < kDirs; d++) {
    const LinkStats& s = link_.stats(static_cast<Dir>(d));
    if (s.accepted != s.delivered + s.lost + s.flushed + s.inflight) {
      std::snprintf(buf_, sizeof(buf_),
                    "%s: accepted %llu != delivered %llu + lost %llu + flushed %llu + in flight %llu",
                    dir_name(static_cast<Dir>(d)), static_cast<unsigned long long>(s.accepted),
                    static_cast<unsigned long long>(s.delivered),
                    static_cast<unsigned long long>(s.lost),
                    static_cast<unsigned long long>(s.flushed),
                    static_cast<unsigned long long>(s.inflight));
      return buf_;
    }
    if (s.duplicated != s.delivered_dups + s.flushed_dups + s.inflight_dups) {
      std::snprintf(buf_, sizeof(buf_), "%s: duplicate copies do not add up",
                    dir_name(static_cast<Dir>(d)));
      return buf_;
    }
  }
  return nullptr;
}

}  // namespace passt::sim
