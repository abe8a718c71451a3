#include "sim/knobs.hpp"

namespace passt::sim {

namespace {

template <class T, std::size_t N>
T pick_from(Prng& rng, const T (&items)[N]) noexcept {
  return items[rng.below(N)];
}

LinkFaults derive_faults(Prng& rng) noexcept {
  LinkFaults f;
  f.delay = rng.duration(Duration::micros(1), Duration::millis(5));
  f.jitter = rng.chance(500000) ? Duration::zero() : rng.duration(Duration::zero(), f.delay);
  f.loss_ppm = rng.chance(500000) ? 0 : static_cast<u32>(rng.range(100, 100000));
  f.dup_ppm = rng.chance(700000) ? 0 : static_cast<u32>(rng.range(100, 50000));
  f.reorder_ppm = rng.chance(700000) ? 0 : static_cast<u32>(rng.range(100, 100000));
  f.reorder_extra = rng.duration(Duration::micros(10), Duration::millis(10));
  f.corrupt_ppm = rng.chance(750000) ? 0 : static_cast<u32>(rng.range(100, 20000));
  f.corrupt_bits_max = static_cast<u32>(rng.range(1, 8));
  return f;
}

}  // namespace

Knobs Knobs::derive(u64 seed, Prng& rng) noexcept {
  Knobs k;
  k.seed = seed;

  static constexpr u32 kMtus[] = {1280, 1500, 1500, 4000, 9000, 16384, 65520, 65520};
  k.link.mtu = pick_from(rng, kMtus);
  k.link.pool_frames = static_cast<u32>(rng.range(64, 512));
  k.link.queue_frames = static_cast<u32>(rng.range(16, k.link.pool_frames));
  static constexpr u32 kBatches[] = {1, 4, 8, 32, 64, 128};
  k.link.max_batch = pick_from(rng, kBatches);
  for (auto& f : k.link.faults) f = derive_faults(rng);
  k.link_flaps = rng.chance(700000) ? 0 : static_cast<u32>(rng.range(1, 3));

  HostNetConfig& n = k.net;
  n.max_sockets = static_cast<u32>(rng.range(48, 128));
  n.max_conns = static_cast<u32>(rng.range(48, 128));
  n.max_dgram_socks = static_cast<u32>(rng.range(8, 32));
  static constexpr u32 kCaps[] = {65536, 131072, 262144, 524288};
  n.buf_cap = pick_from(rng, kCaps);
  const u32 sndbufs[] = {4608, 16384, 65536, 131072, n.buf_cap};
  const u32 rcvbufs[] = {4608, 16384, 65536, 131072, n.buf_cap};
  n.sndbuf_default = pick_from(rng, sndbufs);
  n.rcvbuf_default = pick_from(rng, rcvbufs);
  static constexpr u32 kMss[] = {536, 1220, 1460, 1460, 8960, 65483};
  n.mss = pick_from(rng, kMss);
  const u32 segs[] = {n.mss < 4096 ? 4096 : n.mss, 16384, 65536};
  n.seg_max = pick_from(rng, segs);
  if (n.seg_max < n.mss) n.seg_max = n.mss;
  n.dgram_queue = static_cast<u32>(rng.range(8, 256));
  static constexpr u32 kEpoll[] = {1, 2, 8, 64};
  n.events_per_poll = pick_from(rng, kEpoll);
  n.wscale = static_cast<u8>(rng.range(0, 14));
  n.loopback_latency = rng.duration(Duration::micros(1), Duration::micros(100));
  n.loopback_bandwidth = rng.range(100000000, 10000000000ULL);
  n.unknown_latency = rng.duration(Duration::micros(10), Duration::millis(5));
  n.has_snd_wnd = rng.chance(750000);
  n.has_bytes_acked = rng.chance(750000);
  n.has_min_rtt = rng.chance(750000);

  k.safety = rng.duration(Duration::millis(300), Duration::seconds(2));
  k.liveness = Duration::seconds(180);
  k.event_budget = 3000000;
  k.event_capacity = k.implied_event_capacity();
  return k;
}

std::size_t Knobs::implied_event_capacity() const noexcept {
  // Frames: each pool buffer has at most one arrival queued.  Connections:
  // at most 64 data segments per direction, their acks, window updates,
  // pumps, FIN and RST.  Datagram sockets: one wake per queued datagram.
  return 8192 + static_cast<std::size_t>(link.pool_frames) * 2 +
         static_cast<std::size_t>(net.max_conns) * 512 +
         static_cast<std::size_t>(net.max_dgram_socks) * net.dgram_queue;
}

DurText fmt_dur(Duration d) noexcept {
  DurText t{};
  const i64 ns = d.ns;
  if (ns == 0) std::snprintf(t.buf, sizeof(t.buf), "0");
  else if (ns % 1000000000 == 0) std::snprintf(t.buf, sizeof(t.buf), "%llds", static_cast<long long>(ns / 1000000000));
  else if (ns >= 1000000) std::snprintf(t.buf, sizeof(t.buf), "%.3fms", static_cast<double>(ns) / 1e6);
  else if (ns >= 1000) std::snprintf(t.buf, sizeof(t.buf), "%.3fus", static_cast<double>(ns) / 1e3);
  else std::snprintf(t.buf, sizeof(t.buf), "%lldns", static_cast<long long>(ns));
  return t;
}

PpmText fmt_ppm(u32 ppm) noexcept {
  PpmText t{};
  if (ppm == 0) std::snprintf(t.buf, sizeof(t.buf), "0");
  else std::snprintf(t.buf, sizeof(t.buf), "%.4g%%", static_cast<double>(ppm) / 1e4);
  return t;
}

void Knobs::print(std::FILE* out) const noexcept {
  std::fprintf(out, "seed %llu (0x%016llx)\n", static_cast<unsigned long long>(seed),
               static_cast<unsigned long long>(seed));
  std::fprintf(out, "  link: mtu=%u pool=%u queue=%u batch=%u flaps=%u\n", link.mtu,
               link.pool_frames, link.queue_frames, link.max_batch, link_flaps);
  for (u8 d = 0; d < kDirs; d++) {
    const LinkFaults& f = link.faults[d];
    std::fprintf(out,
                 "  link %s: delay=%s jitter=%s loss=%s dup=%s reorder=%s (extra<=%s) "
                 "corrupt=%s (bits<=%u)\n",
                 dir_name(static_cast<Dir>(d)), fmt_dur(f.delay).buf, fmt_dur(f.jitter).buf,
                 fmt_ppm(f.loss_ppm).buf, fmt_ppm(f.dup_ppm).buf, fmt_ppm(f.reorder_ppm).buf,
                 fmt_dur(f.reorder_extra).buf, fmt_ppm(f.corrupt_ppm).buf, f.corrupt_bits_max);
  }
  std::fprintf(out,
               "  net: sockets=%u conns=%u dgram_socks=%u buf_cap=%u sndbuf=%u rcvbuf=%u mss=%u "
               "seg_max=%u dgram_queue=%u backlog<=%u epoll_batch=%u wscale=%u\n",
               net.max_sockets, net.max_conns, net.max_dgram_socks, net.buf_cap,
               net.sndbuf_default, net.rcvbuf_default, net.mss, net.seg_max, net.dgram_queue,
               net.backlog_max, net.events_per_poll, net.wscale);
  std::fprintf(out,
               "  net: loopback=%s@%lluB/s unknown_latency=%s tcp_info{snd_wnd=%s bytes_acked=%s "
               "min_rtt=%s}\n",
               fmt_dur(net.loopback_latency).buf,
               static_cast<unsigned long long>(net.loopback_bandwidth),
               fmt_dur(net.unknown_latency).buf, net.has_snd_wnd ? "yes" : "no",
               net.has_bytes_acked ? "yes" : "no", net.has_min_rtt ? "yes" : "no");
  std::fprintf(out, "  run: safety=%s liveness<=%s event_budget=%llu event_capacity=%zu\n",
               fmt_dur(safety).buf, fmt_dur(liveness).buf,
               static_cast<unsigned long long>(event_budget), event_capacity);
}

}  // namespace passt::sim
