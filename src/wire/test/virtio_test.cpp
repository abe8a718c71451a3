#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <memory>

#include "util/endian.hpp"
#include "wire/virtio.hpp"

namespace passt::wire::virtio {
namespace {

constexpr u64 kU64Max = std::numeric_limits<u64>::max();

// ---------------------------------------------------------------------------
// GuestMemory
// ---------------------------------------------------------------------------

struct alignas(16) Backing {
  std::array<u8, 4096> b{};
};

TEST(VirtioGuestMemory, TranslatesByGpaAndUva) {
  Backing m;
  GuestMemory mem;
  ASSERT_TRUE(mem.add(MemRegion{0x10000, 4096, 0x7f0000001000, m.b.data()}));
  ASSERT_EQ(mem.regions().size(), 1U);
  EXPECT_EQ(mem.gpa(0x10000, 1), m.b.data());
  EXPECT_EQ(mem.gpa(0x10000 + 100, 16), m.b.data() + 100);
  EXPECT_EQ(mem.gpa(0x10000, 4096), m.b.data());
  EXPECT_EQ(mem.gpa(0x10000 + 4095, 1), m.b.data() + 4095);
  EXPECT_EQ(mem.uva(0x7f0000001000, 1), m.b.data());
  EXPECT_EQ(mem.uva(0x7f0000001000 + 200, 8), m.b.data() + 200);
  EXPECT_EQ(mem.uva(0x7f0000001000, 4096), m.b.data());
  // The two address spaces are not mixed up.
  EXPECT_EQ(mem.gpa(0x7f0000001000, 1), nullptr);
  EXPECT_EQ(mem.uva(0x10000, 1), nullptr);
}

TEST(VirtioGuestMemory, RangesOutsideOrStraddlingRefused) {
  Backing m;
  GuestMemory mem;
  ASSERT_TRUE(mem.add(MemRegion{0x10000, 4096, 0x20000, m.b.data()}));
  EXPECT_EQ(mem.gpa(0x10000, 4097), nullptr);         // one past the end
  EXPECT_EQ(mem.gpa(0x10000 + 4095, 2), nullptr);     // straddles the end
  EXPECT_EQ(mem.gpa(0x10000 - 1, 2), nullptr);        // straddles the start
  EXPECT_EQ(mem.gpa(0x10000 + 4096, 1), nullptr);     // just after
  EXPECT_EQ(mem.gpa(0, 1), nullptr);
  EXPECT_EQ(mem.uva(0x20000 + 4000, 200), nullptr);
  EXPECT_EQ(mem.uva(0x20000 - 8, 8), nullptr);
  // Lengths that wrap the 64-bit address space.
  EXPECT_EQ(mem.gpa(0x10000 + 8, kU64Max), nullptr);
  EXPECT_EQ(mem.gpa(0x10000 + 8, kU64Max - 7), nullptr);
  EXPECT_EQ(mem.gpa(kU64Max, 2), nullptr);
  EXPECT_EQ(mem.gpa(kU64Max, kU64Max), nullptr);
  EXPECT_EQ(mem.uva(0x20000, kU64Max), nullptr);
}

TEST(VirtioGuestMemory, LengthZero) {
  Backing m;
  GuestMemory mem;
  ASSERT_TRUE(mem.add(MemRegion{0x10000, 4096, 0x20000, m.b.data()}));
  EXPECT_EQ(mem.gpa(0x10000, 0), m.b.data());
  EXPECT_EQ(mem.gpa(0x10000 + 4095, 0), m.b.data() + 4095);
  EXPECT_EQ(mem.gpa(0x10000 + 4096, 0), nullptr);  // the end is not inside
  EXPECT_EQ(mem.gpa(0x10000 - 1, 0), nullptr);
  EXPECT_EQ(mem.uva(0x20000 + 10, 0), m.b.data() + 10);
  EXPECT_EQ(mem.uva(0x20000 + 4096, 0), nullptr);
}

TEST(VirtioGuestMemory, RangeAcrossTwoAdjacentRegionsRefused) {
  Backing a;
  Backing b;
  GuestMemory mem;
  ASSERT_TRUE(mem.add(MemRegion{0x10000, 4096, 0x50000, a.b.data()}));
  ASSERT_TRUE(mem.add(MemRegion{0x11000, 4096, 0x51000, b.b.data()}));
  EXPECT_EQ(mem.gpa(0x10ff0, 16), a.b.data() + 0xff0);
  EXPECT_EQ(mem.gpa(0x11000, 16), b.b.data());
  EXPECT_EQ(mem.gpa(0x11ff0, 16), b.b.data() + 0xff0);
  EXPECT_EQ(mem.gpa(0x10ff0, 32), nullptr);  // contiguous in the guest, not here
  EXPECT_EQ(mem.uva(0x50ff8, 16), nullptr);
  EXPECT_EQ(mem.uva(0x51008, 16), b.b.data() + 8);
}

TEST(VirtioGuestMemory, AddRefusesBadRegions) {
  Backing m;
  GuestMemory mem;
  EXPECT_FALSE(mem.add(MemRegion{0x10000, 0, 0x20000, m.b.data()}));          // empty
  EXPECT_FALSE(mem.add(MemRegion{0x10000, 4096, 0x20000, nullptr}));           // no host pointer
  EXPECT_FALSE(mem.add(MemRegion{kU64Max - 100, 4096, 0x20000, m.b.data()}));  // gpa wraps
  EXPECT_FALSE(mem.add(MemRegion{0x10000, 4096, kU64Max - 100, m.b.data()}));  // uva wraps
  EXPECT_EQ(mem.regions().size(), 0U);
  EXPECT_EQ(mem.gpa(kU64Max - 50, 1), nullptr);
}

TEST(VirtioGuestMemory, FullTableRefusedAndClear) {
  Backing m;
  GuestMemory mem;
  for (u64 i = 0; i < GuestMemory::kMaxRegions; i++)
    ASSERT_TRUE(mem.add(MemRegion{0x100000 * (i + 1), 4096, 0x200000 * (i + 1), m.b.data()}));
  EXPECT_EQ(mem.regions().size(), GuestMemory::kMaxRegions);
  EXPECT_FALSE(mem.add(MemRegion{0x10000000, 4096, 0x20000000, m.b.data()}));
  EXPECT_EQ(mem.regions().size(), GuestMemory::kMaxRegions);
  EXPECT_EQ(mem.gpa(0x10000000, 1), nullptr);
  EXPECT_EQ(mem.gpa(0x800000 + 5, 1), m.b.data() + 5);  // the eighth
  mem.clear();
  EXPECT_EQ(mem.regions().size(), 0U);
  EXPECT_EQ(mem.gpa(0x100000, 1), nullptr);
  EXPECT_TRUE(mem.add(MemRegion{0x10000000, 4096, 0x20000000, m.b.data()}));
}

TEST(VirtioNetHdr, Length) {
  EXPECT_EQ(net_hdr_len(0), kNetHdrLegacyLen);
  EXPECT_EQ(net_hdr_len(f_version_1), kNetHdrLen);
  EXPECT_EQ(net_hdr_len(f_net_mrg_rxbuf), kNetHdrLen);
  EXPECT_EQ(net_hdr_len(f_ring_event_idx | f_ring_indirect_desc), kNetHdrLegacyLen);
  EXPECT_EQ(desc_bytes(256), 4096U);
  EXPECT_EQ(avail_bytes(256), 518U);
  EXPECT_EQ(used_bytes(256), 2054U);
}

// ---------------------------------------------------------------------------
// Virtq over a fake guest memory: one region, the three rings and the
// buffers laid out by hand.
// ---------------------------------------------------------------------------

constexpr std::size_t kMemSize = 64 * 1024;
constexpr u64 kGpa = 0x40000000;
constexpr u64 kUva = 0x7f1234560000;
constexpr std::size_t kDescOff = 0x0000;   // up to 256 descriptors
constexpr std::size_t kAvailOff = 0x1000;
constexpr std::size_t kUsedOff = 0x2000;
constexpr std::size_t kBufOff = 0x4000;

struct alignas(16) FakeMem {
  std::array<u8, kMemSize> b{};
};

class VirtqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mem.add(MemRegion{kGpa, kMemSize, kUva, host()}));
  }

  u8* host() { return m_->b.data(); }
  u8* at(std::size_t off) { return host() + off; }
  static u64 gpa(std::size_t off) { return kGpa + off; }

  // set_num + set_rings at the standard offsets.
  void start(u32 num) {
    ASSERT_TRUE(vq.set_num(num));
    num_ = num;
    ASSERT_TRUE(vq.set_rings(at(kDescOff), at(kAvailOff), at(kUsedOff)));
    ASSERT_TRUE(vq.ready());
  }

  void desc(u32 i, u64 addr, u32 len, u16 flags, u16 next = 0) {
    u8* d = at(kDescOff + std::size_t{16} * i);
    store_le64(d, addr);
    store_le32(d + 8, len);
    store_le16(d + 12, flags);
    store_le16(d + 14, next);
  }
  // A buffer of `len` bytes at kBufOff + off.
  void buf(u32 i, std::size_t off, u32 len, u16 flags, u16 next = 0) {
    desc(i, gpa(kBufOff + off), len, flags, next);
  }

  u16 avail_idx() { return load_le16(at(kAvailOff + 2)); }
  void set_avail_idx(u16 v) { store_le16(at(kAvailOff + 2), v); }
  void set_avail_flags(u16 v) { store_le16(at(kAvailOff), v); }
  // Writes ring[avail.idx] = head and bumps avail.idx.
  void make_avail(u16 head) {
    const u16 idx = avail_idx();
    store_le16(at(kAvailOff + 4 + std::size_t{2} * (idx & (num_ - 1))), head);
    set_avail_idx(static_cast<u16>(idx + 1));
  }

  u16 used_flags() { return load_le16(at(kUsedOff)); }
  u16 used_idx() { return load_le16(at(kUsedOff + 2)); }
  void set_used_idx(u16 v) { store_le16(at(kUsedOff + 2), v); }
  u32 used_id(u32 slot) { return load_le32(at(kUsedOff + 4 + std::size_t{8} * (slot & (num_ - 1)))); }
  u32 used_len(u32 slot) { return load_le32(at(kUsedOff + 8 + std::size_t{8} * (slot & (num_ - 1)))); }

  // A bad pop leaves the ring where it was, and stays bad.
  void expect_bad() {
    const u16 base = vq.base();
    Chain c;
    EXPECT_EQ(vq.pop(mem, c), Pop::bad);
    EXPECT_EQ(vq.base(), base);
    EXPECT_EQ(vq.pop(mem, c), Pop::bad);
    EXPECT_EQ(vq.base(), base);
  }

  std::unique_ptr<FakeMem> m_ = std::make_unique<FakeMem>();
  GuestMemory mem;
  Virtq vq;
  u32 num_ = 0;
};

