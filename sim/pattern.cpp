// Compiled with optimisation even in debug builds (sim/CMakeLists.txt): these
// loops touch every byte the simulator moves, and the swarm must stay fast.
#include "sim/pattern.hpp"

#include <cstring>

namespace passt::sim {

namespace {

// splitmix64's finaliser (a local copy so it inlines here).
inline u64 mix(u64 z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline u64 word(u64 stream, u64 k) noexcept { return mix(stream * 0x9e3779b97f4a7c15ULL ^ mix(k)); }

inline u64 rotl(u64 x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// A fast non-cryptographic 64-bit hash (multiply-rotate per word, mixed at
// the end).  It only has to notice accidental changes.
u64 hash_bytes(u64 h, const u8* p, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    u64 w = 0;
    std::memcpy(&w, p + i, 8);
    h = rotl((h ^ w) * 0x9e3779b97f4a7c15ULL, 29) + 0x632be59bd9b4e019ULL;
  }
  u64 tail = 0;
  for (std::size_t k = 0; i + k < n; k++) tail |= static_cast<u64>(p[i + k]) << (8 * k);
  h = rotl((h ^ tail ^ (u64{n} << 56)) * 0x9e3779b97f4a7c15ULL, 29);
  return mix(h);
}

}  // namespace

u8 pattern_byte(u64 stream, u64 off) noexcept {
  return static_cast<u8>(word(stream, off / 8) >> (8 * (off % 8)));
}

void fill_pattern(u64 stream, u64 off, MutBytes out) noexcept {
  u8* p = out.data();
  const std::size_t n = out.size();
  std::size_t i = 0;
  // Head up to a word boundary of the stream, then whole words, then tail.
  while (i < n && (off + i) % 8 != 0) {
    p[i] = pattern_byte(stream, off + i);
    i++;
  }
  for (; i + 8 <= n; i += 8) {
    const u64 w = word(stream, (off + i) / 8);
    for (int b = 0; b < 8; b++) p[i + static_cast<std::size_t>(b)] = static_cast<u8>(w >> (8 * b));
  }
  for (; i < n; i++) p[i] = pattern_byte(stream, off + i);
}

std::size_t check_pattern(u64 stream, u64 off, Bytes in) noexcept {
  const u8* p = in.data();
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n && (off + i) % 8 != 0) {
    if (p[i] != pattern_byte(stream, off + i)) return i;
    i++;
  }
  for (; i + 8 <= n; i += 8) {
    const u64 w = word(stream, (off + i) / 8);
    for (int b = 0; b < 8; b++)
      if (p[i + static_cast<std::size_t>(b)] != static_cast<u8>(w >> (8 * b))) return i + static_cast<std::size_t>(b);
  }
  for (; i < n; i++)
    if (p[i] != pattern_byte(stream, off + i)) return i;
  return n;
}

u64 content_hash(Bytes b) noexcept { return hash_bytes(0x73696d2d6b657931ULL, b.data(), b.size()); }

u64 fingerprint(Bytes b) noexcept {
  if (b.size() <= 256) return content_hash(b);
  u64 h = hash_bytes(0x73696d2d6b657932ULL ^ b.size(), b.data(), 128);
  return hash_bytes(h, b.data() + b.size() - 128, 128);
}

}  // namespace passt::sim
