#include "core/flow_table.hpp"

#include <cstdlib>

namespace passt::core {

const char* pif_name(Pif p) noexcept {
  switch (p) {
    case Pif::none: return "NONE";
    case Pif::host: return "HOST";
    case Pif::tap: return "TAP";
    case Pif::splice: return "SPLICE";
  }
  return "?";
}

const char* flow_type_name(FlowType t) noexcept {
  switch (t) {
    case FlowType::none: return "none";
    case FlowType::tcp: return "TCP connection";
    case FlowType::tcp_splice: return "TCP connection (spliced)";
    case FlowType::ping4: return "ICMP ping sequence";
    case FlowType::ping6: return "ICMPv6 ping sequence";
    case FlowType::udp: return "UDP flow";
  }
  return "?";
}

const char* flow_state_name(FlowState s) noexcept {
  switch (s) {
    case FlowState::free: return "FREE";
    case FlowState::new_: return "NEW";
    case FlowState::ini: return "INI";
    case FlowState::tgt: return "TGT";
    case FlowState::typed: return "TYPED";
    case FlowState::active: return "ACTIVE";
  }
  return "?";
}

namespace {

// Buckets hold pack()+1 so that zeroed memory means "empty" and the index
// needs no initialisation pass (which would touch every page).
constexpr u32 encode(FlowSidx s) noexcept { return s.pack() + 1; }
constexpr FlowSidx decode(u32 v) noexcept { return FlowSidx::unpack(v - 1); }

template <class T>
T* zalloc(std::size_t n) {
  void* p = std::calloc(n, sizeof(T));
  PASST_CHECK(p != nullptr);
  return static_cast<T*>(p);
}

}  // namespace

FlowTable::FlowTable(u32 capacity, const SipKey& key) : capacity_(capacity), key_(key) {
  PASST_CHECK(capacity >= 1 && capacity < 0x7fffffffu);
  // Two sides per flow at a load factor of at most 70 %.
  u64 nb = (static_cast<u64>(capacity) * 2 * 100 + 69) / 70;
  nbuckets_ = static_cast<u32>(nb);
  flows_ = zalloc<Flow>(capacity_);
  buckets_ = zalloc<u32>(nbuckets_);
  nwords_ = (capacity_ + 63) / 64;
  used_map_ = zalloc<u64>(nwords_);
  // Bits past the capacity in the last word count as used.
  u32 extra = nwords_ * 64 - capacity_;
  if (extra != 0) used_map_[nwords_ - 1] = ~0ULL << (64 - extra);
}

FlowTable::~FlowTable() {
  std::free(flows_);
  std::free(buckets_);
  std::free(used_map_);
}

void FlowTable::mark_used(u32 i) noexcept { used_map_[i / 64] |= 1ULL << (i % 64); }

void FlowTable::mark_free(u32 i) noexcept {
  used_map_[i / 64] &= ~(1ULL << (i % 64));
  if (i / 64 < free_hint_) free_hint_ = i / 64;
}

Result<FlowIdx> FlowTable::alloc(L4 proto) noexcept {
  PASST_CHECK(!pending_.valid());
  u32 w = free_hint_;
  while (w < nwords_ && used_map_[w] == ~0ULL) w++;
  free_hint_ = w;
  if (w == nwords_) return Err::full;
  u32 bit = static_cast<u32>(__builtin_ctzll(~used_map_[w]));
  u32 i = w * 64 + bit;
  PASST_CHECK(i < capacity_);
  mark_used(i);
  used_++;
  if (i + 1 > high_water_) high_water_ = i + 1;
  Flow& f = flows_[i];
  f.state = FlowState::new_;
  f.type = FlowType::none;
  f.proto = proto;
  f.closing = 0;
  f.pif[0] = f.pif[1] = Pif::none;
  f.side[0] = f.side[1] = FlowSide{};
  pending_ = FlowIdx{i};
  return FlowIdx{i};
}

void FlowTable::set_ini(FlowIdx i, Pif pif, const FlowSide& side) noexcept {
  Flow& f = at(i);
  PASST_CHECK(f.state == FlowState::new_ && pending_ == i);
  f.pif[kIniSide] = pif;
  f.side[kIniSide] = side;
  f.state = FlowState::ini;
}

void FlowTable::set_tgt(FlowIdx i, Pif pif, const FlowSide& side) noexcept {
  Flow& f = at(i);
  PASST_CHECK(f.state == FlowState::ini && pending_ == i);
  f.pif[kTgtSide] = pif;
  f.side[kTgtSide] = side;
  f.state = FlowState::tgt;
}

void FlowTable::activate(FlowIdx i) noexcept {
  Flow& f = at(i);
  PASST_CHECK(f.state == FlowState::typed && pending_ == i);
  f.state = FlowState::active;
  pending_ = FlowIdx{};
}

void FlowTable::cancel(FlowIdx i) noexcept {
  Flow& f = at(i);
  PASST_CHECK(pending_ == i);
  PASST_CHECK(f.state != FlowState::free && f.state != FlowState::active);
  if (f.state == FlowState::typed) unindex_sides(i);
  f.state = FlowState::free;
  f.type = FlowType::none;
  mark_free(i.v);
  used_--;
  pending_ = FlowIdx{};
}

void FlowTable::release(FlowIdx i) noexcept {
  Flow& f = at(i);
  PASST_CHECK(f.state == FlowState::active);
  unindex_sides(i);
  f.state = FlowState::free;
  f.type = FlowType::none;
  f.closing = 0;
  mark_free(i.v);
  used_--;
}

FlowKey FlowTable::key_of(const Flow& f, unsigned side) noexcept {
  const FlowSide& s = f.side[side];
  return FlowKey{f.proto, f.pif[side], s.eaddr, s.oaddr, s.eport, s.oport};
}

u64 FlowTable::hash(const FlowKey& k) const noexcept {
  SipHasher h(key_);
  h.update(Bytes(k.eaddr.a.b));
  h.update(Bytes(k.oaddr.a.b));
  h.update_u64((static_cast<u64>(k.proto) << 40) | (static_cast<u64>(k.pif) << 32) |
               (static_cast<u64>(k.oport) << 16) | k.eport);
  return h.finish();
}

u32 FlowTable::find_bucket(const FlowKey& k) const noexcept {
  u32 b = static_cast<u32>(hash(k) % nbuckets_);
  // Bounded: the table is never full (load <= 70 %), so an empty bucket
  // ends every probe sequence; the count is a second guard.
  for (u32 n = 0; n < nbuckets_; n++) {
    u32 v = buckets_[b];
    if (v == 0) return nbuckets_;
    FlowSidx s = decode(v);
    if (key_of(flows_[s.flow], s.side) == k) return b;
    b = b + 1 == nbuckets_ ? 0 : b + 1;
  }
  return nbuckets_;
}

FlowSidx FlowTable::lookup(const FlowKey& k) const noexcept {
  u32 b = find_bucket(k);
  if (b == nbuckets_) return FlowSidx{};
  return decode(buckets_[b]);
}

void FlowTable::index_insert(FlowSidx s) noexcept {
  FlowKey k = key_of(flows_[s.flow], s.side);
  u32 b = static_cast<u32>(hash(k) % nbuckets_);
  for (u32 n = 0; n < nbuckets_; n++) {
    if (buckets_[b] == 0) {
      buckets_[b] = encode(s);
      return;
    }
    b = b + 1 == nbuckets_ ? 0 : b + 1;
  }
  PASST_CHECK(false && "flow index full");
}

void FlowTable::index_remove(FlowSidx s) noexcept {
  FlowKey k = key_of(flows_[s.flow], s.side);
  u32 i = find_bucket(k);
  if (i == nbuckets_ || decode(buckets_[i]) != s) {
    // Another flow with the same key owns the bucket: find ours by value.
    i = nbuckets_;
    u32 b = static_cast<u32>(hash(k) % nbuckets_);
    for (u32 n = 0; n < nbuckets_ && buckets_[b] != 0; n++) {
      if (buckets_[b] == encode(s)) {
        i = b;
        break;
      }
      b = b + 1 == nbuckets_ ? 0 : b + 1;
    }
    PASST_CHECK(i != nbuckets_);
  }
  // Backward-shift deletion (Knuth 6.4, Algorithm R): no tombstones.
  buckets_[i] = 0;
  u32 j = i;
  for (u32 n = 0; n < nbuckets_; n++) {
    j = j + 1 == nbuckets_ ? 0 : j + 1;
    u32 v = buckets_[j];
    if (v == 0) return;
    FlowSidx o = decode(v);
    u32 home = static_cast<u32>(hash(key_of(flows_[o.flow], o.side)) % nbuckets_);
    bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    buckets_[i] = v;
    buckets_[j] = 0;
    i = j;
  }
}

void FlowTable::index_sides(FlowIdx i) noexcept {
  const Flow& f = flows_[i.v];
  for (u8 s = 0; s < 2; s++)
    if (f.pif[s] != Pif::none) index_insert(FlowSidx{i.v, s});
}

void FlowTable::unindex_sides(FlowIdx i) noexcept {
  const Flow& f = flows_[i.v];
  for (u8 s = 0; s < 2; s++)
    if (f.pif[s] != Pif::none) index_remove(FlowSidx{i.v, s});
}

const char* FlowTable::verify() const noexcept {
  u32 used = 0;
  u32 indexed_sides = 0;
  u32 pending = 0;
  for (u32 w = (high_water_ + 63) / 64; w + 1 < nwords_; w++)
    if (used_map_[w] != 0) return "used bit above the high-water mark";
  for (u32 i = 0; i < high_water_; i++) {
    const Flow& f = flows_[i];
    const bool bit = ((used_map_[i / 64] >> (i % 64)) & 1) != 0;
    if ((f.state != FlowState::free) != bit) return "used bitmap disagrees with entry state";
    if (f.state == FlowState::free) {
      if (i < free_hint_ * 64) return "free entry below the free hint";
      continue;
    }
    used++;
    if (f.state != FlowState::active) pending++;
    if (f.state == FlowState::typed || f.state == FlowState::active) {
      for (u8 s = 0; s < 2; s++) {
        if (f.pif[s] == Pif::none) continue;
        indexed_sides++;
        // Lookup may legitimately return another flow with an identical key
        // (it must not happen in practice); check ours is reachable.
        FlowKey k = key_of(f, s);
        u32 b = static_cast<u32>(hash(k) % nbuckets_);
        bool found = false;
        for (u32 n = 0; n < nbuckets_ && buckets_[b] != 0; n++) {
          if (buckets_[b] == encode(FlowSidx{i, s})) {
            found = true;
            break;
          }
          b = b + 1 == nbuckets_ ? 0 : b + 1;
        }
        if (!found) return "flow side missing from the index";
      }
    }
  }
  if (used != used_) return "used count wrong";
  if (pending > 1) return "more than one flow outside FREE/ACTIVE";
  if (pending == 1 && !pending_.valid()) return "pending flow not tracked";
  u32 nonempty = 0;
  for (u32 b = 0; b < nbuckets_; b++) {
    if (buckets_[b] == 0) continue;
    nonempty++;
    FlowSidx s = decode(buckets_[b]);
    if (s.flow >= capacity_) return "bucket refers past the table";
    const Flow& f = flows_[s.flow];
    if (f.state != FlowState::typed && f.state != FlowState::active)
      return "bucket refers to a flow that is not indexed";
    if (f.pif[s.side] == Pif::none) return "bucket refers to a side with no pif";
  }
  if (nonempty != indexed_sides) return "index holds stale entries";
  return nullptr;
}

}  // namespace passt::core
