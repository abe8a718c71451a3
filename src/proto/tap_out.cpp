#include "proto/tap_out.hpp"

#include <cstdlib>
#include <cstring>

#include "util/check.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace passt::proto {

TapOut::TapOut(ports::TapPort& tap, u32 max_frames, std::size_t arena_bytes)
    : tap_(tap), max_frames_(max_frames), arena_bytes_(arena_bytes) {
  PASST_CHECK(max_frames > 0 && arena_bytes > 0);
  arena_ = static_cast<u8*>(std::malloc(arena_bytes));
  frames_ = static_cast<Bytes*>(std::calloc(max_frames, sizeof(Bytes)));
  tags_ = static_cast<u64*>(std::calloc(max_frames, sizeof(u64)));
  gso_ = static_cast<u16*>(std::calloc(max_frames, sizeof(u16)));
  PASST_CHECK(arena_ != nullptr && frames_ != nullptr && tags_ != nullptr && gso_ != nullptr);
}

TapOut::~TapOut() {
  std::free(arena_);
  std::free(frames_);
  std::free(tags_);
  std::free(gso_);
}

MutBytes TapOut::reserve(std::size_t len) noexcept {
  PASST_CHECK(!open_);
  if (len > arena_bytes_) return {};
  // Keep frames 8-byte aligned: headers are written with byte stores, but
  // aligned payloads help the checksum loop.
  std::size_t start = (used_ + 7) & ~std::size_t{7};
  if (nframes_ == max_frames_ || start + len > arena_bytes_) {
    flush();
    start = 0;
  }
  open_ = true;
  nopen_ = 1;
  reserved_ = len;
  used_ = start;
  return MutBytes(arena_ + start, len);
}

void TapOut::commit(std::size_t len, u64 tag) noexcept {
  PASST_CHECK(open_ && nopen_ == 1 && len <= reserved_);
  open_ = false;
  tags_[nframes_] = tag;
  gso_[nframes_] = 0;
  frames_[nframes_++] = Bytes(arena_ + used_, len);
  used_ += len;
}

std::size_t TapOut::reserve_many(std::size_t len, std::span<MutBytes> bufs) noexcept {
  PASST_CHECK(!open_);
  if (len > arena_bytes_ || bufs.empty()) return 0;
  const std::size_t stride = (len + 7) & ~std::size_t{7};
  auto fitting = [&](std::size_t start) noexcept {
    std::size_t n = 0;
    while (n < bufs.size() && nframes_ + n < max_frames_ && start + n * stride + len <= arena_bytes_)
      n++;
    return n;
  };
  std::size_t start = (used_ + 7) & ~std::size_t{7};
  std::size_t n = fitting(start);
  if (n < bufs.size() && nframes_ > 0) {
    flush();
    start = 0;
    n = fitting(start);
  }
  for (std::size_t i = 0; i < n; i++) bufs[i] = MutBytes(arena_ + start + i * stride, len);
  open_ = n > 0;
  nopen_ = static_cast<u32>(n);
  stride_ = stride;
  reserved_ = len;
  used_ = start;
  return n;
}

void TapOut::commit_many(std::span<const std::size_t> lens, std::span<const u64> tags) noexcept {
  PASST_CHECK(open_ && lens.size() <= nopen_ && (tags.empty() || tags.size() == lens.size()));
  open_ = false;
  const std::size_t start = used_;
  for (std::size_t i = 0; i < lens.size(); i++) {
    PASST_CHECK(lens[i] <= reserved_);
    if (lens[i] == 0) continue;
    tags_[nframes_] = tags.empty() ? 0 : tags[i];
    gso_[nframes_] = 0;
    frames_[nframes_++] = Bytes(arena_ + start + i * stride_, lens[i]);
    used_ = start + i * stride_ + lens[i];
  }
}

void TapOut::commit_many_gso(std::span<const std::size_t> lens, std::span<const u64> tags,
                             u16 gso_size) noexcept {
  const u32 first = nframes_;
  commit_many(lens, tags);
  if (gso_size == 0) return;
  for (u32 i = first; i < nframes_; i++) gso_[i] = gso_size;
  if (nframes_ > first) gso_queued_ = true;
}

bool TapOut::push(Bytes frame) noexcept {
  MutBytes b = reserve(frame.size());
  if (b.size() < frame.size() || frame.empty()) {
    if (open_) open_ = false;
    dropped_++;
    return false;
  }
  std::memcpy(b.data(), frame.data(), frame.size());
  commit(frame.size());
  return true;
}

