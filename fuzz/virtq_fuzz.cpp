// Split virtqueues (wire/virtio.hpp) on a guest memory that is the input,
// and the vhost-user message decoders (wire/vhost_user.hpp) on the same
// bytes.
//
// The input is copied to the start of a 64 KiB guest memory (zero after
// it), mapped as one region or as two (cut at `split`, the second at
// another guest physical address, contiguous in the front end's address
// space); the rings are found by front-end address like the adapter does.
// Header, little-endian, read from the memory itself:
//
//   [0]      queue size: 1 << (b % 9), 1..256
//   [1]      mode: bit 0 two regions; bit 1 first try misaligned rings;
//            bit 2 start with set_no_notify(true); bit 3 the event index
//            (VIRTIO_RING_F_EVENT_IDX, set before set_num)
//   [2..3]   split (two regions), rounded to 16 and kept inside
//   [4..5]   descriptor table offset (rounded down to 16)
//   [6..7]   avail ring offset (rounded down to 2)
//   [8..9]   used ring offset (rounded down to 4)
//   [10..11] set_base() value
//   [12..43] operations, one byte each: pop, unpop, push, publish,
//            want_interrupt, set_no_notify
//
// Then up to kDrain more pops, everything taken is pushed and published.
// Properties:
//   * an ok chain: head < num, 1 <= ... nsegs <= kMaxSegs, readable <=
//     nsegs, every segment non-empty and inside one region of the guest
//     memory, read_bytes / write_bytes the sums of the readable / writable
//     segments, base() one further;
//   * empty or bad: base() unchanged; bad again on a second try (pop reads
//     guest memory only); pending() <= num, and pending() > 0 never pops
//     empty;
//   * unpop(k) and pop again, guest memory unwritten since: the same chain;
//   * push() writes its element where the guest reads it; publish() makes
//     used.idx the number of pushes since set_rings (plus the guest's
//     starting value), and only publish() writes used.idx;
//   * want_interrupt() is the guest's NO_INTERRUPT flag, set_no_notify()
//     writes used.flags; with the event index, want_interrupt() is true
//     the first time and then when the used index passed used_event
//     since the previous call, and set_no_notify() writes avail_event
//     (base() when off, base() - 1 when on) and leaves the flags.
// vhost-user: a parsed header round-trips and has version 1 and size <=
// kMaxPayload; a memory table has count <= 8 and the bytes for them;
// VringState round-trips; parse_u64 is the first 8 bytes.
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>

#include "fuzz/fuzz.hpp"
#include "util/endian.hpp"
#include "wire/vhost_user.hpp"
#include "wire/virtio.hpp"

namespace {

using namespace passt;
using namespace passt::wire;
namespace vq = passt::wire::virtio;
namespace vu = passt::wire::vhost_user;

constexpr std::size_t kMem = std::size_t{64} * 1024;
constexpr u64 kGpa0 = 0x10000000;
constexpr u64 kGpa1 = 0x80000000;
constexpr u64 kUva = 0x7f0000000000;
constexpr std::size_t kOps = 32;
constexpr std::size_t kOpsOff = 12;
constexpr std::size_t kTaken = 64;
constexpr int kDrain = 64;

struct alignas(16) Memory {
  std::array<u8, kMem> b;
};
Memory g_mem;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): 64 KiB, off the stack

// Compare addresses of possibly unrelated objects without UB.
bool inside(const u8* p, std::size_t len, const u8* base, std::size_t size) {
  const std::less_equal<> le;
  return le(base, p) && len <= size && le(p, base + (size - len));
}

bool in_one_region(const vq::GuestMemory& mem, const u8* p, std::size_t len) {
  for (const vq::MemRegion& r : mem.regions())
    if (inside(p, len, r.host, r.size)) return true;
  return false;
}

struct Taken {
  u16 head = 0;
  u32 nsegs = 0;
  u64 read_bytes = 0;
  u64 write_bytes = 0;
  u32 gen = 0;  // writes to guest memory before it was popped
};

class Run {
 public:
  Run(const vq::GuestMemory& mem, vq::Virtq& q, u8* used, bool event_idx)
      : mem_(mem), q_(q), used_(used), start_used_(load_le16(used + 2)), event_idx_(event_idx) {}