TEST_F(VirtqTest, SetNumAcceptsPowersOfTwoUpTo32768) {
  for (u32 n : {1U, 2U, 4U, 256U, 1024U, 32768U}) {
    EXPECT_TRUE(vq.set_num(n)) << n;
    EXPECT_EQ(vq.num(), n);
  }
  for (u32 n : {0U, 3U, 6U, 255U, 257U, 32767U, 32769U, 65536U, 0x80000000U, 0xffffffffU}) {
    EXPECT_FALSE(vq.set_num(n)) << n;
    EXPECT_EQ(vq.num(), 0U) << n;
  }
}

TEST_F(VirtqTest, SetNumResetsRings) {
  start(8);
  vq.set_base(5);
  ASSERT_TRUE(vq.set_num(16));
  EXPECT_FALSE(vq.ready());
  EXPECT_EQ(vq.base(), 0);
  Chain c;
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
  EXPECT_EQ(vq.pending(), 0);
  EXPECT_FALSE(vq.want_interrupt());
}

TEST_F(VirtqTest, SetRingsRejectsMisalignedNullOrNoSize) {
  EXPECT_FALSE(vq.set_rings(at(kDescOff), at(kAvailOff), at(kUsedOff)));  // no set_num
  EXPECT_FALSE(vq.ready());
  ASSERT_TRUE(vq.set_num(8));
  EXPECT_FALSE(vq.set_rings(at(kDescOff + 8), at(kAvailOff), at(kUsedOff)));  // desc: 16
  EXPECT_FALSE(vq.ready());
  EXPECT_FALSE(vq.set_rings(at(kDescOff + 1), at(kAvailOff), at(kUsedOff)));
  EXPECT_FALSE(vq.set_rings(at(kDescOff), at(kAvailOff + 1), at(kUsedOff)));  // avail: 2
  EXPECT_FALSE(vq.set_rings(at(kDescOff), at(kAvailOff), at(kUsedOff + 2)));  // used: 4
  EXPECT_FALSE(vq.set_rings(at(kDescOff), at(kAvailOff), at(kUsedOff + 1)));
  EXPECT_FALSE(vq.set_rings(nullptr, at(kAvailOff), at(kUsedOff)));
  EXPECT_FALSE(vq.set_rings(at(kDescOff), nullptr, at(kUsedOff)));
  EXPECT_FALSE(vq.set_rings(at(kDescOff), at(kAvailOff), nullptr));
  EXPECT_FALSE(vq.ready());
  // The smallest alignments the spec allows are enough.
  EXPECT_TRUE(vq.set_rings(at(kDescOff + 16), at(kAvailOff + 2), at(kUsedOff + 4)));
  EXPECT_TRUE(vq.ready());
  // A failed call leaves the queue not ready.
  EXPECT_FALSE(vq.set_rings(at(kDescOff + 4), at(kAvailOff), at(kUsedOff)));
  EXPECT_FALSE(vq.ready());
}

