// SipHash-2-4 (Aumasson & Bernstein), used for the flow-table index and for
// RFC 6528 initial sequence numbers.  The 128-bit key comes from the Entropy
// port at start-up.
#pragma once

#include <array>

#include "util/types.hpp"

namespace passt {

struct SipKey {
  u64 k0 = 0;
  u64 k1 = 0;
  static SipKey from_bytes(const std::array<u8, 16>& b) noexcept;
};

u64 siphash24(const SipKey& key, Bytes data) noexcept;

// Incremental form, for hashing a few fixed fields without building a buffer.
class SipHasher {
 public:
  explicit SipHasher(const SipKey& key) noexcept;
  void update(Bytes data) noexcept;
  void update_u16(u16 v) noexcept;
  void update_u32(u32 v) noexcept;
  void update_u64(u64 v) noexcept;
  u64 finish() noexcept;

 private:
  void compress(u64 m) noexcept;
  u64 v0_, v1_, v2_, v3_;
  u64 tail_ = 0;      // pending bytes, little-endian packed
  unsigned ntail_ = 0;
  u64 total_ = 0;     // bytes consumed
};

}  // namespace passt
