#include "sim/prng.hpp"

namespace passt::sim {

u64 mix64(u64 z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

u64 splitmix64(u64& state) noexcept {
  state += 0x9e3779b97f4a7c15ULL;
  return mix64(state);
}

namespace {
constexpr u64 rotl(u64 x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
}  // namespace

Prng::Prng(u64 seed) noexcept {
  u64 st = seed;
  for (auto& w : s_) w = splitmix64(st);
  // xoshiro's all-zero state is a fixed point; splitmix64 cannot produce four
  // zero words in a row, but keep the guarantee explicit.
  if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
}

u64 Prng::next() noexcept {
  const u64 result = rotl(s_[1] * 5, 7) * 9;
  const u64 t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

u64 Prng::below(u64 n) noexcept {
  PASST_CHECK(n > 0);
  // 2^64 mod n: outputs below this threshold belong to an incomplete block.
  const u64 threshold = (0 - n) % n;
  for (;;) {
    u64 r = next();
    if (r >= threshold) return r % n;
  }
}

u64 Prng::range(u64 lo, u64 hi) noexcept {
  PASST_CHECK(lo <= hi);
  if (lo == 0 && hi == ~u64{0}) return next();
  return lo + below(hi - lo + 1);
}

bool Prng::chance(u32 ppm) noexcept {
  if (ppm == 0) return false;
  if (ppm >= kPpm) return true;
  return below(kPpm) < ppm;
}

Duration Prng::duration(Duration lo, Duration hi) noexcept {
  PASST_CHECK(lo <= hi && lo.ns >= 0);
  return Duration::nanos(static_cast<i64>(
      range(static_cast<u64>(lo.ns), static_cast<u64>(hi.ns))));
}

Prng Prng::fork(u64 label) noexcept { return Prng(next() ^ mix64(label + 0x5157ULL)); }

u64 fold_commit_id(const u8 (&id)[20]) noexcept {
  u64 acc = 0x70617373742d6964ULL;  // "passt-id"
  for (std::size_t off = 0; off < 20; off += 8) {
    u64 chunk = 0;
    std::size_t n = off + 8 <= 20 ? 8 : 20 - off;
    for (std::size_t i = 0; i < n; i++) chunk = (chunk << 8) | id[off + i];
    acc = mix64(acc ^ chunk);
  }
  return acc;
}

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<u64> parse_seed(std::string_view t) noexcept {
  if (t.empty()) return std::nullopt;
  if (t.size() == 40) {
    u8 id[20];
    bool all_hex = true;
    for (std::size_t i = 0; i < 20 && all_hex; i++) {
      int hi = hex_value(t[2 * i]);
      int lo = hex_value(t[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        all_hex = false;
        break;
      }
      id[i] = static_cast<u8>((hi << 4) | lo);
    }
    if (all_hex) return fold_commit_id(id);
    return std::nullopt;
  }
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t.remove_prefix(2);
    if (t.size() > 16) return std::nullopt;
    u64 v = 0;
    for (char c : t) {
      int h = hex_value(c);
      if (h < 0) return std::nullopt;
      v = (v << 4) | static_cast<u64>(h);
    }
    return v;
  }
  u64 v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    u64 d = static_cast<u64>(c - '0');
    if (v > (~u64{0} - d) / 10) return std::nullopt;  // overflow
    v = v * 10 + d;
  }
  return v;
}

}  // namespace passt::sim
