// Flow lookup: FlowTable::lookup() (SipHash of the key, open-addressing
// probe, key compare against the flow entry) with 1k and 128k active TCP
// flows in a table of 128k entries (passt's FLOW_MAX), for keys that are
// in the index (hit) and keys that are not (miss).  Keys are visited in a
// shuffled order, so the 128k case measures cache misses as the real
// table does.
#include <algorithm>
#include <memory>

#include "bench_util.hpp"
#include "core/flow_table.hpp"

namespace passt::bench {
namespace {

constexpr u32 kCapacity = 128 * 1024;

struct Payload {
  u64 a = 0;
};

core::FlowSide side_for(u64 r, bool tap) {
  // Guest 198.51.100.x:port <-> remote 203.0.113.y/2001:db8-like spread;
  // IPv4 keys, as most flows are.
  const u32 ip = 0xcb007100u | static_cast<u32>(r & 0xff);  // 203.0.113.x
  const Ipv4Addr remote = Ipv4Addr::from_u32(ip ^ (static_cast<u32>((r >> 8) & 0xffff) << 8));
  const Ipv4Addr guest = Ipv4Addr::of(198, 51, 100, 1);
  const u16 eport = static_cast<u16>(1024 + (r >> 24) % 60000);
  const u16 rport = static_cast<u16>(1 + (r >> 40) % 65535);
  if (tap) return core::FlowSide{InAny::from(remote), InAny::from(guest), rport, eport};
  return core::FlowSide{InAny::from(Ipv4Addr::of(198, 51, 100, 1)), InAny::from(remote), eport, rport};
}

struct Populated {
  std::unique_ptr<core::FlowTable> table;
  std::vector<core::FlowKey> hits;
  std::vector<core::FlowKey> misses;
};

Populated populate(u32 nflows) {
  Populated p;
  p.table = std::make_unique<core::FlowTable>(kCapacity, SipKey{0x0123456789abcdefull, 0xfedcba9876543210ull});
  p.hits.reserve(nflows);
  u64 r = 42;
  for (u32 i = 0; i < nflows; i++) {
    r = mix64(r);
    auto idx = p.table->alloc(core::L4::tcp);
    if (!idx) break;
    p.table->set_ini(*idx, core::Pif::tap, side_for(r, true));
    p.table->set_tgt(*idx, core::Pif::host, side_for(r, false));
    p.table->set_type<Payload>(*idx, core::FlowType::tcp);
    p.table->activate(*idx);
    p.hits.push_back(core::FlowTable::key_of(p.table->at(*idx), core::kIniSide));
  }
  // Misses: the same shape of key, another guest port range.
  p.misses = p.hits;
  for (auto& k : p.misses) k.oport = static_cast<u16>(k.oport ^ 0x8000u);
  u64 s = 99;
  for (std::size_t i = p.hits.size(); i > 1; i--) {
    s = mix64(s);
    std::swap(p.hits[i - 1], p.hits[s % i]);
    std::swap(p.misses[i - 1], p.misses[s % i]);
  }
  return p;
}

// Tables are built once per size and kept for the whole process: GB calls
// a benchmark function several times per repetition, and building 128k
// flows costs more than measuring them.
const Populated& populated(u32 nflows) {
  static Populated small;
  static Populated large;
  Populated& p = nflows <= 1024 ? small : large;
  if (!p.table || p.hits.size() != nflows) p = populate(nflows);
  return p;
}

void BM_flow_lookup(benchmark::State& state, bool hit) {
  const auto n = static_cast<u32>(state.range(0));
  const Populated& p = populated(n);
  if (p.hits.size() != n) {
    state.SkipWithError("could not allocate the flows");
    return;
  }
  const std::vector<core::FlowKey>& keys = hit ? p.hits : p.misses;
  // The walk through the keys goes on where the previous call stopped: a
  // run of few iterations must not revisit the keys (and the cache lines)
  // the previous runs warmed up.
  static std::size_t cursor[2][2] = {};
  std::size_t& i = cursor[hit ? 1 : 0][n <= 1024 ? 0 : 1];
  if (i >= keys.size()) i = 0;
  u64 found = 0;
  fresh_slice();
  for (auto _ : state) {
    core::FlowSidx s = p.table->lookup(keys[i]);
    found += s.valid() ? 1u : 0u;
    if (++i == keys.size()) i = 0;
  }
  benchmark::DoNotOptimize(found);
  const u64 want = hit ? static_cast<u64>(state.iterations()) : 0;
  if (found != want) state.SkipWithError("lookup result differs from the expectation");
}
BENCHMARK_CAPTURE(BM_flow_lookup, hit, true)->Name("flow_lookup_hit")->Arg(1024)->Arg(kCapacity);
BENCHMARK_CAPTURE(BM_flow_lookup, miss, false)->Name("flow_lookup_miss")->Arg(1024)->Arg(kCapacity);

}  // namespace
}  // namespace passt::bench