std::size_t TapOut::flush() noexcept {
  PASST_CHECK(!open_);
  if (nframes_ == 0) return 0;
  std::size_t n = gso_queued_ ? tap_.send_gso(std::span<const Bytes>(frames_, nframes_),
                                              std::span<const u16>(gso_, nframes_))
                              : tap_.send(std::span<const Bytes>(frames_, nframes_));
  gso_queued_ = false;
  if (n > nframes_) n = nframes_;
  sent_ += n;
  dropped_ += nframes_ - n;
  const u32 total = nframes_;
  nframes_ = 0;
  used_ = 0;
  // The observer may queue new frames (it must not: it only records), so
  // the queue is emptied first.
  if (observer_ != nullptr)
    for (u32 i = static_cast<u32>(n); i < total; i++)
      if (tags_[i] != 0) observer_->on_tap_dropped(tags_[i]);
  return n;
}

Result<std::size_t> build_eth(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                              u16 ethertype, Bytes payload) noexcept {
  std::size_t len = wire::kEthHeaderLen + payload.size();
  if (out.size() < len) return Err::truncated;
  wire::EthernetRepr eth{dst_mac, src_mac, ethertype};
  if (auto s = eth.emit(out); !s) return s.err();
  if (!payload.empty()) std::memcpy(out.data() + wire::kEthHeaderLen, payload.data(), payload.size());
  return len;
}

Result<std::size_t> build_udp4(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                               Ipv4Addr src, Ipv4Addr dst, u16 sport, u16 dport,
                               Bytes payload) noexcept {
  const std::size_t l3 = wire::kEthHeaderLen;
  const std::size_t l4 = l3 + wire::kIpv4HeaderLen;
  const std::size_t len = l4 + wire::kUdpHeaderLen + payload.size();
  if (out.size() < len || len - l3 > 65535) return Err::truncated;
  wire::EthernetRepr eth{dst_mac, src_mac, wire::ethertype::ipv4};
  (void)eth.emit(out);
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = 17;
  ip.ttl = 255;
  ip.payload_len = static_cast<u16>(wire::kUdpHeaderLen + payload.size());
  if (auto s = ip.emit(out.subspan(l3)); !s) return s.err();
  if (!payload.empty())
    std::memcpy(out.data() + l4 + wire::kUdpHeaderLen, payload.data(), payload.size());
  wire::UdpRepr udp{sport, dport, payload.size()};
  if (auto s = udp.emit(out.subspan(l4, udp.length()), src, dst); !s) return s.err();
  return len;
}

Result<std::size_t> build_udp6(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                               const Ipv6Addr& src, const Ipv6Addr& dst, u16 sport, u16 dport,
                               Bytes payload, u32 flow_label) noexcept {
  const std::size_t l3 = wire::kEthHeaderLen;
  const std::size_t l4 = l3 + wire::kIpv6HeaderLen;
  const std::size_t len = l4 + wire::kUdpHeaderLen + payload.size();
  if (out.size() < len || len - l4 > 65535) return Err::truncated;
  wire::EthernetRepr eth{dst_mac, src_mac, wire::ethertype::ipv6};
  (void)eth.emit(out);
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = 17;
  ip.hop_limit = 255;
  ip.flow_label = flow_label & 0xfffff;
  ip.payload_len = static_cast<u16>(wire::kUdpHeaderLen + payload.size());
  if (auto s = ip.emit(out.subspan(l3)); !s) return s.err();
  if (!payload.empty())
    std::memcpy(out.data() + l4 + wire::kUdpHeaderLen, payload.data(), payload.size());
  wire::UdpRepr udp{sport, dport, payload.size()};
  if (auto s = udp.emit(out.subspan(l4, udp.length()), src, dst); !s) return s.err();
  return len;
}

Result<std::size_t> build_icmp6(MutBytes out, const MacAddr& src_mac, const MacAddr& dst_mac,
                                const Ipv6Addr& src, const Ipv6Addr& dst, u8 hop_limit,
                                Bytes icmp) noexcept {
  const std::size_t l3 = wire::kEthHeaderLen;
  const std::size_t l4 = l3 + wire::kIpv6HeaderLen;
  const std::size_t len = l4 + icmp.size();
  if (out.size() < len || icmp.size() > 65535) return Err::truncated;
  wire::EthernetRepr eth{dst_mac, src_mac, wire::ethertype::ipv6};
  (void)eth.emit(out);
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = 58;
  ip.hop_limit = hop_limit;
  ip.payload_len = static_cast<u16>(icmp.size());
  if (auto s = ip.emit(out.subspan(l3)); !s) return s.err();
  std::memcpy(out.data() + l4, icmp.data(), icmp.size());
  return len;
}

MacAddr ipv6_multicast_mac(const Ipv6Addr& a) noexcept {
  return MacAddr{{0x33, 0x33, a.b[12], a.b[13], a.b[14], a.b[15]}};
}

}  // namespace passt::proto
