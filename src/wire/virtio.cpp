#include "wire/virtio.hpp"

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>

#include "util/endian.hpp"

namespace passt::wire::virtio {

namespace {

// Ring indices and flags are 16-bit little-endian words that the guest
// writes while we read them: single atomic accesses, so that the compiler
// neither tears nor repeats them.  (The conversion assumes a little-endian
// host, as the whole back end does.)
static_assert(std::endian::native == std::endian::little, "virtio rings: little-endian hosts only");

u16 load16(const u8* p, int order) noexcept {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): guest memory, aligned by set_rings
  return __atomic_load_n(reinterpret_cast<const u16*>(p), order);
}
void store16(u8* p, u16 v, int order) noexcept {  // NOLINT(readability-non-const-parameter): written through the cast
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): as load16
  __atomic_store_n(reinterpret_cast<u16*>(p), v, order);
}

u8* translate(const MemRegion* r, std::size_t n, bool by_gpa, u64 addr, u64 len) noexcept {
  for (std::size_t i = 0; i < n; i++) {
    const u64 base = by_gpa ? r[i].gpa : r[i].uva;
    if (addr < base) continue;
    const u64 off = addr - base;
    if (off >= r[i].size || len > r[i].size - off) continue;
    return r[i].host + off;
  }
  return nullptr;
}

bool aligned(const u8* p, std::size_t a) noexcept {
  return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

}  // namespace

bool GuestMemory::add(const MemRegion& r) noexcept {
  if (n_ >= kMaxRegions || r.size == 0 || r.host == nullptr) return false;
  if (r.gpa + r.size < r.gpa || r.uva + r.size < r.uva) return false;
  r_[n_++] = r;
  return true;
}

u8* GuestMemory::gpa(u64 addr, u64 len) const noexcept { return translate(r_.data(), n_, true, addr, len); }
u8* GuestMemory::uva(u64 addr, u64 len) const noexcept { return translate(r_.data(), n_, false, addr, len); }

bool Virtq::set_num(u32 num) noexcept {
  reset();
  if (num == 0 || num > kMaxQueueSize || (num & (num - 1)) != 0) return false;
  num_ = num;
  return true;
}

bool Virtq::set_rings(u8* desc, u8* avail, u8* used) noexcept {
  desc_ = avail_ = used_ = nullptr;
  if (num_ == 0 || desc == nullptr || avail == nullptr || used == nullptr) return false;
  if (!aligned(desc, 16) || !aligned(avail, 2) || !aligned(used, 4)) return false;
  desc_ = desc;
  avail_ = avail;
  used_ = used;
  used_idx_ = published_ = load16(used_ + 2, __ATOMIC_RELAXED);
  signalled_valid_ = false;
  return true;
}

void Virtq::reset() noexcept {
  desc_ = avail_ = used_ = nullptr;
  num_ = 0;
  last_avail_ = used_idx_ = published_ = 0;
  signalled_valid_ = false;
}

u16 Virtq::avail_idx() const noexcept { return load16(avail_ + 2, __ATOMIC_ACQUIRE); }

u16 Virtq::pending() const noexcept {
  if (!ready()) return 0;
  const u16 n = static_cast<u16>(avail_idx() - last_avail_);
  return n > num_ ? 0 : n;
}

Pop Virtq::pop(const GuestMemory& mem, Chain& out) noexcept {
  if (!ready()) return Pop::empty;
  const u16 avail = avail_idx();
  if (avail == last_avail_) return Pop::empty;
  if (static_cast<u16>(avail - last_avail_) > num_) return Pop::bad;
  const u16 head = load16(avail_ + 4 + std::size_t{2} * (last_avail_ & (num_ - 1)), __ATOMIC_RELAXED);
  if (head >= num_) return Pop::bad;

  out.head = head;
  out.nsegs = 0;
  out.readable = 0;
  out.read_bytes = 0;
  out.write_bytes = 0;
  u32 idx = head;
  bool seen_write = false;
  // A chain has at most num_ descriptors: more means a loop.
  for (u32 count = 0;; count++) {
    if (count >= num_) return Pop::bad;
    u8 d[16];
    std::memcpy(d, desc_ + std::size_t{16} * idx, sizeof(d));
    const u64 addr = load_le64(d);
    const u32 len = load_le32(d + 8);
    const u16 flags = load_le16(d + 12);
    const u16 next = load_le16(d + 14);
    if ((flags & desc_f_indirect) != 0) return Pop::bad;
    const bool write = (flags & desc_f_write) != 0;
    if (!write && seen_write) return Pop::bad;  // readable after writable
    seen_write = seen_write || write;
    if (len != 0) {
      if (out.nsegs >= Chain::kMaxSegs) return Pop::bad;
      u8* p = mem.gpa(addr, len);
      if (p == nullptr) return Pop::bad;
      out.seg[out.nsegs++] = Seg{p, len};
      if (write) {
        out.write_bytes += len;
      } else {
        out.readable++;
        out.read_bytes += len;
      }
    }
    if ((flags & desc_f_next) == 0) break;
    if (next >= num_) return Pop::bad;
    idx = next;
  }
  last_avail_++;
  return Pop::ok;
}

void Virtq::push(u16 head, u32 len) noexcept {
  if (!ready()) return;
  u8* e = used_ + 4 + std::size_t{8} * (used_idx_ & (num_ - 1));
  store_le32(e, head);
  store_le32(e + 4, len);
  used_idx_++;
}

void Virtq::publish() noexcept {
  if (!ready() || used_idx_ == published_) return;
  store16(used_ + 2, used_idx_, __ATOMIC_RELEASE);
  published_ = used_idx_;
}

bool Virtq::want_interrupt() noexcept {
  if (!ready()) return false;
  // Our used.idx store before the guest's flags or used_event load (the
  // guest does the mirror image: its store, then it reads used.idx).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) return (load16(avail_, __ATOMIC_RELAXED) & avail_f_no_interrupt) == 0;
  const u16 old = signalled_;
  const bool valid = signalled_valid_;
  signalled_ = published_;
  signalled_valid_ = true;
  if (!valid) return true;
  // vring_need_event: did [old, published_) pass used_event?
  const u16 ev = load16(avail_ + 4 + std::size_t{2} * num_, __ATOMIC_RELAXED);
  return static_cast<u16>(published_ - ev - 1) < static_cast<u16>(published_ - old);
}

void Virtq::set_no_notify(bool on) noexcept {
  if (!ready()) return;
  if (event_idx_) {
    // The guest kicks when its avail index passes avail_event: at the next
    // chain (off), or a whole turn of the index from now (on).
    const u16 ev = on ? static_cast<u16>(last_avail_ - 1) : last_avail_;
    store16(used_ + 4 + std::size_t{8} * num_, ev, __ATOMIC_RELAXED);
  } else {
    store16(used_, on ? used_f_no_notify : u16{0}, __ATOMIC_RELAXED);
  }
  if (!on) std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace passt::wire::virtio