TEST_F(VirtqTest, NotReadyQueueDoesNothing) {
  Chain c;
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
  EXPECT_EQ(vq.pending(), 0);
  EXPECT_FALSE(vq.want_interrupt());
  vq.set_no_notify(true);  // no rings: nothing written, no crash
  vq.publish();
  EXPECT_EQ(vq.unpublished(), 0);
}

TEST_F(VirtqTest, PopEmptyRing) {
  start(8);
  Chain c;
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
  EXPECT_EQ(vq.base(), 0);
  EXPECT_EQ(vq.pending(), 0);
}

TEST_F(VirtqTest, SingleDescriptorChain) {
  start(8);
  buf(5, 0, 100, 0);
  make_avail(5);
  EXPECT_EQ(vq.pending(), 1);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 5);
  EXPECT_EQ(c.nsegs, 1U);
  EXPECT_EQ(c.readable, 1U);
  EXPECT_EQ(c.read_bytes, 100U);
  EXPECT_EQ(c.write_bytes, 0U);
  EXPECT_EQ(c.seg[0].p, at(kBufOff));
  EXPECT_EQ(c.seg[0].len, 100U);
  EXPECT_EQ(vq.base(), 1);
  EXPECT_EQ(vq.pending(), 0);
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
  EXPECT_EQ(vq.base(), 1);
}

