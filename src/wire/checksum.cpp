#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace passt::wire {

namespace {

u16 fold64(u64 s) noexcept {
  while ((s >> 16) != 0) s = (s & 0xffff) + (s >> 16);
  return static_cast<u16>(s);
}

// Sum of the native-order 32-bit words of p[0..n), n a multiple of 32, into
// a 64-bit accumulator (no overflow below 2^32 words).  Two versions chosen
// once at run time: AVX2 (eight words per instruction) and portable scalar
// with four independent accumulators.
using WordSumFn = u64 (*)(const u8* p, std::size_t n) noexcept;

u64 word_sum_scalar(const u8* p, std::size_t n) noexcept {
  u64 a = 0;
  u64 b = 0;
  u64 c = 0;
  u64 d = 0;
  for (; n >= 32; p += 32, n -= 32) {
    u64 w[4];
    std::memcpy(w, p, 32);
    a += w[0] & 0xffffffffu;
    b += w[0] >> 32;
    c += w[1] & 0xffffffffu;
    d += w[1] >> 32;
    a += w[2] & 0xffffffffu;
    b += w[2] >> 32;
    c += w[3] & 0xffffffffu;
    d += w[3] >> 32;
  }
  return a + b + c + d;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PASST_CSUM_AVX2 1
__attribute__((target("avx2"))) u64 word_sum_avx2(const u8* p, std::size_t n) noexcept {
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc0 = zero;
  __m256i acc1 = zero;
  __m256i acc2 = zero;
  __m256i acc3 = zero;
  for (; n >= 64; p += 64, n -= 64) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(v0, zero));
    acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(v0, zero));
    acc2 = _mm256_add_epi64(acc2, _mm256_unpacklo_epi32(v1, zero));
    acc3 = _mm256_add_epi64(acc3, _mm256_unpackhi_epi32(v1, zero));
  }
  if (n >= 32) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(v0, zero));
    acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(v0, zero));
  }
  const __m256i acc = _mm256_add_epi64(_mm256_add_epi64(acc0, acc1), _mm256_add_epi64(acc2, acc3));
  alignas(32) u64 lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

WordSumFn pick_word_sum() noexcept {
#ifdef PASST_CSUM_AVX2
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return word_sum_avx2;
#endif
  return word_sum_scalar;
}

const WordSumFn g_word_sum = pick_word_sum();

}  // namespace

const char* csum_impl_name() noexcept {
#ifdef PASST_CSUM_AVX2
  if (g_word_sum == word_sum_avx2) return "avx2";
#endif
  return "scalar";
}

u16 csum_words_scalar_for_test(Bytes data) noexcept {
  return fold64(word_sum_scalar(data.data(), data.size() & ~std::size_t{31}));
}

u16 csum_words_best_for_test(Bytes data) noexcept {
  return fold64(g_word_sum(data.data(), data.size() & ~std::size_t{31}));
}

Csum& Csum::add(Bytes data) noexcept {
  const u8* p = data.data();
  std::size_t n = data.size();
  if (n == 0) return *this;
  if (odd_) {
    // The previous chunk ended mid-word: this byte is the low half.
    sum_ += p[0];
    p++;
    n--;
    odd_ = false;
  }
  // Sum 32-bit native-order words into a 64-bit accumulator, 32 bytes at a
  // time in bulk, then 8 at a time.
  u64 s = 0;
  if (n >= 32) {
    const std::size_t bulk = n & ~std::size_t{31};
    s = g_word_sum(p, bulk);
    p += bulk;
    n -= bulk;
  }
  while (n >= 8) {
    u32 a = 0;
    u32 b = 0;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    s += a;
    s += b;
    p += 8;
    n -= 8;
  }
  // The loads above were native (little-endian on our targets): fold, then
  // swap the 16-bit result into network order (RFC 1071 byte-order
  // independence).
  {
    u16 f = fold64(s);
    if constexpr (std::endian::native == std::endian::little) {
      f = static_cast<u16>((f >> 8) | (f << 8));
    }
    sum_ += f;
  }
  while (n >= 2) {
    sum_ += static_cast<u32>((p[0] << 8) | p[1]);
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    sum_ += static_cast<u32>(p[0] << 8);
    odd_ = true;
  }
  return *this;
}

Csum& Csum::add_u16(u16 host_order) noexcept {
  const u8 b[2] = {static_cast<u8>(host_order >> 8), static_cast<u8>(host_order)};
  return add(Bytes(b, 2));
}

Csum& Csum::add_u32(u32 host_order) noexcept {
  const u8 b[4] = {static_cast<u8>(host_order >> 24), static_cast<u8>(host_order >> 16),
                   static_cast<u8>(host_order >> 8), static_cast<u8>(host_order)};
  return add(Bytes(b, 4));
}

Csum& Csum::add_partial(u32 folded) noexcept {
  // A partial sum stands for word-aligned data: it must be added at an even
  // offset (always true for pseudo-headers, which come first).
  sum_ += folded;
  return *this;
}

u16 Csum::fold() const noexcept { return fold64(sum_); }

u16 ipv4_header_checksum(Bytes hdr) noexcept { return Csum().add(hdr).finish(); }

u32 pseudo_header_v4(Ipv4Addr src, Ipv4Addr dst, u8 proto, u32 l4_len) noexcept {
  Csum c;
  c.add(Bytes(src.b)).add(Bytes(dst.b)).add_u16(proto).add_u16(static_cast<u16>(l4_len));
  return c.fold();
}

u32 pseudo_header_v6(const Ipv6Addr& src, const Ipv6Addr& dst, u8 next_header,
                     u32 l4_len) noexcept {
  Csum c;
  c.add(Bytes(src.b)).add(Bytes(dst.b)).add_u32(l4_len).add_u32(next_header);
  return c.fold();
}

u16 l4_checksum_v4(Ipv4Addr src, Ipv4Addr dst, u8 proto, Bytes l4) noexcept {
  Csum c;
  c.add_partial(pseudo_header_v4(src, dst, proto, static_cast<u32>(l4.size()))).add(l4);
  return c.finish();
}

u16 l4_checksum_v6(const Ipv6Addr& src, const Ipv6Addr& dst, u8 next_header, Bytes l4) noexcept {
  Csum c;
  c.add_partial(pseudo_header_v6(src, dst, next_header, static_cast<u32>(l4.size()))).add(l4);
  return c.finish();
}

u16 csum_update16(u16 old_csum, u16 old_val, u16 new_val) noexcept {
  // HC' = ~(~HC + ~m + m')
  u32 s = static_cast<u16>(~old_csum);
  s += static_cast<u16>(~old_val);
  s += new_val;
  return static_cast<u16>(~fold64(s));
}

u16 csum_update32(u16 old_csum, u32 old_val, u32 new_val) noexcept {
  u16 c = csum_update16(old_csum, static_cast<u16>(old_val >> 16), static_cast<u16>(new_val >> 16));
  return csum_update16(c, static_cast<u16>(old_val), static_cast<u16>(new_val));
}

}  // namespace passt::wire
