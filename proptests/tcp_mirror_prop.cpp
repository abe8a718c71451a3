// Properties of the ACK/window mirroring function (src/proto/tcp_mirror.hpp).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "proto/tcp_mirror.hpp"

namespace passt::proto {
namespace {

ports::TcpInfo gen_info() {
  ports::TcpInfo i;
  i.has_snd_wnd = *rc::gen::arbitrary<bool>();
  i.has_bytes_acked = *rc::gen::arbitrary<bool>();
  i.has_min_rtt = *rc::gen::arbitrary<bool>();
  i.snd_wnd = *rc::gen::oneOf(rc::gen::inRange<u32>(0, 70000), rc::gen::arbitrary<u32>());
  i.snd_wscale = *rc::gen::inRange<u8>(0, 15);
  return i;
}

u32 gen_sndbuf() {
  return *rc::gen::oneOf(rc::gen::inRange<u32>(0, 200000), rc::gen::inRange<u32>(100000, 9000000),
                         rc::gen::arbitrary<u32>());
}

// A connection's life: the host socket accepts more bytes, the far end
// acknowledges more of them, the modes (local, buffer size, closing, which
// TCP_INFO fields exist) change at random.  Whatever happens, the ACK we
// send never goes backwards and never covers a byte the socket did not take.
RC_GTEST_PROP(TcpMirrorProp, AckMonotonicAndBounded, ()) {
  const Seq init{*rc::gen::arbitrary<u32>()};
  u64 written = 0;
  u64 acked = 0;
  Seq prev = init;
  const auto steps = *rc::gen::inRange<int>(1, 80);
  for (int k = 0; k < steps; k++) {
    written += *rc::gen::oneOf(rc::gen::just<u64>(0), rc::gen::inRange<u64>(0, 70000),
                               rc::gen::inRange<u64>(0, 1u << 24));
    acked += *rc::gen::inRange<u64>(0, written - acked + 1);
    MirrorIn in;
    in.seq_init_from_tap = init;
    in.seq_from_tap = init + static_cast<u32>(written);
    in.seq_ack_to_tap = prev;
    in.have_info = *rc::gen::weightedElement<bool>({{9, true}, {1, false}});
    in.info = gen_info();
    in.info.bytes_acked = acked;
    in.sndbuf = gen_sndbuf();
    in.local = *rc::gen::weightedElement<bool>({{1, true}, {4, false}});
    in.closing = *rc::gen::weightedElement<bool>({{1, true}, {6, false}});
    in.force_seq = *rc::gen::weightedElement<bool>({{1, true}, {9, false}});
    in.established = *rc::gen::arbitrary<bool>();
    in.ws_to_tap = *rc::gen::inRange<u8>(0, 15);
    const MirrorOut out = tcp_mirror(in);
    RC_ASSERT(!seq_lt(out.ack, prev));
    RC_ASSERT(!seq_gt(out.ack, in.seq_from_tap));
    RC_ASSERT(out.ack_lagging == (out.ack != in.seq_from_tap));
    if (out.ack_is_seq) RC_ASSERT(out.ack == in.seq_from_tap);
    const bool fallback = in.sndbuf < kSndbufSmall || in.local || in.closing || in.force_seq ||
                          !in.have_info || !in.info.has_bytes_acked;
    RC_ASSERT(out.ack_is_seq == fallback);
    if (!fallback) {
      // End to end: exactly what the far end acknowledged (or the last ACK
      // if that was more, after a mode switch).
      const Seq e2e = init + static_cast<u32>(acked);
      RC_ASSERT(out.ack == seq_max(e2e, prev));
    }
    prev = out.ack;
  }
}

// The window fits the scale, respects the caps, and never offers more than
// the far end or the send buffer can take once the connection is up.
RC_GTEST_PROP(TcpMirrorProp, WindowFitsScaleAndCaps, ()) {
  MirrorIn in;
  in.seq_init_from_tap = Seq{*rc::gen::arbitrary<u32>()};
  in.seq_from_tap = in.seq_init_from_tap;
  in.seq_ack_to_tap = in.seq_init_from_tap;
  in.have_info = *rc::gen::arbitrary<bool>();
  in.info = gen_info();
  in.sndbuf = gen_sndbuf();
  in.local = *rc::gen::arbitrary<bool>();
  in.established = *rc::gen::arbitrary<bool>();
  in.ws_to_tap = *rc::gen::inRange<u8>(0, 15);
  const MirrorOut out = tcp_mirror(in);
  const u8 ws = in.ws_to_tap > 14 ? 14 : in.ws_to_tap;
  const u64 field = static_cast<u64>(out.wnd_field);
  RC_ASSERT(out.wnd <= kMaxWindow);
  RC_ASSERT(field == std::min<u64>(out.wnd >> ws, 65535));
  RC_ASSERT((field << ws) <= out.wnd);
  // Rounding loses less than one unit of the scale (unless clamped).
  if (field < 65535) RC_ASSERT(out.wnd - (field << ws) < (u64{1} << ws));
  if (!in.established) RC_ASSERT(out.wnd >= kWindowDefault);
  if (in.established) {
    const bool snd_wnd = in.have_info && in.info.has_snd_wnd;
    if (snd_wnd) RC_ASSERT(out.wnd <= in.info.snd_wnd);
    if (!snd_wnd || !in.local) RC_ASSERT(out.wnd <= sndbuf_usable(in.sndbuf));
    if (snd_wnd && in.local) RC_ASSERT(out.wnd == std::min<u64>(in.info.snd_wnd, kMaxWindow));
  }
}

// With the send queue known, the right edge of the window (ACK + window)
// never passes what the send buffer can take: bytes the far end has
// acknowledged plus the usable buffer.  A segment inside the window is
// therefore never refused by the socket.  The tap queue cap holds too.
RC_GTEST_PROP(TcpMirrorProp, WindowFitsTheSendBuffer, ()) {
  MirrorIn in;
  in.seq_init_from_tap = Seq{*rc::gen::arbitrary<u32>()};
  const u32 written = *rc::gen::inRange<u32>(0, 1u << 26);
  in.seq_from_tap = in.seq_init_from_tap + written;
  in.sndbuf = gen_sndbuf();
  const u32 usable = sndbuf_usable(in.sndbuf);
  in.have_sendq = true;
  in.sendq = *rc::gen::inRange<u32>(0, std::min(written, usable) + 1);
  const u32 acked_by_peer = written - in.sendq;
  in.seq_ack_to_tap = in.seq_init_from_tap + *rc::gen::inRange<u32>(0, acked_by_peer + 1);
  in.have_info = *rc::gen::arbitrary<bool>();
  in.info = gen_info();
  in.info.bytes_acked = acked_by_peer;
  in.local = *rc::gen::arbitrary<bool>();
  in.force_seq = *rc::gen::arbitrary<bool>();
  in.established = true;
  in.ws_to_tap = *rc::gen::inRange<u8>(0, 15);
  in.wnd_cap = *rc::gen::oneOf(rc::gen::just<u32>(0), rc::gen::inRange<u32>(1, 1u << 24));
  const MirrorOut out = tcp_mirror(in);
  const u64 right = static_cast<u64>(out.ack.diff(in.seq_init_from_tap)) + out.wnd;
  RC_ASSERT(right <= static_cast<u64>(acked_by_peer) + usable);
  if (in.wnd_cap != 0) RC_ASSERT(out.wnd <= in.wnd_cap);
}

RC_GTEST_PROP(TcpMirrorProp, SndbufTaper, ()) {
  const u32 s = gen_sndbuf();
  const u32 u = sndbuf_usable(s);
  RC_ASSERT(u <= s);
  if (s <= kSndbufSmall) RC_ASSERT(u == s);
  if (s >= kSndbufBig) RC_ASSERT(u == s / 2);
  if (s > kSndbufSmall && s < kSndbufBig) {
    RC_ASSERT(u >= s / 2);
    RC_ASSERT(u < s);
  }
}

}  // namespace
}  // namespace passt::proto
