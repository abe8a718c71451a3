#include "sim/pattern.hpp"

#include "sim/prng.hpp"
#include "util/siphash.hpp"

namespace passt::sim {

namespace {

u64 word(u64 stream, u64 k) noexcept { return mix64(stream * 0x9e3779b97f4a7c15ULL ^ mix64(k)); }

const SipKey kKey{0x73696d2d6b657931ULL, 0x73696d2d6b657932ULL};

}  // namespace

u8 pattern_byte(u64 stream, u64 off) noexcept {
  return static_cast<u8>(word(stream, off / 8) >> (8 * (off % 8)));
}

void fill_pattern(u64 stream, u64 off, MutBytes out) noexcept {
  std::size_t i = 0;
  while (i < out.size()) {
    u64 k = (off + i) / 8;
    u64 w = word(stream, k);
    for (u64 b = (off + i) % 8; b < 8 && i < out.size(); b++, i++) out[i] = static_cast<u8>(w >> (8 * b));
  }
}

std::size_t check_pattern(u64 stream, u64 off, Bytes in) noexcept {
  std::size_t i = 0;
  while (i < in.size()) {
    u64 k = (off + i) / 8;
    u64 w = word(stream, k);
    for (u64 b = (off + i) % 8; b < 8 && i < in.size(); b++, i++)
      if (in[i] != static_cast<u8>(w >> (8 * b))) return i;
  }
  return in.size();
}

u64 content_hash(Bytes b) noexcept { return siphash24(kKey, b); }

u64 fingerprint(Bytes b) noexcept {
  SipHasher h(kKey);
  h.update_u64(b.size());
  if (b.size() <= 256) {
    h.update(b);
  } else {
    h.update(b.first(128));
    h.update(b.last(128));
  }
  return h.finish();
}

}  // namespace passt::sim
