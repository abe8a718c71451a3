// qemu stream tap framing: QemuStream's receive path (src/linux/
// qemu_stream.cpp) takes one recv() of the stream and cuts it into frames
// at the 4-byte big-endian length prefixes, handing them to the engine in
// one on_tap_frames() call.  The parser is private to QemuStream, so this
// measures the whole receive path through the public on_fd_event(): the
// writer's write() of a batch of framed frames into an AF_UNIX socketpair,
// then the recv() and the parse.  ref_socketpair/<bytes> is the same
// write() + a plain recv() of the same bytes: the ratio of the two is the
// cost of our framing and dispatch over the bare kernel copy.
//
// Batches: 256 frames of 64 bytes (17408 bytes on the wire: ACK-sized
// frames, the parse dominates) and 64 frames of 1514 bytes (97152 bytes).
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.hpp"
#include "linux/clock.hpp"
#include "linux/event_loop.hpp"
#include "linux/qemu_stream.hpp"
#include "ports/hostnet.hpp"
#include "util/endian.hpp"

namespace passt::bench {
namespace {

class CountingSink final : public ports::EventSink {
 public:
  void on_tap_frames(std::span<const Bytes> frames, Instant) noexcept override {
    for (Bytes f : frames) bytes += f.size();
    frames_seen += frames.size();
  }
  void on_tap_state(bool c, Instant) noexcept override { connected = c; }
  void on_socket_event(u64, u32, Instant) noexcept override {}
  void on_deadline(Instant) noexcept override {}
  void flush(Instant) noexcept override {}
  Instant next_deadline() const noexcept override { return Instant::never(); }
  u64 frames_seen = 0;
  u64 bytes = 0;
  bool connected = true;
};

std::vector<u8> framed(std::size_t frame_len, std::size_t nframes) {
  std::vector<u8> body = pattern(frame_len);
  std::vector<u8> out;
  out.reserve(nframes * (4 + frame_len));
  for (std::size_t i = 0; i < nframes; i++) {
    u8 h[4];
    store_be32(h, static_cast<u32>(frame_len));
    out.insert(out.end(), h, h + 4);
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

void BM_qemu_stream_rx(benchmark::State& state) {
  const auto frame_len = static_cast<std::size_t>(state.range(0));
  const auto nframes = static_cast<std::size_t>(state.range(1));
  const std::vector<u8> wire_bytes = framed(frame_len, nframes);

  os::MonotonicClock clock;
  os::EventLoop loop(clock);
  os::QemuStream qs(loop);
  int sv[2];
  if (!loop.init() || !qs.init() || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    state.SkipWithError("set-up failed");
    return;
  }
  if (!qs.attach(sv[0])) {  // QemuStream owns sv[0] from here
    ::close(sv[0]);
    ::close(sv[1]);
    state.SkipWithError("attach failed");
    return;
  }
  CountingSink sink;
  const Instant now = clock.now();
  bool ok = true;
  fresh_slice();
  for (auto _ : state) {
    ssize_t w = ::write(sv[1], wire_bytes.data(), wire_bytes.size());
    if (w != static_cast<ssize_t>(wire_bytes.size())) {
      ok = false;
      break;
    }
    const u64 want = sink.frames_seen + nframes;
    // Bounded: one call normally takes everything; a few more at most if
    // the kernel hands the queue out in pieces.
    for (int k = 0; k < 16 && sink.frames_seen < want && sink.connected; k++)
      qs.on_fd_event(sv[0], ports::ev::in, now, sink);
    if (sink.frames_seen != want) {
      ok = false;
      break;
    }
  }
  qs.detach();
  ::close(sv[1]);
  if (!ok) state.SkipWithError("frames lost or connection reset");
  state.SetItemsProcessed(static_cast<i64>(sink.frames_seen));
  state.SetBytesProcessed(state.iterations() * static_cast<i64>(wire_bytes.size()));
}
BENCHMARK(BM_qemu_stream_rx)->Name("qemu_stream_rx")->Args({64, 256})->Args({1514, 64});

}  // namespace
}  // namespace passt::bench
