#include "proto/tcp_mirror.hpp"

namespace passt::proto {

u32 sndbuf_usable(u32 sndbuf) noexcept {
  if (sndbuf <= kSndbufSmall) return sndbuf;
  if (sndbuf >= kSndbufBig) return sndbuf / 2;
  // Linear taper of the usable fraction from 100 % at SNDBUF_SMALL to 50 %
  // at SNDBUF_BIG: the kernel needs the rest for its own bookkeeping, and a
  // big buffer filled to the brim mostly adds latency.
  const u64 s = sndbuf;
  const u64 cut = s * (s - kSndbufSmall) / (kSndbufBig - kSndbufSmall) / 2;
  return static_cast<u32>(s - cut);
}

MirrorOut tcp_mirror(const MirrorIn& in) noexcept {
  MirrorOut out;

  // --- ACK ---------------------------------------------------------------
  const bool bytes_acked = in.have_info && in.info.has_bytes_acked;
  out.ack_is_seq = in.sndbuf < kSndbufSmall || in.local || in.closing || in.force_seq ||
                   !bytes_acked;
  Seq ack = out.ack_is_seq ? in.seq_from_tap
                           : in.seq_init_from_tap + static_cast<u32>(in.info.bytes_acked);
  if (seq_lt(ack, in.seq_ack_to_tap)) ack = in.seq_ack_to_tap;
  if (seq_gt(ack, in.seq_from_tap)) ack = in.seq_from_tap;
  out.ack = ack;
  out.ack_lagging = ack != in.seq_from_tap;

  // --- window --------------------------------------------------------------
  u64 wnd = 0;
  if (in.have_info && in.info.has_snd_wnd) {
    wnd = in.info.snd_wnd;
    if (!in.local) {
      const u32 usable = sndbuf_usable(in.sndbuf);
      if (usable < wnd) wnd = usable;
    }
  } else {
    wnd = sndbuf_usable(in.sndbuf);
  }
  if (in.established && in.have_sendq) {
    // Room in the send buffer for what the guest may still send: the usable
    // buffer minus what is queued, plus the queued bytes we have not yet
    // acknowledged to the guest (the window counts from our ACK).  Writing
    // more data moves seq_from_tap and sendq together, so the right edge
    // (ack + room) only moves when the far end acknowledges.
    // Signed, clamped only at the end: the queue may exceed the usable
    // estimate (the kernel counts memory; a queued FIN takes a sequence
    // number), and the right edge must hold then too.
    const Seq from = in.have_sent_ack ? in.sent_ack : out.ack;
    i64 room = static_cast<i64>(sndbuf_usable(in.sndbuf)) - static_cast<i64>(in.sendq);
    if (seq_ge(in.seq_from_tap, from)) room += static_cast<i64>(in.seq_from_tap.diff(from));
    if (room < 0) room = 0;
    if (static_cast<u64>(room) < wnd) {
      wnd = static_cast<u64>(room);
      out.wnd_room_limited = true;
    }
  }
  if (in.wnd_cap != 0 && wnd > in.wnd_cap) wnd = in.wnd_cap;
  if (wnd > kMaxWindow) wnd = kMaxWindow;
  if (!in.established && wnd < kWindowDefault) wnd = kWindowDefault;
  out.wnd = static_cast<u32>(wnd);
  const u8 ws = in.ws_to_tap > kMaxWsFromTap ? kMaxWsFromTap : in.ws_to_tap;
  const u64 scaled = wnd >> ws;
  out.wnd_field = static_cast<u16>(scaled > 65535 ? 65535 : scaled);
  return out;
}

}  // namespace passt::proto