TEST_F(VirtqTest, SingleWritableDescriptor) {
  start(8);
  buf(0, 0x100, 2048, desc_f_write);
  make_avail(0);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 0);
  EXPECT_EQ(c.nsegs, 1U);
  EXPECT_EQ(c.readable, 0U);
  EXPECT_EQ(c.read_bytes, 0U);
  EXPECT_EQ(c.write_bytes, 2048U);
  EXPECT_EQ(c.seg[0].p, at(kBufOff + 0x100));
}

TEST_F(VirtqTest, ReadableThenWritableChain) {
  start(8);
  // 3 -> 6 -> 1 -> 7: two readable, then two writable buffers.
  buf(3, 0x000, 10, desc_f_next, 6);
  buf(6, 0x100, 20, desc_f_next, 1);
  buf(1, 0x800, 1500, desc_f_next | desc_f_write, 7);
  buf(7, 0x1000, 200, desc_f_write, 0);
  make_avail(3);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 3);
  ASSERT_EQ(c.nsegs, 4U);
  EXPECT_EQ(c.readable, 2U);
  EXPECT_EQ(c.read_bytes, 30U);
  EXPECT_EQ(c.write_bytes, 1700U);
  EXPECT_EQ(c.seg[0].p, at(kBufOff + 0x000));
  EXPECT_EQ(c.seg[0].len, 10U);
  EXPECT_EQ(c.seg[1].p, at(kBufOff + 0x100));
  EXPECT_EQ(c.seg[1].len, 20U);
  EXPECT_EQ(c.seg[2].p, at(kBufOff + 0x800));
  EXPECT_EQ(c.seg[2].len, 1500U);
  EXPECT_EQ(c.seg[3].p, at(kBufOff + 0x1000));
  EXPECT_EQ(c.seg[3].len, 200U);
}

