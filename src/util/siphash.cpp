#include "util/siphash.hpp"

namespace passt {

namespace {

constexpr u64 rotl(u64 x, int b) noexcept { return (x << b) | (x >> (64 - b)); }

u64 load_le64(const u8* p) noexcept {
  u64 v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

}  // namespace

SipKey SipKey::from_bytes(const std::array<u8, 16>& b) noexcept {
  return {load_le64(b.data()), load_le64(b.data() + 8)};
}

SipHasher::SipHasher(const SipKey& key) noexcept
    : v0_(0x736f6d6570736575ULL ^ key.k0),
      v1_(0x646f72616e646f6dULL ^ key.k1),
      v2_(0x6c7967656e657261ULL ^ key.k0),
      v3_(0x7465646279746573ULL ^ key.k1) {}

void SipHasher::compress(u64 m) noexcept {
  v3_ ^= m;
  for (int r = 0; r < 2; r++) {
    v0_ += v1_;
    v1_ = rotl(v1_, 13);
    v1_ ^= v0_;
    v0_ = rotl(v0_, 32);
    v2_ += v3_;
    v3_ = rotl(v3_, 16);
    v3_ ^= v2_;
    v0_ += v3_;
    v3_ = rotl(v3_, 21);
    v3_ ^= v0_;
    v2_ += v1_;
    v1_ = rotl(v1_, 17);
    v1_ ^= v2_;
    v2_ = rotl(v2_, 32);
  }
  v0_ ^= m;
}

void SipHasher::update(Bytes data) noexcept {
  for (u8 byte : data) {
    tail_ |= static_cast<u64>(byte) << (8 * ntail_);
    if (++ntail_ == 8) {
      compress(tail_);
      tail_ = 0;
      ntail_ = 0;
    }
  }
  total_ += data.size();
}

void SipHasher::update_u16(u16 v) noexcept {
  const u8 b[2] = {static_cast<u8>(v), static_cast<u8>(v >> 8)};
  update(Bytes(b, 2));
}
void SipHasher::update_u32(u32 v) noexcept {
  const u8 b[4] = {static_cast<u8>(v), static_cast<u8>(v >> 8), static_cast<u8>(v >> 16),
                   static_cast<u8>(v >> 24)};
  update(Bytes(b, 4));
}
void SipHasher::update_u64(u64 v) noexcept {
  update_u32(static_cast<u32>(v));
  update_u32(static_cast<u32>(v >> 32));
}

u64 SipHasher::finish() noexcept {
  u64 b = (total_ & 0xff) << 56;
  b |= tail_;
  compress(b);
  v2_ ^= 0xff;
  for (int r = 0; r < 4; r++) {
    v0_ += v1_;
    v1_ = rotl(v1_, 13);
    v1_ ^= v0_;
    v0_ = rotl(v0_, 32);
    v2_ += v3_;
    v3_ = rotl(v3_, 16);
    v3_ ^= v2_;
    v0_ += v3_;
    v3_ = rotl(v3_, 21);
    v3_ ^= v0_;
    v2_ += v1_;
    v1_ = rotl(v1_, 17);
    v1_ ^= v2_;
    v2_ = rotl(v2_, 32);
  }
  return v0_ ^ v1_ ^ v2_ ^ v3_;
}

u64 siphash24(const SipKey& key, Bytes data) noexcept {
  SipHasher h(key);
  h.update(data);
  return h.finish();
}

}  // namespace passt