  // One pop with its checks; the chain is stored in `taken_` (or given
  // back with unpop if that is full).
  vq::Pop pop() {
    const u16 base = q_.base();
    const u16 pend = q_.pending();
    PASST_CHECK(pend <= q_.num());
    vq::Chain c;
    const vq::Pop r = q_.pop(mem_, c);
    if (r != vq::Pop::ok) {
      PASST_CHECK(q_.base() == base);
      if (pend > 0) PASST_CHECK(r == vq::Pop::bad);
      vq::Chain again;
      PASST_CHECK(q_.pop(mem_, again) == r);
      PASST_CHECK(q_.base() == base);
      return r;
    }
    PASST_CHECK(pend > 0);
    PASST_CHECK(q_.base() == static_cast<u16>(base + 1));
    check_chain(c);
    if (ntaken_ == kTaken) {
      q_.unpop(1);
      return r;
    }
    taken_[ntaken_++] = Taken{c.head, c.nsegs, c.read_bytes, c.write_bytes, gen_};
    return r;
  }

  void unpop(std::size_t k) {
    if (k > ntaken_) k = ntaken_;
    if (k == 0) return;
    const u16 base = q_.base();
    q_.unpop(static_cast<u16>(k));
    PASST_CHECK(q_.base() == static_cast<u16>(base - k));
    ntaken_ -= k;
    const Taken first = taken_[ntaken_];
    vq::Chain c;
    const vq::Pop r = q_.pop(mem_, c);
    if (first.gen == gen_) {
      // Nothing has written guest memory since: the very same chain.
      PASST_CHECK(r == vq::Pop::ok);
      PASST_CHECK(c.head == first.head && c.nsegs == first.nsegs);
      PASST_CHECK(c.read_bytes == first.read_bytes && c.write_bytes == first.write_bytes);
    }
    if (r == vq::Pop::ok) {
      check_chain(c);
      taken_[ntaken_++] = Taken{c.head, c.nsegs, c.read_bytes, c.write_bytes, gen_};
    }
  }

  void push(std::size_t k, u32 len_salt) {
    if (k > ntaken_) k = ntaken_;
    for (std::size_t i = 0; i < k; i++) {
      // The oldest first: what stays taken is always the latest pops, the
      // ones unpop() gives back.
      const Taken t = taken_[0];
      for (std::size_t j = 1; j < ntaken_; j++) taken_[j - 1] = taken_[j];
      ntaken_--;
      const u64 wanted = t.write_bytes + len_salt;
      const u32 len = wanted > 0xffffffff ? 0xffffffff : static_cast<u32>(wanted);
      const u16 slot = static_cast<u16>((start_used_ + pushed_) & (q_.num() - 1));
      const u16 before = load_le16(used_ + 2);
      q_.push(t.head, len);
      pushed_++;
      gen_++;
      const u8* e = used_ + 4 + std::size_t{8} * slot;
      PASST_CHECK(load_le32(e) == t.head);
      PASST_CHECK(load_le32(e + 4) == len);
      PASST_CHECK(load_le16(used_ + 2) == before);  // not visible yet
      PASST_CHECK(q_.unpublished() == static_cast<u16>(pushed_ - published_));
    }
  }

  void publish() {
    const u16 before = load_le16(used_ + 2);
    const bool any = q_.unpublished() != 0;
    q_.publish();
    PASST_CHECK(q_.unpublished() == 0);
    if (any) {
      gen_++;
      published_ = pushed_;
      PASST_CHECK(load_le16(used_ + 2) == static_cast<u16>(start_used_ + pushed_));
    } else {
      PASST_CHECK(load_le16(used_ + 2) == before);
    }
  }

  void want_interrupt(const u8* avail) {
    bool want = false;
    if (event_idx_) {
      const u16 now = static_cast<u16>(start_used_ + published_);
      const u16 ev = load_le16(avail + 4 + std::size_t{2} * q_.num());
      want = !signalled_valid_ || static_cast<u16>(now - ev - 1) < static_cast<u16>(now - signalled_);
      signalled_ = now;
      signalled_valid_ = true;
    } else {
      want = (load_le16(avail) & vq::avail_f_no_interrupt) == 0;
    }
    PASST_CHECK(q_.want_interrupt() == want);
  }