TEST_F(VirtqTest, ZeroLengthDescriptorsAreNotSegments) {
  start(8);
  // A zero-length descriptor is skipped, whatever its address.
  desc(0, 0xdead00000000, 0, desc_f_next, 1);
  buf(1, 0, 64, desc_f_next, 2);
  desc(2, 0, 0, desc_f_write | desc_f_next, 3);
  buf(3, 0x100, 128, desc_f_write);
  make_avail(0);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 0);
  ASSERT_EQ(c.nsegs, 2U);
  EXPECT_EQ(c.readable, 1U);
  EXPECT_EQ(c.read_bytes, 64U);
  EXPECT_EQ(c.write_bytes, 128U);
  EXPECT_EQ(c.seg[0].p, at(kBufOff));
  EXPECT_EQ(c.seg[1].p, at(kBufOff + 0x100));
}

TEST_F(VirtqTest, ChainOfWholeRingAccepted) {
  // As many descriptors as the ring has is a chain, not a loop.
  start(8);
  for (u16 i = 0; i < 8; i++)
    buf(i, std::size_t{64} * i, 64, i < 7 ? desc_f_next : u16{0}, static_cast<u16>(i + 1));
  make_avail(0);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.nsegs, 8U);
  EXPECT_EQ(c.read_bytes, 512U);
}

TEST_F(VirtqTest, UnpopGivesTheSameChainsBack) {
  start(8);
  buf(2, 0, 100, desc_f_write);
  buf(4, 0x100, 200, desc_f_write);
  buf(6, 0x200, 300, desc_f_write);
  make_avail(2);
  make_avail(4);
  make_avail(6);
  Chain a;
  Chain b;
  ASSERT_EQ(vq.pop(mem, a), Pop::ok);
  ASSERT_EQ(vq.pop(mem, b), Pop::ok);
  EXPECT_EQ(a.head, 2);
  EXPECT_EQ(b.head, 4);
  EXPECT_EQ(vq.base(), 2);
  EXPECT_EQ(vq.pending(), 1);
  vq.unpop(1);
  EXPECT_EQ(vq.base(), 1);
  EXPECT_EQ(vq.pending(), 2);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 4);
  EXPECT_EQ(c.seg[0].p, b.seg[0].p);
  EXPECT_EQ(c.write_bytes, 200U);
  vq.unpop(2);
  EXPECT_EQ(vq.base(), 0);
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 2);
  EXPECT_EQ(c.write_bytes, 100U);
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 4);
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 6);
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
}

TEST_F(VirtqTest, PushWritesElementsPublishWritesIdx) {
  set_used_idx(0);
  start(8);
  EXPECT_EQ(vq.unpublished(), 0);
  vq.push(3, 1234);
  vq.push(5, 0);
  // The elements are in the ring, but the guest does not see them yet.
  EXPECT_EQ(used_id(0), 3U);
  EXPECT_EQ(used_len(0), 1234U);
  EXPECT_EQ(used_id(1), 5U);
  EXPECT_EQ(used_len(1), 0U);
  EXPECT_EQ(used_idx(), 0);
  EXPECT_EQ(vq.unpublished(), 2);
  vq.publish();
  EXPECT_EQ(used_idx(), 2);
  EXPECT_EQ(vq.unpublished(), 0);
  // Nothing to publish: used.idx is not written (the guest's value stays).
  set_used_idx(0x5555);
  vq.publish();
  EXPECT_EQ(used_idx(), 0x5555);
  vq.push(7, 42);
  EXPECT_EQ(used_id(2), 7U);
  EXPECT_EQ(used_len(2), 42U);
  vq.publish();
  EXPECT_EQ(used_idx(), 3);
}

TEST_F(VirtqTest, SetRingsStartsFromTheGuestsUsedIdx) {
  set_used_idx(13);
  start(8);
  vq.push(1, 99);
  EXPECT_EQ(used_id(13), 1U);  // slot 13 & 7 = 5
  EXPECT_EQ(load_le32(at(kUsedOff + 4 + 8 * 5)), 1U);
  EXPECT_EQ(used_idx(), 13);
  vq.publish();
  EXPECT_EQ(used_idx(), 14);
}

