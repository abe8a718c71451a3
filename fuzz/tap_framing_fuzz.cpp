// The tap framing of passt's qemu socket (QemuStream, linux/qemu_stream.hpp):
// a 4-byte big-endian length before each Ethernet frame.  The real
// QemuStream reads the input from a socketpair, written in pieces whose
// sizes come from the input too (so prefixes and frames are cut anywhere),
// with a per-call frame limit from the input.  Properties:
//
//   * the frames handed to the engine are exactly those of a reference
//     parser, byte for byte and in order;
//   * a length below 14 or above 65535 resets the connection: the frames
//     before it are delivered, none after;
//   * a frame cut short by the end of the stream is never delivered;
//   * no batch exceeds the configured frame limit.
//
// Then the send side: the first frames are sent back with QemuStream::send()
// and the bytes read from the peer must be exactly [length][frame]...
//
// Input: byte 0 = max frames per batch (1..32 and "all"); byte 1 = seed of
// the piece sizes; the rest is the stream.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "linux/clock.hpp"
#include "linux/event_loop.hpp"
#include "linux/qemu_stream.hpp"
#include "ports/hostnet.hpp"
#include "util/endian.hpp"

namespace {

using namespace passt;

struct Sink final : ports::EventSink {
  void on_tap_frames(std::span<const Bytes> frames, Instant) noexcept override {
    PASST_CHECK(frames.size() <= max_batch);
    for (Bytes f : frames) got.emplace_back(f.begin(), f.end());
  }
  void on_tap_state(bool c, Instant) noexcept override { connected = c; }
  void on_socket_event(u64, u32, Instant) noexcept override {}
  void on_deadline(Instant) noexcept override {}
  void flush(Instant) noexcept override {}
  Instant next_deadline() const noexcept override { return Instant::never(); }

  std::size_t max_batch = 0;
  bool connected = true;
  std::vector<std::vector<u8>> got;
};

struct Reference {
  std::vector<std::vector<u8>> frames;
  bool violation = false;
};

Reference parse(const u8* d, std::size_t n) {
  Reference r;
  std::size_t pos = 0;
  while (pos + 4 <= n) {
    const u32 len = load_be32(d + pos);
    if (len < os::QemuStream::kMinFrame || len > os::QemuStream::kMaxFrame) {
      r.violation = true;
      break;
    }
    if (pos + 4 + len > n) break;
    r.frames.emplace_back(d + pos + 4, d + pos + 4 + len);
    pos += 4 + len;
  }
  return r;
}

u32 next(u32& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max_frames = data[0] % 33 == 0 ? 16384 : data[0] % 33;
  u32 seed = 0x9e3779b9u ^ data[1];
  const u8* stream = data + 2;
  const std::size_t n = size - 2;

  static os::MonotonicClock clock;
  os::EventLoop loop(clock);
  PASST_CHECK(loop.init().ok());
  int sv[2];
  PASST_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  int sz = 1 << 20;
  (void)::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  (void)::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  os::QemuStream::Options o;
  o.max_frames = max_frames;
  o.buf_bytes = os::QemuStream::kLenPrefix + os::QemuStream::kMaxFrame + 1;  // the smallest
  os::QemuStream qs(loop, o);
  PASST_CHECK(qs.init().ok());
  PASST_CHECK(qs.attach(sv[1]).ok());
  Sink sink;
  sink.max_batch = max_frames;
  const Instant now = clock.now();

  // Write the stream in pieces, letting QemuStream read after each.
  std::size_t pos = 0;
  while (pos < n && qs.client_fd() >= 0) {
    std::size_t piece = 1 + next(seed) % (next(seed) % 4 == 0 ? 7 : 70000);
    if (piece > n - pos) piece = n - pos;
    const ssize_t w = ::send(sv[0], stream + pos, piece, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w <= 0) break;  // the connection was reset
    pos += static_cast<std::size_t>(w);
    // Until QemuStream has read all of it (each call reads at most its
    // buffer), or has closed the connection.
    for (int i = 0; i < 64 && qs.client_fd() >= 0; i++) {
      int queued = 0;
      if (::ioctl(sv[1], FIONREAD, &queued) < 0 || queued == 0) break;
      qs.on_fd_event(qs.client_fd(), ports::ev::in, now, sink);
    }
  }
  const Reference ref = parse(stream, pos);

  PASST_CHECK(sink.got.size() == ref.frames.size());
  for (std::size_t i = 0; i < ref.frames.size(); i++) PASST_CHECK(sink.got[i] == ref.frames[i]);
  if (ref.violation) {
    PASST_CHECK(qs.stats().resets >= 1);
    PASST_CHECK(qs.client_fd() < 0 || !qs.connected());
  }
  PASST_CHECK(qs.stats().rx_frames == ref.frames.size());

  // The send side: whole frames back, framed.
  if (qs.connected() && !ref.frames.empty()) {
    std::vector<Bytes> out;
    std::size_t total = 0;
    for (const auto& f : ref.frames) {
      if (out.size() == 64 || total + f.size() > 400000) break;
      out.emplace_back(f);
      total += 4 + f.size();
    }
    const std::size_t sent = qs.send(out);
    PASST_CHECK(sent == out.size());
    std::vector<u8> back(total + 1);
    std::size_t got = 0;
    while (got < total) {
      const ssize_t r = ::recv(sv[0], back.data() + got, back.size() - got, MSG_DONTWAIT);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    PASST_CHECK(got == total);
    const Reference again = parse(back.data(), got);
    PASST_CHECK(!again.violation && again.frames.size() == out.size());
    for (std::size_t i = 0; i < out.size(); i++)
      PASST_CHECK(again.frames[i] == ref.frames[i]);
  }
  qs.detach();
  ::close(sv[0]);
  return 0;
}