  void no_notify(bool on) {
    const u16 idx = load_le16(used_ + 2);
    const u16 flags = load_le16(used_);
    q_.set_no_notify(on);
    gen_++;
    if (event_idx_) {
      const u16 base = q_.base();
      PASST_CHECK(load_le16(used_ + 4 + std::size_t{8} * q_.num()) == (on ? static_cast<u16>(base - 1) : base));
      PASST_CHECK(load_le16(used_) == flags);
    } else {
      PASST_CHECK(load_le16(used_) == (on ? vq::used_f_no_notify : 0));
    }
    PASST_CHECK(load_le16(used_ + 2) == idx);
  }

  void finish() {
    push(ntaken_, 0);
    publish();
    PASST_CHECK(ntaken_ == 0);
  }

  std::size_t taken() const { return ntaken_; }

 private:
  void check_chain(const vq::Chain& c) const {
    PASST_CHECK(c.head < q_.num());
    PASST_CHECK(c.nsegs <= vq::Chain::kMaxSegs);
    PASST_CHECK(c.readable <= c.nsegs);
    u64 rd = 0;
    u64 wr = 0;
    for (u32 i = 0; i < c.nsegs; i++) {
      const vq::Seg& s = c.seg[i];
      PASST_CHECK(s.len > 0);
      PASST_CHECK(inside(s.p, s.len, g_mem.b.data(), kMem));
      PASST_CHECK(in_one_region(mem_, s.p, s.len));
      (i < c.readable ? rd : wr) += s.len;
    }
    PASST_CHECK(rd == c.read_bytes);
    PASST_CHECK(wr == c.write_bytes);
  }

  const vq::GuestMemory& mem_;
  vq::Virtq& q_;
  u8* used_;
  u16 start_used_ = 0;
  bool event_idx_ = false;
  bool signalled_valid_ = false;
  u16 signalled_ = 0;
  u16 pushed_ = 0;
  u16 published_ = 0;
  u32 gen_ = 0;
  std::array<Taken, kTaken> taken_{};
  std::size_t ntaken_ = 0;
};