TEST_F(VirtqTest, PushedChainsAreReturned) {
  start(8);
  buf(0, 0, 1500, desc_f_write);
  buf(1, 0x800, 1500, desc_f_write);
  make_avail(1);
  make_avail(0);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  vq.push(c.head, 60);
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  vq.push(c.head, 1500);
  vq.publish();
  EXPECT_EQ(used_idx(), 2);
  EXPECT_EQ(used_id(0), 1U);
  EXPECT_EQ(used_len(0), 60U);
  EXPECT_EQ(used_id(1), 0U);
  EXPECT_EQ(used_len(1), 1500U);
}

TEST_F(VirtqTest, WantInterruptHonoursNoInterrupt) {
  start(8);
  set_avail_flags(0);
  EXPECT_TRUE(vq.want_interrupt());
  set_avail_flags(avail_f_no_interrupt);
  EXPECT_FALSE(vq.want_interrupt());
  set_avail_flags(0xfffe);  // other bits: not ours to interpret
  EXPECT_TRUE(vq.want_interrupt());
  set_avail_flags(0xffff);
  EXPECT_FALSE(vq.want_interrupt());
}

TEST_F(VirtqTest, SetNoNotifyWritesUsedFlags) {
  set_used_idx(4);
  start(8);
  vq.set_no_notify(true);
  EXPECT_EQ(used_flags(), used_f_no_notify);
  EXPECT_EQ(used_idx(), 4);
  vq.set_no_notify(false);
  EXPECT_EQ(used_flags(), 0);
  EXPECT_EQ(used_idx(), 4);
}

// VIRTIO_RING_F_EVENT_IDX: the guest's used_event (after the avail ring)
// says which used index it wants an interrupt at; the first decision after
// the rings are set always interrupts, later ones only when a publish
// moved the used index past used_event.  The flags are not read.
TEST_F(VirtqTest, EventIdxInterruptsWhenUsedIndexPassesUsedEvent) {
  start(8);
  vq.set_event_idx(true);
  auto used_event = [&](u16 v) { store_le16(at(kAvailOff + 4 + 2 * 8), v); };
  auto complete = [&](u16 n) {
    for (u16 i = 0; i < n; i++) vq.push(i, 0);
    vq.publish();
  };
  set_avail_flags(avail_f_no_interrupt);  // ignored with the event index
  used_event(5);
  complete(1);  // used idx 1
  EXPECT_TRUE(vq.want_interrupt()) << "the first one: nothing known yet";
  complete(2);  // 3: not past 5
  EXPECT_FALSE(vq.want_interrupt());
  complete(3);  // 6: crossed 5 (5 -> the guest wanted one once idx 6 is out)
  EXPECT_TRUE(vq.want_interrupt());
  complete(1);  // 7: used_event still 5, already signalled
  EXPECT_FALSE(vq.want_interrupt());
  used_event(7);
  complete(1);  // 8
  EXPECT_TRUE(vq.want_interrupt());
  // Without the event index the flags rule again.
  vq.set_event_idx(false);
  set_avail_flags(0);
  EXPECT_TRUE(vq.want_interrupt());
}

TEST_F(VirtqTest, EventIdxWrapsAround) {
  set_used_idx(0xfffe);
  start(8);
  vq.set_event_idx(true);
  store_le16(at(kAvailOff + 4 + 2 * 8), 0xffff);
  vq.push(0, 0);
  vq.publish();  // 0xffff
  EXPECT_TRUE(vq.want_interrupt());
  vq.push(0, 0);
  vq.publish();  // 0x0000: crossed 0xffff
  EXPECT_TRUE(vq.want_interrupt());
  vq.push(0, 0);
  vq.publish();  // 0x0001
  EXPECT_FALSE(vq.want_interrupt());
}

// With the event index, kicks are asked for through avail_event (after the
// used ring): on, "kick when you make index base() available"; off, an
// index the guest reaches only after a whole turn of 65536.  The flags are
// left alone.
TEST_F(VirtqTest, EventIdxNoNotifyWritesAvailEvent) {
  start(8);
  vq.set_event_idx(true);
  vq.set_base(300);
  auto avail_event = [&]() { return load_le16(at(kUsedOff + 4 + 8 * 8)); };
  vq.set_no_notify(false);
  EXPECT_EQ(avail_event(), 300);
  vq.set_no_notify(true);
  EXPECT_EQ(avail_event(), 299);
  EXPECT_EQ(used_flags(), 0);
  vq.set_base(0);
  vq.set_no_notify(true);
  EXPECT_EQ(avail_event(), 0xffff);
}

