// Frame building: a TCP data segment towards the guest, built into the
// TapOut batch the way the TCP data path does it (src/proto/tcp.cpp
// data_from_sock + write_headers, which are private: this file repeats
// their public-API calls).  Per frame: reserve, copy the payload in (the
// stand-in for the MSG_PEEK copy out of the socket), Ethernet + IP + TCP
// headers with the TCP checksum over the payload, commit with a tag; a
// flush to a NullTap every kBatch frames or kBatchBytes bytes, as at the end
// of an event batch.  The byte bound keeps the batch in the L2 cache: with
// 64 frames of 64 KiB (4 MiB) the figure would be the machine's DRAM write
// bandwidth, not our code.
#include <algorithm>
#include <array>
#include <cstring>

#include "bench_util.hpp"
#include "proto/tap_out.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace passt::bench {
namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kBatchBytes = 256 * 1024;
constexpr std::size_t kArena = std::size_t{8} << 20;

const MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddr kOurMac{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};

struct Segment {
  bool v6 = false;
  std::size_t payload = 0;
};

std::size_t header_len(bool v6) {
  return wire::kEthHeaderLen + (v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen) +
         wire::kTcpHeaderLen;
}

// One frame: the headers written exactly as the data path writes them.
bool build(proto::TapOut& out, const Segment& s, Bytes payload, u32 seq) {
  const std::size_t hdr = header_len(s.v6);
  const std::size_t len = hdr + s.payload;
  MutBytes b = out.reserve(len);
  if (b.size() < len) {
    out.abandon();
    return false;
  }
  std::memcpy(b.data() + hdr, payload.data(), s.payload);
  wire::TcpRepr t;
  t.src_port = 5201;
  t.dst_port = 40000;
  t.seq = Seq{seq};
  t.ack = Seq{0x01020304};
  t.flags = wire::tcp_flag::ack;
  t.window = 65535;
  t.payload_len = s.payload;
  const u16 l4len = static_cast<u16>(t.length());
  wire::EthernetRepr eth{kGuestMac, kOurMac, s.v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(b);
  if (!s.v6) {
    wire::Ipv4Repr ip;
    ip.src = Ipv4Addr::of(203, 0, 113, 1);
    ip.dst = Ipv4Addr::of(198, 51, 100, 1);
    ip.protocol = wire::ipproto::tcp;
    ip.payload_len = l4len;
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    (void)t.emit(b.subspan(wire::kEthHeaderLen + wire::kIpv4HeaderLen, l4len), ip.src, ip.dst);
  } else {
    wire::Ipv6Repr ip;
    ip.src = Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    ip.dst = Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    ip.next_header = wire::ipproto::tcp;
    ip.flow_label = 0x12345;
    ip.payload_len = l4len;
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    (void)t.emit(b.subspan(wire::kEthHeaderLen + wire::kIpv6HeaderLen, l4len), ip.src, ip.dst);
  }
  out.commit(len, u64{seq} | 1);
  return true;
}

void BM_tcp_frame(benchmark::State& state, bool v6) {
  const Segment s{v6, static_cast<std::size_t>(state.range(0))};
  std::vector<u8> payload = pattern(s.payload + 1);
  NullTap tap;
  proto::TapOut out(tap, 2 * kBatch, kArena);
  u32 seq = 1;
  // Warm-up: touch the arena once so page faults stay out of the timing.
  for (std::size_t i = 0; i < kBatch; i++) (void)build(out, s, Bytes(payload), seq);
  out.flush();
  const std::size_t frame_len = header_len(v6) + s.payload;
  const std::size_t per_batch = std::max<std::size_t>(1, std::min(kBatch, kBatchBytes / frame_len));
  std::size_t queued = 0;
  bool ok = true;
  fresh_slice();
  for (auto _ : state) {
    if (!build(out, s, Bytes(payload), seq)) {
      ok = false;
      break;
    }
    seq += static_cast<u32>(s.payload);
    if (++queued == per_batch) {
      out.flush();
      queued = 0;
    }
  }
  out.flush();
  if (!ok) state.SkipWithError("frame does not fit the arena");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<i64>(header_len(v6) + s.payload));
}
BENCHMARK_CAPTURE(BM_tcp_frame, v4, false)->Name("tcp_frame_v4")->Arg(0)->Arg(1460)->Arg(65480);
BENCHMARK_CAPTURE(BM_tcp_frame, v6, true)->Name("tcp_frame_v6")->Arg(0)->Arg(1440)->Arg(65460);

// The batched form: reserve_many() for kBatch frames of one MSS, fill all,
// headers, commit_many(), flush.  One iteration = one batch.
void BM_tcp_batch_v4(benchmark::State& state) {
  const auto mss = static_cast<std::size_t>(state.range(0));
  const std::size_t hdr = header_len(false);
  std::vector<u8> payload = pattern(mss);
  NullTap tap;
  proto::TapOut out(tap, 2 * kBatch, kArena);
  std::array<MutBytes, kBatch> bufs{};
  std::array<std::size_t, kBatch> lens{};
  std::array<u64, kBatch> tags{};
  u32 seq = 1;
  bool ok = true;
  fresh_slice();
  for (auto _ : state) {
    const std::size_t n = out.reserve_many(hdr + mss, std::span<MutBytes>(bufs));
    if (n != kBatch) {
      ok = false;
      break;
    }
    for (std::size_t i = 0; i < n; i++) {
      MutBytes b = bufs[i];
      std::memcpy(b.data() + hdr, payload.data(), mss);
      wire::TcpRepr t;
      t.src_port = 5201;
      t.dst_port = 40000;
      t.seq = Seq{seq};
      t.ack = Seq{0x01020304};
      t.flags = static_cast<u8>(wire::tcp_flag::ack | (i + 1 == n ? wire::tcp_flag::psh : 0));
      t.window = 65535;
      t.payload_len = mss;
      wire::EthernetRepr eth{kGuestMac, kOurMac, wire::ethertype::ipv4};
      (void)eth.emit(b);
      wire::Ipv4Repr ip;
      ip.src = Ipv4Addr::of(203, 0, 113, 1);
      ip.dst = Ipv4Addr::of(198, 51, 100, 1);
      ip.protocol = wire::ipproto::tcp;
      ip.payload_len = static_cast<u16>(t.length());
      (void)ip.emit(b.subspan(wire::kEthHeaderLen));
      (void)t.emit(b.subspan(wire::kEthHeaderLen + wire::kIpv4HeaderLen), ip.src, ip.dst);
      lens[i] = hdr + mss;
      tags[i] = u64{seq} | 1;
      seq += static_cast<u32>(mss);
    }
    out.commit_many(std::span<const std::size_t>(lens.data(), n), std::span<const u64>(tags.data(), n));
    out.flush();
  }
  if (!ok) state.SkipWithError("reserve_many() reserved fewer frames than asked");
  state.SetItemsProcessed(state.iterations() * static_cast<i64>(kBatch));
  state.SetBytesProcessed(state.iterations() * static_cast<i64>(kBatch * (hdr + mss)));
}
BENCHMARK(BM_tcp_batch_v4)->Name("tcp_batch_v4")->Arg(1460);

}  // namespace
}  // namespace passt::bench