void fuzz_vhost_user(Bytes in) {
  auto h = vu::Header::parse(in);
  if (h) {
    PASST_CHECK(in.size() >= vu::kHdrLen);
    PASST_CHECK((h->flags & vu::kFlagVersionMask) == vu::kVersion);
    PASST_CHECK(h->size <= vu::kMaxPayload);
    std::array<u8, vu::kHdrLen> out{};
    h->emit(out.data());
    PASST_CHECK(std::memcmp(out.data(), in.data(), vu::kHdrLen) == 0);
  } else {
    PASST_CHECK(h.err() == (in.size() < vu::kHdrLen ? Err::truncated : Err::malformed));
  }
  // Every payload decoder, on the bytes after a header and on the whole input.
  for (Bytes p : {in.size() >= vu::kHdrLen ? in.subspan(vu::kHdrLen) : Bytes{}, in}) {
    if (auto s = vu::VringState::parse(p)) {
      std::array<u8, 8> out{};
      s->emit(out.data());
      PASST_CHECK(std::memcmp(out.data(), p.data(), 8) == 0);
    } else {
      PASST_CHECK(p.size() < 8);
    }
    if (auto a = vu::VringAddr::parse(p)) {
      PASST_CHECK(p.size() >= 40);
      PASST_CHECK(a->desc == load_le64(p.data() + 8) && a->log == load_le64(p.data() + 32));
    } else {
      PASST_CHECK(p.size() < 40);
    }
    if (auto t = vu::MemTable::parse(p)) {
      PASST_CHECK(t->count <= vu::MemTable::kMaxRegions);
      PASST_CHECK(p.size() >= 8 + std::size_t{32} * t->count);
      for (u32 i = 0; i < t->count; i++)
        PASST_CHECK(t->region[i].mmap_offset == load_le64(p.data() + 8 + std::size_t{32} * i + 24));
    } else {
      PASST_CHECK(p.size() < 8 || load_le32(p.data()) > vu::MemTable::kMaxRegions ||
                  p.size() < 8 + std::size_t{32} * load_le32(p.data()));
    }
    if (auto v = vu::parse_u64(p)) {
      PASST_CHECK(*v == load_le64(p.data()));
    } else {
      PASST_CHECK(p.size() < 8);
    }
  }
  if (in.size() >= 4) {
    const u32 r = load_le32(in.data());
    PASST_CHECK(vu::req_name(r) != nullptr);
    if (vu::req_replies(r)) PASST_CHECK(std::strcmp(vu::req_name(r), "unknown") != 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in(data, size);
  fuzz_vhost_user(in);

  u8* m = g_mem.b.data();
  const std::size_t n = size < kMem ? size : kMem;
  if (n > 0) std::memcpy(m, data, n);
  std::memset(m + n, 0, kMem - n);

  const u32 num = u32{1} << (m[0] % 9);
  const u8 mode = m[1];
  std::size_t split = load_le16(m + 2) & ~std::size_t{15};
  if (split < 16) split = 16;
  if (split > kMem - 16) split = kMem - 16;
  const std::size_t desc_off = load_le16(m + 4) & ~std::size_t{15};
  const std::size_t avail_off = load_le16(m + 6) & ~std::size_t{1};
  const std::size_t used_off = load_le16(m + 8) & ~std::size_t{3};
  const u16 base = load_le16(m + 10);
  std::array<u8, kOps> ops{};
  std::memcpy(ops.data(), m + kOpsOff, kOps);

  vq::GuestMemory mem;
  if ((mode & 1) != 0) {
    PASST_CHECK(mem.add(vq::MemRegion{kGpa0, split, kUva, m}));
    PASST_CHECK(mem.add(vq::MemRegion{kGpa1 + split, kMem - split, kUva + split, m + split}));
  } else {
    PASST_CHECK(mem.add(vq::MemRegion{kGpa0, kMem, kUva, m}));
  }

  vq::Virtq q;
  const bool event_idx = (mode & 8) != 0;
  q.set_event_idx(event_idx);
  PASST_CHECK(q.set_num(num));
  u8* d = mem.uva(kUva + desc_off, vq::desc_bytes(num));
  u8* a = mem.uva(kUva + avail_off, vq::avail_bytes(num));
  u8* u = mem.uva(kUva + used_off, vq::used_bytes(num));
  if ((mode & 2) != 0 && d != nullptr && a != nullptr && u != nullptr) {
    PASST_CHECK(!q.set_rings(d + 8, a, u));
    PASST_CHECK(!q.ready());
    PASST_CHECK(!q.set_rings(d, a + 1, u));
    PASST_CHECK(!q.set_rings(d, a, u + 2));
    vq::Chain c;
    PASST_CHECK(q.pop(mem, c) == vq::Pop::empty);
  }
  if (!q.set_rings(d, a, u)) {
    PASST_CHECK(d == nullptr || a == nullptr || u == nullptr);
    PASST_CHECK(!q.ready());
    return 0;
  }
  PASST_CHECK(q.ready() && d != nullptr && a != nullptr && u != nullptr);
  q.set_base(base);
  PASST_CHECK(q.base() == base);

  Run run(mem, q, u, event_idx);
  if ((mode & 4) != 0) run.no_notify(true);
  for (const u8 op : ops) {
    const std::size_t arg = op >> 3;
    switch (op & 7) {
      case 0:
      case 1: (void)run.pop(); break;
      case 2: run.unpop(arg % 4 + 1); break;
      case 3: run.push(arg % 4 + 1, static_cast<u32>(arg)); break;
      case 4: run.publish(); break;
      case 5: run.want_interrupt(a); break;
      case 6: run.no_notify((arg & 1) != 0); break;
      default:
        for (std::size_t i = 0; i <= arg % 8; i++)
          if (run.pop() != vq::Pop::ok) break;
        break;
    }
  }
  for (int i = 0; i < kDrain && run.taken() < kTaken; i++)
    if (run.pop() != vq::Pop::ok) break;
  run.finish();
  run.want_interrupt(a);
  return 0;
}