TEST_F(VirtqTest, Pending) {
  start(8);
  EXPECT_EQ(vq.pending(), 0);
  for (u16 i = 0; i < 3; i++) {
    buf(i, std::size_t{256} * i, 256, desc_f_write);
    make_avail(i);
  }
  EXPECT_EQ(vq.pending(), 3);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(vq.pending(), 2);
  // Exactly a full ring ahead is fine; one more is beyond what it holds.
  vq.set_base(0);
  set_avail_idx(8);
  EXPECT_EQ(vq.pending(), 8);
  set_avail_idx(9);
  EXPECT_EQ(vq.pending(), 0);
  // avail.idx behind us (the guest went back): also beyond the ring.
  vq.set_base(5);
  set_avail_idx(4);
  EXPECT_EQ(vq.pending(), 0);
}

TEST_F(VirtqTest, FullRingAheadIsPopped) {
  start(4);
  for (u16 i = 0; i < 4; i++) {
    buf(i, std::size_t{256} * i, 256, desc_f_write);
    make_avail(static_cast<u16>(3 - i));
  }
  EXPECT_EQ(vq.pending(), 4);
  Chain c;
  for (u16 i = 0; i < 4; i++) {
    ASSERT_EQ(vq.pop(mem, c), Pop::ok);
    EXPECT_EQ(c.head, 3 - i);
  }
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
}

// --- Pop::bad, one case each (virtio.hpp's list) ---

TEST_F(VirtqTest, BadHeadIndexOutOfRange) {
  start(8);
  buf(0, 0, 64, 0);
  make_avail(8);
  expect_bad();
  EXPECT_EQ(vq.pending(), 1);
  // The same with the largest index.
  vq.set_base(0);
  store_le16(at(kAvailOff + 4), 0xffff);
  expect_bad();
}

TEST_F(VirtqTest, BadNextOutOfRange) {
  start(8);
  buf(0, 0, 64, desc_f_next, 8);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, BadDescriptorLoop) {
  start(8);
  buf(0, 0, 64, desc_f_next, 1);
  buf(1, 0x40, 64, desc_f_next, 0);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, BadSelfLoop) {
  start(8);
  buf(4, 0, 64, desc_f_next, 4);
  make_avail(4);
  expect_bad();
}

TEST_F(VirtqTest, BadZeroLengthLoop) {
  // A loop of empty descriptors (no segment limit to stop it).
  start(8);
  desc(2, 0, 0, desc_f_next, 3);
  desc(3, 0, 0, desc_f_next, 2);
  make_avail(2);
  expect_bad();
}

TEST_F(VirtqTest, BadIndirect) {
  start(8);
  buf(0, 0, 64, desc_f_indirect);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, BadIndirectInTheMiddleOfAChain) {
  start(8);
  buf(0, 0, 64, desc_f_next, 1);
  buf(1, 0x40, 64, desc_f_indirect | desc_f_write);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, BadBufferOutsideMemory) {
  start(8);
  desc(0, kGpa + kMemSize - 10, 20, 0);  // straddles the end
  make_avail(0);
  expect_bad();
  desc(0, kGpa - 4, 8, desc_f_write);  // straddles the start
  expect_bad();
  desc(0, 0, 8, 0);  // nowhere
  expect_bad();
  desc(0, kUva, 8, 0);  // a front-end address is not a guest one
  expect_bad();
  desc(0, kGpa + 16, 0xffffffff, desc_f_write);  // huge
  expect_bad();
  desc(0, kU64Max - 3, 8, 0);  // wraps
  expect_bad();
}

