// Reference computations.  They measure the machine, not our code: the
// regression guard divides each hot path's time by the time of a reference
// measured in the same run (ci/bench/baseline.json), so that a slower CPU
// cancels out of the ratio.
//
//   ref_alu           a fixed dependent chain of 64 splitmix64 steps: the
//                     guard's reference for every CPU-bound path
//   ref_socketpair/N  write() N bytes into an AF_UNIX stream socketpair and
//                     recv() them on the other end: the reference for the
//                     qemu stream path (the same kernel copy without our
//                     parse)
//   ref_sum/N         plain 64-bit word sum over N bytes
//   ref_memcpy/N      memcpy of N bytes (libc's)
//   ref_chase/MiB     16 dependent loads in a random cycle over MiB of memory
//
// The last three pair naturally with checksums, frame building and lookups
// in a large table, but on the shared machines here other processes' memory
// traffic moves them independently of our code, so the guard does not use
// them (docs/performance.md, "Choosing the references"); they stay for
// reading the machine's memory speed next to the hot paths.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <numeric>

#include "bench_util.hpp"

namespace passt::bench {
namespace {

void BM_ref_sum(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<u8> buf = pattern(n);
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    const u8* p = buf.data();
    u64 s = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      u64 w;
      std::memcpy(&w, p + i, 8);
      s += w;
    }
    for (; i < n; i++) s += p[i];
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ref_sum)->Name("ref_sum")->Arg(64)->Arg(256)->Arg(1500)->Arg(4096)->Arg(16384)->Arg(65535);

void BM_ref_memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  // Source and destination in one buffer, 2 KiB off a multiple of 4 KiB
  // apart: with a distance close to a multiple of 4096 (as two equal
  // back-to-back allocations give) the copy's loads falsely alias its stores
  // and run several times slower, which would make this reference erratic.
  std::vector<u8> buf = pattern(2 * n + 8192);
  const std::size_t dst_off = ((n + 4095) & ~std::size_t{4095}) + 2048;
  const u8* src = buf.data();
  u8* dst = buf.data() + dst_off;
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(src);
    std::memcpy(dst, src, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ref_memcpy)->Name("ref_memcpy")->Arg(1500)->Arg(65535);

void BM_ref_alu(benchmark::State& state) {
  u64 x = 1;
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    for (int i = 0; i < 64; i++) x = mix64(x);
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(BM_ref_alu)->Name("ref_alu");

// Built once per process: the shuffle of 8M slots costs more than a run.
const std::vector<u32>& chase_cycle(std::size_t mib) {
  static std::size_t built_mib = 0;
  static std::vector<u32> next;
  if (built_mib != mib) {
    // One random cycle through all slots (Sattolo's shuffle), so every load
    // depends on the previous one and the prefetchers cannot help.
    const std::size_t n = mib * (std::size_t{1} << 20) / sizeof(u32);
    next.assign(n, 0);
    std::iota(next.begin(), next.end(), 0u);
    u64 r = 7;
    for (std::size_t i = n - 1; i > 0; i--) {
      r = mix64(r);
      const std::size_t j = r % i;
      std::swap(next[i], next[j]);
    }
    built_mib = mib;
  }
  return next;
}

void BM_ref_chase(benchmark::State& state) {
  const std::vector<u32>& next = chase_cycle(static_cast<std::size_t>(state.range(0)));
  u32 at = 0;
  fresh_slice();
  for (auto _ : state) {
    for (int i = 0; i < 16; i++) at = next[at];
    benchmark::DoNotOptimize(at);
  }
}
BENCHMARK(BM_ref_chase)->Name("ref_chase")->Arg(32);

void BM_ref_socketpair(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  std::vector<u8> out = pattern(n);
  std::vector<u8> in(n + 4096);
  bool ok = true;
  fresh_slice();
  for (auto _ : state) {
    // Bounded: a stream socketpair with an empty queue takes and returns
    // these few kilobytes in one call each; anything else is an error.
    ssize_t w = ::write(sv[1], out.data(), n);
    ssize_t r = ::recv(sv[0], in.data(), in.size(), MSG_DONTWAIT);
    if (w != static_cast<ssize_t>(n) || r != static_cast<ssize_t>(n)) {
      ok = false;
      break;
    }
  }
  ::close(sv[0]);
  ::close(sv[1]);
  if (!ok) state.SkipWithError("short write or read on the socketpair");
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ref_socketpair)->Name("ref_socketpair")->Arg(17408)->Arg(97152);

}  // namespace
}  // namespace passt::bench
