// Internet checksum: the full sum over a buffer (every frame to and from
// the guest pays it once), the pseudo-header + L4 form the data path uses,
// a chunked sum (pseudo-header partial, header, payload with an odd split)
// and the RFC 1624 incremental updates.
#include "bench_util.hpp"
#include "wire/checksum.hpp"

namespace passt::bench {
namespace {

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {64, 256, 576, 1500, 4096, 9000, 16384, 65535}) b->Arg(n);
}

void BM_csum_full(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<u8> buf = pattern(n);
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    u16 c = wire::Csum().add(Bytes(buf)).finish();
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_csum_full)->Name("csum_full")->Apply(sizes);

void BM_csum_l4_v4(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<u8> buf = pattern(n);
  const Ipv4Addr src = Ipv4Addr::of(198, 51, 100, 1);
  const Ipv4Addr dst = Ipv4Addr::of(203, 0, 113, 1);
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    u16 c = wire::l4_checksum_v4(src, dst, 6, Bytes(buf));
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_csum_l4_v4)->Name("csum_l4_v4")->Arg(64)->Arg(1500)->Arg(65535);

void BM_csum_l4_v6(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<u8> buf = pattern(n);
  const Ipv6Addr src{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  const Ipv6Addr dst{{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    u16 c = wire::l4_checksum_v6(src, dst, 6, Bytes(buf));
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_csum_l4_v6)->Name("csum_l4_v6")->Arg(1500)->Arg(65535);

// Incremental in the streaming sense: a cached pseudo-header partial, then
// a 20-byte header, then the payload in two pieces split at an odd offset
// (the Csum carries the odd byte across).
void BM_csum_chunked(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<u8> buf = pattern(n);
  const u32 pseudo = wire::pseudo_header_v4(Ipv4Addr::of(198, 51, 100, 1),
                                            Ipv4Addr::of(203, 0, 113, 1), 6, static_cast<u32>(n));
  const std::size_t hdr = n < 20 ? n : 20;
  const std::size_t split = hdr + (n - hdr) / 2 + 1 < n ? hdr + (n - hdr) / 2 + 1 : n;
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    wire::Csum c;
    c.add_partial(pseudo);
    c.add(Bytes(buf).first(hdr));
    c.add(Bytes(buf).subspan(hdr, split - hdr));
    c.add(Bytes(buf).subspan(split));
    u16 r = c.finish();
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_csum_chunked)->Name("csum_chunked")->Arg(64)->Arg(1500)->Arg(65535);

// RFC 1624 updates: 64 per iteration (a batch of NAT or sequence rewrites).
void BM_csum_update(benchmark::State& state) {
  std::vector<u8> vals = pattern(64 * 8);
  u16 c = 0x1234;
  fresh_slice();
  for (auto _ : state) {
    benchmark::DoNotOptimize(vals.data());
    for (std::size_t i = 0; i < 64; i += 2) {
      const u8* p = vals.data() + i * 8;
      const u16 a = static_cast<u16>(p[0] << 8 | p[1]);
      const u16 b = static_cast<u16>(p[2] << 8 | p[3]);
      c = wire::csum_update16(c, a, b);
      const u32 x = static_cast<u32>(p[4]) << 24 | static_cast<u32>(p[5]) << 16 |
                    static_cast<u32>(p[6]) << 8 | p[7];
      c = wire::csum_update32(c, x, x + 0x10001u);
    }
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_csum_update)->Name("csum_update");

}  // namespace
}  // namespace passt::bench
