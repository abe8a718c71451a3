// The TCP mirroring function (src/proto/tcp_mirror.hpp): ACK number and
// window for the next segment to the guest from one TCP_INFO snapshot.  It
// runs for every segment and ACK we send, so it must stay cheap.  The
// inputs cycle through the cases the function distinguishes (bytes_acked
// mirroring, small send buffer, local peer, no snd_wnd, closing, before
// the handshake), so that one branch pattern does not flatter it.
#include <array>

#include "bench_util.hpp"
#include "proto/tcp_mirror.hpp"

namespace passt::bench {
namespace {

std::array<proto::MirrorIn, 8> inputs() {
  std::array<proto::MirrorIn, 8> in{};
  for (std::size_t i = 0; i < in.size(); i++) {
    proto::MirrorIn& m = in[i];
    m.seq_init_from_tap = Seq{1000};
    m.seq_from_tap = Seq{1000 + 5'000'000};
    m.seq_ack_to_tap = Seq{1000 + 4'000'000};
    m.have_info = true;
    m.info.state = 1;
    m.info.snd_mss = 1460;
    m.info.rtt_us = 2000;
    m.info.snd_wnd = 3'000'000;
    m.info.has_snd_wnd = true;
    m.info.bytes_acked = 4'500'000;
    m.info.has_bytes_acked = true;
    m.sndbuf = 6 * 1024 * 1024;
    m.established = true;
    m.ws_to_tap = 8;
    m.have_sendq = true;
    m.sendq = 200'000;
    m.wnd_cap = 4096 * 1460;
  }
  in[1].sndbuf = 64 * 1024;                      // small buffer: ACK what the socket took
  in[2].local = true;                            // local peer
  in[3].info.has_snd_wnd = false;                // old kernel: SO_SNDBUF estimate
  in[4].closing = true;                          // FIN seen
  in[5].established = false;                     // handshake: initial window floor
  in[5].info.snd_wnd = 1000;
  in[6].have_info = false;                       // TCP_INFO failed
  in[7].sndbuf = 1024 * 1024;                    // the taper between 128 KiB and 4 MiB
  in[7].info.bytes_acked = 3'000'000;            // ACK behind the last one sent
  return in;
}

void BM_tcp_mirror(benchmark::State& state) {
  const std::array<proto::MirrorIn, 8> in = inputs();
  u64 acc = 0;
  // One iteration: the eight cases once each.
  fresh_slice();
  for (auto _ : state) {
    for (const proto::MirrorIn& m : in) {
      benchmark::DoNotOptimize(&m);
      proto::MirrorOut o = proto::tcp_mirror(m);
      acc += o.ack.v + o.wnd_field;
    }
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(state.iterations() * 8);
}
BENCHMARK(BM_tcp_mirror)->Name("tcp_mirror");

}  // namespace
}  // namespace passt::bench
