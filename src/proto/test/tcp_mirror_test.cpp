// The ACK/window mirroring rules, case by case (upstream-behaviour.md 3.8).
#include <gtest/gtest.h>

#include "proto/tcp_conn.hpp"
#include "proto/tcp_mirror.hpp"

namespace passt::proto {
namespace {

MirrorIn base() {
  MirrorIn in;
  in.seq_init_from_tap = Seq{1000};
  in.seq_from_tap = Seq{1000 + 50000};  // the socket took 50000 bytes
  in.seq_ack_to_tap = Seq{1000};
  in.have_info = true;
  in.info.has_snd_wnd = true;
  in.info.has_bytes_acked = true;
  in.info.bytes_acked = 20000;  // the far end acknowledged 20000
  in.info.snd_wnd = 100000;
  in.sndbuf = 1 << 20;
  in.established = true;
  in.ws_to_tap = 7;
  return in;
}

TEST(TcpMirror, AckFollowsBytesAcked) {
  MirrorOut o = tcp_mirror(base());
  EXPECT_EQ(o.ack, Seq{21000});
  EXPECT_FALSE(o.ack_is_seq);
  EXPECT_TRUE(o.ack_lagging);
}

TEST(TcpMirror, WindowNeverOffersMoreThanTheSendBufferCanTake) {
  // 50000 written, 20000 acknowledged by the far end and by us: 30000 queued.
  MirrorIn in = base();
  in.seq_ack_to_tap = Seq{21000};
  in.info.snd_wnd = 1 << 22;
  in.have_sendq = true;
  in.sendq = 30000;
  MirrorOut o = tcp_mirror(in);
  ASSERT_EQ(o.ack, Seq{21000});
  const u32 usable = sndbuf_usable(in.sndbuf);
  // Room = usable - queued + what we still owe the guest an ACK for.
  EXPECT_EQ(o.wnd, usable - 30000 + 30000);
  // A full send buffer closes the window down to what is queued behind our ACK.
  in.sendq = usable;
  o = tcp_mirror(in);
  EXPECT_EQ(o.wnd, 30000u);
  // Writing more moves seq_from_tap and the queue together: same right edge.
  in.sendq = usable - 10000;
  o = tcp_mirror(in);
  in.seq_from_tap = in.seq_from_tap + 5000;
  in.sendq += 5000;
  in.seq_ack_to_tap = Seq{21000};
  MirrorOut o2 = tcp_mirror(in);
  EXPECT_EQ(o2.ack + o2.wnd, o.ack + o.wnd);
  // Before the handshake completes the queue does not count.
  in.established = false;
  EXPECT_GE(tcp_mirror(in).wnd, kWindowDefault);
}

TEST(TcpMirror, RightEdgeHoldsWhenTheQueueExceedsTheUsableBuffer) {
  // The socket may hold more than our usable estimate (the kernel counts
  // memory, not bytes; a queued FIN takes a sequence number too).  Writing
  // more, or the guest's FIN, must still move seq_from_tap and the queue
  // together without moving the window's right edge: the room is clamped
  // at zero only at the end.  (Simulator seed 2073: the checker, reading
  // the state after the FIN, derived one byte more for an ACK built before.)
  MirrorIn in = base();
  in.local = true;
  in.info.snd_wnd = 1 << 22;
  in.sndbuf = 65536;
  in.have_sendq = true;
  in.have_sent_ack = true;
  in.sent_ack = Seq{1000 + 49152};
  in.seq_from_tap = Seq{1000 + 65536};
  const u32 usable = sndbuf_usable(in.sndbuf);
  ASSERT_EQ(usable, 65536u);
  in.sendq = 65536;  // all of it queued
  const MirrorOut before = tcp_mirror(in);
  EXPECT_EQ(before.wnd, 65536u - 49152u);
  in.seq_from_tap = in.seq_from_tap + 1;  // the guest's FIN...
  in.sendq += 1;                          // ...queued behind the data
  EXPECT_EQ(tcp_mirror(in).wnd, before.wnd);
  in.seq_from_tap = in.seq_from_tap + 1000;  // (or more data, had it fitted)
  in.sendq += 1000;
  EXPECT_EQ(tcp_mirror(in).wnd, before.wnd);
  // Far over the estimate: the window closes, it does not go negative.
  in.sendq += 100000;
  EXPECT_EQ(tcp_mirror(in).wnd, 0u);
}

TEST(TcpMirror, WindowCappedByTheTapQueue) {
  MirrorIn in = base();
  in.wnd_cap = 8 * 1460;
  EXPECT_EQ(tcp_mirror(in).wnd, 8u * 1460u);
  in.wnd_cap = 0;
  EXPECT_EQ(tcp_mirror(in).wnd, 100000u);
}

TEST(TcpMirror, SentAckFixesTheOrigin) {
  MirrorIn in = base();
  in.info.snd_wnd = 1 << 20;
  in.have_sendq = true;
  in.sendq = sndbuf_usable(in.sndbuf);
  in.have_sent_ack = true;
  in.sent_ack = Seq{41000};
  EXPECT_EQ(tcp_mirror(in).wnd, 10000u);  // 51000 - 41000
}

TEST(TcpMirror, AckFallsBackToSeqFromTap) {
  const Seq all{51000};
  {
    MirrorIn in = base();
    in.sndbuf = kSndbufSmall - 1;
    EXPECT_EQ(tcp_mirror(in).ack, all) << "small SO_SNDBUF";
  }
  {
    MirrorIn in = base();
    in.local = true;
    EXPECT_EQ(tcp_mirror(in).ack, all) << "local / low RTT";
  }
  {
    MirrorIn in = base();
    in.closing = true;
    EXPECT_EQ(tcp_mirror(in).ack, all) << "closing";
  }
  {
    MirrorIn in = base();
    in.force_seq = true;
    EXPECT_EQ(tcp_mirror(in).ack, all) << "forced";
  }
  {
    MirrorIn in = base();
    in.info.has_bytes_acked = false;
    in.info.bytes_acked = 0;
    EXPECT_EQ(tcp_mirror(in).ack, all) << "no tcpi_bytes_acked";
  }
  {
    MirrorIn in = base();
    in.have_info = false;
    MirrorOut o = tcp_mirror(in);
    EXPECT_EQ(o.ack, all) << "no TCP_INFO";
    EXPECT_FALSE(o.ack_lagging);
  }
}

TEST(TcpMirror, AckNeverBackwardsNorBeyondTheSocket) {
  MirrorIn in = base();
  in.seq_ack_to_tap = Seq{40000};  // sent earlier, in seq_from_tap mode
  EXPECT_EQ(tcp_mirror(in).ack, Seq{40000});
  in.info.bytes_acked = 90000;  // more than the socket ever took: clamp
  EXPECT_EQ(tcp_mirror(in).ack, Seq{51000});
}

TEST(TcpMirror, AckWrapsAround) {
  MirrorIn in = base();
  in.seq_init_from_tap = Seq{0xfffff000u};
  in.seq_from_tap = Seq{0xfffff000u + 50000};
  in.seq_ack_to_tap = in.seq_init_from_tap;
  EXPECT_EQ(tcp_mirror(in).ack, Seq{0xfffff000u + 20000});
}

TEST(TcpMirror, WindowFromSndWndAndSndbuf) {
  MirrorIn in = base();
  MirrorOut o = tcp_mirror(in);
  EXPECT_EQ(o.wnd, 100000u);  // snd_wnd below the usable send buffer
  EXPECT_EQ(o.wnd_field, 100000u >> 7);
  in.sndbuf = 65536;  // below SNDBUF_SMALL: all of it
  EXPECT_EQ(tcp_mirror(in).wnd, 65536u);
  in.local = true;  // local: snd_wnd alone
  EXPECT_EQ(tcp_mirror(in).wnd, 100000u);
}

TEST(TcpMirror, WindowWithoutSndWnd) {
  MirrorIn in = base();
  in.info.has_snd_wnd = false;
  in.info.snd_wnd = 0;
  EXPECT_EQ(tcp_mirror(in).wnd, sndbuf_usable(1 << 20));
}

TEST(TcpMirror, WindowCapsAndMinimum) {
  MirrorIn in = base();
  in.local = true;
  in.info.snd_wnd = 1u << 30;
  EXPECT_EQ(tcp_mirror(in).wnd, kMaxWindow);
  in.info.snd_wnd = 100;
  EXPECT_EQ(tcp_mirror(in).wnd, 100u);
  in.established = false;
  EXPECT_EQ(tcp_mirror(in).wnd, kWindowDefault);
  in.ws_to_tap = 0;
  in.info.snd_wnd = 1u << 20;
  EXPECT_EQ(tcp_mirror(in).wnd_field, 65535) << "unscaled: clamped";
}

TEST(TcpMirror, ZeroWindowRoundsDown) {
  MirrorIn in = base();
  in.info.snd_wnd = 127;  // below one unit of scale 7
  MirrorOut o = tcp_mirror(in);
  EXPECT_EQ(o.wnd, 127u);
  EXPECT_EQ(o.wnd_field, 0);
}

TEST(TcpMirror, SndbufTaper) {
  EXPECT_EQ(sndbuf_usable(0), 0u);
  EXPECT_EQ(sndbuf_usable(kSndbufSmall), kSndbufSmall);
  EXPECT_EQ(sndbuf_usable(kSndbufBig), kSndbufBig / 2);
  EXPECT_EQ(sndbuf_usable(64u << 20), 32u << 20);
  const u32 mid = (kSndbufSmall + kSndbufBig) / 2;
  EXPECT_GT(sndbuf_usable(mid), mid / 2);
  EXPECT_LT(sndbuf_usable(mid), mid);
}

TEST(TcpMirror, InputFromConnection) {
  TcpConn c;
  c.seq_init_from_tap = Seq{5};
  c.seq_from_tap = Seq{105};
  c.seq_ack_to_tap = Seq{50};
  c.sndbuf = 4096;
  c.ws_to_tap = 9;
  c.events = tcp_ev::established | tcp_ev::tap_fin_rcvd;
  c.flags = tcp_flag_conn::low_rtt;
  ports::TcpInfo info;
  info.snd_wnd = 7;
  MirrorIn in = tcp_mirror_input(c, &info, false, false);
  EXPECT_EQ(in.seq_from_tap, Seq{105});
  EXPECT_TRUE(in.local);
  EXPECT_TRUE(in.closing);
  EXPECT_TRUE(in.established);
  EXPECT_EQ(in.ws_to_tap, 9);
  EXPECT_EQ(in.info.snd_wnd, 7u);
  MirrorIn syn = tcp_mirror_input(c, nullptr, true, true);
  EXPECT_EQ(syn.ws_to_tap, 0) << "a SYN's window is never scaled";
  EXPECT_FALSE(syn.have_info);
  EXPECT_TRUE(syn.force_seq);
  EXPECT_FALSE(syn.established);
}

}  // namespace
}  // namespace passt::proto