TEST_F(VirtqTest, BadBufferOutsideMemoryLaterInChain) {
  start(8);
  buf(0, 0, 64, desc_f_next, 1);
  desc(1, kGpa + kMemSize, 64, desc_f_write);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, MaxSegsAcceptedOneMoreRefused) {
  start(128);
  const u32 n = Chain::kMaxSegs;
  for (u32 i = 0; i < n; i++)
    buf(i, std::size_t{16} * i, 16, i + 1 < n ? desc_f_next : u16{0}, static_cast<u16>(i + 1));
  make_avail(0);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.nsegs, Chain::kMaxSegs);
  EXPECT_EQ(c.readable, Chain::kMaxSegs);
  EXPECT_EQ(c.read_bytes, 16U * Chain::kMaxSegs);
  EXPECT_EQ(c.seg[Chain::kMaxSegs - 1].p, at(kBufOff + 16 * (Chain::kMaxSegs - 1)));

  // One more buffer.
  buf(n - 1, std::size_t{16} * (n - 1), 16, desc_f_next, static_cast<u16>(n));
  buf(n, std::size_t{16} * n, 16, 0);
  make_avail(0);
  expect_bad();

  // But empty descriptors are not buffers: kMaxSegs buffers followed by an
  // empty descriptor are fine.
  buf(n, 0, 0, 0);
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.nsegs, Chain::kMaxSegs);
}

TEST_F(VirtqTest, BadReadableAfterWritable) {
  start(8);
  buf(0, 0, 64, desc_f_write | desc_f_next, 1);
  buf(1, 0x40, 64, desc_f_next, 2);
  buf(2, 0x80, 64, desc_f_write);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, BadReadableAfterWritableEvenIfEmpty) {
  start(8);
  buf(0, 0, 64, desc_f_write | desc_f_next, 1);
  buf(1, 0x40, 0, 0);
  make_avail(0);
  expect_bad();
}

TEST_F(VirtqTest, BadAvailIdxTooFarAhead) {
  start(8);
  for (u16 i = 0; i < 8; i++) buf(i, std::size_t{64} * i, 64, desc_f_write);
  set_avail_idx(9);  // nine chains in an eight-entry ring
  expect_bad();
  set_avail_idx(0xffff);  // or the guest's index went backwards
  expect_bad();
  set_avail_idx(8);
  Chain c;
  EXPECT_EQ(vq.pop(mem, c), Pop::ok);
}

TEST_F(VirtqTest, BadChainAfterGoodOnes) {
  start(8);
  buf(0, 0, 64, desc_f_write);
  make_avail(0);
  make_avail(9);
  Chain c;
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(vq.base(), 1);
  expect_bad();
}

TEST_F(VirtqTest, IndicesWrapAround) {
  set_used_idx(65534);
  start(4);
  vq.set_base(65534);
  set_avail_idx(65534);
  for (u16 i = 0; i < 3; i++) {
    buf(i, std::size_t{512} * i, 512, desc_f_write);
    make_avail(static_cast<u16>(2 - i));  // avail slots 2, 3, 0
  }
  EXPECT_EQ(avail_idx(), 1);
  EXPECT_EQ(vq.pending(), 3);
  Chain c;
  for (u16 i = 0; i < 3; i++) {
    ASSERT_EQ(vq.pop(mem, c), Pop::ok) << i;
    EXPECT_EQ(c.head, 2 - i);
    EXPECT_EQ(c.seg[0].p, at(kBufOff + std::size_t{512} * c.head));
    vq.push(c.head, 100U + i);
  }
  EXPECT_EQ(vq.base(), 1);
  EXPECT_EQ(vq.pop(mem, c), Pop::empty);
  EXPECT_EQ(used_idx(), 65534);
  EXPECT_EQ(vq.unpublished(), 3);
  vq.publish();
  EXPECT_EQ(used_idx(), 1);
  EXPECT_EQ(used_id(65534), 2U);  // slot 2
  EXPECT_EQ(used_len(65534), 100U);
  EXPECT_EQ(used_id(65535), 1U);  // slot 3
  EXPECT_EQ(used_len(65535), 101U);
  EXPECT_EQ(used_id(0), 0U);      // slot 0
  EXPECT_EQ(used_len(0), 102U);
  // unpop across the wrap.
  vq.unpop(2);
  EXPECT_EQ(vq.base(), 65535);
  ASSERT_EQ(vq.pop(mem, c), Pop::ok);
  EXPECT_EQ(c.head, 1);
}

TEST_F(VirtqTest, ResetForgetsEverything) {
  start(8);
  vq.set_base(3);
  vq.push(0, 1);
  vq.reset();
  EXPECT_FALSE(vq.ready());
  EXPECT_EQ(vq.num(), 0U);
  EXPECT_EQ(vq.base(), 0);
  EXPECT_EQ(vq.unpublished(), 0);
}

}  // namespace
}  // namespace passt::wire::virtio
